"""Every provider's streamed body is written as data and read back byte for byte; the table
of providers feeds placeholders, refusal and kept headers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snaprun import yamlio
from snaprun.cassettes import KEPT_HEADERS, event_stream
from snaprun.cassettes.body_forms import FormatError
from snaprun.cassettes.format import CassetteSerializer
from snaprun.cassettes.providers import (
    CREDENTIAL_ENV_VARS,
    PLACEHOLDER,
    PROVIDERS,
    placeholder_credentials,
)

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")

ANTHROPIC = (
    b'event: message_start\ndata: {"type": "message_start", "message": {"id": "msg_1"}}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b"event: error\ndata: overloaded\n\n"
)
GEMINI = (
    b'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"}}],'
    b'"modelVersion": "g"}\r\n\r\n'
    b'data: {"candidates": [],"modelVersion": "g"}\r\n\r\n'
)
_BEDROCK_HEADERS = ((":content-type", "application/json"), (":message-type", "event"))
BEDROCK_FRAMES = [
    event_stream.Frame(
        ((":event-type", "messageStart"), *_BEDROCK_HEADERS), b'{"p":"abc","role":"assistant"}'
    ),
    event_stream.Frame(
        ((":event-type", "contentBlockDelta"), *_BEDROCK_HEADERS),
        b'{"contentBlockIndex":0,"delta":{"text":"Hi"}}',
    ),
    event_stream.Frame(
        (
            (":exception-type", "throttlingException"),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ),
        b'{"message":"Too many requests"}',
    ),
]


def _cassette(body: bytes, content_type: str) -> dict[str, object]:
    request = {"method": "POST", "uri": "http://x/v1", "headers": {}, "body": b"{}"}
    status = {"code": 200, "message": "OK"}
    response = {"status": status, "headers": {"content-type": [content_type]}}
    return {
        "interactions": [{"request": request, "response": {**response, "body": {"string": body}}}]
    }


def _written(body: bytes, content_type: str) -> tuple[dict[str, object], bytes]:
    """The response as written in the file, and the bytes it replays."""
    serializer = CassetteSerializer()
    text = serializer.serialize(_cassette(body, content_type))
    document = yamlio.load(text)
    assert isinstance(document, dict)
    replayed = serializer.deserialize(text)["interactions"][0]["response"]["body"]["string"]
    return document["interactions"][0]["response"], replayed


def test_named_events_are_their_name_and_their_data() -> None:
    written, replayed = _written(ANTHROPIC, "text/event-stream; charset=utf-8")
    assert replayed == ANTHROPIC
    assert written["json_style"] == "spaced"
    assert written["sse_events"] == [
        {"message_start": {"type": "message_start", "message": {"id": "msg_1"}}},
        {"ping": {"type": "ping"}},
        {"error": "overloaded"},
    ]


def test_crlf_framing_and_googles_spacing_stay_data() -> None:
    written, replayed = _written(GEMINI, "text/event-stream")
    assert replayed == GEMINI
    assert (written["sse_framing"], written["json_style"]) == ("crlf", "colon-spaced")
    assert written["sse"][1] == {"candidates": [], "modelVersion": "g"}


def test_event_stream_frames_are_event_types_and_data_and_reencode_exactly() -> None:
    body = event_stream.encode_frames(BEDROCK_FRAMES)
    written, replayed = _written(body, event_stream.CONTENT_TYPE)
    assert replayed == body
    assert written["event_stream"] == [
        {"messageStart": {"p": "abc", "role": "assistant"}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hi"}}},
        {
            "headers": {
                ":exception-type": "throttlingException",
                ":content-type": "application/json",
                ":message-type": "exception",
            },
            "payload": {"message": "Too many requests"},
        },
    ]


def test_a_corrupt_event_stream_is_kept_as_bytes() -> None:
    body = bytearray(event_stream.encode_frames(BEDROCK_FRAMES))
    body[-1] ^= 0xFF  # the last frame's checksum no longer matches
    written, replayed = _written(bytes(body), event_stream.CONTENT_TYPE)
    assert replayed == bytes(body)
    assert "base64" in written


def test_an_sse_event_needs_one_name() -> None:
    text = """version: 1
interactions:
- request: {method: POST, uri: 'http://x/v1'}
  response:
    status: 200
    sse_events:
    - {ping: {type: ping}, pong: {type: pong}}
"""
    with pytest.raises(FormatError) as error:
        CassetteSerializer().deserialize(text)
    assert str(error.value) == (
        "interactions[0].response.sse_events[0] should have one key, its event name, not 2"
    )


def test_every_credential_is_refused_and_given_a_placeholder_and_bedrock_keeps_its_request_id() -> (
    None
):
    for name in ("CEREBRAS_API_KEY", "MISTRAL_API_KEY", "GROQ_API_KEY", "AWS_SECRET_ACCESS_KEY"):
        assert name in CREDENTIAL_ENV_VARS
    assert "AWS_SESSION_TOKEN" in CREDENTIAL_ENV_VARS
    assert "x-amzn-requestid" in KEPT_HEADERS
    environ = {"AWS_REGION": "eu-west-1", "LIVEKIT_API_KEY": "mine"}
    with placeholder_credentials(environ, extra=["MY_PROVIDER_KEY"]):
        assert environ["AWS_ACCESS_KEY_ID"] == environ["MY_PROVIDER_KEY"] == PLACEHOLDER
        assert "AWS_SESSION_TOKEN" not in environ  # a placeholder token would be sent
        assert "AWS_DEFAULT_REGION" not in environ  # the user's AWS_REGION stands
        assert "LIVEKIT_INFERENCE_API_KEY" not in environ  # the user's LIVEKIT_API_KEY stands
    assert environ == {"AWS_REGION": "eu-west-1", "LIVEKIT_API_KEY": "mine"}
    with placeholder_credentials(environ := {}):
        assert environ["AWS_DEFAULT_REGION"] == "us-east-1"


def test_the_readme_names_every_tested_provider() -> None:
    providers = README[README.index("## Providers") :]
    for provider in PROVIDERS[:10]:
        assert f"| {provider.name} |" in providers
        assert all(f"`{name}`" in providers for name in provider.credentials[:2])


async def test_a_lowercase_prewarm_and_method_replay_as_uppercase_ones(tmp_path: Path) -> None:
    # google-genai on aiohttp prewarms with "get" and posts with "post".
    import aiohttp

    from snaprun.cassettes import open_cassette
    from snaprun.testing import Reply, ScriptedServer

    path = tmp_path / "cassette.yaml"
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    headers = {"content-type": "application/json"}
    options = {"test_id": "t", "rerecord_command": "(record)"}
    with ScriptedServer([Reply(match="hi", text="Hello.")]) as server:
        url = server.base_url
        async with aiohttp.ClientSession() as session:
            with open_cassette(path, record_mode="once", **options):
                async with session.request(
                    "post", url + "/chat/completions", data=body, headers=headers
                ) as r:
                    recorded = await r.read()
    assert "method: POST" in path.read_text()
    async with aiohttp.ClientSession() as session:
        with open_cassette(path, **options) as use:
            async with session.request("get", url + "/models") as prewarm:
                assert json.loads(await prewarm.read())["models"] == []
            async with session.request(
                "post", url + "/chat/completions", data=body, headers=headers
            ) as r:
                assert await r.read() == recorded
    assert use.problems() == []
