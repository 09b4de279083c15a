"""Compare livekit's own `RunResult.events` with snaprun's capture of the same run.

livekit's RunResult is what users assert on with `result.expect…`; when it misses or repeats an
event (the seed report: a lost on_enter reply, events duplicated on a handoff), the test should
say so instead of passing silently. Pure: both sides arrive as golden-shaped event data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
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


def compare_run(
    label: str, captured: Sequence[Mapping[str, Any]], returned: Sequence[Mapping[str, Any]]
) -> list[str]:
    """One line per event the RunResult misses or holds more often than snaprun captured it."""
    ours = [e for e in map(comparable, captured) if e is not None]
    theirs = [e for e in map(comparable, returned) if e is not None]
    our_counts = Counter(map(canonical_json, ours))
    their_counts = Counter(map(canonical_json, theirs))
    by_key = {canonical_json(e): e for e in [*ours, *theirs]}
    problems = []
    for key, event in by_key.items():
        have, got = our_counts[key], their_counts[key]
        what = describe_event(event)
        if got < have:
            times = "" if have == 1 else f" ({have - got} of {have})"
            problems.append(
                f"livekit's RunResult for {label} is missing {what}{times}, which snaprun "
                f"captured in that run"
            )
        elif got > have:
            problems.append(
                f"livekit's RunResult for {label} holds {what} {got} times; snaprun captured "
                f"it {have} time{'s' if have != 1 else ''} in that run"
            )
    return problems
