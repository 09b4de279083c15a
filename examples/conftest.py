import pytest
from livekit.plugins import openai

from snaprun.scripted_server import ScriptedServer

from .seed_replies import SEED_REPLIES


@pytest.fixture
def llm():
    with ScriptedServer(SEED_REPLIES) as server:
        yield openai.LLM(model="gpt-4.1", base_url=server.base_url, api_key="sk-test")
