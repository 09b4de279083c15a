"""HTTP bodies as data: a body that is JSON is compared, stored and diffed as the data it holds.

Requests are matched as data (see :class:`BodyMatcher`): key order ignored, the lists a JSON
schema uses as sets compared as sets, and the project's volatile values labelled. The
cassette file keeps JSON bodies as YAML data, rebuilt byte for byte in the layout the server
used (see :data:`JSON_STYLES`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol, TypedDict

from vcr.util import read_body  # type: ignore[import-untyped]

from snaprun.canonical import canonical_json
from snaprun.volatile import NO_VOLATILE, Volatile

Json = Any  # a value json.loads can return


class VcrRequest(Protocol):
    """What snaprun uses of vcrpy's ``vcr.request.Request`` (vcrpy has no type hints).

    ``body`` is bytes or None once vcrpy has read it (a str is stored encoded); for a file or
    iterator body vcrpy hands out a fresh reader on every access, so read it through
    :func:`request_body`. Assigning ``headers`` or ``uri`` is how vcrpy's hooks change them.
    """

    method: str
    uri: str
    headers: Mapping[str, str]
    __dict__: dict[str, Any]  # where matching caches a body's key

    @property
    def body(self) -> object: ...


class VcrStatus(TypedDict):
    code: int
    message: str


class VcrBody(TypedDict):
    string: bytes | str


class VcrResponse(TypedDict):
    """vcrpy's recorded response: its status, headers (each a list of values) and body."""

    status: VcrStatus
    headers: dict[str, list[str]]
    body: VcrBody


Matcher = Callable[[VcrRequest, VcrRequest], bool]  # vcrpy's matcher signature

NOT_JSON: Final = object()  # what parse_json returns for a body that is not JSON


def as_bytes(body: object) -> bytes | None:
    """vcrpy hands bodies around as str or bytes (or None); work on bytes."""
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"unsupported body type {type(body).__name__}")


def parse_json(body: bytes | None) -> Json:
    """The body as JSON data, or NOT_JSON."""
    if not body:
        return NOT_JSON
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # also UnicodeDecodeError
        return NOT_JSON


# How servers lay out the JSON they send. A recorded JSON body or SSE event is kept as data
# only if one of these renders it back byte for byte; the name is written as json_style
# unless it is the default, compact (what OpenAI and most servers send).
_JSON_LAYOUTS: Final[dict[str, dict[str, Any]]] = {
    "compact": {"separators": (",", ":")},
    "spaced": {"separators": (", ", ": ")},  # Python's json.dumps defaults
    "indent2": {"indent": 2, "separators": (",", ": ")},
    "colon-spaced": {"separators": (",", ": ")},  # Google's APIs (protobuf JSON)
}
JSON_STYLES: Final = tuple(
    f"{layout}{suffix}" for layout in _JSON_LAYOUTS for suffix in ("", "-ascii")
)


def render_json(data: Json, style: str = "compact") -> str:
    """``data`` as JSON text in one of JSON_STYLES."""
    layout = _JSON_LAYOUTS[style.removesuffix("-ascii")]
    return json.dumps(data, ensure_ascii=style.endswith("-ascii"), **layout)


def messages_of(data: Json) -> list[Json] | None:
    """The chat ``messages`` list of a request body, if it has one."""
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        messages: list[Json] = data["messages"]
        return messages
    return None


def request_body(request: VcrRequest) -> bytes | None:
    return as_bytes(read_body(request))


def response_body(response: Mapping[str, Any]) -> bytes:
    """The body of vcrpy's recorded response; b"" when it has none."""
    return as_bytes((response.get("body") or {}).get("string")) or b""


# Matching parses each body once: the key is cached on the vcrpy Request object, next to the
# body and the volatile patterns it was computed from. vcrpy deep-copies requests before
# matching; the copies share the (immutable) body bytes and so inherit the cached key.
_KEY_ATTR: Final = "_snaprun_body_key"


Normalize = Callable[[Json], None]  # a pytest_snaprun_normalize_request hook, in place


def body_key(
    request: VcrRequest, volatile: Volatile = NO_VOLATILE, normalize: Normalize | None = None
) -> bytes:
    """A digest of the body as data: equal for JSON bodies that differ only in key order, in
    the order of schema sets (see ``_schemas_unordered``) or in their ``volatile`` values,
    after the project's ``normalize`` hook has changed them."""
    body = request.body
    rules = (volatile, normalize)
    cached = request.__dict__.get(_KEY_ATTR)
    if cached is not None and cached[0] is body and cached[1] == rules:
        return bytes(cached[2])
    raw = request_body(request)
    data = parse_json(raw)
    if data is NOT_JSON:
        key = _digest(b"raw:" + _labelled_raw(raw or b"", volatile))
    else:
        key = data_key(_prepared(data, volatile, normalize))
    if body is None or isinstance(body, bytes):  # file and iterator bodies are re-read
        remember_key(request, key, volatile, normalize)
    return key


def remember_key(
    request: VcrRequest,
    key: bytes,
    volatile: Volatile = NO_VOLATILE,
    normalize: Normalize | None = None,
) -> None:
    """Give ``request`` the ``body_key`` of its current body, computed elsewhere."""
    request.__dict__[_KEY_ATTR] = (request.body, (volatile, normalize), key)


def _prepared(data: Json, volatile: Volatile, normalize: Normalize | None) -> Json:
    """``data`` (freshly parsed: the hook changes it in place) with its volatile values
    labelled, then changed by the project's hook."""
    data = volatile.label(data, sort_keys=True)
    if normalize is not None:
        normalize(data)
    return data


def _labelled_raw(raw: bytes, volatile: Volatile) -> bytes:
    if not volatile:
        return raw
    return volatile.label_text(raw.decode("utf-8", "surrogateescape")).encode(
        "utf-8", "surrogateescape"
    )


def data_key(data: Json, message_texts: Sequence[str] | None = None) -> bytes:
    """``body_key`` of a JSON body from its data (already labelled, if it has volatile values).

    ``message_texts``, when the caller has them, are the ``canonical_json`` of ``data``'s
    messages: reading a cassette, where each request's history is the previous request's,
    then renders each message once rather than every history again (BENCHMARKS.md,
    finding 4).
    """
    messages = messages_of(data)
    if messages is None:
        return _digest(b"json:" + _canonical_bytes(_schemas_unordered(data)))
    rest = {name: value for name, value in data.items() if name != "messages"}
    # canonical_json of a list is its items' canonical_json, joined by ","
    listed = canonical_json(messages) if message_texts is None else f"[{','.join(message_texts)}]"
    return _digest(
        b"chat:" + _canonical_bytes(_schemas_unordered(rest)) + b"\n" + listed.encode(*_UTF8)
    )


_UTF8: Final = ("utf-8", "surrogatepass")  # JSON data may hold lone surrogates


def _canonical_bytes(data: Json) -> bytes:
    return canonical_json(data).encode(*_UTF8)


def _digest(material: bytes) -> bytes:
    return hashlib.blake2b(material, digest_size=16).digest()


# JSON-schema keywords whose list is a set: the order carries no meaning, and code builds
# them from Python sets (livekit's TaskGroup `out_of_scope` tool, an app's `Literal[...]` or
# `enum: list(choices)`), whose order changes with each process's hash seed.
UNORDERED_SCHEMA_KEYWORDS: Final = frozenset({"enum", "required"})
# Top-level fields holding the conversation (OpenAI and Anthropic `messages`, the Responses
# API's `input`, Gemini's `contents`): a tool's arguments there may use those names for data
# whose order matters, so they are left as they are.
_CONVERSATION_FIELDS: Final = frozenset({"messages", "input", "contents"})


def _schemas_unordered(data: Json) -> Json:
    """The request with its `tools` and every schema set in them in a fixed order.

    The tools list itself is a set too: livekit-agents 1.3 builds it from one.
    """
    if not isinstance(data, dict):
        return data
    fixed: dict[str, Json] = {}
    for name, value in data.items():
        if name not in _CONVERSATION_FIELDS:
            value = _sets_sorted(value)
            if name == "tools" and isinstance(value, list):
                value = sorted(value, key=canonical_json)
        fixed[name] = value
    return fixed


def _sets_sorted(data: Json) -> Json:
    if isinstance(data, list):
        return [_sets_sorted(item) for item in data]
    if not isinstance(data, dict):
        return data
    fixed = {}
    for key, value in data.items():
        value = _sets_sorted(value)
        # A property *named* `enum` or `required` holds a schema (a dict), never a list.
        if key in UNORDERED_SCHEMA_KEYWORDS and isinstance(value, list):
            value = sorted(value, key=canonical_json)
        fixed[key] = value
    return fixed


class BodyMatcher:
    """vcrpy matcher: the bodies are equal as data (see ``body_key``) or as bytes."""

    def __init__(self, volatile: Volatile = NO_VOLATILE, normalize: Normalize | None = None):
        self.volatile = volatile
        self.normalize = normalize
        self.__name__ = "snaprun_body"  # vcrpy names matchers in its debug log

    def key(self, request: VcrRequest) -> bytes:
        return body_key(request, self.volatile, self.normalize)

    def compared(self, data: Json) -> Json:
        """A freshly parsed JSON body as this matcher compares it (changed in place by the
        project's hook): what explains a refusal must see what matching saw."""
        return _schemas_unordered(_prepared(data, self.volatile, self.normalize))

    def __call__(self, r1: VcrRequest, r2: VcrRequest) -> bool:
        return self.key(r1) == self.key(r2)


def match_body_as_data(r1: VcrRequest, r2: VcrRequest) -> bool:
    """vcrpy matcher: the bodies are equal as JSON data or as bytes, with no volatile values."""
    return body_key(r1) == body_key(r2)
