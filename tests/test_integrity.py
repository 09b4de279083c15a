"""integrity: capture-time checks, the RunResult cross-check, and goldens never lost."""

from __future__ import annotations

import pytest
from conftest import Project

GREETER = """
REPLIES = [Reply(match="Greet the user", text="Hello!"), Reply(match="Hi", text="Hi there.")]


class Greeter(Agent):
    def __init__(self):
        super().__init__(instructions="You are a greeter.")

    async def on_enter(self):
        await self.session.generate_reply(instructions="Greet the user")
"""

PASSING = """
async def test_greeting(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Greeter())
        await session.run(user_input="Hi")
    assert transcript == golden
"""


def recorded(project: Project, body: str = PASSING) -> None:
    project.write_test(GREETER + body)
    project.record().assert_outcomes(passed=1)


def test_a_golden_with_an_event_removed_names_the_unexpected_event(project: Project) -> None:
    recorded(project)
    golden = project.golden("test_greeting")
    text = golden.read_text()
    golden.write_text(
        text.replace(
            "  - message:\n      role: assistant\n      source: generate_reply\n"
            "      text: Hi there.\n",
            "",
        )
    )
    assert golden.read_text() != text
    result = project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*snaprun: the transcript differs from its golden in 1 place:*",
            '*run 2 (input "Hi"): unexpected event 2 — message assistant "Hi there."*',
        ]
    )


def test_a_message_emitted_twice_is_reported_even_when_updating(project: Project) -> None:
    project.write_test(
        GREETER
        + """
from livekit.agents.voice.events import ConversationItemAddedEvent


async def test_greeting(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Greeter())
        item = session.history.items[-1]
        session.emit("conversation_item_added", ConversationItemAddedEvent(item=item))
    assert transcript == golden
"""
    )
    result = project.record()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ['*livekit announced message assistant "Hello!" twice (conversation_item_added)*']
    )
    assert not project.golden("test_greeting").exists()


# A RunResult with an event lost (what livekit-agents 1.3.12 does to an on_enter reply) or
# repeated (the seed report's handoff), patched into the test, and what snaprun says of it.
RUN_RESULT_FAULTS = {
    "loses": (
        "result._recorded_items.pop()",
        'is missing message assistant "Hi there.", which snaprun captured in that run',
    ),
    "duplicates": (
        "result._recorded_items.append(result._recorded_items[-1])",
        'holds message assistant "Hi there." 2 times; snaprun captured it 1 time in that run',
    ),
}


@pytest.mark.parametrize("fault", list(RUN_RESULT_FAULTS))
def test_a_run_result_that_disagrees_fails_naming_the_event(project: Project, fault: str) -> None:
    patch, message = RUN_RESULT_FAULTS[fault]
    project.write_test(
        GREETER
        + f"""
async def test_greeting(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Greeter())
        result = await session.run(user_input="Hi")
        {patch}
    assert transcript == golden
"""
    )
    result = project.record()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f'*livekit\'s RunResult for run 2 (input "Hi") {message}*'])
    assert not project.golden("test_greeting").exists()


def test_run_result_check_can_warn_instead(project: Project) -> None:
    project.ini("snaprun_runresult_check = warn")
    project.write_test(
        GREETER
        + """
async def test_greeting(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Greeter())
        result = await session.run(user_input="Hi")
        result._recorded_items.pop()
    assert transcript == golden
"""
    )
    result = project.record()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*UserWarning: snaprun: livekit's RunResult for run 2 (input*"])


def test_an_unknown_check_mode_is_a_usage_error(project: Project) -> None:
    project.ini("snaprun_runresult_check = loud")
    project.write_test("def test_nothing():\n    pass\n")
    result = project.run()
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        ["*snaprun: ini key snaprun_runresult_check must be fail, warn or off, got 'loud'*"]
    )


def test_a_test_failing_after_its_assertion_keeps_its_golden(project: Project) -> None:
    recorded(project)
    golden = project.golden("test_greeting")
    before = golden.read_bytes()
    project.write_test(
        GREETER.replace('text="Hi there."', 'text="Changed."')
        + PASSING
        + "    raise RuntimeError('after the assertion')\n"
    )
    # Recorded again, the new reply reaches the transcript: only protect() keeps the golden.
    result = project.run("--record-mode=rewrite", "--snapshot-update")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: after the assertion*"])
    assert golden.read_bytes() == before


def test_a_test_failing_before_its_assertion_keeps_its_golden(project: Project) -> None:
    recorded(project)
    golden = project.golden("test_greeting")
    before = golden.read_bytes()
    project.write_test(
        GREETER + PASSING.replace("    assert transcript", "    1 / 0\n    assert transcript")
    )
    result = project.record()
    result.assert_outcomes(failed=1)
    assert golden.read_bytes() == before


def test_a_truncated_golden_names_the_file_and_the_fix(project: Project) -> None:
    recorded(project)
    golden = project.golden("test_greeting")
    golden.write_text(golden.read_text()[:40] + '\n  - "unterminated\n')
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*snaprun: the golden __snapshots__/test_agent/test_greeting.yaml is corrupt "
            "(it is not valid YAML*",
            "*pytest --snapshot-update 'test_agent.py::test_greeting'*",
        ]
    )


def test_a_golden_of_the_wrong_shape_names_the_file(project: Project) -> None:
    recorded(project)
    project.golden("test_greeting").write_text("- just\n- a list\n")
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_greeting.yaml is corrupt (it is not a snaprun golden: "
            "top level: expected a mapping, got a list). Regenerate it with:"
        ]
    )


def test_serial_and_xdist_runs_agree(project: Project) -> None:
    project.write_test(
        GREETER + "".join(PASSING.replace("test_greeting", f"test_greeting_{n}") for n in range(4))
    )
    project.record().assert_outcomes(passed=4)
    snapshots = project.path / "__snapshots__"
    serial = {p.name: p.read_bytes() for p in snapshots.rglob("*.yaml")}
    cassettes = {p.name: p.read_bytes() for p in (project.path / "cassettes").rglob("*.yaml")}
    assert len(serial) == len(cassettes) == 4

    # Replayed from the cassettes by two workers, the goldens come out byte for byte the same.
    for path in snapshots.rglob("test_greeting_*.yaml"):
        path.unlink()
    parallel_run = project.run("--snapshot-update", "-n", "2")
    parallel_run.assert_outcomes(passed=4)
    parallel = {p.name: p.read_bytes() for p in snapshots.rglob("test_greeting_*.yaml")}
    assert parallel == serial
    assert {p.name: p.read_bytes() for p in (project.path / "cassettes").rglob("*.yaml")} == (
        cassettes
    )


def test_a_golden_no_test_owns_is_reported_and_kept_with_or_without_xdist(
    project: Project,
) -> None:
    recorded(project)
    gone = project.golden("test_gone")
    gone.write_bytes(project.golden("test_greeting").read_bytes())
    for args in ([], ["-n", "2"]):
        replay = project.run(*args)
        replay.assert_outcomes(passed=1)
        replay.stdout.fnmatch_lines(["*1 snapshot unused*"])
    assert gone.exists()


TOOL_AGENT = '''
REPLIES = [
    Reply(match="Weather?", tool_calls=(ToolCall("weather", {"city": "Paris"}),)),
    Reply(match="sunny", text="It is sunny in Paris."),
]


class Forecaster(Agent):
    def __init__(self):
        super().__init__(instructions="You forecast.")

    @function_tool()
    async def weather(self, context: RunContext, city: str) -> str:
        """Weather for a city."""
        return "sunny"


async def test_weather(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Forecaster())
        await session.run(user_input="Weather?")
    assert transcript == golden
'''


def _events(golden_text: str) -> tuple[str, list[str], str]:
    """The run-2 events of a golden as text blocks, with what comes before and after them."""
    head, rest = golden_text.split("  input: Weather?\n  events:\n")
    body, tail = rest.split("chat_ctx:\n")
    blocks = ["  - " + block for block in body.split("  - ")[1:]]
    return head + "  input: Weather?\n  events:\n", blocks, "chat_ctx:\n" + tail


# Each edit of the golden's run 2 [user, function_call, output, reply], and what it reports.
EDITS = {
    "removed": (
        lambda b: b[:1] + b[2:],
        'unexpected event 2 — function_call weather {"city": "Paris"}',
    ),
    "duplicated": (
        lambda b: b + b[3:],
        'missing event 5 — message assistant "It is sunny in Paris."',
    ),
    "changed": (
        lambda b: b[:2] + [b[2].replace("sunny", "rainy")] + b[3:],
        'changed event 3 — function_call_output: output "rainy" → "sunny"',
    ),
    "swapped": (lambda b: [b[0], b[2], b[1], b[3]], "moved event"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edited_golden_is_reported_event_by_event(project: Project, edit: str) -> None:
    project.write_test(TOOL_AGENT)
    project.record().assert_outcomes(passed=1)
    golden = project.golden("test_weather")
    head, blocks, tail = _events(golden.read_text())
    assert len(blocks) == 4
    change, message = EDITS[edit]
    golden.write_text(head + "".join(change(blocks)) + tail)
    for args in ([], ["-vv"]):
        result = project.run(*args)
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([f'*run 2 (input "Weather?"): {message}*'])
