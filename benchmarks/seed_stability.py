"""Show the seed golden does not depend on timing: N runs at 0 ms and at 200 ms per SSE chunk.

    .venv/bin/python benchmarks/seed_stability.py [--runs 20] [--delays 0,0.2]

Drives the real livekit-agents and OpenAI plugin against the scripted server, captures with
snaprun, and prints how many distinct goldens each latency produced (1 is the goal) and whether
both latencies produced the same bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from livekit.agents import AgentSession  # noqa: E402
from livekit.plugins import openai  # noqa: E402

from examples.seed_agents import EnterAgent  # noqa: E402
from examples.seed_replies import SEED_REPLIES  # noqa: E402
from snaprun import yamlio  # noqa: E402
from snaprun.capture import Capture  # noqa: E402
from snaprun.testing import ScriptedServer  # noqa: E402


async def seed_golden(base_url: str) -> str:
    llm = openai.LLM(model="gpt-4.1", base_url=base_url, api_key="sk-test")
    capture = Capture(settle_timeout=60)
    with capture.installed():
        async with AgentSession(llm=llm) as session:
            await session.start(EnterAgent(), capture_run=True)
            await session.run(user_input="Give me all ice cream types.")
    return yamlio.dump(capture.timeline().to_data())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--delays", default="0,0.2", help="seconds per chunk, comma-separated")
    args = parser.parse_args()
    digests: dict[float, set[str]] = {}
    for delay in (float(d) for d in args.delays.split(",")):
        with ScriptedServer(SEED_REPLIES, chunk_delay=delay) as server:
            started = time.perf_counter()
            digests[delay] = set()
            for run in range(1, args.runs + 1):
                golden = asyncio.run(seed_golden(server.base_url))
                digests[delay].add(hashlib.sha256(golden.encode()).hexdigest())
                print(f"\r{delay * 1000:>5.0f} ms/chunk: run {run}/{args.runs}", end="", flush=True)
            elapsed = time.perf_counter() - started
        print(f" — {len(digests[delay])} distinct golden(s), {elapsed / args.runs:.2f} s/run")
    every = set().union(*digests.values())
    print(
        f"all latencies: {len(every)} distinct golden(s)" + (" — stable" if len(every) == 1 else "")
    )
    return 0 if len(every) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
