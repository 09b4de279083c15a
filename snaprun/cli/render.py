"""Goldens for people: events as a conversation, printed in a terminal by `snaprun show`.

A golden lists events; a reader wants to see who said what. Every event becomes one `Entry`
(a message with its speaker, a tool call, a handoff, a note about the agent's context), which
the terminal here, and the review page in review_page.py, each draw their own way. Goldens may
be hand-edited, so nothing here assumes more shape than `golden_sessions` checked: an event of
an unknown kind or shape is shown by `describe.describe_event`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import click

from snaprun.describe import describe_event

Golden = Mapping[str, object]

_CONTROL: Final = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
# Kept: a newline shows a multi-line text as several lines, a tab is harmless.
del _CONTROL[ord("\n")], _CONTROL[ord("\t")]


def printable(text: str) -> str:
    """Text without control characters, so a golden cannot drive the reader's terminal."""
    return text.replace("\r\n", "\n").translate(_CONTROL)


def golden_sessions(data: object) -> list[Mapping[str, object]] | None:
    """The sessions of a golden (the single form is one session); None if it is no golden."""
    if not isinstance(data, Mapping):
        return None
    sessions = data.get("sessions", [data])
    if not isinstance(sessions, list) or not sessions:
        return None
    if all(isinstance(s, Mapping) and isinstance(s.get("runs"), list) for s in sessions):
        return sessions
    return None


def field(data: object, key: str) -> object:
    return data.get(key) if isinstance(data, Mapping) else None


def listed(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str:
    return printable(value if isinstance(value, str) else _json(value))


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=repr)


# --- entries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One event (or chat-context item) as a line of a conversation."""

    role: str
    """user, agent, system, call, output, handoff, note or failure: decides how it is drawn."""
    text: str
    who: str = ""
    """The speaker of a message: `user`, `EnterAgent (say)`, `system`."""
    details: tuple[str, ...] = ()
    """Items added to or removed from a chat context, one `+ role: text` per line."""

    def one_line(self) -> str:
        return f"{self.who}: {self.text}" if self.who else self.text


def run_title(number: int, run: object) -> str:
    """`run 2: "Give me all ice cream types."`, `run 1: start`, `run 3: say`."""
    kind, text = field(run, "kind"), field(run, "input")
    if kind == "run" and text is not None:
        return f"run {number}: {_json(text) if isinstance(text, str) else _text(text)}"
    return f"run {number}: {_text(kind) if kind is not None else '?'}"


def run_entries(events: Sequence[object], agent: str | None) -> tuple[list[Entry], str | None]:
    """Entries of one run's events, and the agent speaking at its end (handoffs change it)."""
    entries = []
    for event in events:
        entries.append(event_entry(event, agent))
        handoff = field(event, "agent_handoff")
        if isinstance(handoff, Mapping) and handoff.get("to") is not None:
            agent = _text(handoff["to"])
    return entries, agent


def item_entry(item: object) -> Entry:
    """A chat-context item: `{role, text}` is a message, any other is shaped like an event."""
    if isinstance(item, Mapping) and "role" in item:
        return _message({**item, "source": None}, None)
    return event_entry(item, None)


def event_entry(event: object, agent: str | None) -> Entry:
    if isinstance(event, Mapping) and len(event) == 1:
        ((kind, fields),) = event.items()
        draw = _EVENTS.get(kind) if isinstance(fields, Mapping) else None
        if draw is not None:
            return draw(fields, agent)
    return Entry("note", printable(describe_event(event)))


def _message(fields: Mapping[str, object], agent: str | None) -> Entry:
    role = _text(fields.get("role"))
    text = _text(fields.get("text", ""))
    marks = [_text(fields["source"])] if fields.get("source") is not None else []
    if fields.get("interrupted") is True:
        marks.append("interrupted")
    if role == "user":
        who, drawn = "user", "user"
    elif role == "assistant":
        who, drawn = agent or "assistant", "agent"
    else:
        who, drawn = role, "system"
    return Entry(drawn, text, who + (f" ({', '.join(marks)})" if marks else ""))


def _function_call(fields: Mapping[str, object], agent: str | None) -> Entry:
    arguments = fields.get("arguments", {})
    shown = _text(arguments) if isinstance(arguments, str) else _json(arguments)
    return Entry("call", f"{_text(fields.get('name'))}({printable(shown)})")


def _function_call_output(fields: Mapping[str, object], agent: str | None) -> Entry:
    output = printable(_json(fields.get("output", "")))
    return Entry("output", f"error: {output}" if fields.get("is_error") is True else output)


def _agent_handoff(fields: Mapping[str, object], agent: str | None) -> Entry:
    old = fields.get("from")
    shown = "(none)" if old is None else _text(old)
    return Entry("handoff", f"{shown} → {_text(fields.get('to'))}")


def _chat_ctx_updated(fields: Mapping[str, object], agent: str | None) -> Entry:
    details = [f"+ {item_entry(item).one_line()}" for item in listed(fields.get("added"))]
    details += [f"- {item_entry(item).one_line()}" for item in listed(fields.get("removed"))]
    return Entry("note", f"chat context of {_text(fields.get('agent'))}", details=tuple(details))


def _instructions_updated(fields: Mapping[str, object], agent: str | None) -> Entry:
    instructions = _text(fields.get("instructions"))
    return Entry("note", f"instructions of {_text(fields.get('agent'))}: {instructions}")


def _tools_updated(fields: Mapping[str, object], agent: str | None) -> Entry:
    changes = [f"+ {_text(tool)}" for tool in listed(fields.get("added"))]
    changes += [f"- {_text(tool)}" for tool in listed(fields.get("removed"))]
    return Entry("note", f"tools of {_text(fields.get('agent'))}: {', '.join(changes)}")


def _speech_without_message(fields: Mapping[str, object], agent: str | None) -> Entry:
    source, outcome = _text(fields.get("source")), _text(fields.get("outcome"))
    return Entry("failure", f"{source} speech {outcome}, no message")


_EVENTS: Final = {
    "message": _message,
    "function_call": _function_call,
    "function_call_output": _function_call_output,
    "agent_handoff": _agent_handoff,
    "chat_ctx_updated": _chat_ctx_updated,
    "instructions_updated": _instructions_updated,
    "tools_updated": _tools_updated,
    "speech_without_message": _speech_without_message,
}


# --- the terminal ---------------------------------------------------------------------

_STYLES: Final[dict[str, dict[str, object]]] = {
    "title": {"bold": True},
    "user": {"fg": "cyan", "bold": True},
    "agent": {"fg": "green", "bold": True},
    "system": {"fg": "yellow"},
    "call": {"fg": "magenta"},
    "output": {"fg": "magenta"},
    "handoff": {"fg": "blue", "bold": True},
    "note": {"dim": True},
    "failure": {"fg": "red"},
}


def _style(role: str, text: str) -> str:
    return click.style(text, **_STYLES[role])  # type: ignore[arg-type]


def _indented(first: str, text: str, indent: str) -> list[str]:
    head, *rest = text.split("\n")
    return [first + head, *(indent + line for line in rest)]


def entry_lines(entry: Entry) -> list[str]:
    """The terminal lines of one entry, styled (click.echo drops the styles when piped)."""
    if entry.role in ("user", "agent", "system"):
        return _indented(_style(entry.role, f"{entry.who}:") + " ", entry.text, "    ")
    if entry.role == "call":
        return [_style("call", f"  → {entry.text}")]
    if entry.role == "output":
        return _indented(_style("output", "  ← "), entry.text, "    ")
    if entry.role == "handoff":
        return [_style("handoff", f"── handoff: {entry.text} ──")]
    mark = "✗" if entry.role == "failure" else "✎"
    lines = _indented(f"  {mark} ", entry.text, "    ")
    lines += [f"    {detail}" for detail in entry.details]
    return [_style(entry.role, line) for line in lines]


def conversation(golden: Golden) -> list[str]:
    """A golden as terminal lines: run headings, who said what, and the final chat context."""
    lines: list[str] = []
    numbered = "sessions" in golden
    for number, session in enumerate(golden_sessions(golden) or [], start=1):
        if numbered:
            lines.append(_style("title", f"══ session {number} ══"))
        agent: str | None = None
        for run_number, run in enumerate(listed(session.get("runs")), start=1):
            lines.append(_style("title", f"━━ {run_title(run_number, run)} ━━"))
            entries, agent = run_entries(listed(field(run, "events")), agent)
            for entry in entries:
                lines += entry_lines(entry)
        chat_ctx = session.get("chat_ctx")
        if chat_ctx is not None:
            lines.append(_style("title", f"━━ final chat context: {ctx_agent(chat_ctx)} ━━"))
            for item in listed(field(chat_ctx, "items")):
                lines += entry_lines(item_entry(item))
    return lines


def ctx_agent(chat_ctx: object) -> str:
    agent = field(chat_ctx, "agent")
    return "?" if agent is None else _text(agent)
