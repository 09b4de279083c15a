"""A scripted, OpenAI-compatible chat-completions server for recording against.

snaprun's tests, examples and benchmarks need an LLM that answers deterministically over
real HTTP with real SSE streaming, so that the whole client stack (``openai`` over
``httpx``/``httpx2``, livekit's LLM plugin, the agent session) runs exactly as it would
against api.openai.com. ``ScriptedServer`` is that LLM: each request is answered by the
first scripted :class:`Reply` whose ``match`` fits it.

The server runs in its own daemon thread with its own event loop, so it can be started
from a sync pytest fixture and used from any asyncio loop (including one per test).

Example::

    with ScriptedServer([Reply(match="weather", text="Sunny.")]) as server:
        llm = openai.LLM(model="gpt-4.1", base_url=server.base_url, api_key="sk-test")
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

__all__ = ["Reply", "ScriptedServer", "ToolCall"]

# Fixed so that recordings made against the server are byte-for-byte reproducible.
CREATED = 1700000000
# Fixed, small, fake token counts reported when the client asks for usage.
USAGE: dict[str, Any] = {
    "prompt_tokens": 10,
    "completion_tokens": 5,
    "total_tokens": 15,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
}
WORDS_PER_PIECE = 3
MODELS = ("scripted",)

Json = dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """A function call the scripted assistant makes."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    ``match`` as a ``str`` fits when it is a substring of the newest message that is not the
    assistant's (the user input, a tool output, or the system message that
    ``generate_reply(instructions=...)`` appends), or of the first system message (where
    livekit-agents 1.3 appends those instructions instead). As a callable it gets the whole
    JSON request body.
    """

    match: str | Callable[[Json], bool]
    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()

    def fits(self, body: Json) -> bool:
        if isinstance(self.match, str):
            return any(self.match in text for text in prompt_texts(body))
        return bool(self.match(body))


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a chat message: string content, or its text parts concatenated."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""  # e.g. an assistant message carrying only tool_calls


def last_message_text(body: Json) -> str:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], Mapping):
        return ""
    return message_text(messages[-1])


def prompt_texts(body: Json) -> list[str]:
    """The texts a str `match` looks at: the newest non-assistant message, the system prompt."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, Mapping)]
    texts = []
    for message in reversed(messages):
        if message.get("role") != "assistant":
            texts.append(message_text(message))
            break
    if messages and messages[0].get("role") in ("system", "developer"):
        texts.append(message_text(messages[0]))
    return texts


def text_pieces(text: str) -> list[str]:
    """Split text into ~3-word pieces that concatenate back to exactly ``text``.

    Like real model tokens, every piece after the first carries its leading space.
    """
    if not text:
        return []
    words = text.split(" ")
    groups = [
        " ".join(words[i : i + WORDS_PER_PIECE]) for i in range(0, len(words), WORDS_PER_PIECE)
    ]
    return [groups[0], *(" " + group for group in groups[1:])]


def argument_pieces(arguments: str) -> list[str]:
    """Split a JSON arguments string into 2-3 pieces, as OpenAI streams it in fragments."""
    n = len(arguments)
    cuts = [0, n // 3, 2 * n // 3, n]
    return [arguments[a:b] for a, b in itertools.pairwise(cuts) if b > a]


def error_body(message: str, code: str) -> Json:
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": "messages",
            "code": code,
        }
    }


class ScriptedServer:
    """An aiohttp OpenAI chat-completions server answering from a script.

    ``whole_tool_calls`` streams each tool call in one chunk, name and arguments together,
    as Mistral does (its SDK refuses a tool-call delta without a name), rather than in
    fragments as OpenAI does.

    ``requests`` holds the JSON bodies of every chat-completion request, in arrival order.
    Request number N (1-based) is answered with id ``chatcmpl-scripted-N`` and tool call ids
    ``call_scripted_N_i``, so ids are deterministic across runs.
    """

    def __init__(
        self,
        replies: Sequence[Reply],
        *,
        chunk_delay: float = 0.0,
        default_text: str | None = None,
        port: int = 0,
        whole_tool_calls: bool = False,
    ) -> None:
        self.replies: tuple[Reply, ...] = tuple(replies)
        self.whole_tool_calls = whole_tool_calls
        # A fixed port keeps the recorded URL, and so the cassette, the same between runs.
        self.port = port
        self.chunk_delay = chunk_delay
        self.default_text = default_text
        self.requests: list[Json] = []
        # Handlers append on the server thread while tests read from theirs.
        self._lock = threading.Lock()
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What ``openai.AsyncOpenAI(base_url=...)`` / ``openai.LLM(base_url=...)`` take."""
        if self._port is None:
            raise RuntimeError("ScriptedServer is not started")
        return f"http://127.0.0.1:{self._port}/v1"

    @property
    def root_url(self) -> str:
        """The server's address without a path, what most SDKs take as their base URL."""
        return self.base_url.removesuffix("/v1")

    def start(self) -> ScriptedServer:
        if self._thread is not None:
            raise RuntimeError("ScriptedServer is already started")
        # Binding the socket here (port 0 = any free port) means the port is known
        # before start() returns and cannot be taken by someone else in between.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self._port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name=f"ScriptedServer:{self._port}", daemon=True
        )
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._serve(sock), loop).result(timeout=10)
        except BaseException:
            sock.close()
            self.stop()
            raise
        return self

    async def _serve(self, sock: socket.socket) -> None:
        app = web.Application()
        self._add_routes(app)
        # A short shutdown_timeout: stop() should not wait (by default a minute) for a
        # slow stream still in flight; it is cancelled instead.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        # Azure OpenAI's path for the same API: a deployment instead of a model in the URL.
        app.router.add_post(
            "/openai/deployments/{deployment}/chat/completions", self._chat_completions
        )
        app.router.add_get("/v1/models", self._models)

    def stop(self) -> None:
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = self._runner = None
        self._port = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- handlers ----------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        # livekit's openai LLM prewarms its connection with GET /models.
        data = [
            {"id": m, "object": "model", "created": CREATED, "owned_by": "snaprun"} for m in MODELS
        ]
        return web.json_response({"object": "list", "data": data})

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response(
                error_body("body is not valid JSON", "invalid_json"), status=400
            )
        if not isinstance(body, dict):
            return web.json_response(
                error_body("body is not a JSON object", "invalid_json"), status=400
            )
        with self._lock:
            self.requests.append(body)
            n = len(self.requests)

        reply = self._choose(body)
        if reply is None:
            # Name the text, so the failing test says what was left unscripted.
            unscripted = last_message_text(body)
            message = f"ScriptedServer: no scripted reply matches last message {unscripted!r}"
            return web.json_response(error_body(message, "unscripted_request"), status=400)

        completion_id = f"chatcmpl-scripted-{n}"
        model = str(body.get("model", ""))
        calls = [
            {
                "id": f"call_scripted_{n}_{i}",
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": json.dumps(call.arguments, separators=(",", ":")),
                },
            }
            for i, call in enumerate(reply.tool_calls)
        ]
        finish_reason = "tool_calls" if calls else "stop"

        if not body.get("stream"):
            message_json: Json = {"role": "assistant", "content": reply.text, "refusal": None}
            if calls:
                message_json["tool_calls"] = calls
            return web.json_response(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": CREATED,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": message_json,
                            "logprobs": None,
                            "finish_reason": finish_reason,
                        }
                    ],
                    "usage": USAGE,
                }
            )

        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and bool(
            stream_options.get("include_usage")
        )
        events = [
            json.dumps(chunk, separators=(",", ":"))
            for chunk in stream_chunks(
                completion_id,
                model,
                reply.text or "",
                calls,
                finish_reason,
                include_usage,
                whole_tool_calls=self.whole_tool_calls,
            )
        ]
        events.append("[DONE]")

        response = web.StreamResponse(headers={"Cache-Control": "no-cache"})
        response.content_type = "text/event-stream"
        await response.prepare(request)
        try:
            for i, event in enumerate(events):
                if i and self.chunk_delay > 0:
                    await asyncio.sleep(self.chunk_delay)
                # One write per event, so the client really receives the stream piecemeal.
                await response.write(f"data: {event}\n\n".encode())
            await response.write_eof()
        except ConnectionResetError:
            # The client hung up mid-stream, as livekit does when a reply is interrupted:
            # nothing is wrong, so stop quietly rather than let aiohttp log a traceback.
            pass
        return response

    def _choose(self, body: Json) -> Reply | None:
        for reply in self.replies:
            if reply.fits(body):
                return reply
        if self.default_text is not None:
            return Reply(match="", text=self.default_text)
        return None


def stream_chunks(
    completion_id: str,
    model: str,
    text: str,
    calls: list[Json],
    finish_reason: str,
    include_usage: bool,
    *,
    whole_tool_calls: bool = False,
) -> Iterator[Json]:
    """The ``chat.completion.chunk`` objects of one streamed answer, in OpenAI's shape."""

    def chunk(delta: Json, finish: str | None = None) -> Json:
        out: Json = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            out["usage"] = None  # OpenAI sends usage: null on every chunk but the last
        return out

    yield chunk({"role": "assistant", "content": "" if text or not calls else None})
    for piece in text_pieces(text):
        yield chunk({"content": piece})
    for i, call in enumerate(calls):
        function = call["function"]
        if whole_tool_calls:
            yield chunk({"tool_calls": [{"index": i, **call}]})
            continue
        # The opening chunk names the call; its arguments follow in later chunks.
        opening = {
            "index": i,
            "id": call["id"],
            "type": "function",
            "function": {"name": function["name"], "arguments": ""},
        }
        yield chunk({"tool_calls": [opening]})
        for piece in argument_pieces(function["arguments"]):
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    yield chunk({}, finish_reason)
    if include_usage:
        yield {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [],
            "usage": USAGE,
        }
