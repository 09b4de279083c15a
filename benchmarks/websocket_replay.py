"""WebSocket LLMs: replaying a cassette next to talking to a live server on loopback.

    .venv/bin/python benchmarks/websocket_replay.py [--tests 10] [--repetitions 3]

Writes a throwaway project per transport (openai.responses.LLM() on its WebSocket, and
openai.realtime.RealtimeModel in text mode), each with ``--tests`` copies of one scenario (a
tool call, then a handoff whose agent replies), records it once against the scripted server,
then times, round-robin, every test run live against the server on 127.0.0.1
(``--record-mode=all``) and replayed from the cassettes (``CI=true``, no server). Every run
is a fresh pytest subprocess and must pass. Prints median wall seconds and live / replay.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402
from tests.test_websocket import SHOP, WEBSOCKET_CONFTEST  # noqa: E402

PYTEST_INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""
HEADER = """\
from livekit.agents import Agent, AgentSession, RunContext
from livekit.agents.llm import function_tool
"""


def write_project(root: Path, realtime: bool, tests: int) -> None:
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text(PYTEST_INI)
    (root / "conftest.py").write_text(
        WEBSOCKET_CONFTEST.format(port=free_port(), realtime=realtime)
    )
    copies = "".join(
        SHOP.replace("async def test_shop(", f"async def test_shop_{n}(") for n in range(tests)
    )
    (root / "test_shop.py").write_text(HEADER + copies)


def pytest_seconds(root: Path, *args: str, env: dict[str, str] | None = None) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=environment, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"pytest {' '.join(args)} failed in {root}:\n{done.stdout[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=10)
    parser.add_argument("--repetitions", type=int, default=3)
    options = parser.parse_args()
    replay_env = {"CI": "true", "OPENAI_API_KEY": ""}
    with tempfile.TemporaryDirectory() as temp:
        print(f"{options.tests} tests per project, median of {options.repetitions} runs (wall s)")
        print(f"{'transport':<22}{'live loopback':>15}{'replay':>10}{'live / replay':>15}")
        for name, realtime in (("responses websocket", False), ("realtime (text)", True)):
            root = Path(temp) / name.split()[0]
            write_project(root, realtime, options.tests)
            pytest_seconds(root, "--record-mode=once", "--snapshot-update")
            live, replay = [], []
            for _ in range(options.repetitions):
                live.append(pytest_seconds(root, "--record-mode=all"))
                replay.append(pytest_seconds(root, env=replay_env))
            live_s, replay_s = statistics.median(live), statistics.median(replay)
            print(f"{name:<22}{live_s:>15.2f}{replay_s:>10.2f}{live_s / replay_s:>15.2f}")


if __name__ == "__main__":
    main()
