"""cassettes end to end: record once against the scripted server, replay offline, exactly once."""

from __future__ import annotations

import re

import pytest
from conftest import Project

GREETER = """
REPLIES = [
    Reply(match="Greet the user", text="Hello!"),
    Reply(match="What time is it?", text="It is noon."),
]


class Greeter(Agent):
    def __init__(self):
        super().__init__(instructions="INSTRUCTIONS")

    async def on_enter(self):
        await self.session.generate_reply(instructions="Greet the user")


async def test_greeting(transcript, golden, llm):
    async with AgentSession(llm=llm) as session:
        await session.start(Greeter())
        await session.run(user_input="What time is it?")
    assert transcript == golden
"""

# Every socket connection the project makes, from Python's audit hook: nothing is patched.
AUDIT = """
import json, os, sys

CONNECTIONS = []


def _audit(event, args):
    if event == "socket.connect":
        CONNECTIONS.append(repr(args[1]))


sys.addaudithook(_audit)


def pytest_sessionfinish(session):
    with open(os.environ["CONNECTIONS_FILE"], "w") as file:
        json.dump(CONNECTIONS, file)
"""


def greeter(project: Project, instructions: str = "You are a greeter.") -> None:
    project.write_test(GREETER.replace("INSTRUCTIONS", instructions))


def test_replay_runs_offline_with_no_connection_at_all(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    greeter(project)
    project.record().assert_outcomes(passed=1)
    golden = project.golden("test_greeting").read_bytes()
    cassette = project.cassette("test_greeting")
    assert cassette.exists()

    with open(project.path / "conftest.py", "a") as conftest:
        conftest.write(AUDIT)
    connections = tmp_path / "connections.json"
    monkeypatch.setenv("CONNECTIONS_FILE", str(connections))
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    project.run().assert_outcomes(passed=1)  # the scripted server is not running
    assert connections.read_text() == "[]"
    assert project.golden("test_greeting").read_bytes() == golden


def test_a_missing_cassette_names_the_path_and_the_command(project: Project) -> None:
    greeter(project)
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*snaprun: cassette */cassettes/test_agent/test_greeting.yaml does not exist*",
            "*pytest --record-mode=once --snapshot-update 'test_agent.py::test_greeting'*",
        ]
    )


def test_a_changed_prompt_fails_fast_in_one_screen(project: Project) -> None:
    greeter(project)
    project.record().assert_outcomes(passed=1)
    greeter(project, instructions="You are a grumpy greeter.")
    result = project.run()
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    failure = output[output.index(" test_greeting ") : output.index("short test summary")]
    # snaprun's explanation is the report, first and once, with the diff and the command.
    result.stdout.fnmatch_lines(
        [
            "*_ test_greeting _*",
            "snaprun: request not in cassette cassettes/test_agent/test_greeting.yaml (record "
            "mode 'none'), so it was refused instead of reaching the network:",
            # (livekit-agents 1.3 sends the instructions and the on_enter's as one message)
            "  POST http://127.0.0.1:*/v1/chat/completions (last message system: *Greet the user')",
            "*-*You are a greeter.*",
            "*+*You are a grumpy greeter.*",
            "If the change is intended, record the cassette again:",
            "  pytest --record-mode=rewrite --snapshot-update 'test_agent.py::test_greeting'",
            "Refused as well, because they carry the answer to a refused request:",
            "  POST http://127.0.0.1:*/v1/chat/completions (last message user: 'What time is it?')",
            "*Error in _llm_inference_task (snaprun refused the request: the test's report says*",
            "FAILED test_agent.py::test_greeting - snaprun: request not in cassette*",
        ]
    )
    # Refused without a retry (livekit retries a connection error, each retry one more
    # refusal), named once, and livekit's and the SDK's tracebacks are left out.
    assert failure.count("POST http://127.0.0.1:") == 2  # the refused one, and its follow-up
    assert failure.count("request not in cassette") == 1
    assert "more unmatched" not in failure
    assert "Traceback" not in output and "APIConnectionError" not in output
    assert not re.search(r"test_agent\.py:\d+: ", output)  # no traceback entry
    assert len(failure.splitlines()) <= 30
    # With -v, what the test raised follows the explanation.
    verbose = project.run("-v").stdout.str()
    explanation = verbose.index("snaprun: request not in cassette")
    assert explanation < verbose.index("What the test raised on the way (shown with -v):")
    # (livekit's APIConnectionError on 1.8, snaprun's refusal to compare on 1.3)
    assert re.search(r"test_agent\.py:\d+: ", verbose[explanation:])


def test_an_unplayed_interaction_fails_naming_it(project: Project) -> None:
    greeter(project)
    project.record().assert_outcomes(passed=1)
    project.write_test(
        GREETER.replace("INSTRUCTIONS", "You are a greeter.").replace(
            '        await session.run(user_input="What time is it?")\n', ""
        )
    )
    result = project.run("--snapshot-update")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*recorded interaction #2 of 2 in *test_greeting.yaml was never replayed*"]
    )


def test_a_request_made_twice_fails(project: Project) -> None:
    project.write_test(PLAIN_CLIENT.replace("TIMES", "1"))
    project.run("--record-mode=once").assert_outcomes(passed=1)
    project.write_test(PLAIN_CLIENT.replace("TIMES", "2"))
    result = project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "snaprun: request not in cassette cassettes/test_agent/test_plain_client.yaml *",
            "  POST http://127.0.0.1:*/v1/chat/completions (last message user: 'ping')",
            "It is identical to recorded interaction #1, which was already replayed: each "
            "recorded interaction is replayed exactly once, and this test makes that request "
            "more often than when it was recorded.",
        ]
    )
    # An expected failure does not excuse a refusal: replay itself is broken.
    xfail = '@pytest.mark.xfail(reason="fails for another reason")\n'
    project.write_test(PLAIN_CLIENT.replace("TIMES", "2").replace("@pytest", xfail + "@pytest"))
    result = project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAILED test_agent.py::test_plain_client - snaprun: request*"])


def test_an_interaction_removed_from_the_cassette_fails_naming_the_request(
    project: Project,
) -> None:
    greeter(project)
    project.record().assert_outcomes(passed=1)
    cassette = project.cassette("test_greeting")
    text = cassette.read_text()
    second = text.index("\n- request:", text.index("- request:") + 1)
    cassette.write_text(text[:second] + "\n")
    result = project.run()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*What time is it?*"])


def test_a_secret_never_reaches_the_cassette(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-" + "s3cr3t" * 5
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    greeter(project)
    # The LLM authenticates with the real key, as a user's would.
    conftest = project.path / "conftest.py"
    conftest.write_text(conftest.read_text().replace(', api_key="sk-test")', ")"))
    project.record().assert_outcomes(passed=1)
    assert secret not in project.cassette("test_greeting").read_text()
    assert "authorization" not in project.cassette("test_greeting").read_text().lower()


def test_recording_refuses_to_write_a_secret(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-" + "l34k" * 6
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    # The agent leaks the key into its prompt: it would be in the recorded request body.
    greeter(project, instructions=f"You are a greeter. Key: {secret}")
    result = project.record()
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        ["*refusing to write cassette *test_greeting.yaml: it would contain the value of*"]
    )
    assert secret not in result.stdout.str()
    assert not project.cassette("test_greeting").exists()
    assert not project.golden("test_greeting").exists()
    assert not (project.path / "__snapshots__").exists()  # no empty folder left behind
    assert "generated" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "snaprun: these goldens were left as they were, because their tests did not pass:",
            "  __snapshots__/test_agent/test_greeting.yaml (not written)",
        ]
    )


def test_a_failing_test_keeps_its_old_cassette(project: Project) -> None:
    greeter(project)
    project.record().assert_outcomes(passed=1)
    cassette = project.cassette("test_greeting")
    before = cassette.read_bytes()
    project.write_test(
        GREETER.replace("INSTRUCTIONS", "You are a new greeter.")
        + "    raise RuntimeError('after the assertion')\n"
    )
    project.run("--record-mode=rewrite", "--snapshot-update").assert_outcomes(failed=1)
    assert cassette.read_bytes() == before


def test_a_truncated_cassette_names_the_file_and_the_fix(project: Project) -> None:
    greeter(project)
    project.record().assert_outcomes(passed=1)
    cassette = project.cassette("test_greeting")
    cassette.write_text(cassette.read_text()[:300])
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*snaprun: cassette *test_greeting.yaml is corrupt*",
            "*pytest --record-mode=rewrite --snapshot-update 'test_agent.py::test_greeting'*",
        ]
    )


# A test of the plain openai SDK, making one request TIMES times.
PLAIN_CLIENT = """
import openai as openai_sdk
import pytest

REPLIES = [Reply(match="ping", text="pong")]


@pytest.mark.snaprun_cassette
async def test_plain_client(llm):
    from conftest import PORT

    client = openai_sdk.AsyncOpenAI(base_url=f"http://127.0.0.1:{PORT}/v1", api_key="sk-test")
    for _ in range(TIMES):
        answer = await client.chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "ping"}]
        )
        assert answer.choices[0].message.content == "pong"
"""


def test_the_marker_gives_a_cassette_without_a_transcript(project: Project) -> None:
    project.write_test(PLAIN_CLIENT.replace("TIMES", "1"))
    project.run("--record-mode=once").assert_outcomes(passed=1)
    assert project.cassette("test_plain_client").exists()
    project.run().assert_outcomes(passed=1)
