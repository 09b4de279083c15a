"""Tests of snaprun.timeline's parser: `Timeline.from_data` inverts `to_data`, and a golden that
is not one is refused with the place inside the file named."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snaprun import yamlio
from snaprun.shape import GoldenShapeError
from snaprun.timeline import (
    EVENT_CLASSES,
    RUN_KINDS,
    ChatCtxSnapshot,
    ChatItem,
    Event,
    Message,
    RawEvent,
    Run,
    SessionTimeline,
    Timeline,
)

# --- the round trip -------------------------------------------------------------------

texts = st.text(max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=8,
)
unknown_kinds = st.text(min_size=1, max_size=8).filter(
    lambda kind: kind not in EVENT_CLASSES and kind != "role"
)


def _holds_chat_items(cls: type) -> bool:
    hints = typing.get_type_hints(cls)
    return any(hints[f.name] == tuple[ChatItem, ...] for f in dataclasses.fields(cls))


def events_of(cls: type, chat_items: st.SearchStrategy[ChatItem]) -> st.SearchStrategy[Any]:
    """Any event of class `cls`, every field drawn from its type (Any: JSON data).

    Built from the class itself, so an event class added to the `Event` union is covered
    without a change here.
    """
    hints = typing.get_type_hints(cls)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if hint is Any:
            fields[field.name] = json_values
        elif hint == tuple[ChatItem, ...]:
            fields[field.name] = st.lists(chat_items, max_size=3).map(tuple)
        else:
            fields[field.name] = st.from_type(hint)
    return st.builds(cls, **fields)


# A chat item of an event's kind holds that event's fields (chat-holding kinds left out, so
# the strategy does not recurse).
flat_events = st.one_of(
    [events_of(cls, st.nothing()) for cls in typing.get_args(Event) if not _holds_chat_items(cls)]
)
chat_items = st.one_of(
    st.builds(ChatItem.message, texts, texts),
    flat_events.map(lambda event: ChatItem(event.kind, tuple(event.fields().items()))),
    st.builds(
        lambda kind, fields: ChatItem(kind, tuple(fields.items())),
        unknown_kinds,
        st.dictionaries(texts, json_values, max_size=3),
    ),
)
events = st.one_of(
    *(events_of(cls, chat_items) for cls in typing.get_args(Event)),
    st.builds(RawEvent, unknown_kinds, json_values),
)
runs = st.builds(
    Run,
    kind=st.sampled_from(RUN_KINDS),
    events=st.lists(events, max_size=4).map(tuple),
    input=st.none() | texts,
)
sessions = st.builds(
    SessionTimeline,
    runs=st.lists(runs, max_size=3).map(tuple),
    chat_ctx=st.none()
    | st.builds(ChatCtxSnapshot, texts, st.lists(chat_items, max_size=3).map(tuple)),
)
timelines = st.builds(Timeline, st.lists(sessions, max_size=3).map(tuple))


@settings(max_examples=100, deadline=None)
@given(timelines)
def test_from_data_inverts_to_data(timeline: Timeline) -> None:
    assert Timeline.from_data(timeline.to_data()) == timeline


@settings(max_examples=50, deadline=None)
@given(timelines)
def test_a_golden_written_as_yaml_reads_back_as_the_same_timeline(timeline: Timeline) -> None:
    assert Timeline.from_data(yamlio.load(yamlio.dump(timeline.to_data()))) == timeline


def test_every_event_kind_has_its_own_class() -> None:
    classes = typing.get_args(Event)
    assert len(EVENT_CLASSES) == len(classes)
    assert all(EVENT_CLASSES[cls.kind] is cls for cls in classes)


def test_a_test_that_starts_no_session_reads_as_no_session() -> None:
    assert Timeline.from_data({"sessions": []}) == Timeline()
    assert Timeline().to_data() == {"sessions": []}


def test_an_event_of_an_unknown_kind_is_kept_whole() -> None:
    data = {"runs": [{"kind": "start", "events": [{"task_paused": {"task": "Ask", "n": 1}}]}]}
    timeline = Timeline.from_data(data)
    assert timeline.sessions[0].runs[0].events == (
        RawEvent("task_paused", {"task": "Ask", "n": 1}),
    )
    assert timeline.to_data() == data


def test_a_chat_item_reads_as_the_event_of_its_kind() -> None:
    data = {"agent": "A", "items": [{"role": "user", "text": "Hi"}, {"agent_config_update": {}}]}
    items = ChatCtxSnapshot.from_data(data, "chat_ctx").items
    assert items == (ChatItem.message("user", "Hi"), ChatItem("agent_config_update", ()))
    assert [item.as_event() for item in items] == [
        Message(role="user", text="Hi"),
        RawEvent("agent_config_update", {}),
    ]


# --- a golden that is not one -----------------------------------------------------------

SEED: dict[str, Any] = {
    "runs": [
        {
            "kind": "run",
            "input": "Hi",
            "events": [
                {"message": {"role": "user", "text": "Hi"}},
                {"function_call": {"name": "f", "call": "call-1", "arguments": {}}},
                {"agent_handoff": {"from": None, "to": "B"}},
            ],
        }
    ],
    "chat_ctx": {"agent": "B", "items": [{"role": "user", "text": "Hi"}]},
}


def edited(path: str, value: Any) -> dict[str, Any]:
    """The seed with the value at `path` (dotted, lists counted from 0) replaced; ... deletes."""
    return edited_data(SEED, path, value)


def edited_data(golden: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = yamlio.load(yamlio.dump(golden))
    assert isinstance(data, dict)
    *parents, last = path.split(".")
    target: Any = data
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    key: Any = int(last) if isinstance(target, list) else last
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "top level: expected a mapping, got a list"),
        (None, "top level: expected a mapping, got null"),
        ({}, "top level: missing 'runs'"),
        ({**SEED, "extra": 1}, "top level: unknown key 'extra'"),
        ({"sessions": 3}, "sessions: expected a list, got a number"),
        ({"sessions": [1]}, "sessions[1]: expected a mapping, got a number"),
        ({"sessions": [SEED, {}]}, "sessions[2]: missing 'runs'"),
        (edited("runs", "x"), "runs: expected a list, got a string"),
        (edited("runs.0", "start"), "runs[1]: expected a mapping, got a string"),
        (
            edited("runs.0.kind", "talk"),
            (
                "runs[1].kind: 'talk' is not one of start, run, say, generate_reply, test_body, "
                "background"
            ),
        ),
        (edited("runs.0.kind", ...), "runs[1]: missing 'kind'"),
        (edited("runs.0.input", 3), "runs[1].input: expected a string, got a number"),
        (
            edited("runs.0.events", {"message": "x"}),
            ("runs[1].events: expected a list, got a mapping"),
        ),
        (
            edited("runs.0.events.1", ["not", "an", "event"]),
            ("runs[1].events[2]: expected one `kind: fields` mapping, got a list"),
        ),
        (
            edited("runs.0.events.1.extra", {}),
            ("runs[1].events[2]: expected one `kind: fields` mapping, got a mapping of 2 keys"),
        ),
        (
            edited("runs.0.events.0.message", "x"),
            ("runs[1].events[1].message: expected a mapping, got a string"),
        ),
        (
            edited("runs.0.events.0.message.text", 3),
            ("runs[1].events[1].message.text: expected a string, got a number"),
        ),
        (
            edited("runs.0.events.0.message.txt", "Hi"),
            ("runs[1].events[1].message: unknown key 'txt'"),
        ),
        (
            edited("runs.0.events.0.message.interrupted", "yes"),
            ("runs[1].events[1].message.interrupted: expected true or false, got a string"),
        ),
        (
            edited("runs.0.events.1.function_call.call", None),
            ("runs[1].events[2].function_call.call: expected a string, got null"),
        ),
        (edited("chat_ctx", 3), "chat_ctx: expected a mapping, got a number"),
        (
            edited("chat_ctx.items.0.text", [1]),
            ("chat_ctx.items[1].text: expected a string, got a list"),
        ),
        (
            edited("chat_ctx.items.0", {"agent_config_update": 3}),
            ("chat_ctx.items[1].agent_config_update: expected a mapping, got a number"),
        ),
    ],
)
def test_a_golden_that_is_not_one_names_the_place(data: Any, message: str) -> None:
    with pytest.raises(GoldenShapeError) as raised:
        Timeline.from_data(data)
    assert str(raised.value) == message


def test_an_event_missing_fields_is_kept_as_the_golden_holds_it() -> None:
    # What golden(exclude=props("text")) writes, and golden(include=...) leaves of an event.
    data = edited("runs.0.events.0.message.text", ...)
    data = edited_data(data, "runs.0.events.2.agent_handoff", {})
    data = edited_data(data, "chat_ctx.items.0", {"function_call": {"name": "f"}})
    timeline = Timeline.from_data(data)
    events = timeline.sessions[0].runs[0].events
    assert events[0] == RawEvent("message", {"role": "user"})
    assert events[2] == RawEvent("agent_handoff", {})
    assert timeline.to_data() == data
    with pytest.raises(GoldenShapeError) as raised:  # what is there is still checked
        Timeline.from_data(edited_data(data, "runs.0.events.0.message.role", 1))
    assert str(raised.value) == "runs[1].events[1].message.role: expected a string, got a number"


def test_a_list_that_holds_itself_is_refused_by_its_place() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(GoldenShapeError, match=r"^runs\[1\]\.events\[1\]\.message\.text: "):
        Timeline.from_data(edited("runs.0.events.0.message.text", loop))


golden_words = st.sampled_from(
    ["sessions", "runs", "kind", "start", "input", "events", "message", "role", "text", "to"]
    + ["function_call", "name", "call", "arguments", "chat_ctx", "agent", "items", "added"]
)
golden_like = st.recursive(
    st.none() | st.booleans() | st.integers() | golden_words,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(golden_words, children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(golden_like)
def test_any_data_reads_as_a_timeline_or_names_the_place(data: Any) -> None:
    try:
        Timeline.from_data(data)
    except GoldenShapeError as error:
        assert error.path and error.problem
