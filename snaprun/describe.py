"""One-line descriptions of golden entries and runs, and of the values in them, for messages.

Every message that names an event says it the same way: the event-level report of diff.py,
`snaprun review`, `snaprun show` for an event it cannot draw, the cross-check against
livekit's RunResult and the capture's own complaints. `describe_event` gives
`message assistant "Hello"`, `describe_item` the same for a chat-context item,
`run_label` gives `run 2 (input "Hi")`, and `show_change` gives `"old" → "new"`, cut around
the first difference when long.

Whatever is shown stays on one line and free of terminal control characters (a newline is
`⏎`), and texts are cut to `TEXT_LIMIT` characters with `…` (`shorten`, the one cut of every
message). Entries arrive as timeline objects or as golden data: the RunResult cross-check
compares data, and nothing here raises on its shape: an entry that is not a `{kind: fields}`
mapping is shown as JSON, or as its repr when JSON cannot hold it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Final

from snaprun.canonical import canonical_json, safe_repr
from snaprun.timeline import EVENT_CLASSES, ChatItem, RawEvent, Run, event_to_data

TEXT_LIMIT = 60
"""Longest text shown for a value; longer ones are cut and marked with `…`."""

_CONTEXT = 20
"""Characters kept before the first difference when a changed value is cut."""

ABSENT = object()
"""Stands for a field one side does not have."""

_CONTROL: Final = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
"""Terminal control characters, each shown as its escape so a golden cannot drive a terminal."""

_MULTI_LINE: Final = {code: shown for code, shown in _CONTROL.items() if chr(code) not in "\n\t"}
"""For text drawn on several lines (`snaprun show`): a newline stays, a tab is harmless."""

_ONE_LINE: Final = {**_CONTROL, ord("\n"): "⏎", ord("\r"): "⏎", ord("\t"): "\\t"}

_EVENT_TYPES: Final = (*EVENT_CLASSES.values(), RawEvent)

# --- rendering values -----------------------------------------------------------------


def one_line(text: str) -> str:
    """Keep a line on one line and free of terminal control characters."""
    return text.replace("\r\n", "\n").translate(_ONE_LINE)


def printable(text: str) -> str:
    """Text without control characters, its newlines kept, for drawing on several lines."""
    return text.replace("\r\n", "\n").translate(_MULTI_LINE)


def json_line(value: object) -> str:
    """Render data as one-line JSON, or as its repr when JSON cannot hold it."""
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        return safe_repr(value)


def same(left: object, right: object) -> bool:
    return canonical_json(left) == canonical_json(right)


def cut(text: str, limit: int, start: int = 0) -> str:
    """`text` from `start`, at most `limit` characters, `…` marking what was left out."""
    head = "…" if start > 0 else ""
    body = text[start:]
    if len(body) > limit:
        body = body[: limit - 1] + "…"
    return head + body


def shorten(text: str, limit: int = TEXT_LIMIT) -> str:
    """On one line and cut to `limit` characters: how every message shows a long text."""
    return cut(one_line(text), limit)


def _quote(value: object) -> str:
    """A string in double quotes, anything else as JSON; shortened either way."""
    if isinstance(value, str):
        return f'"{shorten(value)}"'
    return shorten(json_line(value))


def _word(value: object) -> str:
    """A name shown bare: `EnterAgent`, `None`."""
    if isinstance(value, str):
        return shorten(value)
    if value is None:
        return "None"
    return shorten(json_line(value))


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


def _window(left: str, right: str, limit: int = TEXT_LIMIT) -> tuple[str, str]:
    """Cut two long texts around their first difference, so the change stays visible."""
    if len(left) <= limit and len(right) <= limit:
        return left, right
    start = max(0, _common_prefix(left, right) - _CONTEXT)
    return cut(left, limit, start), cut(right, limit, start)


def show_change(old: object, new: object) -> str:
    """`"old" → "new"`, each side cut around the first difference when long."""
    if isinstance(old, str) and isinstance(new, str):
        left, right = _window(one_line(old), one_line(new))
        return f'"{left}" → "{right}"'
    left, right = _window(_render(old), _render(new))
    return f"{left} → {right}"


# --- describing entries ---------------------------------------------------------------


def _split(entry: object) -> tuple[str, object] | None:
    """`{kind: fields}` → `(kind, fields)`; None when the entry is not a one-key mapping."""
    if isinstance(entry, Mapping) and len(entry) == 1:
        ((kind, fields),) = entry.items()
        if isinstance(kind, str):
            return kind, fields
    return None


def _describe_message(fields: Mapping[str, object]) -> str:
    role = fields.get("role")
    text = _quote(fields.get("text", ""))
    return text if role is None else f"{_word(role)} {text}"


def _describe_function_call(fields: Mapping[str, object]) -> str:
    arguments = shorten(json_line(fields.get("arguments", {})))
    return f"{_word(fields.get('name'))} {arguments}"


def _describe_function_call_output(fields: Mapping[str, object]) -> str:
    error = " (error)" if fields.get("is_error") is True else ""
    return f"{_word(fields.get('name'))} {_quote(fields.get('output', ''))}{error}"


NO_AGENT: Final = "(none)"
"""The `from` of the first handoff of a session, in every message, `show` and review alike."""


def _describe_agent_handoff(fields: Mapping[str, object]) -> str:
    old = fields.get("from")
    return f"{NO_AGENT if old is None else _word(old)} → {_word(fields.get('to'))}"


def _count(value: object) -> str:
    if value is None:
        return "0"
    if isinstance(value, list | tuple):
        return str(len(value))
    return "?"


def _describe_chat_ctx_updated(fields: Mapping[str, object]) -> str:
    added, removed = _count(fields.get("added")), _count(fields.get("removed"))
    return f"{_word(fields.get('agent'))} +{added} -{removed}"


def _describe_task_started(fields: Mapping[str, object]) -> str:
    return _word(fields.get("task"))


def _describe_task_completed(fields: Mapping[str, object]) -> str:
    if "error" in fields:
        return f"{_word(fields.get('task'))} (error {_quote(fields.get('error'))})"
    return f"{_word(fields.get('task'))} {_quote(fields.get('result'))}"


def _describe_judgement(fields: Mapping[str, object]) -> str:
    return f"{_word(fields.get('verdict'))} {_quote(fields.get('intent', ''))}"


def _describe_llm_error(fields: Mapping[str, object]) -> str:
    return f"{_word(fields.get('error'))} {_quote(fields.get('message', ''))}"


_DESCRIBERS: dict[str, Callable[[Mapping[str, object]], str]] = {
    "message": _describe_message,
    "function_call": _describe_function_call,
    "function_call_output": _describe_function_call_output,
    "agent_handoff": _describe_agent_handoff,
    "chat_ctx_updated": _describe_chat_ctx_updated,
    "task_started": _describe_task_started,
    "task_completed": _describe_task_completed,
    "judgement": _describe_judgement,
    "llm_error": _describe_llm_error,
}


def _describe_parts(kind: str, fields: object) -> str:
    describer = _DESCRIBERS.get(kind)
    if describer is not None and isinstance(fields, Mapping):
        return one_line(f"{kind} {describer(fields)}")
    return one_line(f"{kind} {shorten(json_line(fields))}")


def describe_event(event: object) -> str:
    """One-line label of an event (a timeline event or its data), e.g. `message assistant "Hello"`.

    `message <role> "<text>"`, `function_call <name> <arguments as JSON>`,
    `function_call_output <name> "<output>"`, `agent_handoff <from> → <to>` (null shown as
    `(none)`), `chat_ctx_updated <agent> +<added> -<removed>`; any other kind is shown as the
    kind and its fields as JSON. Texts are cut to about 60 characters with `…`, and
    newlines are shown as `⏎`.
    """
    if isinstance(event, _EVENT_TYPES):
        event = event_to_data(event)
    try:
        parts = _split(event)
        return shorten(json_line(event)) if parts is None else _describe_parts(*parts)
    except Exception:  # a hand-edited golden must never make the report fail
        return f"<{type(event).__name__}>"


def describe_item(item: ChatItem) -> str:
    """One-line label of a chat-context item, worded as the event of its kind."""
    return describe_event(item.to_data_as_event())


def run_label(number: int, run: Run | Mapping[str, object]) -> str:
    """How messages name run `number`: `run 2 (start)`, `run 2 (input "Hi")`, `run 2 (kind "say")`.

    `run` is a Run or its data; `run 2` alone when the data has no kind.
    """
    kind, text = (
        (run.kind, run.input) if isinstance(run, Run) else (run.get("kind"), run.get("input"))
    )
    if kind is None:
        return f"run {number}"
    if kind == "start":
        return f"run {number} (start)"
    if kind == "run":
        return f"run {number} (input {_quote(text)})"
    return f"run {number} (kind {_quote(kind)})"
