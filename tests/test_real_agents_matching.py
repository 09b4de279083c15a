"""Agents as people write them replay in any process, on any day, with no key: schemas built
from sets, generated ids and dates (`snaprun_volatile`), ids livekit invents, inference.LLM."""

from __future__ import annotations

import subprocess
import sys

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
    return "ORD-" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(6))


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

    project.ini("snaprun_volatile =", f"    {ORDER_IDS}", f"    {DATES}")
    with time_machine.travel(datetime.timedelta(days=1), tick=True):
        project.run("--snapshot-update").assert_outcomes(passed=1)
    golden = project.golden("test_booking").read_bytes()
    assert b"text: You take bookings. Today is <volatile-3>.\n" in golden
    assert today.isoformat().encode() not in golden
    with time_machine.travel(datetime.timedelta(days=2), tick=True):
        project.run().assert_outcomes(passed=1)
    assert project.golden("test_booking").read_bytes() == golden
