"""The user's report as a golden test: every event of both runs, exactly once, in order."""

from livekit.agents import AgentSession

from .seed_agents import EnterAgent


async def test_ice_cream(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(EnterAgent(), capture_run=True)
        await session.run(user_input="Give me all ice cream types.")
    assert transcript == golden
