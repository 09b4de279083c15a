import pytest
from livekit.plugins import openai

from snaprun.scripted_server import Reply, ScriptedServer, ToolCall

SEED_REPLIES = [
    Reply(match="ENTER AGENT: Say 'Say something generated'", text="Say something generated"),
    Reply(match="Give me all ice cream types.", tool_calls=(ToolCall("ice_cream_types"),)),
    Reply(
        match="Say 'SECOND AGENT: Say something generated'",
        text="SECOND AGENT: Say something generated",
    ),
]


@pytest.fixture
def llm():
    with ScriptedServer(SEED_REPLIES) as server:
        yield openai.LLM(model="gpt-4.1", base_url=server.base_url, api_key="sk-test")
