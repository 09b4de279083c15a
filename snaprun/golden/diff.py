"""Event-level diff of two snaprun goldens.

When a test's transcript does not match its golden, this report is printed before
syrupy's line diff. It says, one line per finding and in run order, which events
went missing, appeared, were duplicated, changed or moved. Events and values are
worded by describe.py, as every other message of snaprun names them.

Both goldens arrive parsed (`Timeline.from_data`), so their shape is known; an event is
compared as the `{kind: fields}` data the golden holds, so a changed field is named by
its key in the file (`arguments.city`). `align` is also how the review page pairs the
events it draws.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from snaprun.canonical import canonical_json
from snaprun.describe import (
    ABSENT,
    describe_event,
    json_line,
    one_line,
    run_label,
    same,
    show_change,
)
from snaprun.timeline import (
    AnyEvent,
    ChatCtxSnapshot,
    ChatItem,
    Data,
    Run,
    SessionTimeline,
    Timeline,
    event_to_data,
)

# --- comparing fields -----------------------------------------------------------------


def _join(path: str, key: object) -> str:
    name = key if isinstance(key, str) else json_line(key)
    return f"{path}.{name}" if path else name


def _field_changes(old: object, new: object, path: str = "") -> list[tuple[str, str]]:
    """(dotted path, `old → new`) for each leaf that differs; mappings are walked into."""
    if old is not ABSENT and new is not ABSENT and same(old, new):
        return []
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        keys = [*old, *(key for key in new if key not in old)]
        changes: list[tuple[str, str]] = []
        for key in keys:
            old_value, new_value = old.get(key, ABSENT), new.get(key, ABSENT)
            changes += _field_changes(old_value, new_value, _join(path, key))
        return changes
    return [(path, show_change(old, new))]


def _with_path(path: str, change: str) -> str:
    return f"{path} {change}" if path else change


def _without(mapping: Mapping[str, object], key: str) -> dict[str, object]:
    return {name: value for name, value in mapping.items() if name != key}


def _mapping_changes(old: Mapping[str, object], new: Mapping[str, object]) -> list[str]:
    return [_with_path(path, change) for path, change in _field_changes(old, new)]


# --- aligning entry lists -------------------------------------------------------------

_Opcode = tuple[str, int, int, int, int]
Part = TypeVar("Part")
_Entry = Data
"""An event or chat item as the golden holds it: `{kind: fields}`."""


def _kind(entry: _Entry) -> str:
    return next(iter(entry))


@dataclass
class Alignment:
    """Two entry lists matched by difflib, and what each unmatched position became."""

    expected: list[_Entry]
    actual: list[_Entry]
    noun: str
    expected_keys: list[str]
    actual_keys: list[str]
    opcodes: Sequence[_Opcode]
    removed: list[int]
    """Expected positions not yet explained."""
    inserted: list[int]
    """Actual positions not yet explained."""
    changed: dict[int, int] = field(default_factory=dict)
    """Actual position → the expected one it changed from (same kind, in one replaced block)."""
    findings: list[tuple[int, int, int, str]] = field(default_factory=list)
    """(expected position, 0 for expected / 1 for actual, own position, text), to sort."""

    def describe_expected(self, index: int) -> str:
        return describe_event(self.expected[index])

    def describe_actual(self, index: int) -> str:
        return describe_event(self.actual[index])

    def add_expected(self, index: int, text: str) -> None:
        self.findings.append((index, 0, index, text))

    def add_actual(self, index: int, text: str) -> None:
        self.findings.append((_anchor(self.opcodes, index), 1, index, text))

    def settle(self, expected: set[int], actual: set[int]) -> None:
        """Take explained positions out of the ones still to explain."""
        self.removed = [i for i in self.removed if i not in expected]
        self.inserted = [j for j in self.inserted if j not in actual]

    def lines(self) -> list[str]:
        return [text for *_, text in sorted(self.findings, key=lambda finding: finding[:3])]


def _aligned(expected: list[_Entry], actual: list[_Entry], noun: str) -> Alignment:
    expected_keys = [canonical_json(entry) for entry in expected]
    actual_keys = [canonical_json(entry) for entry in actual]
    matcher = difflib.SequenceMatcher(None, expected_keys, actual_keys, autojunk=False)
    opcodes = matcher.get_opcodes()
    unmatched = [opcode for opcode in opcodes if opcode[0] != "equal"]
    alignment = Alignment(
        expected=expected,
        actual=actual,
        noun=noun,
        expected_keys=expected_keys,
        actual_keys=actual_keys,
        opcodes=opcodes,
        removed=[i for _, i1, i2, _, _ in unmatched for i in range(i1, i2)],
        inserted=[j for _, _, _, j1, j2 in unmatched for j in range(j1, j2)],
    )
    _report_moves(alignment)
    _report_duplicates(alignment)
    _report_changes(alignment)
    _report_rest(alignment)
    return alignment


def _anchor(opcodes: Sequence[_Opcode], index: int) -> int:
    """The expected position an actual position sits at, to order the findings."""
    for _, i1, i2, j1, j2 in opcodes:
        if j1 <= index < j2:
            return i1 + min(index - j1, max(i2 - i1 - 1, 0))
    return 0


def _report_moves(alignment: Alignment) -> None:
    """An entry gone from one place with an identical one new elsewhere has moved."""
    waiting: dict[str, list[int]] = {}
    for j in alignment.inserted:
        waiting.setdefault(alignment.actual_keys[j], []).append(j)
    pairs = []
    for i in alignment.removed:
        candidates = waiting.get(alignment.expected_keys[i])
        if candidates:
            pairs.append((i, candidates.pop(0)))
    for i, j in pairs:
        text = f"moved {alignment.noun} {i + 1} — {alignment.describe_expected(i)} (now at {j + 1})"
        alignment.add_expected(i, text)
    alignment.settle({i for i, _ in pairs}, {j for _, j in pairs})


def _report_duplicates(alignment: Alignment) -> None:
    """A new entry identical to an expected one is an extra copy of it."""
    expected_counts = Counter(alignment.expected_keys)
    actual_counts = Counter(alignment.actual_keys)
    copies = [j for j in alignment.inserted if expected_counts[alignment.actual_keys[j]]]
    for j in copies:
        key = alignment.actual_keys[j]
        times = f"({actual_counts[key]} times, expected {expected_counts[key]})"
        text = f"duplicated {alignment.noun} {j + 1} — {alignment.describe_actual(j)} {times}"
        alignment.add_actual(j, text)
    alignment.settle(set(), set(copies))


def _pair_by_kind(
    alignment: Alignment, removed: list[int], inserted: list[int]
) -> list[tuple[int, int]]:
    """Pair entries of one replaced block in order, an expected one with the next of its kind."""
    pairs: list[tuple[int, int]] = []
    start = 0
    for i in removed:
        kind = _kind(alignment.expected[i])
        for offset in range(start, len(inserted)):
            j = inserted[offset]
            if kind == _kind(alignment.actual[j]):
                pairs.append((i, j))
                start = offset + 1
                break
    return pairs


def _changed_lines(alignment: Alignment, i: int, j: int) -> list[str]:
    label = f"changed {alignment.noun} {i + 1} —"
    ((kind, old),), ((_, new),) = alignment.expected[i].items(), alignment.actual[j].items()
    changes = _field_changes(old, new)
    if not changes:
        return [f"{label} {alignment.describe_expected(i)} → {alignment.describe_actual(j)}"]
    return [f"{label} {kind}: {_with_path(path, change)}" for path, change in changes]


def _report_changes(alignment: Alignment) -> None:
    """In a replaced block, an expected entry and an actual one of the same kind changed."""
    removed, inserted = set(alignment.removed), set(alignment.inserted)
    pairs: list[tuple[int, int]] = []
    for tag, i1, i2, j1, j2 in alignment.opcodes:
        if tag == "replace":
            block_removed = [i for i in range(i1, i2) if i in removed]
            block_inserted = [j for j in range(j1, j2) if j in inserted]
            pairs += _pair_by_kind(alignment, block_removed, block_inserted)
    for i, j in pairs:
        alignment.changed[j] = i
        for text in _changed_lines(alignment, i, j):
            alignment.add_expected(i, text)
    alignment.settle({i for i, _ in pairs}, {j for _, j in pairs})


def _report_rest(alignment: Alignment) -> None:
    noun = alignment.noun
    for i in alignment.removed:
        alignment.add_expected(i, f"missing {noun} {i + 1} — {alignment.describe_expected(i)}")
    for j in alignment.inserted:
        alignment.add_actual(j, f"unexpected {noun} {j + 1} — {alignment.describe_actual(j)}")


# --- walking the timelines -------------------------------------------------------------


def align(expected: Sequence[AnyEvent], actual: Sequence[AnyEvent]) -> Alignment:
    """Two event lists matched: equal ones by difflib, then moved, duplicated, changed ones."""
    as_data = [event_to_data(event) for event in expected]
    return _aligned(as_data, [event_to_data(event) for event in actual], "event")


def align_items(expected: Sequence[ChatItem], actual: Sequence[ChatItem]) -> Alignment:
    """Two chat-context item lists matched as `align` matches events."""
    as_data = [item.to_data_as_event() for item in expected]
    return _aligned(as_data, [item.to_data_as_event() for item in actual], "item")


def _prefixed(where: str, lines: list[str]) -> list[str]:
    return [f"{where}: {line}" for line in lines]


def _diff_run(expected: Run, actual: Run, where: str) -> list[str]:
    fields = _mapping_changes(
        _without(expected.to_data(), "events"), _without(actual.to_data(), "events")
    )
    events = align(expected.events, actual.events).lines()
    return _prefixed(where, fields + events)


def _by_position(
    expected: Sequence[Part],
    actual: Sequence[Part],
    noun: str,
    label: Callable[[int, Part], str],
    compare: Callable[[int, Part, Part], list[str]],
) -> list[str]:
    """Runs (or sessions) matched by position: one more on a side is missing or unexpected."""
    lines: list[str] = []
    for index in range(max(len(expected), len(actual))):
        number = index + 1
        if index >= len(actual):
            lines.append(f"{label(number, expected[index])}: missing {noun}")
        elif index >= len(expected):
            lines.append(f"{label(number, actual[index])}: unexpected {noun}")
        else:
            lines += compare(number, expected[index], actual[index])
    return lines


def _diff_runs(expected: Sequence[Run], actual: Sequence[Run], session: str) -> list[str]:
    def label(number: int, run: Run) -> str:
        return session + run_label(number, run)

    def compare(number: int, old: Run, new: Run) -> list[str]:
        return _diff_run(old, new, label(number, old))

    return _by_position(expected, actual, "run", label, compare)


def _ctx_fields(chat_ctx: ChatCtxSnapshot | None) -> dict[str, object]:
    return {} if chat_ctx is None else {"agent": chat_ctx.agent}


def _diff_chat_ctx(
    expected: ChatCtxSnapshot | None, actual: ChatCtxSnapshot | None, session: str
) -> list[str]:
    if expected is None and actual is None:
        return []
    fields = _mapping_changes(_ctx_fields(expected), _ctx_fields(actual))
    old_items = () if expected is None else expected.items
    new_items = () if actual is None else actual.items
    return _prefixed(f"{session}chat_ctx", fields + align_items(old_items, new_items).lines())


def _diff_sessions(expected: Timeline, actual: Timeline) -> list[str]:
    several = max(len(expected.sessions), len(actual.sessions)) > 1

    def compare(number: int, old: SessionTimeline, new: SessionTimeline) -> list[str]:
        session = f"session {number}, " if several else ""
        runs = _diff_runs(old.runs, new.runs, session)
        return runs + _diff_chat_ctx(old.chat_ctx, new.chat_ctx, session)

    return _by_position(
        expected.sessions, actual.sessions, "session", lambda n, _: f"session {n}", compare
    )


def diff_goldens(expected: Timeline, actual: Timeline) -> list[str]:
    """Findings between a golden (`expected`) and a new transcript (`actual`), in run order.

    Runs are matched by position and labelled `run N (start)`, `run N (input "...")` or
    `run N (kind "say")`; their events are aligned with difflib. Each finding is one of::

        run 2 (input "Hi"): missing event 7 — <event>            (K counts in the golden)
        run 2 (input "Hi"): unexpected event 7 — <event>         (K counts in the transcript)
        run 2 (input "Hi"): duplicated event 5 — <event> (2 times, expected 1)
        run 2 (input "Hi"): changed event 3 — message: text "old" → "new"
        run 2 (input "Hi"): moved event 3 — <event> (now at 2)
        run 3 (kind "say"): missing run / unexpected run
        chat_ctx: agent "A" → "B"
        chat_ctx: missing item 2 — <item>                        (and the other kinds)

    With several sessions, lines start with `session N, `.
    """
    return [one_line(line) for line in _diff_sessions(expected, actual)]


def format_report(lines: Sequence[str]) -> str:
    """The findings under a heading, indented; an empty string when there are none."""
    if not lines:
        return ""
    places = "place" if len(lines) == 1 else "places"
    heading = f"snaprun: the transcript differs from its golden in {len(lines)} {places}:"
    return "\n".join([heading, *(f"  {line}" for line in lines)])
