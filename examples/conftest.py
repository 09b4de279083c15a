"""The examples' LLM: a cassette on replay; the scripted server when recording.

With a real provider this file would just build `openai.LLM(model=...)`: the cassette does the
rest. The scripted server stands in for the provider so the examples record without a key,
on a fixed port so the recorded URLs never change.

The LLM gets a client that shares one SSL context per session: left to itself, livekit's plugin
builds an HTTP client whose transport loads the CA bundle into a new SSL context, 30-50 ms per
test (more than a whole replay, which never uses TLS; BENCHMARKS.md, "Outside snaprun").
"""

import ssl

import certifi
import openai
import pytest
from livekit.plugins import openai as livekit_openai

from snaprun.testing import ScriptedServer

from .seed_replies import SEED_REPLIES

PORT = 18765

# What livekit's plugin gives the client it builds itself: no retries, a 5 s read timeout.
# (It also caps the pool at 50 connections; a test opens one at a time.)
MAX_RETRIES = 0
TIMEOUT = openai.Timeout(connect=15.0, read=5.0, write=5.0, pool=5.0)


@pytest.fixture(scope="session")
def ssl_context():
    """One SSL context for the whole session, trusting certifi's CA bundle."""
    return ssl.create_default_context(cafile=certifi.where())


@pytest.fixture
async def llm(request, record_mode, ssl_context):
    """livekit's OpenAI LLM for this test, on an HTTP client closed when the test ends."""
    replies = getattr(request.module, "REPLIES", SEED_REPLIES)
    server = ScriptedServer(replies, port=PORT)
    if record_mode != "none":
        server.start()
    # The client belongs to this test's event loop; only the SSL context outlives it.
    client = openai.AsyncClient(
        base_url=f"http://127.0.0.1:{PORT}/v1",
        api_key="sk-demo",
        max_retries=MAX_RETRIES,
        http_client=openai.DefaultAsyncHttpxClient(verify=ssl_context, timeout=TIMEOUT),
    )
    try:
        yield livekit_openai.LLM(model="gpt-4.1", client=client)
    finally:
        await client.close()
        if record_mode != "none":
            server.stop()
