"""LLMs to record against: real servers on 127.0.0.1 that answer from a script.

A test records its cassette once against a real provider, or against one of these when no
provider is at hand (a developer's machine without a key, snaprun's own tests)::

    from snaprun.testing import Reply, ScriptedServer, ToolCall

    with ScriptedServer([Reply(match="weather", text="Sunny.")]) as server:
        llm = openai.LLM(model="gpt-4.1", base_url=server.base_url, api_key="sk-test")

:class:`ScriptedServer` speaks OpenAI's chat-completions protocol (real SSE streaming, tool
calls), so the whole client stack runs as it would against the provider.
"""

from snaprun.testing.scripted_server import Reply, ScriptedServer, ToolCall

__all__ = ["Reply", "ScriptedServer", "ToolCall"]
