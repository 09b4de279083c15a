"""Every HTTP LLM a LiveKit agent can use records, and replays offline with no key.

One throwaway project per provider, as a new user would make it: one turn with a tool call
and a reply, recorded with fake keys against a local server speaking the provider's
protocol; replayed twice with the server stopped, ``CI=true`` and every key unset; then a
changed instruction, which must fail showing the change. No fake key may be in any file,
and the cassette must be data a person can read (no base64, no JSON kept as a string).
"""

from __future__ import annotations

import importlib
import importlib.util
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import PROJECT_INI, free_port

from snaprun import yamlio
from snaprun.cassettes.providers import CREDENTIAL_ENV_VARS

LIVEKIT = tuple(int(part) for part in version("livekit-agents").split(".")[:2])


@dataclass(frozen=True)
class Case:
    """One provider: how a user builds its LLM against ``URL``, and the keys it reads."""

    plugin: str  # the module the case needs, skipped where it is not installed
    server: str  # a class of snaprun.testing (ScriptedServer or one of provider_servers)
    imports: str
    llm: str
    keys: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # set in every mode (endpoints)
    stream_form: str = "sse"
    server_options: str = ""
    skip_before: tuple[int, int] = (1, 3)  # (livekit-agents version, why) below which it skips
    skip_reason: str = ""


CASES: dict[str, Case] = {
    "azure": Case(
        "livekit.plugins.openai",
        "ScriptedServer",
        "from livekit.plugins import openai",
        'openai.LLM.with_azure(model="gpt-4.1", azure_endpoint=URL, azure_deployment="shop", '
        'api_version="2024-10-21")',
        {"AZURE_OPENAI_API_KEY": "azure-fake-key-for-recording-0001"},
    ),
    "inference": Case(
        "livekit.plugins.openai",
        "ScriptedServer",
        "from livekit.agents import inference",
        'inference.LLM(model="openai/gpt-4.1-mini", base_url=URL + "/v1")',
        {
            "LIVEKIT_API_KEY": "APIfakekeyforrecording01",
            "LIVEKIT_API_SECRET": "fake-livekit-secret-for-recording-0001",
        },
    ),
    "cerebras": Case(
        "livekit.plugins.openai",
        "ScriptedServer",
        "from livekit.plugins import openai",
        'openai.LLM.with_cerebras(model="llama3.1-8b", base_url=URL + "/v1")',
        {"CEREBRAS_API_KEY": "csk-fake-key-for-recording-0001"},
    ),
    "groq": Case(
        "livekit.plugins.groq",
        "ScriptedServer",
        "from livekit.plugins import groq",
        'groq.LLM(model="llama-3.3-70b-versatile", base_url=URL + "/v1")',
        {"GROQ_API_KEY": "gsk_fake_key_for_recording_0001"},
    ),
    "ollama": Case(
        "livekit.plugins.openai",
        "ScriptedServer",
        "from livekit.plugins import openai",
        'openai.LLM.with_ollama(model="llama3.1", base_url=URL + "/v1")',
    ),
    "mistral": Case(
        "livekit.plugins.mistralai",
        "ScriptedServer",
        "import os\nfrom livekit.plugins import mistralai\n"
        "try:\n    from mistralai.client import Mistral\n"
        "except ImportError:  # mistralai 1.x, with livekit-agents 1.3\n"
        "    from mistralai import Mistral\n"
        "import inspect\n"
        "# 1.8 defaults to the Conversations API; chat completions is what 1.3 speaks.\n"
        "MODE = {'api_mode': 'chat_completions'} "
        "if 'api_mode' in inspect.signature(mistralai.LLM).parameters else {}",
        'mistralai.LLM(model="mistral-small-latest", '
        'client=Mistral(api_key=os.environ["MISTRAL_API_KEY"], server_url=URL), **MODE)',
        {"MISTRAL_API_KEY": "mistral-fake-key-for-recording-0001"},
        server_options=", whole_tool_calls=True",
        skip_before=(1, 4),
        skip_reason="the 1.3.12 plugin ignores client= and always calls api.mistral.ai",
    ),
    "responses": Case(
        "livekit.plugins.openai",
        "ScriptedResponsesServer",
        "from livekit.plugins import openai",
        'openai.responses.LLM(model="gpt-4.1", base_url=URL + "/v1", use_websocket=False)',
        {"OPENAI_API_KEY": "sk-fake-key-for-recording-0001"},
        stream_form="sse_events",
        skip_before=(1, 4),
        skip_reason="1.3.12's responses.LLM has no use_websocket (HTTP is its only transport)",
    ),
    "anthropic": Case(
        "livekit.plugins.anthropic",
        "AnthropicServer",
        "from livekit.plugins import anthropic",
        'anthropic.LLM(model="claude-sonnet-4-5", base_url=URL)',
        {"ANTHROPIC_API_KEY": "sk-ant-fake-key-for-recording-0001"},
        stream_form="sse_events",
    ),
    "google": Case(
        "livekit.plugins.google",
        "GeminiServer",
        "from google.genai import types\nfrom livekit.plugins import google",
        'google.LLM(model="gemini-2.0-flash", http_options=types.HttpOptions(base_url=URL))',
        {"GOOGLE_API_KEY": "AIzaFakeKeyForRecording0001"},
    ),
    "bedrock": Case(
        "livekit.plugins.aws",
        "BedrockServer",
        "from livekit.plugins import aws",
        'aws.LLM(model="amazon.nova-lite-v1:0", region="us-east-1")',
        {
            "AWS_ACCESS_KEY_ID": "AKIAFAKEKEYRECORDING01",
            "AWS_SECRET_ACCESS_KEY": "fake/aws/secret/key/for/recording/0001",
        },
        env={"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "URL"},
        stream_form="event_stream",
    ),
}

# pytester runs each project in this process and unloads what it imported afterwards; an SDK
# imported twice has two copies of its classes (anthropic's Omit is then not an Omit), so
# every plugin is imported once, here, and stays loaded.
for _case in CASES.values():
    if importlib.util.find_spec(_case.plugin) is not None:
        importlib.import_module(_case.plugin)

CONFTEST = """
import os

import pytest

from snaprun.testing import Reply, ScriptedServer, ToolCall
from snaprun.testing.provider_servers import AnthropicServer, BedrockServer, GeminiServer
from snaprun.testing.scripted_responses import ScriptedResponsesServer
{imports}

URL = "http://127.0.0.1:{port}"
REPLIES = [
    Reply(match="flavours", tool_calls=(ToolCall("ice_cream_types"),)),
    Reply(match="vanilla", text="We have vanilla and chocolate."),
]


@pytest.fixture
def llm(record_mode, monkeypatch):
    for name, value in {env!r}.items():
        monkeypatch.setenv(name, value.replace("URL", URL))
    server = {server}(REPLIES, port={port}{server_options})
    if record_mode != "none":
        server.start()
    try:
        yield {llm}
    finally:
        if record_mode != "none":
            server.stop()
"""

TEST = """
from livekit.agents import Agent, AgentSession, function_tool

INSTRUCTIONS = "{instructions}"


class Shop(Agent):
    def __init__(self) -> None:
        super().__init__(instructions=INSTRUCTIONS)

    @function_tool
    async def ice_cream_types(self) -> str:
        \"\"\"List the ice cream flavours on sale.\"\"\"
        return "vanilla, chocolate"


async def test_shop(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Shop())
        await session.run(user_input="Which flavours do you have?")
    assert transcript == golden
"""


def _write_project(pytester: pytest.Pytester, case: Case, instructions: str) -> None:
    pytester.makeini(PROJECT_INI)
    port = free_port()
    pytester.makeconftest(
        CONFTEST.format(
            imports=case.imports,
            port=port,
            env=case.env,
            server=case.server,
            server_options=case.server_options,
            llm=case.llm,
        )
    )
    _write_test(pytester, instructions)


def _write_test(pytester: pytest.Pytester, instructions: str) -> None:
    pytester.makepyfile(test_shop=textwrap.dedent(TEST.format(instructions=instructions)))


def _strings(data: object) -> Iterator[str]:
    """Every string in nested data."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for item in data:
            yield from _strings(item)


def _unreadable_parts(cassette: Path) -> list[str]:
    """What in the cassette a person cannot read: base64 or verbatim bodies, JSON or SSE
    kept as strings."""
    document = yamlio.load(cassette.read_text())
    assert isinstance(document, dict)
    found = []
    for interaction in document["interactions"]:
        for side in ("request", "response"):
            found += [
                f"a {side} {form} body" for form in ("base64", "text") if form in interaction[side]
            ]
    # "data: [DONE]" is as readable as it gets; JSON or events inside a string are not.
    found += [
        s[:60] for s in _strings(document) if '{"' in s or s.startswith(("event:", "data: {"))
    ]
    return found


# The google plugin names Gemini's function calls with a random livekit id and sends it back;
# replay needs livekit's ids made deterministic while a cassette is open (the real-agents
# work, snaprun/cassettes/generated_ids.py). Until that is in, the case must fail.
_NO_GENERATED_IDS = importlib.util.find_spec("snaprun.cassettes.generated_ids") is None
_PARAMS = [
    pytest.param(
        name,
        marks=pytest.mark.xfail(_NO_GENERATED_IDS, reason="random function-call ids", strict=True)
        if name == "google"
        else (),
    )
    for name in CASES
]


@pytest.mark.parametrize("name", _PARAMS)
def test_provider_records_and_replays_offline_with_no_key(
    name: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[name]
    if importlib.util.find_spec(case.plugin) is None:
        pytest.skip(f"{case.plugin} is not installed with this livekit-agents")
    if case.skip_before > LIVEKIT:
        pytest.skip(case.skip_reason)
    for variable in (*CREDENTIAL_ENV_VARS, "AWS_DEFAULT_REGION", "AWS_REGION", "CI"):
        monkeypatch.delenv(variable, raising=False)
    _write_project(pytester, case, "You run an ice cream shop.")

    with monkeypatch.context() as recording:
        for variable, value in case.keys.items():
            recording.setenv(variable, value)
        record = pytester.runpytest(
            "-p", "no:cacheprovider", "--record-mode=once", "--snapshot-update"
        )
        record.assert_outcomes(passed=1)

    golden = pytester.path / "__snapshots__" / "test_shop" / "test_shop.yaml"
    assert "text: We have vanilla and chocolate." in golden.read_text()
    cassette = pytester.path / "cassettes" / "test_shop" / "test_shop.yaml"
    text = cassette.read_text()
    assert f"\n    {case.stream_form}:\n" in text, text
    assert _unreadable_parts(cassette) == []
    for path in pytester.path.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            content = path.read_bytes()
            leaked = [key for key in case.keys.values() if key.encode() in content]
            assert leaked == [], f"{path} holds {leaked}"

    monkeypatch.setenv("CI", "true")
    for _ in range(2):
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)

    _write_test(pytester, "You run a frozen yoghurt shop.")
    changed = pytester.runpytest("-p", "no:cacheprovider")
    assert changed.ret != 0
    changed.stdout.fnmatch_lines(
        ["*-*You run an ice cream shop.*", "*+*You run a frozen yoghurt shop.*"]
    )
