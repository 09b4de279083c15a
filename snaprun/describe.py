"""One-line descriptions of golden entries and runs, and of the values in them, for messages.

Every message that names an event says it the same way: the event-level report of diff.py,
`snaprun review`, `snaprun show` for an event it cannot draw, the cross-check against
livekit's RunResult and the capture's own complaints. `describe_event` gives
`message assistant "Hello"`, `run_label` gives `run 2 (input "Hi")`, and `show_change` gives
`"old" → "new"`, cut around the first difference when long.

Whatever is shown stays on one line and free of terminal control characters (a newline is
`⏎`), and texts are cut to `TEXT_LIMIT` characters with `…`. A hand-edited golden may hold
anything, so nothing here raises on an entry's shape: one that is not a `{kind: fields}`
mapping is shown as JSON, or as its repr when JSON cannot hold it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

TEXT_LIMIT = 60
"""Longest text shown for a value; longer ones are cut and marked with `…`."""

_CONTEXT = 20
"""Characters kept before the first difference when a changed value is cut."""

ABSENT = object()
"""Stands for a field one side does not have."""

_UNPRINTABLE = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_UNPRINTABLE.update({ord("\n"): "⏎", ord("\r"): "⏎", ord("\t"): "\\t"})

_Parts = tuple[str, object]
"""An entry split into its kind and its fields."""

Splitter = Callable[[object], "_Parts | None"]


# --- rendering values -----------------------------------------------------------------


def one_line(text: str) -> str:
    """Keep a line on one line and free of terminal control characters."""
    return text.replace("\r\n", "\n").translate(_UNPRINTABLE)


def json_line(value: object, *, canonical: bool = False) -> str:
    """Render data as one-line JSON, or as its repr when JSON cannot hold it."""
    separators = (",", ":") if canonical else (", ", ": ")
    try:
        return json.dumps(
            value, ensure_ascii=False, sort_keys=canonical, separators=separators, default=repr
        )
    except (TypeError, ValueError, RecursionError):
        return _repr(value)


def _repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a hand-edited golden must never make the report fail
        return f"<{type(value).__name__}>"


def canonical(value: object) -> str:
    """A hashable form of an entry: equal data gives equal text, whatever the key order."""
    return json_line(value, canonical=True)


def same(left: object, right: object) -> bool:
    return canonical(left) == canonical(right)


def _shorten(text: str, limit: int = TEXT_LIMIT) -> str:
    text = one_line(text)
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def _quote(value: object) -> str:
    """A string in double quotes, anything else as JSON; shortened either way."""
    if isinstance(value, str):
        return f'"{_shorten(value)}"'
    return _shorten(json_line(value))


def _word(value: object) -> str:
    """A name shown bare: `EnterAgent`, `None`."""
    if isinstance(value, str):
        return _shorten(value)
    if value is None:
        return "None"
    return _shorten(json_line(value))


def _render(value: object) -> str:
    if value is ABSENT:
        return "<absent>"
    if isinstance(value, str):
        return f'"{one_line(value)}"'
    return one_line(json_line(value))


def _common_prefix(left: str, right: str) -> int:
    for index, (one, other) in enumerate(zip(left, right, strict=False)):
        if one != other:
            return index
    return min(len(left), len(right))


def _cut(text: str, start: int, limit: int) -> str:
    head = "…" if start > 0 else ""
    body = text[start:]
    if len(body) > limit:
        body = body[: limit - 1] + "…"
    return head + body


def _window(left: str, right: str, limit: int = TEXT_LIMIT) -> tuple[str, str]:
    """Cut two long texts around their first difference, so the change stays visible."""
    if len(left) <= limit and len(right) <= limit:
        return left, right
    start = max(0, _common_prefix(left, right) - _CONTEXT)
    return _cut(left, start, limit), _cut(right, start, limit)


def show_change(old: object, new: object) -> str:
    """`"old" → "new"`, each side cut around the first difference when long."""
    if isinstance(old, str) and isinstance(new, str):
        left, right = _window(one_line(old), one_line(new))
        return f'"{left}" → "{right}"'
    left, right = _window(_render(old), _render(new))
    return f"{left} → {right}"


# --- describing entries ---------------------------------------------------------------


def split_event(entry: object) -> _Parts | None:
    """`{kind: fields}` → `(kind, fields)`; None when the entry is not a one-key mapping."""
    if isinstance(entry, Mapping) and len(entry) == 1:
        ((kind, fields),) = entry.items()
        if isinstance(kind, str):
            return kind, fields
    return None


def split_item(entry: object) -> _Parts | None:
    """A chat_ctx item: `{role: ..., text: ...}` is a message, others are like events."""
    if isinstance(entry, Mapping) and "role" in entry:
        return "message", entry
    return split_event(entry)


def _describe_message(fields: Mapping[str, object]) -> str:
    role = fields.get("role")
    text = _quote(fields.get("text", ""))
    return text if role is None else f"{_word(role)} {text}"


def _describe_function_call(fields: Mapping[str, object]) -> str:
    arguments = _shorten(json_line(fields.get("arguments", {})))
    return f"{_word(fields.get('name'))} {arguments}"


def _describe_function_call_output(fields: Mapping[str, object]) -> str:
    error = " (error)" if fields.get("is_error") is True else ""
    return f"{_word(fields.get('name'))} {_quote(fields.get('output', ''))}{error}"


def _describe_agent_handoff(fields: Mapping[str, object]) -> str:
    return f"{_word(fields.get('from'))} → {_word(fields.get('to'))}"


def _count(value: object) -> str:
    if value is None:
        return "0"
    if isinstance(value, list | tuple):
        return str(len(value))
    return "?"


def _describe_chat_ctx_updated(fields: Mapping[str, object]) -> str:
    added, removed = _count(fields.get("added")), _count(fields.get("removed"))
    return f"{_word(fields.get('agent'))} +{added} -{removed}"


_DESCRIBERS: dict[str, Callable[[Mapping[str, object]], str]] = {
    "message": _describe_message,
    "function_call": _describe_function_call,
    "function_call_output": _describe_function_call_output,
    "agent_handoff": _describe_agent_handoff,
    "chat_ctx_updated": _describe_chat_ctx_updated,
}


def _describe_parts(kind: str, fields: object) -> str:
    describer = _DESCRIBERS.get(kind)
    if describer is not None and isinstance(fields, Mapping):
        return one_line(f"{kind} {describer(fields)}")
    return one_line(f"{kind} {_shorten(json_line(fields))}")


def describe_entry(entry: object, split: Splitter) -> str:
    parts = split(entry)
    if parts is None:
        return _shorten(json_line(entry))
    return _describe_parts(*parts)


def describe_event(event: object) -> str:
    """One-line label of an event, e.g. `message assistant "Hello"`.

    `message <role> "<text>"`, `function_call <name> <arguments as JSON>`,
    `function_call_output <name> "<output>"`, `agent_handoff <from> → <to>` (null shown as
    `None`), `chat_ctx_updated <agent> +<added> -<removed>`; any other kind is shown as the
    kind and its fields as JSON. Texts are cut to about 60 characters with `…`, and
    newlines are shown as `⏎`.
    """
    try:
        return describe_entry(event, split_event)
    except Exception:  # a hand-edited golden must never make the report fail
        return f"<{type(event).__name__}>"


def run_label(number: int, run: object) -> str:
    """How messages name run `number`: `run 2 (start)`, `run 2 (input "Hi")`, `run 2 (kind "say")`.

    `run 2` alone when the run has no kind (a hand-edited golden).
    """
    if not isinstance(run, Mapping) or run.get("kind") is None:
        return f"run {number}"
    kind = run["kind"]
    if kind == "start":
        return f"run {number} (start)"
    if kind == "run":
        return f"run {number} (input {_quote(run.get('input'))})"
    return f"run {number} (kind {_quote(kind)})"
