"""WebSocket clients snaprun does not record, refused while a cassette is open.

snaprun records the WebSockets opened with aiohttp's ``ws_connect`` (:mod:`.websocket`). The
``websockets`` package opens its sockets below vcrpy and below aiohttp: google-genai's Live
API (livekit's Google realtime model and Gemini STT), mistralai's realtime STT and the openai
SDK's own realtime client use it. A recording would hold nothing of such a socket, and a
replay would go to the network; so, while a cassette is open, opening one is refused before
any connection is made, and the test fails saying which socket and what to do instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterator
from typing import Any

from snaprun.cassettes.errors import RefusedWebSocket


def refusal(url: str) -> str:
    return (
        f"snaprun: refused the WebSocket {url}: it was opened with the websockets package "
        f"(as google-genai's Live API does), which snaprun cannot record or replay, so no "
        f"connection was made. snaprun records WebSockets opened with aiohttp's "
        f"ClientSession.ws_connect only: give the test an LLM that speaks HTTP or uses "
        f"ws_connect (e.g. openai.realtime.RealtimeModel), then record again."
    )


@contextlib.contextmanager
def websockets_refused(
    refuse: Callable[[str], None], url_form: Callable[[str], str]
) -> Iterator[None]:
    """``websockets.asyncio.client.connect`` refuses to connect until exit (when installed)."""
    # Looked up at every cassette, not cached: a module reloaded (pytester unloads what a run
    # imported) has a new class, and it is the one the next run's clients bind.
    try:
        from websockets.asyncio.client import connect
    except ImportError:  # not installed, or older than 13.0 (no asyncio client)
        yield
        return
    # The class, not the module's name, is patched: clients bind it at import time
    # (google-genai: `from websockets.asyncio.client import connect as ws_connect`).
    # `await connect(...)`, `async with` and `async for` all go through __await__.
    original = connect.__await__
    refused: set[str] = set()  # a client retrying the same socket is one refusal

    def __await__(self: Any) -> Generator[Any, None, Any]:
        message = refusal(url_form(str(self.uri)))
        if message not in refused:
            refused.add(message)
            refuse(message)
        raise RefusedWebSocket(message)
        yield  # a generator, as __await__ must return an iterator

    connect.__await__ = __await__  # type: ignore[method-assign]
    try:
        yield
    finally:
        connect.__await__ = original  # type: ignore[method-assign]
