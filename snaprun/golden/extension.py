"""The syrupy extension: one YAML golden per test, at `<snapshot dir>/<test path>/<test>.yaml`."""

from __future__ import annotations

import difflib
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from syrupy.data import SnapshotCollections
from syrupy.exceptions import SnapshotDoesNotExist
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from snaprun import yamlio
from snaprun.golden import diff, properties
from snaprun.paths import golden_name, shown
from snaprun.shape import GoldenShapeError
from snaprun.timeline import Timeline
from snaprun.volatile import NO_VOLATILE, Volatile

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion
    from syrupy.location import PyTestLocation
    from syrupy.types import (
        PropertyFilter,
        PropertyMatcher,
        SerializableData,
        SerializedData,
        SnapshotIndex,
    )


def timeline_of(data: Any) -> Timeline:
    """What `assert <x> == golden` may compare: a transcript, or a Timeline."""
    if isinstance(data, Timeline):
        return data
    timeline = getattr(data, "timeline", None)
    if callable(timeline):
        result = timeline()
        if isinstance(result, Timeline):
            return result
    raise TypeError(
        f"snaprun: `golden` compares a transcript, got {type(data).__name__}; "
        "write `assert transcript == golden`."
    )


class GoldenExtension(SingleFileSnapshotExtension):
    """Timeline → canonical YAML. `root` is set per pytest session by `golden_extension`."""

    file_extension = "yaml"
    _write_mode = WriteMode.TEXT
    # syrupy hands the golden over at the assertion, and it is only staged here: the plugin
    # writes it together with the test's cassette once the test passed every phase
    # (snaprun.integrity), so a test failing after its assertion, a kill or a Ctrl-C never
    # leaves a golden and its cassette out of step.
    write_immediately = True
    root: ClassVar[Path] = Path("__snapshots__")
    rootdir: ClassVar[Path] = Path(".")
    staged: ClassVar[dict[str, str]] = {}
    """Golden location → its text, waiting for the end of its test."""
    protected: ClassVar[set[str]] = set()
    """Goldens of tests that did not pass: never written, hidden from syrupy's accounting."""
    # The test's `pytest_snaprun_normalize_golden` hooks, set on its instance by `normalize_by`.
    normalize: Callable[[dict[str, Any]], None] | None = None
    volatile: ClassVar[Volatile] = NO_VOLATILE

    def serialize(
        self,
        data: SerializableData,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
    ) -> SerializedData:
        # snaprun's own normalisation first: volatile values labelled over the whole golden
        # at once, in reading order; then the project's hooks.
        normalized = self.volatile.label(timeline_of(data).to_data())
        if self.normalize is not None:
            self.normalize(normalized)
        golden = properties.filtered(normalized, exclude=exclude, include=include, matcher=matcher)
        try:
            text = yamlio.dump(golden)
        except (TypeError, ValueError) as error:
            raise UnusableGolden(
                f"snaprun: the golden cannot be written as YAML: {error}. A golden holds plain "
                "data: make the matcher or pytest_snaprun_normalize_golden hook return str, int, "
                "float, bool, None, lists or dicts."
            ) from None
        # Plain data, but is it still a golden? What could not be read back is not written.
        if self.normalize is not None:
            _check_shape(normalized, "a pytest_snaprun_normalize_golden hook")
        # syrupy always passes a matcher (its own, which calls the test's if there is one).
        _check_shape(golden, "golden(exclude=..., include=... or matcher=...)")
        return text

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        # Mirror the test's path under one snapshot root, so `__snapshots__/` reads like `tests/`.
        test_file = Path(test_location.filepath)
        try:
            relative = test_file.relative_to(cls.rootdir)
        except ValueError:
            relative = Path(test_file.name)
        return str(cls.root / relative.with_suffix(""))

    def discover_snapshots(
        self, *, test_location: PyTestLocation, ignore_extensions: list[str] | None = None
    ) -> SnapshotCollections:
        # The golden of a test that did not pass was neither used nor left over: hidden from
        # syrupy's accounting, it is not reported unused ("Re-run pytest with --snapshot-update
        # to delete unused snapshots" would be wrong advice) nor deleted.
        found = super().discover_snapshots(
            test_location=test_location, ignore_extensions=ignore_extensions
        )
        kept = SnapshotCollections()
        for collection in found:
            if collection.location not in self.protected:
                kept.add(collection)
        return kept

    @classmethod
    def matches_test_location(
        cls, *, test_location: PyTestLocation, snapshot_location: str
    ) -> bool:
        # syrupy looks for the test module's name in the file's; snaprun's mirrored layout puts
        # it in the folder (`__snapshots__/tests/test_x/test_y.yaml`). Without this, syrupy
        # warns "Can not relate snapshot location" on every golden it writes.
        return Path(snapshot_location).parent == Path(cls.dirname(test_location=test_location))

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
        # paths.golden_name is the one rule for goldens, cassettes and `snaprun prune`: it
        # keeps a long id's name within 255 bytes (syrupy would cut it, and the atomic
        # writer's temporary name would then be too long).
        suffix = f"[{index}]" if isinstance(index, str) else f".{index}" if index else ""
        return golden_name(test_location.nodeid) + suffix

    @classmethod
    def write_snapshot(
        cls,
        *,
        snapshot_location: str,
        snapshots: list[tuple[SerializedData, PyTestLocation, SnapshotIndex]],
        name_order: dict[str, int] | None = None,
    ) -> None:
        # Overridden (syrupy calls it final) because syrupy would create the folder here, at
        # the assertion; the folder is made with the write, where a failure names the file.
        for data, _, _ in snapshots:
            cls.staged[snapshot_location] = str(data)

    def read_snapshot_data_from_location(
        self, *, snapshot_location: str, snapshot_name: str, session_id: str
    ) -> SerializableData | None:
        # A golden that is not UTF-8 is corrupt; `check_golden` says so, and under
        # --snapshot-update it is simply replaced. A file where its folder should be means
        # there is no golden; writing it will say why it cannot be written.
        try:
            return super().read_snapshot_data_from_location(
                snapshot_location=snapshot_location,
                snapshot_name=snapshot_name,
                session_id=session_id,
            )
        except (UnicodeDecodeError, NotADirectoryError):
            return None

    def diff_lines(
        self, serialized_data: SerializedData, snapshot_data: SerializedData
    ) -> Iterator[str]:
        # The event-level report first: a reviewer wants "missing event 7", not YAML lines.
        report = event_report(str(snapshot_data), str(serialized_data))
        if report:
            yield from report.splitlines()
            yield ""
        yield from super().diff_lines(serialized_data, snapshot_data)


def event_report(golden_text: str, actual_text: str) -> str:
    try:
        expected = Timeline.from_data(yamlio.load(golden_text))
    except yamlio.YamlError as error:
        return f"snaprun: the golden is not valid YAML ({error}); regenerate it."
    except GoldenShapeError as error:
        return f"snaprun: the golden is not a snaprun golden ({error}); regenerate it."
    # The transcript's text is what `serialize` just wrote from a Timeline: it always reads.
    actual = Timeline.from_data(yamlio.load(actual_text))
    return diff.format_report(diff.diff_goldens(expected, actual))


class UnusableGolden(Exception):
    """A golden that a filter, a matcher or a normalisation hook has made unwritable."""


def _check_shape(golden: object, changed_by: str) -> None:
    """Refuse to write what could not be read back: the golden's reader decides."""
    try:
        Timeline.from_data(golden)
    except GoldenShapeError as error:
        if error.problem == "missing 'runs'":
            raise UnusableGolden(
                f"snaprun: {changed_by} removed the runs a golden is made of, so the file could "
                "not be read back. Filter or replace values inside the events (e.g. "
                'exclude=props("text")), not the runs themselves.'
            ) from None
        raise UnusableGolden(
            f"snaprun: {changed_by} left a golden that could not be read back ({error}). "
            "Replace values with values of the same type (a text with a text)."
        ) from None


def normalize_by(golden: SnapshotAssertion, normalize: Callable[[dict[str, Any]], None]) -> None:
    """Have `normalize` change this test's golden data before it is compared and written."""
    extension = golden.extension
    if isinstance(extension, GoldenExtension):
        extension.normalize = normalize


_CONTEXT_LINES = 2


def mismatch_report(golden: SnapshotAssertion, accept_command: str, width: int) -> str | None:
    """What a test whose transcript differs from its golden prints, or None if it does not:
    the event-level findings, the changed lines of the YAML in full (wrapped at `width`, so a
    long text is never cut), and the command that accepts the change."""
    failed = [result for result in golden.executions.values() if not result.success]
    if not failed:
        return None
    result = failed[-1]
    if result.exception is not None and not isinstance(result.exception, SnapshotDoesNotExist):
        return None  # the comparison itself failed: its own error says why
    location = Path(result.snapshot_location)
    if result.recalled_data is None:
        return (
            f"snaprun: this test has no golden yet ({shown(location)}). Write it with:\n"
            f"  {accept_command}"
        )
    golden_text, actual_text = str(result.recalled_data), str(result.asserted_data)
    findings = (
        event_report(golden_text, actual_text) or "snaprun: the transcript differs from its golden:"
    )
    lines = [findings, f"The golden {shown(location)}, line by line (- golden, + this run):"]
    lines += [
        wrapped for line in _line_diff(golden_text, actual_text) for wrapped in _wrap(line, width)
    ]
    lines += ["If the change is intended, accept it:", f"  {accept_command}"]
    return "\n".join(lines)


def _line_diff(golden_text: str, actual_text: str) -> Iterator[str]:
    diff = difflib.unified_diff(
        golden_text.splitlines(), actual_text.splitlines(), n=_CONTEXT_LINES, lineterm=""
    )
    for line in diff:
        if not line.startswith(("---", "+++")):
            yield line


def _wrap(line: str, width: int) -> list[str]:
    """A diff line in pieces that fit `width`, each continued under its text, same marker."""
    marker, text = line[:1], line[1:]
    indent = " " * (len(text) - len(text.lstrip()) + 2)
    pieces = textwrap.wrap(
        text,
        width=max(width - 3, 40),
        subsequent_indent=indent,
        drop_whitespace=False,
        break_on_hyphens=False,
    )
    return [f"  {marker}{piece.rstrip()}" for piece in pieces] or [f"  {line}"]


def golden_extension(
    rootdir: Path, snapshot_dir: str, volatile: Volatile = NO_VOLATILE
) -> type[GoldenExtension]:
    """A subclass bound to this session's paths and volatile patterns (syrupy asks classes,
    not instances, for them)."""
    attrs = {
        "root": rootdir / snapshot_dir,
        "rootdir": rootdir,
        "staged": {},
        "protected": set(),
        "volatile": volatile,
    }
    return type("GoldenExtension", (GoldenExtension,), attrs)


def golden_locations(golden: SnapshotAssertion) -> list[str]:
    test_location = golden.test_location
    count = max(1, golden.num_executions)
    return [
        golden.extension.get_location(test_location=test_location, index=index)
        for index in range(count)
    ]


def take_staged(golden: SnapshotAssertion) -> list[tuple[Path, str]]:
    """This test's goldens waiting to be written, taken out of the stage."""
    extension = type(golden.extension)
    if not issubclass(extension, GoldenExtension):
        return []
    taken = [(loc, extension.staged.pop(loc, None)) for loc in golden_locations(golden)]
    return [(Path(loc), text) for loc, text in taken if text is not None]


def protect(golden: SnapshotAssertion) -> None:
    """Keep the goldens of a test that did not pass exactly as they are, even when updating."""
    extension = type(golden.extension)
    if issubclass(extension, GoldenExtension):
        extension.protected.update(golden_locations(golden))
        # Nothing will be written: syrupy must not report it generated or updated.
        for index, result in list(golden.executions.items()):
            if result.created or result.updated:
                del golden.executions[index]


def kept_report(extension: type[GoldenExtension]) -> list[str]:
    """Under --snapshot-update: the goldens left alone because their tests did not pass."""
    if not extension.protected:
        return []
    lines = ["snaprun: these goldens were left as they were, because their tests did not pass:"]
    for location in sorted(extension.protected):
        path = Path(location)
        lines.append(f"  {shown(path)} ({'unchanged' if path.exists() else 'not written'})")
    return lines


def check_golden(golden: SnapshotAssertion) -> None:
    """Fail before the test runs when its golden is not a snaprun golden, naming the fix."""
    path = Path(golden_locations(golden)[0])
    if not path.exists():
        return
    problem = golden_problem(path.read_bytes())
    if problem is not None:
        raise CorruptGolden(
            f"snaprun: the golden {shown(path)} is corrupt ({problem}). Regenerate it with:"
            f"\n    pytest --snapshot-update '{golden.test_location.nodeid}'"
        )


def golden_problem(content: bytes) -> str | None:
    """Why these bytes are not a golden snaprun wrote, or None when they are one."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"it is not valid YAML: not UTF-8 text ({error.reason})"
    try:
        data = yamlio.load(text)
    except yamlio.YamlError as error:
        return f"it is not valid YAML: {error}"
    try:
        Timeline.from_data(data)
    except GoldenShapeError as error:
        return f"it is not a snaprun golden: {error}"
    if not _is_whole_golden(data):
        return "it is not a snaprun golden: an event has no content (the file was cut short)"
    if not text.endswith("\n"):
        return "it is truncated: snaprun ends every golden with a newline"
    return None


class CorruptGolden(Exception):
    """A golden that cannot be read: truncated, not YAML, or not a transcript."""


def _is_whole_golden(data: object) -> bool:
    """A golden (already of the right shape) with every run whole: what a file cut short at a
    line boundary is not."""
    sessions = data.get("sessions", [data]) if isinstance(data, dict) else []
    return all(isinstance(s, dict) and all(map(_is_run, s.get("runs", []))) for s in sessions)


def _is_run(run: object) -> bool:
    # A golden cut at a line boundary is still YAML; what it lost shows as an empty value
    # (`- message:` with nothing under it) or a run without its kind or events.
    if not isinstance(run, dict) or not isinstance(run.get("kind"), str):
        return False
    events = run.get("events", [])
    return isinstance(events, list) and all(
        isinstance(event, dict) and event and not (len(event) == 1 and None in event.values())
        for event in events
    )
