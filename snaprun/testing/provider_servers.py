"""Scripted servers for the LLM providers that do not speak OpenAI's protocol.

Each speaks its provider's wire format as the provider's public API reference describes it
and as the provider's own SDK parses it, so that a recording through livekit's plugin is
what a user's recording against the provider would be:

* :class:`AnthropicServer`: the Messages API (``POST /v1/messages``, server-sent events
  with ``event:`` names).
* :class:`GeminiServer`: the Gemini API (``POST /{version}/models/{model}
  :streamGenerateContent?alt=sse``, events framed by ``\\r\\n\\r\\n``, JSON laid out as
  Google's servers lay it out).
* :class:`BedrockServer`: Bedrock's ConverseStream (``POST /model/{id}/converse-stream``,
  the binary AWS event stream, an ``x-amzn-RequestId`` header).

They share :class:`~snaprun.testing.ScriptedServer`'s script (:class:`Reply`, matched on the
newest message that is not the assistant's, or on the system prompt) and its lifecycle::

    with AnthropicServer([Reply(match="weather", text="Sunny.")]) as server:
        llm = anthropic.LLM(model="claude-sonnet-4-5", base_url=server.root_url)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

from aiohttp import web

from snaprun.cassettes import event_stream
from snaprun.testing.scripted_server import (
    Json,
    Reply,
    ScriptedServer,
    argument_pieces,
    error_body,
    text_pieces,
)

__all__ = ["AnthropicServer", "BedrockServer", "GeminiServer"]


class _ProtocolServer(ScriptedServer):
    """A ScriptedServer answering another protocol: subclasses add its routes instead."""

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def _scripted(self, body: Json, messages: list[Json]) -> tuple[int, Reply] | web.Response:
        """The request's number and its reply, or the error response when none fits.
        ``messages`` are the request's messages in chat-completions shape, for matching."""
        with self._lock:
            self.requests.append(body)
            number = len(self.requests)
        reply = self._choose({"messages": messages})
        if reply is None:
            text = next((m["content"] for m in reversed(messages)), "")
            message = f"{type(self).__name__}: no scripted reply matches last message {text!r}"
            return web.json_response(error_body(message, "unscripted_request"), status=400)
        return number, reply

    async def _stream(
        self, request: web.Request, chunks: Iterator[bytes], headers: Mapping[str, str]
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers=dict(headers))
        await response.prepare(request)
        try:
            for chunk in chunks:  # one write per event: the client reads a real stream
                await response.write(chunk)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client hung up mid-stream (an interrupted reply)
        return response


async def _json_body(request: web.Request) -> Json | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _message(role: str, texts: list[str]) -> Json:
    return {"role": role, "content": "".join(texts)}


# ---- Anthropic ---------------------------------------------------------------------------


class AnthropicServer(_ProtocolServer):
    """Anthropic's Messages API, streamed (https://docs.anthropic.com/en/api/messages-streaming)."""

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        if body is None:
            return web.json_response(error_body("body is not a JSON object", "invalid"), status=400)
        scripted = self._scripted(body, _anthropic_messages(body))
        if isinstance(scripted, web.Response):
            return scripted
        number, reply = scripted
        events = _anthropic_events(number, str(body.get("model", "")), reply)
        return await self._stream(
            request, events, {"content-type": "text/event-stream; charset=utf-8"}
        )


def _anthropic_messages(body: Json) -> list[Json]:
    system = body.get("system")
    texts = [system] if isinstance(system, str) else [b.get("text", "") for b in system or []]
    messages = [_message("system", texts)]
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        parts = []
        for block in blocks or []:
            if block.get("type") == "text":
                parts.append(block.get("text", ""))
            elif block.get("type") == "tool_result":
                inner = block.get("content")
                parts.append(inner if isinstance(inner, str) else json.dumps(inner))
        messages.append(_message(str(message.get("role")), parts))
    return messages


def _sse(event: str, data: Json) -> bytes:
    # Anthropic's servers write each event's data with Python-style ", " and ": " spacing.
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _anthropic_events(number: int, model: str, reply: Reply) -> Iterator[bytes]:
    usage = {"input_tokens": 10, "output_tokens": 1}
    start: Json = {
        "id": f"msg_scripted_{number}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    yield _sse("message_start", {"type": "message_start", "message": start})
    index = 0
    block: Json
    if reply.text:
        block = {"type": "text", "text": ""}
        yield _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        )
        yield _sse("ping", {"type": "ping"})
        for piece in text_pieces(reply.text):
            delta: Json = {"type": "text_delta", "text": piece}
            yield _sse(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        index = 1
    for i, call in enumerate(reply.tool_calls, start=index):
        block = {
            "type": "tool_use",
            "id": f"toolu_scripted_{number}_{i}",
            "name": call.name,
            "input": {},
        }
        yield _sse(
            "content_block_start",
            {"type": "content_block_start", "index": i, "content_block": block},
        )
        for piece in argument_pieces(json.dumps(call.arguments)):
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield _sse(
                "content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}
            )
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": i})
    stop = "tool_use" if reply.tool_calls else "end_turn"
    delta = {"stop_reason": stop, "stop_sequence": None}
    yield _sse(
        "message_delta", {"type": "message_delta", "delta": delta, "usage": {"output_tokens": 5}}
    )
    yield _sse("message_stop", {"type": "message_stop"})


# ---- Gemini ------------------------------------------------------------------------------


class GeminiServer(_ProtocolServer):
    """The Gemini API's streamGenerateContent, as server-sent events (``alt=sse``)."""

    def _add_routes(self, app: web.Application) -> None:
        # google-genai asks v1beta, or v1 when given its own base URL.
        app.router.add_post("/{version}/models/{model}:streamGenerateContent", self._generate)

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        if body is None:
            return web.json_response(error_body("body is not a JSON object", "invalid"), status=400)
        scripted = self._scripted(body, _gemini_messages(body))
        if isinstance(scripted, web.Response):
            return scripted
        _, reply = scripted
        chunks = _gemini_chunks(request.match_info["model"], reply)
        return await self._stream(request, chunks, {"content-type": "text/event-stream"})


def _gemini_messages(body: Json) -> list[Json]:
    system = body.get("systemInstruction") or body.get("system_instruction") or {}
    messages = [_message("system", [p.get("text", "") for p in system.get("parts") or []])]
    for content in body.get("contents") or []:
        parts = []
        for part in content.get("parts") or []:
            if "text" in part:
                parts.append(part["text"])
            elif "functionResponse" in part:
                parts.append(json.dumps(part["functionResponse"].get("response")))
        role = "assistant" if content.get("role") == "model" else "user"
        messages.append(_message(role, parts))
    return messages


def _gemini_json(data: Json) -> bytes:
    # Google's servers separate items with "," and keys from values with ": ".
    return json.dumps(data, separators=(",", ": ")).encode()


def _gemini_chunks(model: str, reply: Reply) -> Iterator[bytes]:
    usage = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}
    parts: list[Json] = [{"text": piece} for piece in text_pieces(reply.text or "")]
    # Gemini sends no id with a function call: the client makes one up.
    parts += [{"functionCall": {"name": c.name, "args": c.arguments}} for c in reply.tool_calls]
    for i, part in enumerate(parts):
        candidate: Json = {"content": {"parts": [part], "role": "model"}, "index": 0}
        chunk: Json = {"candidates": [candidate]}
        if i == len(parts) - 1:
            candidate["finishReason"] = "STOP"
            chunk["usageMetadata"] = usage
        chunk["modelVersion"] = model
        yield b"data: " + _gemini_json(chunk) + b"\r\n\r\n"


# ---- Bedrock -----------------------------------------------------------------------------


class BedrockServer(_ProtocolServer):
    """Amazon Bedrock's ConverseStream (bedrock-runtime), in the AWS event-stream encoding.

    Point botocore at it with ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME=server.root_url``.
    """

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/model/{model}/converse-stream", self._converse)

    async def _converse(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        if body is None:
            return web.json_response({"message": "body is not a JSON object"}, status=400)
        scripted = self._scripted(body, _bedrock_messages(body))
        if isinstance(scripted, web.Response):
            return scripted
        number, reply = scripted
        headers = {
            "content-type": event_stream.CONTENT_TYPE,
            "x-amzn-RequestId": f"00000000-0000-4000-8000-{number:012d}",
        }
        return await self._stream(request, _bedrock_frames(number, reply), headers)


def _bedrock_messages(body: Json) -> list[Json]:
    messages = [_message("system", [b.get("text", "") for b in body.get("system") or []])]
    for message in body.get("messages") or []:
        parts = []
        for block in message.get("content") or []:
            if "text" in block:
                parts.append(block["text"])
            elif "toolResult" in block:
                parts.append(json.dumps(block["toolResult"].get("content")))
        messages.append(_message(str(message.get("role")), parts))
    return messages


def _frame(event_type: str, payload: Json) -> bytes:
    headers = (
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    )
    data = json.dumps(payload, separators=(",", ":")).encode()
    return event_stream.encode_frames([event_stream.Frame(headers, data)])


def _bedrock_frames(number: int, reply: Reply) -> Iterator[bytes]:
    # Bedrock pads each event with a "p" field so that its size does not reveal its content.
    yield _frame("messageStart", {"p": "abcdefgh", "role": "assistant"})
    index = 0
    if reply.text:
        for piece in text_pieces(reply.text):
            yield _frame(
                "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}, "p": "abcd"}
            )
        yield _frame("contentBlockStop", {"contentBlockIndex": 0, "p": "abcd"})
        index = 1
    for i, call in enumerate(reply.tool_calls, start=index):
        start = {"toolUse": {"toolUseId": f"tooluse_scripted_{number}_{i}", "name": call.name}}
        yield _frame("contentBlockStart", {"contentBlockIndex": i, "start": start, "p": "abcd"})
        for piece in argument_pieces(json.dumps(call.arguments)):
            delta = {"toolUse": {"input": piece}}
            yield _frame("contentBlockDelta", {"contentBlockIndex": i, "delta": delta, "p": "abcd"})
        yield _frame("contentBlockStop", {"contentBlockIndex": i, "p": "abcd"})
    stop = "tool_use" if reply.tool_calls else "end_turn"
    yield _frame("messageStop", {"stopReason": stop, "p": "abcd"})
    usage = {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}
    yield _frame("metadata", {"usage": usage, "metrics": {"latencyMs": 100}, "p": "abcd"})
