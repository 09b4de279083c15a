"""Tests for snaprun.testing.scripted_server, driven by real clients over real HTTP.

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

from snaprun.testing.scripted_server import (
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
async def test_match_skips_assistant_messages_and_reads_the_system_prompt() -> None:
    replies = [Reply(match="Greet", text="Hello"), Reply(match="question", text="Answer")]
    with ScriptedServer(replies) as server:
        async with client_for(server) as client:

            async def answer(messages: list[dict[str, str]]) -> str | None:
                completion = await client.chat.completions.create(
                    model="gpt-4.1",
                    messages=messages,  # type: ignore[arg-type]
                )
                return completion.choices[0].message.content

            # livekit 1.3 appends generate_reply(instructions=...) to the system prompt
            merged = [
                {"role": "system", "content": "Be nice.\nGreet"},
                {"role": "user", "content": "hi"},
            ]
            prefilled = [
                {"role": "user", "content": "a question"},
                {"role": "assistant", "content": "Well,"},
            ]
            assert [await answer(merged), await answer(prefilled)] == ["Hello", "Answer"]


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
    assert call.type == "function"
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


@pytest.mark.asyncio
async def test_client_hanging_up_mid_stream_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    # The stream would take hours: stop() returns only because it cancels it (its own
    # bounded wait raises otherwise), whatever the machine's speed.
    server = ScriptedServer([Reply(match="", text=LONG_TEXT * 5)], chunk_delay=3600).start()
    try:
        async with client_for(server) as client:
            response = await client.chat.completions.create(
                model="gpt-4.1", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            async for _ in response:
                break  # like an interrupted livekit reply
            await response.close()
    finally:
        server.stop()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


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
    from livekit.agents import Agent, AgentSession, ChatMessage, RunResult, function_tool
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
            # capture_run makes start() wait for on_enter's greeting. Without it start()
            # returns before the greeting is generated, and the user turn overtakes it:
            # history gets the user message first, and the user-turn request lacks the
            # greeting - a transcript that depends on timing.
            greeting = await session.start(WeatherAgent(), capture_run=True)
            await greeting
            result: RunResult[None] = await session.run(user_input="What is the weather?")
            history = session.history.items
        await llm.aclose()

    # 1. the greeting, 2. the user's question -> tool call, 3. the tool output -> answer.
    # (livekit >= 1.8 appends "Greet" as its own system message; 1.3 appends it to the
    # agent's system message - either way it is in the last message.)
    assert [r["messages"][-1]["role"] for r in server.requests] == ["system", "user", "tool"]
    assert server.requests[0]["messages"][-1]["content"].endswith("Greet")
    assert server.requests[1]["messages"][-2:] == [
        {"role": "assistant", "content": "Hello there"},
        {"role": "user", "content": "What is the weather?"},
    ]
    assert server.requests[2]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_scripted_2_0",
        "content": "Sunny and 21 degrees in Paris",
    }
    assert all(r["model"] == "gpt-4.1" and r["stream"] for r in server.requests)
    assert all(r["stream_options"] == {"include_usage": True} for r in server.requests)
    assert [t["function"]["name"] for t in server.requests[1]["tools"]] == ["get_weather"]

    greeting_messages = [e.item for e in greeting.events if isinstance(e, ChatMessageEvent)]
    assert [(m.role, m.text_content) for m in greeting_messages] == [("assistant", "Hello there")]

    # the run's events start after the user input: the user message itself is not an event
    call_event, output_event, message_event = result.events
    assert isinstance(call_event, FunctionCallEvent)
    assert isinstance(output_event, FunctionCallOutputEvent)
    assert isinstance(message_event, ChatMessageEvent)
    call = call_event.item
    assert (call.name, call.call_id) == ("get_weather", "call_scripted_2_0")
    # compare parsed: livekit 1.8 re-serialises the arguments ('{"city": "Paris"}')
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert output_event.item.output == "Sunny and 21 degrees in Paris"
    assert not output_event.item.is_error
    assert message_event.item.role == "assistant"
    assert message_event.item.text_content == "It is sunny and 21 degrees in Paris."

    messages = [i for i in history if isinstance(i, ChatMessage)]
    assert [(m.role, m.text_content) for m in messages] == [
        ("assistant", "Hello there"),
        ("user", "What is the weather?"),
        ("assistant", "It is sunny and 21 degrees in Paris."),
    ]
    assert [i.type for i in history if i.type.startswith("function_call")] == [
        "function_call",
        "function_call_output",
    ]
