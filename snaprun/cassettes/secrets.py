"""The environment values a cassette or golden must never hold, and how they are found.

The variables are every provider's credentials (:mod:`snaprun.cassettes.providers`) plus the
ones a project names in `snaprun_secret_env_vars`; `snaprun scan` and a recording's refusal
use the same list.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final
from urllib.parse import quote

from snaprun.cassettes.errors import SecretInCassette
from snaprun.cassettes.providers import CREDENTIAL_ENV_VARS

__all__ = ["CREDENTIAL_ENV_VARS", "MIN_ENV_VALUE", "check_no_secrets", "secrets_from_env"]

MIN_ENV_VALUE: Final = 8
"""Shorter environment values are not looked for: `test` or `1` would match everywhere (and
`devkey`/`secret` of a local livekit server are no real credentials)."""


def secrets_from_env(names: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """`{value: NAME}` for each named variable set to a value long enough to look for."""
    values: dict[str, str] = {}
    for name in names:
        value = environ.get(name, "").strip()
        if len(value) >= MIN_ENV_VALUE:
            values.setdefault(value, name)
    return values


def check_no_secrets(
    path: Path, text: str, raw_parts: Sequence[bytes], env_vars: Iterable[str]
) -> None:
    """Refuse to write `path` when a named variable's value is in its text or raw parts."""
    haystacks = [text.encode("utf-8", "surrogatepass"), *raw_parts]
    for value, name in secrets_from_env(env_vars, os.environ).items():
        needles = {value.encode(), quote(value, safe="").encode(), json.dumps(value)[1:-1].encode()}
        if any(needle in haystack for needle in needles for haystack in haystacks):
            raise SecretInCassette(path, name)
