"""Tests for snaprun.scripted_server, driven by real clients over real HTTP.

The openai client and livekit's openai plugin are used exactly as in production, so these
tests also pin that the server's SSE stream is what those clients expect.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from snaprun.scripted_server import (
    Reply,
    ScriptedServer,
    ToolCall,
    argument_pieces,
    text_pieces,
)

LONG_TEXT = "The weather in Paris is sunny with a light breeze from the west."


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    replies = [
        Reply(match="say something long", text=LONG_TEXT),
        Reply(
            match="weather in Paris and Rome",
            tool_calls=(
                ToolCall("get_weather", {"city": "Paris", "unit": "celsius"}),
                ToolCall("get_weather", {"city": "Rome", "unit": "celsius"}),
            ),
        ),
        Reply(match="weather in Oslo", tool_calls=(ToolCall("get_weather", {"city": "Oslo"}),)),
        Reply(match="Cloudy in Oslo", text="Oslo is cloudy."),
        Reply(
            match=lambda body: body.get("model") == "callable-model", text="Matched by callable."
        ),
    ]
    with ScriptedServer(replies) as srv:
        yield srv


def client_for(server: ScriptedServer) -> openai.AsyncOpenAI:
    # No retries: an unexpected error should fail the test at once, not be re-sent.
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)


async def stream(server: ScriptedServer, content: Any, **kwargs: Any) -> list[Any]:
    async with client_for(server) as client:
        response = await client.chat.completions.create(
            model="gpt-4.1",
            messages=[{"role": "user", "content": content}],
            stream=True,
            **kwargs,
        )
        return [chunk async for chunk in response]


def tool_calls_of(chunks: list[Any]) -> dict[int, dict[str, str]]:
    """Reassemble streamed tool calls the way OpenAI clients do: by index."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                if delta.id:
                    call["id"] = delta.id
                if delta.function and delta.function.name:
                    call["name"] = delta.function.name
                if delta.function and delta.function.arguments:
                    call["arguments"] += delta.function.arguments
    return calls


# -- pure helpers ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Hi", "a b c d e f g", "  two  spaces\nand a newline  ", ""])
def test_text_pieces_reassemble_exactly(text: str) -> None:
    assert "".join(text_pieces(text)) == text


@pytest.mark.parametrize("arguments", ["{}", '{"city":"Paris"}', '{"a":[1,2,3],"b":"ü"}'])
def test_argument_pieces_are_two_or_three(arguments: str) -> None:
    pieces = argument_pieces(arguments)
    assert "".join(pieces) == arguments
    assert 2 <= len(pieces) <= 3


# -- the real openai client --------------------------------------------------------------


@pytest.mark.asyncio
async def test_text_streams_in_pieces(server: ScriptedServer) -> None:
    chunks = await stream(server, "please say something long")

    assert [c.id for c in chunks] == ["chatcmpl-scripted-1"] * len(chunks)
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert {c.created for c in chunks} == {1700000000}
    assert {c.model for c in chunks} == {"gpt-4.1"}
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) == 5  # 14 words, 3 a piece
    assert "".join(pieces) == LONG_TEXT
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


@pytest.mark.asyncio
async def test_tool_call_arguments_reassemble(server: ScriptedServer) -> None:
    chunks = await stream(server, "what is the weather in Oslo?")

    calls = tool_calls_of(chunks)
    assert list(calls) == [0]
    assert (calls[0]["id"], calls[0]["name"]) == ("call_scripted_1_0", "get_weather")
    assert json.loads(calls[0]["arguments"]) == {"city": "Oslo"}
    argument_chunks = [
        c
        for c in chunks
        if c.choices[0].delta.tool_calls and not c.choices[0].delta.tool_calls[0].id
    ]
    assert 2 <= len(argument_chunks) <= 3
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.asyncio
async def test_parallel_tool_calls(server: ScriptedServer) -> None:
    chunks = await stream(server, "weather in Paris and Rome, please")

    calls = tool_calls_of(chunks)
    assert [(calls[i]["id"], calls[i]["name"]) for i in sorted(calls)] == [
        ("call_scripted_1_0", "get_weather"),
        ("call_scripted_1_1", "get_weather"),
    ]
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert json.loads(calls[1]["arguments"]) == {"city": "Rome", "unit": "celsius"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.asyncio
async def test_usage_chunk_when_asked(server: ScriptedServer) -> None:
    plain = await stream(server, "say something long")
    with_usage = await stream(server, "say something long", stream_options={"include_usage": True})

    assert all(c.usage is None for c in plain)
    assert with_usage[-1].choices == []
    assert with_usage[-1].usage is not None and with_usage[-1].usage.total_tokens > 0
    assert with_usage[-2].choices[0].finish_reason == "stop"
    # ids count requests, so a recording of the same script is reproducible
    assert (plain[0].id, with_usage[0].id) == ("chatcmpl-scripted-1", "chatcmpl-scripted-2")


@pytest.mark.asyncio
async def test_match_on_list_content_tool_output_and_callable(server: ScriptedServer) -> None:
    parts = [{"type": "text", "text": "say "}, {"type": "text", "text": "something long"}]
    assert "".join(text_pieces(LONG_TEXT)) == "".join(
        c.choices[0].delta.content or "" for c in await stream(server, parts)
    )

    async with client_for(server) as client:
        after_tool = await client.chat.completions.create(
            model="gpt-4.1",
            messages=[
                {"role": "user", "content": "weather in Oslo"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "Cloudy in Oslo, 4C"},
            ],
        )
        by_callable = await client.chat.completions.create(
            model="callable-model", messages=[{"role": "user", "content": "anything"}]
        )

    assert after_tool.choices[0].message.content == "Oslo is cloudy."
    assert after_tool.choices[0].finish_reason == "stop"
    assert by_callable.choices[0].message.content == "Matched by callable."
    assert [r["model"] for r in server.requests] == ["gpt-4.1", "gpt-4.1", "callable-model"]


@pytest.mark.asyncio
async def test_non_streaming_tool_call(server: ScriptedServer) -> None:
    async with client_for(server) as client:
        completion = await client.chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "weather in Oslo"}]
        )

    assert completion.object == "chat.completion"
    assert completion.id == "chatcmpl-scripted-1"
    assert completion.choices[0].finish_reason == "tool_calls"
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.id == "call_scripted_1_0"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}


@pytest.mark.asyncio
async def test_unmatched_request_is_400_naming_the_text(server: ScriptedServer) -> None:
    with pytest.raises(openai.BadRequestError) as excinfo:
        await stream(server, "an unscripted question")

    assert excinfo.value.status_code == 400
    assert "an unscripted question" in excinfo.value.message
    assert len(server.requests) == 1  # still recorded, for debugging


@pytest.mark.asyncio
async def test_default_text_answers_the_unmatched() -> None:
    with ScriptedServer([], default_text="I have no script for that.") as server:
        chunks = await stream(server, "anything at all")

    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "I have no script for that."


@pytest.mark.asyncio
async def test_chunk_delay_really_delays_and_streams() -> None:
    delay = 0.05
    with ScriptedServer([Reply(match="", text=LONG_TEXT)], chunk_delay=delay) as server:
        async with client_for(server) as client:
            started = time.monotonic()
            response = await client.chat.completions.create(
                model="gpt-4.1", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            arrivals = [time.monotonic() async for _ in response]

    # role + 5 text pieces + finish chunk, with a delay between each (and before [DONE])
    assert len(arrivals) == 7
    total = arrivals[-1] - started
    assert total >= 6 * delay * 0.9
    # real streaming: the first chunk arrived long before the last one
    assert arrivals[-1] - arrivals[0] >= 5 * delay


def test_usable_from_sync_code_and_several_loops() -> None:
    with ScriptedServer([Reply(match="ping", text="pong")]) as server:
        with urllib.request.urlopen(f"{server.base_url}/models") as response:
            assert json.load(response)["object"] == "list"

        async def ask() -> str:
            async with client_for(server) as client:
                completion = await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "ping"}]
                )
            return completion.choices[0].message.content or ""

        # each asyncio.run is a fresh event loop; the server's own loop is untouched
        assert [asyncio.run(ask()), asyncio.run(ask())] == ["pong", "pong"]
        base_url = server.base_url

    with pytest.raises(RuntimeError):
        _ = server.base_url
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base_url}/models", timeout=2)


# -- the real livekit AgentSession ---------------------------------------------------------


@pytest.mark.asyncio
async def test_livekit_agent_session_end_to_end() -> None:
    from livekit.agents import Agent, AgentSession, function_tool
    from livekit.agents.voice.run_result import (
        ChatMessageEvent,
        FunctionCallEvent,
        FunctionCallOutputEvent,
    )
    from livekit.plugins import openai as lk_openai

    class WeatherAgent(Agent):
        def __init__(self) -> None:
            super().__init__(instructions="You are a helpful weather assistant.")

        async def on_enter(self) -> None:
            self.session.generate_reply(instructions="Greet")

        @function_tool
        async def get_weather(self, city: str) -> str:
            """Look up the current weather in a city."""
            return f"Sunny and 21 degrees in {city}"

    replies = [
        Reply(match="Greet", text="Hello there"),
        Reply(
            match="What is the weather?",
            tool_calls=(ToolCall("get_weather", {"city": "Paris"}),),
        ),
        Reply(match="Sunny and 21 degrees in Paris", text="It is sunny and 21 degrees in Paris."),
    ]
    with ScriptedServer(replies) as server:
        llm = lk_openai.LLM(model="gpt-4.1", base_url=server.base_url, api_key="sk-test")
        async with AgentSession(llm=llm) as session:
            await session.start(WeatherAgent())
            result = await session.run(user_input="What is the weather?")
            history = session.history.items
        await llm.aclose()

    # 1. the greeting, 2. the user's question -> tool call, 3. the tool output -> answer
    assert [r["messages"][-1]["role"] for r in server.requests] == ["system", "user", "tool"]
    assert all(r["model"] == "gpt-4.1" and r["stream"] for r in server.requests)
    assert [t["function"]["name"] for t in server.requests[1]["tools"]] == ["get_weather"]

    events = result.events
    assert [type(e) for e in events] == [
        ChatMessageEvent,
        FunctionCallEvent,
        FunctionCallOutputEvent,
        ChatMessageEvent,
    ]
    assert events[0].item.role == "user" and events[0].item.text_content == "What is the weather?"
    call = events[1].item
    assert (call.name, json.loads(call.arguments), call.call_id) == (
        "get_weather",
        {"city": "Paris"},
        "call_scripted_2_0",
    )
    assert events[2].item.output == "Sunny and 21 degrees in Paris"
    assert events[3].item.text_content == "It is sunny and 21 degrees in Paris."

    texts = [(i.role, i.text_content) for i in history if i.type == "message"]
    assert texts == [
        ("assistant", "Hello there"),
        ("user", "What is the weather?"),
        ("assistant", "It is sunny and 21 degrees in Paris."),
    ]
