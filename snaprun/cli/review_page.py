"""The review as one static web page: each changed golden drawn as a conversation.

User messages are bubbles on the right, the agents' on the left, tool calls and outputs small
cards, handoffs dividers; events the change added are green, removed ones red and struck
through, changed ones amber with the old version struck before the new. The page is one file
with inline CSS and no script, so a CI job can publish it as an artifact as it is. Every text
from a golden goes through `html.escape`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from snaprun.cli.render import Entry, ctx_agent, item_entry, run_entries, run_title
from snaprun.cli.review import GoldenChange, grouped_findings, shape, tally
from snaprun.golden.diff import Alignment, align, align_items
from snaprun.timeline import ChatCtxSnapshot, Run, SessionTimeline, Timeline


@dataclass(frozen=True)
class Shown:
    """An entry as the page shows it: unchanged, added, removed, or changed from `before`."""

    entry: Entry
    change: str = ""
    before: Entry | None = None


def aligned(
    alignment: Alignment, old_entries: Sequence[Entry], new_entries: Sequence[Entry]
) -> list[Shown]:
    """Old and new entries merged in order, each marked with what the change did to it.

    Equal events are matched as diff.py matches them, and an old event one of the same kind
    changed into is shown as one changed event; the rest were removed or added (a moved event
    shows as removed in one place and added in the other).
    """
    shown: list[Shown] = []
    changed_from = set(alignment.changed.values())
    for tag, i1, i2, j1, j2 in alignment.opcodes:
        if tag == "equal":
            shown += [Shown(new_entries[j]) for j in range(j1, j2)]
            continue
        shown += [Shown(old_entries[i], "removed") for i in range(i1, i2) if i not in changed_from]
        for j in range(j1, j2):
            if j in alignment.changed:
                shown.append(Shown(new_entries[j], "changed", old_entries[alignment.changed[j]]))
            else:
                shown.append(Shown(new_entries[j], "added"))
    return shown


# --- drawing --------------------------------------------------------------------------


def _full_text(entry: Entry) -> str:
    return "\n".join([entry.one_line(), *entry.details])


def _entry_html(shown: Shown) -> str:
    entry, change = shown.entry, shown.change
    classes = " ".join(filter(None, ["entry", entry.role, change]))
    mark = f' data-change="{change}"' if change else ""
    before = ""
    if shown.before is not None:
        old = shown.before.text if shown.before.who == entry.who else _full_text(shown.before)
        before = f'<div class="before"><del>{escape(old)}</del> →</div>'
    if entry.role in ("user", "agent", "system"):
        side = "right" if entry.role == "user" else "left"
        return (
            f'<div class="row {side}"><div class="{classes} bubble"{mark}>'
            f'<div class="who">{escape(entry.who)}</div>{before}'
            f'<div class="text">{escape(entry.text)}</div></div></div>'
        )
    if entry.role in ("call", "output"):
        icon = "→" if entry.role == "call" else "←"
        return (
            f'<div class="row left"><div class="{classes} card"{mark}>{before}'
            f'<span class="icon">{icon}</span><code>{escape(entry.text)}</code></div></div>'
        )
    if entry.role == "handoff":
        return (
            f'<div class="{classes} divider"{mark}>{before}'
            f"<span>handoff: {escape(entry.text)}</span></div>"
        )
    details = "".join(f"<li>{escape(detail)}</li>" for detail in entry.details)
    icon = "✗" if entry.role == "failure" else "✎"
    return (
        f'<div class="{classes} aside"{mark}>{before}<span class="icon">{icon}</span> '
        f'<span class="text">{escape(entry.text)}</span>{f"<ul>{details}</ul>" if details else ""}'
        "</div>"
    )


def _block(title: str, shown: Sequence[Shown], note: str, status: str) -> str:
    """One run (or the final chat context): open when it changed or the golden is new."""
    changes = sum(1 for s in shown if s.change)
    events = f"{len(shown)} entr{'y' if len(shown) == 1 else 'ies'}"
    count = f"{changes} change{'' if changes == 1 else 's'}" if changes else events
    if not changes and status == "modified":
        count = f"unchanged, {events}"
    is_open = " open" if changes or note or status == "added" else ""
    extra = f' <span class="was">{escape(note)}</span>' if note else ""
    body = "".join(_entry_html(s) for s in shown) or '<p class="empty">nothing</p>'
    return (
        f'<details class="block"{is_open}><summary><span class="title">{escape(title)}</span>'
        f'{extra} <span class="tally">{count}</span></summary>'
        f'<div class="conversation">{body}</div></details>'
    )


_NO_SESSION: Final = SessionTimeline(runs=(), chat_ctx=None)


def _session_blocks(old: SessionTimeline, new: SessionTimeline, status: str) -> list[str]:
    blocks = []
    old_agent: str | None = None
    new_agent: str | None = None
    for index in range(max(len(old.runs), len(new.runs))):
        old_run = old.runs[index] if index < len(old.runs) else None
        new_run = new.runs[index] if index < len(new.runs) else None
        old_events = () if old_run is None else old_run.events
        new_events = () if new_run is None else new_run.events
        old_entries, old_agent = run_entries(old_events, old_agent)
        new_entries, new_agent = run_entries(new_events, new_agent)
        shown = aligned(align(old_events, new_events), old_entries, new_entries)
        title = run_title(index + 1, new_run or old_run or Run("run", ()))
        note = _run_note(index + 1, old_run, new_run)
        blocks.append(_block(title, shown, note, status))
    if old.chat_ctx is not None or new.chat_ctx is not None:
        blocks.append(_chat_ctx_block(old.chat_ctx, new.chat_ctx, status))
    return blocks


def _chat_ctx_block(old: ChatCtxSnapshot | None, new: ChatCtxSnapshot | None, status: str) -> str:
    old_items = () if old is None else old.items
    new_items = () if new is None else new.items
    alignment = align_items(old_items, new_items)
    shown = aligned(
        alignment, [item_entry(i) for i in old_items], [item_entry(i) for i in new_items]
    )
    agent = ctx_agent(new or old or ChatCtxSnapshot("?", ()))
    note = "" if old is None or ctx_agent(old) == agent else f"was {ctx_agent(old)}"
    return _block(f"final chat context: {agent}", shown, note, status)


def _run_note(number: int, old_run: Run | None, new_run: Run | None) -> str:
    if old_run is None:
        return "new run"
    if new_run is None:
        return "run removed"
    old_title = run_title(number, old_run)
    return "" if old_title == run_title(number, new_run) else f"was {old_title}"


def _golden_html(index: int, change: GoldenChange) -> str:
    heading = (
        f'<h2 id="golden-{index}"><span class="status status-{escape(change.status)}">'
        f"{escape(change.status)}</span> <code>{escape(change.path)}</code></h2>"
    )
    if change.status == "renamed":
        note = f'<p class="summary">{escape(change.summary)}.</p>'
        return f'<section class="golden status-renamed">{heading}{note}</section>'
    if change.problem:
        problem = f'<p class="problem">{escape(change.problem)}</p>'
        return f'<section class="golden">{heading}{problem}</section>'
    # A new or deleted golden is shown as it is, unmarked: its heading says what happened.
    if change.old is not None and change.new is not None:
        old_golden, new_golden = change.old, change.new
        summary = tally(grouped_findings(old_golden, new_golden))
    else:
        old_golden = new_golden = change.new or change.old or Timeline()
        summary = shape(old_golden)
    old_sessions, new_sessions = old_golden.sessions, new_golden.sessions
    parts = [heading, f'<p class="summary">{escape(summary)}</p>']
    several = max(len(old_sessions), len(new_sessions)) > 1
    for index in range(max(len(old_sessions), len(new_sessions))):
        if several:
            parts.append(f"<h3>session {index + 1}</h3>")
        old = old_sessions[index] if index < len(old_sessions) else _NO_SESSION
        new = new_sessions[index] if index < len(new_sessions) else _NO_SESSION
        parts += _session_blocks(old, new, change.status)
    return f'<section class="golden status-{escape(change.status)}">{"".join(parts)}</section>'


def review_page(changes: Sequence[GoldenChange], base: str) -> str:
    """The whole page, one self-contained HTML document."""
    plural = "golden" if len(changes) == 1 else "goldens"
    title = (
        f"{len(changes)} {plural} changed since {base}"
        if changes
        else f"No golden changed since {base}"
    )
    sections = "".join(_golden_html(index, change) for index, change in enumerate(changes, 1))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>snaprun review: {escape(title)}</title><style>{_CSS}</style></head>"
        f'<body><main><header><h1>snaprun review</h1><p class="lead">{escape(title)}</p>'
        '<p class="legend"><span class="chip added">added</span>'
        '<span class="chip removed">removed</span><span class="chip changed">changed</span></p>'
        f"</header>{_index(changes)}{sections}</main></body></html>\n"
    )


def _index(changes: Sequence[GoldenChange]) -> str:
    """A table of contents: each golden, its status and what changed, linked to its section."""
    if len(changes) < 2:
        return ""
    items = "".join(
        f'<li><a href="#golden-{index}"><span class="status status-{escape(change.status)}">'
        f"{escape(change.status)}</span> <code>{escape(change.path)}</code></a> "
        f'<span class="count">{escape(change.summary)}</span></li>'
        for index, change in enumerate(changes, 1)
    )
    return f'<nav class="index"><h2>Goldens</h2><ol>{items}</ol></nav>'


_CSS: Final = """
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#111827;font:15px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif}
main{max-width:920px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:22px;margin:0 0 4px}
.lead{margin:0 0 8px;color:#374151}
.legend{margin:0 0 20px}
.chip{display:inline-block;font-size:12px;padding:1px 8px;margin-right:6px;border-radius:9px;
border:1px solid}
section.golden{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:14px 18px;
margin-bottom:22px}
h2{font-size:16px;margin:0 0 6px;word-break:break-all}
h3{font-size:14px;margin:14px 0 4px;color:#4b5563}
.status{font-size:12px;text-transform:uppercase;letter-spacing:.04em;padding:2px 8px;
border-radius:6px;margin-right:6px;background:#e5e7eb}
.status.status-added{background:#dcfce7;color:#166534}
.status.status-deleted{background:#fee2e2;color:#991b1b}
.status.status-modified{background:#fef3c7;color:#92400e}
.status.status-renamed{background:#e0e7ff;color:#3730a3}
nav.index{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:10px 18px;
margin-bottom:22px}
nav.index ol{margin:0;padding-left:22px}nav.index li{margin:3px 0}
nav.index a{color:inherit;text-decoration:none}.count{color:#4b5563;font-size:13px}
.summary{margin:0 0 8px;color:#4b5563;font-size:14px}
.problem{color:#991b1b}
section.status-deleted .conversation{opacity:.6}
details.block{border-top:1px solid #f0f0f0;padding:6px 0}
summary{cursor:pointer;font-weight:600;font-size:14px}
summary .tally,summary .was{font-weight:400;color:#6b7280;font-size:12px;margin-left:6px}
.conversation{padding:8px 0 4px}
.row{display:flex;margin:5px 0}.row.right{justify-content:flex-end}
.bubble{max-width:72%;padding:7px 12px;border-radius:14px;border:1px solid #e5e7eb;
background:#fff;box-shadow:0 1px 1px rgba(0,0,0,.04)}
.bubble.user{background:#dbeafe;border-color:#bfdbfe;border-bottom-right-radius:4px}
.bubble.agent{border-bottom-left-radius:4px}
.bubble.system{background:#f9fafb;color:#4b5563;font-size:13px}
.who{font-size:11px;font-weight:600;color:#6b7280;margin-bottom:2px}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
.card{margin-left:18px;font-size:12.5px;padding:3px 10px;border-radius:6px;background:#f5f3ff;
border:1px solid #ddd6fe;color:#4c1d95;max-width:80%}
.card code{white-space:pre-wrap;overflow-wrap:anywhere;
font:12.5px ui-monospace,Menlo,Consolas,monospace}
.icon{margin-right:6px;color:#7c3aed}
.divider{display:flex;align-items:center;gap:10px;margin:10px 0;color:#1d4ed8;font-size:12.5px;
font-weight:600}
.divider:before,.divider:after{content:"";flex:1;border-top:1px dashed #93c5fd}
.aside{margin:4px 0 4px 18px;font-size:12.5px;color:#6b7280}
.aside ul{margin:2px 0 0 18px;padding:0;list-style:none}
.aside li{white-space:pre-wrap;overflow-wrap:anywhere}
.failure{color:#b91c1c}
.empty{color:#9ca3af;font-size:13px;margin:4px 0}
.added{background:#dcfce7!important;border-color:#16a34a!important;color:#14532d}
.removed{background:#fee2e2!important;border-color:#dc2626!important;color:#7f1d1d}
.removed .text,.removed code,.removed>span,.removed li{text-decoration:line-through}
.changed{background:#fef3c7!important;border-color:#d97706!important;color:#78350f}
.aside.added,.aside.removed,.aside.changed,.divider.added,.divider.removed,.divider.changed{
border:1px solid;border-radius:6px;padding:3px 8px}
.before{font-size:12px;color:#92400e;margin-bottom:2px;white-space:pre-wrap;overflow-wrap:anywhere}
.before del{color:#b45309}
"""
