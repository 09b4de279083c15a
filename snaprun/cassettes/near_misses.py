"""Why a refused request differs from the recorded one closest to it, when recording again
cannot help.

Two causes make a request differ on every run although the agent did not change: order that
comes from a Python set or dict (the hash seed changes with each process), and values the
agent generates afresh (an order id from ``secrets.choice``, today's date). Recording again
only records the next run's values, so a refusal caused by them names the real fix instead:
a ``snaprun_volatile`` pattern for generated values, a fixed order for the rest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from snaprun.canonical import canonical_json
from snaprun.cassettes.http_bodies import Json
from snaprun.volatile import INI_KEY

MAX_SHOWN: Final = 5

# A word of text as the agent would generate it: letters and digits, with the joiners ids,
# dates and times use inside them.
_TOKEN: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_\-:.+]*[A-Za-z0-9])?")

# Shapes of generated values, most specific first: what they look like, the pattern to
# suggest for them.
_SHAPES: Final = (
    (
        re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ),
    (
        re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"),
        r"\d{4}-\d{2}-\d{2}T[0-9:.+Z-]+",
    ),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), r"\d{4}-\d{2}-\d{2}"),
    (re.compile(r"\d{1,2}:\d{2}(:\d{2})?"), r"\d{1,2}:\d{2}(:\d{2})?"),
)
_MIN_ID_CHARS: Final = 4


@dataclass(frozen=True)
class _Reordered:
    path: str
    what: str  # "items" of a list, "words" of a text


@dataclass(frozen=True)
class _Generated:
    path: str
    recorded: str
    sent: str
    pattern: str


_Difference = _Reordered | _Generated


def explain(recorded: Json, sent: Json, label: str) -> list[str] | None:
    """Lines saying that ``sent`` differs from ``recorded`` (named ``label``) only by order or
    by generated values, and what fixes that; None when it differs in anything else."""
    found: list[_Difference] = []
    if not _differences(recorded, sent, "", found) or not found:
        return None
    generated = [d for d in found if isinstance(d, _Generated)]
    reordered = [d for d in found if isinstance(d, _Reordered)]
    lines: list[str] = []
    if generated:
        lines.append(
            f"It differs from {label} only in values that look generated afresh on each run "
            f"(ids, dates){' and in order' if reordered else ''}:"
        )
        lines += [
            f"  {d.path}: {d.recorded!r} recorded, {d.sent!r} now" for d in generated[:MAX_SHOWN]
        ]
        lines += _more(generated)
        patterns = list(dict.fromkeys(d.pattern for d in generated))
        lines.append(
            "Recording again will not help: the next run generates new ones. Label them "
            "instead, in your pytest ini ([pytest] section):"
        )
        lines += [f"  {INI_KEY} =", *(f"      {pattern}" for pattern in patterns)]
    if reordered:
        lines.append(
            f"It differs from {label} only in order" if not generated else "And it differs in order"
        )
        lines[-1] += ", which changes between processes when it comes from a set or a dict:"
        lines += [f"  the {d.what} of {d.path}" for d in reordered[:MAX_SHOWN]]
        lines += _more(reordered)
        lines.append(
            "Recording again will not help: the next process orders them anew. Build them in a "
            "fixed order in the agent, e.g. with sorted(...)."
        )
    return lines


def _more(differences: list[_Reordered] | list[_Generated]) -> list[str]:
    extra = len(differences) - MAX_SHOWN
    return [f"  … and {extra} more"] if extra > 0 else []


def _differences(recorded: Json, sent: Json, path: str, found: list[_Difference]) -> bool:
    """Collect in ``found`` how ``sent`` differs from ``recorded``; False when a difference is
    neither order nor a generated value (then nothing here can explain it)."""
    if recorded == sent:
        return True
    if isinstance(recorded, dict) and isinstance(sent, dict):
        if recorded.keys() != sent.keys():
            return False
        return all(
            _differences(recorded[key], sent[key], _key_path(path, key), found) for key in recorded
        )
    if isinstance(recorded, list) and isinstance(sent, list):
        if len(recorded) != len(sent):
            return False
        if sorted(map(canonical_json, recorded)) == sorted(map(canonical_json, sent)):
            found.append(_Reordered(path, "items"))
            return True
        return all(
            _differences(a, b, f"{path}[{index}]", found)
            for index, (a, b) in enumerate(zip(recorded, sent, strict=True))
        )
    if isinstance(recorded, str) and isinstance(sent, str):
        nested = _as_json(recorded), _as_json(sent)  # tool call arguments are JSON text
        if nested[0] is not None and nested[1] is not None:
            return _differences(nested[0], nested[1], path, found)
        return _text_differences(recorded, sent, path, found)
    return False


def _key_path(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _as_json(text: str) -> Json | None:
    if not text.startswith(("{", "[")):
        return None
    try:
        data: Json = json.loads(text)
    except ValueError:
        return None
    return data


def _text_differences(recorded: str, sent: str, path: str, found: list[_Difference]) -> bool:
    split_recorded, split_sent = _TOKEN.split(recorded), _TOKEN.split(sent)
    words_recorded, words_sent = _TOKEN.findall(recorded), _TOKEN.findall(sent)
    if split_recorded == split_sent and len(words_recorded) == len(words_sent):
        changed = [(a, b) for a, b in zip(words_recorded, words_sent, strict=True) if a != b]
        patterns = [_generated_pattern(a, b) for a, b in changed]
        if all(pattern is not None for pattern in patterns):
            for (a, b), pattern in zip(changed, patterns, strict=True):
                found.append(_Generated(path, a, b, str(pattern)))
            return True
    if sorted(words_recorded) == sorted(words_sent):
        found.append(_Reordered(path, "words"))
        return True
    return False


def _generated_pattern(recorded: str, sent: str) -> str | None:
    """A pattern matching both words when they look generated (uuid, date, time, an id of
    letters and digits); None when they look like words a person or a model chose."""
    for shape, pattern in _SHAPES:
        if shape.fullmatch(recorded) and shape.fullmatch(sent):
            return pattern
    prefix = _shared_prefix(recorded, sent)
    rest = recorded[len(prefix) :], sent[len(prefix) :]
    if len(rest[0]) != len(rest[1]) or len(rest[0]) < _MIN_ID_CHARS:
        return None
    if not all(part.isalnum() and part.isascii() for part in rest):
        return None
    if not any(char.isdigit() for char in "".join(rest)) and not all(
        part.isupper() for part in rest
    ):
        return None  # lowercase letters only: more likely a word than an id
    literal = re.escape(prefix).replace("\\-", "-")  # `-` is special inside [] only
    return f"{literal}{_character_class(''.join(rest))}{{{len(rest[0])}}}"


def _shared_prefix(a: str, b: str) -> str:
    """The part both words share up to their last shared joiner: `ORD-` of two order ids."""
    shared = 0
    while shared < min(len(a), len(b)) and a[shared] == b[shared]:
        shared += 1
    cut = max(a.rfind(joiner, 0, shared) for joiner in "-_:.")
    return a[: cut + 1]


# The narrowest class holding an id's characters, narrowest first.
_CLASSES: Final = (
    ("0123456789", r"\d"),
    ("0123456789abcdef", "[0-9a-f]"),
    ("0123456789ABCDEF", "[0-9A-F]"),
    ("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", "[A-Z0-9]"),
    ("0123456789abcdefghijklmnopqrstuvwxyz", "[a-z0-9]"),
)


def _character_class(chars: str) -> str:
    for allowed, pattern in _CLASSES:
        if set(chars) <= set(allowed):
            return pattern
    return "[A-Za-z0-9]"
