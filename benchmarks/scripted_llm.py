"""The scripted server's replies, answered in-process: a real livekit `LLM`, no HTTP at all.

The benchmarks' floor. `ScriptedLLM` implements livekit's LLM interface the way livekit's own
test LLM does (an `LLMStream` whose `_run` sends `ChatChunk`s into the stream's channel), but it
chooses its answer exactly as `snaprun.testing.ScriptedServer` does: the chat context is
put in OpenAI's message format and the first `Reply` that `fits` it answers. The same replies
therefore give the same conversation, and the same golden, with or without HTTP in between.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from livekit.agents import APIStatusError, llm
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

from snaprun.testing.scripted_server import USAGE, Reply, last_message_text, text_pieces

__all__ = ["ScriptedLLM"]


class ScriptedLLM(llm.LLM):
    """Answers every chat with the first scripted `Reply` that fits its messages.

    Request N (1-based, per instance) answers with chunk id ``chatcmpl-scripted-N`` and tool
    call ids ``call_scripted_N_i``, as the scripted server does.
    """

    def __init__(self, replies: Sequence[Reply], *, default_text: str | None = None) -> None:
        super().__init__()
        self.replies = tuple(replies)
        self.default_text = default_text
        self._requests = itertools.count(1)

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "snaprun-benchmarks"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        return ScriptedLLMStream(
            self,
            number=next(self._requests),
            chat_ctx=chat_ctx,
            tools=tools or [],
            conn_options=conn_options,
        )

    def choose(self, body: dict[str, Any]) -> Reply:
        """The first reply that fits the request `body` (OpenAI JSON), as the server chooses."""
        for reply in self.replies:
            if reply.fits(body):
                return reply
        if self.default_text is not None:
            return Reply(match="", text=self.default_text)
        # The server answers 400, which livekit does not retry: the same error, in-process.
        raise APIStatusError(
            f"ScriptedLLM: no scripted reply matches last message {last_message_text(body)!r}",
            status_code=400,
            retryable=False,
        )


class ScriptedLLMStream(llm.LLMStream):
    def __init__(
        self,
        scripted: ScriptedLLM,
        *,
        number: int,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(scripted, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._scripted = scripted
        self._number = number

    async def _run(self) -> None:
        messages, _ = self.chat_ctx.to_provider_format("openai")
        reply = self._scripted.choose({"messages": messages})
        chunk_id = f"chatcmpl-scripted-{self._number}"
        for piece in text_pieces(reply.text or ""):
            self._send(chunk_id, llm.ChoiceDelta(role="assistant", content=piece))
        calls = [
            llm.FunctionToolCall(
                name=call.name,
                arguments=json.dumps(call.arguments, separators=(",", ":")),
                call_id=f"call_scripted_{self._number}_{i}",
            )
            for i, call in enumerate(reply.tool_calls)
        ]
        if calls:
            self._send(chunk_id, llm.ChoiceDelta(role="assistant", tool_calls=calls))
        usage = llm.CompletionUsage(
            completion_tokens=USAGE["completion_tokens"],
            prompt_tokens=USAGE["prompt_tokens"],
            total_tokens=USAGE["total_tokens"],
        )
        self._event_ch.send_nowait(llm.ChatChunk(id=chunk_id, usage=usage))

    def _send(self, chunk_id: str, delta: llm.ChoiceDelta) -> None:
        self._event_ch.send_nowait(llm.ChatChunk(id=chunk_id, delta=delta))
