"""How one HTTP body is written in a cassette file, and read back: its *form*.

A body is written as ``json:`` (data), ``sse:`` (a response's server-sent events), ``text:``
(verbatim) or ``base64:``. An SSE body is its events, each followed by a blank line: a
mapping is the event "data: <JSON>" (``sse_common`` fields first), a string is an event kept
verbatim. ``json_style`` names the JSON layout when it is not compact (see
:data:`~snaprun.http_bodies.JSON_STYLES`), and ``sse_tail`` holds any text after the last
blank line.

Reading checks what it reads: text that is not a snaprun cassette raises :class:`FormatError`,
saying where and why.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from snaprun.cassettes.http_bodies import (
    JSON_STYLES,
    NOT_JSON,
    Json,
    canonical_json,
    parse_json,
    render_json,
)

BODY_FORMS: Final = ("json", "text", "base64")
_RESPONSE_BODY_FORMS: Final = ("sse", *BODY_FORMS)
_SSE_OPTIONS: Final = ("sse_common", "sse_tail")
# Every key a response's body may use next to the response's own fields.
RESPONSE_BODY_KEYS: Final = ("json_style", *_SSE_OPTIONS, *_RESPONSE_BODY_FORMS)

# How far a body is spelled out: pretty data, then verbatim text, then base64.
PRETTY, TEXT, BASE64 = 0, 1, 2


class FormatError(ValueError):
    """The cassette text is not a snaprun cassette; the message says where and why."""


# ---- checking what was read --------------------------------------------------------------


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def checked(value: object, kind: type[Any], where: str) -> Any:
    """``value``, when it is a ``kind``; ``where`` names it in the error."""
    # bool is an int subclass, but never a valid count or status code.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FormatError(f"{where} should be a {kind.__name__}, not {_kind(value)}")
    return value


def checked_mapping(value: object, where: str) -> dict[str, Any]:
    """A mapping with any keys (headers, metadata)."""
    if not isinstance(value, dict):
        raise FormatError(f"{where} should be a mapping, not {_kind(value)}")
    return value


def one_body_form(fields: Mapping[str, Any], forms: Sequence[str], where: str) -> str | None:
    present = [form for form in forms if form in fields]
    if len(present) > 1:
        raise FormatError(f"{where} has more than one body ({', '.join(present)})")
    return present[0] if present else None


# ---- writing -----------------------------------------------------------------------------


def bytes_form(body: bytes, level: int) -> dict[str, Any]:
    if level < BASE64:
        try:
            return {"text": body.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    return {"base64": base64.b64encode(body).decode("ascii")}


def response_body_form(body: bytes, content_type: str, level: int) -> dict[str, Any]:
    if level == PRETTY:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return bytes_form(body, BASE64)
        if "text/event-stream" in content_type:
            return _sse_form(text)
        if "json" in content_type:
            data = parse_json(body)
            for style in JSON_STYLES if data is not NOT_JSON else ():
                if render_json(data, style) == text:
                    return {"json": data} | ({"json_style": style} if style != "compact" else {})
    return bytes_form(body, level)


def _sse_event_form(event: str, style: str) -> Json:
    """The event as JSON data when it is exactly ``data: <JSON object in this style>``."""
    if not event.startswith("data: ") or "\n" in event or "\r" in event:
        return event
    payload = event[len("data: ") :]
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return event  # e.g. "data: [DONE]"
    if isinstance(data, dict) and render_json(data, style) == payload:
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
        value = canonical_json(objects[0][key])
        if not all(
            len(names) > position and names[position] == key and canonical_json(obj[key]) == value
            for names, obj in zip(keys, objects, strict=True)
        ):
            break
        common[key] = objects[0][key]
    return common


# ---- reading -----------------------------------------------------------------------------


def decode_bytes_form(fields: Mapping[str, Any], form: str, where: str) -> bytes:
    if form == "text":
        text: str = checked(fields["text"], str, f"{where}.text")
        return text.encode("utf-8", "surrogatepass")
    encoded: str = checked(fields["base64"], str, f"{where}.base64")
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise FormatError(f"{where}.base64 is not base64: {exc}") from None


def json_bytes(data: Json, where: str, style: str = "compact") -> bytes:
    try:
        return render_json(data, style).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError) as exc:  # e.g. a YAML date or set written by hand
        raise FormatError(f"{where} is not JSON data: {exc}") from None


def decode_response_body(fields: Mapping[str, Any], where: str) -> bytes:
    """The body of the response whose fields these are (b"" when it has none)."""
    form = one_body_form(fields, _RESPONSE_BODY_FORMS, where)
    stray: list[str] = [option for option in _SSE_OPTIONS if option in fields and form != "sse"]
    if "json_style" in fields and form not in ("sse", "json"):
        stray.append("json_style")
    if stray:
        raise FormatError(f"{where} has {', '.join(stray)}, which its body does not use")
    if form == "sse":
        return _decode_sse(fields, where)
    if form == "json":
        return json_bytes(fields["json"], f"{where}.json", _json_style(fields, where))
    if form is not None:
        return decode_bytes_form(fields, form, where)
    return b""


def _decode_sse(fields: Mapping[str, Any], where: str) -> bytes:
    events = checked(fields["sse"], list, f"{where}.sse")
    style = _json_style(fields, where)
    common = checked_mapping(fields.get("sse_common", {}), f"{where}.sse_common")
    parts: list[bytes] = []
    for index, event in enumerate(events):
        if isinstance(event, dict):
            full = {**common, **event}  # the common fields come first, as they were sent
            data = json_bytes(full, f"{where}.sse[{index}]", style)
            parts.append(b"data: " + data + b"\n\n")
        else:
            text: str = checked(event, str, f"{where}.sse[{index}]")
            parts.append(text.encode("utf-8", "surrogatepass") + b"\n\n")
    tail: str = checked(fields.get("sse_tail", ""), str, f"{where}.sse_tail")
    return b"".join(parts) + tail.encode("utf-8", "surrogatepass")


def _json_style(fields: Mapping[str, Any], where: str) -> str:
    style = fields.get("json_style", "compact")
    if style not in JSON_STYLES:
        raise FormatError(f"{where}.json_style should be one of {', '.join(JSON_STYLES)}")
    return str(style)
