"""Record what every AgentSession of a test does: the only module that knows livekit internals.

Attribution is causal, not by clock. The test body's calls to `AgentSession.start`, `.run`,
`.say` and `.generate_reply` each open a `RunRecorder` and set it in a context variable for the
duration of the call. asyncio copies the context into every task created inside the call, so
whatever livekit does on behalf of that call (on_enter, speech tasks, tool executions, the
handoff they trigger and the next agent's on_enter) sees the same run, however late it happens
and however fast or slow the LLM answers. Within a run, events are kept in emission order.

livekit-agents differences handled here:
- handoffs: 1.8 emits `AgentHandoff` items through `conversation_item_added`, 1.3 does not; both
  start or resume an `AgentActivity` right after the handoff, which is where it is recorded.
- `start(capture_run=True)`: 1.3 returns before on_enter finishes (and never returns when
  on_enter says nothing); snaprun's `start` waits, bounded, until on_enter's work has settled.
- 1.8 adds `agent_config_update` items to chat contexts; they are recorded as
  `instructions_updated` / `tools_updated` events instead, on every version.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from livekit.agents import Agent, AgentSession, llm
from livekit.agents.llm.tool_context import get_fnc_tool_names
from livekit.agents.voice import agent_activity
from livekit.agents.voice.agent_activity import AgentActivity

from .crosscheck import compare_run
from .describe import describe_event, run_label
from .normalize import (
    CallLabels,
    parse_arguments,
    text_of,
    tool_steps_in_order,
    without_addresses,
)
from .timeline import (
    AgentHandoff,
    ChatCtxSnapshot,
    ChatCtxUpdated,
    ChatItem,
    Event,
    FunctionCall,
    FunctionCallOutput,
    InstructionsUpdated,
    Message,
    Run,
    RunKind,
    SessionTimeline,
    SpeechWithoutMessage,
    Timeline,
    ToolsUpdated,
)

_current_run: contextvars.ContextVar[RunRecorder | None] = contextvars.ContextVar(
    "snaprun_current_run", default=None
)
_HIDDEN_ITEM_TYPES = frozenset({"agent_config_update"})


class CaptureTimeout(AssertionError):
    """livekit did not finish what the test started within the settle timeout."""


class CaptureProblem(AssertionError):
    """The capture itself is incomplete, or livekit's RunResult disagrees with it."""


def agent_name(agent: Any) -> str | None:
    return None if agent is None else type(agent).__name__


class RunRecorder:
    """The events of one run, in emission order, plus what livekit itself returned for it."""

    def __init__(self, session: SessionRecorder, kind: RunKind, input: str | None = None) -> None:
        self.session = session
        self.kind = kind
        self.input = input
        self.events: list[Event] = []
        self.handles: list[Any] = []
        self.result: Any = None  # livekit's RunResult, when it returned one

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
        session.on("speech_created", self._on_speech_created)
        session.on("conversation_item_added", self._on_conversation_item)
        session.on("function_tools_executed", self._on_tools_executed)
        session.on("close", self._on_close)

    # -- runs ------------------------------------------------------------------------------

    def open_run(self, kind: RunKind, input: str | None = None) -> RunRecorder:
        run = RunRecorder(self, kind, input)
        self.runs.append(run)
        return run

    def current_run(self) -> RunRecorder:
        run = _current_run.get()
        if run is not None and run.session is self:
            return run
        # Work no test call caused (livekit's own background tasks) gets a run of its own.
        if not self.runs or self.runs[-1].kind != "background":
            self.open_run("background")
        return self.runs[-1]

    def record(self, event: Event) -> None:
        self.current_run().events.append(event)

    # -- livekit events --------------------------------------------------------------------

    def _on_speech_created(self, ev: Any) -> None:
        handle = ev.speech_handle
        self._sources[handle.id] = ev.source
        self.current_run().handles.append(handle)
        # livekit hands each speech's items (messages, tool calls and outputs) to callbacks
        # like this one: it is how RunResult collects them too.
        handle._add_item_added_callback(lambda item: self._on_item(item, handle))
        handle.add_done_callback(self._on_speech_done)

    def _on_conversation_item(self, ev: Any) -> None:
        item = ev.item
        if item.id in self._emitted:
            self.problems.append(
                f"livekit announced {self.describe(item)} twice (conversation_item_added); "
                "snaprun recorded it once"
            )
        self._emitted.add(item.id)
        self._on_item(item, agent_activity._SpeechHandleContextVar.get(None))

    def _on_item(self, item: Any, handle: Any) -> None:
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
                )
            )
        elif item.type == "function_call":
            self.record(
                FunctionCall(item.name, labels(item.call_id), parse_arguments(item.arguments))
            )
        elif item.type == "function_call_output":
            # Parallel tools finish in whatever order they finish; outputs are written in call
            # order when livekit reports the batch, so the golden does not depend on timing.
            self._pending_outputs[item.call_id] = item

    def _source_of(self, handle: Any) -> str | None:
        if handle is None:
            return None
        if handle.id in self._after_tools:
            return "tool_reply"
        return self._sources.get(handle.id)

    def _on_tools_executed(self, ev: Any) -> None:
        outputs = [out for out in ev.function_call_outputs if out is not None]
        order = [out.call_id for out in outputs] + list(self._pending_outputs)
        for call_id in dict.fromkeys(order):
            item = self._pending_outputs.pop(call_id, None)
            if item is not None:
                self._record_output(item)
        handle = agent_activity._SpeechHandleContextVar.get(None)
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

    def _on_speech_done(self, handle: Any) -> None:
        for call_id in list(self._pending_outputs):
            self._record_output(self._pending_outputs.pop(call_id))
        if handle.id in self._handles_with_items:
            return
        failed = getattr(handle, "exception", lambda: None)() is not None
        outcome = "interrupted" if handle.interrupted else "failed" if failed else "no_message"
        event = SpeechWithoutMessage(
            source=self._sources.get(handle.id, "unknown"), outcome=outcome
        )
        run = next((run for run in self.runs if handle in run.handles), None)
        (run or self.current_run()).events.append(event)

    def _on_close(self, _ev: Any) -> None:
        self.snapshot_chat_ctx()

    # -- wrapped methods -------------------------------------------------------------------

    def on_activity_start(self, agent: Agent) -> None:
        self.record(AgentHandoff(from_agent=self.agent, to_agent=agent_name(agent) or ""))
        self.agent = agent_name(agent)

    def snapshot_chat_ctx(self) -> None:
        agent = self.session._agent
        if agent is not None:
            visible = tool_steps_in_order(visible_items(agent.chat_ctx))
            items = tuple(self.chat_item(item) for item in visible)
            self.chat_ctx = ChatCtxSnapshot(agent=agent_name(agent) or "", items=items)

    def chat_item(self, item: Any) -> ChatItem:
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

    def describe(self, item: Any) -> str:
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
        problems = []
        for number, run in enumerate(self.runs, start=1):
            if run.result is None or not hasattr(run.result, "events"):
                continue
            frozen = run.freeze().to_data()
            returned = [e for e in map(self.run_result_event, run.result.events) if e]
            problems += compare_run(run_label(number, frozen), frozen["events"], returned)
        return problems

    def run_result_event(self, event: Any) -> dict[str, Any] | None:
        item = event.item
        if item.type == "agent_handoff":
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


def _item_key(item: Any) -> tuple[str, str]:
    return item.id, repr(getattr(item, "content", None))


class Capture:
    """The `transcript` of one test: every session it starts, until `uninstall`."""

    def __init__(
        self,
        settle_timeout: float = 30.0,
        run_result_check: str = "fail",
        refused_requests: Callable[[], list[str]] = list,
    ) -> None:
        self.settle_timeout = settle_timeout
        self.run_result_check = run_result_check
        # Requests the cassette could not answer: the likeliest cause of any other difference,
        # so they are reported first and instead of a golden diff.
        self.refused_requests = refused_requests
        self.explained_refusals = False
        self._checked: tuple[int, ...] | None = None
        self.labels = CallLabels()
        self.sessions: list[SessionRecorder] = []

    def recorder(self, session: AgentSession[Any]) -> SessionRecorder:
        for recorder in self.sessions:
            if recorder.session is session:
                return recorder
        recorder = SessionRecorder(self, session)
        self.sessions.append(recorder)
        return recorder

    def recorder_of_agent(self, agent: Agent) -> SessionRecorder | None:
        activity = getattr(agent, "_activity", None)
        session = getattr(activity, "_session", None)
        return None if session is None else self.recorder(session)

    def __eq__(self, other: object) -> bool:
        # `assert transcript == golden` comes here first: fail with the capture's own problems
        # as a plain assertion, then let syrupy's `golden.__eq__` do the comparison.
        self.check()
        return NotImplemented

    __hash__ = object.__hash__

    def timeline(self) -> Timeline:
        """The frozen timeline; raises `CaptureProblem` rather than return an incomplete one."""
        if self._checked != self._extent():  # `__eq__` has just checked this very capture
            self.check()
        return Timeline(sessions=tuple(recorder.freeze() for recorder in self.sessions))

    def check(self) -> None:
        refused = self.refused_requests()
        if refused:
            self.explained_refusals = True
            raise CaptureProblem("\n\n".join(refused))
        problems = [p for r in self.sessions for p in r.problems + r.missing_from_timeline()]
        mismatches = []
        if self.run_result_check != "off":
            mismatches = [p for r in self.sessions for p in r.run_result_problems()]
        if self.run_result_check == "warn":
            for mismatch in mismatches:
                warnings.warn(f"snaprun: {mismatch}", stacklevel=2)
            mismatches = []
        if problems or mismatches:
            hint = (
                [
                    "(snaprun_runresult_check = warn in your pytest ini turns RunResult mismatches "
                    "into warnings)"
                ]
                if mismatches
                else []
            )
            raise CaptureProblem(
                "snaprun: this test's capture cannot be compared with its golden:\n"
                + "\n".join(f"  {line}" for line in [*problems, *mismatches, *hint])
            )
        self._checked = self._extent()

    def _extent(self) -> tuple[int, ...]:
        """How much has been recorded: a check stays valid until this changes."""
        return tuple(len(run.events) for recorder in self.sessions for run in recorder.runs)

    @contextmanager
    def installed(self) -> Iterator[Capture]:
        """Wrap livekit's entry points for the duration of the test; always restored."""
        patches = _patches(self)
        originals = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
        for owner, name, wrapper in patches:
            setattr(owner, name, wrapper)
        try:
            yield self
        finally:
            for owner, name, original in originals:
                setattr(owner, name, original)

    async def settle(self, recorder: SessionRecorder, run: RunRecorder) -> None:
        """Wait until the agent's on_enter and every speech of `run` are done."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_timeout
        while True:
            pending = [h for h in run.handles if not h.done()]
            activity = recorder.session._activity
            on_enter = getattr(activity, "_on_enter_task", None)
            if on_enter is not None and not on_enter.done():
                pending.append(on_enter)
            update = getattr(recorder.session, "_update_activity_atask", None)
            if update is not None and not update.done():
                pending.append(update)
            if not pending:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise CaptureTimeout(
                    f"snaprun: the agent's on_enter or its speech did not finish within "
                    f"{self.settle_timeout:g} s of session.start(); raise `snaprun_settle_timeout` "
                    "in your pytest ini if the agent really needs longer."
                )
            await asyncio.wait([asyncio.ensure_future(p) for p in pending], timeout=remaining)


def _patches(capture: Capture) -> list[tuple[type, str, Any]]:
    """(class, attribute, wrapper) for every livekit entry point snaprun observes."""
    session_start = AgentSession.start
    session_run = AgentSession.run
    session_say = AgentSession.say
    session_reply = AgentSession.generate_reply
    activity_start = AgentActivity.start
    activity_resume = AgentActivity.resume
    update_chat_ctx = Agent.update_chat_ctx
    update_instructions = Agent.update_instructions
    update_tools = Agent.update_tools

    async def start(self: AgentSession[Any], agent: Agent, *args: Any, **kwargs: Any) -> Any:
        recorder = capture.recorder(self)
        run = recorder.open_run("start")
        token = _current_run.set(run)
        try:
            try:
                result = await _bounded(session_start(self, agent, *args, **kwargs), capture)
            except asyncio.TimeoutError:
                raise CaptureTimeout(_start_timeout_message(capture, kwargs)) from None
        finally:
            _current_run.reset(token)
        run.result = result
        await capture.settle(recorder, run)
        return result

    def run(self: AgentSession[Any], *, user_input: str, **kwargs: Any) -> Any:
        run = capture.recorder(self).open_run("run", input=user_input)
        token = _current_run.set(run)
        try:
            run.result = session_run(self, user_input=user_input, **kwargs)
        finally:
            _current_run.reset(token)
        return run.result

    def speech(original: Callable[..., Any], kind: RunKind) -> Callable[..., Any]:
        @functools.wraps(original)
        def wrapper(self: AgentSession[Any], *args: Any, **kwargs: Any) -> Any:
            if _current_run.get() is not None:
                return original(self, *args, **kwargs)  # part of the run that called it
            user_input = kwargs.get("user_input")
            run = capture.recorder(self).open_run(
                kind, input=user_input if isinstance(user_input, str) else None
            )
            token = _current_run.set(run)
            try:
                return original(self, *args, **kwargs)
            finally:
                _current_run.reset(token)

        return wrapper

    def activity(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        async def wrapper(self: AgentActivity, *args: Any, **kwargs: Any) -> Any:
            capture.recorder(self._session).on_activity_start(self.agent)
            return await original(self, *args, **kwargs)

        return wrapper

    async def chat_ctx_wrapper(self: Agent, chat_ctx: llm.ChatContext, *a: Any, **kw: Any) -> None:
        recorder = capture.recorder_of_agent(self)
        before = {_item_key(item): item for item in visible_items(self.chat_ctx)}
        await update_chat_ctx(self, chat_ctx, *a, **kw)
        after = {_item_key(item): item for item in visible_items(self.chat_ctx)}
        added = (
            tuple(recorder.chat_item(i) for k, i in after.items() if k not in before)
            if recorder
            else ()
        )
        removed = (
            tuple(recorder.chat_item(i) for k, i in before.items() if k not in after)
            if recorder
            else ()
        )
        if recorder is not None and (added or removed):
            recorder.record(ChatCtxUpdated(agent_name(self) or "", added=added, removed=removed))

    async def instructions_wrapper(self: Agent, instructions: str, *a: Any, **kw: Any) -> None:
        await update_instructions(self, instructions, *a, **kw)
        if (recorder := capture.recorder_of_agent(self)) is not None:
            recorder.record(InstructionsUpdated(agent_name(self) or "", instructions))

    async def tools_wrapper(self: Agent, tools: list[Any], *a: Any, **kw: Any) -> None:
        before = set(get_fnc_tool_names(self.tools))
        await update_tools(self, tools, *a, **kw)
        after = set(get_fnc_tool_names(self.tools))
        if (recorder := capture.recorder_of_agent(self)) is not None and before != after:
            recorder.record(
                ToolsUpdated(
                    agent_name(self) or "",
                    added=tuple(sorted(after - before)),
                    removed=tuple(sorted(before - after)),
                )
            )

    return [
        (AgentSession, "start", functools.wraps(session_start)(start)),
        (AgentSession, "run", functools.wraps(session_run)(run)),
        (AgentSession, "say", speech(session_say, "say")),
        (AgentSession, "generate_reply", speech(session_reply, "generate_reply")),
        (AgentActivity, "start", activity(activity_start)),
        (AgentActivity, "resume", activity(activity_resume)),
        (Agent, "update_chat_ctx", functools.wraps(update_chat_ctx)(chat_ctx_wrapper)),
        (Agent, "update_instructions", functools.wraps(update_instructions)(instructions_wrapper)),
        (Agent, "update_tools", functools.wraps(update_tools)(tools_wrapper)),
    ]


async def _bounded(awaitable: Awaitable[Any], capture: Capture) -> Any:
    if sys.version_info >= (3, 11):
        # Unlike wait_for, this keeps livekit's start() in the test's own task and context.
        async with asyncio.timeout(capture.settle_timeout):
            return await awaitable
    return await asyncio.wait_for(awaitable, capture.settle_timeout)


def _start_timeout_message(capture: Capture, kwargs: dict[str, Any]) -> str:
    message = f"snaprun: session.start() did not return within {capture.settle_timeout:g} s."
    if kwargs.get("capture_run"):
        message += (
            " livekit-agents before 1.7.0 never completes start(capture_run=True) when the "
            "agent's on_enter produces no speech (livekit/agents#6872). Upgrade livekit-agents, "
            "or call session.start(agent) without capture_run: snaprun records the start run "
            "either way."
        )
    return message
