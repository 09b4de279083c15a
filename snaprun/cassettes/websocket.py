"""WebSockets in a cassette: record what an LLM says over a socket, replay it without one.

vcrpy does not record WebSockets. LLMs that speak over one (``openai.responses.LLM()``'s
default transport, every realtime model) open it with aiohttp's ``ClientSession.ws_connect``;
while a cassette is open, :class:`WebSocketTape` wraps that method:

* **Recording**, the real socket is wrapped by :class:`RecordingSocket`, which writes down
  every message in the order the client sent or read it (:mod:`.websocket_form`).
* **Replaying**, no connection is made: :class:`ReplaySocket` stands in for aiohttp's
  ``ClientWebSocketResponse``. Each message the client sends is matched, as data, against the
  next recorded client message; the server messages recorded after it are then released, so
  the client reads them in the order it did when recording, whatever the timing. Ids the
  client makes up (livekit's ``utils.shortuuid``: ``item_0a1b2c3d4e5f``) differ on every run:
  they are compared as labels in order of first appearance, and the recorded server messages
  echo the client's new ids back.

A message that does not match is answered with an OpenAI-style ``error`` event, which
livekit's Responses LLM and realtime session do not retry, and the explanation (a diff
against the recorded message) joins the cassette's refused requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import functools
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import aiohttp

from snaprun import yamlio
from snaprun.cassettes.http_bodies import NOT_JSON, Json, render_json
from snaprun.cassettes.replay import MAX_DIFF_LINES
from snaprun.cassettes.websocket_clients import websockets_refused
from snaprun.cassettes.websocket_form import Frame, SocketRecording

# livekit's utils.shortuuid: a prefix ending in "_", then 12 hex digits.
_CLIENT_ID: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*_[0-9a-f]{12}")
_CLOSED: Final = aiohttp.WSMessage(aiohttp.WSMsgType.CLOSED, None, None)
# The error code of the refusal, as HTTP refusals have (replay._refusal).
_REFUSAL_CODE: Final = "snaprun_request_not_in_cassette"


def _json(text: str) -> Json:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return NOT_JSON


class _Labels:
    """Client-made ids as labels (``item_#1``), numbered in order of first appearance."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}

    def apply(self, data: Json, seen: list[str]) -> Json:
        if isinstance(data, dict):
            return {key: self.apply(value, seen) for key, value in data.items()}
        if isinstance(data, list):
            return [self.apply(value, seen) for value in data]
        if isinstance(data, str) and _CLIENT_ID.fullmatch(data):
            seen.append(data)
            number = self.numbers.setdefault(data, len(self.numbers) + 1)
            return f"{data[:-12]}#{number}"
        return data


class SocketSurface:
    """What aiohttp's ClientWebSocketResponse offers beyond send_str / receive / close,
    written in terms of those three, as aiohttp itself does."""

    async def send_str(self, data: str, compress: int | None = None) -> None:
        raise NotImplementedError

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        raise NotImplementedError

    async def receive(self, timeout: float | None = None) -> aiohttp.WSMessage:
        raise NotImplementedError

    async def send_json(
        self, data: Any, compress: int | None = None, *, dumps: Any = json.dumps
    ) -> None:
        await self.send_str(dumps(data), compress=compress)

    async def receive_str(self, *, timeout: float | None = None) -> str:
        message = await self.receive(timeout)
        if message.type != aiohttp.WSMsgType.TEXT:
            raise TypeError(f"Received message {message.type}:{message.data!r} is not str")
        return str(message.data)

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        message = await self.receive(timeout)
        if message.type != aiohttp.WSMsgType.BINARY:
            raise TypeError(f"Received message {message.type}:{message.data!r} is not bytes")
        return bytes(message.data)

    async def receive_json(self, *, loads: Any = json.loads, timeout: float | None = None) -> Any:
        return loads(await self.receive_str(timeout=timeout))

    def __aiter__(self) -> SocketSurface:
        return self

    async def __anext__(self) -> aiohttp.WSMessage:
        message = await self.receive()
        if message.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.CLOSED,
        ):
            raise StopAsyncIteration
        return message

    async def __aenter__(self) -> SocketSurface:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self, *, code: int = aiohttp.WSCloseCode.OK, message: bytes = b"") -> bool:
        raise NotImplementedError


class RecordingSocket(SocketSurface):
    """The real socket, writing down every message that passes through it."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse, recording: SocketRecording) -> None:
        self._socket = socket
        self.recording = recording

    def __getattr__(self, name: str) -> Any:  # closed, close_code, ping, exception() …
        return getattr(self._socket, name)

    async def send_str(self, data: str, compress: int | None = None) -> None:
        await self._socket.send_str(data, compress=compress)
        self.recording.frames.append(Frame("client", data))

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        await self._socket.send_bytes(data, compress=compress)
        self.recording.frames.append(Frame("client", bytes(data)))

    async def receive(self, timeout: float | None = None) -> aiohttp.WSMessage:
        message = await self._socket.receive(timeout)
        if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            self.recording.frames.append(Frame("server", message.data))
        elif message.type == aiohttp.WSMsgType.CLOSE and self.recording.closed_by is None:
            self.recording.closed_by, self.recording.close_code = "server", message.data
        return message

    async def close(self, *, code: int = aiohttp.WSCloseCode.OK, message: bytes = b"") -> bool:
        if self.recording.closed_by is None and not self._socket.closed:
            self.recording.closed_by, self.recording.close_code = "client", int(code)
        return await self._socket.close(code=code, message=message)


class ReplaySocket(SocketSurface):
    """Stands in for aiohttp's ClientWebSocketResponse, playing one recording exactly."""

    def __init__(self, recording: SocketRecording, refuse: Callable[[str], None]) -> None:
        self.recording = recording
        self._refuse = refuse  # keeps an explanation; the cassette raises it at the end
        self._next = 0  # index of the next recorded frame to play
        self._inbox: asyncio.Queue[aiohttp.WSMessage] = asyncio.Queue()
        self._recorded_labels, self._live_labels = _Labels(), _Labels()
        self._echo: dict[str, str] = {}  # recorded client id -> this run's
        self._diverged = False
        self.closed = False
        self.close_code: int | None = None
        self.protocol: str | None = None
        self._release()

    @property
    def finished(self) -> bool:
        return self._next >= len(self.recording.frames)

    def unsent(self) -> int:
        return sum(1 for f in self.recording.frames[self._next :] if f.side == "client")

    def exception(self) -> BaseException | None:
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    async def ping(self, message: bytes = b"") -> None:
        return None

    async def pong(self, message: bytes = b"") -> None:
        return None

    async def send_str(self, data: str, compress: int | None = None) -> None:
        self._client_sent(data)

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        self._client_sent(bytes(data))

    async def receive(self, timeout: float | None = None) -> aiohttp.WSMessage:
        if self.closed and self._inbox.empty():
            return _CLOSED
        return await asyncio.wait_for(self._inbox.get(), timeout)

    async def close(self, *, code: int = aiohttp.WSCloseCode.OK, message: bytes = b"") -> bool:
        if self.closed:
            return False
        self.closed, self.close_code = True, int(code)
        self._inbox.put_nowait(_CLOSED)  # wakes a reader, as aiohttp's close does
        return True

    # -- playing -----------------------------------------------------------------------

    def _client_sent(self, payload: str | bytes) -> None:
        if self.closed:
            raise aiohttp.ClientConnectionResetError("Cannot write to closing transport")
        if self._diverged:
            self._answer_refusal(
                "an earlier message on this WebSocket was refused", _event_id(payload)
            )
            return
        expected = self._expected()
        problem = self._mismatch(expected, payload)
        if problem is None:
            self._next += 1
            self._release()
            return
        self._diverged = True
        self._refuse(problem)
        self._answer_refusal(problem, _event_id(payload))

    def _expected(self) -> Frame | None:
        frames = self.recording.frames
        return frames[self._next] if self._next < len(frames) else None

    def _mismatch(self, expected: Frame | None, payload: str | bytes) -> str | None:
        """None when ``payload`` is the recorded message, else why it is not."""
        sent = Frame("client", payload)
        if expected is None:
            return _explain(self.recording, self._next, sent, None, "")
        live, recorded = _data_of(payload), _data_of(expected.payload)
        if live is NOT_JSON or recorded is NOT_JSON:
            return (
                None
                if payload == expected.payload
                else _explain(self.recording, self._next, sent, expected, "")
            )
        seen_live: list[str] = []
        seen_recorded: list[str] = []
        live = self._live_labels.apply(live, seen_live)
        recorded = self._recorded_labels.apply(recorded, seen_recorded)
        if live == recorded:
            self._echo.update(zip(seen_recorded, seen_live, strict=True))
            return None
        return _explain(
            self.recording, self._next, sent, expected, "\n".join(_diff(recorded, live))
        )

    def _release(self) -> None:
        """Release the server messages recorded before the next client message."""
        frames = self.recording.frames
        while self._next < len(frames) and frames[self._next].side == "server":
            self._inbox.put_nowait(self._message(frames[self._next].payload))
            self._next += 1
        if self.finished and self.recording.closed_by == "server":
            code = self.recording.close_code
            self._inbox.put_nowait(aiohttp.WSMessage(aiohttp.WSMsgType.CLOSE, code, ""))

    def _message(self, payload: str | bytes) -> aiohttp.WSMessage:
        if isinstance(payload, bytes):
            return aiohttp.WSMessage(aiohttp.WSMsgType.BINARY, payload, None)
        if self._echo and any(recorded in payload for recorded in self._echo):
            data = _data_of(payload)
            if data is not NOT_JSON:
                payload = json.dumps(_echoed(data, self._echo), separators=(",", ":"))
        return aiohttp.WSMessage(aiohttp.WSMsgType.TEXT, payload, None)

    def _answer_refusal(self, message: str, event_id: str | None) -> None:
        # OpenAI's error event; naming the refused client event lets livekit's realtime session
        # fail the reply waiting on it at once, instead of after its own timeout.
        error: Json = {"type": "invalid_request_error", "code": _REFUSAL_CODE, "message": message}
        if event_id is not None:
            error["event_id"] = event_id
        text = render_json({"type": "error", "error": error})
        self._inbox.put_nowait(aiohttp.WSMessage(aiohttp.WSMsgType.TEXT, text, None))


def _event_id(payload: str | bytes) -> str | None:
    data = _data_of(payload)
    event_id = data.get("event_id") if isinstance(data, dict) else None
    return event_id if isinstance(event_id, str) else None


def _data_of(payload: str | bytes) -> Json:
    return _json(payload) if isinstance(payload, str) else NOT_JSON


def _echoed(data: Json, echo: dict[str, str]) -> Json:
    if isinstance(data, dict):
        return {key: _echoed(value, echo) for key, value in data.items()}
    if isinstance(data, list):
        return [_echoed(value, echo) for value in data]
    if isinstance(data, str):
        return echo.get(data, data)
    return data


def _sorted(data: Json) -> Json:
    if isinstance(data, dict):
        return {key: _sorted(data[key]) for key in sorted(data)}
    if isinstance(data, list):
        return [_sorted(item) for item in data]
    return data


def _diff(recorded: Json, live: Json) -> list[str]:
    """The two messages as YAML (keys sorted), diffed: what a person reads to see the drift."""
    lines = list(
        difflib.unified_diff(
            yamlio.dump(_sorted(recorded)).splitlines(),
            yamlio.dump(_sorted(live)).splitlines(),
            "recorded",
            "this message",
            n=3,
            lineterm="",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + [f"… {len(lines) - MAX_DIFF_LINES} more diff lines"]
    return lines


def _summary(frame: Frame) -> str:
    if isinstance(frame.payload, bytes):
        return f"{len(frame.payload)} bytes of binary data"
    data = _json(frame.payload)
    if isinstance(data, dict) and "type" in data:
        return f"a {data['type']!r} message"
    return repr(frame.payload[:60])


def _explain(
    recording: SocketRecording, index: int, sent: Frame, expected: Frame | None, diff: str
) -> str:
    clients = [i for i, f in enumerate(recording.frames) if f.side == "client"]
    number = sum(1 for i in clients if i < index) + 1
    head = (
        f"snaprun: message not in cassette on WebSocket {recording.url}, so it was refused: "
        f"the client sent {_summary(sent)}"
    )
    if expected is None:
        return f"{head} after all {len(clients)} recorded client message(s)."
    lines = [f"{head} where client message #{number} of {len(clients)} was {_summary(expected)}."]
    if diff:
        lines += [
            "Diff, - recorded, + this message:",
            *("    " + line for line in diff.splitlines()),
        ]
    return "\n".join(lines)


class WebSocketTape:
    """A cassette's WebSockets: recorded ones to replay, and the ones recorded in this use."""

    def __init__(self, loaded: list[SocketRecording], refuse: Callable[[str], None]) -> None:
        self.loaded = loaded
        self.recorded: list[SocketRecording] = []
        self._refuse = refuse
        self._played: list[ReplaySocket | None] = [None] * len(loaded)
        self.handshakes: list[str] = []  # URLs of sockets recorded through aiohttp (and vcrpy)

    def problems(self) -> list[str]:
        """Recorded sockets the test never opened, or left before sending everything."""
        out = []
        total = len(self.loaded)
        for number, (recording, socket) in enumerate(zip(self.loaded, self._played, strict=True)):
            name = f"recorded WebSocket #{number + 1} of {total} ({recording.url})"
            if socket is None:
                out.append(f"{name} was never opened")
            elif socket.unsent():
                out.append(f"{name}: the test never sent its last {socket.unsent()} message(s)")
        return out

    def open_replay(self, url: str) -> ReplaySocket:
        for index, recording in enumerate(self.loaded):
            if self._played[index] is None and recording.url == url:
                socket = ReplaySocket(recording, self._refuse)
                self._played[index] = socket
                return socket
        urls = ", ".join(recording.url for recording in self.loaded) or "none"
        message = (
            f"snaprun: WebSocket not in cassette, so it was refused: ws_connect({url!r}). Every "
            f"recorded WebSocket of that URL was already opened, or none was (recorded: {urls})."
        )
        self._refuse(message)
        return ReplaySocket(SocketRecording(url), self._refuse)

    async def open_recording(self, connect: Callable[[], Any], url: str) -> RecordingSocket:
        socket = await connect()
        recording = SocketRecording(url)
        self.recorded.append(recording)
        self.handshakes.append(url)
        return RecordingSocket(socket, recording)

    @contextlib.contextmanager
    def patched(
        self, replaying: Callable[[], bool], url_form: Callable[[str], str]
    ) -> Iterator[None]:
        """aiohttp's ``ClientSession.ws_connect`` goes through this tape until exit, and the
        WebSocket clients snaprun cannot record are refused (:mod:`.websocket_clients`)."""
        original = aiohttp.ClientSession.ws_connect
        tape = self

        @functools.wraps(original)
        def ws_connect(session: aiohttp.ClientSession, url: Any, **kwargs: Any) -> _Connecting:
            stored = url_form(str(url))
            if replaying():
                return _Connecting(_ready(tape.open_replay(stored)))
            return _Connecting(
                tape.open_recording(lambda: original(session, url, **kwargs), stored)
            )

        aiohttp.ClientSession.ws_connect = ws_connect  # type: ignore[method-assign,assignment]
        try:
            with websockets_refused(self._refuse, url_form):
                yield
        finally:
            aiohttp.ClientSession.ws_connect = original  # type: ignore[method-assign]


async def _ready(socket: ReplaySocket) -> ReplaySocket:
    return socket


class _Connecting:
    """What ``ws_connect`` returns: awaited, or used as ``async with``, like aiohttp's."""

    def __init__(self, opening: Any) -> None:
        self._opening = opening
        self._socket: SocketSurface | None = None

    def __await__(self) -> Any:
        return self._opening.__await__()

    async def __aenter__(self) -> SocketSurface:
        self._socket = await self._opening
        return self._socket

    async def __aexit__(self, *exc_info: object) -> None:
        if self._socket is not None:
            await self._socket.close()
