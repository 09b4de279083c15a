"""What a test's AgentSessions did, as plain frozen data.

A `Timeline` holds one `SessionTimeline` per session the test started; each holds its `Run`s in
the order the test started them, and each run its events in emission order. `to_data` turns a
timeline into the plain dicts and lists that are written to the golden: the key order chosen
here is the order a reviewer reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

RunKind = Literal["start", "run", "say", "generate_reply", "background"]
# How a speech that added nothing to the chat ended.
SpeechOutcome = Literal["interrupted", "failed", "no_message"]
Data = dict[str, Any]


def _drop_empty(fields: Data) -> Data:
    """Optional fields (a missing source, no removed items) are left out, not written as null."""
    return {key: value for key, value in fields.items() if value not in (None, [], ())}


@dataclass(frozen=True)
class ChatItem:
    """One item of a chat context: a message, or another item kind with its fields."""

    kind: str
    fields: tuple[tuple[str, Any], ...]

    @classmethod
    def message(cls, role: str, text: str) -> ChatItem:
        return cls("message", (("role", role), ("text", text)))

    def to_data(self) -> Data:
        # Messages, by far the most common item, read best flat: {role, text}.
        if self.kind == "message":
            return dict(self.fields)
        return self.to_data_as_event()

    def to_data_as_event(self) -> Data:
        return {self.kind: dict(self.fields)}


@dataclass(frozen=True)
class AgentHandoff:
    kind: ClassVar[str] = "agent_handoff"
    from_agent: str | None
    to_agent: str

    def fields(self) -> Data:
        return {"from": self.from_agent, "to": self.to_agent}


@dataclass(frozen=True)
class Message:
    kind: ClassVar[str] = "message"
    role: str
    text: str
    source: str | None = None
    interrupted: bool = False

    def fields(self) -> Data:
        return _drop_empty(
            {
                "role": self.role,
                "source": self.source,
                "text": self.text,
                "interrupted": True if self.interrupted else None,
            }
        )


@dataclass(frozen=True)
class FunctionCall:
    kind: ClassVar[str] = "function_call"
    name: str
    call: str
    arguments: Any

    def fields(self) -> Data:
        return {"name": self.name, "call": self.call, "arguments": self.arguments}


@dataclass(frozen=True)
class FunctionCallOutput:
    kind: ClassVar[str] = "function_call_output"
    name: str
    call: str
    output: str
    is_error: bool

    def fields(self) -> Data:
        return {
            "name": self.name,
            "call": self.call,
            "output": self.output,
            "is_error": self.is_error,
        }


@dataclass(frozen=True)
class ChatCtxUpdated:
    kind: ClassVar[str] = "chat_ctx_updated"
    agent: str
    added: tuple[ChatItem, ...] = ()
    removed: tuple[ChatItem, ...] = ()

    def fields(self) -> Data:
        return _drop_empty(
            {
                "agent": self.agent,
                "added": [item.to_data() for item in self.added],
                "removed": [item.to_data() for item in self.removed],
            }
        )


@dataclass(frozen=True)
class InstructionsUpdated:
    kind: ClassVar[str] = "instructions_updated"
    agent: str
    instructions: str

    def fields(self) -> Data:
        return {"agent": self.agent, "instructions": self.instructions}


@dataclass(frozen=True)
class ToolsUpdated:
    kind: ClassVar[str] = "tools_updated"
    agent: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def fields(self) -> Data:
        return _drop_empty(
            {"agent": self.agent, "added": list(self.added), "removed": list(self.removed)}
        )


@dataclass(frozen=True)
class SpeechWithoutMessage:
    """A speech that ended without adding anything to the chat: interrupted, failed or silent."""

    kind: ClassVar[str] = "speech_without_message"
    source: str
    outcome: SpeechOutcome

    def fields(self) -> Data:
        return {"source": self.source, "outcome": self.outcome}


Event = (
    AgentHandoff
    | Message
    | FunctionCall
    | FunctionCallOutput
    | ChatCtxUpdated
    | InstructionsUpdated
    | ToolsUpdated
    | SpeechWithoutMessage
)


def event_to_data(event: Event) -> Data:
    return {event.kind: event.fields()}


@dataclass(frozen=True)
class Run:
    kind: RunKind
    events: tuple[Event, ...]
    input: str | None = None

    def to_data(self) -> Data:
        return _drop_empty(
            {
                "kind": self.kind,
                "input": self.input,
                "events": [event_to_data(event) for event in self.events],
            }
        )


@dataclass(frozen=True)
class ChatCtxSnapshot:
    agent: str
    items: tuple[ChatItem, ...]

    def to_data(self) -> Data:
        return {"agent": self.agent, "items": [item.to_data() for item in self.items]}


@dataclass(frozen=True)
class SessionTimeline:
    runs: tuple[Run, ...]
    chat_ctx: ChatCtxSnapshot | None

    def to_data(self) -> Data:
        data: Data = {"runs": [run.to_data() for run in self.runs]}
        if self.chat_ctx is not None:
            data["chat_ctx"] = self.chat_ctx.to_data()
        return data


@dataclass(frozen=True)
class Timeline:
    sessions: tuple[SessionTimeline, ...] = field(default_factory=tuple)

    def to_data(self) -> Data:
        # One session is the common case and reads without an extra level of nesting.
        if len(self.sessions) == 1:
            return self.sessions[0].to_data()
        return {"sessions": [session.to_data() for session in self.sessions]}
