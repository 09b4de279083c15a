"""Goldens and cassettes that no test owns any more: a renamed or deleted test leaves them.

Which tests exist is pytest's answer, not a guess from file names: `collect` runs
`pytest --collect-only -q` in a subprocess from the rootdir. Deleting on a wrong answer loses
goldens, so anything short of a complete collection (an error, deselected tests, single
tests named) is refused rather than pruned.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from snaprun.cli.project import CommandError, Project
from snaprun.paths import golden_name, mirrored_dir


@dataclass(frozen=True)
class Collection:
    """The test ids pytest collected, and the test paths the arguments narrowed it to."""

    nodeids: list[str]
    scope: list[str]
    """Rootdir-relative test paths named in the arguments; empty for the whole project."""


_DESELECTED: Final = re.compile(r"\b(\d+) deselected\b")
_SKIPPED: Final = re.compile(r"^SKIPPED \[\d+\] ([^:\s]+)", re.MULTILINE)
_NO_TESTS_COLLECTED: Final = 5
"""pytest's exit code when it found no test at all."""


def collect(project: Project, pytest_args: Sequence[str]) -> Collection:
    """Run `pytest --collect-only -q` from the rootdir, as CI would, and read the test ids."""
    args, scope = _anchored(project, pytest_args)
    # Collecting runs no test, so syrupy finds every snapshot unused and fails the run (exit 1)
    # when it can relate the goldens to the tests (test files at the rootdir): warn instead.
    # -rs lists modules skipped at import (`importorskip`): -q alone hides them.
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--collect-only",
        "-q",
        "-rs",
        "--snapshot-warn-unused",
        *args,
    ]
    result = subprocess.run(
        command, cwd=project.rootdir, capture_output=True, text=True, check=False
    )
    if result.returncode == _NO_TESTS_COLLECTED:
        raise CommandError(f"snaprun prune: pytest collected no tests; {_NOTHING_PRUNED}")
    if result.returncode != 0:
        raise CommandError(
            f"snaprun prune: test collection failed (pytest exit code {result.returncode}); "
            f"{_NOTHING_PRUNED}\n" + _tail(result.stdout + result.stderr)
        )
    skipped = _SKIPPED.findall(result.stdout)
    if skipped:
        raise CommandError(
            f"snaprun prune: {skipped[0]} was skipped at collection; nothing is pruned, since "
            "the goldens of its tests would look unused."
        )
    deselected = _DESELECTED.search(result.stdout)
    if deselected:
        raise CommandError(
            f"snaprun prune: {deselected.group(1)} tests were deselected (-k, -m or --deselect); "
            "nothing is pruned, since their goldens would look unused."
        )
    nodeids = _test_ids(result.stdout)
    if not nodeids:
        raise CommandError(
            "snaprun prune: `pytest --collect-only -q` listed no test ids (is there another -q "
            f"in addopts?); {_NOTHING_PRUNED}"
        )
    return Collection(nodeids, scope)


_NOTHING_PRUNED: Final = "nothing is pruned, since every golden would look unused."


def _test_ids(stdout: str) -> list[str]:
    """The node ids `-q` lists one a line, up to the blank line before its summary."""
    nodeids = []
    for line in stdout.splitlines():
        if not line.strip():
            break
        if "::" in line:
            nodeids.append(line.strip())
    return nodeids


def _anchored(project: Project, pytest_args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Arguments that name paths made absolute (pytest runs from the rootdir), and the scope."""
    args, scope = [], []
    for arg in pytest_args:
        test_path, separator, _ = arg.partition("::")
        here = Path(test_path)
        if arg.startswith("-") or not here.exists():
            args.append(arg)
            continue
        if separator:
            raise CommandError(
                f"snaprun prune: {arg} selects single tests; give files or directories, "
                "or the other tests' goldens would look unused."
            )
        try:
            scope.append(here.resolve().relative_to(project.rootdir.resolve()).as_posix())
        except ValueError:
            raise CommandError(
                f"snaprun prune: {arg} is outside the rootdir {project.rootdir}"
            ) from None
        args.append(str(here.resolve()))
    return args, scope


def _tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])


def unowned(project: Project, collection: Collection) -> list[Path]:
    """Goldens and cassettes in scope that no collected test writes or reads."""
    owners = [
        (project.snapshot_dir, {(mirrored_dir(n), golden_name(n)) for n in collection.nodeids}),
        (project.cassette_dir, {(mirrored_dir(n), golden_name(n)) for n in collection.nodeids}),
    ]
    found = []
    for (root, owned), (other, _) in zip(owners, owners[::-1], strict=True):
        for path in sorted(root.rglob("*.yaml")) if root.is_dir() else []:
            relative = path.relative_to(root)
            # One root may hold the other (`__snapshots__/cassettes`): its files are not ours.
            inside_other = root in other.parents and other in path.parents
            if inside_other or not _in_scope(relative, collection.scope):
                continue
            if (relative.parent.as_posix(), _owner_name(relative.name)) not in owned:
                found.append(path)
    return found


_REPEAT: Final = re.compile(r"\.\d+$")


def _owner_name(file_name: str) -> str:
    """`test_x.yaml` and `test_x.1.yaml` (syrupy's second golden of one test) → `test_x`."""
    return _REPEAT.sub("", file_name.removesuffix(".yaml"))


def _in_scope(relative: Path, scope: Sequence[str]) -> bool:
    if not scope:
        return True
    mirrored = relative.as_posix()
    for test_path in scope:
        stem = test_path.removesuffix(".py")
        if mirrored.startswith(stem.rstrip("/") + "/") or stem in ("", "."):
            return True
    return False


def _remove_empty_parents(path: Path, stop: Path) -> None:
    for directory in path.parents:
        if directory == stop or stop not in directory.parents:
            return
        try:
            directory.rmdir()
        except OSError:  # not empty
            return


def delete(project: Project, paths: Sequence[Path]) -> None:
    """Delete the files, and the directories they leave empty under their root."""
    roots = (project.snapshot_dir, project.cassette_dir)
    for path in paths:
        path.unlink()
        # The deepest root: the cassette dir may sit inside the snapshot dir, or the other way.
        root = max((r for r in roots if r in path.parents), key=lambda r: len(r.parts))
        _remove_empty_parents(path, root)
