"""The events of a golden: one frozen class per kind, and how each is read back.

An event kind is one class below with a `kind`, `fields()` (what the golden holds) and
`from_fields()` (its inverse), listed in the `Event` union; the parser finds it by its kind.
An event this snaprun cannot read as its class is kept as the golden holds it, a `RawEvent`,
rather than refused: one of a kind it does not know (so an older snaprun still shows, and
diffs, a golden a newer one wrote), or one missing fields (a golden may be a filtered view,
`golden(exclude=props("text"))`). A key no event of its kind has, or a value of the wrong
type, is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal, Self, cast, get_args

from snaprun.shape import Fields, checked, one_kind, read_partial

# How a speech that added nothing to the chat ended.
SpeechOutcome = Literal["interrupted", "failed", "no_message"]
SPEECH_OUTCOMES: Final[tuple[SpeechOutcome, ...]] = get_args(SpeechOutcome)
# A judge call's verdict.
Verdict = Literal["pass", "fail"]
VERDICTS: Final[tuple[Verdict, ...]] = get_args(Verdict)
Data = dict[str, Any]


def drop_empty(fields: Data) -> Data:
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

    @classmethod
    def from_data(cls, data: object, path: str) -> ChatItem:
        """`{role, text}` is a message; any other item is written like the event of its kind."""
        fields: object
        if isinstance(data, Mapping) and "role" in data:
            kind, fields, fields_path = "message", data, path
        else:
            kind, fields = one_kind(data, path)
            fields_path = f"{path}.{kind}"
        # An item of an event's kind has that event's fields: check them as the event's.
        event_class = EVENT_CLASSES.get(kind)
        if event_class is not None:
            read_partial(event_class.from_fields, fields, fields_path)
        mapping = Fields(fields, fields_path).data
        for key in mapping:
            checked(key, str, "a field name", fields_path)
        return cls(kind, tuple(mapping.items()))

    def as_event(self) -> AnyEvent:
        """The item as the event of its kind, for drawing it (a message has no source)."""
        return event_from_data(self.to_data_as_event(), "")

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

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(from_agent=fields.optional_text("from"), to_agent=fields.text("to"))


@dataclass(frozen=True)
class Message:
    kind: ClassVar[str] = "message"
    role: str
    text: str
    source: str | None = None
    interrupted: bool = False

    def fields(self) -> Data:
        return drop_empty(
            {
                "role": self.role,
                "source": self.source,
                "text": self.text,
                "interrupted": True if self.interrupted else None,
            }
        )

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(
            role=fields.text("role"),
            text=fields.text("text"),
            source=fields.optional_text("source"),
            interrupted=fields.flag("interrupted", default=False),
        )


@dataclass(frozen=True)
class FunctionCall:
    kind: ClassVar[str] = "function_call"
    name: str
    call: str
    arguments: Any

    def fields(self) -> Data:
        return {"name": self.name, "call": self.call, "arguments": self.arguments}

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(
            name=fields.text("name"), call=fields.text("call"), arguments=fields.value("arguments")
        )


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

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(
            name=fields.text("name"),
            call=fields.text("call"),
            output=fields.text("output"),
            is_error=fields.flag("is_error"),
        )


@dataclass(frozen=True)
class ChatCtxUpdated:
    kind: ClassVar[str] = "chat_ctx_updated"
    agent: str
    added: tuple[ChatItem, ...] = ()
    removed: tuple[ChatItem, ...] = ()

    def fields(self) -> Data:
        return drop_empty(
            {
                "agent": self.agent,
                "added": [item.to_data() for item in self.added],
                "removed": [item.to_data() for item in self.removed],
            }
        )

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(
            agent=fields.text("agent"),
            added=fields.listed("added", ChatItem.from_data),
            removed=fields.listed("removed", ChatItem.from_data),
        )


@dataclass(frozen=True)
class InstructionsUpdated:
    kind: ClassVar[str] = "instructions_updated"
    agent: str
    instructions: str

    def fields(self) -> Data:
        return {"agent": self.agent, "instructions": self.instructions}

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(agent=fields.text("agent"), instructions=fields.text("instructions"))


@dataclass(frozen=True)
class ToolsUpdated:
    kind: ClassVar[str] = "tools_updated"
    agent: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def fields(self) -> Data:
        return drop_empty(
            {"agent": self.agent, "added": list(self.added), "removed": list(self.removed)}
        )

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(
            agent=fields.text("agent"), added=fields.texts("added"), removed=fields.texts("removed")
        )


@dataclass(frozen=True)
class SpeechWithoutMessage:
    """A speech that ended without adding anything to the chat: interrupted, failed or silent."""

    kind: ClassVar[str] = "speech_without_message"
    source: str
    outcome: SpeechOutcome

    def fields(self) -> Data:
        return {"source": self.source, "outcome": self.outcome}

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(source=fields.text("source"), outcome=fields.choice("outcome", SPEECH_OUTCOMES))


@dataclass(frozen=True)
class TaskStarted:
    """An AgentTask was awaited: its agent takes over until it completes."""

    kind: ClassVar[str] = "task_started"
    task: str

    def fields(self) -> Data:
        return {"task": self.task}

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(task=fields.text("task"))


@dataclass(frozen=True)
class TaskCompleted:
    """An AgentTask completed, with its result as plain data, or with the error it failed with."""

    kind: ClassVar[str] = "task_completed"
    task: str
    result: Any = None
    error: str | None = None

    def fields(self) -> Data:
        if self.error is None:
            return {"task": self.task, "result": self.result}
        return {"task": self.task, "result": self.result, "error": self.error}

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(
            task=fields.text("task"),
            result=fields.value("result", None),
            error=fields.optional_text("error"),
        )


@dataclass(frozen=True)
class Judgement:
    """A `judge(llm, intent=...)` call: whether the judged message fulfils the intent, and why."""

    kind: ClassVar[str] = "judgement"
    intent: str
    verdict: Verdict
    reason: str | None = None

    def fields(self) -> Data:
        return drop_empty({"intent": self.intent, "verdict": self.verdict, "reason": self.reason})

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(
            intent=fields.text("intent"),
            verdict=fields.choice("verdict", VERDICTS),
            reason=fields.optional_text("reason"),
        )


@dataclass(frozen=True)
class LlmError:
    """An LLM request that failed: the HTTP status when there was a response, else the exception."""

    kind: ClassVar[str] = "llm_error"
    agent: str | None
    error: str  # "HTTP 400", or the exception type when no response came
    message: str

    def fields(self) -> Data:
        return {"agent": self.agent, "error": self.error, "message": self.message}

    @classmethod
    def from_fields(cls, fields: Fields) -> Self:
        return cls(
            agent=fields.optional_text("agent"),
            error=fields.text("error"),
            message=fields.text("message"),
        )


Event = (
    AgentHandoff
    | Message
    | FunctionCall
    | FunctionCallOutput
    | ChatCtxUpdated
    | InstructionsUpdated
    | ToolsUpdated
    | SpeechWithoutMessage
    | TaskStarted
    | TaskCompleted
    | Judgement
    | LlmError
)
"""Every event kind snaprun records. A new kind: a class like those above, added here."""

EVENT_CLASSES: Final[dict[str, type[Event]]] = {cls.kind: cls for cls in get_args(Event)}
"""The parser's registry: each kind's class, by the `kind` a golden writes it under."""


@dataclass(frozen=True)
class RawEvent:
    """An event kept as the golden holds it: of a kind this snaprun does not know (a newer
    one wrote it), or without fields its kind has (a filter such as `exclude=` left them out).

    Kept rather than refused: `snaprun show` still shows such a golden, and a test's diff
    names the event ("missing event 3 — task_started …") instead of calling the golden corrupt
    and offering to regenerate it, which would drop what the newer snaprun recorded.
    """

    kind: str
    data: Any

    def fields(self) -> Any:
        return self.data


AnyEvent = Event | RawEvent
"""An event read from a golden: one snaprun records, or one kept as its data."""


def event_to_data(event: AnyEvent) -> Data:
    return {event.kind: event.fields()}


def event_from_data(data: object, path: str) -> AnyEvent:
    """`{kind: fields}` → the event of that kind, its fields checked by its class."""
    kind, fields = one_kind(data, path)
    event_class = EVENT_CLASSES.get(kind)
    if event_class is None:
        return RawEvent(kind, fields)
    # mypy cannot call a classmethod through a union of classes; each returns its own class.
    from_fields = cast(Callable[[Fields], Event], event_class.from_fields)
    event = read_partial(from_fields, fields, f"{path}.{kind}")
    return RawEvent(kind, fields) if event is None else event
