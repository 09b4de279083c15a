"""Event-level diff of two snaprun goldens.

When a test's transcript does not match its golden, this report is printed before
syrupy's line diff. It says, one line per finding and in run order, which events
went missing, appeared, were duplicated, changed or moved. Events and values are
worded by describe.py, as every other message of snaprun names them.

Both goldens arrive as plain data already loaded from YAML::

    runs:
    - kind: start                  # start | run | say | generate_reply | background
      input: ...                   # only for kind run
      events:
      - message: {role: assistant, text: ...}   # one-key mapping {kind: fields}
    chat_ctx: {agent: SecondAgent, items: [{role: system, text: ...}, ...]}

or, for a test with several AgentSessions, ``sessions: [{runs: ..., chat_ctx: ...}]``.
A hand-edited golden may be anything, so nothing here raises: a part that does not
have the expected shape is compared as a whole and reported as
``golden has an unexpected shape at <path>``, where the path counts from 1 like the
rest of the report (``runs[2].events`` is the events of run 2).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from snaprun.describe import (
    ABSENT,
    Splitter,
    canonical,
    describe_entry,
    json_line,
    one_line,
    run_label,
    same,
    show_change,
    split_event,
    split_item,
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


def _without(mapping: Mapping[object, object], key: str) -> dict[object, object]:
    return {name: value for name, value in mapping.items() if name != key}


def _mapping_changes(old: Mapping[object, object], new: Mapping[object, object]) -> list[str]:
    return [_with_path(path, change) for path, change in _field_changes(old, new)]


# --- aligning entry lists -------------------------------------------------------------

_Opcode = tuple[str, int, int, int, int]


@dataclass
class _Alignment:
    """Two entry lists matched by difflib, with their unmatched positions still to explain."""

    expected: list[object]
    actual: list[object]
    noun: str
    split: Splitter
    expected_keys: list[str]
    actual_keys: list[str]
    opcodes: Sequence[_Opcode]
    removed: list[int]
    """Expected positions not yet explained."""
    inserted: list[int]
    """Actual positions not yet explained."""
    findings: list[tuple[int, int, int, str]] = field(default_factory=list)
    """(expected position, 0 for expected / 1 for actual, own position, text), to sort."""

    def describe_expected(self, index: int) -> str:
        return describe_entry(self.expected[index], self.split)

    def describe_actual(self, index: int) -> str:
        return describe_entry(self.actual[index], self.split)

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


def _align(expected: list[object], actual: list[object], noun: str, split: Splitter) -> _Alignment:
    expected_keys = [canonical(entry) for entry in expected]
    actual_keys = [canonical(entry) for entry in actual]
    matcher = difflib.SequenceMatcher(None, expected_keys, actual_keys, autojunk=False)
    opcodes = matcher.get_opcodes()
    unmatched = [opcode for opcode in opcodes if opcode[0] != "equal"]
    return _Alignment(
        expected=expected,
        actual=actual,
        noun=noun,
        split=split,
        expected_keys=expected_keys,
        actual_keys=actual_keys,
        opcodes=opcodes,
        removed=[i for _, i1, i2, _, _ in unmatched for i in range(i1, i2)],
        inserted=[j for _, _, _, j1, j2 in unmatched for j in range(j1, j2)],
    )


def _anchor(opcodes: Sequence[_Opcode], index: int) -> int:
    """The expected position an actual position sits at, to order the findings."""
    for _, i1, i2, j1, j2 in opcodes:
        if j1 <= index < j2:
            return i1 + min(index - j1, max(i2 - i1 - 1, 0))
    return 0


def _report_moves(alignment: _Alignment) -> None:
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


def _report_duplicates(alignment: _Alignment) -> None:
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


def _kind(entry: object, split: Splitter) -> str | None:
    parts = split(entry)
    return None if parts is None else parts[0]


def _pair_by_kind(
    alignment: _Alignment, removed: list[int], inserted: list[int]
) -> list[tuple[int, int]]:
    """Pair entries of one replaced block in order, an expected one with the next of its kind."""
    pairs: list[tuple[int, int]] = []
    start = 0
    for i in removed:
        kind = _kind(alignment.expected[i], alignment.split)
        for offset in range(start, len(inserted)):
            j = inserted[offset]
            if kind is not None and kind == _kind(alignment.actual[j], alignment.split):
                pairs.append((i, j))
                start = offset + 1
                break
    return pairs


def _changed_lines(alignment: _Alignment, i: int, j: int) -> list[str]:
    label = f"changed {alignment.noun} {i + 1} —"
    old, new = alignment.split(alignment.expected[i]), alignment.split(alignment.actual[j])
    changes = _field_changes(old[1], new[1]) if old is not None and new is not None else []
    if old is None or not changes:
        return [f"{label} {alignment.describe_expected(i)} → {alignment.describe_actual(j)}"]
    return [f"{label} {old[0]}: {_with_path(path, change)}" for path, change in changes]


def _report_changes(alignment: _Alignment) -> None:
    """In a replaced block, an expected entry and an actual one of the same kind changed."""
    removed, inserted = set(alignment.removed), set(alignment.inserted)
    pairs: list[tuple[int, int]] = []
    for tag, i1, i2, j1, j2 in alignment.opcodes:
        if tag == "replace":
            block_removed = [i for i in range(i1, i2) if i in removed]
            block_inserted = [j for j in range(j1, j2) if j in inserted]
            pairs += _pair_by_kind(alignment, block_removed, block_inserted)
    for i, j in pairs:
        for text in _changed_lines(alignment, i, j):
            alignment.add_expected(i, text)
    alignment.settle({i for i, _ in pairs}, {j for _, j in pairs})


def _report_rest(alignment: _Alignment) -> None:
    noun = alignment.noun
    for i in alignment.removed:
        alignment.add_expected(i, f"missing {noun} {i + 1} — {alignment.describe_expected(i)}")
    for j in alignment.inserted:
        alignment.add_actual(j, f"unexpected {noun} {j + 1} — {alignment.describe_actual(j)}")


def _diff_entries(
    expected: list[object], actual: list[object], noun: str, split: Splitter
) -> list[str]:
    """Findings between two entry lists (events of a run, or chat_ctx items), in order."""
    alignment = _align(expected, actual, noun, split)
    _report_moves(alignment)
    _report_duplicates(alignment)
    _report_changes(alignment)
    _report_rest(alignment)
    return alignment.lines()


# --- walking the golden ---------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    """Which session a part belongs to, for messages and for shape paths."""

    session: int | None = None
    """Shown in messages only when the test has more than one session."""
    path: str = ""
    """Data path of the session, e.g. `sessions[2].`, empty for the single form."""

    def where(self, label: str) -> str:
        return label if self.session is None else f"session {self.session}, {label}"

    def prefix(self) -> str:
        return "" if self.session is None else f"session {self.session}: "


def _shape_lines(path: str, expected: object, actual: object, expected_fits: bool) -> list[str]:
    """One part could not be walked into: compare it as a whole."""
    if same(expected, actual):
        return []
    who = "transcript" if expected_fits else "golden"
    return [f"{who} has an unexpected shape at {path}"]


def _list_field(mapping: Mapping[object, object], key: str) -> list[object] | None:
    """The list under `key` (an absent key is an empty list); None if it is not a list."""
    value = mapping.get(key, [])
    return list(value) if isinstance(value, list | tuple) else None


def _mapping_field(mapping: Mapping[object, object], key: str) -> Mapping[object, object] | None:
    """The mapping under `key` (an absent key is an empty mapping); None if not a mapping."""
    value = mapping.get(key, {})
    return value if isinstance(value, Mapping) else None


def _diff_listed(
    key: str,
    expected: Mapping[object, object],
    actual: Mapping[object, object],
    compare: Callable[[list[object], list[object]], list[str]],
    path: str,
) -> list[str]:
    """Compare the lists under `key` (at `path`), or as a whole if either is no list."""
    expected_list, actual_list = _list_field(expected, key), _list_field(actual, key)
    if expected_list is None or actual_list is None:
        return _shape_lines(path, expected.get(key), actual.get(key), expected_list is not None)
    return compare(expected_list, actual_list)


def _diff_entries_under(
    key: str,
    expected: Mapping[object, object],
    actual: Mapping[object, object],
    where: str,
    path: str,
) -> list[str]:
    """Fields next to the `key` list as `where: field old → new`, then the list's entries."""
    noun, split = ("event", split_event) if key == "events" else ("item", split_item)

    def compare(old: list[object], new: list[object]) -> list[str]:
        return [f"{where}: {line}" for line in _diff_entries(old, new, noun, split)]

    fields = _mapping_changes(_without(expected, key), _without(actual, key))
    listed = _diff_listed(key, expected, actual, compare, f"{path}.{key}")
    return [f"{where}: {line}" for line in fields] + listed


def _diff_run(number: int, expected: object, actual: object, place: _Place) -> list[str]:
    path = f"{place.path}runs[{number}]"
    if not isinstance(expected, Mapping) or not isinstance(actual, Mapping):
        return _shape_lines(path, expected, actual, isinstance(expected, Mapping))
    where = place.where(run_label(number, expected))
    return _diff_entries_under("events", expected, actual, where, path)


def _diff_runs(expected: list[object], actual: list[object], place: _Place) -> list[str]:
    lines: list[str] = []
    for index in range(max(len(expected), len(actual))):
        number = index + 1
        if index >= len(actual):
            lines.append(f"{place.where(run_label(number, expected[index]))}: missing run")
        elif index >= len(expected):
            lines.append(f"{place.where(run_label(number, actual[index]))}: unexpected run")
        else:
            lines += _diff_run(number, expected[index], actual[index], place)
    return lines


def _diff_chat_ctx(
    expected: Mapping[object, object], actual: Mapping[object, object], place: _Place
) -> list[str]:
    if "chat_ctx" not in expected and "chat_ctx" not in actual:
        return []
    path = f"{place.path}chat_ctx"
    expected_ctx = _mapping_field(expected, "chat_ctx")
    actual_ctx = _mapping_field(actual, "chat_ctx")
    if expected_ctx is None or actual_ctx is None:
        return _shape_lines(
            path, expected.get("chat_ctx"), actual.get("chat_ctx"), expected_ctx is not None
        )
    return _diff_entries_under("items", expected_ctx, actual_ctx, place.where("chat_ctx"), path)


def _diff_session(expected: object, actual: object, place: _Place) -> list[str]:
    if not isinstance(expected, Mapping) or not isinstance(actual, Mapping):
        path = place.path.rstrip(".") or "top level"
        return _shape_lines(path, expected, actual, isinstance(expected, Mapping))
    runs = _diff_listed(
        "runs", expected, actual, lambda old, new: _diff_runs(old, new, place), f"{place.path}runs"
    )
    chat_ctx = _diff_chat_ctx(expected, actual, place)
    others = _mapping_changes(_without_parts(expected), _without_parts(actual))
    return runs + chat_ctx + [place.prefix() + line for line in others]


def _without_parts(session: Mapping[object, object]) -> dict[object, object]:
    return {key: value for key, value in session.items() if key not in ("runs", "chat_ctx")}


def _sessions(golden: object) -> list[object] | None:
    """The sessions of a golden (the single form is one session); None if it has no shape."""
    if not isinstance(golden, Mapping):
        return None
    if "sessions" not in golden:
        return [golden]
    sessions = golden["sessions"]
    return list(sessions) if isinstance(sessions, list | tuple) else None


def _has_sessions_key(golden: object) -> bool:
    return isinstance(golden, Mapping) and "sessions" in golden


def _top_rest(golden: object) -> dict[object, object]:
    """Top-level keys next to `sessions:`, compared as plain fields."""
    if isinstance(golden, Mapping) and "sessions" in golden:
        return _without(golden, "sessions")
    return {}


def _diff_sessions(expected: list[object], actual: list[object], numbered: bool) -> list[str]:
    several = max(len(expected), len(actual)) > 1
    lines: list[str] = []
    for index in range(max(len(expected), len(actual))):
        number = index + 1
        if index >= len(actual):
            lines.append(f"session {number}: missing session")
        elif index >= len(expected):
            lines.append(f"session {number}: unexpected session")
        else:
            place = _Place(
                session=number if several else None,
                path=f"sessions[{number}]." if numbered else "",
            )
            lines += _diff_session(expected[index], actual[index], place)
    return lines


def _diff(expected: object, actual: object) -> list[str]:
    expected_sessions, actual_sessions = _sessions(expected), _sessions(actual)
    if expected_sessions is None or actual_sessions is None:
        bad = expected if expected_sessions is None else actual
        path = "sessions" if isinstance(bad, Mapping) else "top level"
        return _shape_lines(path, expected, actual, expected_sessions is not None)
    numbered = _has_sessions_key(expected) or _has_sessions_key(actual)
    lines = _diff_sessions(expected_sessions, actual_sessions, numbered)
    return lines + _mapping_changes(_top_rest(expected), _top_rest(actual))


def diff_goldens(expected: object, actual: object) -> list[str]:
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
        golden has an unexpected shape at runs[2].events

    With several sessions, lines start with `session N, `. Never raises.
    """
    try:
        return [one_line(line) for line in _diff(expected, actual)]
    except Exception as error:  # a hand-edited golden must never make the report fail
        return [f"snaprun could not compare the goldens event by event ({type(error).__name__})"]


def format_report(lines: Sequence[str]) -> str:
    """The findings under a heading, indented; an empty string when there are none."""
    if not lines:
        return ""
    places = "place" if len(lines) == 1 else "places"
    heading = f"snaprun: the transcript differs from its golden in {len(lines)} {places}:"
    return "\n".join([heading, *(f"  {line}" for line in lines)])
