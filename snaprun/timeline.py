"""What a test's AgentSessions did, as plain frozen data, and the one parser of a golden.

A `Timeline` holds one `SessionTimeline` per session the test started; each holds its `Run`s in
the order the test started them, and each run its events in emission order. `to_data` turns a
timeline into the plain dicts and lists that are written to the golden: the key order chosen
here is the order a reviewer reads. `Timeline.from_data` is its inverse, and every reader of a
golden (the syrupy extension, the diff, `snaprun show` and `review`) reads through it, so they
agree on what a golden is. A golden that is not one raises `shape.GoldenShapeError`, naming the
place inside the file: `runs[2].events[3].message: unknown key 'txt'`.
The event classes are in :mod:`snaprun.events`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, Self, get_args

from snaprun.events import (
    EVENT_CLASSES,
    SPEECH_OUTCOMES,
    VERDICTS,
    AgentHandoff,
    AnyEvent,
    ChatCtxUpdated,
    ChatItem,
    Data,
    Event,
    FunctionCall,
    FunctionCallOutput,
    InstructionsUpdated,
    Judgement,
    LlmError,
    Message,
    RawEvent,
    SpeechOutcome,
    SpeechWithoutMessage,
    TaskCompleted,
    TaskStarted,
    ToolsUpdated,
    Verdict,
    drop_empty,
    event_from_data,
    event_to_data,
)
from snaprun.shape import Fields, read

# The event classes stay importable from here, where every reader of a golden finds them.
__all__ = [
    "AgentHandoff",
    "AnyEvent",
    "ChatCtxSnapshot",
    "ChatCtxUpdated",
    "ChatItem",
    "Data",
    "EVENT_CLASSES",
    "Event",
    "FunctionCall",
    "FunctionCallOutput",
    "InstructionsUpdated",
    "Judgement",
    "LlmError",
    "Message",
    "RUN_KINDS",
    "RawEvent",
    "Run",
    "RunKind",
    "SPEECH_OUTCOMES",
    "SessionTimeline",
    "SpeechOutcome",
    "SpeechWithoutMessage",
    "TaskCompleted",
    "TaskStarted",
    "Timeline",
    "ToolsUpdated",
    "VERDICTS",
    "Verdict",
    "event_from_data",
    "event_to_data",
]

RunKind = Literal["start", "run", "say", "generate_reply", "test_body", "background"]
RUN_KINDS: Final[tuple[RunKind, ...]] = get_args(RunKind)


@dataclass(frozen=True)
class Run:
    kind: RunKind
    events: tuple[AnyEvent, ...]
    input: str | None = None

    def to_data(self) -> Data:
        return drop_empty(
            {
                "kind": self.kind,
                "input": self.input,
                "events": [event_to_data(event) for event in self.events],
            }
        )

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(
            kind=fields.choice("kind", RUN_KINDS),
            input=fields.optional_text("input"),
            events=fields.listed("events", event_from_data),
        )

    @classmethod
    def from_data(cls, data: object, path: str) -> Self:
        return read(cls.from_fields, data, path)


@dataclass(frozen=True)
class ChatCtxSnapshot:
    agent: str
    items: tuple[ChatItem, ...]

    def to_data(self) -> Data:
        return {"agent": self.agent, "items": [item.to_data() for item in self.items]}

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(agent=fields.text("agent"), items=fields.listed("items", ChatItem.from_data))

    @classmethod
    def from_data(cls, data: object, path: str) -> Self:
        return read(cls.from_fields, data, path)


@dataclass(frozen=True)
class SessionTimeline:
    runs: tuple[Run, ...]
    chat_ctx: ChatCtxSnapshot | None

    def to_data(self) -> Data:
        data: Data = {"runs": [run.to_data() for run in self.runs]}
        if self.chat_ctx is not None:
            data["chat_ctx"] = self.chat_ctx.to_data()
        return data

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        chat_ctx = fields.value("chat_ctx", None)
        return cls(
            runs=fields.listed("runs", Run.from_data, required=True),
            chat_ctx=None
            if chat_ctx is None
            else ChatCtxSnapshot.from_data(chat_ctx, fields.at("chat_ctx")),
        )

    @classmethod
    def from_data(cls, data: object, path: str) -> Self:
        return read(cls.from_fields, data, path)


@dataclass(frozen=True)
class Timeline:
    sessions: tuple[SessionTimeline, ...] = field(default_factory=tuple)

    def to_data(self) -> Data:
        # One session is the common case and reads without an extra level of nesting.
        if len(self.sessions) == 1:
            return self.sessions[0].to_data()
        return {"sessions": [session.to_data() for session in self.sessions]}

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        if "sessions" in fields.data:  # none (a test that started no session), or several
            return cls(fields.listed("sessions", SessionTimeline.from_data, required=True))
        return cls((SessionTimeline.from_fields(fields),))

    @classmethod
    def from_data(cls, data: object) -> Self:
        """The inverse of `to_data`: a golden, loaded from YAML, as a Timeline.

        Raises GoldenShapeError naming the place that is not what a golden holds.
        """
        return read(cls.from_fields, data, "")
