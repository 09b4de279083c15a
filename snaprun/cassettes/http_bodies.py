"""HTTP bodies as data: a body that is JSON is compared, stored and diffed as the data it holds.

Requests are matched as data (key order ignored, see :func:`match_body_as_data`), and the
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
# body it was computed from. vcrpy deep-copies requests before matching; the copies share
# the (immutable) body bytes and so inherit the cached key.
_KEY_ATTR: Final = "_snaprun_body_key"


def body_key(request: VcrRequest) -> bytes:
    """A digest of the body as data: equal for JSON bodies that differ only in key order."""
    body = request.body
    cached = request.__dict__.get(_KEY_ATTR)
    if cached is not None and cached[0] is body:
        return bytes(cached[1])
    raw = request_body(request)
    data = parse_json(raw)
    key = _digest(b"raw:" + (raw or b"")) if data is NOT_JSON else data_key(data)
    if body is None or isinstance(body, bytes):  # file and iterator bodies are re-read
        remember_key(request, key)
    return key


def remember_key(request: VcrRequest, key: bytes) -> None:
    """Give ``request`` the ``body_key`` of its current body, computed elsewhere."""
    request.__dict__[_KEY_ATTR] = (request.body, key)


def data_key(data: Json, message_texts: Sequence[str] | None = None) -> bytes:
    """``body_key`` of a JSON body from its data.

    ``message_texts``, when the caller has them, are the ``canonical_json`` of ``data``'s
    messages: reading a cassette, where each request's history is the previous request's,
    then renders each message once rather than every history again (BENCHMARKS.md,
    finding 4).
    """
    messages = messages_of(data)
    if messages is None:
        return _digest(b"json:" + _canonical_bytes(_tools_unordered(data)))
    rest = {name: value for name, value in data.items() if name != "messages"}
    # canonical_json of a list is its items' canonical_json, joined by ","
    listed = canonical_json(messages) if message_texts is None else f"[{','.join(message_texts)}]"
    return _digest(
        b"chat:" + _canonical_bytes(_tools_unordered(rest)) + b"\n" + listed.encode(*_UTF8)
    )


_UTF8: Final = ("utf-8", "surrogatepass")  # JSON data may hold lone surrogates


def _canonical_bytes(data: Json) -> bytes:
    return canonical_json(data).encode(*_UTF8)


def _digest(material: bytes) -> bytes:
    return hashlib.blake2b(material, digest_size=16).digest()


def _tools_unordered(data: Json) -> Json:
    """The request with its `tools` in a fixed order: the order carries no meaning, and
    livekit-agents 1.3 builds the list from a set, so it changes from one run to the next."""
    tools = data.get("tools") if isinstance(data, dict) else None
    if not isinstance(tools, list):
        return data
    return {**data, "tools": sorted(tools, key=canonical_json)}


def match_body_as_data(r1: VcrRequest, r2: VcrRequest) -> bool:
    """vcrpy matcher: the bodies are equal as JSON data (key order ignored) or as bytes."""
    return body_key(r1) == body_key(r2)


def match_normalized_body(normalize: Callable[[Json], None]) -> Matcher:
    """vcrpy matcher like `match_body_as_data`, on JSON bodies as `normalize` changes them
    (in place, on a copy: the request itself keeps the body it was sent with)."""

    def key(request: VcrRequest) -> bytes:
        body = request.body
        cached = request.__dict__.get(_NORMALIZED_KEY_ATTR)
        if cached is not None and cached[0] is body:
            return bytes(cached[1])
        data = parse_json(request_body(request))
        if data is NOT_JSON:
            return body_key(request)
        normalize(data)  # parse_json made a fresh copy
        normalized = data_key(data)
        if body is None or isinstance(body, bytes):
            request.__dict__[_NORMALIZED_KEY_ATTR] = (body, normalized)
        return normalized

    def match_normalized_body(r1: VcrRequest, r2: VcrRequest) -> bool:
        return key(r1) == key(r2)

    return match_normalized_body


_NORMALIZED_KEY_ATTR: Final = "_snaprun_normalized_body_key"
