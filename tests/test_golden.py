"""golden-core end to end: throwaway projects driving the real livekit-agents and OpenAI plugin."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner
from conftest import Project

from snaprun import yamlio
from snaprun.cli import main
from snaprun.golden.extension import GoldenExtension, UnusableGolden, event_report
from snaprun.timeline import Message, Run, SessionTimeline, Timeline

GREETER = """
REPLIES = [
    Reply(match="Greet the user", text="Hello! How can I help?"),
    Reply(match="What time is it?", text="It is noon."),
]


class Greeter(Agent):
    def __init__(self):
        super().__init__(instructions="You are a greeter.")

    async def on_enter(self):
        self.session.generate_reply(instructions="Greet the user")
"""


def load(path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_snapshot_update_writes_a_new_golden(project: Project) -> None:
    project.write_test(
        GREETER
        + """
async def test_greeting(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Greeter())
        await session.run(user_input="What time is it?")
    assert transcript == golden
"""
    )
    result = project.record()
    result.assert_outcomes(passed=1)
    golden = project.golden("test_greeting")
    assert load(golden) == {
        "runs": [
            {
                "kind": "start",
                "events": [
                    {"agent_handoff": {"from": None, "to": "Greeter"}},
                    {
                        "message": {
                            "role": "assistant",
                            "source": "generate_reply",
                            "text": "Hello! How can I help?",
                        }
                    },
                ],
            },
            {
                "kind": "run",
                "input": "What time is it?",
                "events": [
                    {"message": {"role": "user", "text": "What time is it?"}},
                    {
                        "message": {
                            "role": "assistant",
                            "source": "generate_reply",
                            "text": "It is noon.",
                        }
                    },
                ],
            },
        ],
        "chat_ctx": {
            "agent": "Greeter",
            "items": [
                {"role": "system", "text": "You are a greeter."},
                {"role": "assistant", "text": "Hello! How can I help?"},
                {"role": "user", "text": "What time is it?"},
                {"role": "assistant", "text": "It is noon."},
            ],
        },
    }
    # A second run replays against the golden it just wrote and passes unchanged.
    written = golden.read_bytes()
    project.run().assert_outcomes(passed=1)
    assert golden.read_bytes() == written


def test_a_test_that_starts_no_session_has_a_golden_every_reader_reads(project: Project) -> None:
    project.write_test(
        """
async def test_nothing(transcript, golden):
    assert transcript == golden
"""
    )
    project.record().assert_outcomes(passed=1)
    golden = project.golden("test_nothing")
    assert golden.read_text() == "sessions: []\n"
    project.run().assert_outcomes(passed=1)
    shown = CliRunner().invoke(main, ["show", str(golden)], catch_exceptions=False)
    assert (shown.exit_code, shown.output) == (0, "(the test started no AgentSession)\n")

    golden.write_text("sessions:\n- chat_ctx: {agent: A, items: []}\n")
    result = project.run()
    result.assert_outcomes(errors=1)
    assert (
        "snaprun: the golden __snapshots__/test_agent/test_nothing.yaml is corrupt "
        "(it is not a snaprun golden: sessions[1]: missing 'runs'). Regenerate it with:\n"
        "    pytest --snapshot-update 'test_agent.py::test_nothing'\n"
    ) in result.stdout.str()


def test_the_event_report_names_a_golden_it_cannot_read() -> None:
    transcript = yamlio.dump({"runs": [{"kind": "start"}]})
    assert event_report("runs: 3\n", transcript) == (
        "snaprun: the golden is not a snaprun golden (runs: expected a list, got a number); "
        "regenerate it."
    )
    assert event_report("runs: [\n", transcript).startswith(
        "snaprun: the golden is not valid YAML (invalid YAML: "
    )
    assert event_report("runs: []\n", transcript) == (
        "snaprun: the transcript differs from its golden in 1 place:\n"
        "  run 1 (start): unexpected run"
    )


def test_a_matcher_that_leaves_an_unreadable_golden_is_refused_naming_the_place() -> None:
    timeline = Timeline((SessionTimeline((Run("say", (Message("assistant", "Hi"),)),), None),))

    def number(data: object, path: tuple[tuple[object, type], ...]) -> object:
        return 3 if path[-1:] == (("text", str),) else data

    with pytest.raises(UnusableGolden) as raised:
        GoldenExtension().serialize(timeline, matcher=number)
    assert str(raised.value) == (
        "snaprun: golden(exclude=..., include=... or matcher=...) left a golden that could not be "
        "read back (runs[1].events[1].message.text: expected a string, got a number). Replace "
        "values with values of the same type (a text with a text)."
    )


def test_a_changed_event_fails_with_the_event_named(project: Project) -> None:
    project.write_test(
        GREETER
        + """
async def test_greeting(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Greeter())
    assert transcript == golden
"""
    )
    project.record().assert_outcomes(passed=1)
    golden = project.golden("test_greeting")
    golden.write_text(golden.read_text().replace("Hello! How can I help?", "Hi!"))

    result = project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ['*run 1 (start): changed event 2 — message: text "Hi!" → "Hello! How can I help?"*']
    )


def test_a_changed_golden_shows_the_whole_new_text_and_the_command(project: Project) -> None:
    long_reply = "Hello! " + " ".join(f"word{n}" for n in range(40)) + " END."
    project.write_test(
        GREETER.replace("Hello! How can I help?", long_reply)
        + """
async def test_greeting(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Greeter())
    assert transcript == golden
"""
    )
    project.record().assert_outcomes(passed=1)
    golden = project.golden("test_greeting")
    golden.write_text(golden.read_text().replace(long_reply, "Hi!"))
    for args in ([], ["-vv"]):
        result = project.run(*args)
        result.assert_outcomes(failed=1)
        output = result.stdout.str()
        shown = output[output.index(" test_greeting ") :]
        # The event-level findings, then every word of the new text, then the command.
        result.stdout.fnmatch_lines(
            [
                "snaprun: the transcript differs from its golden in 2 places:",
                '  run 1 (start): changed event 2 — message: text "Hi!" → "Hello! word0 *',
                "The golden __snapshots__/test_agent/test_greeting.yaml, line by line "
                "(- golden, + this run):",
                "  -      text: Hi!",
                "  +      text: Hello! word0 word1 *",
                "If the change is intended, accept it:",
                "  pytest --snapshot-update 'test_agent.py::test_greeting'",
                "FAILED test_agent.py::test_greeting - snaprun: the transcript differs from *",
            ]
        )
        assert all(f"word{n} " in shown for n in range(40)) and "END." in shown
        assert "Full output truncated" not in output
    # Recording again, the cassette changes too: the command says so.
    result = project.run("--record-mode=rewrite")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "If the change is intended, accept it:",
            "  pytest --record-mode=rewrite --snapshot-update 'test_agent.py::test_greeting'",
        ]
    )


NO_SESSION = """
async def test_none(transcript, golden):
    assert transcript == golden
"""


def test_a_golden_in_a_folder_gets_a_truthful_summary(project: Project) -> None:
    project.pytester.mkdir("sub")
    project.pytester.makepyfile(**{"sub/test_nothing": NO_SESSION})
    golden = project.path / "__snapshots__/sub/test_nothing/test_none.yaml"
    result = project.record()
    result.assert_outcomes(passed=1)
    assert "Can not relate" not in result.stdout.str()  # syrupy's, on a mirrored layout
    assert golden.exists()
    written = golden.read_bytes()
    # Failing before its assertion, the test leaves its golden neither unused nor deleted.
    failing = NO_SESSION.replace("    assert", "    1 / 0\n    assert")
    project.pytester.makepyfile(**{"sub/test_nothing": failing})
    for args in ([], ["--snapshot-update"]):
        result = project.run(*args)
        result.assert_outcomes(failed=1)
        assert "unused" not in result.stdout.str()
        assert golden.read_bytes() == written
    result.stdout.fnmatch_lines(
        [
            "snaprun: these goldens were left as they were, because their tests did not pass:",
            "  __snapshots__/sub/test_nothing/test_none.yaml (unchanged)",
        ]
    )


def test_parametrized_tests_get_one_golden_per_id(project: Project) -> None:
    project.write_test(
        """
REPLIES = [Reply(match="Say hi", text="hi"), Reply(match="Say bye", text="bye")]


class Echo(Agent):
    def __init__(self):
        super().__init__(instructions="Echo.")


@pytest.mark.parametrize("word", ["hi", "bye"])
async def test_say(transcript, golden, llm, word):
    async with AgentSession(llm=llm) as session:
        await session.start(Echo())
        await session.run(user_input=f"Say {word}")
    assert transcript == golden
""".replace("REPLIES", "import pytest\nREPLIES", 1)
    )
    project.record().assert_outcomes(passed=2)
    for word in ("hi", "bye"):
        run = load(project.golden(f"test_say[{word}]"))["runs"][1]
        assert run["input"] == f"Say {word}"
        assert run["events"][-1] == {
            "message": {"role": "assistant", "source": "generate_reply", "text": word}
        }


def test_two_sessions_in_one_test_get_their_own_sections(project: Project) -> None:
    project.write_test(
        GREETER
        + """
async def test_two(transcript, golden, llm):
    for question in ["What time is it?", "What time is it?"]:
        async with AgentSession(llm=llm) as session:
            await session.start(Greeter())
            await session.run(user_input=question)
    assert transcript == golden
"""
    )
    project.record().assert_outcomes(passed=1)
    data = load(project.golden("test_two"))
    assert list(data) == ["sessions"]
    assert len(data["sessions"]) == 2
    first, second = data["sessions"]
    assert first == second
    assert [run["kind"] for run in first["runs"]] == ["start", "run"]


def test_tools_parallel_calls_errors_and_say_inside(project: Project) -> None:
    project.write_test(
        '''
REPLIES = [
    Reply(
        match="Weather in Paris and Rome?",
        tool_calls=(ToolCall("weather", {"city": "Paris"}), ToolCall("weather", {"city": "Rome"})),
    ),
    Reply(match="rainy", text="Paris is sunny, Rome is rainy."),
    Reply(match="Book a table", tool_calls=(ToolCall("book", {"people": 2}),)),
    Reply(match="fully booked", text="Sorry, we are fully booked."),
]


class Concierge(Agent):
    def __init__(self):
        super().__init__(instructions="You are a concierge.")

    @function_tool()
    async def weather(self, context: RunContext, city: str) -> str:
        """Weather for a city."""
        return "sunny" if city == "Paris" else "rainy"

    @function_tool()
    async def book(self, context: RunContext, people: int) -> str:
        """Book a table."""
        await context.session.say("Let me check the reservations.")
        raise ToolError("fully booked")


async def test_tools(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Concierge())
        await session.run(user_input="Weather in Paris and Rome?")
        await session.run(user_input="Book a table")
    assert transcript == golden
'''
    )
    project.record().assert_outcomes(passed=1)
    runs = load(project.golden("test_tools"))["runs"]
    assert runs[1]["events"] == [
        {"message": {"role": "user", "text": "Weather in Paris and Rome?"}},
        {"function_call": {"name": "weather", "call": "call-1", "arguments": {"city": "Paris"}}},
        {"function_call": {"name": "weather", "call": "call-2", "arguments": {"city": "Rome"}}},
        {
            "function_call_output": {
                "name": "weather",
                "call": "call-1",
                "output": "sunny",
                "is_error": False,
            }
        },
        {
            "function_call_output": {
                "name": "weather",
                "call": "call-2",
                "output": "rainy",
                "is_error": False,
            }
        },
        {
            "message": {
                "role": "assistant",
                "source": "tool_reply",
                "text": "Paris is sunny, Rome is rainy.",
            }
        },
    ]
    events = runs[2]["events"]
    assert events[1] == {
        "function_call": {"name": "book", "call": "call-3", "arguments": {"people": 2}}
    }
    assert {
        "message": {"role": "assistant", "source": "say", "text": "Let me check the reservations."}
    } in events
    assert {
        "function_call_output": {
            "name": "book",
            "call": "call-3",
            "output": "fully booked",
            "is_error": True,
        }
    } in events
    assert events[-1]["message"]["text"] == "Sorry, we are fully booked."


def test_a_slow_model_and_an_instant_replay_give_the_same_chat_ctx(project: Project) -> None:
    # Streamed slowly, livekit-agents 1.3 runs each tool as soon as its call arrives, so the
    # output of the first parallel call lands before the second call; replayed, it does not.
    project.write_test(
        '''
CHUNK_DELAY = 0.05
REPLIES = [
    Reply(
        match="Weather in Paris and Rome?",
        tool_calls=(ToolCall("weather", {"city": "Paris"}), ToolCall("weather", {"city": "Rome"})),
    ),
    Reply(match="rainy", text="Paris is sunny, Rome is rainy."),
    Reply(match="Plan my day", tool_calls=(ToolCall("forecast"),)),
    Reply(match="clear skies", tool_calls=(ToolCall("book", {"people": 2}),)),
    Reply(match="table booked", text="Clear skies, and your table is booked."),
]


class Concierge(Agent):
    def __init__(self):
        super().__init__(instructions="You are a concierge.")

    @function_tool()
    async def weather(self, context: RunContext, city: str) -> str:
        """Weather for a city."""
        return "sunny" if city == "Paris" else "rainy"

    @function_tool()
    async def forecast(self, context: RunContext) -> str:
        """Tomorrow's forecast."""
        return "clear skies"

    @function_tool()
    async def book(self, context: RunContext, people: int) -> str:
        """Book a table."""
        return "table booked"


async def test_tools(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Concierge())
        await session.run(user_input="Weather in Paris and Rome?")
        await session.run(user_input="Plan my day")
    assert transcript == golden
'''
    )
    project.record().assert_outcomes(passed=1)
    project.run().assert_outcomes(passed=1)
    items = load(project.golden("test_tools"))["chat_ctx"]["items"]
    tools = [
        (kind, fields["call"]) for item in items for kind, fields in item.items() if "call" in kind
    ]
    assert tools == [
        ("function_call", "call-1"),  # one step of two parallel calls: calls, then outputs
        ("function_call", "call-2"),
        ("function_call_output", "call-1"),
        ("function_call_output", "call-2"),
        ("function_call", "call-3"),  # two steps, one after the other, stay in order
        ("function_call_output", "call-3"),
        ("function_call", "call-4"),
        ("function_call_output", "call-4"),
    ]


def test_handoff_with_a_message(project: Project) -> None:
    project.write_test(
        '''
REPLIES = [
    Reply(match="I want billing", tool_calls=(ToolCall("to_billing"),)),
    Reply(match="Billing here", text="Billing here, how can I help?"),
    # The front desk's reply to the tool's output (a request snaprun now fails on if unscripted).
    Reply(match="Transferring you to billing.", text="One moment."),
]


class Billing(Agent):
    def __init__(self):
        super().__init__(instructions="You are billing.")

    async def on_enter(self):
        await self.session.generate_reply(instructions="Billing here")


class Front(Agent):
    def __init__(self):
        super().__init__(instructions="You are the front desk.")

    @function_tool()
    async def to_billing(self, context: RunContext):
        """Hand off to billing."""
        return Billing(), "Transferring you to billing."


async def test_handoff(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Front())
        await session.run(user_input="I want billing")
    assert transcript == golden
'''
    )
    project.record().assert_outcomes(passed=1)
    data = load(project.golden("test_handoff"))
    events = data["runs"][1]["events"]
    kinds = [next(iter(event)) for event in events]
    assert kinds.count("agent_handoff") == 1
    assert events[kinds.index("agent_handoff")] == {
        "agent_handoff": {"from": "Front", "to": "Billing"}
    }
    assert {
        "function_call_output": {
            "name": "to_billing",
            "call": "call-1",
            "output": "Transferring you to billing.",
            "is_error": False,
        }
    } in events
    assert events[-1]["message"]["text"] == "Billing here, how can I help?"
    assert data["chat_ctx"]["agent"] == "Billing"


HOSTILE = ["yes", "null", "1.0", "- x", "a: b", " padded ", "emoji 🍦 ok", "two\nlines\n", "#x"]


def test_multiline_and_yaml_hostile_text_round_trips(project: Project) -> None:
    project.write_test(
        f"""
HOSTILE = {HOSTILE!r}


class Parrot(Agent):
    def __init__(self):
        super().__init__(instructions="Repeat.")

    async def on_enter(self):
        for text in HOSTILE:
            await self.session.say(text)


async def test_hostile(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Parrot())
    assert transcript == golden
"""
    )
    project.record().assert_outcomes(passed=1)
    golden = project.golden("test_hostile")
    events = load(golden)["runs"][0]["events"][1:]
    assert [event["message"]["text"] for event in events] == HOSTILE
    assert "text: |" in golden.read_text(encoding="utf-8")  # multi-line text as a literal block
    project.run().assert_outcomes(passed=1)


def test_speech_outside_runs_and_agent_updates(project: Project) -> None:
    project.write_test(
        '''
REPLIES = [
    Reply(match="Add a note", tool_calls=(ToolCall("add_note", {"text": "call back"}),)),
    Reply(match="noted", text="Done."),
    Reply(match="Say goodbye", text="Goodbye!"),
]


@function_tool()
async def lookup(context: RunContext, query: str) -> str:
    """Look something up."""
    return "nothing"


class Notes(Agent):
    def __init__(self):
        super().__init__(instructions="You keep notes.")

    @function_tool()
    async def add_note(self, context: RunContext, text: str) -> str:
        """Add a note."""
        chat_ctx = self.chat_ctx.copy()
        items = chat_ctx.items
        items[:] = [i for i in items if getattr(i, "text_content", "") != "Welcome back."]
        chat_ctx.add_message(role="system", content=f"note: {text}")
        await self.update_chat_ctx(chat_ctx)
        await self.update_tools([*self.tools, lookup])
        return "noted"


async def test_notes(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Notes())
        await session.say("Welcome back.")
        await session.run(user_input="Add a note")
        await session.generate_reply(instructions="Say goodbye")
    assert transcript == golden
'''
    )
    project.record().assert_outcomes(passed=1)
    runs = load(project.golden("test_notes"))["runs"]
    assert [(run["kind"], run.get("input")) for run in runs] == [
        ("start", None),
        ("say", None),
        ("run", "Add a note"),
        ("generate_reply", None),
    ]
    assert runs[1]["events"] == [
        {"message": {"role": "assistant", "source": "say", "text": "Welcome back."}}
    ]
    updates = [e for e in runs[2]["events"] if {"chat_ctx_updated", "tools_updated"} & set(e)]
    assert updates[0]["chat_ctx_updated"]["agent"] == "Notes"
    assert updates[0]["chat_ctx_updated"]["added"] == [
        {"role": "system", "text": "note: call back"}
    ]
    assert updates[0]["chat_ctx_updated"]["removed"] == [
        {"role": "assistant", "text": "Welcome back."}
    ]
    assert updates[-1] == {"tools_updated": {"agent": "Notes", "added": ["lookup"]}}
    assert runs[3]["events"] == [
        {"message": {"role": "assistant", "source": "generate_reply", "text": "Goodbye!"}}
    ]
    project.run().assert_outcomes(passed=1)


def test_a_failed_reply_is_an_explicit_event(project: Project) -> None:
    project.write_test(
        """
import pytest

REPLIES = []  # the scripted LLM answers 400 to everything: the reply fails


class Greeter(Agent):
    def __init__(self):
        super().__init__(instructions="You are a greeter.")


@pytest.mark.snaprun_expect_llm_error
async def test_fails(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Greeter())
        await session.generate_reply(instructions="Greet the user")
    assert transcript == golden
"""
    )
    project.record().assert_outcomes(passed=1)
    runs = load(project.golden("test_fails"))["runs"]
    # Each failed request is an event of its own (1.3.12 sends it more than once), then the
    # speech it left without a message.
    *errors, event = runs[1]["events"]
    assert errors and all(error["llm_error"]["error"] == "HTTP 400" for error in errors)
    assert event["speech_without_message"]["source"] == "generate_reply"
