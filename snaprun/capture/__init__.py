"""Record what every AgentSession of a test does: the only package that knows livekit internals.

Attribution is causal, not by clock. The test body's calls to `AgentSession.start`, `.run`,
`.say` and `.generate_reply` each open a `RunRecorder` and set it in a context variable for the
duration of the call. asyncio copies the context into every task created inside the call, so
whatever livekit does on behalf of that call (on_enter, speech tasks, tool executions, the
handoff they trigger and the next agent's on_enter) sees the same run, however late it happens
and however fast or slow the LLM answers. Within a run, events are kept in emission order.
The one exception is an awaited `AgentTask` (see `tasks`): what its caller does after it
completes belongs to the run in which it completed, as in livekit's RunResult.

livekit-agents differences handled here:
- handoffs: 1.8 emits `AgentHandoff` items through `conversation_item_added`, 1.3 does not; both
  start or resume an `AgentActivity` right after the handoff, which is where it is recorded.
- `start(capture_run=True)`: 1.3 returns before on_enter finishes (and never returns when
  on_enter says nothing); snaprun's `start` waits, bounded, until on_enter's work has settled.
- 1.8 adds `agent_config_update` items to chat contexts; they are recorded as
  `instructions_updated` / `tools_updated` events instead, on every version.

`Capture` (here) is what a test holds and checks; `patches` wraps livekit's entry points while a
test runs; `recorder` files what each session emits under the run that caused it.
"""

from __future__ import annotations

import asyncio
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from livekit.agents import Agent, AgentSession
from livekit.agents.voice.run_result import ChatMessageAssert

from snaprun.capture import accessors
from snaprun.capture.crosscheck import RunResultCheck
from snaprun.capture.normalize import CallLabels
from snaprun.capture.patches import _patches
from snaprun.capture.recorder import RunRecorder, SessionRecorder, _current_run, agent_name
from snaprun.capture.tasks import TaskAwaits
from snaprun.timeline import Judgement, Timeline


class CaptureTimeout(AssertionError):
    """livekit did not finish what the test started within the settle timeout."""


class CaptureProblem(AssertionError):
    """The capture itself is incomplete, or livekit's RunResult disagrees with it."""


class Capture:
    """The `transcript` of one test: every session it starts while `installed()`."""

    def __init__(
        self,
        settle_timeout: float = 30.0,
        run_result_check: RunResultCheck = "fail",
        refused_requests: Callable[[], list[str]] = list,
        expect_llm_error: bool = False,
    ) -> None:
        self.settle_timeout = settle_timeout
        self.run_result_check = run_result_check
        # Requests the cassette could not answer: the likeliest cause of any other difference,
        # so a transcript with refusals is not compared at all. The cassette use reports them.
        self.refused_requests = refused_requests
        self._checked: tuple[int, ...] | None = None
        self.expect_llm_error = expect_llm_error
        self.labels = CallLabels()
        self.sessions: list[SessionRecorder] = []
        self.awaits = TaskAwaits()
        self._test_tasks: set[asyncio.Task[Any]] = set()

    def recorder(self, session: AgentSession[Any]) -> SessionRecorder:
        for recorder in self.sessions:
            if recorder.session is session:
                return recorder
        recorder = SessionRecorder(self, session)
        self.sessions.append(recorder)
        return recorder

    def recorder_of_agent(self, agent: Agent) -> SessionRecorder | None:
        activity = accessors.activity_of_agent(agent)
        return None if activity is None else self.recorder(accessors.session_of_activity(activity))

    def note_test_task(self) -> None:
        """start/run called outside any run: from the test body (or its fixtures' task)."""
        task = asyncio.current_task()
        if task is not None and _current_run.get() is None:
            self._test_tasks.add(task)

    def in_test_body(self) -> bool:
        """Whether the code running now is the test's own, between its calls."""
        return _has_running_loop() and asyncio.current_task() in self._test_tasks

    def record_judgement(self, judged: ChatMessageAssert, judgement: Judgement) -> None:
        """A judge call goes with the run whose RunResult holds the judged message."""
        events = accessors.events_judged(judged)
        for recorder in self.sessions:
            for run in recorder.runs:
                if run.result is not None and getattr(run.result, "events", None) is events:
                    run.events.append(judgement)
                    return
        if self.sessions and self.sessions[-1].runs:
            self.sessions[-1].runs[-1].events.append(judgement)

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
            raise CaptureProblem(
                f"snaprun: the cassette refused {len(refused)} request(s), so this transcript "
                "is incomplete and was not compared with its golden."
            )
        problems = [p for r in self.sessions for p in r.problems + r.missing_from_timeline()]
        if not self.expect_llm_error:
            problems += [p for r in self.sessions for p in r.llm_errors()]
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
        accessors.check_classes()
        patches = _patches(self)
        originals = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
        for owner, name, wrapper in patches:
            setattr(owner, name, wrapper)
        try:
            yield self
        finally:
            for owner, name, original in originals:
                setattr(owner, name, original)

    async def bounded_start(self, start: Awaitable[Any], kwargs: dict[str, Any]) -> Any:
        """livekit's `session.start()`, or `CaptureTimeout` if it does not return in time."""
        try:
            return await _bounded(start, self)
        except asyncio.TimeoutError:
            raise CaptureTimeout(_start_timeout_message(self, kwargs)) from None

    async def settle(self, recorder: SessionRecorder, run: RunRecorder, call: str) -> None:
        """Wait until on_enter's work and every speech of `run` are done or wait for the user.

        An on_enter that awaits an AgentTask hands over to the task's agent: from then on the
        work to wait for is that agent's on_enter, not the awaiting one, which waits for the
        user. So each time something finishes or an activity changes, look again.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_timeout
        while pending := self._unsettled(recorder, run):
            remaining = deadline - loop.time()
            if remaining <= 0:
                waiting = "; ".join(name for name, _ in pending)
                raise CaptureTimeout(
                    f"snaprun: {call} has not settled after {self.settle_timeout:g} s: "
                    f"still waiting for {waiting}. Raise `snaprun_settle_timeout` in your pytest "
                    "ini if the agent really needs longer."
                )
            changed = recorder.changed()
            futures = [asyncio.ensure_future(work) for _, work in pending]
            await asyncio.wait(
                [*futures, changed], timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            changed.cancel()

    def _unsettled(self, recorder: SessionRecorder, run: RunRecorder) -> list[tuple[str, Any]]:
        """What the start run still waits for, each with a name for the timeout message."""
        started = recorder.started_agents
        blocked = self.awaits.blocked(started)  # waiting for the user to finish an AgentTask
        pending: list[tuple[str, Any]] = [
            (f"a {recorder.source_of(h)} speech", h) for h in run.handles if not h.done()
        ]
        activity = accessors.activity_of(recorder.session)
        on_enter = accessors.on_enter_task(activity)
        if activity is not None and on_enter is not None and not on_enter.done():
            pending.append((f"{agent_name(activity.agent)}.on_enter", on_enter))
        pending += self.awaits.on_enter_tasks()
        update = accessors.handoff_task(recorder.session)
        if update is not None and not update.done():
            pending.append(("the handoff to the next agent", update))
        pending += self.awaits.pending(started)
        unique = {id(work): (name, work) for name, work in pending if id(work) not in blocked}
        return list(unique.values())


def _has_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


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
