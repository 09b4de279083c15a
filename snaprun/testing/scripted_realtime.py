"""A scripted OpenAI Realtime server, text modality, over a real WebSocket on 127.0.0.1.

``openai.realtime.RealtimeModel(modalities=["text"])`` keeps one socket per session: it sends
``session.update`` (instructions, tools), ``conversation.item.create`` for each chat item the
server lacks, and ``response.create`` for each reply; the server acknowledges items with
``conversation.item.added`` and streams a response as ``response.created``,
``response.output_item.added`` … ``response.output_text.delta`` … ``response.done``. This
server answers from :class:`Reply` scripts, as :class:`ScriptedServer` does over HTTP.

Example::

    with ScriptedRealtimeServer([Reply(match="weather", text="Sunny.")]) as server:
        model = openai.realtime.RealtimeModel(
            modalities=["text"], base_url=server.base_url, api_key="sk-test"
        )
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import aiohttp
from aiohttp import web

from snaprun.testing.scripted_server import (
    Json,
    Reply,
    ScriptedServer,
    argument_pieces,
    text_pieces,
)

__all__ = ["ScriptedRealtimeServer"]

USAGE: Json = {"total_tokens": 15, "input_tokens": 10, "output_tokens": 5}


class _Conversation:
    """One socket's session: its instructions and items, in order."""

    def __init__(self) -> None:
        self.instructions = ""
        self.items: list[Json] = []

    def messages(self, instructions: str | None) -> list[Json]:
        """The conversation as chat messages, so a Reply can match it."""
        out: list[Json] = [{"role": "system", "content": instructions or self.instructions}]
        for item in self.items:
            if item.get("type") == "function_call_output":
                out.append({"role": "tool", "content": str(item.get("output", ""))})
            elif item.get("type") == "message":
                out.append({"role": item.get("role"), "content": item.get("content")})
        return out


class ScriptedRealtimeServer(ScriptedServer):
    """:class:`ScriptedServer` that also answers ``GET /v1/realtime`` as a Realtime socket.

    ``requests`` holds every client event, in arrival order. Response number N (1-based)
    has id ``resp_scripted_N``; its items ``item_scripted_N_i``, calls ``call_scripted_N_i``.
    """

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_get("/v1/realtime", self._realtime_socket)

    async def _realtime_socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        conversation = _Conversation()
        events = 0

        async def send(event: Json) -> None:
            nonlocal events
            events += 1
            out = {"type": event["type"], "event_id": f"event_scripted_{events}", **event}
            await socket.send_str(json.dumps(out, separators=(",", ":")))

        await send({"type": "session.created", "session": _session(conversation)})
        async for message in socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(message.data)
            with self._lock:
                self.requests.append(event)
            for answer in self._answer(event, conversation):
                await send(answer)
        return socket

    def _answer(self, event: Json, conversation: _Conversation) -> Iterator[Json]:
        kind = event.get("type")
        if kind == "session.update":
            session = event.get("session") or {}
            conversation.instructions = str(
                session.get("instructions") or conversation.instructions
            )
            yield {"type": "session.updated", "session": _session(conversation)}
        elif kind == "conversation.item.create":
            item = {**event["item"], "status": "completed"}
            previous = conversation.items[-1]["id"] if conversation.items else None
            conversation.items.append(item)
            yield {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
            yield {"type": "conversation.item.done", "previous_item_id": previous, "item": item}
        elif kind == "conversation.item.delete":
            item_id = event.get("item_id")
            conversation.items = [i for i in conversation.items if i.get("id") != item_id]
            yield {"type": "conversation.item.deleted", "item_id": item_id}
        elif kind == "response.create":
            yield from self._response(event.get("response") or {}, conversation)
        else:  # response.cancel and the rest need no answer in text mode
            return

    def _response(self, params: Json, conversation: _Conversation) -> Iterator[Json]:
        with self._lock:
            n = sum(1 for e in self.requests if e.get("type") == "response.create")
        reply = self._choose({"messages": conversation.messages(params.get("instructions"))})
        if reply is None:
            reply = Reply(match="", text="ScriptedServer: no scripted reply matches")
        response_id = f"resp_scripted_{n}"
        metadata = params.get("metadata")
        response: Json = {
            "id": response_id,
            "object": "realtime.response",
            "status": "in_progress",
            "output": [],
            "metadata": metadata,
        }
        yield {"type": "response.created", "response": response}
        output: list[Json] = []
        for item in _output_items(reply, n):
            yield from _item_events(response_id, len(output), item, conversation)
            output.append(item)
        done = {**response, "status": "completed", "output": output, "usage": USAGE}
        yield {"type": "response.done", "response": done}


def _session(conversation: _Conversation) -> Json:
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": "sess_scripted",
        "model": "gpt-realtime",
        "output_modalities": ["text"],
        "instructions": conversation.instructions,
    }


def _output_items(reply: Reply, n: int) -> Iterator[Json]:
    if reply.text:
        yield {
            "id": f"item_scripted_{n}_0",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": reply.text}],
        }
    for i, call in enumerate(reply.tool_calls, start=1):
        yield {
            "id": f"item_scripted_{n}_{i}",
            "type": "function_call",
            "status": "completed",
            "call_id": f"call_scripted_{n}_{i}",
            "name": call.name,
            "arguments": json.dumps(call.arguments, separators=(",", ":")),
        }


def _item_events(
    response_id: str, index: int, item: Json, conversation: _Conversation
) -> Iterator[Json]:
    """The events that stream one output item, as the Realtime API sends them."""
    previous = conversation.items[-1]["id"] if conversation.items else None
    where = {"response_id": response_id, "output_index": index}
    if item["type"] == "message":
        text = item["content"][0]["text"]
        opening = {**item, "status": "in_progress", "content": []}
        yield {"type": "response.output_item.added", **where, "item": opening}
        yield {"type": "conversation.item.added", "previous_item_id": previous, "item": opening}
        part = {"item_id": item["id"], **where, "content_index": 0}
        yield {"type": "response.content_part.added", **part, "part": {"type": "text", "text": ""}}
        for piece in text_pieces(text):
            yield {"type": "response.output_text.delta", **part, "delta": piece}
        yield {"type": "response.output_text.done", **part, "text": text}
        yield {"type": "response.content_part.done", **part, "part": {"type": "text", "text": text}}
    else:
        opening = {**item, "status": "in_progress", "arguments": ""}
        yield {"type": "response.output_item.added", **where, "item": opening}
        yield {"type": "conversation.item.added", "previous_item_id": previous, "item": opening}
        call = {"item_id": item["id"], **where, "call_id": item["call_id"]}
        for piece in argument_pieces(item["arguments"]):
            yield {"type": "response.function_call_arguments.delta", **call, "delta": piece}
        yield {
            "type": "response.function_call_arguments.done",
            **call,
            "arguments": item["arguments"],
        }
    yield {"type": "response.output_item.done", **where, "item": item}
    yield {"type": "conversation.item.done", "previous_item_id": previous, "item": item}
    conversation.items.append(item)
