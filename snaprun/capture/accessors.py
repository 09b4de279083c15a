"""Every private livekit-agents attribute snaprun reads, in one table, checked when it is used.

livekit has no public way to wait for an agent's on_enter, to find an agent's session or to
see which speech an item belongs to, so snaprun reads these internals. Read with
`getattr(x, name, None)`, a rename upstream would make each read return None: settle would stop
waiting and events would land in the wrong run, silently. Read here instead, a missing one fails
the test naming the attribute and the installed livekit-agents version:

- `check_classes` runs when a capture is installed, for what the classes (or modules) hold;
- `check_instance` runs on each session, agent and activity when snaprun first meets it in the
  test's own task, for what livekit only sets in `__init__`;
- the accessor functions below read one internal each, and fail the same way.

The same table holds on livekit-agents 1.3.12 and 1.8.9.
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from livekit.agents import Agent, AgentSession, __version__
from livekit.agents.voice import agent_activity
from livekit.agents.voice.agent_activity import AgentActivity
from livekit.agents.voice.run_result import ChatMessageAssert, RunAssert
from livekit.agents.voice.speech_handle import SpeechHandle

if TYPE_CHECKING:
    from collections.abc import Callable

    from livekit.agents import llm


class LivekitInternalsChanged(AssertionError):
    """livekit-agents no longer has an internal snaprun relies on."""


@dataclass(frozen=True)
class Internal:
    """One private livekit attribute: where it lives, and what snaprun needs it for."""

    owner: type | ModuleType
    name: str
    needed_for: str
    # Set by `owner.__init__`, so only an instance can be asked for it.
    per_instance: bool = False

    @property
    def qualified(self) -> str:
        return f"{self.owner.__name__}.{self.name}"


ACTIVITY: Final = Internal(AgentSession, "_activity", "find the agent's activity", True)
CURRENT_AGENT: Final = Internal(AgentSession, "_agent", "read the final chat context", True)
HANDOFF_TASK: Final = Internal(
    AgentSession, "_update_activity_atask", "wait for a handoff to finish", True
)
ON_ENTER_TASK: Final = Internal(
    AgentActivity, "_on_enter_task", "wait for the agent's on_enter to finish", True
)
ACTIVITY_SESSION: Final = Internal(AgentActivity, "_session", "find an activity's session", True)
AGENT_ACTIVITY: Final = Internal(Agent, "_activity", "find the session of an agent", True)
ITEM_CALLBACK: Final = Internal(
    SpeechHandle, "_add_item_added_callback", "collect the items of each speech"
)
SPEECH_OF_CONTEXT: Final = Internal(
    agent_activity, "_SpeechHandleContextVar", "tell which speech added an item"
)
ACTIVITY_OF_CONTEXT: Final = Internal(
    agent_activity, "_AgentActivityContextVar", "find the session an AgentTask is awaited in"
)
JUDGED_ASSERT: Final = Internal(
    ChatMessageAssert, "_parent", "file a judge call under the run it judged", True
)
ASSERTED_EVENTS: Final = Internal(
    RunAssert, "_events_list", "file a judge call under the run it judged", True
)

INTERNALS: Final = (
    ACTIVITY,
    CURRENT_AGENT,
    HANDOFF_TASK,
    ON_ENTER_TASK,
    ACTIVITY_SESSION,
    AGENT_ACTIVITY,
    ITEM_CALLBACK,
    SPEECH_OF_CONTEXT,
    ACTIVITY_OF_CONTEXT,
    JUDGED_ASSERT,
    ASSERTED_EVENTS,
)

_MISSING: Final = object()


def missing(internal: Internal) -> LivekitInternalsChanged:
    return LivekitInternalsChanged(
        f"snaprun: livekit-agents {__version__} has no {internal.qualified}, which snaprun "
        f"reads to {internal.needed_for}; without it the capture would be silently incomplete. "
        f"This livekit-agents release changed its internals: install the release your project "
        f"used before (pip install 'livekit-agents<{__version__}') or a snaprun that supports "
        f"{__version__}."
    )


def check_classes() -> None:
    """Fail if a class-level internal (a method, a module's context variable) is gone."""
    for internal in INTERNALS:
        if not internal.per_instance and not hasattr(internal.owner, internal.name):
            raise missing(internal)


def check_instance(obj: object) -> None:
    """Fail if `obj` lacks an internal its livekit class should have set in `__init__`."""
    for internal in INTERNALS:
        owner = internal.owner
        if internal.per_instance and isinstance(owner, type) and isinstance(obj, owner):
            read(obj, internal)


def read(obj: object, internal: Internal) -> Any:
    """`obj`'s value of `internal`; LivekitInternalsChanged when livekit no longer sets it."""
    value = getattr(obj, internal.name, _MISSING)
    if value is _MISSING:
        raise missing(internal)
    return value


# -- one accessor per read, so a call site says what it reads, not how ---------------------


def activity_of(session: AgentSession[Any]) -> AgentActivity | None:
    activity: AgentActivity | None = read(session, ACTIVITY)
    return activity


def current_agent(session: AgentSession[Any]) -> Agent | None:
    agent: Agent | None = read(session, CURRENT_AGENT)
    return agent


def handoff_task(session: AgentSession[Any]) -> asyncio.Task[None] | None:
    task: asyncio.Task[None] | None = read(session, HANDOFF_TASK)
    return task


def on_enter_task(activity: AgentActivity | None) -> asyncio.Task[Any] | None:
    """The activity's on_enter task; None when there is no activity (before start, closed)."""
    if activity is None:
        return None
    task: asyncio.Task[Any] | None = read(activity, ON_ENTER_TASK)
    return task


def session_of_activity(activity: AgentActivity) -> AgentSession[Any]:
    session: AgentSession[Any] = read(activity, ACTIVITY_SESSION)
    return session


def activity_of_agent(agent: Agent) -> AgentActivity | None:
    activity: AgentActivity | None = read(agent, AGENT_ACTIVITY)
    return activity


def on_item_added(handle: SpeechHandle, callback: Callable[[llm.ChatItem], Any]) -> None:
    """Have livekit call `callback` with each chat item the speech adds (as RunResult does)."""
    add: Callable[[Callable[[llm.ChatItem], Any]], None] = read(handle, ITEM_CALLBACK)
    add(callback)


def speech_in_context() -> SpeechHandle | None:
    """The speech whose task is running now, if any."""
    var: contextvars.ContextVar[SpeechHandle] = read(agent_activity, SPEECH_OF_CONTEXT)
    return var.get(None)


def activity_in_context() -> AgentActivity | None:
    """The activity whose task is running now (where an AgentTask is being awaited), if any."""
    var: contextvars.ContextVar[AgentActivity] = read(agent_activity, ACTIVITY_OF_CONTEXT)
    return var.get(None)


def events_judged(judged: ChatMessageAssert) -> list[Any]:
    """The `RunResult.events` list (the same object) whose message a judge call judges."""
    events: list[Any] = read(read(judged, JUDGED_ASSERT), ASSERTED_EVENTS)
    return events
