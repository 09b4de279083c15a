"""The scenario of the user report that started snaprun (livekit/agents#4662), unchanged."""

from __future__ import annotations

from typing import Any

from livekit.agents import Agent, AgentSession, ChatContext, RunContext
from livekit.agents.llm import function_tool


async def append_message_to_chat_ctx(session: AgentSession[Any], content: str) -> None:
    chat_ctx = session.current_agent.chat_ctx.copy()
    chat_ctx.add_message(role="system", content=content)
    await session.current_agent.update_chat_ctx(chat_ctx)


class EnterAgent(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions="You are a helpful assistant. Greet the user. Always only call the "
            "ice_cream_types tool to get the ice cream types."
        )

    async def on_enter(self) -> None:
        await append_message_to_chat_ctx(
            session=self.session, content="ENTER AGENT: system message"
        )
        await self.session.say("ENTER AGENT: Say something deterministic")
        await self.session.generate_reply(instructions="ENTER AGENT: Say 'Say something generated'")

    @function_tool()
    async def ice_cream_types(self, context: RunContext[Any]):
        """Get all the ice cream types"""
        return SecondAgent(chat_ctx=self.chat_ctx)


class SecondAgent(Agent):
    def __init__(self, chat_ctx: ChatContext) -> None:
        super().__init__(instructions="Always follow instructions.", chat_ctx=chat_ctx)

    async def on_enter(self) -> None:
        await append_message_to_chat_ctx(
            session=self.session, content="SECOND AGENT: system message"
        )
        await self.session.say("SECOND AGENT: Say something deterministic")
        await self.session.generate_reply(
            instructions="Say 'SECOND AGENT: Say something generated' and DO NOT LIST ICE CREAM "
            "TYPES."
        )
