"""Agents as people write them replay in any process, on any day, with no key: schemas built
from sets, generated ids and dates (`snaprun_volatile`), ids livekit invents, inference.LLM."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Project

# A shop whose tool schemas are built from sets, as apps and livekit's TaskGroup build them:
# a `Literal` of a set's items, and a raw schema whose `enum` and nested `required` are lists
# of sets. `test_menu` also sends a text joined from a set, which no matcher can order.
SET_BUILT = """
from typing import Literal

FLAVOURS = FLAVOUR_SET
TOPPINGS = {"sprinkles", "fudge", "nuts", "cherry", "caramel"}
OPTIONS = {"warm", "extra", "wrapped", "to_go"}

REPLIES = [
    Reply(match="A mango cone", tool_calls=(ToolCall("order", {"flavour": "mango"}),)),
    Reply(match="mango ordered", text="Your mango cone is on its way."),
    Reply(match="What do you have?", tool_calls=(ToolCall("menu"),)),
    Reply(match="Today:", text="Plenty."),
]

TOPPINGS_SCHEMA = {
    "name": "add_toppings",
    "description": "Add toppings to the cone.",
    "parameters": {
        "type": "object",
        "properties": {
            "toppings": {"type": "array", "items": {"type": "string", "enum": list(TOPPINGS)}},
            "options": {
                "type": "object",
                "properties": {name: {"type": "boolean"} for name in OPTIONS},
                "required": list(OPTIONS),
            },
        },
        "required": ["toppings", "options"],
    },
}


@function_tool(raw_schema=TOPPINGS_SCHEMA)
async def add_toppings(raw_arguments: dict[str, object], context: RunContext) -> str:
    return "added"


class Shop(Agent):
    def __init__(self):
        super().__init__(instructions="You sell ice cream.", tools=[add_toppings])

    @function_tool
    async def order(self, flavour: Literal[tuple(FLAVOURS)]) -> str:
        \"\"\"Order a cone of one flavour.\"\"\"
        return f"{flavour} ordered"

    @function_tool
    async def menu(self) -> str:
        \"\"\"Today's flavours.\"\"\"
        return "Today: " + ", ".join(FLAVOURS)


async def test_order(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Shop())
        await session.run(user_input="A mango cone, please.")
    assert transcript == golden


async def test_menu(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Shop())
        await session.run(user_input="What do you have?")
    assert transcript == golden
"""

FLAVOUR_SET = '{"vanilla", "chocolate", "strawberry", "pistachio", "mango", "lemon", "hazelnut"}'
SET_BUILT = SET_BUILT.replace("FLAVOUR_SET", FLAVOUR_SET)

# Every replay in a new process, as CI runs it: another hash seed, no key, no server.
SEEDS = ("1", "2", "3")


@functools.cache
def flavour_order(seed: str) -> str:
    """The order a process with this hash seed gives FLAVOURS."""
    code = f"print(list({FLAVOUR_SET}))"
    env = {"PYTHONHASHSEED": seed}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout


def in_new_process(project: Project, *args: str) -> pytest.RunResult:
    return project.pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_set_built_schemas_replay_under_any_hash_seed(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write_test(SET_BUILT)
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    recorded = in_new_process(project, "--record-mode=once", "--snapshot-update")
    recorded.assert_outcomes(passed=2)
    goldens = {test: project.golden(test).read_bytes() for test in ("test_order", "test_menu")}
    # The test means something only if the replays see other orders than the recording.
    assert {flavour_order(seed) for seed in SEEDS} - {flavour_order("0")}

    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for seed in SEEDS:
        monkeypatch.setenv("PYTHONHASHSEED", seed)
        result = in_new_process(project)
        if flavour_order(seed) == flavour_order("0"):
            result.assert_outcomes(passed=2)
            continue
        # A text joined from a set is no schema: it stays refused, and the refusal says why.
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(
            [
                "*It differs from #2 only in order, which changes between processes when it "
                "comes from a set or a dict:",
                "*  the words of messages[[]3].content",
                "*Recording again will not help: the next process orders them anew. Build them "
                "in a fixed order in the agent, e.g. with sorted(...).",
            ],
        )
        result.stdout.fnmatch_lines(["FAILED test_agent.py::test_menu*"])
        result.stdout.no_fnmatch_line("*record the cassette again*")
    assert {test: project.golden(test).read_bytes() for test in goldens} == goldens


# A host that puts today's date in its prompt and gives each booking a random reference
# (`secrets.choice`), plus ticket ids from livekit's own id helper, imported both ways.
GENERATED = """
import datetime
import secrets
import string

from livekit.agents import utils
from livekit.agents.utils import shortuuid

REPLIES = [
    Reply(match="A table for two", tool_calls=(ToolCall("book", {"guests": 2}),)),
    Reply(match="Booked", text="Done, see you tonight."),
]


def reference():
    alphabet = string.ascii_uppercase + string.digits
    return "ORD-" + "".join(secrets.choice(alphabet) for _ in range(6))


class Host(Agent):
    def __init__(self):
        today = datetime.date.today().isoformat()
        super().__init__(instructions=f"You take bookings. Today is {today}.")

    @function_tool
    async def book(self, guests: int) -> str:
        \"\"\"Book a table.\"\"\"
        tickets = f"{utils.shortuuid('ticket_')} {shortuuid('table_')}"
        return f"Booked {guests} guests as {reference()} (again: {reference()}), {tickets}"


async def test_booking(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Host())
        await session.run(user_input="A table for two, please.")
    assert transcript == golden
"""

ORDER_IDS = "ORD-[A-Z0-9]{6}"
DATES = r"\d{4}-\d{2}-\d{2}"


def readme_volatile_ini() -> list[str]:
    """The lines of the README's `snaprun_volatile` example, after its `[pytest]`."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```ini\n(.*?)```", readme, flags=re.S)
    block = next(block for block in blocks if "snaprun_volatile" in block)
    lines = block.splitlines()
    assert lines[:2] == ["[pytest]", "snaprun_volatile ="] and lines[2:] == [
        f"    {ORDER_IDS}",
        f"    {DATES}",
    ]
    return lines[1:]


def test_generated_ids_and_todays_date_replay_on_another_day(project: Project) -> None:
    import datetime

    import time_machine

    project.write_test(GENERATED)
    project.ini("snaprun_volatile =", f"    {ORDER_IDS}")
    project.record().assert_outcomes(passed=1)
    golden = project.golden("test_booking").read_text()
    # Each reference is labelled once, in order of appearance; livekit's ids count per prefix.
    assert (
        "output: 'Booked 2 guests as <volatile-1> (again: <volatile-2>), "
        "ticket_000000000001 table_000000000001'" in golden
    )
    today = datetime.date.today()
    assert today.isoformat() in golden

    # The next day the prompt holds another date: refused, naming the pattern that fixes it.
    with time_machine.travel(datetime.timedelta(days=1), tick=True):
        result = project.run()
    tomorrow = today + datetime.timedelta(days=1)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "It differs from #1 only in values that look generated afresh on each run (ids, "
            "dates):",
            f"  messages[[]0].content: '{today}' recorded, '{tomorrow}' now",
            "Recording again will not help: the next run generates new ones. Label them "
            "instead, in your pytest ini ([[]pytest] section):",
            "  snaprun_volatile =",
            r"      \d{4}-\d{2}-\d{2}",
        ]
    )
    result.stdout.no_fnmatch_line("*record the cassette again*")

    project.ini(*readme_volatile_ini())  # the README's example: both patterns
    with time_machine.travel(datetime.timedelta(days=1), tick=True):
        project.run("--snapshot-update").assert_outcomes(passed=1)
    golden = project.golden("test_booking").read_bytes()
    assert b"text: You take bookings. Today is <volatile-3>.\n" in golden
    assert today.isoformat().encode() not in golden
    with time_machine.travel(datetime.timedelta(days=2), tick=True):
        project.run().assert_outcomes(passed=1)
    assert project.golden("test_booking").read_bytes() == golden


# A starter as LiveKit's examples write it: the Agent carries `inference.LLM`, the session has
# no llm. The scripted server stands in for the gateway (it speaks chat completions too).
INFERENCE_CONFTEST = """

@pytest.fixture
def gateway_url(llm):
    \"\"\"LiveKit Inference's gateway, played by the scripted server while recording.\"\"\"
    return f"http://127.0.0.1:{PORT}/v1"
"""

STARTER = """
from livekit.agents import inference

REPLIES = [Reply(match="Hi there", text="Hello! How can I help?")]


class Assistant(Agent):
    def __init__(self, gateway_url):
        super().__init__(
            instructions="You are a helpful voice AI assistant.",
            llm=inference.LLM(model="openai/gpt-4.1-mini", base_url=gateway_url),
        )


async def test_starter(transcript, golden, gateway_url):
    async with AgentSession() as session:
        await session.start(Assistant(gateway_url))
        await session.run(user_input="Hi there")
    assert transcript == golden
"""

LIVEKIT_CREDENTIALS = (
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "LIVEKIT_INFERENCE_API_KEY",
    "LIVEKIT_INFERENCE_API_SECRET",
)


def test_inference_llm_replays_with_no_livekit_key(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open(project.path / "conftest.py", "a") as conftest:
        conftest.write(INFERENCE_CONFTEST)
    project.write_test(STARTER)
    for name in LIVEKIT_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIVEKIT_API_KEY", "lk-fake-key-0123")
    monkeypatch.setenv("LIVEKIT_API_SECRET", "lk-fake-secret-0123456789abcdef0123456789")
    project.record().assert_outcomes(passed=1)
    cassette = project.cassette("test_starter").read_text()
    assert "model: openai/gpt-4.1-mini" in cassette
    # Neither the key pair nor the token inference.LLM mints from it (a JWT: "eyJ…").
    for secret in ("lk-fake-key-0123", "lk-fake-secret-0123456789abcdef0123456789", "eyJ"):
        assert secret not in cassette
    golden = project.golden("test_starter").read_bytes()

    for name in LIVEKIT_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CI", "true")
    replay = project.run()
    replay.assert_outcomes(passed=1)
    assert project.golden("test_starter").read_bytes() == golden
    replay.stdout.no_fnmatch_line("*Warning*")  # e.g. pyjwt's on a short HMAC key


# ---- the pure parts, by example ------------------------------------------------------------


def chat_request(body: object) -> object:
    from vcr.request import Request

    return Request("POST", "http://127.0.0.1:1/v1/chat/completions", json.dumps(body), {})


def test_schema_sets_match_as_sets_and_the_conversation_keeps_its_order() -> None:
    from snaprun.cassettes.http_bodies import BodyMatcher

    def body(enum: list[str], required: list[str], arguments: list[str]) -> object:
        schema = {
            "type": "object",
            # a parameter *named* `required` is a schema, not a list of names
            "properties": {"size": {"enum": enum}, "required": {"type": "boolean"}},
            "required": required,
        }
        return chat_request(
            {
                "messages": [{"role": "user", "content": "hi", "enum": arguments}],
                "tools": [{"type": "function", "function": {"parameters": schema}}],
            }
        )

    match = BodyMatcher()
    assert match(body(["s", "m"], ["size", "x"], ["a"]), body(["m", "s"], ["x", "size"], ["a"]))
    assert not match(body(["s", "m"], ["size"], ["a"]), body(["s", "l"], ["size"], ["a"]))
    assert not match(body(["s"], ["size"], ["a", "b"]), body(["s"], ["size"], ["b", "a"]))

    def gemini(required: list[str]) -> object:  # a tool's arguments are data in `contents`
        call = {"functionCall": {"name": "plan", "args": {"required": required}}}
        return chat_request({"contents": [{"role": "model", "parts": [call]}], "tools": []})

    assert not match(gemini(["first", "then"]), gemini(["then", "first"]))


def test_volatile_values_are_labelled_in_order_of_first_appearance() -> None:
    from snaprun.cassettes.http_bodies import BodyMatcher
    from snaprun.volatile import InvalidVolatilePattern, Volatile

    volatile = Volatile.from_lines(["", ORDER_IDS, DATES])
    data = {"b": "ORD-AAAAAA then 2026-01-01", "a": ["ORD-BBBBBB", "ORD-AAAAAA"]}
    assert volatile.label(data) == {
        "b": "<volatile-1> then <volatile-2>",
        "a": ["<volatile-3>", "<volatile-1>"],
    }
    assert volatile.label(data, sort_keys=True) == {
        "a": ["<volatile-1>", "<volatile-2>"],
        "b": "<volatile-2> then <volatile-3>",
    }

    def sent(*ids: str) -> object:
        return chat_request({"messages": [{"role": "tool", "content": " ".join(ids)}]})

    match = BodyMatcher(volatile)
    assert match(sent("ORD-AAAAAA", "ORD-BBBBBB"), sent("ORD-CCCCCC", "ORD-DDDDDD"))
    assert not match(sent("ORD-AAAAAA", "ORD-AAAAAA"), sent("ORD-CCCCCC", "ORD-DDDDDD"))
    assert not BodyMatcher()(sent("ORD-AAAAAA"), sent("ORD-CCCCCC"))

    with pytest.raises(InvalidVolatilePattern) as bad:
        Volatile.from_lines(["ORD-("])
    assert str(bad.value) == (
        "snaprun: ini key snaprun_volatile: 'ORD-(' is not a regular expression "
        "(missing ), unterminated subpattern at position 4)"
    )
    with pytest.raises(InvalidVolatilePattern) as empty:
        Volatile.from_lines([r"\d*"])
    assert str(empty.value) == (
        "snaprun: ini key snaprun_volatile: '\\\\d*' matches the empty string, so it would label "
        "every position of every text; make it match the generated value only"
    )


@pytest.mark.parametrize(
    ("recorded", "sent", "pattern"),
    [
        ("ORD-7F3K2Q", "ORD-Q2M9XA", "ORD-[A-Z0-9]{6}"),
        ("item_0a1b2c3d4e5f", "item_ffee00112233", "item_[0-9a-f]{12}"),
        (
            "4b0d6a52-1c1e-4f7b-9a1d-0c5e0f4e3b21",
            "9e8f7a6b-5c4d-4e3f-8a2b-1c0d9e8f7a6b",
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        ),
        ("2026-12-01T10:00:00Z", "2026-12-02T09:30:00Z", r"\d{4}-\d{2}-\d{2}T[0-9:.+Z-]+"),
        ("4821", "9137", r"\d{4}"),
        ("greeter", "grumpy", None),
        ("Monday", "Sunday", None),
        ("ab", "cd", None),
    ],
)
def test_what_looks_generated(recorded: str, sent: str, pattern: str | None) -> None:
    from snaprun.cassettes.near_misses import _generated_pattern

    assert _generated_pattern(recorded, sent) == pattern
    if pattern is not None:
        assert re.fullmatch(pattern, recorded) and re.fullmatch(pattern, sent)


def test_livekit_ids_count_per_prefix_while_a_cassette_is_open() -> None:
    import livekit.agents.utils
    from livekit.agents.utils.misc import shortuuid as bound_by_name

    from snaprun.cassettes.generated_ids import deterministic_ids

    with deterministic_ids():
        # livekit.plugins.google.llm names a function call Gemini sent without an id so:
        ids = [livekit.agents.utils.shortuuid("function_call_") for _ in range(2)]
        assert livekit.agents.utils.misc.shortuuid("speech_") == "speech_000000000001"
    assert ids == ["function_call_000000000001", "function_call_000000000002"]
    assert livekit.agents.utils.shortuuid is bound_by_name
    assert livekit.agents.utils.shortuuid("x") != "x000000000001"
