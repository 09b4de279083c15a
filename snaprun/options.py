"""snaprun's ini keys, read and checked once at start-up: a bad value is a usage error naming
the key and what it may be, not an odd failure in every test.

Nothing here imports pytest: `read_options` takes the ini reader and returns the problems.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

RUN_RESULT_CHECKS: Final = ("fail", "warn", "off")
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InvalidOption(ValueError):
    """An ini value snaprun cannot use; the message names the key and the allowed values."""


@dataclass(frozen=True)
class Options:
    snapshot_dir: Path
    cassette_dir: Path
    settle_timeout: float
    run_result_check: str
    secret_env_vars: tuple[str, ...]


def settle_timeout(raw: object) -> float:
    """`snaprun_settle_timeout`: a finite number of seconds greater than 0."""
    try:
        value = float(str(raw))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise InvalidOption(
            f"snaprun: ini key snaprun_settle_timeout must be a number of seconds greater "
            f"than 0 (e.g. 30), got {raw!r}"
        )
    return value


def run_result_check(raw: object) -> str:
    """`snaprun_runresult_check`: fail, warn or off."""
    if raw not in RUN_RESULT_CHECKS:
        raise InvalidOption(
            f"snaprun: ini key snaprun_runresult_check must be fail, warn or off, got {raw!r}"
        )
    return str(raw)


def folder(key: str, raw: object, rootdir: Path) -> Path:
    """`snaprun_snapshot_dir` / `snaprun_cassette_dir`: a folder inside the rootdir."""
    text = str(raw).strip()
    path = (rootdir / text).resolve()
    if not text or path == rootdir.resolve() or rootdir.resolve() not in path.parents:
        raise InvalidOption(
            f"snaprun: ini key {key} must be a folder inside the rootdir, relative to it "
            f"(e.g. __snapshots__), got {raw!r}"
        )
    return rootdir / text


def secret_env_vars(raw: object) -> tuple[str, ...]:
    """`snaprun_secret_env_vars`: environment variable names, one a line."""
    names = tuple(str(name) for name in (raw if isinstance(raw, list) else [raw]))
    for name in names:
        if not _ENV_NAME.fullmatch(name):
            raise InvalidOption(
                f"snaprun: ini key snaprun_secret_env_vars lists environment variable names "
                f"(letters, digits and _), one a line; got {name!r}"
            )
    return names


def read_options(getini: Callable[[str], object], rootdir: Path) -> Options:
    """Every snaprun ini key, checked; raises InvalidOption for the first bad one."""
    return Options(
        snapshot_dir=folder("snaprun_snapshot_dir", getini("snaprun_snapshot_dir"), rootdir),
        cassette_dir=folder("snaprun_cassette_dir", getini("snaprun_cassette_dir"), rootdir),
        settle_timeout=settle_timeout(getini("snaprun_settle_timeout")),
        run_result_check=run_result_check(getini("snaprun_runresult_check")),
        secret_env_vars=secret_env_vars(getini("snaprun_secret_env_vars")),
    )
