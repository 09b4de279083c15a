"""Tests of snaprun.golden.diff: the event-level report printed before syrupy's line diff.

Its events are named by snaprun.describe, tested here by `describe_event`. Goldens are written
here as the data a golden file holds and read with `Timeline.from_data`, as the plugin reads
them; what a golden that is not one gives is tested in test_timeline.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snaprun.describe import describe_event
from snaprun.golden.diff import diff_goldens, format_report
from snaprun.timeline import Timeline

RUN_2 = 'run 2 (input "Give me all ice cream types.")'

SEED: dict[str, Any] = {
    "runs": [
        {
            "kind": "start",
            "events": [
                {"agent_handoff": {"from": None, "to": "EnterAgent"}},
                {
                    "chat_ctx_updated": {
                        "agent": "EnterAgent",
                        "added": [{"role": "system", "text": "ENTER AGENT: system message"}],
                        "removed": [],
                    }
                },
                {
                    "message": {
                        "role": "assistant",
                        "source": "say",
                        "text": "ENTER AGENT: Say something deterministic",
                    }
                },
                {"instructions_updated": {"agent": "EnterAgent", "instructions": "Be brief."}},
            ],
        },
        {
            "kind": "run",
            "input": "Give me all ice cream types.",
            "events": [
                {"message": {"role": "user", "text": "Give me all ice cream types."}},
                {
                    "function_call": {
                        "name": "ice_cream_types",
                        "call": "call-1",
                        "arguments": {},
                    }
                },
                {
                    "function_call_output": {
                        "name": "ice_cream_types",
                        "call": "call-1",
                        "output": "",
                        "is_error": False,
                    }
                },
                {"agent_handoff": {"from": "EnterAgent", "to": "SecondAgent"}},
                {
                    "chat_ctx_updated": {
                        "agent": "SecondAgent",
                        "added": [{"role": "system", "text": "SECOND AGENT: system message"}],
                        "removed": [{"role": "system", "text": "ENTER AGENT: system message"}],
                    }
                },
                {
                    "tools_updated": {
                        "agent": "SecondAgent",
                        "added": ["order"],
                        "removed": ["ice_cream_types"],
                    }
                },
                {
                    "message": {
                        "role": "assistant",
                        "text": "SECOND AGENT: Say something generated",
                    }
                },
            ],
        },
    ],
    "chat_ctx": {
        "agent": "SecondAgent",
        "items": [
            {"role": "system", "text": "SECOND AGENT: system message"},
            {"role": "user", "text": "Give me all ice cream types."},
            {"function_call": {"name": "ice_cream_types", "call": "call-1", "arguments": {}}},
            {"role": "assistant", "text": "SECOND AGENT: Say something generated"},
        ],
    },
}


def seed() -> dict[str, Any]:
    """A fresh copy of the seed golden, free to edit."""
    return copy.deepcopy(SEED)


def diff(expected: Any, actual: Any) -> list[str]:
    """The findings between two goldens given as data."""
    return diff_goldens(Timeline.from_data(expected), Timeline.from_data(actual))


def events(golden: dict[str, Any], run: int) -> list[Any]:
    """The events of run `run`, counted from 1 like the report."""
    result: list[Any] = golden["runs"][run - 1]["events"]
    return result


# --- describe_event -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "label"),
    [
        (
            {"message": {"role": "assistant", "text": "SECOND AGENT: Say something generated"}},
            'message assistant "SECOND AGENT: Say something generated"',
        ),
        (
            {"message": {"role": "user", "text": "Give me all ice cream types."}},
            'message user "Give me all ice cream types."',
        ),
        (
            {"function_call": {"name": "ice_cream_types", "call": "call-1", "arguments": {}}},
            "function_call ice_cream_types {}",
        ),
        (
            {"function_call": {"name": "weather", "arguments": {"city": "Paris"}}},
            'function_call weather {"city": "Paris"}',
        ),
        (
            {"function_call_output": {"name": "ice_cream_types", "output": "", "is_error": False}},
            'function_call_output ice_cream_types ""',
        ),
        (
            {"function_call_output": {"name": "weather", "output": "boom", "is_error": True}},
            'function_call_output weather "boom" (error)',
        ),
        (
            {"agent_handoff": {"from": "EnterAgent", "to": "SecondAgent"}},
            "agent_handoff EnterAgent → SecondAgent",
        ),
        (
            {"agent_handoff": {"from": None, "to": "EnterAgent"}},
            "agent_handoff (none) → EnterAgent",
        ),
        (
            {"chat_ctx_updated": {"agent": "EnterAgent", "added": [{"role": "system"}]}},
            "chat_ctx_updated EnterAgent +1 -0",
        ),
        (
            {"tools_updated": {"agent": "X", "added": ["a"], "removed": ["b"]}},
            'tools_updated {"agent": "X", "added": ["a"], "removed": ["b"]}',
        ),
        ({"speech_interrupted": {"source": "say"}}, 'speech_interrupted {"source": "say"}'),
        ({"message": "not fields"}, 'message "not fields"'),
        ([1, 2], "[1, 2]"),
    ],
)
def test_describe_event_labels(event: Any, label: str) -> None:
    assert describe_event(event) == label


def test_describe_event_shortens_text_and_shows_newlines() -> None:
    text = "line one\nline two " + "x" * 100
    label = describe_event({"message": {"role": "assistant", "text": text}})
    assert label == 'message assistant "line one⏎line two ' + "x" * 41 + '…"'


# --- diff_goldens on the seed golden --------------------------------------------------


def test_identical_goldens_have_no_findings() -> None:
    assert diff(SEED, seed()) == []


def test_removed_event_is_missing() -> None:
    actual = seed()
    del events(actual, 2)[6]
    assert diff(SEED, actual) == [
        f'{RUN_2}: missing event 7 — message assistant "SECOND AGENT: Say something generated"'
    ]


def test_added_event_is_unexpected_and_counted_in_the_transcript() -> None:
    actual = seed()
    events(actual, 2).insert(1, {"speech_interrupted": {"source": "generate_reply"}})
    assert diff(SEED, actual) == [
        f'{RUN_2}: unexpected event 2 — speech_interrupted {{"source": "generate_reply"}}'
    ]


def test_duplicated_event() -> None:
    actual = seed()
    run = events(actual, 1)
    run.insert(3, copy.deepcopy(run[2]))
    assert diff(SEED, actual) == [
        "run 1 (start): duplicated event 4 — "
        'message assistant "ENTER AGENT: Say something deterministic" (2 times, expected 1)'
    ]


def test_changed_text() -> None:
    actual = seed()
    events(actual, 1)[2]["message"]["text"] = "ENTER AGENT: Say something else"
    assert diff(SEED, actual) == [
        "run 1 (start): changed event 3 — message: text "
        '"ENTER AGENT: Say something deterministic" → "ENTER AGENT: Say something else"'
    ]


def test_changed_function_arguments_use_a_dotted_path() -> None:
    expected, actual = seed(), seed()
    events(expected, 2)[1]["function_call"]["arguments"] = {"city": "Paris", "unit": "C"}
    events(actual, 2)[1]["function_call"]["arguments"] = {"city": "Lyon", "unit": "C"}
    assert diff(expected, actual) == [
        f'{RUN_2}: changed event 2 — function_call: arguments.city "Paris" → "Lyon"'
    ]


def test_changed_event_gives_one_line_per_field() -> None:
    actual = seed()
    output = events(actual, 2)[2]["function_call_output"]
    output.update(call="call-2", output="nope", is_error=True)
    del events(actual, 1)[2]["message"]["source"]
    assert diff(SEED, actual) == [
        'run 1 (start): changed event 3 — message: source "say" → <absent>',
        f'{RUN_2}: changed event 3 — function_call_output: call "call-1" → "call-2"',
        f'{RUN_2}: changed event 3 — function_call_output: output "" → "nope"',
        f"{RUN_2}: changed event 3 — function_call_output: is_error false → true",
    ]


def test_long_changed_text_is_cut_around_the_difference() -> None:
    expected, actual = seed(), seed()
    events(expected, 1)[2]["message"]["text"] = "a" * 100 + "OLD" + "z" * 100
    events(actual, 1)[2]["message"]["text"] = "a" * 100 + "NEW" + "z" * 100
    old = "…" + "a" * 20 + "OLD" + "z" * 36 + "…"
    new = "…" + "a" * 20 + "NEW" + "z" * 36 + "…"
    assert diff(expected, actual) == [
        f'run 1 (start): changed event 3 — message: text "{old}" → "{new}"'
    ]


def test_event_of_another_kind_is_missing_and_unexpected() -> None:
    actual = seed()
    events(actual, 2)[3] = {"speech_failed": {"source": "say"}}
    assert diff(SEED, actual) == [
        f"{RUN_2}: missing event 4 — agent_handoff EnterAgent → SecondAgent",
        f'{RUN_2}: unexpected event 4 — speech_failed {{"source": "say"}}',
    ]


def test_swapped_adjacent_events_are_moved() -> None:
    actual = seed()
    run = events(actual, 2)
    run[1], run[2] = run[2], run[1]
    assert diff(SEED, actual) == [
        f'{RUN_2}: moved event 3 — function_call_output ice_cream_types "" (now at 2)'
    ]


def test_swapped_far_apart_events_are_both_moved() -> None:
    actual = seed()
    run = events(actual, 2)
    run[0], run[6] = run[6], run[0]
    assert diff(SEED, actual) == [
        f'{RUN_2}: moved event 1 — message user "Give me all ice cream types." (now at 7)',
        f"{RUN_2}: moved event 7 — "
        'message assistant "SECOND AGENT: Say something generated" (now at 1)',
    ]


def test_findings_come_in_run_order() -> None:
    actual = seed()
    del events(actual, 2)[6]
    del events(actual, 2)[0]
    events(actual, 1)[3]["instructions_updated"]["instructions"] = "Be long."
    assert diff(SEED, actual) == [
        "run 1 (start): changed event 4 — instructions_updated: "
        'instructions "Be brief." → "Be long."',
        f'{RUN_2}: missing event 1 — message user "Give me all ice cream types."',
        f'{RUN_2}: missing event 7 — message assistant "SECOND AGENT: Say something generated"',
    ]


def test_extra_and_missing_runs() -> None:
    longer = seed()
    say = {"message": {"role": "assistant", "source": "say", "text": "Bye"}}
    longer["runs"].append({"kind": "say", "events": [say]})
    assert diff(SEED, longer) == ['run 3 (kind "say"): unexpected run']
    assert diff(longer, SEED) == ['run 3 (kind "say"): missing run']


def test_changed_run_input() -> None:
    actual = seed()
    actual["runs"][1]["input"] = "Give me one ice cream type."
    assert diff(SEED, actual) == [
        f'{RUN_2}: input "Give me all ice cream types." → "Give me one ice cream type."'
    ]


def test_several_sessions_are_numbered() -> None:
    second = seed()
    del events(second, 2)[6]
    second["chat_ctx"]["agent"] = "EnterAgent"
    expected = {"sessions": [seed(), seed()]}
    actual = {"sessions": [seed(), second]}
    assert diff(expected, actual) == [
        f"session 2, {RUN_2}: missing event 7 — "
        'message assistant "SECOND AGENT: Say something generated"',
        'session 2, chat_ctx: agent "SecondAgent" → "EnterAgent"',
    ]


def test_extra_session() -> None:
    expected = {"sessions": [seed()]}
    actual = {"sessions": [seed(), seed()]}
    assert diff(expected, actual) == ["session 2: unexpected session"]
    assert diff(actual, expected) == ["session 2: missing session"]


def test_single_session_in_sessions_form_is_not_numbered() -> None:
    actual = seed()
    del events(actual, 2)[6]
    assert diff({"sessions": [seed()]}, {"sessions": [actual]}) == [
        f'{RUN_2}: missing event 7 — message assistant "SECOND AGENT: Say something generated"'
    ]


def test_chat_ctx_item_removed() -> None:
    actual = seed()
    del actual["chat_ctx"]["items"][1]
    assert diff(SEED, actual) == [
        'chat_ctx: missing item 2 — message user "Give me all ice cream types."'
    ]


def test_chat_ctx_agent_and_item_changed() -> None:
    actual = seed()
    actual["chat_ctx"]["agent"] = "EnterAgent"
    actual["chat_ctx"]["items"][0]["text"] = "ENTER AGENT: system message"
    assert diff(SEED, actual) == [
        'chat_ctx: agent "SecondAgent" → "EnterAgent"',
        'chat_ctx: changed item 1 — message: text "SECOND AGENT: system message" → '
        '"ENTER AGENT: system message"',
    ]


def test_control_characters_stay_on_one_line() -> None:
    actual = seed()
    events(actual, 1)[2]["message"]["text"] = "two\nlines \x1b[31mred"
    [line] = diff(SEED, actual)
    assert line.endswith('→ "two⏎lines \\x1b[31mred"')


# --- values a hand-edited golden may hold ----------------------------------------------


def test_recursive_arguments_do_not_raise() -> None:
    golden: dict[str, Any] = seed()
    loop: list[Any] = []
    loop.append(loop)
    events(golden, 2)[1]["function_call"]["arguments"] = loop
    assert diff(golden, seed()) == [
        f"{RUN_2}: changed event 2 — function_call: arguments [[...]] → {{}}"
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=12,
)


@given(json_values, json_values)
def test_any_arguments_and_unknown_events_compare_on_one_line(expected: Any, actual: Any) -> None:
    def golden(value: Any) -> dict[str, Any]:
        call = {"function_call": {"name": "f", "call": "call-1", "arguments": value}}
        return {"runs": [{"kind": "start", "events": [call, {"surprise": value}]}]}

    lines = diff(golden(expected), golden(actual))
    assert all("\n" not in line for line in lines)
    assert diff(golden(expected), golden(copy.deepcopy(expected))) == []


# --- a property on well-shaped goldens ------------------------------------------------

small_texts = st.sampled_from(["a", "b", "c"])
well_shaped_events = st.one_of(
    st.builds(
        lambda role, text: {"message": {"role": role, "text": text}}, small_texts, small_texts
    ),
    st.builds(
        lambda name, city: {
            "function_call": {"name": name, "call": "call-1", "arguments": {"city": city}}
        },
        small_texts,
        small_texts,
    ),
    st.builds(lambda to: {"agent_handoff": {"from": None, "to": to}}, small_texts),
)
well_shaped_goldens = st.builds(
    lambda runs, agent, items: {"runs": runs, "chat_ctx": {"agent": agent, "items": items}},
    st.lists(
        st.builds(
            lambda kind, event_list: {"kind": kind, "events": event_list},
            st.sampled_from(["start", "say"]),
            st.lists(well_shaped_events, max_size=6),
        ),
        max_size=3,
    ),
    small_texts,
    st.lists(well_shaped_events, max_size=4),
)


@given(well_shaped_goldens, well_shaped_goldens)
def test_well_shaped_goldens_differ_exactly_when_the_report_says_so(
    expected: dict[str, Any], actual: dict[str, Any]
) -> None:
    lines = diff(expected, actual)
    assert bool(lines) == (expected != actual)


# --- format_report --------------------------------------------------------------------


def test_format_report() -> None:
    lines = [
        f'{RUN_2}: missing event 7 — message assistant "SECOND AGENT: Say something generated"',
        'chat_ctx: agent "SecondAgent" → "EnterAgent"',
    ]
    assert format_report(lines) == (
        f"snaprun: the transcript differs from its golden in 2 places:\n  {lines[0]}\n  {lines[1]}"
    )
    assert format_report(lines[:1]).startswith(
        "snaprun: the transcript differs from its golden in 1 place:\n"
    )
    assert format_report([]) == ""
