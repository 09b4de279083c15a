"""Where a pytest project keeps its goldens and cassettes, found the way pytest finds it.

The rootdir is the first directory upwards from here with pytest settings (pytest's own
config files, in pytest's order); `snaprun_snapshot_dir` and `snaprun_cassette_dir` are read
from those settings; where a test's files are under them is :mod:`snaprun.paths`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import iniconfig

from snaprun.paths import file_of

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
        return file_of(self.snapshot_dir, nodeid)

    def cassette_of(self, nodeid: str) -> Path:
        return file_of(self.cassette_dir, nodeid)


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
