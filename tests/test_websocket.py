"""WebSocket LLMs record and replay like HTTP ones: openai.responses.LLM() on its default
transport, against a scripted server speaking the Responses WebSocket protocol on 127.0.0.1."""

from __future__ import annotations

import inspect
from importlib.metadata import version

import pytest
from livekit.plugins import openai

from tests.conftest import Project, free_port

# The throwaway project's conftest: the LLM on its WebSocket, a scripted server only while
# recording, and a guard that fails any replay that tries to open a connection.
WEBSOCKET_CONFTEST = """
import contextlib
import socket

import pytest
from livekit.agents import utils
from livekit.plugins import openai

from snaprun.testing import Reply, ToolCall
from snaprun.testing.scripted_realtime import ScriptedRealtimeServer
from snaprun.testing.scripted_responses import ScriptedResponsesServer

PORT = {port}
REALTIME = {realtime}
REPLIES = [
    Reply(match="flavours", tool_calls=(ToolCall("flavours"),)),
    Reply(match="vanilla, chocolate", tool_calls=(ToolCall("to_cashier"),)),
    Reply(match="CASHIER", text="That is two euros."),
]


@pytest.fixture(autouse=True)
def no_connection(record_mode, monkeypatch):
    attempts = []
    if record_mode == "none":
        real_connect = socket.socket.connect

        def connect(sock, address):
            attempts.append(address)
            raise OSError(f"replay tried to connect to {{address}}")

        monkeypatch.setattr(socket.socket, "connect", connect)
    yield
    print(f"connections attempted: {{len(attempts)}}")


@pytest.fixture
async def llm(record_mode):
    server = (ScriptedRealtimeServer if REALTIME else ScriptedResponsesServer)(REPLIES, port=PORT)
    if record_mode != "none":
        server.start()
    # openai.responses.LLM() takes its aiohttp session from livekit's http context, which only
    # a worker sets up; the realtime model opens a session of its own without one.
    opened = contextlib.nullcontext() if REALTIME else utils.http_context.open()
    try:
        async with opened:
            if REALTIME:
                model = openai.realtime.RealtimeModel(
                    modalities=["text"], base_url=f"http://127.0.0.1:{{PORT}}/v1",
                    api_key="sk-ws-test-secret",
                )
            else:
                model = openai.responses.LLM(
                    model="gpt-4.1", base_url=f"ws://127.0.0.1:{{PORT}}/v1/responses",
                    api_key="sk-ws-test-secret",
                )
            yield model
            await model.aclose()
    finally:
        if record_mode != "none":
            server.stop()
"""

SHOP = """
class Shop(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You sell ice cream.")

    @function_tool
    async def flavours(self) -> str:
        \"\"\"List the flavours.\"\"\"
        return "vanilla, chocolate"

    @function_tool
    async def to_cashier(self, context: RunContext) -> Agent:
        \"\"\"Hand over to the cashier.\"\"\"
        return Cashier()


class Cashier(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="CASHIER: take the payment.")

    async def on_enter(self) -> None:
        self.session.generate_reply()


async def test_shop(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Shop())
        await session.run(user_input="Which flavours?")
    assert transcript == golden
"""


# What the session did, the same whether the LLM is a Responses model or a realtime one.
EXPECTED_RUNS = """runs:
- kind: start
  events:
  - agent_handoff:
      from: null
      to: Shop
- kind: run
  input: Which flavours?
  events:
  - message:
      role: user
      text: Which flavours?
  - function_call:
      name: flavours
      call: call-1
      arguments: {}
  - function_call_output:
      name: flavours
      call: call-1
      output: vanilla, chocolate
      is_error: false
  - function_call:
      name: to_cashier
      call: call-2
      arguments: {}
  - function_call_output:
      name: to_cashier
      call: call-2
      output: ''
      is_error: false
  - agent_handoff:
      from: Shop
      to: Cashier
  - message:
      role: assistant
      source: generate_reply
      text: That is two euros.
chat_ctx:
"""


def ws_project_for(pytester: pytest.Pytester, project: Project, *, realtime: bool) -> Project:
    pytester.makeconftest(WEBSOCKET_CONFTEST.format(port=free_port(), realtime=realtime))
    return project


def replay_three_times(project: Project, monkeypatch: pytest.MonkeyPatch) -> tuple[str, bytes]:
    """Replay offline, in CI, without a key, three times: same golden, same cassette."""
    cassette = project.cassette("test_shop").read_text()
    golden = project.golden("test_shop").read_bytes()
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for _ in range(3):
        replayed = project.run("-s")
        # First, so that a replay that reached for the network fails as exactly that.
        replayed.stdout.fnmatch_lines(["*connections attempted: 0*"])
        replayed.assert_outcomes(passed=1)
        assert project.golden("test_shop").read_bytes() == golden
        assert project.cassette("test_shop").read_text() == cassette
    return cassette, golden


# livekit-plugins-openai 1.3's Responses LLM streams over HTTP with the openai SDK (no
# use_websocket); its realtime model already speaks over aiohttp's ws_connect.
responses_over_websocket = pytest.mark.skipif(
    "use_websocket" not in inspect.signature(openai.responses.LLM).parameters,
    reason=f"livekit-plugins-openai {version('livekit-plugins-openai')}: openai.responses.LLM "
    "has no WebSocket transport (no use_websocket; it streams over HTTP)",
)


@responses_over_websocket
def test_responses_websocket_records_and_replays_exactly(
    pytester: pytest.Pytester, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws_project = ws_project_for(pytester, project, realtime=False)
    ws_project.write_test(SHOP)
    recorded = ws_project.record("-s")
    recorded.assert_outcomes(passed=1)
    cassette = ws_project.cassette("test_shop").read_text()
    golden = ws_project.golden("test_shop").read_bytes()
    # The socket's messages are in the file as data, in order; vcrpy's bare handshake is not.
    assert "version: 2\ninteractions: []\nwebsockets:\n- url: ws://127.0.0.1:" in cassette
    assert "status: 101" not in cassette
    assert cassette.count("  - client:\n      type: response.create\n") == 3
    assert "      previous_response_id: resp_scripted_1\n" in cassette
    assert "sk-ws-test-secret" not in cassette
    assert "  closed:\n    by: client\n    code: 1000\n" in cassette
    assert golden.decode().startswith(EXPECTED_RUNS)
    replay_three_times(ws_project, monkeypatch)

    # A changed instruction is refused with a diff of the message, at once (no retries).
    ws_project.write_test(SHOP.replace("You sell ice cream.", "You sell sorbet."))
    changed = ws_project.run("-s")
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(
        [
            "*snaprun: message not in cassette on WebSocket ws://127.0.0.1:*/v1/responses?model="
            "gpt-4.1, so it was refused: the client sent a 'response.create' message where "
            "client message #1 of 3 was a 'response.create' message.",
            "Diff, - recorded, + this message:",
            "    -- content: You sell ice cream.",
            "    +- content: You sell sorbet.",
        ]
    )
    assert "retrying in" not in changed.stdout.str()
    assert "connections attempted: 0" in changed.stdout.str()


def test_realtime_text_session_records_and_replays_like_an_http_model(
    pytester: pytest.Pytester, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws_project = ws_project_for(pytester, project, realtime=True)
    ws_project.write_test(SHOP)
    ws_project.record("-s").assert_outcomes(passed=1)
    cassette, golden = replay_three_times(ws_project, monkeypatch)
    assert golden.decode().startswith(EXPECTED_RUNS)
    # Client-made ids (livekit's shortuuid) differ on every run; replay echoed this run's.
    assert "      type: conversation.item.create\n" in cassette
    assert "sk-ws-test-secret" not in cassette

    ws_project.write_test(SHOP.replace("You sell ice cream.", "You sell sorbet."))
    changed = ws_project.run("-s")
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(
        [
            "*snaprun: message not in cassette on WebSocket ws://127.0.0.1:*/v1/realtime?model="
            "gpt-realtime, so it was refused: the client sent a 'session.update' message where "
            "client message #* of * was a 'session.update' message.",
            "Diff, - recorded, + this message:",
            "    -  instructions: You sell ice cream.",
            "    +  instructions: You sell sorbet.",
        ]
    )
    assert "connections attempted: 0" in changed.stdout.str()


UNRECORDABLE_SOCKETS = """
import socket

import aiohttp
# Bound at import, before any cassette opens, as google-genai binds it.
from websockets.asyncio.client import connect as ws_connect

from snaprun.testing.scripted_responses import ScriptedResponsesServer


async def test_raw_upgrade(cassette):
    # A WebSocket opened through a plain request: vcrpy sees only the 101 handshake.
    with ScriptedResponsesServer([]) as server:
        headers = {
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        }
        async with aiohttp.ClientSession() as session:
            async with session.get(server.base_url + "/responses", headers=headers) as response:
                assert response.status == 101


async def test_websockets_package(cassette):
    # A client of the websockets package that retries, as livekit's Google realtime model does.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        url = f"ws://127.0.0.1:{listener.getsockname()[1]}/ws/live?key=AIza-live-secret"
        for attempt in range(3):
            try:
                async with ws_connect(url, open_timeout=2):
                    pass
            except Exception as exc:
                print(f"attempt {attempt + 1}: {type(exc).__name__}")
        try:
            listener.accept()
            print("a connection reached the server")
        except BlockingIOError:
            print("no connection reached the server")
"""


def test_a_websocket_snaprun_cannot_record_is_refused(project: Project) -> None:
    project.write_test(UNRECORDABLE_SOCKETS)
    result = project.record("-s")
    # The bare handshake is refused when the cassette would be written (the test's teardown);
    # the websockets refusal is the test's own failure, reported like any refused request.
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*snaprun: refusing to write cassette */cassettes/test_agent/test_raw_upgrade.yaml: "
            "test_agent.py::test_raw_upgrade opened a WebSocket (GET http://127.0.0.1:*/v1/"
            "responses → 101 Switching Protocols) through a client snaprun cannot record; "
            "snaprun records WebSockets opened with aiohttp's ClientSession.ws_connect only.*"
        ]
    )
    assert not project.cassette("test_raw_upgrade").exists()

    # The websockets package is refused before it connects, once however often it retries,
    # and the test fails naming the socket (without its key) and what to do instead.
    output = result.stdout.str()
    assert "attempt 3: RefusedWebSocket" in output
    assert "no connection reached the server" in output
    result.stdout.fnmatch_lines(
        [
            "_* test_websockets_package _*",
            "snaprun: refused the WebSocket "
            "ws://127.0.0.1:*/ws/live: it was opened with the websockets package (as "
            "google-genai's Live API does), which snaprun cannot record or replay, so no "
            "connection was made. snaprun records WebSockets opened with aiohttp's "
            "ClientSession.ws_connect only: give the test an LLM that speaks HTTP or uses "
            "ws_connect (e.g. openai.realtime.RealtimeModel), then record again.",
        ]
    )
    assert "more unmatched" not in output and "AIza-live-secret" not in output
    assert not project.cassette("test_websockets_package").exists()
