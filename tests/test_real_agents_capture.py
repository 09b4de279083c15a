"""Agents built the way LiveKit's examples build them: AgentTasks, a TaskGroup, judge calls.

What follows an AgentTask belongs to the run in which it completed; settle follows on_enter
across the handovers; the golden holds task_started / task_completed, judgement and llm_error
events; failures livekit only logs fail the test.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest
import yaml
from conftest import Project

from snaprun import yamlio
from snaprun.capture.crosscheck import RunPair, compare_runs
from snaprun.describe import describe_event

LIVEKIT = tuple(int(part) for part in version("livekit-agents").split(".")[:2])

TASKS = """
import asyncio
from dataclasses import dataclass
from importlib.metadata import version

import pytest
from livekit.agents import AgentTask
from livekit.agents.beta.workflows import TaskGroup
from pydantic import BaseModel

LIVEKIT = tuple(int(part) for part in version("livekit-agents").split(".")[:2])
REPLIES = [
    Reply(match="Ask for the name", text="What is your name?"),
    Reply(match="I am Ada", tool_calls=(ToolCall("record_name", {"name": "Ada"}),)),
    Reply(match="Ask for the rating", text="How many stars?"),
    Reply(match="Four", tool_calls=(ToolCall("record_rating", {"stars": 4}),)),
    Reply(match="Ask for a comment", text="Any comment?"),
    Reply(match="Quiet rooms", tool_calls=(ToolCall("record_comment", {"text": "Quiet rooms"}),)),
    Reply(match="Thank the guest", text="Thank you!"),
    Reply(match="Book a table", tool_calls=(ToolCall("book"),)),
    Reply(match="Ask for the e-mail", text="Your e-mail, please?"),
    Reply(match="Check if the following", tool_calls=(
        ToolCall("check_intent", {"success": True, "reason": "It asks for an e-mail."}),
    )),
    # After the tool: the e-mail exchange is merged in after its output.
    Reply(match=lambda body: "booked for" in str(body["messages"]), text="Your table is booked."),
    Reply(
        match="ada@example.com",
        tool_calls=(ToolCall("record_email", {"email": "ada@example.com"}),),
    ),
]


@dataclass
class Rating:
    stars: int


class Comment(BaseModel):
    text: str


class NameTask(AgentTask):
    def __init__(self):
        super().__init__(instructions="You collect the name.")

    async def on_enter(self):
        await self.session.generate_reply(instructions="Ask for the name")

    @function_tool()
    async def record_name(self, name: str) -> None:
        \"\"\"Record the name.\"\"\"
        self.complete(name)


class RatingTask(AgentTask):
    def __init__(self):
        super().__init__(instructions="You collect the rating.")

    async def on_enter(self):
        await self.session.generate_reply(instructions="Ask for the rating")

    @function_tool()
    async def record_rating(self, stars: int) -> None:
        \"\"\"Record the rating.\"\"\"
        self.complete(Rating(stars))


class CommentTask(AgentTask):
    def __init__(self):
        super().__init__(instructions="You collect a comment.")

    async def on_enter(self):
        await self.session.generate_reply(instructions="Ask for a comment")

    @function_tool()
    async def record_comment(self, text: str) -> None:
        \"\"\"Record the comment.\"\"\"
        self.complete(Comment(text=text))


class SurveyAgent(Agent):
    def __init__(self):
        super().__init__(instructions="You run the survey.")

    async def on_enter(self):
        group = TaskGroup(summarize_chat_ctx=False)
        group.add(NameTask, id="name", description="the name")
        group.add(RatingTask, id="rating", description="the rating")
        group.add(CommentTask, id="comment", description="a comment")
        await group
        await self.session.generate_reply(instructions="Thank the guest")


@pytest.mark.skipif(LIVEKIT < (1, 5), reason="TaskGroup across runs needs livekit-agents >= 1.5")
@pytest.mark.snaprun_runresult_check("warn")
async def test_survey(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        # Bounds the settle that never looked past the first on_enter (120 s in the ini).
        async with asyncio.timeout(60):
            await session.start(SurveyAgent())
        await session.run(user_input="I am Ada")
        await session.run(user_input="Four")
        await session.run(user_input="Quiet rooms")
    assert transcript == golden


class EmailTask(AgentTask):
    def __init__(self):
        super().__init__(instructions="You ask for an e-mail address.")

    async def on_enter(self):
        await self.session.generate_reply(instructions="Ask for the e-mail")

    @function_tool()
    async def record_email(self, email: str) -> None:
        \"\"\"Record the e-mail address.\"\"\"
        self.complete(email)


class FrontDesk(Agent):
    def __init__(self):
        super().__init__(instructions="You book tables.")

    @function_tool()
    async def book(self) -> str:
        \"\"\"Book a table.\"\"\"
        email = await EmailTask()
        return f"booked for {email}"


async def test_front_desk(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(FrontDesk())
        result = await session.run(user_input="Book a table")
        await result.expect.contains_message(role="assistant").judge(
            llm, intent="asks for an e-mail address"
        )
        await session.run(user_input="It is ada@example.com")
    assert transcript == golden


class StuckTask(AgentTask):
    def __init__(self):
        super().__init__(instructions="You never finish.")

    async def on_enter(self):
        await asyncio.Event().wait()


class Stuck(Agent):
    def __init__(self):
        super().__init__(instructions="You wait.")

    async def on_enter(self):
        await StuckTask()


@pytest.mark.snaprun_cassette
async def test_stuck(transcript, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Stuck())
"""


def runs_of(golden: dict) -> list[list[str]]:
    """Each run of a golden as the one-line descriptions of its events."""
    return [[describe_event(event) for event in run["events"]] for run in golden["runs"]]


def load(path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture
def tasks_project(project: Project) -> Project:
    project.ini("snaprun_settle_timeout = 120")
    project.write_test(TASKS)
    return project


def test_what_follows_an_agent_task_is_filed_under_the_run_it_completed_in(
    tasks_project: Project,
) -> None:
    result = tasks_project.record("-k", "survey or front_desk")
    result.assert_outcomes(passed=2 if LIVEKIT >= (1, 5) else 1, skipped=int(LIVEKIT < (1, 5)))
    desk = runs_of(load(tasks_project.golden("test_front_desk")))
    assert desk[1:] == [
        [
            'message user "Book a table"',
            "function_call book {}",
            "task_started EmailTask",
            "agent_handoff FrontDesk → EmailTask",
            'message assistant "Your e-mail, please?"',
            'judgement pass "asks for an e-mail address"',
        ],
        [
            'message user "It is ada@example.com"',
            'function_call record_email {"email": "ada@example.com"}',
            'task_completed EmailTask "ada@example.com"',
            'function_call_output record_email ""',
            "agent_handoff EmailTask → FrontDesk",
            'function_call_output book "booked for ada@example.com"',
            'message assistant "Your table is booked."',
        ],
    ]
    judgement = load(tasks_project.golden("test_front_desk"))["runs"][1]["events"][-1]
    assert judgement == {
        "judgement": {
            "intent": "asks for an e-mail address",
            "verdict": "pass",
            "reason": "It asks for an e-mail.",
        }
    }
    if LIVEKIT >= (1, 5):
        assert runs_of(load(tasks_project.golden("test_survey"))) == [
            [
                "agent_handoff (none) → SurveyAgent",
                "task_started TaskGroup",
                "agent_handoff SurveyAgent → TaskGroup",
                "task_started NameTask",
                "agent_handoff TaskGroup → NameTask",
                'message assistant "What is your name?"',
            ],
            [
                'message user "I am Ada"',
                'function_call record_name {"name": "Ada"}',
                'task_completed NameTask "Ada"',
                'function_call_output record_name ""',
                "agent_handoff NameTask → TaskGroup",
                "task_started RatingTask",
                "agent_handoff TaskGroup → RatingTask",
                'message assistant "How many stars?"',
            ],
            [
                'message user "Four"',
                'function_call record_rating {"stars": 4}',
                'task_completed RatingTask {"stars": 4}',
                'function_call_output record_rating ""',
                "agent_handoff RatingTask → TaskGroup",
                "task_started CommentTask",
                "agent_handoff TaskGroup → CommentTask",
                'message assistant "Any comment?"',
            ],
            [
                'message user "Quiet rooms"',
                'function_call record_comment {"text": "Quiet rooms"}',
                'task_completed CommentTask {"text": "Quiet rooms"}',
                'function_call_output record_comment ""',
                "agent_handoff CommentTask → TaskGroup",
                'task_completed TaskGroup {"task_results": {"name": "Ada", "rating": {"stars": 4}, '
                '"c…',
                "agent_handoff TaskGroup → SurveyAgent",
                'message assistant "Thank you!"',
            ],
        ]
        # livekit's RunResult of the last run is done before SurveyAgent goes on: it is the
        # side that misses what the golden has.
        result.stdout.fnmatch_lines(
            [
                '*snaprun: livekit\'s RunResult for run 4 (input "Quiet rooms") is missing '
                "agent_handoff TaskGroup → SurveyAgent, which snaprun captured in that run",
            ]
        )
    replay = tasks_project.run("-k", "survey or front_desk")
    replay.assert_outcomes(passed=2 if LIVEKIT >= (1, 5) else 1, skipped=int(LIVEKIT < (1, 5)))


def test_settle_gives_up_naming_the_on_enter_it_waited_for(tasks_project: Project) -> None:
    tasks_project.ini("snaprun_settle_timeout = 1")
    result = tasks_project.record("-k", "stuck")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*snaprun: session.start() has not settled after 1 s: still waiting for "
            "StuckTask.on_enter. Raise `snaprun_settle_timeout` in your pytest ini if the agent "
            "really needs longer.",
        ]
    )


FAILURES = """
import pytest

REPLIES = [Reply(match="Say hello", text="Hello!")]


class Unscripted(Agent):
    def __init__(self):
        super().__init__(instructions="You talk.")

    async def on_enter(self):
        await self.session.generate_reply(instructions="Say something unscripted")


class Broken(Agent):
    def __init__(self):
        super().__init__(instructions="You break.")

    async def on_enter(self):
        raise ValueError("no menu today")


async def test_unexpected_error(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Unscripted())
    assert transcript == golden


@pytest.mark.snaprun_expect_llm_error
async def test_expected_error(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Unscripted())
    assert transcript == golden


async def test_on_enter_raises(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Broken())
    assert transcript == golden
"""


def test_failed_llm_requests_and_on_enter_errors_fail_the_test(project: Project) -> None:
    project.write_test(FAILURES)
    result = project.record()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*snaprun: this test's capture cannot be compared with its golden:",
            # The error's wording is the openai SDK's: 1.x and 2.x differ.
            '*  an LLM request failed in run 1 (start): llm_error HTTP 400 "Error code: 400 - *"; '
            "if the test expects this, mark it @pytest.mark.snaprun_expect_llm_error",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*snaprun: this test's capture cannot be compared with its golden:",
            "*  Broken.on_enter raised ValueError: no menu today",
        ]
    )
    assert not project.golden("test_unexpected_error").exists()
    error = load(project.golden("test_expected_error"))["runs"][0]["events"][1]
    assert error["llm_error"]["agent"] == "Unscripted"
    assert error["llm_error"]["error"] == "HTTP 400"
    assert "no scripted reply matches" in error["llm_error"]["message"]
    project.run("-k", "expected_error and not unexpected").assert_outcomes(passed=1)


TEST_BODY = """
from livekit.agents import ChatContext

REPLIES = [Reply(match="Hi", text="Hello!"), Reply(match="Again", text="Hello again!")]
INSTRUCTIONS = (
    "You are terse.  \\nYou never apologise, whatever the guest says. \\nThat is all you are."
)


async def test_body_changes(transcript, golden, llm):
    agent = Agent(instructions=INSTRUCTIONS)
    async with AgentSession(llm=llm) as session:
        await session.start(agent)
        await session.run(user_input="Hi")
        chat_ctx = agent.chat_ctx.copy()
        chat_ctx.add_message(role="assistant", content="(noted by the test)")
        await agent.update_chat_ctx(chat_ctx)
        await session.run(user_input="Again")
    assert transcript == golden
"""


def test_changes_the_test_body_makes_get_their_own_run_and_long_text_keeps_its_lines(
    project: Project,
) -> None:
    project.write_test(TEST_BODY)
    project.record().assert_outcomes(passed=1)
    golden = project.golden("test_body_changes")
    assert [run["kind"] for run in load(golden)["runs"]] == ["start", "run", "test_body", "run"]
    text = golden.read_text(encoding="utf-8")
    assert (
        '    text: "You are terse.  \\n\\\n'
        "      You never apologise, whatever the guest says. \\n\\\n"
        '      That is all you are."\n'
    ) in text
    project.run().assert_outcomes(passed=1)


def test_an_event_livekit_files_under_another_run_is_one_line_naming_both() -> None:
    handoff = {"agent_handoff": {"from": "NameTask", "to": "TaskGroup"}}
    reply = {"message": {"role": "assistant", "text": "Hi"}}
    runs = [
        RunPair("run 1 (start)", [handoff], []),
        RunPair('run 2 (input "Ada")', [reply], [handoff, reply, reply]),
    ]
    assert compare_runs(runs) == [
        'livekit\'s RunResult for run 2 (input "Ada") holds agent_handoff NameTask → TaskGroup, '
        "which snaprun captured in run 1 (start), the run whose call caused it",
        'livekit\'s RunResult for run 2 (input "Ada") holds message assistant "Hi" 2 times; '
        "snaprun captured it 1 time in that run",
    ]


def test_multi_line_text_with_trailing_spaces_is_written_one_line_per_line() -> None:
    data = {
        "text": "Be brief, and answer only what the guest asked of you, nothing more.  \n"
        ' "quoted" \\ \n\nend '
    }
    text = yamlio.dump(data)
    assert text == (
        'text: "Be brief, and answer only what the guest asked of you, nothing more.  \\n\\\n'
        '  \\ \\"quoted\\" \\\\ \\n\\\n'
        "  \\n\\\n"
        '  end "\n'
    )
    short = {"text": "a\nb "}  # a short one reads best on its one line
    assert yamlio.dump(short) == 'text: "a\\nb "\n'
    assert yamlio.load(text) == data
