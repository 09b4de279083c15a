"""One rule from a test's node id to its golden and its cassette: both mirror the test's path.

`a/test_b.py::TestC::test_d[x]` → `<dir>/a/test_b/TestC.test_d[x].yaml`, where `<dir>` is
`snaprun_snapshot_dir` for the golden and `snaprun_cassette_dir` for the cassette.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Final

_MAX_STEM: Final = 255 - len(".yaml")
_UNSAFE_IN_NAMES: Final = frozenset('/\\:*?"<>|')


def split_nodeid(nodeid: str) -> list[str]:
    """`a.py::TestC::test_d[x::y]` → `[a.py, TestC, test_d[x::y]]`: ids may hold `::`."""
    head, bracket, params = nodeid.partition("[")
    parts = head.split("::")
    parts[-1] += bracket + params
    return parts


def mirrored_dir(nodeid: str) -> str:
    """`a/test_b.py::test_c` → `a/test_b`: goldens and cassettes mirror the test's path."""
    return Path(split_nodeid(nodeid)[0]).with_suffix("").as_posix()


def golden_name(nodeid: str) -> str:
    """`TestC.test_d[x]`: the name syrupy gives a test's golden file (without `.yaml`).

    As syrupy's PyTestLocation does: the classes are the node id's parts between the file and
    the test, split on every `::`, and characters a file name cannot hold are dropped.
    """
    classes = ".".join(nodeid.split("::")[1:-1])
    test = split_nodeid(nodeid)[-1]
    name = f"{classes}.{test}" if classes else test
    kept = "".join(
        char
        for char in name
        if char not in _UNSAFE_IN_NAMES and "C" not in unicodedata.category(char)
    )
    return kept[:_MAX_STEM]


def shown(path: Path) -> str:
    """A path as the user can type it: relative to the working directory when under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def file_of(directory: Path, nodeid: str) -> Path:
    """The golden (or cassette) of test `nodeid` under `directory`."""
    return directory / mirrored_dir(nodeid) / f"{golden_name(nodeid)}.yaml"
