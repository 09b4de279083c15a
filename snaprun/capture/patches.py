"""The livekit entry points snaprun wraps while a test runs, and what each wrapper records.

`_patches` is the whole table: the session calls a test makes (`start`, `run`, `say`,
`generate_reply`) open a run and set it as the `_current_run` for everything livekit does on
their behalf; an `AgentActivity` starting or resuming records the handoff; the agent's
`update_chat_ctx`, `update_instructions` and `update_tools` record what changed. Keeping the
table in one module shows at a glance every livekit method snaprun replaces; `Capture.installed`
applies it and always restores the originals.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from livekit.agents import Agent, AgentSession, AgentTask, llm
from livekit.agents.llm import utils as llm_utils
from livekit.agents.llm.tool_context import get_fnc_tool_names
from livekit.agents.voice.agent_activity import AgentActivity
from livekit.agents.voice.run_result import ChatMessageAssert

from snaprun.capture import accessors
from snaprun.capture.normalize import as_data, error_text, parse_arguments
from snaprun.capture.recorder import _current_run, active_run, agent_name, visible_items
from snaprun.capture.tasks import FollowedRun, TaskAwait
from snaprun.timeline import (
    ChatCtxUpdated,
    InstructionsUpdated,
    Judgement,
    RunKind,
    TaskCompleted,
    TaskStarted,
    ToolsUpdated,
    Verdict,
)

if TYPE_CHECKING:
    from snaprun.capture import Capture


def _patches(capture: Capture) -> list[tuple[Any, str, Any]]:
    """(class or module, attribute, wrapper) for every livekit entry point snaprun observes."""
    session_start = AgentSession.start
    session_run = AgentSession.run
    session_say = AgentSession.say
    session_reply = AgentSession.generate_reply
    session_close = AgentSession.aclose
    activity_start = AgentActivity.start
    activity_resume = AgentActivity.resume
    update_chat_ctx = Agent.update_chat_ctx
    update_instructions = Agent.update_instructions
    update_tools = Agent.update_tools
    task_await = AgentTask.__await__
    task_complete = AgentTask.complete
    judge = ChatMessageAssert.judge
    prepare_arguments = llm_utils.prepare_function_arguments

    async def start(self: AgentSession[Any], agent: Agent, *args: Any, **kwargs: Any) -> Any:
        accessors.check_instance(self)  # here, in the test's task, a missing one fails the test
        accessors.check_instance(agent)
        recorder = capture.recorder(self)
        run = recorder.open_run("start")
        token = _current_run.set(run)
        capture.note_test_task()
        try:
            result = await capture.bounded_start(
                session_start(self, agent, *args, **kwargs), kwargs
            )
        finally:
            _current_run.reset(token)
        run.result = result
        await capture.settle(recorder, run, "session.start()")
        return result

    async def close(self: AgentSession[Any]) -> None:
        # What the last run set going after livekit's RunResult was done (an AgentTask's caller
        # going on) would be cut off by the close: let it finish first, as after start.
        recorder = capture.recorder(self)
        if recorder.runs and _current_run.get() is None:
            await capture.settle(recorder, recorder.runs[-1], "session.aclose()")
        await session_close(self)

    def run(self: AgentSession[Any], *, user_input: str, **kwargs: Any) -> Any:
        capture.note_test_task()
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
            accessors.check_instance(self)
            recorder = capture.recorder(accessors.session_of_activity(self))
            recorder.on_activity_start(self.agent)
            try:
                return await original(self, *args, **kwargs)
            finally:
                recorder.started_agents.add(id(self.agent))
                on_enter = accessors.on_enter_task(self)
                if on_enter is not None:
                    name = f"{agent_name(self.agent)}.on_enter"
                    on_enter.add_done_callback(functools.partial(recorder.on_enter_done, name))
                recorder.notify_change()  # settle follows the new activity's on_enter

        return wrapper

    def await_wrapper(self: AgentTask[Any]) -> Generator[Any, None, Any]:
        # A generator, so that this runs in the awaiting asyncio task, in its context: the
        # FollowedRun set here is what the caller's code sees after the task completes.
        activity = accessors.activity_in_context()
        if activity is None:  # livekit refuses the await itself
            return (yield from task_await(self))
        recorder = capture.recorder(accessors.session_of_activity(activity))
        recorder.record(TaskStarted(agent_name(self) or ""))
        followed = FollowedRun(active_run() or recorder.current_run())
        _current_run.set(followed)  # not reset: the caller goes on in the run the task ends in
        handle = accessors.speech_in_context()
        waiter = asyncio.current_task()
        capture.awaits.add(TaskAwait(self, waiter, handle, followed, recorder))
        recorder.notify_change()
        return (yield from task_await(self))

    def complete_wrapper(self: AgentTask[Any], result: Any) -> None:
        task_complete(self, result)
        entry = capture.awaits.of(self)
        if entry is None:
            return
        recorder = entry.recorder
        name = agent_name(self) or ""
        if isinstance(result, BaseException):
            recorder.record(TaskCompleted(name, error=error_text(result)))
        else:
            recorder.record(TaskCompleted(name, result=as_data(result)))
        capture.awaits.completed_in(self, recorder.current_run())
        recorder.notify_change()

    async def judge_wrapper(self: ChatMessageAssert, llm_v: Any, *a: Any, **kw: Any) -> Any:
        verdicts: list[dict[str, Any]] = []
        token = _judging.set(verdicts)
        verdict: Verdict = "fail"
        try:
            judged = await judge(self, llm_v, *a, **kw)
            verdict = "pass"
            return judged
        finally:
            _judging.reset(token)
            reason = next((v.get("reason") for v in verdicts if "reason" in v), None)
            intent = str(kw.get("intent", a[0] if a else ""))
            capture.record_judgement(self, Judgement(intent, verdict, reason))

    def prepare_arguments_wrapper(*args: Any, **kwargs: Any) -> Any:
        prepared = prepare_arguments(*args, **kwargs)
        verdicts = _judging.get()
        arguments = kwargs.get("json_arguments")
        if verdicts is not None and isinstance(arguments, str):
            # livekit's judge parses the model's `check_intent(success, reason)` call here
            parsed = parse_arguments(arguments)
            verdicts.append(parsed if isinstance(parsed, dict) else {})
        return prepared

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
        (AgentSession, "aclose", functools.wraps(session_close)(close)),
        (AgentSession, "say", speech(session_say, "say")),
        (AgentSession, "generate_reply", speech(session_reply, "generate_reply")),
        (AgentActivity, "start", activity(activity_start)),
        (AgentActivity, "resume", activity(activity_resume)),
        (Agent, "update_chat_ctx", functools.wraps(update_chat_ctx)(chat_ctx_wrapper)),
        (Agent, "update_instructions", functools.wraps(update_instructions)(instructions_wrapper)),
        (Agent, "update_tools", functools.wraps(update_tools)(tools_wrapper)),
        (AgentTask, "__await__", functools.wraps(task_await)(await_wrapper)),
        (AgentTask, "complete", functools.wraps(task_complete)(complete_wrapper)),
        (ChatMessageAssert, "judge", functools.wraps(judge)(judge_wrapper)),
        (llm_utils, "prepare_function_arguments", prepare_arguments_wrapper),
    ]


_judging: contextvars.ContextVar[list[dict[str, Any]] | None] = contextvars.ContextVar(
    "snaprun_judging", default=None
)


def _item_key(item: Any) -> tuple[str, str]:
    return item.id, repr(getattr(item, "content", None))
