"""One rule from a test's node id to its golden and its cassette: both mirror the test's path.

`a/test_b.py::TestC::test_d[x]` → `<dir>/a/test_b/TestC.test_d[x].yaml`, where `<dir>` is
`snaprun_snapshot_dir` for the golden and `snaprun_cassette_dir` for the cassette.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Final

# File systems limit a name to 255 bytes. The atomic writer's temporary file is
# `.<name>.<8 random>.tmp` next to it, so a golden's name leaves room for that and `.yaml`.
MAX_NAME_BYTES: Final = 255 - len(".yaml") - len("..12345678.tmp") - 16
_HASH_CHARS: Final = 12
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
    return fitted(kept, nodeid)


def fitted(name: str, nodeid: str) -> str:
    """`name` when it fits a file name; else its start and a hash of the whole node id.

    The hash keeps two long ids that share their first 200 bytes apart, and the name stable
    from run to run (a plain cut would collide; a counter would depend on collection order).
    """
    encoded = name.encode("utf-8", "surrogatepass")
    if len(encoded) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha256(nodeid.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    head = encoded[: MAX_NAME_BYTES - _HASH_CHARS - 1].decode("utf-8", "ignore")
    return f"{head}-{digest}"


def collisions(nodeids: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of tests whose files would be the same: their ids differ only in characters a
    file name cannot hold (`/`, `:`, escapes), so one would overwrite the other's golden."""
    owner: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    for nodeid in nodeids:
        key = f"{mirrored_dir(nodeid)}/{golden_name(nodeid)}"
        first = owner.setdefault(key, nodeid)
        if first != nodeid:
            pairs.append((first, nodeid))
    return pairs


def shown(path: Path) -> str:
    """A path as the user can type it: relative to the working directory when under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def file_of(directory: Path, nodeid: str) -> Path:
    """The golden (or cassette) of test `nodeid` under `directory`."""
    return directory / mirrored_dir(nodeid) / f"{golden_name(nodeid)}.yaml"
