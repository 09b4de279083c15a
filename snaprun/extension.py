"""The syrupy extension: one YAML golden per test, at `<snapshot dir>/<test path>/<test>.yaml`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from . import diff, yamlio
from .timeline import Timeline

if TYPE_CHECKING:
    from syrupy.location import PyTestLocation
    from syrupy.types import PropertyFilter, PropertyMatcher, SerializableData, SerializedData


def timeline_of(data: Any) -> Timeline:
    """What `assert <x> == golden` may compare: a transcript, or a Timeline."""
    if isinstance(data, Timeline):
        return data
    timeline = getattr(data, "timeline", None)
    if callable(timeline):
        return timeline()
    raise TypeError(
        f"snaprun: `golden` compares a transcript, got {type(data).__name__}; "
        "write `assert transcript == golden`."
    )


class GoldenExtension(SingleFileSnapshotExtension):
    """Timeline → canonical YAML. `root` is set per pytest session by `golden_extension`."""

    file_extension = "yaml"
    _write_mode = WriteMode.TEXT
    root: ClassVar[Path] = Path("__snapshots__")
    rootdir: ClassVar[Path] = Path(".")

    def serialize(
        self,
        data: SerializableData,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
    ) -> SerializedData:
        return yamlio.dump(timeline_of(data).to_data())

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        # Mirror the test's path under one snapshot root, so `__snapshots__/` reads like `tests/`.
        test_file = Path(test_location.filepath)
        try:
            relative = test_file.relative_to(cls.rootdir)
        except ValueError:
            relative = Path(test_file.name)
        return str(cls.root / relative.with_suffix(""))

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
        expected = yamlio.load(golden_text) if golden_text else {}
        actual = yamlio.load(actual_text)
    except yamlio.YamlError as error:
        return f"snaprun: the golden is not valid YAML ({error}); regenerate it."
    if not isinstance(expected, dict) or not isinstance(actual, dict):
        return ""
    return diff.format_report(diff.diff_goldens(expected, actual))


def golden_extension(rootdir: Path, snapshot_dir: str) -> type[GoldenExtension]:
    """A subclass bound to this session's paths (syrupy asks classes, not instances, for them)."""
    attrs = {"root": rootdir / snapshot_dir, "rootdir": rootdir}
    return type("GoldenExtension", (GoldenExtension,), attrs)
