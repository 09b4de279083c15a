"""One text per datum: equal data give equal text, whatever the order of their keys.

Goldens (the diff, the review page, the RunResult cross-check) and cassettes (request matching)
compare data through it, so "the same event" and "the same request body" mean one thing.
"""

from __future__ import annotations

import json
from typing import Final

_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr
)


def canonical_json(data: object) -> str:
    """Compact JSON with sorted keys; a value JSON cannot hold is written as its repr.

    Data JSON cannot order or hold at all (keys of mixed types, a list that contains
    itself, as a hand-edited golden may) is written as its repr instead of raising.
    """
    try:
        return _ENCODER.encode(data)
    except (TypeError, ValueError, RecursionError):
        return safe_repr(data)


def safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a hand-edited golden must never make a report fail
        return f"<{type(value).__name__}>"
