"""How one HTTP body is written in a cassette file, and read back: its *form*.

A body is written as ``json:`` (data), ``text:`` (verbatim) or ``base64:``; a streamed
response as one of its provider's streaming forms (see the providers table,
:mod:`snaprun.cassettes.providers`), each rebuilt byte for byte on replay:

* ``sse:`` server-sent events, each followed by a blank line: a mapping is the event
  "data: <JSON>" (``sse_common`` fields first), a string is an event kept verbatim.
* ``sse_events:`` server-sent events that carry names (Anthropic, OpenAI Responses): a
  one-key mapping ``{name: data}`` is "event: name" then "data: <JSON>" (or the data line's
  text, when the value is a string); a string is an event kept verbatim.
* ``event_stream:`` AWS event-stream frames (Bedrock): a one-key mapping ``{event type:
  payload data}`` is a frame with Bedrock's three headers; ``{headers: {...}, payload: ...}``
  spells out any other frame.

``json_style`` names the JSON layout when it is not compact (see
:data:`~snaprun.http_bodies.JSON_STYLES`), ``sse_framing: crlf`` says events end with
``\r\n\r\n`` (google-genai) rather than ``\n\n``, and ``sse_tail`` holds any text after
the last blank line.

Reading checks what it reads: text that is not a snaprun cassette raises :class:`FormatError`,
saying where and why.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from snaprun.canonical import canonical_json
from snaprun.cassettes import event_stream
from snaprun.cassettes.http_bodies import (
    JSON_STYLES,
    NOT_JSON,
    Json,
    parse_json,
    render_json,
)

BODY_FORMS: Final = ("json", "text", "base64")
_STREAM_FORMS: Final = ("sse", "sse_events", "event_stream")
_RESPONSE_BODY_FORMS: Final = (*_STREAM_FORMS, *BODY_FORMS)
_SSE_FORMS: Final = ("sse", "sse_events")
# Each option, and the forms it goes with.
_OPTIONS: Final = {
    "json_style": ("json", *_STREAM_FORMS),
    "sse_common": ("sse",),
    "sse_framing": _SSE_FORMS,
    "sse_tail": _SSE_FORMS,
}
# Every key a response's body may use next to the response's own fields.
RESPONSE_BODY_KEYS: Final = (*_OPTIONS, *_RESPONSE_BODY_FORMS)
_LINE_ENDS: Final = {"lf": "\n", "crlf": "\r\n"}

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


def shared_prefix(previous: Sequence[object], current: Sequence[object]) -> int:
    """How many leading items two lists share: a request's messages (or a socket message's
    input) are stored as the items after those it shares with the previous one."""
    count = 0
    for old, new in zip(previous, current, strict=False):
        if old != new:
            break
        count += 1
    return count


def checked_fields(
    value: object, where: str, required: Collection[str], optional: Collection[str] = ()
) -> dict[str, Any]:
    """A mapping with these keys only (``required`` ones all there)."""
    fields = checked_mapping(value, where)
    missing = [key for key in required if key not in fields]
    if missing:
        raise FormatError(f"{where} lacks {', '.join(missing)}")
    unknown = [str(key) for key in fields if key not in required and key not in optional]
    if unknown:
        raise FormatError(f"{where} has unexpected key(s) {', '.join(unknown)}")
    return fields


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
        if event_stream.CONTENT_TYPE in content_type:
            frames = event_stream.decode_frames(body)
            if frames is not None:
                return _event_stream_form(frames)
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
                    return {"json": data} | _style_field(style)
    return bytes_form(body, level)


def _style_field(style: str) -> dict[str, str]:
    return {"json_style": style} if style != "compact" else {}


def _best_style(payloads: Sequence[tuple[str, Json]]) -> str:
    """The JSON style that renders the most ``(text, data)`` payloads back to their text;
    compact (listed first) on a tie."""
    if not payloads:
        return "compact"
    return max(JSON_STYLES, key=lambda style: sum(render_json(d, style) == t for t, d in payloads))


def _as_data(text: str, data: Json, style: str) -> bool:
    return isinstance(data, dict) and render_json(data, style) == text


@dataclass(frozen=True)
class _SseEvent:
    """One event block: its name (None without an ``event:`` line) and its data line's text;
    ``verbatim`` when the block has any other shape."""

    block: str
    name: str | None = None
    payload: str | None = None
    data: Json = NOT_JSON


def _sse_event(block: str, line_end: str) -> _SseEvent:
    lines = block.split(line_end)
    if any("\r" in line or "\n" in line for line in lines):
        return _SseEvent(block)  # framing this event does not share with the others
    name = None
    if len(lines) == 2 and lines[0].startswith("event: "):
        name = lines.pop(0)[len("event: ") :]
    if len(lines) != 1 or not lines[0].startswith("data: "):
        return _SseEvent(block)
    payload = lines[0][len("data: ") :]
    return _SseEvent(block, name, payload, parse_json(payload.encode("utf-8", "surrogatepass")))


def _sse_form(text: str) -> dict[str, Any]:
    framing = "crlf" if "\r\n\r\n" in text else "lf"
    line_end = _LINE_ENDS[framing]
    blocks = text.split(line_end * 2)
    tail = blocks.pop()  # "" when the body ends with a blank line, as SSE bodies do
    events = [_sse_event(block, line_end) for block in blocks]
    payloads = [
        (e.payload, e.data) for e in events if e.payload is not None and e.data is not NOT_JSON
    ]
    style = _best_style(payloads)
    out: dict[str, Any] = _style_field(style)
    if framing != "lf":
        out["sse_framing"] = framing
    if any(event.name is not None for event in events):
        out["sse_events"] = [_named_event_form(event, style) for event in events]
    else:
        forms: list[Json] = [
            event.data
            if event.payload is not None and _as_data(event.payload, event.data, style)
            else event.block
            for event in events
        ]
        common = _common_fields(forms)
        if common:
            out["sse_common"] = common
        out["sse"] = [
            {k: v for k, v in form.items() if k not in common} if isinstance(form, dict) else form
            for form in forms
        ]
    if tail:
        out["sse_tail"] = tail
    return out


def _named_event_form(event: _SseEvent, style: str) -> Json:
    if event.name is None or event.payload is None:
        return event.block  # an unnamed or unusual event among named ones: verbatim
    if _as_data(event.payload, event.data, style):
        return {event.name: event.data}
    return {event.name: event.payload}


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


# Bedrock's frames all carry these headers, in this order; only the event type varies.
_EVENT_TYPE: Final = ":event-type"
_FRAME_HEADERS: Final = ((":content-type", "application/json"), (":message-type", "event"))


def _event_stream_form(frames: Sequence[event_stream.Frame]) -> dict[str, Any]:
    texts = [_frame_text(frame) for frame in frames]
    payloads = [(t, d) for t, d in texts if t is not None and d is not NOT_JSON]
    style = _best_style(payloads)
    items = [
        _frame_form(frame, text, data, style)
        for frame, (text, data) in zip(frames, texts, strict=True)
    ]
    if any(item is None for item in items):
        return bytes_form(event_stream.encode_frames(list(frames)), BASE64)
    return _style_field(style) | {"event_stream": items}


def _frame_text(frame: event_stream.Frame) -> tuple[str | None, Json]:
    try:
        text = frame.payload.decode("utf-8")
    except UnicodeDecodeError:
        return None, NOT_JSON
    return text, parse_json(frame.payload)


def _frame_form(frame: event_stream.Frame, text: str | None, data: Json, style: str) -> Json:
    if text is None:
        return None  # a binary payload: the whole body is kept as bytes
    payload: Json = data if _as_data(text, data, style) else text
    first, *rest = frame.headers or ((None, None),)
    if first[0] == _EVENT_TYPE and tuple(rest) == _FRAME_HEADERS:
        return {first[1]: payload}
    return {"headers": dict(frame.headers), "payload": payload}


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
    stray = [key for key, forms in _OPTIONS.items() if key in fields and form not in forms]
    if stray:
        raise FormatError(f"{where} has {', '.join(stray)}, which its body does not use")
    if form in _SSE_FORMS:
        return _decode_sse(fields, str(form), where)
    if form == "event_stream":
        return _decode_event_stream(fields, where)
    if form == "json":
        return json_bytes(fields["json"], f"{where}.json", _json_style(fields, where))
    if form is not None:
        return decode_bytes_form(fields, form, where)
    return b""


def _encoded(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _decode_sse(fields: Mapping[str, Any], form: str, where: str) -> bytes:
    events = checked(fields[form], list, f"{where}.{form}")
    style = _json_style(fields, where)
    framing = fields.get("sse_framing", "lf")
    if framing not in _LINE_ENDS:
        raise FormatError(f"{where}.sse_framing should be one of {', '.join(_LINE_ENDS)}")
    line_end = _LINE_ENDS[framing].encode()
    common = checked_mapping(fields.get("sse_common", {}), f"{where}.sse_common")
    parts: list[bytes] = []
    for index, event in enumerate(events):
        at = f"{where}.{form}[{index}]"
        if isinstance(event, str):
            parts.append(_encoded(event))
        elif form == "sse":
            full = {
                **common,
                **checked_mapping(event, at),
            }  # the common fields come first, as they were sent
            parts.append(b"data: " + json_bytes(full, at, style))
        else:
            name, value = _one_entry(event, at)
            parts.append(
                b"event: " + _encoded(name) + line_end + b"data: " + _payload(value, at, style)
            )
        parts.append(line_end * 2)
    tail: str = checked(fields.get("sse_tail", ""), str, f"{where}.sse_tail")
    return b"".join(parts) + _encoded(tail)


def _one_entry(item: object, where: str) -> tuple[str, Json]:
    entry = checked_mapping(item, where)
    if len(entry) != 1:
        raise FormatError(f"{where} should have one key, its event name, not {len(entry)}")
    ((name, value),) = entry.items()
    return checked(name, str, f"{where} (its name)"), value


def _payload(value: Json, where: str, style: str) -> bytes:
    """A string is the payload's text as sent; data is JSON in the body's style."""
    return _encoded(value) if isinstance(value, str) else json_bytes(value, where, style)


def _decode_event_stream(fields: Mapping[str, Any], where: str) -> bytes:
    items = checked(fields["event_stream"], list, f"{where}.event_stream")
    style = _json_style(fields, where)
    frames = []
    for index, item in enumerate(items):
        at = f"{where}.event_stream[{index}]"
        entry = checked_mapping(item, at)
        if set(entry) == {"headers", "payload"}:
            raw = checked_mapping(entry["headers"], f"{at}.headers")
            headers = tuple((str(k), checked(v, str, f"{at}.headers.{k}")) for k, v in raw.items())
            value = entry["payload"]
        else:
            event_type, value = _one_entry(entry, at)
            headers = ((_EVENT_TYPE, event_type), *_FRAME_HEADERS)
        frames.append(event_stream.Frame(headers, _payload(value, at, style)))
    return event_stream.encode_frames(frames)


def _json_style(fields: Mapping[str, Any], where: str) -> str:
    style = fields.get("json_style", "compact")
    if style not in JSON_STYLES:
        raise FormatError(f"{where}.json_style should be one of {', '.join(JSON_STYLES)}")
    return str(style)
