"""The README's 30-second example and its faster `llm` fixture, run as written: record, replay."""

from __future__ import annotations

import re
import shlex
from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import INNER_RUN, Project, free_port

from snaprun.testing import ScriptedServer

LIVEKIT = tuple(int(part) for part in version("livekit-agents").split(".")[:2])
ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def block(language: str, containing: str) -> str:
    """The README's one block of `language` that contains `containing`."""
    (found,) = [b for b in blocks(language) if containing in b]
    return found


def thirty_seconds() -> str:
    return block("python", "# tests/test_ice_cream.py")


def record_and_replay() -> tuple[list[str], list[str]]:
    """The arguments of the README's record command and of its replay command."""
    record, replay = commands(block("sh", "# forever after: offline replay")).values()
    return record, replay


def commands(block: str) -> dict[str, list[str]]:
    """`pytest …   # comment` lines of a sh block, by their first words."""
    lines = [line.split("#")[0].strip() for line in block.splitlines()]
    return {line: shlex.split(line)[1:] for line in lines if line.startswith("pytest")}


def taking_llm(example: str) -> str:
    """The 30-second example with its test taking the `llm` fixture, as the README says."""
    changes = {
        "async def test_ice_cream(transcript, golden):": (
            "async def test_ice_cream(transcript, golden, llm):"
        ),
        'AgentSession(llm=openai.LLM(model="gpt-4.1"))': "AgentSession(llm=llm)",
    }
    for old, new in changes.items():
        assert old in example and f"`{new}`" in README
        example = example.replace(old, new)
    return example


def test_the_readme_opens_with_the_two_commands() -> None:
    first = blocks("sh")[0]
    assert [line.split("#")[0].strip() for line in first.strip().splitlines()] == [
        "make demo",
        "make test",
    ]


def test_the_thirty_second_example_records_then_replays_offline(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from examples.seed_replies import SEED_REPLIES

    example = thirty_seconds()
    (project.path / "my_agents.py").write_text((ROOT / "examples/seed_agents.py").read_text())
    project.pytester.makepyfile(test_ice_cream=example)
    record, replay = record_and_replay()

    port = free_port()
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")  # the "provider"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-readme-key-0123456789")
    with ScriptedServer(SEED_REPLIES, port=port):
        recorded = project.run(*record)
    if LIVEKIT < (1, 7):  # the README's "livekit-agents versions" section: the lost reply
        recorded.assert_outcomes(failed=1)
        recorded.stdout.fnmatch_lines(
            ['*RunResult for run 1 (start) is missing message assistant "Say something generated"*']
        )
        return
    recorded.assert_outcomes(passed=1)

    monkeypatch.delenv("OPENAI_API_KEY")  # CI has no key, and the server is gone
    project.run(*replay).assert_outcomes(passed=1)
    golden = (project.path / "__snapshots__/test_ice_cream/test_ice_cream.yaml").read_text()
    shown = blocks("yaml")[0].split("  …")[0]
    assert golden.startswith(shown.replace("\n  …", ""))
    assert golden == (ROOT / "__snapshots__/examples/test_seed/test_ice_cream.yaml").read_text()


def test_the_faster_llm_fixture_records_then_replays_offline(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from examples.seed_replies import SEED_REPLIES

    conftest = block("python", "def ssl_context():")
    example = taking_llm(thirty_seconds())
    project.pytester.makeconftest(conftest)
    (project.path / "my_agents.py").write_text((ROOT / "examples/seed_agents.py").read_text())
    project.pytester.makepyfile(test_ice_cream=example)
    # livekit < 1.7 loses on_enter's reply from its RunResult (the 30-second example shows it);
    # this test is about the fixture, so it leaves that cross-check out there.
    legacy = ["-o", "snaprun_runresult_check=off"] if LIVEKIT < (1, 7) else []

    port = free_port()
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-readme-key-0123456789")
    with ScriptedServer(SEED_REPLIES, port=port):
        project.record(*legacy).assert_outcomes(passed=1)

    monkeypatch.delenv("OPENAI_API_KEY")
    project.run(*legacy).assert_outcomes(passed=1)
    golden = (project.path / "__snapshots__/test_ice_cream/test_ice_cream.yaml").read_text()
    assert golden == (ROOT / "__snapshots__/examples/test_seed/test_ice_cream.yaml").read_text()


def test_use_it_in_your_project_records_and_replays_in_a_fresh_project_with_no_warning(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    install = block("sh", "pip install snaprun")
    assert install.split()[:3] == ["pip", "install", "snaprun"]  # the name in pyproject.toml
    settings = block("toml", "[tool.pytest.ini_options]")
    conftest = block("python", "from snaprun.testing import Reply, ScriptedServer, ToolCall")
    pytester.makepyprojecttoml(settings)
    pytester.makeconftest(conftest)
    (pytester.path / "my_agents.py").write_text((ROOT / "examples/seed_agents.py").read_text())
    pytester.makepyfile(test_ice_cream=taking_llm(thirty_seconds()))
    record, replay = record_and_replay()
    legacy = ["-o", "snaprun_runresult_check=off"] if LIVEKIT < (1, 7) else []

    for args in (record, replay):
        result = pytester.runpytest(*INNER_RUN, *args, *legacy)
        result.assert_outcomes(passed=1, warnings=0)
        assert "Warning" not in result.stdout.str()
    golden = (pytester.path / "__snapshots__/test_ice_cream/test_ice_cream.yaml").read_text()
    if LIVEKIT >= (1, 7):
        assert golden == (ROOT / "__snapshots__/examples/test_seed/test_ice_cream.yaml").read_text()

    # "What is matched": another port is another URL, refused; with the README's vcr_config
    # (method, path and body), the same cassette replays.
    moved = conftest.replace("PORT = 18080", f"PORT = {free_port()}")
    pytester.makeconftest(moved)
    pytester.runpytest(*INNER_RUN, *replay, *legacy).assert_outcomes(failed=1)
    matching = block("python", "def vcr_config():").replace("# tests/conftest.py\n", "")
    pytester.makeconftest(moved + "\n\n" + matching)
    pytester.runpytest(*INNER_RUN, *replay, *legacy).assert_outcomes(passed=1)
