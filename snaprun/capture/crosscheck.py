"""Compare livekit's own `RunResult.events` with snaprun's capture of the same run.

livekit's RunResult is what users assert on with `result.expect…`; when it misses or repeats an
event (the seed report: a lost on_enter reply, events duplicated on a handoff), the test should
say so instead of passing silently. Pure: both sides arrive as golden-shaped event data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from snaprun.canonical import canonical_json
from snaprun.describe import describe_event

# What a disagreement with livekit's RunResult does: fail the test, warn, or nothing.
RunResultCheck = Literal["fail", "warn", "off"]

# The event kinds a RunResult holds; snaprun records more (chat_ctx_updated, …).
COMPARED_FIELDS = {
    "message": ("role", "text"),
    "function_call": ("name", "call", "arguments"),
    "function_call_output": ("name", "call", "output", "is_error"),
    "agent_handoff": ("from", "to"),
}


def comparable(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The part of an event both sides know, or None for kinds a RunResult never holds."""
    ((kind, fields),) = event.items()
    names = COMPARED_FIELDS.get(kind)
    if names is None or fields.get("role") == "user":
        return None  # a RunResult never lists the user input it was started with
    return {kind: {name: fields.get(name) for name in names}}


@dataclass(frozen=True, eq=False)  # compared by identity: one entry per run
class RunPair:
    """One run as snaprun captured it and as livekit's RunResult returned it (None: no result)."""

    label: str
    captured: Sequence[Mapping[str, Any]]
    returned: Sequence[Mapping[str, Any]] | None


def _counts(events: Sequence[Mapping[str, Any]]) -> Counter[str]:
    return Counter(canonical_json(e) for e in map(comparable, events) if e is not None)


def compare_runs(runs: Sequence[RunPair]) -> list[str]:
    """One line per event a RunResult misses, repeats, or holds for another run than snaprun.

    An event livekit files under one run and snaprun under another is one line naming both
    runs, not a "missing" here and a "holds" there: snaprun files an event under the test call
    that caused it (for what follows an AgentTask, the run in which the task completed).
    """
    checked = [run for run in runs if run.returned is not None]
    missing: dict[str, list[RunPair]] = {}  # key -> runs whose RunResult lacks it
    extra: dict[str, list[RunPair]] = {}  # key -> runs whose RunResult holds it once too often
    events: dict[str, Mapping[str, Any]] = {}
    for run in checked:
        ours, theirs = _counts(run.captured), _counts(run.returned or ())
        for key in ours | theirs:
            missing.setdefault(key, []).extend([run] * max(0, ours[key] - theirs[key]))
            extra.setdefault(key, []).extend([run] * max(0, theirs[key] - ours[key]))
        for event in [*run.captured, *(run.returned or ())]:
            if (comparable_event := comparable(event)) is not None:
                events.setdefault(canonical_json(comparable_event), comparable_event)
    problems = []
    for key, event in events.items():
        lacking, holding = missing.get(key, []), extra.get(key, [])
        what = describe_event(event)
        for captured_in, returned_in in zip(lacking, holding, strict=False):
            problems.append(
                f"livekit's RunResult for {returned_in.label} holds {what}, which snaprun "
                f"captured in {captured_in.label}, the run whose call caused it"
            )
        problems += _unpaired(key, what, lacking[len(holding) :], holding[len(lacking) :])
    return problems


def _unpaired(key: str, what: str, lacking: list[RunPair], holding: list[RunPair]) -> list[str]:
    problems = []
    for run, times in Counter(lacking).items():
        have = _counts(run.captured)[key]
        part = "" if have == 1 else f" ({times} of {have})"
        problems.append(
            f"livekit's RunResult for {run.label} is missing {what}{part}, which snaprun "
            f"captured in that run"
        )
    for run, times in Counter(holding).items():
        have = _counts(run.captured)[key]
        got = have + times
        problems.append(
            f"livekit's RunResult for {run.label} holds {what} {got} times; snaprun captured "
            f"it {have} time{'s' if have != 1 else ''} in that run"
        )
    return problems
