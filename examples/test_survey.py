"""A guest survey: a TaskGroup of three AgentTasks, each greeting on enter, judged at the end."""

from dataclasses import dataclass
from importlib.metadata import version

import pytest
from livekit.agents import Agent, AgentSession, AgentTask
from livekit.agents.beta.workflows import TaskGroup
from livekit.agents.llm import function_tool
from pydantic import BaseModel

from snaprun.testing import Reply, ToolCall

LIVEKIT = tuple(int(part) for part in version("livekit-agents").split(".")[:2])

REPLIES = [
    Reply(match="Ask the guest for their name", text="Welcome! What is your name?"),
    Reply(match="My name is Ada", tool_calls=(ToolCall("record_name", {"name": "Ada"}),)),
    Reply(match="Ask how the stay was", text="How would you rate your stay, from 1 to 5?"),
    Reply(match="Five stars", tool_calls=(ToolCall("record_rating", {"stars": 5}),)),
    Reply(match="Ask for a comment", text="Anything we could do better?"),
    Reply(
        match="More towels",
        tool_calls=(ToolCall("record_comment", {"text": "More towels", "follow_up": False}),),
    ),
    Reply(match="Conversation to summarize", text="Ada rated the stay 5 and wants more towels."),
    Reply(match="Thank the guest", text="Thank you, Ada! We will bring more towels."),
    Reply(
        match="Check if the following message fulfills",
        tool_calls=(ToolCall("check_intent", {"success": True, "reason": "It asks for 1 to 5."}),),
    ),
]


@dataclass
class Rating:
    stars: int


class Comment(BaseModel):
    text: str
    follow_up: bool


class NameTask(AgentTask[str]):
    def __init__(self) -> None:
        super().__init__(instructions="You collect the guest's name.")

    async def on_enter(self) -> None:
        await self.session.generate_reply(instructions="Ask the guest for their name")

    @function_tool()
    async def record_name(self, name: str) -> None:
        """Record the guest's name."""
        self.complete(name)


class RatingTask(AgentTask[Rating]):
    def __init__(self) -> None:
        super().__init__(instructions="You collect a rating of the stay.")

    async def on_enter(self) -> None:
        await self.session.generate_reply(instructions="Ask how the stay was")

    @function_tool()
    async def record_rating(self, stars: int) -> None:
        """Record the rating, 1 to 5 stars."""
        self.complete(Rating(stars))


class CommentTask(AgentTask[Comment]):
    def __init__(self) -> None:
        super().__init__(instructions="You collect a comment.")

    async def on_enter(self) -> None:
        await self.session.generate_reply(instructions="Ask for a comment")

    @function_tool()
    async def record_comment(self, text: str, follow_up: bool) -> None:
        """Record the guest's comment and whether they want a follow-up."""
        self.complete(Comment(text=text, follow_up=follow_up))


class SurveyAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You run the guest survey of Hotel Snaprun.")

    async def on_enter(self) -> None:
        survey = TaskGroup()
        survey.add(NameTask, id="name", description="The guest's name")
        survey.add(RatingTask, id="rating", description="The rating of the stay")
        survey.add(CommentTask, id="comment", description="The guest's comment")
        await survey
        await self.session.generate_reply(instructions="Thank the guest")


# livekit's RunResult for the last run is done as soon as the TaskGroup's on_enter returns, before
# SurveyAgent, which awaited the group, takes over again and thanks the guest: the cross-check
# names the two events it lacks, and the golden has them.
@pytest.mark.snaprun_runresult_check("warn")
@pytest.mark.skipif(
    LIVEKIT < (1, 5),
    reason="livekit-agents 1.3.12 alone fails this survey (the TaskGroup ends, 'trying to generate "
    "reply without an LLM model'); upstream reworked AgentTasks awaited in on_enter in 1.5.3",
)
async def test_survey(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(SurveyAgent())
        result = await session.run(user_input="My name is Ada")
        await result.expect.contains_message(role="assistant").judge(
            llm, intent="asks for a rating of the stay"
        )
        await session.run(user_input="Five stars")
        await session.run(user_input="More towels")
    assert transcript == golden
