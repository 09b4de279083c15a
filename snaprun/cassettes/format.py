"""The cassette file format: a vcrpy serializer that writes readable, compact YAML.

::

  version: 1
  interactions:
  - request:
      method: POST
      uri: https://api.openai.com/v1/chat/completions
      headers: {content-type: application/json}
      messages_from_previous: 3   # the previous request's first 3 messages, then these
      json: {model: ..., messages: [...], stream: true}   # or text: / base64:
    response:
      status: 200                 # reason: only when not the standard phrase
      headers: {content-type: text/event-stream; charset=utf-8}
      sse_common: {id: chatcmpl-1, object: chat.completion.chunk, created: 1, model: m}
      sse:                        # or json: / text: / base64:
      - {choices: [{index: 0, delta: {content: Hi}, finish_reason: null}]}
      - 'data: [DONE]'

Each request's chat ``messages`` are a delta against the previous request's, so a long
conversation grows linearly rather than quadratically. How one body is written (``json``,
``sse``, ``text``, ``base64``) is :mod:`snaprun.body_forms`. Every form is checked when
written: an interaction that would not load back exactly (the bytes of a response, the data
of a request) is written again in a plainer form (text, then base64).
"""

from __future__ import annotations

import http
from collections.abc import Mapping, Sequence
from typing import Any, Final

from vcr.request import Request  # type: ignore[import-untyped]

from snaprun import yamlio
from snaprun.canonical import canonical_json
from snaprun.cassettes.body_forms import (
    BASE64,
    BODY_FORMS,
    PRETTY,
    RESPONSE_BODY_KEYS,
    FormatError,
    bytes_form,
    checked,
    checked_fields,
    checked_mapping,
    decode_bytes_form,
    decode_response_body,
    json_bytes,
    one_body_form,
    response_body_form,
    shared_prefix,
)
from snaprun.cassettes.http_bodies import (
    NOT_JSON,
    Json,
    as_bytes,
    data_key,
    messages_of,
    parse_json,
    remember_key,
    response_body,
)
from snaprun.cassettes.websocket_form import SocketRecording, read_recording, recording_form

FORMAT_VERSION: Final = 1
# Version 2 is version 1 plus a ``websockets:`` list (:mod:`snaprun.cassettes.websocket_form`);
# it is written only by a cassette that holds a WebSocket, so HTTP-only files stay version 1.
WEBSOCKET_FORMAT_VERSION: Final = 2
READ_VERSIONS: Final = (FORMAT_VERSION, WEBSOCKET_FORMAT_VERSION)


# ---- writing -----------------------------------------------------------------------------


def _header_values(values: Any) -> list[Any]:
    """A header's values as a list (a hook may have left a single value)."""
    return list(values) if isinstance(values, list | tuple) else [values]


def _headers_form(headers: Mapping[str, Any]) -> dict[str, Any]:
    """vcrpy keeps each header as a list of values; one value is written as a plain string."""
    out: dict[str, Any] = {}
    for name, values in headers.items():
        listed = _header_values(values)
        out[str(name)] = listed[0] if len(listed) == 1 else listed
    return out


def _content_type(headers: Mapping[str, Any]) -> str:
    for name, values in headers.items():
        if name.lower() == "content-type":
            listed = _header_values(values)
            return str(listed[0]).lower() if listed else ""
    return ""


def _encode_request(
    request: Mapping[str, Any], previous: Sequence[str], level: int
) -> tuple[dict[str, Any], list[str]]:
    """One request in file form, and its messages (canonical JSON) for the next one's delta."""
    out: dict[str, Any] = {"method": request["method"], "uri": request["uri"]}
    headers = _headers_form(request.get("headers") or {})
    if headers:
        out["headers"] = headers
    body = as_bytes(request.get("body"))
    data = parse_json(body)
    messages = messages_of(data)
    canonical = [canonical_json(message) for message in messages] if messages is not None else []
    if body is None:
        return out, canonical
    if level == PRETTY and data is not NOT_JSON:
        shared = shared_prefix(previous, canonical)
        if shared:  # only a body with messages shares any
            data = {**data, "messages": data["messages"][shared:]}
            out["messages_from_previous"] = shared
        out["json"] = data
        return out, canonical
    out.update(bytes_form(body, level))
    return out, canonical


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
    out.update(response_body_form(response_body(response), _content_type(headers), level))
    return out


def _standard_reason(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return ""


# ---- reading -----------------------------------------------------------------------------


def _decode_headers(value: object, where: str) -> dict[str, list[str]]:
    headers = checked_mapping(value, where)
    out: dict[str, list[str]] = {}
    for name, values in headers.items():
        listed = values if isinstance(values, list) else [values]
        out[str(name)] = [checked(v, str, f"{where}.{name}") for v in listed]
    return out


def _decode_request(
    value: object, where: str, previous: list[Json] | None
) -> tuple[dict[str, Any], Json, int]:
    """vcrpy's request dict, the body's JSON data (for the next request's delta) and how many
    of its messages are the previous request's."""
    optional = ("headers", "messages_from_previous", *BODY_FORMS)
    fields = checked_fields(value, where, ("method", "uri"), optional)
    request = {
        "method": checked(fields["method"], str, f"{where}.method").upper(),
        "uri": checked(fields["uri"], str, f"{where}.uri"),
        "headers": _decode_headers(fields.get("headers", {}), f"{where}.headers"),
        "body": None,
    }
    form = one_body_form(fields, BODY_FORMS, where)
    if "messages_from_previous" in fields and form != "json":
        raise FormatError(f"{where}.messages_from_previous needs a json body")
    if form is None:
        return request, NOT_JSON, 0
    if form != "json":
        request["body"] = decode_bytes_form(fields, form, where)
        return request, parse_json(request["body"]), 0
    data, shared = fields["json"], 0
    if "messages_from_previous" in fields:
        shared = checked(fields["messages_from_previous"], int, f"{where}.messages_from_previous")
        data = _with_previous_messages(data, shared, previous, where)
    request["body"] = json_bytes(data, f"{where}.json")
    return request, data, shared


def _with_previous_messages(
    data: Json, shared: int, previous: list[Json] | None, where: str
) -> Json:
    available = len(previous) if previous is not None else 0
    if not 0 < shared <= available:
        raise FormatError(
            f"{where}.messages_from_previous is {shared}, but the previous request has "
            f"{available} message(s)"
        )
    messages = messages_of(data)
    if messages is None or previous is None:
        raise FormatError(
            f"{where}.json lacks the messages list that messages_from_previous extends"
        )
    return {**data, "messages": previous[:shared] + messages}


def _decode_response(value: object, where: str) -> dict[str, Any]:
    optional = ("reason", "headers", "vcr_extra", *RESPONSE_BODY_KEYS)
    fields = checked_fields(value, where, ("status",), optional)
    code: int = checked(fields["status"], int, f"{where}.status")
    reason = fields.get("reason", _standard_reason(code))
    if reason is not None:
        checked(reason, str, f"{where}.reason")
    body = decode_response_body(fields, where)
    extra = checked_mapping(fields.get("vcr_extra", {}), f"{where}.vcr_extra")
    return {
        **extra,
        "status": {"code": code, "message": reason},
        "headers": _decode_headers(fields.get("headers", {}), f"{where}.headers"),
        "body": {"string": body},
    }


def _decode_document(document: object) -> tuple[dict[str, Any], list[bytes | None]]:
    """vcrpy's cassette dict ({"interactions": [{"request", "response"}]}) from file data,
    and each request's ``body_key`` where its body is JSON."""
    root = checked_fields(document, "the cassette", ("version", "interactions"), _ROOT_OPTIONAL)
    if root["version"] not in READ_VERSIONS:
        raise FormatError(
            f"format version {root['version']!r} is not one this snaprun reads "
            f"({', '.join(map(str, READ_VERSIONS))})"
        )
    items = checked(root["interactions"], list, "interactions")
    interactions: list[dict[str, Any]] = []
    keys: list[bytes | None] = []
    previous: list[Json] | None = None
    texts: list[str] = []  # canonical_json of the previous request's messages
    for index, item in enumerate(items):
        where = f"interactions[{index}]"
        fields = checked_fields(item, where, ("request", "response"))
        request, data, shared = _decode_request(fields["request"], f"{where}.request", previous)
        response = _decode_response(fields["response"], f"{where}.response")
        previous = messages_of(data)
        if previous is None:
            keys.append(None if data is NOT_JSON else data_key(data))
            texts = []
        else:  # the shared history was rendered for the previous request
            texts = texts[:shared] + [canonical_json(m) for m in previous[shared:]]
            keys.append(data_key(data, texts))
        interactions.append({"request": request, "response": response})
    out: dict[str, Any] = {"version": root["version"], "interactions": interactions}
    if "websockets" in root:
        out["websockets"] = _read_websockets(root)
    if "metadata" in root:
        out["metadata"] = checked_mapping(root["metadata"], "metadata")
    return out, keys


# ---- WebSockets (format version 2) ------------------------------------------------------

_ROOT_OPTIONAL: Final = ("metadata", "websockets")


def _read_websockets(root: Mapping[str, Any]) -> list[SocketRecording]:
    if root["version"] < WEBSOCKET_FORMAT_VERSION:
        raise FormatError(
            f"websockets: a cassette of format version {root['version']} holds no WebSockets "
            f"(they came with version {WEBSOCKET_FORMAT_VERSION})"
        )
    items = checked(root["websockets"], list, "websockets")
    return [read_recording(item, f"websockets[{index}]") for index, item in enumerate(items)]


def _websockets_form(recordings: Sequence[SocketRecording]) -> dict[str, Any]:
    return {"websockets": [recording_form(recording) for recording in recordings]}


# ---- the serializer ----------------------------------------------------------------------


def _interaction_differences(
    written: Sequence[Mapping[str, Any]], read: Sequence[Mapping[str, Any]]
) -> set[int]:
    """Indices of interactions that do not read back as they were written."""
    if len(written) != len(read):
        return set(range(len(written)))
    return {
        index
        for index, (a, b) in enumerate(zip(written, read, strict=True))
        if not (
            _same_request(a["request"], b["request"])
            and _same_response(a["response"], b["response"])
        )
    }


def _same_request(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    body_a, body_b = as_bytes(a.get("body")), as_bytes(b.get("body"))
    data_a, data_b = parse_json(body_a), parse_json(body_b)
    if data_a is NOT_JSON or data_b is NOT_JSON:
        same_body = body_a == body_b
    else:  # requests are matched as data, so only the data has to survive
        same_body = canonical_json(data_a) == canonical_json(data_b)
    return same_body and (a["method"], a["uri"]) == (b["method"], b["uri"]) and _same_headers(a, b)


def _same_response(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    rest_a = {k: v for k, v in a.items() if k not in ("headers", "body")}
    rest_b = {k: v for k, v in b.items() if k not in ("headers", "body")}
    return (
        response_body(a) == response_body(b)  # replay must give the recorded bytes exactly
        and rest_a == rest_b
        and _same_headers(a, b)
    )


def _same_headers(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return _headers_form(a.get("headers") or {}) == _headers_form(b.get("headers") or {})


class CassetteSerializer:
    """vcrpy serializer for snaprun's cassette format (see the module notes).

    vcrpy calls ``serialize`` with ``{"version", "interactions": [{"request", "response"}]}``
    in its own shape and expects ``deserialize`` to give that shape back.
    """

    def __init__(self, header: str = "") -> None:
        # Comment lines put at the top of the file, for the humans reading it.
        self.header = "".join(f"# {line}\n" for line in header.splitlines())
        # The WebSockets to write next to vcrpy's interactions (vcrpy knows nothing of them).
        self.websockets: list[SocketRecording] = []

    def serialize(self, cassette_dict: Mapping[str, Any]) -> str:
        interactions = list(cassette_dict["interactions"])
        levels = [PRETTY] * len(interactions)
        while True:
            try:
                text = self._text(interactions, levels, cassette_dict.get("metadata"))
            except ValueError:  # e.g. a lone surrogate in JSON data, which YAML cannot hold
                if all(level == BASE64 for level in levels):
                    raise
                levels = [min(level + 1, BASE64) for level in levels]
                continue
            try:
                read = self.deserialize(text)["interactions"]
                lossy = _interaction_differences(interactions, read)
            except ValueError:  # FormatError, YamlError
                lossy = set(range(len(interactions)))
            lossy = {index for index in lossy if levels[index] < BASE64}
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
        if self.websockets:
            document["version"] = WEBSOCKET_FORMAT_VERSION
            document.update(_websockets_form(self.websockets))
        if metadata:
            document["metadata"] = metadata
        return self.header + yamlio.dump(document)

    def deserialize(self, text: str) -> dict[str, Any]:
        return _decode_document(yamlio.load(text))[0]

    def load(self, text: str) -> tuple[list[Any], ...]:
        """What vcrpy's persisters return: (requests, responses[, metadata]), each request
        with its ``body_key`` already known."""
        return self.load_file(text)[0]

    def load_file(self, text: str) -> tuple[tuple[list[Any], ...], list[SocketRecording]]:
        """What :meth:`load` returns, and the file's WebSockets."""
        cassette, keys = _decode_document(yamlio.load(text))
        sockets: list[SocketRecording] = cassette.get("websockets", [])
        interactions = cassette["interactions"]
        requests = [Request._from_dict(interaction["request"]) for interaction in interactions]
        for request, key in zip(requests, keys, strict=True):
            if key is not None:
                remember_key(request, key)
        responses = [interaction["response"] for interaction in interactions]
        if cassette.get("metadata"):
            return (requests, responses, cassette["metadata"]), sockets
        return (requests, responses), sockets
