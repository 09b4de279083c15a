"""The livekit entry points snaprun wraps while a test runs, and what each wrapper records.

`_patches` is the whole table: the session calls a test makes (`start`, `run`, `say`,
`generate_reply`) open a run and set it as the `_current_run` for everything livekit does on
their behalf; an `AgentActivity` starting or resuming records the handoff; the agent's
`update_chat_ctx`, `update_instructions` and `update_tools` record what changed. Keeping the
table in one module shows at a glance every livekit method snaprun replaces; `Capture.installed`
applies it and always restores the originals.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from livekit.agents import Agent, AgentSession, llm
from livekit.agents.llm.tool_context import get_fnc_tool_names
from livekit.agents.voice.agent_activity import AgentActivity

from snaprun.capture import accessors
from snaprun.capture.recorder import _current_run, agent_name, visible_items
from snaprun.timeline import ChatCtxUpdated, InstructionsUpdated, RunKind, ToolsUpdated

if TYPE_CHECKING:
    from snaprun.capture import Capture


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
        accessors.check_instance(self)  # here, in the test's task, a missing one fails the test
        accessors.check_instance(agent)
        recorder = capture.recorder(self)
        run = recorder.open_run("start")
        token = _current_run.set(run)
        try:
            result = await capture.bounded_start(
                session_start(self, agent, *args, **kwargs), kwargs
            )
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
            accessors.check_instance(self)
            capture.recorder(accessors.session_of_activity(self)).on_activity_start(self.agent)
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


def _item_key(item: Any) -> tuple[str, str]:
    return item.id, repr(getattr(item, "content", None))
