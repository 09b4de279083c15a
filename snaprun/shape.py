"""Reading a golden's plain data part by part: each value's type checked, each key accounted for.

Every part of a timeline reads itself with `Fields` (see `timeline.Run.from_fields`); a value
of the wrong type, a missing key or one no part knows raises `GoldenShapeError`, naming the
place in the file: `runs[2].events[3].message: unknown key 'txt'`. Lists count from 1, as every
snaprun message counts runs and events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

Parsed = TypeVar("Parsed")


class GoldenShapeError(ValueError):
    """Data that is not a snaprun golden; the message names the place: `runs[2].kind: …`."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path or "top level"
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def _a(value: object) -> str:
    """What a value is, in YAML's words: `a mapping`, `a list`, `a string`, `null`…"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"a {type(value).__name__}"


_REQUIRED: Final = object()
_MISSING: Final = object()


class Fields:
    """One mapping of a golden, read key by key: each read checks its type, errors say where.

    Reading a part is `cls.from_fields(fields)` followed by `fields.check_all_read()`, so a
    key the part does not know (a misspelt `txt:` in a hand-edited golden) is an error rather
    than silently lost when the golden is written again. With `partial`, a missing key is
    noted in `missing` instead (what `golden(exclude=...)` leaves of an event), and the part
    read is only a stand-in.
    """

    def __init__(self, data: object, path: str, *, partial: bool = False) -> None:
        if not isinstance(data, Mapping):
            raise GoldenShapeError(path, f"expected a mapping, got {_a(data)}")
        self.data: Mapping[Any, Any] = data
        self.path = path
        self.partial = partial
        self.missing: list[str] = []
        self._read: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def value(self, key: str, default: object = _REQUIRED) -> Any:
        self._read.add(key)
        if key in self.data:
            return self.data[key]
        if default is not _REQUIRED:
            return default
        if not self.partial:
            raise GoldenShapeError(self.path, f"missing {key!r}")
        self.missing.append(key)
        return _MISSING

    def _typed(self, key: str, kind: type[Parsed], name: str, stand_in: Parsed) -> Parsed:
        value = self.value(key)
        return stand_in if value is _MISSING else checked(value, kind, name, self.at(key))

    def text(self, key: str) -> str:
        return self._typed(key, str, "a string", "")

    def optional_text(self, key: str) -> str | None:
        """A string, or None when the key is absent or null."""
        value = self.value(key, None)
        return None if value is None else checked(value, str, "a string", self.at(key))

    def flag(self, key: str, default: bool | None = None) -> bool:
        if default is None:
            return self._typed(key, bool, "true or false", False)
        return checked(self.value(key, default), bool, "true or false", self.at(key))

    def choice(self, key: str, choices: tuple[Parsed, ...]) -> Parsed:
        value = self.text(key)
        if key in self.missing:
            return choices[0]
        for choice in choices:
            if choice == value:
                return choice
        names = ", ".join(map(str, choices))
        raise GoldenShapeError(self.at(key), f"{value!r} is not one of {names}")

    def listed(
        self, key: str, read: Callable[[object, str], Parsed], *, required: bool = False
    ) -> tuple[Parsed, ...]:
        """Each element of the list under `key` read by `read(element, its path)`."""
        value = self.value(key) if required else self.value(key, [])
        if value is _MISSING:
            return ()
        path = self.at(key)
        if not isinstance(value, list | tuple):
            raise GoldenShapeError(path, f"expected a list, got {_a(value)}")
        return tuple(read(element, f"{path}[{number}]") for number, element in enumerate(value, 1))

    def texts(self, key: str) -> tuple[str, ...]:
        return self.listed(key, lambda value, path: checked(value, str, "a string", path))

    def check_all_read(self) -> None:
        unknown = [key for key in self.data if key not in self._read]
        if unknown:
            raise GoldenShapeError(self.path, f"unknown key {unknown[0]!r}")


def checked(value: object, kind: type[Parsed], name: str, path: str) -> Parsed:
    if not isinstance(value, kind):
        raise GoldenShapeError(path, f"expected {name}, got {_a(value)}")
    return value


def read(from_fields: Callable[[Fields], Parsed], data: object, path: str) -> Parsed:
    """`data` (at `path`) read as the part `from_fields` builds, every key accounted for."""
    fields = Fields(data, path)
    part = from_fields(fields)
    fields.check_all_read()
    return part


def read_partial(from_fields: Callable[[Fields], Parsed], data: object, path: str) -> Parsed | None:
    """As `read`, but None when keys are missing: the caller keeps such a part as its data.

    A golden may be a filtered view of the transcript (`golden(exclude=props("text"))`), so
    an event without some of its fields is a legal golden; a key no event of that kind has,
    or a value of the wrong type, is still refused.
    """
    fields = Fields(data, path, partial=True)
    part = from_fields(fields)
    fields.check_all_read()
    return None if fields.missing else part


def one_kind(data: object, path: str) -> tuple[str, object]:
    """`{kind: fields}` → `(kind, fields)`: how a golden writes an event."""
    if not isinstance(data, Mapping) or len(data) != 1:
        got = f"a mapping of {len(data)} keys" if isinstance(data, Mapping) else _a(data)
        raise GoldenShapeError(path, f"expected one `kind: fields` mapping, got {got}")
    ((kind, fields),) = data.items()
    if not isinstance(kind, str):
        raise GoldenShapeError(path, f"expected a kind name, got {_a(kind)}")
    return kind, fields
