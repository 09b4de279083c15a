"""A concierge that looks things up with tools, says what it is doing, and narrows its tools."""

from livekit.agents import Agent, AgentSession, RunContext
from livekit.agents.llm import ToolError, function_tool

from snaprun.testing import Reply, ToolCall

REPLIES = [
    Reply(match="Welcome the guest", text="Welcome to Hotel Snaprun!\nHow may I help?"),
    Reply(
        match="Is the spa open, and the pool?",
        tool_calls=(
            ToolCall("opening_hours", {"place": "spa"}),
            ToolCall("opening_hours", {"place": "pool"}),
        ),
    ),
    Reply(match="closed for repairs", text="The spa is open 9-18; the pool is closed for repairs."),
    Reply(match="Book me a massage", tool_calls=(ToolCall("book", {"treatment": "massage"}),)),
    Reply(match="no therapist", text="I'm sorry, no therapist is free today."),
]


class Concierge(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You are the concierge of Hotel Snaprun.")

    async def on_enter(self) -> None:
        await self.session.generate_reply(instructions="Welcome the guest")

    @function_tool()
    async def opening_hours(self, context: RunContext, place: str) -> str:
        """Opening hours of a place in the hotel."""
        return "9-18" if place == "spa" else "closed for repairs"

    @function_tool()
    async def book(self, context: RunContext, treatment: str) -> str:
        """Book a spa treatment."""
        await context.session.say("Let me check the spa's calendar.")
        await self.update_instructions("You are the concierge. Bookings are closed today.")
        raise ToolError("no therapist is free today")


async def test_concierge(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Concierge())
        await session.run(user_input="Is the spa open, and the pool?")
        await session.run(user_input="Book me a massage")
    assert transcript == golden
