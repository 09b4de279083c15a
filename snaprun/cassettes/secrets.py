"""The values a cassette or golden must never hold, and how they are found: by value and by shape.

By value: every provider's credential variable (:mod:`snaprun.cassettes.providers`), the ones a
project names in `snaprun_secret_env_vars`, and every environment variable whose *name* says it
is a credential (`*_KEY`, `*_SECRET*`, `*_TOKEN`, `*_PASSWORD`): a `DEEPGRAM_API_KEY` leaks as
badly as an `OPENAI_API_KEY`. Each value is looked for raw and in the forms a recording carries
it in: URL-, JSON- and `\\/`-escaped, and base64 at any alignment.

By shape: the key formats providers issue (`SHAPES`), which need no environment at all; a
recording refuses the specific ones, `snaprun scan` reports those and high-entropy tokens.

`snaprun scan` and a recording's refusal use this one module.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final
from urllib.parse import quote, quote_plus

from snaprun.cassettes.errors import SecretInCassette
from snaprun.cassettes.providers import CREDENTIAL_ENV_VARS

__all__ = [
    "CREDENTIAL_ENV_VARS",
    "MIN_ENV_VALUE",
    "SHAPES",
    "SecretFound",
    "check_no_secrets",
    "check_text_for_secrets",
    "credential_env_names",
    "looks_high_entropy",
    "query_param_action",
    "secrets_from_env",
]

MIN_ENV_VALUE: Final = 8
"""Shorter environment values are not looked for: `test` or `1` would match everywhere (and
`devkey`/`secret` of a local livekit server are no real credentials)."""

_CREDENTIAL_NAME: Final = re.compile(
    r"(?i)^[A-Z0-9_]*(?:_KEY|_APIKEY|SECRET[A-Z0-9_]*|_TOKEN|_PASSWORD|_PASSWD)$"
)
"""An environment variable named like a credential."""

# One pattern per shape of secret, most specific first (`sk-` covers OpenAI's keys and
# Anthropic's `sk-ant-`): when two patterns match the same characters, only the first is
# reported. Group `secret` is the part that is masked.
SHAPES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("sk- key", re.compile(r"(?<![A-Za-z0-9_-])(?P<secret>sk-[A-Za-z0-9_-]{20,})")),
    ("Google API key", re.compile(r"(?<![A-Za-z0-9_-])(?P<secret>AIza[0-9A-Za-z_-]{35})")),
    (
        "JWT",
        re.compile(r"(?P<secret>eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)"),
    ),
    (
        "AWS access key",
        re.compile(r"(?<![A-Z0-9])(?P<secret>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Z0-9])"),
    ),
    (
        "GitHub token",
        re.compile(r"(?<![A-Za-z0-9_])(?P<secret>(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{30,})"),
    ),
)
"""Shapes specific enough that a recording holding one is refused outright."""

_PLACEHOLDER_SK: Final = re.compile(r"(?i)sk-(?:test|fake|dummy|placeholder)[A-Za-z0-9_-]*")

# Query parameters: kept when known harmless, dropped when named like a credential, and
# otherwise kept unless the value looks like a key (then its value is redacted).
HARMLESS_QUERY_PARAMS: Final = frozenset(
    {"alt", "api-version", "api_version", "beta", "model", "stream", "format", "limit"}
    | {"order", "after", "before", "page", "include", "version", "language", "encoding"}
)
_CREDENTIAL_PARAM: Final = re.compile(
    r"(?i)key|token|secret|passw|pwd|sig|jwt|auth|credential|session|^code$|^access|^client_"
)
REDACTED: Final = "REDACTED"


class SecretFound(Exception):
    """A value that must not be written: ``what`` names the variable or the shape."""

    def __init__(self, what: str, where: str) -> None:
        super().__init__(f"{what} found in {where}")
        self.what = what
        self.where = where


def credential_env_names(
    extra: Iterable[str] = (), environ: Mapping[str, str] = os.environ
) -> list[str]:
    """Provider credentials, the names given, then every set variable named like one."""
    named = [name for name in environ if _CREDENTIAL_NAME.match(name)]
    return list(dict.fromkeys([*CREDENTIAL_ENV_VARS, *extra, *sorted(named)]))


def secrets_from_env(names: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """`{value: NAME}` for each named variable set to a value long enough to look for."""
    values: dict[str, str] = {}
    for name in names:
        value = environ.get(name, "").strip()
        if len(value) >= MIN_ENV_VALUE:
            values.setdefault(value, name)
    return values


def encoded_forms(value: str) -> set[str]:
    """The ways a value shows up in a file: raw, URL-, JSON-, `\\/`-escaped, base64."""
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        value.replace("/", "\\/"),
    }
    raw = value.encode("utf-8", "surrogatepass")
    for offset in range(3):
        # Inside a larger base64 text the value starts at any byte offset mod 3; keep only
        # the characters that depend on the value's bytes alone.
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        start, end = -(-4 * offset // 3), (offset + len(raw)) // 3 * 4
        piece = encoded[start:end]
        if len(piece) >= MIN_ENV_VALUE:
            forms.update({piece, piece.replace("+", "-").replace("/", "_")})
    return forms


def stream_texts(body: bytes) -> Iterator[str]:
    """Each JSON field's text joined across a server-sent event stream's events: a key split
    over two chunks (`"sk-ab"`, `"c123…"`) is whole again in `choices.delta.content`."""
    fields: dict[str, list[str]] = {}
    for line in body.decode("utf-8", "replace").splitlines():
        if not line.startswith("data:"):
            continue
        try:
            event = json.loads(line[len("data:") :])
        except ValueError:
            continue
        for path, text in _strings(event, ""):
            fields.setdefault(path, []).append(text)
    for texts in fields.values():
        if len(texts) > 1:
            yield "".join(texts)


def _strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:  # list positions do not matter: chunk N's choice 0 is chunk 1's
            yield from _strings(item, path)


def find_secret(
    haystacks: Sequence[tuple[str, str]], names: Iterable[str], environ: Mapping[str, str]
) -> tuple[str, str] | None:
    """(what, where) of the first secret in the (where, text) haystacks: `the value of
    $NAME` or a shape, never the secret itself; None when there is none."""
    for value, name in secrets_from_env(names, environ).items():
        forms = encoded_forms(value)
        for where, haystack in haystacks:
            if any(form in haystack for form in forms):
                return f"the value of ${name}", where
    for where, haystack in haystacks:
        for kind, pattern in SHAPES:
            for match in pattern.finditer(haystack):
                if not _PLACEHOLDER_SK.fullmatch(match.group("secret")):
                    return f"a {kind} ({match.group('secret')[:4]}…)", where
    return None


def check_text_for_secrets(
    text: str, names: Iterable[str], environ: Mapping[str, str], *, where: str
) -> None:
    """Raise SecretFound when `text` (a golden) holds a secret by value or by shape."""
    found = find_secret([(where, text)], names, environ)
    if found is not None:
        raise SecretFound(*found)


def check_no_secrets(
    path: Path, text: str, raw_parts: Sequence[tuple[str, bytes]], env_vars: Iterable[str]
) -> None:
    """Refuse to write cassette `path` when a secret is in its text, its raw parts (URLs,
    headers, bodies, every response event: `(where, bytes)`) or the joined text of a stream."""
    decoded = [(where, part.decode("utf-8", "replace")) for where, part in raw_parts]
    joined = [
        (f"the whole text of {where}", whole)
        for where, part in raw_parts
        for whole in stream_texts(part)
    ]
    names = credential_env_names(env_vars)
    found = find_secret([*decoded, *joined, ("the file", text)], names, os.environ)
    if found is not None:
        raise SecretInCassette(path, *found)


def looks_high_entropy(token: str, *, min_length: int = 24) -> bool:
    """A long token mixing cases and digits with high entropy: a key of an unknown shape."""
    if len(token) < min_length or not re.fullmatch(r"[A-Za-z0-9_+/=-]+", token):
        return False
    if not (re.search(r"[a-z]", token) and re.search(r"[A-Z]", token) and re.search(r"\d", token)):
        return False
    counts = Counter(token)
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    return entropy >= min(4.0, math.log2(len(token)) - 0.5)


def query_param_action(name: str, value: str) -> str:
    """`keep`, `drop` (named like a credential) or `redact` (an unknown name whose value looks
    like a key) for one query parameter of a recorded URL."""
    if name.lower() in HARMLESS_QUERY_PARAMS:
        return "keep"
    if _CREDENTIAL_PARAM.search(name):
        return "drop"
    if looks_high_entropy(value) or find_secret([("", value)], (), {}) is not None:
        return "redact"
    return "keep"
