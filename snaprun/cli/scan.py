"""Credentials in cassettes and goldens: find them line by line, report them masked.

Cassettes are scrubbed when they are recorded, but a cassette recorded by an older version, by
hand, or with a header the scrubber did not know can still carry a key; a golden can too, when
an agent echoes its configuration. `snaprun scan` is the last check before such a file is
committed (it runs as a pre-commit hook), so it looks for shapes of secrets, not for the one
scrubbing rule that failed. It never prints a secret: a finding shows at most its first four
characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from snaprun.cassettes import secrets
from snaprun.cassettes.secrets import SHAPES, encoded_forms, looks_high_entropy

MASK_CHARS: Final = 4
"""A finding shows at most this many characters of the secret, and at most a quarter of it."""

# The provider key shapes (secrets.SHAPES, most specific first: when two patterns match the
# same characters, only the first is reported, so one secret is one finding), then a bearer
# token. Group `secret` is the part that is masked.
_SHAPES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    *SHAPES,
    ("Bearer token", re.compile(r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,})")),
)
# A query parameter named like a credential (`?apikey=`, `&code=`), and any field named like
# one (`"deepgram_key": "…"`) whose value is a high-entropy token: an unknown shape of key.
_QUERY: Final = re.compile(
    r"(?i)[?&](?P<name>api_?key|key|code|token|jwt|access_token|sig|signature|password)="
    r"(?P<secret>[^&\s'\"#]{8,})"
)
_NAMED_TOKEN: Final = re.compile(
    r"""(?ix)(?P<name>[A-Za-z0-9_-]*(?:key|secret|token|passw|auth|credential)[A-Za-z0-9_-]*)
    ["']?\s*[:=]\s*["']?(?P<secret>[A-Za-z0-9_+/=.-]{16,})"""
)

# A header (or query parameter, or JSON field) whose value is a credential, with the value on
# the same line (`api-key: abc`, `"x-api-key": "abc"`) or on the next as a YAML list item
# (`authorization:` then `- Bearer abc`, how vcrpy writes headers).
_HEADER: Final = re.compile(
    r"""(?ix)(?<![A-Za-z0-9_-])["']?(?P<name>x-api-key|x-goog-api-key|api[-_]?key|authorization
    |access[-_]token|client[-_]secret|password)["']?
    \s*[:=]\s*(?P<value>.*)$"""
)
_LIST_ITEM: Final = re.compile(r"^\s*-\s+(?P<value>.*)$")
# A header value is a credential when it is one token, optionally after its scheme: prose
# such as `authorization: required for this tool` in a golden is not.
_TOKEN: Final = re.compile(
    r"""(?ix)\s*["'\[]*\s*(?:(?:bearer|basic|token)\s+)?
    (?P<secret>[A-Za-z0-9._~+/=-]{8,})(?:["'\],}].*)?\s*"""
)
# Values that say a secret was there and is gone.
_PLACEHOLDER: Final = re.compile(
    r"(?i)redacted|scrubbed|filtered|placeholder|dummy|fake|x{8,}|sk-test|(?:your|my)[-_].*"
)


@dataclass(frozen=True)
class Finding:
    """One secret on one line of one file."""

    path: str
    line: int
    kind: str
    masked: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} ({self.masked})"


@dataclass(frozen=True)
class Scan:
    """What `scan_files` looked at and found."""

    findings: list[Finding]
    files: int


def mask(secret: str) -> str:
    """The first characters of a secret (four at most, a quarter at most) and `…`."""
    shown = min(MASK_CHARS, len(secret) // 4)
    return secret[:shown] + "…"


def credential_env_names(extra: Sequence[str]) -> list[str]:
    """The credential variables snaprun knows, the ones named with `--env`, then every set
    variable named like a credential (`*_KEY`, `*_TOKEN`, …)."""
    return secrets.credential_env_names(extra)


def files_under(paths: Iterable[Path]) -> list[Path]:
    """The files named, and every file under the directories named, in a stable order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(child for child in path.rglob("*") if child.is_file())
        elif path.is_file():
            files.append(path)
    return list(dict.fromkeys(files))


def scan_files(files: Sequence[Path], env_secrets: Mapping[str, str]) -> Scan:
    findings: list[Finding] = []
    scanned = 0
    for file in files:
        data = file.read_bytes()
        if b"\0" in data:
            continue  # binary: neither a golden nor a cassette
        scanned += 1
        text = data.decode("utf-8", errors="replace")
        findings += scan_text(text, str(file), env_secrets)
    return Scan(findings=findings, files=scanned)


def scan_text(text: str, path: str, env_secrets: Mapping[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    header_above: str | None = None
    # Split on "\n" only: line numbers must be the ones an editor shows.
    for number, line in enumerate(text.split("\n"), start=1):
        taken: list[tuple[int, int]] = []
        for kind, start, end in _line_secrets(line, env_secrets, header_above):
            if any(start < taken_end and taken_start < end for taken_start, taken_end in taken):
                continue
            taken.append((start, end))
            findings.append(Finding(path, number, kind, mask(line[start:end])))
        header_above = _bare_header(line)
    return findings


def _line_secrets(
    line: str, env_secrets: Mapping[str, str], header_above: str | None
) -> Iterator[tuple[str, int, int]]:
    """(kind, start, end) of each secret on one line, the most specific kinds first."""
    for value, name in env_secrets.items():
        for form in sorted(encoded_forms(value), key=len, reverse=True):
            start = line.find(form)
            while start != -1:
                yield f"value of ${name}", start, start + len(form)
                start = line.find(form, start + len(form))
    for kind, pattern in _SHAPES:
        for match in pattern.finditer(line):
            if kind != "Bearer token" or _is_credential(match.group("secret")):
                yield kind, match.start("secret"), match.end("secret")
    for match in _QUERY.finditer(line):
        if _is_credential(match.group("secret")):
            yield f"{match.group('name').lower()} query parameter", *match.span("secret")
    for match in _NAMED_TOKEN.finditer(line):
        secret = match.group("secret")
        if looks_high_entropy(secret, min_length=16) and _is_credential(secret):
            yield f"high-entropy {match.group('name')}", *match.span("secret")
    header = _HEADER.search(line)
    if header is not None:
        yield from _header_value(header.group("name"), line, header.start("value"))
    item = _LIST_ITEM.match(line)
    if header_above is not None and item is not None:
        yield from _header_value(header_above, line, item.start("value"))


def _header_value(name: str, line: str, start: int) -> Iterator[tuple[str, int, int]]:
    token = _TOKEN.fullmatch(line, start)
    if token is not None and _is_credential(token.group("secret")):
        yield f"{name.lower()} header", token.start("secret"), token.end("secret")


def _bare_header(line: str) -> str | None:
    """The header named on this line when its value follows on the next lines."""
    header = _HEADER.search(line)
    if header is None or header.group("value").strip():
        return None
    return header.group("name")


def _is_credential(value: str) -> bool:
    return _PLACEHOLDER.fullmatch(value) is None
