"""A scripted OpenAI Responses server that speaks the Responses WebSocket protocol (and the
same events over HTTP, as server-sent events).

``openai.responses.LLM()`` talks to ``wss://api.openai.com/v1/responses`` by default: each
turn is one ``response.create`` client message, answered by the stream of events the HTTP
API would send as SSE (``response.created`` … ``response.completed``), as JSON text frames on
the same socket. A follow-up turn may send only its new input items with
``previous_response_id``; the server keeps each response's conversation to answer it.

Example::

    with ScriptedResponsesServer([Reply(match="weather", text="Sunny.")]) as server:
        llm = openai.responses.LLM(model="gpt-4.1", base_url=server.websocket_url,
                                    api_key="sk-test")
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import aiohttp
from aiohttp import web

from snaprun.testing.scripted_server import (
    CREATED,
    Json,
    Reply,
    ScriptedServer,
    argument_pieces,
    text_pieces,
)

__all__ = ["ScriptedResponsesServer", "as_chat_messages"]

USAGE: Json = {
    "input_tokens": 10,
    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    "output_tokens": 5,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 15,
}


def as_chat_messages(items: Sequence[Json]) -> list[Json]:
    """Responses input items as chat messages, so a :class:`Reply` can match them: a tool's
    output reads as a non-assistant message holding the output."""
    messages: list[Json] = []
    for item in items:
        if item.get("type") == "function_call_output":
            messages.append({"role": "tool", "content": str(item.get("output", ""))})
        elif item.get("type") == "function_call":
            messages.append({"role": "assistant", "content": None})
        elif "role" in item:
            content = item.get("content")
            messages.append({"role": item["role"], "content": content})
    return messages


def response_object(response_id: str, model: str, status: str, output: list[Json]) -> Json:
    """The ``response`` object of Responses events, with the fields OpenAI always sends."""
    out: Json = {
        "id": response_id,
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }
    if status == "completed":
        out["usage"] = USAGE
    return out


def response_events(response_id: str, model: str, reply: Reply, n: int) -> Iterator[Json]:
    """The events of one streamed response (without sequence numbers), in OpenAI's order."""
    yield {
        "type": "response.created",
        "response": response_object(response_id, model, "in_progress", []),
    }
    output: list[Json] = []
    if reply.text:
        item_id = f"msg_scripted_{n}"
        part = {"type": "output_text", "text": "", "annotations": []}
        message = {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant"}
        where = {"item_id": item_id, "output_index": len(output), "content_index": 0}
        yield {
            "type": "response.output_item.added",
            "output_index": len(output),
            "item": {**message, "content": []},
        }
        yield {"type": "response.content_part.added", **where, "part": part}
        for piece in text_pieces(reply.text):
            yield {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
        yield {"type": "response.output_text.done", **where, "text": reply.text, "logprobs": []}
        done_part = {**part, "text": reply.text}
        yield {"type": "response.content_part.done", **where, "part": done_part}
        item = {**message, "status": "completed", "content": [done_part]}
        yield {"type": "response.output_item.done", "output_index": len(output), "item": item}
        output.append(item)
    for i, call in enumerate(reply.tool_calls):
        arguments = json.dumps(call.arguments, separators=(",", ":"))
        item_id = f"fc_scripted_{n}_{i}"
        call_item = {
            "id": item_id,
            "type": "function_call",
            "status": "in_progress",
            "call_id": f"call_scripted_{n}_{i}",
            "name": call.name,
            "arguments": "",
        }
        where = {"item_id": item_id, "output_index": len(output)}
        yield {"type": "response.output_item.added", "output_index": len(output), "item": call_item}
        for piece in argument_pieces(arguments):
            yield {"type": "response.function_call_arguments.delta", **where, "delta": piece}
        yield {"type": "response.function_call_arguments.done", **where, "arguments": arguments}
        item = {**call_item, "status": "completed", "arguments": arguments}
        yield {"type": "response.output_item.done", "output_index": len(output), "item": item}
        output.append(item)
    yield {
        "type": "response.completed",
        "response": response_object(response_id, model, "completed", output),
    }


class ScriptedResponsesServer(ScriptedServer):
    """:class:`ScriptedServer` that also answers ``GET /v1/responses`` as a WebSocket.

    ``requests`` holds every ``response.create`` message, in arrival order; response number
    N (1-based) has id ``resp_scripted_N``, so ids are the same on every run.
    """

    def __init__(self, replies: Sequence[Reply], **options: Any) -> None:
        super().__init__(replies, **options)
        self._conversations: dict[str, list[Json]] = {}  # response id -> its full input + output

    @property
    def websocket_url(self) -> str:
        """What ``openai.responses.LLM(base_url=...)`` takes: the socket's URL itself."""
        return self.base_url.replace("http://", "ws://", 1) + "/responses"

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_get("/v1/responses", self._responses_socket)
        # The same events over HTTP (``use_websocket=False``): server-sent events, each named
        # by an ``event:`` line as OpenAI sends them.
        app.router.add_post("/v1/responses", self._responses_stream)

    async def _responses_stream(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for number, event in enumerate(self._answer(body)):
            event = {"type": event["type"], "sequence_number": number, **event}
            data = json.dumps(event, separators=(",", ":"))
            await response.write(f"event: {event['type']}\ndata: {data}\n\n".encode())
        await response.write_eof()
        return response

    async def _responses_socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            body = json.loads(message.data)
            if body.get("type") != "response.create":
                await self._send(socket, [_error(f"unexpected client event {body.get('type')!r}")])
                continue
            await self._send(socket, list(self._answer(body)))
        return socket

    def _answer(self, body: Json) -> Iterator[Json]:
        with self._lock:
            self.requests.append(body)
            n = len(self.requests)
        previous = self._conversations.get(str(body.get("previous_response_id") or ""), [])
        items = [*previous, *(body.get("input") or [])]
        reply = self._choose({"messages": as_chat_messages(items)})
        if reply is None:
            last = as_chat_messages(items)[-1:] or [{}]
            yield _error(f"ScriptedServer: no scripted reply matches {last[0].get('content')!r}")
            return
        response_id = f"resp_scripted_{n}"
        for event in response_events(response_id, str(body.get("model", "")), reply, n):
            if event["type"] == "response.completed":
                self._conversations[response_id] = [*items, *event["response"]["output"]]
            yield event

    async def _send(self, socket: web.WebSocketResponse, events: list[Json]) -> None:
        for number, event in enumerate(events):
            event = {"type": event["type"], "sequence_number": number, **event}
            await socket.send_str(json.dumps(event, separators=(",", ":")))


def _error(message: str) -> Json:
    return {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": message,
            "code": "unscripted_request",
        },
    }
