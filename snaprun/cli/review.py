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
from snaprun.cli.render import ctx_agent, field, golden_sessions, item_entry, listed
from snaprun.describe import describe_event, run_label
from snaprun.golden.diff import diff_goldens
from snaprun.paths import shown


@dataclass(frozen=True)
class GoldenChange:
    """One golden that differs between the base revision and the working tree."""

    path: str
    status: str
    """added, deleted or modified."""
    old: object = None
    """The base revision's golden, loaded; None when added or unreadable."""
    new: object = None
    """The working tree's golden, loaded; None when deleted or unreadable."""
    problem: str = ""
    """Why a side could not be read, e.g. `the working-tree version is not valid YAML: …`."""


_REWORDED: Final = {"missing": "removed", "unexpected": "added"}
"""diff.py speaks from a failing test's side; a review speaks of what the change did."""

_DIFF_MARKS: Final = {"added": "+", "duplicated": "+", "removed": "-", "changed": "!", "moved": "~"}
_TALLY_ORDER: Final = ("added", "removed", "changed", "moved", "duplicated")


def run_groups(old: object, new: object) -> list[str]:
    """The place labels diff.diff_goldens starts its lines with, longest first."""
    old_sessions, new_sessions = golden_sessions(old) or [], golden_sessions(new) or []
    several = max(len(old_sessions), len(new_sessions)) > 1
    labels = []
    for index in range(max(len(old_sessions), len(new_sessions))):
        prefix = f"session {index + 1}, " if several else ""
        old_runs = listed(field(_at(old_sessions, index), "runs"))
        new_runs = listed(field(_at(new_sessions, index), "runs"))
        for number in range(1, max(len(old_runs), len(new_runs)) + 1):
            run = _at(old_runs, number - 1) if number <= len(old_runs) else new_runs[number - 1]
            labels.append(prefix + run_label(number, run))
        labels.append(prefix + "chat_ctx")
    return sorted(labels, key=len, reverse=True)


def _at(items: Sequence[object], index: int) -> object:
    return items[index] if index < len(items) else None


def grouped_findings(old: object, new: object) -> dict[str, list[str]]:
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


def shape(golden: object) -> str:
    """`2 runs, 11 events`."""
    sessions = golden_sessions(golden) or []
    runs = [run for session in sessions for run in listed(session.get("runs"))]
    events = sum(len(listed(field(run, "events"))) for run in runs)
    plural = "" if len(runs) == 1 else "s"
    return f"{len(runs)} run{plural}, {events} event{'' if events == 1 else 's'}"


def _short(text: str, limit: int = 100) -> str:
    text = text.replace("\n", "⏎")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _whole_golden_lines(golden: object, mark: str) -> list[str]:
    """Every event of a golden added or deleted as a whole, for a ```diff block."""
    lines = []
    sessions = golden_sessions(golden) or []
    for index, session in enumerate(sessions):
        prefix = f"session {index + 1}, " if len(sessions) > 1 else ""
        for number, run in enumerate(listed(session.get("runs")), start=1):
            lines.append(f"@@ {prefix}{run_label(number, run)} @@")
            lines += [f"{mark} {describe_event(e)}" for e in listed(field(run, "events"))]
        items = listed(field(session.get("chat_ctx"), "items"))
        if items:
            lines.append(f"@@ {prefix}chat_ctx ({ctx_agent(session.get('chat_ctx'))}) @@")
            lines += [f"{mark} {_short(item_entry(item).one_line())}" for item in items]
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
        return [*lines, f"snaprun could not compare it: {_short(change.problem, 300)}", ""]
    if change.status == "modified":
        groups = grouped_findings(change.old, change.new)
        body = []
        for label, findings in groups.items():
            body.append(f"@@ {label or 'golden'} @@")
            body += [f"{_DIFF_MARKS.get(line.split(' ')[0], ' ')} {line}" for line in findings]
        lines += [tally(groups) + ".", ""]
    else:
        golden, mark = (change.new, "+") if change.status == "added" else (change.old, "-")
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
    return [
        _change(top, commit, path, status) for path, status in ordered if path.endswith(".yaml")
    ]


_STATUS: Final = {"A": "added", "D": "deleted"}
_ORDER: Final = ("modified", "added", "deleted")


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


def _loaded(data: bytes, side: str) -> object:
    try:
        golden = yamlio.load(data.decode("utf-8"))
    except (UnicodeDecodeError, yamlio.YamlError) as error:
        raise CommandError(f"{side} is not valid YAML: {error}") from None
    if golden_sessions(golden) is None:
        raise CommandError(f"{side} is not a snaprun golden (it has no `runs` list)")
    return golden
