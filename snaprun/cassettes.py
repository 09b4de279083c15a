"""Cassettes: record a test's LLM traffic once with vcrpy, then replay it offline, exactly.

:func:`open_cassette` wraps one test's use of one cassette file. Everything it needs comes
in as arguments (this module never imports pytest); the plugin decides paths, record modes
and the command that re-records a test.

What it adds to plain vcrpy, and why:

* **Replay never touches the network, and fails at once.** vcrpy raises inside the HTTP
  transport when a request is not in the cassette; the openai SDK and livekit's LLM stream
  take that for a connection error and retry with back-off, so a changed prompt shows up as
  a multi-second hang and a vague "Connection error". Here the cassette answers such a
  request itself with an error the clients do not retry, remembers the explanation (a diff
  against the closest recorded request) and raises it when the test ends.
* **Exactly-once replay.** Every recorded interaction must be replayed once: a request made
  one time too many is refused like an unrecorded one, and :meth:`CassetteUse.problems`
  lists the interactions the test never asked for.
* **Nothing secret is written.** Only allow-listed headers are kept (``content-type``),
  credential query parameters are dropped, and a recording that still contains the value of
  a credential environment variable is refused before anything is written.
* **Readable, compact files.** A custom vcrpy serializer stores JSON bodies as YAML data,
  SSE streams as lists of events (rebuilt byte for byte on replay), and each request's chat
  ``messages`` as a delta against the previous request, so a long conversation grows
  linearly rather than quadratically.
* **Safe writes.** The file is written atomically at the end, and only when the test passed.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import hashlib
import http
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import vcr  # type: ignore[import-untyped]
import vcr.matchers  # type: ignore[import-untyped]
import vcr.serialize  # type: ignore[import-untyped]
from vcr.cassette import Cassette  # type: ignore[import-untyped]
from vcr.errors import UnhandledHTTPRequestError  # type: ignore[import-untyped]
from vcr.persisters.filesystem import CassetteNotFoundError  # type: ignore[import-untyped]
from vcr.util import read_body  # type: ignore[import-untyped]

from snaprun import yamlio

__all__ = [
    "DEFAULT_SECRET_ENV_VARS",
    "FORMAT_VERSION",
    "KEPT_HEADERS",
    "RECORD_MODES",
    "REFUSAL_TEXT",
    "CassetteCorrupt",
    "CassetteError",
    "CassetteMissing",
    "CassetteSerializer",
    "CassetteUse",
    "InvalidCassetteConfig",
    "SecretInCassette",
    "UnmatchedRequest",
    "match_body_as_data",
    "open_cassette",
]

# pytest-recording's record modes. "rewrite" is new_episodes on an empty cassette, but unlike
# pytest-recording the old file is only replaced once the new recording has succeeded.
RECORD_MODES: Final = ("none", "once", "new_episodes", "all", "rewrite")
_VCR_RECORD_MODES: Final = {
    "none": "none",
    "once": "once",
    "new_episodes": "new_episodes",
    "all": "all",
    "rewrite": "new_episodes",
}

DEFAULT_SECRET_ENV_VARS: Final[tuple[str, ...]] = (
    "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GOOGLE_API_KEY",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
)
# Shorter values ("secret", "devkey" of a local livekit server) are not real credentials,
# and searching for them would refuse any cassette that happens to contain the word.
MIN_SECRET_LENGTH: Final = 8

# Headers are allow-listed rather than deny-listed: SDKs add new ones (x-stainless-*,
# openai-*, x-request-id, dates, rate limits) all the time, and each would be noise in the
# file and a place for a secret to leak. These are dropped even when asked to keep them.
KEPT_HEADERS: Final[tuple[str, ...]] = ("content-type",)
SECRET_HEADERS: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
    }
)
SECRET_QUERY_PARAMS: Final = frozenset({"key", "api_key", "api-key", "token", "access_token"})

FORMAT_VERSION: Final = 1

# Names under which this module registers its pieces on the VCR instance.
_SERIALIZER_NAME: Final = "snaprun"
_BODY_MATCHER_NAME: Final = "snaprun_body"
_DEFAULT_MATCH_ON: Final = ("method", "uri", _BODY_MATCHER_NAME)

# Text of the one visible chunk of a refused streaming chat completion (see _refusal).
REFUSAL_TEXT: Final = "[snaprun: request not in cassette]"
_REFUSAL_CODE: Final = "snaprun_request_not_in_cassette"

MAX_DIFF_LINES: Final = 80
_SUMMARY_CHARS: Final = 80

Json = Any  # a value json.loads can return
VcrRequest = Any  # vcr.request.Request (vcrpy is untyped)
VcrResponse = dict[str, Any]  # vcrpy's recorded response: status, headers, body


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


class CassetteError(Exception):
    """Base of every error snaprun raises about a cassette."""


class InvalidCassetteConfig(CassetteError, ValueError):
    """A record mode or vcr_config entry snaprun cannot honour."""


class CassetteMissing(CassetteError):
    """Replay-only mode, and the test's cassette does not exist."""

    def __init__(self, path: Path, rerecord_command: str) -> None:
        super().__init__(
            f"snaprun: cassette {path} does not exist, and record mode 'none' only replays.\n"
            f"Record it with:\n  {rerecord_command}"
        )
        self.path = path


class CassetteCorrupt(CassetteError):
    """The cassette file cannot be read back (truncated, not YAML, wrong shape)."""

    def __init__(self, path: Path, problem: str, rerecord_command: str) -> None:
        super().__init__(
            f"snaprun: cassette {path} is corrupt: {problem}\n"
            f"Delete it and record it again with:\n  {rerecord_command}"
        )
        self.path = path


class SecretInCassette(CassetteError):
    """A recording contains the value of a credential environment variable; nothing was written."""

    def __init__(self, path: Path, env_var: str) -> None:
        super().__init__(
            f"snaprun: refusing to write cassette {path}: it would contain the value of "
            f"${env_var}. Nothing was written. Keep the credential out of the recorded "
            f"requests and responses (or filter it with vcr_config's before_record_request / "
            f"before_record_response), then record again."
        )
        self.path = path
        self.env_var = env_var


class UnmatchedRequest(CassetteError):
    """During replay the test made requests that are not in the cassette (or made one twice)."""

    def __init__(self, failures: Sequence[str]) -> None:
        more = f"\n\n({len(failures) - 1} more unmatched request(s) follow)" if failures[1:] else ""
        super().__init__(failures[0] + more + "".join("\n\n" + f for f in failures[1:]))
        self.failures = list(failures)


class _FormatError(ValueError):
    """The cassette text is not a snaprun cassette; the message says where and why."""


# --------------------------------------------------------------------------------------
# Bodies as data
# --------------------------------------------------------------------------------------

_NOT_JSON: Final = object()


def _as_bytes(body: object) -> bytes | None:
    """vcrpy hands bodies around as str or bytes (or None); work on bytes."""
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"unsupported body type {type(body).__name__}")


def _parse_json(body: bytes | None) -> Json:
    """The body as JSON data, or _NOT_JSON."""
    if not body:
        return _NOT_JSON
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # also UnicodeDecodeError
        return _NOT_JSON


def _canonical(data: Json) -> str:
    """JSON text that is equal for equal data, whatever the key order."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _compact(data: Json) -> str:
    """The compact JSON text that OpenAI (and most servers) put in bodies and SSE events."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


# How servers lay out the JSON they send. A recorded JSON body or SSE event is kept as data
# only if one of these renders it back byte for byte; the name is written as json_style
# unless it is the default, compact.
_JSON_LAYOUTS: Final[dict[str, dict[str, Any]]] = {
    "compact": {"separators": (",", ":")},
    "spaced": {"separators": (", ", ": ")},  # Python's json.dumps defaults
    "indent2": {"indent": 2, "separators": (",", ": ")},
}
JSON_STYLES: Final = tuple(
    f"{layout}{suffix}" for layout in _JSON_LAYOUTS for suffix in ("", "-ascii")
)


def _render(data: Json, style: str) -> str:
    layout = _JSON_LAYOUTS[style.removesuffix("-ascii")]
    return json.dumps(data, ensure_ascii=style.endswith("-ascii"), **layout)


def _messages_of(data: Json) -> list[Json] | None:
    """The chat ``messages`` list of a request body, if it has one."""
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        messages: list[Json] = data["messages"]
        return messages
    return None


def _request_body(request: VcrRequest) -> bytes | None:
    return _as_bytes(read_body(request))


# Matching parses each body once: the key is cached on the vcrpy Request object, next to the
# body it was computed from. vcrpy deep-copies requests before matching; the copies share
# the (immutable) body bytes and so inherit the cached key.
_KEY_ATTR: Final = "_snaprun_body_key"


def _body_key(request: VcrRequest) -> bytes:
    """A digest of the body as data: equal for JSON bodies that differ only in key order."""
    body = request.body
    cached = request.__dict__.get(_KEY_ATTR)
    if cached is not None and cached[0] is body:
        return bytes(cached[1])
    raw = _request_body(request)
    data = _parse_json(raw)
    if data is _NOT_JSON:
        material = b"raw:" + (raw or b"")
    else:
        material = b"json:" + _canonical(data).encode("utf-8", "surrogatepass")
    key = hashlib.blake2b(material, digest_size=16).digest()
    if body is None or isinstance(body, bytes):  # file and iterator bodies are re-read
        request.__dict__[_KEY_ATTR] = (body, key)
    return key


def match_body_as_data(r1: VcrRequest, r2: VcrRequest) -> bool:
    """vcrpy matcher: the bodies are equal as JSON data (key order ignored) or as bytes."""
    return _body_key(r1) == _body_key(r2)


def _index_key(request: VcrRequest) -> tuple[str, bytes]:
    return str(request.method), _body_key(request)


def _same_target(r1: VcrRequest, r2: VcrRequest) -> bool:
    return bool(r1.method == r2.method and r1.uri == r2.uri)


# --------------------------------------------------------------------------------------
# Sanitizing what is recorded
# --------------------------------------------------------------------------------------


def _kept_header_names(kept_headers: Iterable[str]) -> frozenset[str]:
    return frozenset(name.lower() for name in kept_headers) - SECRET_HEADERS


def _without_secret_params(uri: str) -> str:
    parts = urlsplit(uri)
    if not parts.query:
        return uri
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(name, value) for name, value in pairs if name.lower() not in SECRET_QUERY_PARAMS]
    if len(kept) == len(pairs):
        return uri  # leave the URI byte for byte as the client sent it
    return urlunsplit(parts._replace(query=urlencode(kept)))


def _request_sanitizer(kept: frozenset[str]) -> Callable[[VcrRequest], VcrRequest]:
    def sanitize_request(request: VcrRequest) -> VcrRequest:
        # vcrpy calls this on its own deep copy, so changing it in place is safe.
        request.headers = {k: v for k, v in request.headers.items() if k.lower() in kept}
        uri = _without_secret_params(request.uri)
        if uri != request.uri:
            request.uri = uri
        return request

    return sanitize_request


def _response_sanitizer(kept: frozenset[str]) -> Callable[[VcrResponse], VcrResponse]:
    def sanitize_response(response: VcrResponse) -> VcrResponse:
        headers = response.get("headers") or {}
        response["headers"] = {k: v for k, v in headers.items() if k.lower() in kept}
        return response

    return sanitize_response


# --------------------------------------------------------------------------------------
# The cassette file format
# --------------------------------------------------------------------------------------
#
#   version: 1
#   interactions:
#   - request:
#       method: POST
#       uri: https://api.openai.com/v1/chat/completions
#       headers: {content-type: application/json}
#       messages_from_previous: 3   # the previous request's first 3 messages, then these
#       json: {model: ..., messages: [...], stream: true}   # or text: / base64:
#     response:
#       status: 200                 # reason: only when not the standard phrase
#       headers: {content-type: text/event-stream; charset=utf-8}
#       sse_common: {id: chatcmpl-1, object: chat.completion.chunk, created: 1, model: m}
#       sse:                        # or json: / text: / base64:
#       - {choices: [{index: 0, delta: {content: Hi}, finish_reason: null}]}
#       - 'data: [DONE]'
#
# An SSE body is its events, each followed by a blank line: a mapping is the event
# "data: <JSON>" (``sse_common`` fields first), a string is an event kept verbatim.
# ``json_style`` names the JSON layout when it is not compact (see _JSON_LAYOUTS), and
# ``sse_tail`` holds any text after the last blank line. Every form is checked when written:
# an interaction that would not load back exactly (the bytes of a response, the data of a
# request) is written again in a plainer form (text, then base64).

_BODY_FORMS: Final = ("json", "text", "base64")
_RESPONSE_BODY_FORMS: Final = ("sse", *_BODY_FORMS)
_SSE_OPTIONS: Final = ("sse_common", "sse_tail")

# How far each interaction is spelled out: pretty data, then verbatim text, then base64.
_PRETTY, _TEXT, _BASE64 = 0, 1, 2


def _bytes_form(body: bytes, level: int) -> dict[str, Any]:
    if level < _BASE64:
        try:
            return {"text": body.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    return {"base64": base64.b64encode(body).decode("ascii")}


def _headers_form(headers: Mapping[str, Any]) -> dict[str, Any]:
    """vcrpy keeps each header as a list of values; one value is written as a plain string."""
    out: dict[str, Any] = {}
    for name, values in headers.items():
        listed = list(values) if isinstance(values, list | tuple) else [values]
        out[str(name)] = listed[0] if len(listed) == 1 else listed
    return out


def _content_type(headers: Mapping[str, Any]) -> str:
    for name, values in headers.items():
        if name.lower() == "content-type":
            listed = values if isinstance(values, list | tuple) else [values]
            return str(listed[0]).lower() if listed else ""
    return ""


def _shared_prefix(previous: Sequence[str], current: Sequence[str]) -> int:
    count = 0
    for old, new in zip(previous, current, strict=False):
        if old != new:
            break
        count += 1
    return count


def _encode_request(
    request: Mapping[str, Any], previous: Sequence[str], level: int
) -> tuple[dict[str, Any], list[str]]:
    """One request in file form, and its messages (canonical JSON) for the next one's delta."""
    out: dict[str, Any] = {"method": request["method"], "uri": request["uri"]}
    headers = _headers_form(request.get("headers") or {})
    if headers:
        out["headers"] = headers
    body = _as_bytes(request.get("body"))
    data = _parse_json(body)
    messages = _messages_of(data) if data is not _NOT_JSON else None
    canonical = [_canonical(message) for message in messages] if messages is not None else []
    if body is None:
        return out, canonical
    if level == _PRETTY and data is not _NOT_JSON:
        shared = _shared_prefix(previous, canonical)
        if shared:
            data = {**data, "messages": messages[shared:]} if messages is not None else data
            out["messages_from_previous"] = shared
        out["json"] = data
        return out, canonical
    out.update(_bytes_form(body, level))
    return out, canonical


def _sse_event_form(event: str, style: str) -> Json:
    """The event as JSON data when it is exactly ``data: <JSON object in this style>``."""
    if not event.startswith("data: ") or "\n" in event or "\r" in event:
        return event
    payload = event[len("data: ") :]
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return event  # e.g. "data: [DONE]"
    if isinstance(data, dict) and _render(data, style) == payload:
        return data
    return event


def _sse_form(text: str) -> dict[str, Any]:
    events = text.split("\n\n")
    tail = events.pop()  # "" when the body ends with a blank line, as SSE bodies do

    def parsed(style: str) -> list[Json]:
        return [_sse_event_form(event, style) for event in events]

    def data_events(style: str) -> int:
        return sum(isinstance(form, dict) for form in parsed(style))

    # The style that keeps the most events as data; compact (listed first) on a tie.
    style = max(JSON_STYLES, key=data_events) if events else "compact"
    forms = parsed(style)
    common = _common_fields(forms)
    out: dict[str, Any] = {"json_style": style} if style != "compact" else {}
    if common:
        out["sse_common"] = common
    out["sse"] = [
        {k: v for k, v in form.items() if k not in common} if isinstance(form, dict) else form
        for form in forms
    ]
    if tail:
        out["sse_tail"] = tail
    return out


def _common_fields(forms: Sequence[Json]) -> dict[str, Json]:
    """The leading fields that every data event has, in the same order with the same values.

    A chat completion chunk starts with id, object, created and model; writing them once per
    response rather than once per token keeps the file short and the tokens easy to read.
    """
    objects = [form for form in forms if isinstance(form, dict)]
    if len(objects) < 2:
        return {}
    keys = [list(obj) for obj in objects]
    common: dict[str, Json] = {}
    for position, key in enumerate(keys[0]):
        value = _canonical(objects[0][key])
        if not all(
            len(names) > position and names[position] == key and _canonical(obj[key]) == value
            for names, obj in zip(keys, objects, strict=True)
        ):
            break
        common[key] = objects[0][key]
    return common


def _response_body_form(body: bytes, content_type: str, level: int) -> dict[str, Any]:
    if level == _PRETTY:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _bytes_form(body, _BASE64)
        if "text/event-stream" in content_type:
            return _sse_form(text)
        if "json" in content_type:
            data = _parse_json(body)
            for style in JSON_STYLES if data is not _NOT_JSON else ():
                if _render(data, style) == text:
                    return {"json": data} | ({"json_style": style} if style != "compact" else {})
    return _bytes_form(body, level)


def _encode_response(response: Mapping[str, Any], level: int) -> dict[str, Any]:
    status = response["status"]
    code = int(status["code"])
    out: dict[str, Any] = {"status": code}
    if status.get("message") != _standard_reason(code):
        out["reason"] = status.get("message")
    headers = _headers_form(response.get("headers") or {})
    if headers:
        out["headers"] = headers
    extra = {k: v for k, v in response.items() if k not in ("status", "headers", "body")}
    if extra:  # e.g. the "url" vcrpy's aiohttp stub records
        out["vcr_extra"] = extra
    body = _as_bytes((response.get("body") or {}).get("string")) or b""
    out.update(_response_body_form(body, _content_type(headers), level))
    return out


def _standard_reason(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return ""


# ---- reading ------------------------------------------------------------------------


def _fields(
    value: object, where: str, required: Collection[str], optional: Collection[str] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _FormatError(f"{where} should be a mapping, not {_kind(value)}")
    missing = [key for key in required if key not in value]
    if missing:
        raise _FormatError(f"{where} lacks {', '.join(missing)}")
    unknown = [str(key) for key in value if key not in required and key not in optional]
    if unknown:
        raise _FormatError(f"{where} has unexpected key(s) {', '.join(unknown)}")
    return value


def _mapping(value: object, where: str) -> dict[str, Any]:
    """A mapping with any keys (headers, metadata)."""
    if not isinstance(value, dict):
        raise _FormatError(f"{where} should be a mapping, not {_kind(value)}")
    return value


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def _typed(value: object, kind: type[Any], where: str) -> Any:
    # bool is an int subclass, but never a valid count or status code.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _FormatError(f"{where} should be a {kind.__name__}, not {_kind(value)}")
    return value


def _one_body_form(fields: Mapping[str, Any], forms: Sequence[str], where: str) -> str | None:
    present = [form for form in forms if form in fields]
    if len(present) > 1:
        raise _FormatError(f"{where} has more than one body ({', '.join(present)})")
    return present[0] if present else None


def _decode_bytes_form(fields: Mapping[str, Any], form: str, where: str) -> bytes:
    if form == "text":
        text: str = _typed(fields["text"], str, f"{where}.text")
        return text.encode("utf-8", "surrogatepass")
    encoded: str = _typed(fields["base64"], str, f"{where}.base64")
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise _FormatError(f"{where}.base64 is not base64: {exc}") from None


def _json_bytes(data: Json, where: str, style: str = "compact") -> bytes:
    try:
        return _render(data, style).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError) as exc:  # e.g. a YAML date or set written by hand
        raise _FormatError(f"{where} is not JSON data: {exc}") from None


def _decode_headers(value: object, where: str) -> dict[str, list[str]]:
    headers = _mapping(value, where)
    out: dict[str, list[str]] = {}
    for name, values in headers.items():
        listed = values if isinstance(values, list) else [values]
        out[str(name)] = [_typed(v, str, f"{where}.{name}") for v in listed]
    return out


def _decode_request(
    value: object, where: str, previous: list[Json] | None
) -> tuple[dict[str, Any], Json]:
    """vcrpy's request dict, and the body's JSON data (for the next request's delta)."""
    optional = ("headers", "messages_from_previous", *_BODY_FORMS)
    fields = _fields(value, where, ("method", "uri"), optional)
    request = {
        "method": _typed(fields["method"], str, f"{where}.method"),
        "uri": _typed(fields["uri"], str, f"{where}.uri"),
        "headers": _decode_headers(fields.get("headers", {}), f"{where}.headers"),
        "body": None,
    }
    form = _one_body_form(fields, _BODY_FORMS, where)
    if "messages_from_previous" in fields and form != "json":
        raise _FormatError(f"{where}.messages_from_previous needs a json body")
    if form is None:
        return request, _NOT_JSON
    if form != "json":
        request["body"] = _decode_bytes_form(fields, form, where)
        return request, _parse_json(request["body"])
    data = fields["json"]
    if "messages_from_previous" in fields:
        data = _with_previous_messages(data, fields["messages_from_previous"], previous, where)
    request["body"] = _json_bytes(data, f"{where}.json")
    return request, data


def _with_previous_messages(
    data: Json, count: object, previous: list[Json] | None, where: str
) -> Json:
    shared: int = _typed(count, int, f"{where}.messages_from_previous")
    available = len(previous) if previous is not None else 0
    if not 0 < shared <= available:
        raise _FormatError(
            f"{where}.messages_from_previous is {shared}, but the previous request has "
            f"{available} message(s)"
        )
    messages = _messages_of(data)
    if messages is None or previous is None:
        raise _FormatError(
            f"{where}.json lacks the messages list that messages_from_previous extends"
        )
    return {**data, "messages": previous[:shared] + messages}


def _decode_sse(fields: Mapping[str, Any], where: str) -> bytes:
    events = _typed(fields["sse"], list, f"{where}.sse")
    style = _json_style(fields, where)
    common = _mapping(fields.get("sse_common", {}), f"{where}.sse_common")
    parts: list[bytes] = []
    for index, event in enumerate(events):
        if isinstance(event, dict):
            full = {**common, **event}  # the common fields come first, as they were sent
            data = _json_bytes(full, f"{where}.sse[{index}]", style)
            parts.append(b"data: " + data + b"\n\n")
        else:
            text: str = _typed(event, str, f"{where}.sse[{index}]")
            parts.append(text.encode("utf-8", "surrogatepass") + b"\n\n")
    tail: str = _typed(fields.get("sse_tail", ""), str, f"{where}.sse_tail")
    return b"".join(parts) + tail.encode("utf-8", "surrogatepass")


def _json_style(fields: Mapping[str, Any], where: str) -> str:
    style = fields.get("json_style", "compact")
    if style not in JSON_STYLES:
        raise _FormatError(f"{where}.json_style should be one of {', '.join(JSON_STYLES)}")
    return str(style)


def _decode_response(value: object, where: str) -> dict[str, Any]:
    optional: tuple[str, ...] = ("reason", "headers", "vcr_extra", "json_style", *_SSE_OPTIONS)
    optional += _RESPONSE_BODY_FORMS
    fields = _fields(value, where, ("status",), optional)
    code: int = _typed(fields["status"], int, f"{where}.status")
    reason = fields.get("reason", _standard_reason(code))
    if reason is not None:
        _typed(reason, str, f"{where}.reason")
    form = _one_body_form(fields, _RESPONSE_BODY_FORMS, where)
    stray: list[str] = [option for option in _SSE_OPTIONS if option in fields and form != "sse"]
    if "json_style" in fields and form not in ("sse", "json"):
        stray.append("json_style")
    if stray:
        raise _FormatError(f"{where} has {', '.join(stray)}, which its body does not use")
    if form == "sse":
        body = _decode_sse(fields, where)
    elif form == "json":
        body = _json_bytes(fields["json"], f"{where}.json", _json_style(fields, where))
    elif form is not None:
        body = _decode_bytes_form(fields, form, where)
    else:
        body = b""
    extra = _mapping(fields.get("vcr_extra", {}), f"{where}.vcr_extra")
    return {
        **extra,
        "status": {"code": code, "message": reason},
        "headers": _decode_headers(fields.get("headers", {}), f"{where}.headers"),
        "body": {"string": body},
    }


def _decode_document(document: object) -> dict[str, Any]:
    """vcrpy's cassette dict ({"interactions": [{"request", "response"}]}) from file data."""
    root = _fields(document, "the cassette", ("version", "interactions"), ("metadata",))
    if root["version"] != FORMAT_VERSION:
        raise _FormatError(
            f"format version {root['version']!r} is not the one this snaprun reads "
            f"({FORMAT_VERSION})"
        )
    items = _typed(root["interactions"], list, "interactions")
    interactions: list[dict[str, Any]] = []
    previous: list[Json] | None = None
    for index, item in enumerate(items):
        where = f"interactions[{index}]"
        fields = _fields(item, where, ("request", "response"))
        request, data = _decode_request(fields["request"], f"{where}.request", previous)
        response = _decode_response(fields["response"], f"{where}.response")
        previous = _messages_of(data) if data is not _NOT_JSON else None
        interactions.append({"request": request, "response": response})
    out: dict[str, Any] = {"version": FORMAT_VERSION, "interactions": interactions}
    if "metadata" in root:
        out["metadata"] = _mapping(root["metadata"], "metadata")
    return out


# ---- the serializer -----------------------------------------------------------------


def _interaction_differences(
    written: Sequence[Mapping[str, Any]], read: Sequence[Mapping[str, Any]]
) -> set[int]:
    """Indices of interactions that do not read back as they were written."""

    def same_request(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
        body_a, body_b = _as_bytes(a.get("body")), _as_bytes(b.get("body"))
        data_a, data_b = _parse_json(body_a), _parse_json(body_b)
        if data_a is _NOT_JSON or data_b is _NOT_JSON:
            same_body = body_a == body_b
        else:  # requests are matched as data, so only the data has to survive
            same_body = _canonical(data_a) == _canonical(data_b)
        return (
            same_body
            and (a["method"], a["uri"]) == (b["method"], b["uri"])
            and _headers_form(a.get("headers") or {}) == _headers_form(b.get("headers") or {})
        )

    def same_response(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
        body_a = _as_bytes((a.get("body") or {}).get("string")) or b""
        body_b = _as_bytes((b.get("body") or {}).get("string")) or b""
        rest_a = {k: v for k, v in a.items() if k not in ("headers", "body")}
        rest_b = {k: v for k, v in b.items() if k not in ("headers", "body")}
        return (
            body_a == body_b  # replay must give the recorded bytes exactly
            and rest_a == rest_b
            and _headers_form(a.get("headers") or {}) == _headers_form(b.get("headers") or {})
        )

    if len(written) != len(read):
        return set(range(len(written)))
    return {
        index
        for index, (a, b) in enumerate(zip(written, read, strict=True))
        if not (
            same_request(a["request"], b["request"]) and same_response(a["response"], b["response"])
        )
    }


class CassetteSerializer:
    """vcrpy serializer for snaprun's cassette format (see the format notes above).

    vcrpy calls ``serialize`` with ``{"version", "interactions": [{"request", "response"}]}``
    in its own shape and expects ``deserialize`` to give that shape back.
    """

    def __init__(self, header: str = "") -> None:
        # Comment lines put at the top of the file, for the humans reading it.
        self.header = "".join(f"# {line}\n" for line in header.splitlines())

    def serialize(self, cassette_dict: Mapping[str, Any]) -> str:
        interactions = list(cassette_dict["interactions"])
        levels = [_PRETTY] * len(interactions)
        while True:
            try:
                text = self._text(interactions, levels, cassette_dict.get("metadata"))
            except ValueError:  # e.g. a lone surrogate in JSON data, which YAML cannot hold
                if all(level == _BASE64 for level in levels):
                    raise
                levels = [min(level + 1, _BASE64) for level in levels]
                continue
            try:
                read = self.deserialize(text)["interactions"]
                lossy = _interaction_differences(interactions, read)
            except ValueError:  # _FormatError, YamlError
                lossy = set(range(len(interactions)))
            lossy = {index for index in lossy if levels[index] < _BASE64}
            if not lossy:
                return text
            for index in lossy:
                levels[index] += 1

    def _text(
        self, interactions: Sequence[Mapping[str, Any]], levels: Sequence[int], metadata: object
    ) -> str:
        items: list[dict[str, Any]] = []
        previous: list[str] = []
        for interaction, level in zip(interactions, levels, strict=True):
            request, previous = _encode_request(interaction["request"], previous, level)
            items.append(
                {"request": request, "response": _encode_response(interaction["response"], level)}
            )
        document: dict[str, Any] = {"version": FORMAT_VERSION, "interactions": items}
        if metadata:
            document["metadata"] = metadata
        return self.header + yamlio.dump(document)

    def deserialize(self, text: str) -> dict[str, Any]:
        return _decode_document(yamlio.load(text))


# --------------------------------------------------------------------------------------
# Explaining requests that are not in the cassette
# --------------------------------------------------------------------------------------


def _short(text: str, limit: int = _SUMMARY_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message_summary(message: Json) -> str:
    if not isinstance(message, dict):
        return _short(_canonical(message))
    role = str(message.get("role", "?"))
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    if isinstance(content, str) and content:
        return f"{role}: {_short(content)!r}"
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        names = [
            str((call.get("function") or {}).get("name", "?"))
            for call in calls
            if isinstance(call, dict)
        ]
        return f"{role}: calls {', '.join(names)}"
    return role


def _request_summary(request: VcrRequest) -> str:
    """One line: method, URL and what identifies the body (its last chat message)."""
    line = f"{request.method} {request.uri}"
    body = _request_body(request)
    data = _parse_json(body)
    messages = _messages_of(data) if data is not _NOT_JSON else None
    if messages:
        return f"{line} (last message {_message_summary(messages[-1])})"
    if body:
        return f"{line} (body {_short(body.decode('utf-8', 'replace'))!r})"
    return line


def _sorted_data(data: Json) -> Json:
    if isinstance(data, dict):
        return {key: _sorted_data(data[key]) for key in sorted(data)}
    if isinstance(data, list):
        return [_sorted_data(item) for item in data]
    return data


def _pretty_lines(body: bytes | None) -> list[str]:
    """The body as lines a person can diff: YAML for JSON (keys sorted), else the text."""
    data = _parse_json(body)
    if data is not _NOT_JSON:
        try:
            return yamlio.dump(_sorted_data(data)).splitlines()
        except (TypeError, ValueError):
            return json.dumps(data, indent=2, sort_keys=True).splitlines()
    if not body:
        return []
    try:
        return body.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return [f"<{len(body)} bytes of binary data>"]


# Finding the closest recorded request must stay well inside the fail-fast budget, even for a
# cassette of hundreds of long requests: only the earliest unplayed ones are compared (in a
# replay that runs in order, the request a test was expected to make is among them).
MAX_CLOSEST_CANDIDATES: Final = 40


def _similarity(a: Json, b: Json) -> float:
    """How alike two request bodies are, from 0 to 1: the share of equal top-level fields and
    of equal messages at equal positions. No rendering or diffing, so it is cheap."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return 1.0 if a == b else 0.0
    keys = (set(a) | set(b)) - {"messages"}
    equal = sum(1 for key in keys if a.get(key) == b.get(key))
    messages_a, messages_b = _messages_of(a) or [], _messages_of(b) or []
    equal += sum(1 for x, y in zip(messages_a, messages_b, strict=False) if x == y)
    return equal / max(len(keys) + max(len(messages_a), len(messages_b)), 1)


def _closest(request: VcrRequest, candidates: Sequence[tuple[int, VcrRequest]]) -> int:
    """The index of the candidate most like ``request``; the earliest one on a tie."""
    data = _parse_json(_request_body(request))

    def score(candidate: tuple[int, VcrRequest]) -> tuple[bool, float, int]:
        index, recorded = candidate
        similarity = _similarity(data, _parse_json(_request_body(recorded)))
        return _same_target(request, recorded), similarity, -index

    return max(candidates, key=score)[0]


def _body_diff(recorded: VcrRequest, request: VcrRequest, label: str) -> list[str]:
    lines: list[str] = []
    if not _same_target(recorded, request):
        lines += [f"- {recorded.method} {recorded.uri}", f"+ {request.method} {request.uri}"]
    diff = list(
        difflib.unified_diff(
            _pretty_lines(_request_body(recorded)),
            _pretty_lines(_request_body(request)),
            f"{label} (recorded)",
            "this request",
            n=3,
            lineterm="",
        )
    )
    if len(diff) > MAX_DIFF_LINES:
        diff = diff[:MAX_DIFF_LINES] + [f"… {len(diff) - MAX_DIFF_LINES} more diff lines"]
    return lines + diff


@dataclass(frozen=True)
class _Context:
    """What messages about this cassette need to say."""

    path: Path
    record_mode: str
    rerecord_command: str


def _explain_unmatched(
    request: VcrRequest,
    data: Sequence[tuple[VcrRequest, Any]],
    play_counts: Counter[int],
    context: _Context,
) -> str:
    played = sum(1 for index in range(len(data)) if play_counts[index])
    lines = [
        f"snaprun: request not in cassette {context.path} (record mode "
        f"'{context.record_mode}'), so it was refused instead of reaching the network:",
        f"  {_request_summary(request)}",
        f"  The cassette has {len(data)} recorded interaction(s); {played} replayed so far.",
    ]
    key = _body_key(request)
    twins = [
        index
        for index, (recorded, _) in enumerate(data)
        if play_counts[index] and _same_target(recorded, request) and _body_key(recorded) == key
    ]
    unplayed = [index for index in range(len(data)) if not play_counts[index]]
    if REFUSAL_TEXT.encode() in (_request_body(request) or b""):
        lines.append(
            "It carries the answer to an earlier refused request (see that one first): "
            "this one cannot match until the earlier one does."
        )
    elif twins:
        lines.append(
            f"It is identical to recorded interaction #{twins[0] + 1}, which was already "
            f"replayed: each recorded interaction is replayed exactly once, and this test "
            f"makes that request more often than when it was recorded."
        )
    elif data:
        pool = (unplayed or list(range(len(data))))[:MAX_CLOSEST_CANDIDATES]
        closest = _closest(request, [(index, data[index][0]) for index in pool])
        lines.append(
            f"Closest recorded request not yet replayed: #{closest + 1}."
            if unplayed
            else f"Every recorded interaction was already replayed; the closest is #{closest + 1}."
        )
        lines.append("Diff, - recorded, + this request:")
        label = f"#{closest + 1}"
        lines += ["    " + line for line in _body_diff(data[closest][0], request, label)]
    else:
        lines.append("The cassette has no recorded interactions.")
    lines += [
        "If the change is intended, record the cassette again:",
        f"  {context.rerecord_command}",
    ]
    return "\n".join(lines)


def _refusal(request: VcrRequest, message: str) -> VcrResponse:
    """The response that stands in for a request the cassette cannot answer.

    It must make every client fail at once, without retrying. The openai SDK retries
    connection errors, 408/409/429 and 5xx, so a plain request gets a 400 carrying the
    explanation (plus ``x-should-retry: false``, which the SDK obeys). livekit's LLM stream
    retries any error raised before the first generated chunk, whatever the status, in
    livekit-agents up to 1.3 (three times, two seconds apart); so a streamed chat completion
    instead gets one visible chunk (REFUSAL_TEXT) and then an error event, which the SDK
    raises as ``openai.APIError(message)`` and livekit no longer retries.
    """
    body = _request_body(request)
    data = _parse_json(body)
    error = {
        "error": {"message": message, "type": _REFUSAL_CODE, "param": None, "code": _REFUSAL_CODE}
    }
    streaming_chat = (
        urlsplit(request.uri).path.endswith("/chat/completions")
        and isinstance(data, dict)
        and data.get("stream") is True
    )
    if not streaming_chat:
        return {
            "status": {"code": 400, "message": "Bad Request"},
            "headers": {"content-type": ["application/json"], "x-should-retry": ["false"]},
            "body": {"string": _compact(error).encode("utf-8")},
        }
    chunk = {
        "id": "snaprun-refused",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": str(data.get("model", "")),
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": REFUSAL_TEXT},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    }
    events = f"data: {_compact(chunk)}\n\ndata: {_compact(error)}\n\n"
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["text/event-stream"], "x-should-retry": ["false"]},
        "body": {"string": events.encode("utf-8")},
    }


# Requests that warm up a connection (livekit's LLM.prewarm lists the models when an
# AgentSession starts, fire-and-forget). Whether one happens while the cassette is open is a
# race, so they are answered locally in every mode and never recorded.
_PREWARM_PATH_SUFFIXES: Final = ("/models",)


def _is_prewarm(request: VcrRequest) -> bool:
    return bool(request.method == "GET") and urlsplit(request.uri).path.endswith(
        _PREWARM_PATH_SUFFIXES
    )


def _prewarm_response() -> VcrResponse:
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["application/json"]},
        "body": {"string": b'{"object":"list","data":[]}'},
    }


# --------------------------------------------------------------------------------------
# vcrpy pieces: cassette class and persister
# --------------------------------------------------------------------------------------


class _ExactCassette(Cassette):  # type: ignore[misc]
    """A vcrpy Cassette that answers requests it cannot replay instead of raising.

    vcrpy's HTTP stubs ask ``can_play_response_for`` and then call ``play_response``; raising
    is left for when neither replay nor recording is possible. Claiming those requests here
    lets ``play_response`` return the refusal (see ``_refusal``) for every stubbed library.
    It also indexes the recorded requests, so finding a response does not scan them all.
    """

    context: _Context  # set on a per-use subclass, so it exists before any request

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.snaprun_failures: list[str] = []
        # vcrpy finds a request's responses by running every matcher against every recorded
        # request, for each request: quadratic over a long conversation. When method and body
        # are among the matchers, a match needs equal (method, body key), so an index on that
        # narrows the scan to the (usually one) candidate; the matchers still decide.
        matchers = set(self._match_on)
        self._indexed = {vcr.matchers.method, match_body_as_data} <= matchers
        self._index: dict[tuple[str, bytes], list[int]] = {}

    def append(self, request: VcrRequest, response: VcrResponse) -> None:
        count = len(self.data)
        super().append(request, response)  # may drop it (ignored hosts, hooks)
        for index in range(count, len(self.data)):
            self._index.setdefault(_index_key(self.data[index][0]), []).append(index)

    def _responses(self, request: VcrRequest) -> Iterator[tuple[int, VcrResponse]]:
        if not self._indexed:
            yield from super()._responses(request)
            return
        request = self._before_record_request(request)
        if request is None:
            return
        for index in self._index.get(_index_key(request), ()):
            recorded, response = self.data[index]
            if vcr.matchers.requests_match(request, recorded, self._match_on):
                yield index, response

    def can_play_response_for(self, request: VcrRequest) -> bool:
        _body_key(request)  # parse once; vcrpy's copies of the request inherit the key
        if _is_prewarm(request) or super().can_play_response_for(request):
            return True
        return bool(self.write_protected and self.filter_request(request) is not None)

    def play_response(self, request: VcrRequest) -> VcrResponse:
        if _is_prewarm(request):
            return _prewarm_response()
        try:
            response: VcrResponse = super().play_response(request)
            return response
        except UnhandledHTTPRequestError:
            if not self.write_protected:
                raise
        stored_form = self.filter_request(request)
        message = _explain_unmatched(stored_form, self.data, self.play_counts, self.context)
        self.snaprun_failures.append(message)
        return _refusal(stored_form, message)

    def unplayed(self) -> list[int]:
        """Indices of recorded interactions never replayed (meaningful when replaying)."""
        return [index for index in range(len(self.data)) if not self.play_counts[index]]


class _MemoryPersister:
    """Hands vcrpy the cassette read beforehand and keeps what vcrpy would save.

    Reading happens before vcrpy starts, so a corrupt file gives our error rather than one
    from inside vcrpy. Saving only captures: vcrpy saves before it unpatches the HTTP
    libraries, so anything raised there would leave them patched; checks and the write
    happen after vcrpy has exited.
    """

    def __init__(self, loaded: tuple[list[Any], ...] | None) -> None:
        self.loaded = loaded
        self.saved: dict[str, Any] | None = None

    def load_cassette(self, cassette_path: str, serializer: Any) -> tuple[list[Any], ...]:
        if self.loaded is None:
            raise CassetteNotFoundError()
        return self.loaded

    def save_cassette(
        self, cassette_path: str, cassette_dict: dict[str, Any], serializer: Any
    ) -> None:
        self.saved = cassette_dict


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------

# vcr_config keys passed on to vcrpy as they are.
_PASSTHROUGH_KEYS: Final = frozenset(
    {
        "filter_headers",
        "filter_query_parameters",
        "filter_post_data_parameters",
        "filter_nested_post_data_parameters",
        "ignore_hosts",
        "ignore_localhost",
        "match_on",
        "additional_matchers",
        "filter_sensitive_data",
        "before_save_interaction",
        "after_load_interaction",
        "skip_patchers",
    }
)
# Hooks that run before snaprun's own sanitizers, which always run last.
_HOOK_KEYS: Final = frozenset({"before_record_request", "before_record", "before_record_response"})
# pytest-recording's own network-blocking option, not a vcrpy setting.
_IGNORED_KEYS: Final = frozenset({"allowed_hosts"})


def _hooks(value: object) -> list[Callable[..., Any]]:
    if value is None:
        return []
    if callable(value):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    raise InvalidCassetteConfig(f"snaprun: a vcr_config hook must be callable, not {value!r}")


def _cassette_config(
    vcr_config: Mapping[str, Any] | None,
    record_mode: str,
    serializer: CassetteSerializer,
    persister: _MemoryPersister,
    kept_headers: Iterable[str],
    path: Path,
) -> dict[str, Any]:
    """The keyword arguments of vcrpy's Cassette for this use."""
    user = dict(vcr_config or {})
    refused = sorted(set(user) - _PASSTHROUGH_KEYS - _HOOK_KEYS - _IGNORED_KEYS)
    if refused:
        raise InvalidCassetteConfig(
            f"snaprun: vcr_config key(s) {', '.join(refused)} cannot be used: snaprun sets the "
            f"record mode, serializer, persister and replay rules itself. Allowed keys: "
            f"{', '.join(sorted(_PASSTHROUGH_KEYS | _HOOK_KEYS))}."
        )
    kept = _kept_header_names(kept_headers)
    recorder = vcr.VCR()
    recorder.register_serializer(_SERIALIZER_NAME, serializer)
    recorder.register_matcher(_BODY_MATCHER_NAME, match_body_as_data)
    recorder.register_persister(persister)
    options = {key: user[key] for key in _PASSTHROUGH_KEYS if key in user}
    request_hooks = _hooks(user.get("before_record_request", user.get("before_record")))
    response_hooks = _hooks(user.get("before_record_response"))
    config: dict[str, Any] = recorder.get_merged_config(
        path=str(path),
        record_mode=_VCR_RECORD_MODES[record_mode],
        serializer=_SERIALIZER_NAME,
        match_on=tuple(options.pop("match_on", _DEFAULT_MATCH_ON)),
        before_record_request=[*request_hooks, _request_sanitizer(kept)],
        before_record_response=[*response_hooks, _response_sanitizer(kept)],
        decode_compressed_response=True,
        allow_playback_repeats=False,
        drop_unused_requests=False,
        # Saving is decided after the test; vcrpy only hands over what it would save.
        record_on_exception=False,
        **options,
    )
    return config


# --------------------------------------------------------------------------------------
# Reading and writing files
# --------------------------------------------------------------------------------------


def _read_cassette(
    path: Path, serializer: CassetteSerializer, rerecord_command: str
) -> tuple[list[Any], ...] | None:
    """vcrpy's (requests, responses[, metadata]) from the file, or None when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise CassetteCorrupt(path, f"not UTF-8 text ({exc.reason})", rerecord_command) from None
    try:
        loaded: tuple[list[Any], ...] = tuple(vcr.serialize.deserialize(text, serializer))
    except (ValueError, TypeError, KeyError) as exc:  # _FormatError and YamlError included
        raise CassetteCorrupt(path, str(exc), rerecord_command) from None
    return loaded


def _secret_values(env_vars: Iterable[str]) -> list[tuple[str, str]]:
    values = []
    for name in dict.fromkeys(env_vars):  # de-duplicated, in order
        value = os.environ.get(name, "").strip()
        if len(value) >= MIN_SECRET_LENGTH:
            values.append((name, value))
    return values


def _raw_parts(cassette_dict: Mapping[str, Any]) -> Iterator[bytes]:
    """Every recorded string before serialization, where a secret could hide from the text
    (e.g. inside a base64 body)."""
    for request in cassette_dict.get("requests", []):
        yield str(request.uri).encode()
        yield " ".join(f"{k}: {v}" for k, v in request.headers.items()).encode()
        yield _request_body(request) or b""
    for response in cassette_dict.get("responses", []):
        yield repr(response.get("headers")).encode()
        yield _as_bytes((response.get("body") or {}).get("string")) or b""


def _check_no_secrets(
    path: Path, text: str, raw_parts: Sequence[bytes], env_vars: Iterable[str]
) -> None:
    haystacks = [text.encode("utf-8", "surrogatepass"), *raw_parts]
    for name, value in _secret_values(env_vars):
        needles = {value.encode(), quote(value, safe="").encode(), json.dumps(value)[1:-1].encode()}
        if any(needle in haystack for needle in needles for haystack in haystacks):
            raise SecretInCassette(path, name)


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file next to ``path``, then rename it over ``path``.

    A crash or Ctrl-C at any point leaves either the old file or the new one, never a
    truncated mix; the temporary file is removed on failure.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private; a cassette is a normal, shared project file.
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# --------------------------------------------------------------------------------------
# The public entry point
# --------------------------------------------------------------------------------------


class CassetteUse:
    """One test's use of one cassette, as handed out by :func:`open_cassette`."""

    def __init__(self, path: Path, record_mode: str, test_id: str, rerecord_command: str) -> None:
        self.path = path
        self.record_mode = record_mode
        self.test_id = test_id
        self.rerecord_command = rerecord_command
        self.written = False  # whether the file was (re)written when the context exited
        self._cassette: _ExactCassette | None = None
        self._discarded = False

    @property
    def replaying(self) -> bool:
        """Whether every request must come from the cassette (nothing is being recorded)."""
        return bool(self._cassette is not None and self._cassette.write_protected)

    def discard(self) -> None:
        """Do not write anything at exit: the test failed, so its recording is not golden."""
        self._discarded = True

    def unmatched_requests(self) -> list[str]:
        """Explanations of the requests refused so far (not in the cassette, or repeated)."""
        return list(self._cassette.snaprun_failures) if self._cassette is not None else []

    def problems(self) -> list[str]:
        """Everything that breaks exactly-once replay: refused requests, then recorded
        interactions the test never asked for. Empty when replay was exact."""
        problems = self.unmatched_requests()
        cassette = self._cassette
        if cassette is None or not cassette.write_protected:
            return problems  # when recording, nothing has to be replayed
        total = len(cassette.data)
        for index in cassette.unplayed():
            problems.append(
                f"snaprun: recorded interaction #{index + 1} of {total} in {self.path} was "
                f"never replayed: {_request_summary(cassette.data[index][0])}. The test made "
                f"fewer requests than when it was recorded; if that is intended, record the "
                f"cassette again:\n  {self.rerecord_command}"
            )
        return problems


def _add_note(exc: BaseException, failures: Sequence[str]) -> None:
    """Tell a failing test that requests were refused: that is likely why it failed."""
    if not failures or not isinstance(exc, Exception) or not hasattr(exc, "add_note"):
        return
    if failures[0] in str(exc):
        return
    more = f" ({len(failures) - 1} more)" if failures[1:] else ""
    exc.add_note(failures[0] + more)


@contextlib.contextmanager
def open_cassette(
    path: Path,
    *,
    record_mode: str = "none",
    test_id: str,
    vcr_config: Mapping[str, Any] | None = None,
    secret_env_vars: Sequence[str] = DEFAULT_SECRET_ENV_VARS,
    rerecord_command: str,
    kept_headers: Sequence[str] = KEPT_HEADERS,
) -> Iterator[CassetteUse]:
    """Record or replay the HTTP traffic inside the ``with`` block against cassette ``path``.

    ``record_mode`` is one of RECORD_MODES, with pytest-recording's meanings; "none" only
    replays and requires the file. ``test_id`` names the test in messages and in the file's
    header; ``rerecord_command`` is the command a person should run to record it again.
    ``vcr_config`` takes pytest-recording style vcrpy options (filters, ignore_hosts,
    match_on, hooks); snaprun's sanitizers always run after the caller's hooks.
    ``secret_env_vars`` extends nothing: pass ``(*DEFAULT_SECRET_ENV_VARS, "MY_KEY")``.

    On exit, in order: a test that raised writes nothing (and its exception gets a note if
    requests were refused); refused requests raise UnmatchedRequest; a recording is checked
    for secrets (SecretInCassette) and written atomically, unless :meth:`CassetteUse.discard`
    was called. Unplayed interactions are only reported by :meth:`CassetteUse.problems`.
    """
    if record_mode not in RECORD_MODES:
        raise InvalidCassetteConfig(
            f"snaprun: record mode {record_mode!r} is not one of {', '.join(RECORD_MODES)}"
        )
    path = Path(path)
    header = (
        f"snaprun cassette for {' '.join(test_id.split())}. Record it again rather than editing it."
    )
    serializer = CassetteSerializer(header=header)
    loaded = (
        None if record_mode == "rewrite" else _read_cassette(path, serializer, rerecord_command)
    )
    if loaded is None and record_mode == "none":
        raise CassetteMissing(path, rerecord_command)
    persister = _MemoryPersister(loaded)
    config = _cassette_config(vcr_config, record_mode, serializer, persister, kept_headers, path)
    context = _Context(path, record_mode, rerecord_command)
    cassette_class: type[_ExactCassette] = type(
        "SnaprunCassette", (_ExactCassette,), {"context": context}
    )
    use = CassetteUse(path, record_mode, test_id, rerecord_command)

    with cassette_class.use(**config) as cassette:  # patches the HTTP libraries until exit
        use._cassette = cassette
        try:
            yield use
        except BaseException as exc:
            _add_note(exc, cassette.snaprun_failures)
            raise

    if cassette.snaprun_failures:
        raise UnmatchedRequest(cassette.snaprun_failures)
    if use._discarded or record_mode == "none":
        return
    saved = persister.saved
    if saved is None:
        if record_mode != "rewrite" and path.exists():
            return  # nothing new was recorded; the file already holds it all
        saved = {"requests": [], "responses": []}  # a test with no requests replays as one
    raw_parts = list(_raw_parts(saved))
    try:
        text = vcr.serialize.serialize(saved, serializer)
    except (TypeError, ValueError) as exc:
        raise CassetteError(f"snaprun: cannot write cassette {path}: {exc}") from exc
    _check_no_secrets(path, text, raw_parts, secret_env_vars)
    _write_atomically(path, text)
    use.written = True
