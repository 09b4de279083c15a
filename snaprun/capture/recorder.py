"""The recorders: what one AgentSession did, filed run by run as livekit reports it.

A `SessionRecorder` listens to one session's events and files each under the `RunRecorder` of
the test call that caused it, found through the `_current_run` context variable that the
wrapped entry points in `patches` set; it also turns livekit's chat items into timeline events
and cross-checks them against livekit's own history and RunResult. It is kept apart from
`Capture` so the per-session bookkeeping reads on its own, and from `patches` so what is
recorded is separate from where livekit is intercepted.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import TYPE_CHECKING, Any, cast

from livekit.agents import (
    Agent,
    AgentSession,
    CloseEvent,
    ConversationItemAddedEvent,
    FunctionToolsExecutedEvent,
    SpeechCreatedEvent,
    llm,
)
from livekit.agents.voice.run_result import AgentHandoffEvent, RunEvent, RunResult
from livekit.agents.voice.speech_handle import SpeechHandle

from snaprun.capture import accessors
from snaprun.capture.crosscheck import RunPair, compare_runs
from snaprun.capture.normalize import (
    error_text,
    parse_arguments,
    text_of,
    tool_steps_in_order,
    without_addresses,
)
from snaprun.capture.tasks import FollowedRun
from snaprun.describe import describe_event, run_label
from snaprun.timeline import (
    AgentHandoff,
    ChatCtxSnapshot,
    ChatItem,
    Event,
    FunctionCall,
    FunctionCallOutput,
    LlmError,
    Message,
    Run,
    RunKind,
    SessionTimeline,
    SpeechOutcome,
    SpeechWithoutMessage,
    event_to_data,
)

if TYPE_CHECKING:
    from snaprun.capture import Capture

_current_run: contextvars.ContextVar[RunRecorder | FollowedRun | None] = contextvars.ContextVar(
    "snaprun_current_run", default=None
)
_HIDDEN_ITEM_TYPES = frozenset({"agent_config_update"})


def active_run() -> RunRecorder | None:
    """The run the current context belongs to; an awaited AgentTask's caller follows the task."""
    run = _current_run.get()
    return run.run if isinstance(run, FollowedRun) else run


def agent_name(agent: Any) -> str | None:
    return None if agent is None else type(agent).__name__


class RunRecorder:
    """The events of one run, in emission order, plus what livekit itself returned for it."""

    def __init__(self, session: SessionRecorder, kind: RunKind, input: str | None = None) -> None:
        self.session = session
        self.kind = kind
        self.input = input
        self.events: list[Event] = []
        self.handles: list[SpeechHandle] = []
        self.result: RunResult[Any] | None = None  # livekit's RunResult, when it returned one

    def freeze(self) -> Run:
        return Run(kind=self.kind, input=self.input, events=tuple(self.events))


class SessionRecorder:
    """Listens to one AgentSession and files each event under the run that caused it."""

    def __init__(self, capture: Capture, session: AgentSession[Any]) -> None:
        self.capture = capture
        self.session = session
        self.runs: list[RunRecorder] = []
        self.agent: str | None = None
        self.chat_ctx: ChatCtxSnapshot | None = None
        self._seen: set[str] = set()
        self._emitted: set[str] = set()  # items livekit announced via conversation_item_added
        self.problems: list[str] = []
        self._sources: dict[str, str] = {}  # speech handle id -> say / generate_reply
        self._after_tools: set[str] = set()  # speech handles whose tool outputs came back
        self._handles_with_items: set[str] = set()  # speeches that added to the chat
        self._pending_outputs: dict[str, llm.FunctionCallOutput] = {}
        self._moved: dict[str, RunRecorder] = {}  # speech handle id -> run it now belongs to
        self._changed: list[asyncio.Future[None]] = []  # settle's wake-ups
        self.started_agents: set[int] = set()  # ids of agents whose activity start returned
        session.on("speech_created", self._on_speech_created)
        session.on("conversation_item_added", self._on_conversation_item)
        session.on("function_tools_executed", self._on_tools_executed)
        session.on("close", self._on_close)
        session.on("error", self._on_error)

    # -- runs ------------------------------------------------------------------------------

    def open_run(self, kind: RunKind, input: str | None = None) -> RunRecorder:
        run = RunRecorder(self, kind, input)
        self.runs.append(run)
        return run

    def current_run(self, handle: Any = None) -> RunRecorder:
        if handle is None:
            handle = accessors.speech_in_context()
        if handle is not None and handle.id in self._moved:
            return self._moved[handle.id]
        run = active_run()
        if run is not None and run.session is self:
            return run
        # Changes the test body makes between its calls, and work no test call caused
        # (livekit's own background tasks), each get a run of their own.
        kind: RunKind = "test_body" if self.capture.in_test_body() else "background"
        if not self.runs or self.runs[-1].kind != kind:
            self.open_run(kind)
        return self.runs[-1]

    def move_handle(self, handle: Any, run: RunRecorder) -> None:
        """What `handle` emits from now on belongs to `run` (its AgentTask completed there)."""
        self._moved[handle.id] = run

    def run_of_handle(self, handle: Any) -> RunRecorder | None:
        moved = self._moved.get(handle.id)
        return moved or next((run for run in self.runs if handle in run.handles), None)

    def changed(self) -> asyncio.Future[None]:
        """Resolved the next time an activity starts or an AgentTask is awaited or completes."""
        future = asyncio.get_running_loop().create_future()
        self._changed.append(future)
        return future

    def notify_change(self) -> None:
        for future in self._changed:
            if not future.done():
                future.set_result(None)
        self._changed.clear()

    def record(self, event: Event, handle: Any = None) -> None:
        self.current_run(handle).events.append(event)

    # -- livekit events --------------------------------------------------------------------

    def _on_speech_created(self, ev: SpeechCreatedEvent) -> None:
        handle = ev.speech_handle
        self._sources[handle.id] = ev.source
        self.current_run().handles.append(handle)
        # livekit hands each speech's items (messages, tool calls and outputs) to callbacks
        # like this one: it is how RunResult collects them too.
        accessors.on_item_added(handle, lambda item: self._on_item(item, handle))
        handle.add_done_callback(self._on_speech_done)

    def _on_conversation_item(self, ev: ConversationItemAddedEvent) -> None:
        # livekit's annotation of `item` also names a pydantic helper type; it is a chat item.
        item = cast("llm.ChatItem", ev.item)
        if item.id in self._emitted:
            self.problems.append(
                f"livekit announced {self.describe(item)} twice (conversation_item_added); "
                "snaprun recorded it once"
            )
        self._emitted.add(item.id)
        self._on_item(item, accessors.speech_in_context())

    def _on_item(self, item: llm.ChatItem, handle: SpeechHandle | None) -> None:
        if handle is not None:
            self._handles_with_items.add(handle.id)
        if item.id in self._seen or item.type == "agent_handoff":
            return  # handoffs are recorded where the next activity starts, on every version
        self._seen.add(item.id)
        labels = self.capture.labels
        if item.type == "message":
            self.record(
                Message(
                    role=item.role,
                    text=without_addresses(text_of(item.content)),
                    source=None if item.role == "user" else self._source_of(handle),
                    interrupted=bool(getattr(item, "interrupted", False)),
                ),
                handle,
            )
        elif item.type == "function_call":
            self.record(
                FunctionCall(item.name, labels(item.call_id), parse_arguments(item.arguments)),
                handle,
            )
        elif item.type == "function_call_output":
            # Parallel tools finish in whatever order they finish; outputs are written in call
            # order when livekit reports the batch, so the golden does not depend on timing.
            self._pending_outputs[item.call_id] = item

    def source_of(self, handle: SpeechHandle) -> str:
        return self._sources.get(handle.id, "unknown")

    def llm_errors(self) -> list[str]:
        """One line per failed LLM request, for a test that does not say it expects one."""
        return [
            f"an LLM request failed in {run_label(number, run.freeze().to_data())}: "
            f"{describe_event(event_to_data(event))}; if the test expects this, mark it "
            "@pytest.mark.snaprun_expect_llm_error"
            for number, run in enumerate(self.runs, start=1)
            for event in run.events
            if isinstance(event, LlmError)
        ]

    def _source_of(self, handle: SpeechHandle | None) -> str | None:
        if handle is None:
            return None
        if handle.id in self._after_tools:
            return "tool_reply"
        return self._sources.get(handle.id)

    def _on_tools_executed(self, ev: FunctionToolsExecutedEvent) -> None:
        outputs = [out for out in ev.function_call_outputs if out is not None]
        order = [out.call_id for out in outputs] + list(self._pending_outputs)
        for call_id in dict.fromkeys(order):
            item = self._pending_outputs.pop(call_id, None)
            if item is not None:
                self._record_output(item)
        handle = accessors.speech_in_context()
        if handle is not None:
            self._after_tools.add(handle.id)

    def _record_output(self, item: llm.FunctionCallOutput) -> None:
        self.record(
            FunctionCallOutput(
                name=item.name,
                call=self.capture.labels(item.call_id),
                output=without_addresses(item.output),
                is_error=item.is_error,
            )
        )

    def _on_speech_done(self, handle: SpeechHandle) -> None:
        for call_id in list(self._pending_outputs):
            self._record_output(self._pending_outputs.pop(call_id))
        if handle.id in self._handles_with_items:
            return
        failed = getattr(handle, "exception", lambda: None)() is not None
        outcome: SpeechOutcome = (
            "interrupted" if handle.interrupted else "failed" if failed else "no_message"
        )
        event = SpeechWithoutMessage(
            source=self._sources.get(handle.id, "unknown"), outcome=outcome
        )
        (self.run_of_handle(handle) or self.current_run()).events.append(event)

    def _on_close(self, _ev: CloseEvent) -> None:
        self.snapshot_chat_ctx()

    def _on_error(self, ev: Any) -> None:
        error = getattr(ev, "error", None)
        if error is None or getattr(error, "type", None) != "llm_error":
            return
        exception = error.error
        status = getattr(exception, "status_code", None)
        responded = isinstance(status, int) and status > 0
        kind = f"HTTP {status}" if responded else type(exception).__name__
        message = without_addresses(str(getattr(exception, "message", None) or exception))
        self.record(LlmError(agent=self.agent, error=kind, message=message))

    def on_enter_done(self, name: str, task: asyncio.Task[Any]) -> None:
        # livekit logs an exception raised in on_enter and carries on: the test would pass.
        if not task.cancelled() and (error := task.exception()) is not None:
            self.problems.append(f"{name} raised {error_text(error)}")

    # -- wrapped methods -------------------------------------------------------------------

    def on_activity_start(self, agent: Agent) -> None:
        self.record(AgentHandoff(from_agent=self.agent, to_agent=agent_name(agent) or ""))
        self.agent = agent_name(agent)

    def snapshot_chat_ctx(self) -> None:
        agent = accessors.current_agent(self.session)
        if agent is not None:
            visible = tool_steps_in_order(visible_items(agent.chat_ctx))
            items = tuple(self.chat_item(item) for item in visible)
            self.chat_ctx = ChatCtxSnapshot(agent=agent_name(agent) or "", items=items)

    def chat_item(self, item: llm.ChatItem) -> ChatItem:
        labels = self.capture.labels
        if item.type == "message":
            return ChatItem.message(item.role, without_addresses(text_of(item.content)))
        fields: tuple[tuple[str, Any], ...]
        if item.type == "function_call":
            fields = (
                ("name", item.name),
                ("call", labels(item.call_id)),
                ("arguments", parse_arguments(item.arguments)),
            )
            return ChatItem("function_call", fields)
        if item.type == "function_call_output":
            fields = (
                ("name", item.name),
                ("call", labels(item.call_id)),
                ("output", without_addresses(item.output)),
                ("is_error", item.is_error),
            )
            return ChatItem("function_call_output", fields)
        if item.type == "agent_handoff":
            return ChatItem(
                "agent_handoff", (("from", item.old_agent_id), ("to", item.new_agent_id))
            )
        return ChatItem(item.type, ())

    def describe(self, item: llm.ChatItem) -> str:
        return describe_event(self.chat_item(item).to_data_as_event())

    def missing_from_timeline(self) -> list[str]:
        """History items (messages, tool calls and outputs) that no recorded event stands for."""
        kinds = ("message", "function_call", "function_call_output")
        return [
            f"{self.describe(item)} is in the session history but snaprun recorded no event for it"
            for item in self.session.history.items
            if item.type in kinds and item.id not in self._seen
        ]

    def run_result_problems(self) -> list[str]:
        compared = []
        for number, run in enumerate(self.runs, start=1):
            frozen = run.freeze().to_data()
            returned = None
            if run.result is not None and hasattr(run.result, "events"):
                returned = [e for e in map(self.run_result_event, run.result.events) if e]
            compared.append(RunPair(run_label(number, frozen), frozen["events"], returned))
        return compare_runs(compared)

    def run_result_event(self, event: RunEvent) -> dict[str, Any] | None:
        item = event.item
        if isinstance(event, AgentHandoffEvent):
            fields = {"from": agent_name(event.old_agent), "to": agent_name(event.new_agent)}
            return {"agent_handoff": fields}
        if item.type in ("message", "function_call", "function_call_output"):
            return self.chat_item(item).to_data_as_event()
        return None

    def freeze(self) -> SessionTimeline:
        for call_id in list(self._pending_outputs):
            self._record_output(self._pending_outputs.pop(call_id))
        if self.chat_ctx is None:
            self.snapshot_chat_ctx()
        return SessionTimeline(
            runs=tuple(run.freeze() for run in self.runs), chat_ctx=self.chat_ctx
        )


def visible_items(chat_ctx: llm.ChatContext) -> list[Any]:
    return [item for item in chat_ctx.items if item.type not in _HIDDEN_ITEM_TYPES]
