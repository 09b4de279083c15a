"""The examples' LLM: a cassette on replay; the scripted server when recording.

With a real provider this file would just build `openai.LLM(model=...)`: the cassette does the
rest. The scripted server stands in for the provider so the examples record without a key,
on a fixed port so the recorded URLs never change.
"""

import pytest
from livekit.plugins import openai

from snaprun.scripted_server import ScriptedServer

from .seed_replies import SEED_REPLIES

PORT = 18765


@pytest.fixture
def llm(request, record_mode):
    replies = getattr(request.module, "REPLIES", SEED_REPLIES)
    server = ScriptedServer(replies, port=PORT)
    if record_mode != "none":
        server.start()
    try:
        yield openai.LLM(model="gpt-4.1", base_url=f"http://127.0.0.1:{PORT}/v1", api_key="sk-demo")
    finally:
        if record_mode != "none":
            server.stop()
