"""compat: the seed scenario on the reporter's livekit-agents 1.3.12 and on the latest."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import Project

LIVEKIT = tuple(int(part) for part in version("livekit-agents").split(".")[:2])
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SEED_TEST = """
from seed_agents import EnterAgent
from seed_replies import SEED_REPLIES as REPLIES


async def test_ice_cream(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(EnterAgent(), capture_run=True)
        await session.run(user_input="Give me all ice cream types.")
    assert transcript == golden
"""


@pytest.fixture
def seed_project(project: Project) -> Project:
    for name in ("seed_agents.py", "seed_replies.py"):
        (project.path / name).write_text((EXAMPLES / name).read_text())
    project.write_test(SEED_TEST, name="test_seed")
    return project


@pytest.mark.skipif(LIVEKIT >= (1, 7), reason="livekit-agents >= 1.7 keeps on_enter's reply")
def test_on_1_3_the_cross_check_names_the_lost_on_enter_reply(seed_project: Project) -> None:
    result = seed_project.record()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*livekit's RunResult for run 1 (start) is missing message assistant "
            '"Say something generated", which snaprun captured in that run*'
        ]
    )
    assert not seed_project.golden("test_ice_cream", module="test_seed").exists()


@pytest.mark.skipif(LIVEKIT < (1, 7), reason="livekit-agents < 1.7 drops on_enter's reply")
def test_on_the_latest_the_seed_passes_cleanly(seed_project: Project) -> None:
    seed_project.record().assert_outcomes(passed=1)
    golden = seed_project.golden("test_ice_cream", module="test_seed")
    committed = EXAMPLES.parent / "__snapshots__/examples/test_seed/test_ice_cream.yaml"
    assert golden.read_text() == committed.read_text()


def test_snaprun_timeline_holds_the_on_enter_reply_once_on_every_version(
    seed_project: Project,
) -> None:
    # With the cross-check off, what snaprun captured is written: the same golden everywhere.
    seed_project.ini("snaprun_runresult_check = off")
    seed_project.record().assert_outcomes(passed=1)
    golden = seed_project.golden("test_ice_cream", module="test_seed").read_text()
    committed = EXAMPLES.parent / "__snapshots__/examples/test_seed/test_ice_cream.yaml"
    assert golden == committed.read_text()
    assert golden.count("text: Say something generated") == 2  # run 1 and the final chat_ctx


SILENT_START = """
class Silent(Agent):
    def __init__(self):
        super().__init__(instructions="Wait for the user.")


async def test_silent(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Silent(), capture_run=True)
    assert transcript == golden
"""


def test_a_start_that_never_returns_fails_in_bounded_time_naming_the_cause(
    project: Project,
) -> None:
    project.ini("snaprun_settle_timeout = 2")
    project.write_test(SILENT_START)
    result = project.record()
    if LIVEKIT >= (1, 7):
        result.assert_outcomes(passed=1)  # fixed upstream: start returns at once
        return
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*snaprun: session.start() did not return within 2 s. livekit-agents before 1.7.0 "
            "never completes start(capture_run=True) when the agent's on_enter produces no "
            "speech (livekit/agents#6872)*"
        ]
    )
