"""What a change to the goldens did, event by event, as Markdown for a pull request.

`snaprun review` lists each golden that differs from a base revision. A modified golden is
summarised with diff.diff_goldens' findings, grouped by run and reworded from the failing
test's side ("missing", "unexpected") to the change's side ("removed", "added"); an added or
deleted golden lists its events. `review_page` draws the same changes as a web page.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from snaprun import yamlio
from snaprun.cli.project import CommandError, Project
from snaprun.describe import describe_event, describe_item, run_label, shorten
from snaprun.golden.diff import diff_goldens
from snaprun.paths import shown
from snaprun.shape import GoldenShapeError
from snaprun.timeline import Run, Timeline


@dataclass(frozen=True)
class GoldenChange:
    """One golden that differs between the base revision and the working tree."""

    path: str
    status: str
    """added, deleted, modified or renamed."""
    old: Timeline | None = None
    """The base revision's golden, read; None when added or unreadable."""
    new: Timeline | None = None
    """The working tree's golden, read; None when deleted or unreadable."""
    problem: str = ""
    """Why a side could not be read, e.g. `the working-tree version is not valid YAML: …`."""
    renamed_from: str = ""
    """For a renamed golden, where it was: a renamed test moves its golden, events unchanged."""

    @property
    def summary(self) -> str:
        """One line on what changed: `1 event added`, `New golden: 1 run, 2 events`."""
        if self.problem:
            return "snaprun could not compare it"
        if self.status == "renamed":
            return f"Renamed from {self.renamed_from}; no event changed"
        if self.old is not None and self.new is not None:
            return tally(grouped_findings(self.old, self.new))
        golden = self.new or self.old or Timeline()
        return f"{'New' if self.new is not None else 'Deleted'} golden: {shape(golden)}"


_REWORDED: Final = {"missing": "removed", "unexpected": "added"}
"""diff.py speaks from a failing test's side; a review speaks of what the change did."""

_DIFF_MARKS: Final = {"added": "+", "duplicated": "+", "removed": "-", "changed": "!", "moved": "~"}
_TALLY_ORDER: Final = ("added", "removed", "changed", "moved", "duplicated")


def run_groups(old: Timeline, new: Timeline) -> list[str]:
    """The place labels diff.diff_goldens starts its lines with, longest first."""
    several = max(len(old.sessions), len(new.sessions)) > 1
    labels = []
    for index in range(max(len(old.sessions), len(new.sessions))):
        prefix = f"session {index + 1}, " if several else ""
        old_runs, new_runs = _runs(old, index), _runs(new, index)
        for number in range(1, max(len(old_runs), len(new_runs)) + 1):
            run = old_runs[number - 1] if number <= len(old_runs) else new_runs[number - 1]
            labels.append(prefix + run_label(number, run))
        labels.append(prefix + "chat_ctx")
    return sorted(labels, key=len, reverse=True)


def _runs(golden: Timeline, index: int) -> tuple[Run, ...]:
    return golden.sessions[index].runs if index < len(golden.sessions) else ()


def grouped_findings(old: Timeline, new: Timeline) -> dict[str, list[str]]:
    """diff.diff_goldens lines by run (or chat_ctx), reworded as changes: `added event 8 — …`."""
    labels = run_groups(old, new)
    groups: dict[str, list[str]] = {}
    for line in diff_goldens(old, new):
        label = next((label for label in labels if line.startswith(label + ": ")), "")
        rest = line[len(label) + 2 :] if label else line
        word, space, tail = rest.partition(" ")
        groups.setdefault(label, []).append(_REWORDED.get(word, word) + space + tail)
    return groups


def tally(groups: Mapping[str, Sequence[str]]) -> str:
    """`1 event added, 2 events changed`: each event once, however many fields changed."""
    seen: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for label, lines in groups.items():
        for line in lines:
            noun, word, number = _counted(label, line)
            seen.setdefault((noun, word), set()).add((label, number))
    parts = []
    for noun in _NOUNS:
        for word in _TALLY_ORDER:
            count = len(seen.get((noun, word), ()))
            if count:
                parts.append(f"{count} {noun}{'' if count == 1 else 's'} {word}")
    return ", ".join(parts) or "no event changed (formatting only)"


_NOUNS: Final = ("session", "run", "event", "chat context item", "chat context", "golden field")


def _counted(label: str, line: str) -> tuple[str, str, str]:
    """(noun, change, which) a finding counts as: `changed event 3` is (event, changed, 3)."""
    words = line.split(" ")
    if len(words) >= 2 and words[0] in _TALLY_ORDER and words[1] in ("event", "item"):
        noun = "chat context item" if words[1] == "item" else "event"
        return noun, words[0], words[2] if len(words) > 2 else ""
    if len(words) == 2 and words[0] in _TALLY_ORDER and words[1] in ("run", "session"):
        return words[1], words[0], ""
    # A field next to the lists changed: a run's input, the chat context's agent.
    if label.endswith("chat_ctx"):
        return "chat context", "changed", ""
    if "run " in label:
        return "run", "changed", ""
    return "golden field", "changed", line


def shape(golden: Timeline) -> str:
    """`2 runs, 11 events`."""
    runs = [run for session in golden.sessions for run in session.runs]
    events = sum(len(run.events) for run in runs)
    plural = "" if len(runs) == 1 else "s"
    return f"{len(runs)} run{plural}, {events} event{'' if events == 1 else 's'}"


def _whole_golden_lines(golden: Timeline, mark: str) -> list[str]:
    """Every event of a golden added or deleted as a whole, for a ```diff block."""
    lines = []
    sessions = golden.sessions
    for index, session in enumerate(sessions):
        prefix = f"session {index + 1}, " if len(sessions) > 1 else ""
        for number, run in enumerate(session.runs, start=1):
            lines.append(f"@@ {prefix}{run_label(number, run)} @@")
            lines += [f"{mark} {describe_event(event)}" for event in run.events]
        if session.chat_ctx is not None and session.chat_ctx.items:
            lines.append(f"@@ {prefix}chat_ctx ({shorten(session.chat_ctx.agent)}) @@")
            lines += [f"{mark} {describe_item(item)}" for item in session.chat_ctx.items]
    return lines


def _code_span(text: str) -> str:
    fence = "`" * (_longest_backticks(text) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _longest_backticks(text: str) -> int:
    longest = current = 0
    for char in text:
        current = current + 1 if char == "`" else 0
        longest = max(longest, current)
    return longest


def _golden_markdown(change: GoldenChange) -> list[str]:
    lines = [f"### {change.status}: {_code_span(change.path)}", ""]
    if change.problem:
        return [*lines, f"snaprun could not compare it: {shorten(change.problem, 300)}", ""]
    if change.status == "renamed":
        return [*lines, f"Renamed from {_code_span(change.renamed_from)}; no event changed.", ""]
    if change.old is not None and change.new is not None:
        groups = grouped_findings(change.old, change.new)
        body = []
        for label, findings in groups.items():
            body.append(f"@@ {label or 'golden'} @@")
            body += [f"{_DIFF_MARKS.get(line.split(' ')[0], ' ')} {line}" for line in findings]
        lines += [tally(groups) + ".", ""]
    else:
        mark = "+" if change.new is not None else "-"
        golden = change.new or change.old or Timeline()
        body = _whole_golden_lines(golden, mark)
        lines += [f"{'New' if mark == '+' else 'Deleted'} golden: {shape(golden)}.", ""]
    # Lines of a diff block start with a mark or "@@", never with a backtick: ``` is safe.
    return [*lines, "```diff", *body, "```", ""] if body else lines


def review_markdown(changes: Sequence[GoldenChange], base: str) -> str:
    """The review as Markdown for a PR comment or `$GITHUB_STEP_SUMMARY`."""
    if not changes:
        return f"## snaprun review\n\nNo golden changed since {_code_span(base)}.\n"
    plural = "golden" if len(changes) == 1 else "goldens"
    lines = [f"## snaprun review: {len(changes)} {plural} changed since {_code_span(base)}", ""]
    for change in changes:
        lines += _golden_markdown(change)
    return "\n".join(lines)


# --- what changed since the base revision ---------------------------------------------


def _git(args: Sequence[str], cwd: Path) -> bytes:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise CommandError("snaprun review: git is not installed (or not on PATH)") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CommandError(f"snaprun review: git {args[0]} failed: {' '.join(message[-1:])}")
    return result.stdout


def repository_top(cwd: Path) -> Path:
    """The top of the git work tree holding `cwd`."""
    try:
        return Path(_git(["rev-parse", "--show-toplevel"], cwd).decode().strip())
    except CommandError:
        raise CommandError(f"snaprun review: {shown(cwd)} is not in a git repository") from None


def base_commit(ref: str, top: Path) -> tuple[str, str]:
    """(commit to compare with, how to name it): the merge base of REF and HEAD.

    On a branch, REF's own newer commits are not this change's, so the comparison starts
    where the branch left REF, as a pull request's diff does.
    """
    try:
        commit = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top)
    except CommandError:
        raise CommandError(f"snaprun review: {ref!r} is not a git revision here") from None
    commit_id = commit.decode().strip()
    try:
        merge_base = _git(["merge-base", commit_id, "HEAD"], top).decode().strip()
    except CommandError:
        return commit_id, ref
    if merge_base == commit_id:
        return commit_id, ref
    return merge_base, f"{ref} (merge base {merge_base[:10]})"


def changed_goldens(project: Project, top: Path, commit: str) -> list[GoldenChange]:
    """Goldens that differ between `commit` and the working tree, new untracked ones too."""
    try:
        snapshots = project.snapshot_dir.resolve().relative_to(top.resolve()).as_posix()
    except ValueError:
        raise CommandError(
            f"snaprun review: the snapshot dir {shown(project.snapshot_dir)} is outside the "
            f"git repository {top}"
        ) from None
    # -z: paths come raw, whatever characters a parametrized test id put in them.
    fields = _git(
        ["diff", "--name-status", "--no-renames", "-z", commit, "--", snapshots], top
    ).split(b"\0")
    statuses = {
        os.fsdecode(path): _STATUS.get(status.decode()[:1], "modified")
        for status, path in zip(fields[::2], fields[1::2], strict=False)
    }
    untracked = _git(["ls-files", "--others", "--exclude-standard", "-z", "--", snapshots], top)
    for path in filter(None, untracked.split(b"\0")):
        statuses[os.fsdecode(path)] = "added"
    # Modified goldens first: they are what a reviewer has to read closely.
    ordered = sorted(statuses.items(), key=lambda item: (_ORDER.index(item[1]), item[0]))
    changes = [
        _change(top, commit, path, status) for path, status in ordered if path.endswith(".yaml")
    ]
    return _with_renames(changes)


_STATUS: Final = {"A": "added", "D": "deleted"}
_ORDER: Final = ("modified", "added", "deleted")


def _with_renames(changes: Sequence[GoldenChange]) -> list[GoldenChange]:
    """A deleted golden and an added one holding the same events are one renamed golden (a
    renamed test), listed after the modified ones."""
    added = [change for change in changes if change.status == "added" and change.new]
    renamed: list[GoldenChange] = []
    kept: list[GoldenChange] = []
    for change in changes:
        twin = next((a for a in added if change.status == "deleted" and a.new == change.old), None)
        if twin is None:
            kept.append(change)
            continue
        added.remove(twin)
        renamed.append(
            GoldenChange(twin.path, "renamed", change.old, twin.new, renamed_from=change.path)
        )
    moved = {change.path for change in renamed}
    kept = [change for change in kept if change.path not in moved]
    modified = [change for change in kept if change.status == "modified"]
    return [*modified, *renamed, *(change for change in kept if change.status != "modified")]


def _change(top: Path, commit: str, path: str, status: str) -> GoldenChange:
    shown_path = shown(top / path)
    old = new = None
    try:
        if status != "added":
            old = _loaded(_git(["show", f"{commit}:{path}"], top), "the base version")
        if status != "deleted":
            new = _loaded((top / path).read_bytes(), "the working-tree version")
    except CommandError as problem:
        return GoldenChange(shown_path, status, problem=str(problem))
    return GoldenChange(shown_path, status, old, new)


def _loaded(data: bytes, side: str) -> Timeline:
    try:
        return Timeline.from_data(yamlio.load(data.decode("utf-8")))
    except (UnicodeDecodeError, yamlio.YamlError) as error:
        raise CommandError(f"{side} is not valid YAML: {error}") from None
    except GoldenShapeError as error:
        raise CommandError(f"{side} is not a snaprun golden ({error})") from None
