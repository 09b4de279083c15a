"""Record what every AgentSession of a test does: the only package that knows livekit internals.

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
from livekit.agents.voice.speech_handle import SpeechHandle

from snaprun.capture import accessors
from snaprun.capture.crosscheck import RunResultCheck
from snaprun.capture.normalize import CallLabels
from snaprun.capture.patches import _patches
from snaprun.capture.recorder import RunRecorder, SessionRecorder
from snaprun.timeline import Timeline


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
    ) -> None:
        self.settle_timeout = settle_timeout
        self.run_result_check = run_result_check
        # Requests the cassette could not answer: the likeliest cause of any other difference,
        # so a transcript with refusals is not compared at all. The cassette use reports them.
        self.refused_requests = refused_requests
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
        activity = accessors.activity_of_agent(agent)
        return None if activity is None else self.recorder(accessors.session_of_activity(activity))

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

    async def settle(self, recorder: SessionRecorder, run: RunRecorder) -> None:
        """Wait until the agent's on_enter and every speech of `run` are done."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_timeout
        while True:
            pending: list[SpeechHandle | asyncio.Task[Any]] = [
                h for h in run.handles if not h.done()
            ]
            activity = accessors.activity_of(recorder.session)
            on_enter = accessors.on_enter_task(activity)
            if on_enter is not None and not on_enter.done():
                pending.append(on_enter)
            update = accessors.handoff_task(recorder.session)
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
