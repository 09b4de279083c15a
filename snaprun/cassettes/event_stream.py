"""AWS event-stream frames (Bedrock's ConverseStream answer), split and put back together.

A frame is a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes), its
headers, its payload and a CRC32 of everything before it; all integers big-endian. A header
is a 1-byte name length, the name, a 1-byte type and the value; the only type Bedrock sends
is 7, a string with a 2-byte length. So a frame is fully described by its string headers, in
order, and its payload: :func:`encode_frames` rebuilds the very bytes, lengths and checksums
included. Frames with other header types are not split (:func:`decode_frames` returns None)
and the body is kept verbatim instead.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from typing import Final

CONTENT_TYPE: Final = "application/vnd.amazon.eventstream"

_PRELUDE: Final = struct.Struct(">III")
_CRC: Final = struct.Struct(">I")
_STRING_HEADER: Final = 7


@dataclass(frozen=True)
class Frame:
    """One event-stream message: its string headers in the order sent, and its payload."""

    headers: tuple[tuple[str, str], ...]
    payload: bytes


def decode_frames(body: bytes) -> list[Frame] | None:
    """The frames of ``body``, or None when it is not a well-formed stream of string-headed
    frames (a checksum is wrong, a header has another type, bytes are left over)."""
    frames: list[Frame] = []
    offset = 0
    while offset < len(body):
        frame = _decode_frame(body, offset)
        if frame is None:
            return None
        frames.append(frame[0])
        offset += frame[1]
    return frames


def _decode_frame(body: bytes, offset: int) -> tuple[Frame, int] | None:
    if len(body) - offset < _PRELUDE.size + _CRC.size:
        return None
    total, headers_length, prelude_crc = _PRELUDE.unpack_from(body, offset)
    end = offset + total
    if total < _PRELUDE.size + headers_length + _CRC.size or end > len(body):
        return None
    if binascii.crc32(body[offset : offset + 8]) != prelude_crc:
        return None
    if binascii.crc32(body[offset : end - _CRC.size]) != _CRC.unpack_from(body, end - 4)[0]:
        return None
    headers_start = offset + _PRELUDE.size
    headers = _decode_headers(body[headers_start : headers_start + headers_length])
    if headers is None:
        return None
    payload = body[headers_start + headers_length : end - _CRC.size]
    return Frame(headers, payload), total


def _decode_headers(raw: bytes) -> tuple[tuple[str, str], ...] | None:
    headers: list[tuple[str, str]] = []
    offset = 0
    try:
        while offset < len(raw):
            name_length = raw[offset]
            name = raw[offset + 1 : offset + 1 + name_length].decode("utf-8")
            offset += 1 + name_length
            if raw[offset] != _STRING_HEADER:
                return None
            (value_length,) = struct.unpack_from(">H", raw, offset + 1)
            value = raw[offset + 3 : offset + 3 + value_length]
            if len(value) != value_length:
                return None
            headers.append((name, value.decode("utf-8")))
            offset += 3 + value_length
    except (IndexError, struct.error, UnicodeDecodeError):
        return None
    return tuple(headers)


def encode_frames(frames: list[Frame]) -> bytes:
    """The bytes of ``frames``, as :func:`decode_frames` read them."""
    return b"".join(_encode_frame(frame) for frame in frames)


def _encode_frame(frame: Frame) -> bytes:
    headers = b"".join(_encode_header(name, value) for name, value in frame.headers)
    total = _PRELUDE.size + len(headers) + len(frame.payload) + _CRC.size
    lengths = struct.pack(">II", total, len(headers))
    prelude = lengths + _CRC.pack(binascii.crc32(lengths))
    message = prelude + headers + frame.payload
    return message + _CRC.pack(binascii.crc32(message))


def _encode_header(name: str, value: str) -> bytes:
    name_bytes, value_bytes = name.encode("utf-8"), value.encode("utf-8")
    return (
        bytes([len(name_bytes)])
        + name_bytes
        + bytes([_STRING_HEADER])
        + struct.pack(">H", len(value_bytes))
        + value_bytes
    )
