"""snaprun.cassettes: record with the real openai client against a local scripted server, stop
the server, replay offline.

Every recording here goes through real HTTP (openai over httpx/httpx2, SSE streaming), so the
tests run the same on livekit-agents 1.8 (openai 3.x on httpx2) and 1.3.12 (openai 1.x on
httpx).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import vcr.request
import vcr.serialize
from hypothesis import given, settings
from hypothesis import strategies as st
from syrupy.utils import walk_snapshot_dir

from snaprun import cassettes, files, yamlio
from snaprun.cassettes import (
    DEFAULT_SECRET_ENV_VARS,
    CassetteCorrupt,
    CassetteMissing,
    CassetteSerializer,
    CassetteUse,
    InvalidCassetteConfig,
    SecretInCassette,
    UnmatchedRequest,
    http_bodies,
    open_cassette,
)
from snaprun.testing import Reply, ScriptedServer

API_KEY = "sk-test-secret-123456789"
TEST_ID = "tests/test_x.py::test_y"
COMMAND = "pytest --record-mode=once --snapshot-update tests/test_x.py::test_y"
SYSTEM = "You are a helpful assistant.\nAnswer in one sentence."
REPLIES = [
    Reply(match="weather", text="It is sunny in Paris today."),
    Reply(match="thanks", text="You're welcome, have a nice day!"),
]
Json = Any


def cassette(path: Path, mode: str = "none", **options: Any) -> Any:
    return open_cassette(
        path, record_mode=mode, test_id=TEST_ID, rerecord_command=COMMAND, **options
    )


def messages(*turns: str, system: str = SYSTEM) -> list[dict[str, str]]:
    """A conversation: the system prompt, then user / assistant turns alternately."""
    out = [{"role": "system", "content": system}]
    for index, text in enumerate(turns):
        out.append({"role": "user" if index % 2 == 0 else "assistant", "content": text})
    return out


FIRST = messages("What's the weather?")
SECOND = messages("What's the weather?", "It is sunny in Paris today.", "thanks!")


async def chat(base_url: str, conversation: list[dict[str, str]], stream: bool = True) -> Json:
    """One chat completion with the real SDK (default retries on); its chunks as data."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY)
    try:
        if not stream:
            completion = await client.chat.completions.create(
                model="gpt-4o-mini", messages=conversation
            )
            return completion.model_dump()
        chunks = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=conversation,
            stream=True,
            stream_options={"include_usage": True},
        )
        return [chunk.model_dump() async for chunk in chunks]
    finally:
        await client.close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(REPLIES, default_text="Okay.") as scripted:
        yield scripted


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "cassettes" / "test_y.yaml"


async def record(path: Path, server: ScriptedServer, *conversations: list[dict[str, str]]) -> Json:
    """Record one request per conversation; return what the client got."""
    with cassette(path, "once") as use:
        got = [await chat(server.base_url, conversation) for conversation in conversations]
    assert use.written
    return got


def file_data(path: Path) -> Json:
    return yamlio.load(path.read_text(encoding="utf-8"))


def leftovers(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


# ---- record, replay -----------------------------------------------------------------


async def test_replay_offline_gives_identical_chunks(server: ScriptedServer, path: Path) -> None:
    recorded = await record(path, server, FIRST, SECOND)
    server.stop()  # from here on, any request that reached the network would fail
    before = path.read_bytes()

    with cassette(path) as use:
        replayed = [await chat(server_url(path), FIRST), await chat(server_url(path), SECOND)]

    assert replayed == recorded
    assert "".join(c["choices"][0]["delta"]["content"] or "" for c in replayed[0] if c["choices"])
    assert use.problems() == []
    assert not use.written
    assert path.read_bytes() == before  # replaying never rewrites the file


def server_url(path: Path) -> str:
    """The base URL the cassette was recorded against (the stopped server's)."""
    uri: str = file_data(path)["interactions"][0]["request"]["uri"]
    return uri.removesuffix("/chat/completions")


async def test_non_streaming_response_replays(server: ScriptedServer, path: Path) -> None:
    with cassette(path, "once"):
        recorded = await chat(server.base_url, FIRST, stream=False)
    server.stop()
    with cassette(path) as use:
        assert await chat(server_url(path), FIRST, stream=False) == recorded
    assert use.problems() == []
    assert "json" in file_data(path)["interactions"][0]["response"]


async def test_json_key_order_does_not_matter(server: ScriptedServer, path: Path) -> None:
    await record(path, server, FIRST)
    reordered = [dict(reversed(list(message.items()))) for message in FIRST]
    with cassette(path) as use:
        await chat(server.base_url, reordered)
    assert use.problems() == []


def test_body_matcher_compares_json_as_data() -> None:
    def request(body: bytes) -> Any:
        return vcr.request.Request("POST", "http://x/v1", body, {})

    a = request(b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}')
    b = request(b'{"messages":[{"content":"hi","role":"user"}],"model":"m"}')
    c = request(b'{"model": "m", "messages": [{"role": "user", "content": "hello"}]}')
    assert cassettes.match_body_as_data(a, b)
    assert not cassettes.match_body_as_data(a, c)
    assert cassettes.match_body_as_data(request(b"not json"), request(b"not json"))
    assert not cassettes.match_body_as_data(request(b"not json"), request(b"not json!"))


async def test_connection_prewarm_is_answered_locally_and_not_recorded(
    server: ScriptedServer, path: Path
) -> None:
    # livekit's LLM.prewarm() lists the models, fire-and-forget, when a session starts.
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key=API_KEY)
    with cassette(path, "once"):
        await client.models.list()
        await chat(server.base_url, FIRST)
    assert len(file_data(path)["interactions"]) == 1
    with cassette(path) as use:
        await chat(server.base_url, FIRST)  # replay without the prewarm: nothing unplayed
        await client.models.list()  # or with it, any number of times
        await client.models.list()
    await client.close()
    assert use.problems() == []


# ---- missing, unmatched, unplayed, repeated ---------------------------------------------


def test_missing_cassette_names_path_and_command(path: Path) -> None:
    with pytest.raises(CassetteMissing) as caught, cassette(path):
        pass
    assert str(path) in str(caught.value)
    assert COMMAND in str(caught.value)


async def test_unrecorded_request_fails_fast_with_diff(server: ScriptedServer, path: Path) -> None:
    await record(path, server, FIRST, SECOND)
    sent_before = len(server.requests)
    changed = messages("What's the weather?", system=SYSTEM.replace("helpful", "grumpy"))

    with (
        pytest.raises(UnmatchedRequest) as at_exit,
        cassette(path) as use,
        pytest.raises(openai.APIError) as in_client,
    ):
        await chat(server.base_url, changed)

    assert len(use.unmatched_requests()) == 1  # one attempt: nothing retried it
    assert len(server.requests) == sent_before  # the server (still up) saw nothing
    message = str(at_exit.value)
    assert str(path) in message and COMMAND in message
    assert "Closest recorded request not yet replayed: #1" in message
    diff = message.splitlines()
    assert any(line.strip().startswith("-") and "helpful" in line for line in diff)
    assert any(line.strip().startswith("+") and "grumpy" in line for line in diff)
    assert message in str(in_client.value)  # the client's own error explains it too
    assert use.problems()[0] == message
    assert not path.with_suffix(".yaml.tmp").exists()


async def test_long_conversation_fails_fast_at_the_changed_turn(
    server: ScriptedServer, path: Path
) -> None:
    def turn(number: int, word: str = "interesting") -> dict[str, str]:
        return {"role": "user", "content": f"Turn {number}: tell me something {word}. " * 5}

    history = messages()
    with cassette(path, "once"):
        for number in range(40):
            history += [turn(number), {"role": "assistant", "content": "Okay."}]
            await chat(server.base_url, history[:-1])

    history = messages()
    with pytest.raises(UnmatchedRequest) as at_exit, cassette(path) as use:
        for number in range(20):
            history += [turn(number), {"role": "assistant", "content": "Okay."}]
            await chat(server.base_url, history[:-1])
        with pytest.raises(openai.APIError):
            await chat(server.base_url, [*history, turn(20, "boring")])
    assert len(use.unmatched_requests()) == 1  # one attempt: nothing retried it
    message = str(at_exit.value)
    assert "Closest recorded request not yet replayed: #21." in message
    assert "something boring" in message and "something interesting" in message
    assert len(message.splitlines()) < 40  # the diff shows the change, not the history


async def test_follow_up_of_a_refused_request_points_to_it(
    server: ScriptedServer, path: Path
) -> None:
    await record(path, server, FIRST, SECOND)
    changed = messages("What's the weather?", system="You are grumpy.")
    with pytest.raises(UnmatchedRequest), cassette(path) as use:
        with contextlib.suppress(openai.APIError):
            await chat(server.base_url, changed)
        # An agent keeps the refusal's one visible chunk as the assistant's reply.
        follow_up = [*changed, {"role": "assistant", "content": cassettes.REFUSAL_TEXT}]
        with contextlib.suppress(openai.APIError):
            await chat(server.base_url, [*follow_up, {"role": "user", "content": "thanks!"}])
    first, second = use.unmatched_requests()
    assert "Diff" in first
    assert "earlier refused request" in second and "Diff" not in second


async def test_unrecorded_non_streaming_request_gets_400_without_retries(
    server: ScriptedServer, path: Path
) -> None:
    with cassette(path, "once"):
        await chat(server.base_url, FIRST, stream=False)
    with (
        pytest.raises(UnmatchedRequest),
        cassette(path) as use,
        pytest.raises(openai.BadRequestError),
    ):
        await chat(server.base_url, SECOND, stream=False)
    assert len(use.unmatched_requests()) == 1  # one attempt: the SDK did not retry


async def test_unrecorded_request_fails_fast_through_livekit_llm(
    server: ScriptedServer, path: Path
) -> None:
    from livekit.agents import llm
    from livekit.plugins import openai as livekit_openai

    async def complete(system: str) -> str:
        model = livekit_openai.LLM(model="gpt-4o-mini", base_url=server.base_url, api_key=API_KEY)
        context = llm.ChatContext()
        context.add_message(role="system", content=system)
        context.add_message(role="user", content="What's the weather?")
        try:
            async with model.chat(chat_ctx=context) as stream:
                return "".join([chunk.delta.content or "" async for chunk in stream if chunk.delta])
        finally:
            await model.aclose()

    with cassette(path, "once"):
        assert await complete(SYSTEM) == "It is sunny in Paris today."
    with cassette(path) as use:
        assert await complete(SYSTEM) == "It is sunny in Paris today."
    assert use.problems() == []

    with (
        pytest.raises(UnmatchedRequest) as at_exit,
        cassette(path) as use,
        pytest.raises(Exception) as in_livekit,  # livekit's APIConnectionError
    ):
        await complete("You are a grumpy assistant.")
    assert len(use.unmatched_requests()) == 1  # one attempt: livekit did not retry
    assert "grumpy" in str(at_exit.value)
    assert getattr(in_livekit.value, "retryable", None) is False


async def test_unplayed_interaction_is_reported(server: ScriptedServer, path: Path) -> None:
    await record(path, server, FIRST, SECOND)
    with cassette(path) as use:
        await chat(server.base_url, FIRST)
    problems = use.problems()
    assert len(problems) == 1
    assert "#2 of 2" in problems[0]
    assert "POST http://127.0.0.1:" in problems[0] and "/v1/chat/completions" in problems[0]
    assert "'thanks!'" in problems[0]  # the last message identifies the request
    assert COMMAND in problems[0]


async def test_repeated_identical_request_fails(server: ScriptedServer, path: Path) -> None:
    await record(path, server, FIRST)
    with pytest.raises(UnmatchedRequest) as at_exit, cassette(path) as use:
        await chat(server.base_url, FIRST)
        with pytest.raises(openai.APIError):
            await chat(server.base_url, FIRST)
    assert "identical to recorded interaction #1, which was already replayed" in str(at_exit.value)
    assert len(use.problems()) == 1


async def test_a_failing_block_keeps_its_error_and_the_use_keeps_the_refusals(
    server: ScriptedServer, path: Path
) -> None:
    await record(path, server, FIRST)
    with pytest.raises(AssertionError) as caught, cassette(path) as use:
        await chat(server.base_url, FIRST)
        with contextlib.suppress(openai.APIError):
            await chat(server.base_url, SECOND)
        raise AssertionError("the transcript differs")  # what the test itself reports
    assert str(caught.value) == "the transcript differs"
    assert not getattr(caught.value, "__notes__", [])  # told once, by whoever reports the use
    (refusal,) = use.report_refusals()
    assert "request not in cassette" in refusal and "'thanks!'" in refusal
    assert use.report_refusals() == []  # each refusal is reported once


# ---- secrets and headers -------------------------------------------------------------


async def test_cassette_keeps_no_credentials_or_sdk_headers(
    server: ScriptedServer, path: Path
) -> None:
    await record(path, server, FIRST)
    text = path.read_text(encoding="utf-8")
    for forbidden in ("authorization", "x-stainless", "user-agent", "bearer", API_KEY):
        assert forbidden not in text.lower(), forbidden
    interaction = file_data(path)["interactions"][0]
    assert interaction["request"]["headers"] == {"content-type": "application/json"}
    assert list(interaction["response"]["headers"]) == ["content-type"]


async def test_compressed_response_is_stored_decoded(path: Path) -> None:
    from aiohttp import web

    completion = {
        "id": "chatcmpl-gz",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Compressed hello. " * 40},
                "finish_reason": "stop",
            }
        ],
    }

    async def handler(request: web.Request) -> web.Response:
        response = web.json_response(completion, headers={"set-cookie": "session=abc"})
        response.enable_compression(web.ContentCoding.gzip)
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with cassette(path, "once"):
            recorded = await chat(f"http://127.0.0.1:{port}/v1", FIRST, stream=False)
    finally:
        await runner.cleanup()
    response = file_data(path)["interactions"][0]["response"]
    assert response["json"]["choices"][0]["message"]["content"].startswith("Compressed hello.")
    assert list(response["headers"]) == ["content-type"]  # no content-encoding, no set-cookie
    with cassette(path) as use:
        assert await chat(f"http://127.0.0.1:{port}/v1", FIRST, stream=False) == recorded
    assert use.problems() == []


def test_credential_query_parameters_are_dropped() -> None:
    from snaprun.cassettes.config import without_secret_params as strip
    assert strip("https://h/v1/x?key=abc&alt=sse") == "https://h/v1/x?alt=sse"
    assert strip("https://h/v1/x?api_key=1&token=2&access_token=3") == "https://h/v1/x"
    assert strip("https://h/v1/x?api-version=2024-01") == "https://h/v1/x?api-version=2024-01"


async def test_secret_in_recording_is_refused_and_nothing_written(
    server: ScriptedServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-proj-this-one-leaked-into-a-prompt"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    with pytest.raises(SecretInCassette) as caught, cassette(path, "once"):
        await chat(server.base_url, messages(f"What's the weather? my key is {secret}"))
    assert "OPENAI_API_KEY" in str(caught.value) and str(path) in str(caught.value)
    assert secret not in str(caught.value)
    assert not path.exists()
    assert not path.parent.exists() or leftovers(path.parent) == []


async def test_secret_refusal_keeps_the_old_cassette(
    server: ScriptedServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await record(path, server, FIRST)
    before = path.read_bytes()
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-0123456789abcdef")
    env_vars = (*DEFAULT_SECRET_ENV_VARS, "MY_SERVICE_TOKEN")
    with (
        pytest.raises(SecretInCassette, match="MY_SERVICE_TOKEN"),
        cassette(path, "rewrite", secret_env_vars=env_vars),
    ):
        await chat(server.base_url, messages("weather? tok-0123456789abcdef"))
    assert path.read_bytes() == before
    assert leftovers(path.parent) == []


# ---- the file format -------------------------------------------------------------------


def vcr_interaction(body: bytes, content_type: str = "text/event-stream") -> dict[str, Any]:
    """One interaction in the shape vcrpy hands its serializer."""
    return {
        "request": {
            "method": "POST",
            "uri": "https://api.openai.com/v1/chat/completions",
            "body": '{"model":"m","stream":true}',
            "headers": {"content-type": ["application/json"]},
        },
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"content-type": [content_type]},
            "body": {"string": body},
        },
    }


def round_trip(*interactions: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    serializer = CassetteSerializer()
    text = serializer.serialize({"version": 1, "interactions": list(interactions)})
    return text, serializer.deserialize(text)["interactions"]


def sse(*events: str) -> bytes:
    return "".join(f"{event}\n\n" for event in events).encode("utf-8")


CHUNK = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def chunk(**delta: Any) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": None}
    return "data: " + json.dumps({**CHUNK, "choices": [choice]}, separators=(",", ":"))


@pytest.mark.parametrize(
    "body",
    [
        sse(chunk(role="assistant", content=""), chunk(content="Héllo 👋"), "data: [DONE]"),
        sse(chunk(content="line one\nline two")),
        sse(": keep-alive", "event: ping\ndata: {}", 'data: {"spaced": true}', "data: [DONE]"),
        sse(chunk(content="no trailing blank line")) + b"data: [DONE]",
        sse(*(chunk(content=f"{i}") for i in range(3))).replace(b"\n", b"\r\n"),
        b"data: " + json.dumps({**CHUNK, "x": "caf\u00e9"}).encode() + b"\n\n",
        sse('data: {"x":"caf\\u00e9","y":1}', 'data: {"x":"\\u00fc","y":1}'),
        b"",
        b"\xff\xfe not utf-8",
    ],
    ids=["openai", "newlines", "raw-events", "tail", "crlf", "spaced", "ascii", "empty", "binary"],
)
def test_sse_round_trip_gives_exact_bytes(body: bytes) -> None:
    text, (read,) = round_trip(vcr_interaction(body))
    assert read["response"]["body"]["string"] == body
    # and through vcrpy's own (de)serialize, as the cassette uses it
    _, responses = vcr.serialize.deserialize(text, CassetteSerializer())
    assert responses[0]["body"]["string"] == body


def test_sse_is_stored_as_events() -> None:
    body = sse(chunk(role="assistant", content=""), chunk(content="Hi"), "data: [DONE]")
    text, _ = round_trip(vcr_interaction(body))
    response = yamlio.load(text)["interactions"][0]["response"]
    assert response["sse_common"] == CHUNK  # written once, not once per token
    assert response["sse"][1] == {
        "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]
    }
    assert response["sse"][-1] == "data: [DONE]"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.text(min_size=1, max_size=5),
            st.one_of(
                st.none(), st.booleans(), st.integers(), st.text(), st.floats(allow_nan=False)
            ),
            max_size=4,
        ),
        max_size=5,
    )
)
def test_any_json_event_stream_round_trips(events: list[dict[str, Any]]) -> None:
    body = sse(
        *("data: " + json.dumps(e, separators=(",", ":"), ensure_ascii=False) for e in events)
    )
    _, (read,) = round_trip(vcr_interaction(body))
    assert read["response"]["body"]["string"] == body


def test_multiline_strings_are_literal_blocks() -> None:
    interaction = vcr_interaction(b'{"ok":true}', "application/json")
    interaction["request"]["body"] = json.dumps({"messages": [{"content": SYSTEM}]})
    text, _ = round_trip(interaction)
    assert "content: |-\n" in text and "  You are a helpful assistant.\n" in text
    assert "json:\n      ok: true" in text


async def test_messages_are_stored_as_deltas_and_grow_linearly(
    server: ScriptedServer, tmp_path: Path
) -> None:
    async def converse(path: Path, turns: int) -> None:
        history = messages()
        with cassette(path, "once"):
            for turn in range(turns):
                history.append(
                    {"role": "user", "content": f"Turn {turn}: " + "tell me more. " * 12}
                )
                chunks = await chat(server.base_url, history)
                reply = "".join(
                    c["choices"][0]["delta"]["content"] or "" for c in chunks if c["choices"]
                )
                history.append({"role": "assistant", "content": reply})

    short, long = tmp_path / "c10.yaml", tmp_path / "c20.yaml"
    await converse(short, 10)
    server.requests.clear()
    await converse(long, 20)

    ratio = long.stat().st_size / short.stat().st_size
    assert 1.7 < ratio < 2.3, f"20 turns take {ratio:.2f}x the bytes of 10: not linear"
    stored = file_data(long)["interactions"]
    assert [i["request"].get("messages_from_previous") for i in stored[1:]] == [
        2 * turn for turn in range(1, 20)
    ]
    assert all(len(i["request"]["json"]["messages"]) <= 2 for i in stored[1:])

    # Reconstructed exactly: the bodies the server received, as data.
    _, read = round_trip(*CassetteSerializer().deserialize(long.read_text())["interactions"])
    requests, _ = CassetteSerializer().load(long.read_text())
    assert [json.loads(r.body) for r in requests] == server.requests
    assert len(read) == 20
    # Each request is read with its match key, computed without rendering every history
    # again: the key the same body gets when it is sent.
    sent = [vcr.request.Request("POST", r.uri, r.body, {}) for r in requests]
    assert [http_bodies.body_key(r) for r in requests] == [http_bodies.body_key(r) for r in sent]

    with cassette(long) as use:  # and the delta form replays
        history = messages()
        for turn in range(20):
            history.append({"role": "user", "content": f"Turn {turn}: " + "tell me more. " * 12})
            chunks = await chat(server.base_url, history)
            reply = "".join(
                c["choices"][0]["delta"]["content"] or "" for c in chunks if c["choices"]
            )
            history.append({"role": "assistant", "content": reply})
    assert use.problems() == []


async def test_replay_parses_each_recorded_body_once(
    server: ScriptedServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversations = [messages(f"weather {n}?") for n in range(30)]
    await record(path, server, *conversations)
    parses = 0
    real_parse = http_bodies.parse_json

    def counting_parse(body: bytes | None) -> Any:
        nonlocal parses
        parses += 1
        return real_parse(body)

    # Counted under every name it is imported as, so no module's parse escapes the count.
    for module in list(sys.modules.values()):
        if module.__name__.startswith("snaprun.") and vars(module).get("parse_json") is real_parse:
            monkeypatch.setattr(module, "parse_json", counting_parse)
    with cassette(path) as use:
        for conversation in conversations:
            await chat(server.base_url, conversation)
    assert use.problems() == []
    # Each request sent is parsed once; the recorded ones never (their keys come with the
    # cassette's data). vcrpy's own body matcher parses both bodies of every pair: ~900 here.
    assert parses == len(conversations), parses


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    messages=st.lists(st.dictionaries(st.text(), JSON_VALUES, max_size=4), max_size=5),
    rest=st.dictionaries(st.text().filter(lambda k: k != "messages"), JSON_VALUES, max_size=3),
)
def test_a_key_from_message_texts_is_the_key_of_the_body(
    messages: list[dict[str, Any]], rest: dict[str, Any]
) -> None:
    data = {**rest, "messages": messages}
    texts = [http_bodies.canonical_json(message) for message in messages]
    assert http_bodies.data_key(data, texts) == http_bodies.data_key(data)
    other = {**rest, "messages": [*messages, {"role": "user"}]}
    assert http_bodies.data_key(other) != http_bodies.data_key(data)


# ---- corrupt files -----------------------------------------------------------------------


CORRUPTIONS = {
    "truncated": lambda text: text[: len(text) // 2] + '"unterminated',
    "not-yaml": lambda text: "version: 1\ninteractions: [\n  - {request: ]]\n",
    "wrong-shape": lambda text: "- just\n- a list\n",
    "empty": lambda text: "",
    "wrong-version": lambda text: text.replace("version: 1", "version: 99"),
    "bad-delta": lambda text: text.replace(
        "messages_from_previous: 2", "messages_from_previous: 9"
    ),
    "bad-base64": lambda text: text.replace("  sse:", "  base64: '!!'\n    x_sse:", 1),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
async def test_corrupt_cassette_is_a_clear_error(
    server: ScriptedServer, path: Path, corruption: str
) -> None:
    await record(path, server, FIRST, SECOND)
    path.write_text(CORRUPTIONS[corruption](path.read_text()), encoding="utf-8")
    with pytest.raises(CassetteCorrupt) as caught, cassette(path):
        pass
    message = str(caught.value)
    assert str(path) in message and COMMAND in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_non_utf8_cassette_is_corrupt(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"version: 1\ninteractions: []\n\xff\xfe")
    with pytest.raises(CassetteCorrupt, match="not UTF-8"), cassette(path, "once"):
        pass


# ---- writing: atomic, only on success, record modes -----------------------------------


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, RuntimeError])
@pytest.mark.parametrize("mode", ["rewrite", "all", "new_episodes"])
async def test_interrupted_recording_keeps_old_file(
    server: ScriptedServer, path: Path, interruption: type[BaseException], mode: str
) -> None:
    await record(path, server, FIRST)
    before = path.read_bytes()
    with pytest.raises(interruption), cassette(path, mode):
        await chat(server.base_url, SECOND)
        raise interruption()
    assert path.read_bytes() == before
    assert leftovers(path.parent) == []


async def test_failed_recording_of_a_new_cassette_writes_nothing(
    server: ScriptedServer, path: Path
) -> None:
    with pytest.raises(RuntimeError), cassette(path, "once"):
        await chat(server.base_url, FIRST)
        raise RuntimeError("test failed")
    assert not path.exists()


async def test_discard_writes_nothing(server: ScriptedServer, path: Path) -> None:
    await record(path, server, FIRST)
    before = path.read_bytes()
    with cassette(path, "rewrite") as use:
        await chat(server.base_url, SECOND)
        use.discard()
    assert not use.written
    assert path.read_bytes() == before


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "c.yaml"
    target.write_text("old\n")

    def broken_replace(source: str, destination: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        files.write_atomically(target, "new\n")
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_a_write_in_progress_is_no_snapshot_to_syrupy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under xdist, syrupy's controller lists the snapshot folder while workers still write
    # goldens; a temporary file it takes for a snapshot it deletes, under the worker's feet.
    seen: list[list[str]] = []
    real_replace = os.replace

    def replace_after_listing(source: str, destination: str) -> None:
        seen.append(list(walk_snapshot_dir(tmp_path)))
        real_replace(source, destination)

    monkeypatch.setattr(files.os, "replace", replace_after_listing)
    files.write_atomically(tmp_path / "test_a.yaml", "runs: []\n")
    assert seen == [[]]
    assert (tmp_path / "test_a.yaml").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600


async def test_rewrite_replaces_the_cassette_after_success(
    server: ScriptedServer, path: Path
) -> None:
    await record(path, server, FIRST, SECOND)
    path.write_text("corrupt: [", encoding="utf-8")  # rewrite does not even read it
    with cassette(path, "rewrite") as use:
        await chat(server.base_url, SECOND)
    assert use.written
    stored = file_data(path)["interactions"]
    assert len(stored) == 1 and stored[0]["request"]["json"]["messages"][-1]["content"] == "thanks!"
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


async def test_new_episodes_adds_new_requests(server: ScriptedServer, path: Path) -> None:
    await record(path, server, FIRST)
    with cassette(path, "new_episodes") as use:
        await chat(server.base_url, FIRST)  # replayed
        await chat(server.base_url, SECOND)  # recorded
    assert use.written and use.problems() == []
    assert len(server.requests) == 2
    assert len(file_data(path)["interactions"]) == 2


async def test_once_with_existing_cassette_only_replays(server: ScriptedServer, path: Path) -> None:
    await record(path, server, FIRST)
    with pytest.raises(UnmatchedRequest), cassette(path, "once") as use:
        assert use.replaying
        with pytest.raises(openai.APIError):
            await chat(server.base_url, SECOND)
    assert len(server.requests) == 1


async def test_recording_no_requests_writes_an_empty_cassette(path: Path) -> None:
    with cassette(path, "once") as use:
        pass
    assert use.written and file_data(path)["interactions"] == []
    with cassette(path) as use:
        pass
    assert use.problems() == []


def test_invalid_record_mode_and_vcr_config(path: Path) -> None:
    with pytest.raises(InvalidCassetteConfig, match="bogus"), cassette(path, "bogus"):
        pass
    for key, value in {
        "allow_playback_repeats": True,
        "record_mode": "all",
        "serializer": "json",
    }.items():
        with (
            pytest.raises(InvalidCassetteConfig, match=key),
            cassette(path, "once", vcr_config={key: value}),
        ):
            pass


async def test_vcr_config_hooks_run_before_snaprun_sanitizers(
    server: ScriptedServer, path: Path
) -> None:
    seen: list[str] = []

    def user_hook(request: Any) -> Any:
        seen.append(request.headers.get("authorization", ""))
        return request

    config = {"before_record_request": user_hook, "allowed_hosts": ["127.0.0.1"]}
    with cassette(path, "once", vcr_config=config) as use:
        await chat(server.base_url, FIRST)
    assert isinstance(use, CassetteUse) and use.written
    assert seen and seen[0] == f"Bearer {API_KEY}"  # the user's hook saw the real request
    assert "authorization" not in path.read_text().lower()


def test_the_order_of_tools_in_a_request_does_not_matter() -> None:
    from vcr.request import Request

    from snaprun.cassettes.http_bodies import match_body_as_data

    def request(*names: str, model: str = "gpt-4.1") -> Request:
        tools = [{"type": "function", "function": {"name": name}} for name in names]
        body = json.dumps({"model": model, "tools": tools}).encode()
        return Request("POST", "http://127.0.0.1:1/v1/chat/completions", body, {})

    assert match_body_as_data(request("a", "b"), request("b", "a"))
    assert not match_body_as_data(request("a", "b"), request("a", "c"))
    assert not match_body_as_data(request("a", "b"), request("b", "a", model="other"))
