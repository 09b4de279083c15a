"""Goldens for people: events as a conversation, printed in a terminal by `snaprun show`.

A golden lists events; a reader wants to see who said what. Every event becomes one `Entry`
(a message with its speaker, a tool call, a handoff, a note about the agent's context), which
the terminal here, and the review page in review_page.py, each draw their own way. The golden
arrives parsed (`Timeline.from_data`); an event of a kind drawn nowhere here (one a newer
snaprun wrote) is shown as `describe.describe_event` words it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import click

from snaprun.describe import NO_AGENT, describe_event, printable
from snaprun.timeline import (
    AgentHandoff,
    AnyEvent,
    ChatCtxSnapshot,
    ChatCtxUpdated,
    ChatItem,
    FunctionCall,
    FunctionCallOutput,
    InstructionsUpdated,
    Message,
    Run,
    SpeechWithoutMessage,
    Timeline,
    ToolsUpdated,
)


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


def run_title(number: int, run: Run) -> str:
    """`run 2: "Give me all ice cream types."`, `run 1: start`, `run 3: say`."""
    if run.kind == "run" and run.input is not None:
        return f"run {number}: {_json(run.input)}"
    return f"run {number}: {run.kind}"


def run_entries(events: Sequence[AnyEvent], agent: str | None) -> tuple[list[Entry], str | None]:
    """Entries of one run's events, and the agent speaking at its end (handoffs change it)."""
    entries = []
    for event in events:
        entries.append(event_entry(event, agent))
        if isinstance(event, AgentHandoff):
            agent = printable(event.to_agent)
    return entries, agent


def item_entry(item: ChatItem) -> Entry:
    """A chat-context item, drawn as the event of its kind (a message without its source)."""
    return event_entry(item.as_event(), None)


def event_entry(event: AnyEvent, agent: str | None) -> Entry:
    match event:
        case Message():
            return _message(event, agent)
        case FunctionCall(name=name, arguments=arguments):
            shown = arguments if isinstance(arguments, str) else _json(arguments)
            return Entry("call", f"{printable(name)}({printable(shown)})")
        case FunctionCallOutput(output=output, is_error=is_error):
            text = printable(_json(output))
            return Entry("output", f"error: {text}" if is_error else text)
        case AgentHandoff(from_agent=old, to_agent=new):
            shown = NO_AGENT if old is None else printable(old)
            return Entry("handoff", f"{shown} → {printable(new)}")
        case ChatCtxUpdated():
            return _chat_ctx_updated(event)
        case InstructionsUpdated(agent=owner, instructions=instructions):
            return Entry("note", f"instructions of {printable(owner)}: {printable(instructions)}")
        case ToolsUpdated(agent=owner, added=added, removed=removed):
            changes = [f"+ {printable(tool)}" for tool in added]
            changes += [f"- {printable(tool)}" for tool in removed]
            return Entry("note", f"tools of {printable(owner)}: {', '.join(changes)}")
        case SpeechWithoutMessage(source=source, outcome=outcome):
            return Entry("failure", f"{printable(source)} speech {printable(outcome)}, no message")
    return Entry("note", printable(describe_event(event)))


def _message(message: Message, agent: str | None) -> Entry:
    marks = [printable(message.source)] if message.source is not None else []
    if message.interrupted:
        marks.append("interrupted")
    role = printable(message.role)
    if role == "user":
        who, drawn = "user", "user"
    elif role == "assistant":
        who, drawn = agent or "assistant", "agent"
    else:
        who, drawn = role, "system"
    text = printable(message.text)
    return Entry(drawn, text, who + (f" ({', '.join(marks)})" if marks else ""))


def _chat_ctx_updated(event: ChatCtxUpdated) -> Entry:
    details = [f"+ {item_entry(item).one_line()}" for item in event.added]
    details += [f"- {item_entry(item).one_line()}" for item in event.removed]
    return Entry("note", f"chat context of {printable(event.agent)}", details=tuple(details))


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


def conversation(golden: Timeline) -> list[str]:
    """A golden as terminal lines: run headings, who said what, and the final chat context."""
    if not golden.sessions:
        return [_style("note", "(the test started no AgentSession)")]
    lines: list[str] = []
    numbered = len(golden.sessions) != 1  # as the golden writes them: `sessions:` or not
    for number, session in enumerate(golden.sessions, start=1):
        if numbered:
            lines.append(_style("title", f"══ session {number} ══"))
        agent: str | None = None
        for run_number, run in enumerate(session.runs, start=1):
            lines.append(_style("title", f"━━ {run_title(run_number, run)} ━━"))
            entries, agent = run_entries(run.events, agent)
            for entry in entries:
                lines += entry_lines(entry)
        if session.chat_ctx is not None:
            title = f"━━ final chat context: {ctx_agent(session.chat_ctx)} ━━"
            lines.append(_style("title", title))
            for item in session.chat_ctx.items:
                lines += entry_lines(item_entry(item))
    return lines


def ctx_agent(chat_ctx: ChatCtxSnapshot) -> str:
    return printable(chat_ctx.agent)
