"""One WebSocket connection as data, and how a cassette file writes it.

vcrpy has no WebSocket support: a socket opened while a cassette records would leave only its
``GET ws://… → 101`` handshake. snaprun records the socket itself (:mod:`.websocket`) as a
:class:`SocketRecording`: the URL, every message in both directions in the order the client
saw them, and how it closed. In the file (the ``websockets:`` list of format version 2)::

  websockets:
  - url: ws://127.0.0.1:8000/v1/responses?model=gpt-4.1
    messages:
    - client: {type: response.create, model: gpt-4.1, input: [...]}   # a JSON text frame
      input_from_previous: 2      # the previous client message's first 2 input items, then these
    - server: {type: response.created, ...}   # JSON, sent back in json_style (default compact)
    - server_text: not JSON                   # any other text frame, verbatim
    - client_binary: AAEC                     # a binary frame, base64
    closed: {by: client, code: 1000}

A client message's ``input`` list (the Responses API resends a conversation there when it
cannot chain on ``previous_response_id``) is a delta against the previous client message's,
as HTTP requests' chat ``messages`` are, so a long session grows linearly.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from snaprun.cassettes.body_forms import (
    FormatError,
    checked,
    checked_fields,
    checked_mapping,
    shared_prefix,
)
from snaprun.cassettes.http_bodies import JSON_STYLES, NOT_JSON, Json, render_json

Side = Literal["client", "server"]
SIDES: Final[tuple[Side, ...]] = ("client", "server")
_HISTORY_KEY: Final = "input"  # the list a client message repeats from its predecessor
_DELTA_KEY: Final = "input_from_previous"


@dataclass(frozen=True)
class Frame:
    """One WebSocket message: who sent it, and its payload (str for text, bytes for binary)."""

    side: Side
    payload: str | bytes


@dataclass
class SocketRecording:
    """One WebSocket connection: its URL, its messages in order, and who closed it."""

    url: str
    frames: list[Frame] = field(default_factory=list)
    closed_by: Side | None = None  # None: still open when the test ended
    close_code: int | None = None

    def raw_parts(self) -> list[bytes]:
        """Every recorded string, where a secret could hide from the file's text."""
        parts = [self.url.encode()]
        for frame in self.frames:
            payload = frame.payload
            parts.append(payload if isinstance(payload, bytes) else payload.encode("utf-8"))
        return parts


# ---- writing -----------------------------------------------------------------------------


def _json_of(text: str) -> Json:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return NOT_JSON


def _server_style(recording: SocketRecording) -> str:
    """The JSON layout that writes back the most server messages byte for byte."""

    def fits(style: str) -> int:
        return sum(
            1
            for frame in recording.frames
            if frame.side == "server"
            and isinstance(frame.payload, str)
            and (data := _json_of(frame.payload)) is not NOT_JSON
            and render_json(data, style) == frame.payload
        )

    return max(JSON_STYLES, key=fits)


def recording_form(recording: SocketRecording) -> dict[str, Any]:
    """The recording as file data (see the module notes)."""
    style = _server_style(recording)
    messages: list[dict[str, Any]] = []
    history: list[Json] = []
    for frame in recording.frames:
        entry, history = _frame_form(frame, style, history)
        messages.append(entry)
    out: dict[str, Any] = {"url": recording.url}
    if style != "compact":
        out["json_style"] = style
    out["messages"] = messages
    if recording.closed_by is not None:
        out["closed"] = {"by": recording.closed_by, "code": recording.close_code}
    return out


def _frame_form(frame: Frame, style: str, history: list[Json]) -> tuple[dict[str, Any], list[Json]]:
    """One message in file form, and the ``input`` list the next client message extends."""
    if isinstance(frame.payload, bytes):
        encoded = base64.b64encode(frame.payload).decode("ascii")
        return {f"{frame.side}_binary": encoded}, history
    data = _json_of(frame.payload)
    exact = data is not NOT_JSON and render_json(data, style) == frame.payload
    if frame.side == "server" and not exact or data is NOT_JSON:
        return {f"{frame.side}_text": frame.payload}, history
    if frame.side == "server" or not isinstance(data, dict):
        return {frame.side: data}, history
    items = data.get(_HISTORY_KEY)
    if not isinstance(items, list):
        return {"client": data}, history
    shared = shared_prefix(history, items)
    if not shared:
        return {"client": data}, items
    return {"client": {**data, _HISTORY_KEY: items[shared:]}, _DELTA_KEY: shared}, items


# ---- reading -----------------------------------------------------------------------------

_FRAME_KEYS: Final = {
    f"{side}{suffix}": (side, suffix) for side in SIDES for suffix in ("", "_text", "_binary")
}


def read_recording(value: object, where: str) -> SocketRecording:
    """A recording from file data; FormatError says where the data is wrong."""
    fields = checked_fields(value, where, ("url", "messages"), ("json_style", "closed"))
    style = fields.get("json_style", "compact")
    if style not in JSON_STYLES:
        raise FormatError(
            f"{where}.json_style should be one of {', '.join(JSON_STYLES)}, not {style!r}"
        )
    recording = SocketRecording(url=checked(fields["url"], str, f"{where}.url"))
    history: list[Json] = []
    for index, entry in enumerate(checked(fields["messages"], list, f"{where}.messages")):
        frame, history = _read_frame(entry, style, history, f"{where}.messages[{index}]")
        recording.frames.append(frame)
    if "closed" in fields:
        closed = checked_fields(fields["closed"], f"{where}.closed", ("by",), ("code",))
        if closed["by"] not in SIDES:
            raise FormatError(f"{where}.closed.by should be client or server, not {closed['by']!r}")
        recording.closed_by = closed["by"]
        code = closed.get("code")
        recording.close_code = None if code is None else checked(code, int, f"{where}.closed.code")
    return recording


def _read_frame(
    value: object, style: str, history: list[Json], where: str
) -> tuple[Frame, list[Json]]:
    entry = checked_mapping(value, where)
    stray = [str(key) for key in entry if key not in _FRAME_KEYS and key != _DELTA_KEY]
    if stray:
        raise FormatError(f"{where} has unexpected key(s) {', '.join(stray)}")
    keys = [key for key in entry if key in _FRAME_KEYS]
    if len(keys) != 1:
        raise FormatError(
            f"{where} should hold exactly one of {', '.join(_FRAME_KEYS)}, "
            f"not {', '.join(keys) or 'none'}"
        )
    side, suffix = _FRAME_KEYS[keys[0]]
    content = entry[keys[0]]
    if _DELTA_KEY in entry and not (keys[0] == "client" and isinstance(content, dict)):
        raise FormatError(f"{where}.{_DELTA_KEY} needs a client message that is a mapping")
    if suffix == "_binary":
        try:
            payload = base64.b64decode(checked(content, str, f"{where}.{keys[0]}"), validate=True)
        except ValueError as exc:
            raise FormatError(f"{where}.{keys[0]} is not base64: {exc}") from None
        return Frame(side, payload), history
    if suffix == "_text":
        return Frame(side, checked(content, str, f"{where}.{keys[0]}")), history
    if side == "client" and isinstance(content, dict):
        content, history = _with_history(content, entry, history, where)
    try:
        text = render_json(content, style if side == "server" else "compact")
    except (TypeError, ValueError) as exc:
        raise FormatError(f"{where}.{keys[0]} is not JSON data: {exc}") from None
    return Frame(side, text), history


def _with_history(
    data: dict[str, Json], entry: Mapping[str, Any], history: list[Json], where: str
) -> tuple[dict[str, Json], list[Json]]:
    items = data.get(_HISTORY_KEY)
    if _DELTA_KEY not in entry:
        return data, items if isinstance(items, list) else history
    shared = checked(entry[_DELTA_KEY], int, f"{where}.{_DELTA_KEY}")
    if not isinstance(items, list) or not 0 < shared <= len(history):
        raise FormatError(
            f"{where}.{_DELTA_KEY} is {shared}, but the previous client message has "
            f"{len(history)} input item(s)"
        )
    full = history[:shared] + items
    return {**data, _HISTORY_KEY: full}, full
