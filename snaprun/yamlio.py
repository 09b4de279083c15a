"""Canonical YAML text for golden transcripts.

Golden files are read and reviewed by humans in diffs, so the text must be
stable (the same data always gives byte-identical text), readable (block
style, raw unicode, multi-line text as literal blocks, one line per value)
and lossless (``load(dump(x)) == x`` for plain data).

Only plain data is accepted: ``dict`` with ``str`` keys, ``list``, ``str``,
``int``, ``float``, ``bool`` and ``None``.

libyaml (the C emitter) is used when present because it is much faster, but it
disagrees with PyYAML's pure-Python emitter on a few inputs (characters outside
the Basic Multilingual Plane, some control characters, long or empty mapping
keys).  Documents containing such strings are written with the pure-Python
emitter, so the output never depends on whether libyaml is installed.
"""

from __future__ import annotations

import gc
import re
from typing import Any, Final

# "unused-ignore" keeps mypy quiet both with and without types-PyYAML installed.
import yaml  # type: ignore[import-untyped, unused-ignore]
from yaml.constructor import ConstructorError  # type: ignore[import-untyped, unused-ignore]
from yaml.nodes import (  # type: ignore[import-untyped, unused-ignore]
    CollectionNode,
    MappingNode,
    Node,
    ScalarNode,
)
from yaml.reader import ReaderError  # type: ignore[import-untyped, unused-ignore]

__all__ = ["YamlError", "dump", "load"]

try:
    from yaml import CSafeDumper as _CDumperBase
    from yaml import CSafeLoader as _CLoaderBase
except ImportError:  # PyYAML built without libyaml
    _CDumperBase = None
    _CLoaderBase = None


class YamlError(ValueError):
    """Malformed YAML text; ``line`` and ``column`` are 1-based when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


# --------------------------------------------------------------------------
# Scalar style rules
# --------------------------------------------------------------------------

# Characters that may appear raw in plain, single-quoted and literal scalars
# and load back unchanged.  Everything else (tab, other C0/C1 controls, "\r",
# NEL, LS/PS line separators that loaders fold into "\n", BOM, U+FFFE/U+FFFF,
# U+10FFFF, lone surrogates) forces a double-quoted scalar, where the emitter
# writes an escape sequence instead.
_RAW_TEXT: Final = re.compile(
    "[\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010fffe]*"
)

# Strings the YAML 1.2 core schema, or YAML 1.1 readers other than PyYAML,
# would take as a number, bool or null.  PyYAML's own resolver already quotes
# most of these; the rest (``1e3``, ``0o17``, ``-.5``, ``y`` ...) round-trip
# through PyYAML even when plain, but would be misread by other tools and by
# people, so they are single-quoted as well.
_LOOKS_TYPED: Final = re.compile(
    r"""
    [-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
    | 0o[0-7]+ | 0x[0-9a-fA-F]+
    | [yYnN~] | null|Null|NULL | true|True|TRUE | false|False|FALSE
    """,
    re.VERBOSE,
)


def _literal_ok(text: str) -> bool:
    """Whether ``text`` survives a literal block scalar unchanged.

    A literal block cannot carry spaces at the end of a line (editors and
    YAML readers strip them), so those strings are double-quoted instead.
    """
    return " \n" not in text and not text.endswith(" ")


def _scalar_style(text: str) -> str | None:
    """Pick the style for a str; ``None`` lets the emitter choose plain vs quoted.

    The emitter already refuses plain style for anything its resolver would
    read back as another type or as structure (``yes``, ``- x``, ``a: b``,
    ``#x``, leading spaces, the empty string ...), so only the cases it gets
    wrong or ugly are decided here.
    """
    if not _RAW_TEXT.fullmatch(text):
        return '"'
    if "\n" in text:
        return "|" if _literal_ok(text) else '"'
    if _LOOKS_TYPED.fullmatch(text):
        return "'"
    return None


def _keeps_trailing_breaks(text: str) -> bool:
    """Whether a literal block for ``text`` needs keep chomping (``|+``)."""
    return text == "\n" or text.endswith("\n\n")


def _last_scalar(node: Node) -> ScalarNode | None:
    """The scalar written last in the document, if the document ends in one."""
    while isinstance(node, CollectionNode):
        if not node.value:
            return None  # ends in "{}" or "[]"
        last = node.value[-1]
        node = last[1] if isinstance(node, MappingNode) else last
    return node if isinstance(node, ScalarNode) else None


def _no_trailing_blank_lines(root: Node) -> None:
    """Double-quote a final ``|+`` block so the file ends with exactly one newline.

    A keep-chomped literal stores its trailing newlines as blank lines; at the
    very end of a file those would be stripped by editors and end-of-file
    fixers, silently changing the value.
    """
    last = _last_scalar(root)
    if last is not None and last.style == "|" and _keeps_trailing_breaks(last.value):
        last.style = '"'


# --------------------------------------------------------------------------
# Dumpers
# --------------------------------------------------------------------------

# "No wrapping": any line longer than this is unrealistic.  Kept well below
# INT_MAX because libyaml stores it in a C int.
_NO_WRAP: Final = 1 << 30

_DUMP_OPTIONS: Final[dict[str, Any]] = {
    "allow_unicode": True,
    "default_flow_style": False,
    "sort_keys": False,
    "indent": 2,
    "width": _NO_WRAP,
    "explicit_start": False,
    "explicit_end": False,
}


def _represent_str(dumper: Any, text: str) -> ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=_scalar_style(text))


# Multi-line text longer than this that a literal block cannot carry is written line by line.
_ONE_LINE_LIMIT: Final = 80


def _split_at_line_breaks(text: str) -> bool:
    """Whether a double-quoted ``text`` is written one line per line (see ``_LineDumper``).

    Multi-line text that a literal block cannot carry (trailing spaces) would otherwise be
    one double-quoted line, kilobytes long for a prompt, that a diff cannot show; a short one
    reads best as it is.
    """
    if len(text) <= _ONE_LINE_LIMIT or "\n" not in text:
        return False
    return not _literal_ok(text) and bool(_RAW_TEXT.fullmatch(text))


def _make_dumper(base: type[Any]) -> type[Any]:
    class Dumper(base):  # type: ignore[misc]  # PyYAML is untyped
        def ignore_aliases(self, data: object) -> bool:
            # Golden files must read top to bottom; shared sub-objects are
            # written out in full every time, never as &anchor / *alias.
            return True

        def serialize(self, node: Node) -> None:
            # Node styles are final once serialized; both the pure Serializer
            # and libyaml's CEmitter are reached through this one method.
            _no_trailing_blank_lines(node)
            super().serialize(node)

    Dumper.add_representer(str, _represent_str)
    return Dumper


class _LineDumper(_make_dumper(yaml.SafeDumper)):  # type: ignore[misc]  # PyYAML is untyped
    """The pure-Python dumper, writing each line of a double-quoted multi-line text on its own.

    Each line ends in the escape ``\\n`` and an escaped line break ``\\``, so its trailing
    spaces are content, not the end of a physical line; a leading space of the next line is
    written ``\\ `` because a continuation line's indentation is not part of the value.
    """

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        if not _split_at_line_breaks(text):
            super().write_double_quoted(text, split)
            return
        self.write_indicator('"', True)
        lines = text.split("\n")
        for number, line in enumerate(lines):
            body = line.replace("\\", "\\\\").replace('"', '\\"')
            if number > 0 and body.startswith(" "):
                body = "\\" + body
            if number < len(lines) - 1:
                body += "\\n\\"
            self.stream.write(body)
            self.column += len(body)
            if number < len(lines) - 1:
                self.write_indent()
                self.whitespace = self.indention = False
        self.write_indicator('"', False)


_PY_DUMPER: Final = _LineDumper
_C_DUMPER: Final = _make_dumper(_CDumperBase) if _CDumperBase is not None else None


def _dump_with(data: object, dumper: type[Any]) -> str:
    """Emit ``data`` with one specific dumper class (tests compare C and pure)."""
    text: str = yaml.dump(data, Dumper=dumper, **_DUMP_OPTIONS)
    # PyYAML ends a document whose root is a plain scalar with "..."; the
    # marker carries no data here and libyaml omits it, so drop it.
    if text.endswith("\n...\n"):
        text = text[: -len("...\n")]
    return text


# --------------------------------------------------------------------------
# Input validation and emitter choice
# --------------------------------------------------------------------------

# Strings libyaml emits exactly like PyYAML's pure emitter: the BMP printable
# range plus "\n" and tab.  (libyaml escapes astral characters such as emoji
# and classifies "\r" and C0/C1 controls differently.)
_C_SAFE_TEXT: Final = re.compile("[\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]*")

# libyaml measures a simple key in UTF-8 bytes (limit 128), PyYAML in
# characters plus the 5-character "!!str" tag (limit 127), and only PyYAML
# refuses an empty simple key; below 123 bytes both agree.
_C_SAFE_KEY_BYTES: Final = 122

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_SCALAR_TYPES: Final = (int, float, bool, type(None))


def _check_text(text: str, path: list[str]) -> bool:
    """Validate a str; return whether libyaml may emit it."""
    if _C_SAFE_TEXT.fullmatch(text):
        return not _split_at_line_breaks(text)  # only the pure dumper writes those by line
    if _SURROGATE.search(text):
        # Cannot be encoded as UTF-8, so it could never be written to a file.
        raise ValueError(f"lone surrogate in string at {_where(path)}")
    return False


def _check_key(key: object, path: list[str]) -> bool:
    if type(key) is not str:
        raise TypeError(f"mapping key {key!r} at {_where(path)} is not a str")
    fits = 0 < len(key.encode("utf-8", "surrogatepass")) <= _C_SAFE_KEY_BYTES
    return _check_text(key, path) and fits


def _check_plain(value: object, path: list[str], open_ids: set[int]) -> bool:
    """Validate plain data recursively; return whether libyaml may emit it all."""
    kind = type(value)
    if kind is str:
        return _check_text(value, path)  # type: ignore[arg-type]
    if kind in _SCALAR_TYPES:
        return True
    if kind is not dict and kind is not list:
        raise TypeError(
            f"cannot dump {kind.__name__} at {_where(path)}: only dict (str keys), list, "
            "str, int, float, bool and None are supported"
        )
    if id(value) in open_ids:
        raise ValueError(f"circular reference at {_where(path)}")
    open_ids.add(id(value))
    # "&" rather than "and": keep validating after the first non-C-safe string.
    c_safe = True
    if isinstance(value, dict):
        for key, item in value.items():
            path.append(f"[{key!r}]")
            c_safe = _check_key(key, path) & _check_plain(item, path, open_ids) & c_safe
            path.pop()
    else:
        for index, item in enumerate(value):  # type: ignore[arg-type]
            path.append(f"[{index}]")
            c_safe = _check_plain(item, path, open_ids) & c_safe
            path.pop()
    open_ids.discard(id(value))
    return c_safe


def _where(path: list[str]) -> str:
    return "$" + "".join(path)


def dump(data: object) -> str:
    """Return the canonical YAML text for plain data, ending in one newline.

    Raises ``TypeError`` for values that are not plain data (tuples, sets,
    bytes, dates, non-str keys, subclasses ...) and ``ValueError`` for
    circular references or lone surrogates.
    """
    c_safe = _check_plain(data, [], set())
    dumper = _C_DUMPER if (c_safe and _C_DUMPER is not None) else _PY_DUMPER
    return _dump_with(data, dumper)


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


def _refuse_duplicate_keys(node: MappingNode) -> None:
    """A mapping that names a key twice: YAML loaders keep the last one silently, so a
    golden or cassette edited (or merged) badly would lose half its content unseen."""
    seen: set[object] = set()
    for key, _ in node.value:
        if not isinstance(key, ScalarNode):
            continue
        if key.value in seen:
            raise ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"duplicate key {key.value!r}",
                key.start_mark,
            )
        seen.add(key.value)


def _make_loader(base: type[Any], *, positioned: bool) -> type[Any]:
    class Loader(base):  # type: ignore[misc]  # PyYAML is untyped
        def construct_mapping(self, node: MappingNode, deep: bool = False) -> Any:
            _refuse_duplicate_keys(node)
            return super().construct_mapping(node, deep=deep)

        if positioned:

            def construct_object(self, node: Node, deep: bool = False) -> Any:
                # Some scalars pass the resolver but fail in Python (``0b_``,
                # ``2001-02-30``, ``!!int x``); give them a position like any
                # other YAML error instead of a bare ValueError.
                try:
                    return super().construct_object(node, deep=deep)
                except (ValueError, OverflowError) as exc:
                    raise ConstructorError(
                        None, None, f"cannot construct {node.tag}: {exc}", node.start_mark
                    ) from exc

    return Loader


# Loading tries libyaml's own loader first: the positioning wrapper above costs a Python call
# per node (BENCHMARKS.md, finding 6), and only a failed load needs it.
_PY_LOADER: Final = _make_loader(yaml.SafeLoader, positioned=True)
_FAST_LOADER: Final = (
    _make_loader(_CLoaderBase, positioned=False) if _CLoaderBase is not None else _PY_LOADER
)

_LINE_BREAK: Final = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _line_col(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of a character offset, counting YAML line breaks."""
    line, line_start = 1, 0
    for match in _LINE_BREAK.finditer(text, 0, position):
        line, line_start = line + 1, match.end()
    return line, position - line_start + 1


def _to_yaml_error(text: str, exc: BaseException) -> YamlError:
    """A one-line YamlError for any failure of the YAML machinery."""
    if isinstance(exc, RecursionError):
        return YamlError("invalid YAML: nested too deeply")
    if isinstance(exc, ReaderError):
        line, column = _line_col(text, exc.position)
        return YamlError(
            f"invalid YAML: character {chr(exc.character)!r} is not allowed "
            f"(line {line}, column {column})",
            line,
            column,
        )
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        context = f" {exc.context}," if exc.context and exc.problem else ""
        if mark is None:
            return YamlError(f"invalid YAML:{context} {problem}")
        line, column = mark.line + 1, mark.column + 1
        return YamlError(
            f"invalid YAML:{context} {problem} (line {line}, column {column})", line, column
        )
    first_line = str(exc).strip().splitlines()[:1] or [type(exc).__name__]
    return YamlError(f"invalid YAML: {first_line[0]}")


_LOAD_FAILURES: Final = (yaml.YAMLError, RecursionError)


def _load_with(text: str, loader: type[Any]) -> object:
    # Both loader classes derive from SafeLoader: no arbitrary object construction.
    # The cyclic GC is paused while the document is built: each collection would walk every
    # object built so far, making a large cassette's load superlinear, and a freshly loaded
    # document is a tree with no cycles to collect (BENCHMARKS.md, finding 1).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return yaml.load(text, Loader=loader)
    finally:
        if enabled:
            gc.enable()


def load(text: str) -> object:
    """Safe-load one YAML document; raise ``YamlError`` if it is malformed.

    Empty text loads as ``None``; more than one document, a key given twice in one mapping
    and a byte order mark (which snaprun never writes, and which editors hide) are errors.
    """
    if text.startswith("\ufeff"):
        raise YamlError(
            "invalid YAML: the text starts with a byte order mark (U+FEFF), which snaprun never "
            "writes (line 1, column 1)",
            1,
            1,
        )
    try:
        return _load_with(text, _FAST_LOADER)
    except (*_LOAD_FAILURES, ValueError, OverflowError) as exc:
        error = _to_yaml_error(text, exc)
    if _FAST_LOADER is not _PY_LOADER:
        # libyaml words and positions its errors differently, and leaves a scalar that fails
        # in Python unpositioned: re-parse with the pure loader, so the message never depends
        # on the installation.
        try:
            _load_with(text, _PY_LOADER)
        except _LOAD_FAILURES as exc:
            error = _to_yaml_error(text, exc)
    raise error
