"""Nothing lost: when a test's golden and cassette are written, and when unused ones may go.

* A test's golden and cassette are staged while it runs and written together once it passed
  every phase (setup, call, teardown): a failure, a kill or a Ctrl-C leaves both as they were.
* syrupy deletes unused goldens under --snapshot-update. A golden looks unused whenever its test
  did not run, so deleting is allowed only after a complete, uninterrupted run of the whole
  collection in which every test passed: no Ctrl-C, no module skipped or failed at import.
* The counts of files written are kept here, for the summary.

Nothing here imports pytest: the plugin hands in what it saw.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from snaprun.cassettes.secrets import SecretFound, check_text_for_secrets, credential_env_names
from snaprun.files import WriteFailed, write_together
from snaprun.paths import collisions, shown


@dataclass
class WriteTally:
    """The goldens and cassettes actually written this session (xdist workers' included)."""

    goldens: int = 0
    cassettes: int = 0

    def add(self, counts: Mapping[str, int]) -> None:
        self.goldens += int(counts.get("goldens", 0))
        self.cassettes += int(counts.get("cassettes", 0))

    def counts(self) -> dict[str, int]:
        return {"goldens": self.goldens, "cassettes": self.cassettes}


class TestFilesRefused(Exception):
    """A passed test's files could not be written; nothing of that test was."""


def commit_test_files(
    test_id: str,
    goldens: Sequence[tuple[Path, str]],
    cassettes: Sequence[tuple[Path, str]],
    *,
    secret_env_vars: Iterable[str],
    tally: WriteTally,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Write a passed test's goldens and cassettes as one, after checking goldens for secrets
    (cassettes were checked when staged). Raises TestFilesRefused naming the file."""
    if not goldens and not cassettes:
        return
    names = credential_env_names(secret_env_vars, environ)
    try:
        for path, text in goldens:
            check_text_for_secrets(text, names, environ, where=f"golden {shown(path)}")
    except SecretFound as found:
        raise TestFilesRefused(
            f"snaprun: refusing to write the golden of {test_id}: {found}. Nothing of this test "
            f"was written (its golden and cassette stay as they were). Keep the credential out "
            f"of what the agent says and does, then run the test again."
        ) from None
    try:
        write_together([*goldens, *cassettes])
    except WriteFailed as failed:
        kind = "golden" if any(path == failed.path for path, _ in goldens) else "cassette"
        raise TestFilesRefused(
            f"snaprun: cannot write the {kind} {shown(failed.path)} of {test_id}: "
            f"{failed.error.strerror or failed.error}. Nothing of this test was written (its "
            f"golden and cassette stay as they were). Free the disk or make the folder "
            f"writable, then run the test again."
        ) from None
    tally.goldens += len(goldens)
    tally.cassettes += len(cassettes)


@dataclass
class Completeness:
    """What keeps this session from being a complete run of the whole collection."""

    reasons: list[str] = field(default_factory=list)

    def module_not_run(self, nodeid: str, outcome: str) -> None:
        what = "skipped at import" if outcome == "skipped" else "failed to import"
        self.reasons.append(f"{nodeid or 'a module'} {what}")

    def interrupted(self) -> None:
        self.reasons.append("the run was interrupted")

    def cleanup_refusal(
        self, *, exit_ok: bool, tests_failed: int, stopped_early: bool
    ) -> str | None:
        """Why unused goldens must not be deleted now; None when they may be."""
        if self.reasons:
            return self.reasons[0]
        if tests_failed:
            return f"{tests_failed} test(s) failed"
        if stopped_early:
            return "the run stopped early"
        if not exit_ok:
            return "the run did not pass"
        return None


def overlapping_folders(snapshot_dir: Path, cassette_dir: Path, rootdir: Path) -> str | None:
    """Why goldens and cassettes cannot live in these folders, or None.

    Both mirror the test paths with the same file names, so one folder for both would make a
    test's golden overwrite its cassette. One nested in the other is refused when test files
    can mirror onto the inner one (`cassettes = __snapshots__/tests` with a `tests/` folder):
    syrupy would take those cassettes for unused goldens. (`__snapshots__/tapes` is fine.)"""
    golden, cassette = snapshot_dir.resolve(), cassette_dir.resolve()
    if golden == cassette:
        relation = "are the same folder"
    elif golden in cassette.parents or cassette in golden.parents:
        outer, inner = (golden, cassette) if golden in cassette.parents else (cassette, golden)
        mirrored = rootdir / inner.relative_to(outer)
        if not mirrored.is_dir():
            return None
        relation = f"are nested so that the tests under {shown(mirrored)} mirror onto both"
    else:
        return None
    return (
        f"snaprun: ini keys snaprun_snapshot_dir ({shown(snapshot_dir)}) and "
        f"snaprun_cassette_dir ({shown(cassette_dir)}) {relation}: a test's golden and its "
        f"cassette have the same file name, so one would overwrite or delete the other. "
        f"Give them separate folders (the defaults are __snapshots__ and cassettes)."
    )


@dataclass(frozen=True)
class CollectedTest:
    """What start-up checks need of one collected test."""

    nodeid: str
    uses_cassette: bool
    uses_golden: bool
    vcr_marker: bool


def collection_problem(tests: Sequence[CollectedTest], *, recording_plugin: bool) -> str | None:
    """Why this collection cannot run with snaprun (with what to do), or None."""
    with_files = [test for test in tests if test.uses_cassette or test.uses_golden]
    pairs = collisions(test.nodeid for test in with_files)
    if pairs:
        first, second = pairs[0]
        return (
            f"snaprun: tests {first} and {second} would share one golden and one cassette: "
            f'their ids differ only in characters a file name cannot hold (/ \\ : * ? " < > | '
            f"and control characters). Give them distinct ids, e.g. "
            f"pytest.param(..., id='...') or ids=[...] in parametrize."
        )
    cassette_tests = [test for test in tests if test.uses_cassette]
    if cassette_tests and not recording_plugin:
        return (
            f"snaprun: {cassette_tests[0].nodeid} uses a cassette, which needs pytest-recording "
            f"(its --record-mode flag and vcr_config fixture), and pytest-recording is disabled "
            f"(-p no:recording). Remove -p no:recording from the command line or addopts."
        )
    marked = [test for test in cassette_tests if test.vcr_marker]
    if marked:
        return (
            f"snaprun: {marked[0].nodeid} has @pytest.mark.vcr, but snaprun already records and "
            f"replays its cassette: pytest-recording's own cassette would patch the same HTTP "
            f"calls twice. Remove the marker; pass vcrpy options with the vcr_config fixture."
        )
    return None
