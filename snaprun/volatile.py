"""Values an agent generates afresh on every run — order ids, today's date — labelled so that
a request and a golden read the same on any run and any day.

A project lists their shapes in its pytest ini, one regular expression per line::

    [pytest]
    snaprun_volatile =
        ORD-[A-Z0-9]{6}
        \\d{4}-\\d{2}-\\d{2}

Each distinct value they match becomes ``<volatile-1>``, ``<volatile-2>``… in order of first
appearance. :meth:`Volatile.label` is the one function that does it, for the request bodies a
cassette compares (each request labelled on its own) and for the data a golden is written
from (the whole golden at once).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

Json = Any  # a value json.loads can return, or a golden's plain data

LABEL: Final = "<volatile-{}>"
INI_KEY: Final = "snaprun_volatile"


class InvalidVolatilePattern(ValueError):
    """A ``snaprun_volatile`` line that is not a usable regular expression."""


@dataclass(frozen=True)
class Volatile:
    """The ``snaprun_volatile`` patterns of a project. Empty: nothing is labelled."""

    patterns: tuple[str, ...] = ()
    _regex: re.Pattern[str] | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for pattern in self.patterns:
            _check(pattern)
        # One alternation: a value matched by two patterns gets one label, and a text is
        # scanned once, left to right.
        joined = "|".join(f"(?:{pattern})" for pattern in self.patterns)
        object.__setattr__(self, "_regex", re.compile(joined) if self.patterns else None)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Volatile:
        """The patterns of the ini key's lines; InvalidVolatilePattern names a bad one."""
        return cls(tuple(line.strip() for line in lines if line.strip()))

    def __bool__(self) -> bool:
        return self._regex is not None

    def label(self, data: Json, *, sort_keys: bool = False) -> Json:
        """``data`` with every match in its strings replaced by its label.

        Labels count in the order strings are met: lists in order, mappings in their key
        order, or sorted by key with ``sort_keys`` (a request body is compared whatever its
        key order, so its labels must not depend on it). Keys themselves are left alone.
        """
        if self._regex is None:
            return data
        return _Labeller(self._regex, sort_keys).walk(data)

    def label_text(self, text: str) -> str:
        """One text labelled on its own (a request body that is not JSON)."""
        if self._regex is None:
            return text
        return _Labeller(self._regex, sort_keys=False).text(text)


def _check(pattern: str) -> None:
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise InvalidVolatilePattern(
            f"snaprun: ini key {INI_KEY}: {pattern!r} is not a regular expression ({error})"
        ) from None
    if regex.fullmatch(""):
        raise InvalidVolatilePattern(
            f"snaprun: ini key {INI_KEY}: {pattern!r} matches the empty string, so it would "
            "label every position of every text; make it match the generated value only"
        )


class _Labeller:
    """One labelling: the values seen so far and their labels."""

    def __init__(self, regex: re.Pattern[str], sort_keys: bool) -> None:
        self.regex = regex
        self.sort_keys = sort_keys
        self.labels: dict[str, str] = {}

    def walk(self, data: Json) -> Json:
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, list | tuple):
            return [self.walk(item) for item in data]
        if isinstance(data, dict):
            keys: Sequence[Any] = sorted(data, key=str) if self.sort_keys else list(data)
            return {key: self.walk(data[key]) for key in keys}
        return data

    def text(self, text: str) -> str:
        return self.regex.sub(self._label_of, text)

    def _label_of(self, match: re.Match[str]) -> str:
        value = match.group(0)
        if value not in self.labels:
            self.labels[value] = LABEL.format(len(self.labels) + 1)
        return self.labels[value]


NO_VOLATILE: Final = Volatile()
"""No patterns: what a project without ``snaprun_volatile`` gets."""
