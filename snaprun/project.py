"""Where a pytest project keeps its goldens and cassettes, found the way pytest finds it.

The rootdir is the first directory upwards from here with pytest settings (pytest's own
config files, in pytest's order); `snaprun_snapshot_dir` and `snaprun_cassette_dir` are read
from those settings. A test's files mirror its node id:
`a/test_b.py::TestC::test_d[x]` → `<dir>/a/test_b/TestC.test_d[x].yaml`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import iniconfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - pytest depends on tomli there
    import tomli as tomllib


class CommandError(Exception):
    """A snaprun command cannot do its work; the message says why and names the file."""


_CONFIG_FILES: Final = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)
"""pytest's own order: in each directory, the first of these holding pytest settings wins."""


@dataclass(frozen=True)
class Project:
    """A pytest project as snaprun sees it: its rootdir and what its settings say."""

    rootdir: Path
    snapshot_dir: Path
    cassette_dir: Path
    secret_env_vars: tuple[str, ...] = ()
    """`snaprun_secret_env_vars`: more variables whose values must never be in a cassette."""

    def golden_of(self, nodeid: str) -> Path:
        return self.snapshot_dir / mirrored_dir(nodeid) / f"{golden_name(nodeid)}.yaml"

    def cassette_of(self, nodeid: str) -> Path:
        return self.cassette_dir / mirrored_dir(nodeid) / f"{golden_name(nodeid)}.yaml"


def find_project(start: Path) -> Project:
    """The rootdir pytest would pick when run from `start` with no arguments, and its dirs."""
    for directory in (start, *start.parents):
        for name in _CONFIG_FILES:
            settings = _pytest_settings(directory / name)
            if settings is not None:
                return _project(directory, settings)
    return _project(start, {})


def _project(rootdir: Path, settings: dict[str, object]) -> Project:
    snapshot_dir = str(settings.get("snaprun_snapshot_dir") or "__snapshots__")
    cassette_dir = str(settings.get("snaprun_cassette_dir") or "cassettes")
    secrets = settings.get("snaprun_secret_env_vars", [])
    # pytest's "linelist": a list in TOML, one name a line in an ini file.
    names = secrets if isinstance(secrets, list) else str(secrets).splitlines()
    return Project(
        rootdir,
        rootdir / snapshot_dir,
        rootdir / cassette_dir,
        tuple(str(name).strip() for name in names if str(name).strip()),
    )


def _pytest_settings(path: Path) -> dict[str, object] | None:
    """The pytest settings in one config file; None when it holds none (or does not exist)."""
    if not path.is_file():
        return None
    try:
        if path.suffix == ".toml":
            document = tomllib.loads(path.read_text(encoding="utf-8"))
            return _toml_settings(path.name, document)
        sections = iniconfig.IniConfig(str(path)).sections
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, iniconfig.ParseError) as error:
        raise CommandError(
            f"snaprun: cannot read the pytest configuration {path}: {error}"
        ) from None
    section = "tool:pytest" if path.name == "setup.cfg" else "pytest"
    if section in sections:
        return dict(sections[section])
    return {} if path.name in ("pytest.ini", ".pytest.ini") else None


def _toml_settings(name: str, document: dict[str, object]) -> dict[str, object] | None:
    if name != "pyproject.toml":
        table = document.get("pytest", {})
        return dict(table) if isinstance(table, dict) else {}
    tool = document.get("tool", {})
    pytest_table = tool.get("pytest") if isinstance(tool, dict) else None
    if not isinstance(pytest_table, dict):
        return None
    ini_options = pytest_table.get("ini_options")
    return dict(ini_options) if isinstance(ini_options, dict) else dict(pytest_table)


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


def write_atomically(path: Path, text: str) -> None:
    """Write a golden or a cassette: to a temporary file next to ``path``, then renamed over it.

    A crash or Ctrl-C at any point leaves either the old file or the new one, never a
    truncated mix; the temporary file is removed on failure. Its name is hidden and ends like
    syrupy's own write sidecars (``.<name>.<random>.tmp``), so syrupy never takes it for an
    unknown snapshot and deletes it while another xdist worker is writing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private; goldens and cassettes are shared project files.
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
