"""A drive-thru: a menu-built tool schema, and a checkout tool that awaits an e-mail AgentTask."""

import json
from typing import Annotated

from livekit.agents import Agent, AgentSession, AgentTask, RunContext
from livekit.agents.llm import function_tool
from pydantic import Field

from snaprun.testing import Reply, ToolCall

# The app keeps its menu as a set. The schema lists it sorted: a set's order changes with each
# process's hash seed, and so would the request, until snaprun compares enums as sets.
MENU = {"burger", "cola", "fries"}
SIZES = {"small", "large"}

REPLIES = [
    Reply(match="Greet the customer", text="Welcome to Snaprun Drive-Thru! What can I get you?"),
    Reply(
        match="A large cola",
        tool_calls=(ToolCall("add_item", {"item": "cola", "size": "large"}),),
    ),
    Reply(match="Added a large cola", text="One large cola. Anything else?"),
    Reply(match="That's all", tool_calls=(ToolCall("checkout"),)),
    Reply(match="Ask for the e-mail address", text="Which e-mail should get the receipt?"),
    # The reply after checkout: the e-mail exchange was merged in after the tool's output.
    Reply(
        match=lambda body: "receipt goes to" in json.dumps(body["messages"]),
        text="Thanks! Please drive to the window.",
    ),
    Reply(
        match="ada@example.com",
        tool_calls=(ToolCall("record_email", {"email": "ada@example.com"}),),
    ),
]


class EmailTask(AgentTask[str]):
    def __init__(self) -> None:
        super().__init__(instructions="You ask for the customer's e-mail address.")

    async def on_enter(self) -> None:
        await self.session.generate_reply(instructions="Ask for the e-mail address")

    @function_tool()
    async def record_email(self, email: str) -> None:
        """Record the customer's e-mail address."""
        self.complete(email)


class DriveThru(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You take orders at the Snaprun drive-thru.")
        self.order: list[str] = []

    async def on_enter(self) -> None:
        await self.session.generate_reply(instructions="Greet the customer")

    @function_tool()
    async def add_item(
        self,
        context: RunContext,
        item: Annotated[str, Field(json_schema_extra={"enum": sorted(MENU)})],
        size: Annotated[str, Field(json_schema_extra={"enum": sorted(SIZES)})],
    ) -> str:
        """Add an item of the menu to the order."""
        self.order.append(f"{size} {item}")
        return f"Added a {size} {item}"

    @function_tool()
    async def checkout(self, context: RunContext) -> str:
        """Place the order once the customer has everything."""
        email = await EmailTask()
        return f"Order of {', '.join(self.order)} placed; the receipt goes to {email}"


async def test_drive_thru(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(DriveThru())
        await session.run(user_input="A large cola, please")
        await session.run(user_input="That's all")
        await session.run(user_input="It's ada@example.com")
    assert transcript == golden
