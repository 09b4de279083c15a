"""reliability end to end: nothing lost, nothing leaked, every bad input a clear error whose fix
command, run exactly as printed, fixes it. One throwaway project per class of failure."""

from __future__ import annotations

import base64
import re
import shlex

import pytest
from conftest import Project

GREETER = """
import os

import pytest

REPLIES = [
    Reply(match="Greet the user", text="Hello!"),
    Reply(match="Hi", text="Hi there."),
    Reply(match="Echo", text=os.environ.get("ECHOED", "nothing")),
]


class Greeter(Agent):
    def __init__(self, instructions="You are a greeter."):
        super().__init__(instructions=instructions)

    async def on_enter(self):
        await self.session.generate_reply(instructions="Greet the user")


async def greet(llm, text="Hi", instructions="You are a greeter."):
    async with AgentSession(llm=llm) as session:
        await session.start(Greeter(instructions))
        await session.run(user_input=text)
"""

GREETING_TEST = """
async def test_NAME(transcript, golden, llm):
    await greet(llm)
    assert transcript == golden
"""


def greeting_module(project: Project, name: str, tests: list[str], head: str = "") -> None:
    body = "".join(GREETING_TEST.replace("NAME", test) for test in tests)
    project.write_test(GREETER + head + body, name=name)


# ---- 1. nothing lost ---------------------------------------------------------------------


def test_nothing_is_lost_by_an_interrupt_a_skipped_module_or_a_late_failure(
    project: Project,
) -> None:
    greeting_module(project, "test_agent", ["one", "two"])
    greeting_module(project, "test_other", ["three"])
    recorded = project.record()
    recorded.assert_outcomes(passed=3)
    recorded.stdout.fnmatch_lines(["snaprun: wrote 3 goldens and 3 cassettes."])
    files = {
        path: path.read_bytes()
        for test, module in (("one", "test_agent"), ("two", "test_agent"), ("three", "test_other"))
        for path in (
            project.golden(f"test_{test}", module),
            project.cassette(f"test_{test}", module),
        )
    }

    # A module skipped at import: its goldens are not unused.
    other = project.path / "test_other.py"
    source = other.read_text()
    other.write_text("import pytest\npytest.skip('no GPU', allow_module_level=True)\n" + source)
    project.run("--snapshot-update").assert_outcomes(passed=2, skipped=1)
    other.write_text(source)

    # Ctrl-C (a KeyboardInterrupt in the first test): the goldens of the tests not yet run stay.
    stop = project.write_test("def test_stop():\n    raise KeyboardInterrupt\n", name="test_0")
    result = project.pytester.runpytest(
        "-p", "no:cacheprovider", "--snapshot-update", no_reraise_ctrlc=True
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    stop.unlink()
    assert {path: path.read_bytes() for path in files} == files

    # A test that passes its assertion and fails in teardown writes neither file: a changed
    # reply re-recorded would otherwise leave a new cassette next to the old golden.
    greeting_module(
        project,
        "test_agent",
        ["one", "two"],
        head="""
@pytest.fixture
def breaks_at_teardown():
    yield
    raise RuntimeError("teardown failed")
""",
    )
    agent = project.path / "test_agent.py"
    agent.write_text(
        agent.read_text()
        .replace("test_one(transcript", "test_one(breaks_at_teardown, transcript")
        .replace('text="Hi there."', 'text="Hi again."')
    )
    run = project.pytester.inline_run(
        "-p", "no:cacheprovider", "--record-mode=rewrite", "--snapshot-update", "test_agent.py"
    )
    run.assertoutcome(passed=2, failed=1)  # test_one's call passed, its teardown failed
    # What the summary should count: the files written, not the assertions made.
    from snaprun.plugin import written_counts

    config = run.getcall("pytest_sessionfinish").session.config
    assert written_counts(config) == {"goldens": 1, "cassettes": 1}
    assert project.golden("test_one").read_bytes() == files[project.golden("test_one")]
    assert project.cassette("test_one").read_bytes() == files[project.cassette("test_one")]
    assert project.golden("test_two").read_bytes() != files[project.golden("test_two")]
    assert project.cassette("test_two").read_bytes() != files[project.cassette("test_two")]


def test_unwritable_and_shared_folders_are_clear_errors(project: Project) -> None:
    greeting_module(project, "test_agent", ["one"])
    # A file where the golden's folder should be: the write fails, naming the file; nothing of
    # the test is written, and pytest's summary is still printed.
    (project.path / "__snapshots__").mkdir()
    (project.path / "__snapshots__" / "test_agent").write_text("in the way\n")
    result = project.record()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*snaprun: cannot write the golden __snapshots__/test_agent/test_one.yaml of "
            "test_agent.py::test_one: *Nothing of this test was written*",
            "*= 1 passed, 1 error in *",
        ]
    )
    assert not project.cassette("test_one").exists()
    assert [p.name for p in project.path.rglob(".*.tmp")] == []

    (project.path / "__snapshots__" / "test_agent").unlink()
    project.ini("snaprun_cassette_dir = __snapshots__")
    result = project.record()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*snaprun: ini keys snaprun_snapshot_dir (__snapshots__) and snaprun_cassette_dir "
            "(__snapshots__) are the same folder: a test's golden and its cassette have the same "
            "file name*"
        ]
    )
    assert not project.golden("test_one").exists()


# ---- 2. secrets ---------------------------------------------------------------------------


def test_no_credential_is_written_by_value_or_encoded(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A credential no provider table lists, named like one: found by its name's shape.
    deepgram = "dg-" + "7f3a9c1e" * 4
    monkeypatch.setenv("DEEPGRAM_API_KEY", deepgram)
    monkeypatch.setenv("ECHOED", f"Your key is {deepgram}")
    listed = "sk-" + "Zq8vX2" * 6
    monkeypatch.setenv("OPENAI_API_KEY", listed)
    encoded = base64.b64encode(f"user:{listed}".encode()).decode()
    monkeypatch.setenv("MY_APP_TOKEN", "tok-" + "41c9" * 5)
    project.write_test(
        GREETER
        + f"""
async def test_echoed_by_the_server(transcript, golden, llm):
    await greet(llm, text="Echo")
    assert transcript == golden


async def test_base64_in_the_prompt(transcript, golden, llm):
    await greet(llm, instructions="Send the header Basic {encoded}")
    assert transcript == golden


class Teller(Agent):
    def __init__(self):
        super().__init__(instructions="You tell.")

    async def on_enter(self):
        self.session.say(os.environ["MY_APP_TOKEN"])


async def test_said_by_the_agent(transcript, golden, llm):
    # Said from on_enter: on livekit-agents 1.3.12 a `say` from the test body after start
    # never finished here (noted for the next session).
    async with AgentSession(llm=llm) as session:
        await session.start(Teller())
    assert transcript == golden
"""
    )
    result = project.record()
    result.assert_outcomes(passed=3, errors=3)
    result.stdout.fnmatch_lines_random(
        [
            "*refusing to write cassette *test_echoed_by_the_server.yaml: it would contain the "
            "value of $DEEPGRAM_API_KEY (in the body of response #2)*",
            "*refusing to write cassette *test_base64_in_the_prompt.yaml: it would contain the "
            "value of $OPENAI_API_KEY (in the body of request #1)*",
            "*refusing to write the golden of test_agent.py::test_said_by_the_agent: the value "
            "of $MY_APP_TOKEN found in golden __snapshots__/test_agent/"
            "test_said_by_the_agent.yaml*",
        ]
    )
    written = [path for path in project.path.rglob("*.yaml") if path.is_file()]
    assert written == []
    for secret in (deepgram, listed, encoded):
        assert secret not in result.stdout.str()


# ---- 3. corrupt goldens and cassettes -----------------------------------------------------

CORRUPTIONS = {
    "syntax": lambda text: text + '  - "unterminated\n',
    "a_list": lambda text: "- just\n- a list\n",
    "runs_5": lambda text: "runs: 5\n",
    "binary": lambda text: "\x00\x01\x02",
    "empty": lambda text: "",
    "comments": lambda text: "# nothing but a comment\n",
    "truncated": lambda text: text[: text.index("text: Hi there.")],
    "cut_mid_line": lambda text: text[:-7],
    "duplicate_key": lambda text: text + "runs: []\n",
    "bom": lambda text: "\ufeff" + text,
}


def test_every_corrupt_golden_names_a_fix_that_works(project: Project) -> None:
    greeting_module(project, "test_agent", list(CORRUPTIONS))
    project.record().assert_outcomes(passed=len(CORRUPTIONS))
    originals = {name: project.golden(f"test_{name}").read_bytes() for name in CORRUPTIONS}
    for name, corrupt in CORRUPTIONS.items():
        text = originals[name].decode()
        project.golden(f"test_{name}").write_bytes(corrupt(text).encode("utf-8", "surrogatepass"))
    result = project.run()
    result.assert_outcomes(errors=len(CORRUPTIONS))
    output = result.stdout.str()
    found = re.findall(r"Regenerate it with:\n +(pytest --snapshot-update '\S+')", output)
    commands = list(dict.fromkeys(found))
    assert len(commands) == len(CORRUPTIONS), output
    for name in CORRUPTIONS:
        assert (
            f"snaprun: the golden __snapshots__/test_agent/test_{name}.yaml is corrupt (" in output
        )
    for command in commands:
        # Run exactly as printed: it replays the cassette and writes the golden again.
        project.run(*shlex.split(command)[1:]).assert_outcomes(passed=1)
    assert {name: project.golden(f"test_{name}").read_bytes() for name in CORRUPTIONS} == originals
    project.run().assert_outcomes(passed=len(CORRUPTIONS))


def test_a_corrupt_cassette_and_a_recorded_error_are_explained(project: Project) -> None:
    greeting_module(project, "test_agent", ["twice", "failed"])
    project.record().assert_outcomes(passed=2)
    twice = project.cassette("test_twice")
    original = twice.read_text()
    twice.write_text(original + "interactions: []\n")
    # A provider that failed while recording: its 500 is in the cassette.
    failed = project.cassette("test_failed")
    failed.write_text(failed.read_text().replace("status: 200", "status: 500", 1))
    result = project.run()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines_random(
        [
            "*snaprun: cassette *twice.yaml is corrupt: invalid YAML: while reading a mapping, "
            "duplicate key 'interactions' (line *",
            "*It repeats recorded interaction #1, whose recorded response is an error "
            "(HTTP 500*): the client retried the failed request*",
        ]
    )
    command = re.search(
        r"(pytest --record-mode=rewrite --snapshot-update '\S+test_twice')", result.stdout.str()
    )
    assert command is not None
    project.run(*shlex.split(command.group(1))[1:]).assert_outcomes(passed=1)
    project.run("test_agent.py::test_twice").assert_outcomes(passed=1)


# ---- 4. file names --------------------------------------------------------------------------


def test_colliding_ids_are_an_error_and_long_ids_fit(project: Project) -> None:
    long_id = "x" * 300
    project.write_test(
        GREETER
        + f"""
@pytest.mark.parametrize("word", ["a", "b"], ids=["{long_id}", "{long_id[:-1]}y"])
async def test_long(transcript, golden, llm, word):
    await greet(llm)
    assert transcript == golden
"""
    )
    project.record().assert_outcomes(passed=2)
    names = sorted(path.name for path in (project.path / "__snapshots__/test_agent").iterdir())
    assert len(names) == 2 and all(len(name.encode()) <= 255 for name in names)
    assert sorted(path.name for path in (project.path / "cassettes/test_agent").iterdir()) == names
    project.run().assert_outcomes(passed=2)  # the same names, found again
    project.write_test(
        GREETER
        + """
@pytest.mark.parametrize("where", ["a/b", "ab"])
async def test_place(transcript, golden, llm, where):
    await greet(llm)
    assert transcript == golden
"""
    )
    result = project.record()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "snaprun: tests test_agent.py::test_place[a/b] and test_agent.py::test_place[ab] would "
        "share one golden and one cassette: their ids differ only in characters a file name "
        "cannot hold"
    ) in result.stderr.str()


# ---- 5. options -----------------------------------------------------------------------------

BAD_OPTIONS = {
    "snaprun_settle_timeout = -5": "ini key snaprun_settle_timeout must be a number of seconds "
    "greater than 0 (e.g. 30), got '-5'",
    "snaprun_settle_timeout = nan": "ini key snaprun_settle_timeout must be a number of seconds "
    "greater than 0 (e.g. 30), got 'nan'",
    "snaprun_snapshot_dir = ..": "ini key snaprun_snapshot_dir must be a folder inside the "
    "rootdir, relative to it (e.g. __snapshots__), got '..'",
    "snaprun_secret_env_vars = MY KEY": "ini key snaprun_secret_env_vars lists environment "
    "variable names (letters, digits and _), one a line; got 'MY KEY'",
}


def test_bad_options_and_conflicting_plugins_say_what_to_do(project: Project) -> None:
    greeting_module(project, "test_agent", ["one"])
    for line, message in BAD_OPTIONS.items():
        project.ini(line)
        result = project.run()
        assert result.ret == pytest.ExitCode.USAGE_ERROR, line
        result.stderr.fnmatch_lines([f"*snaprun: {message}*"])
    project.ini()
    result = project.run("-p", "no:recording")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*snaprun: test_agent.py::test_one uses a cassette, which needs pytest-recording*"
            "Remove -p no:recording from the command line or addopts.*"
        ]
    )
    agent = project.path / "test_agent.py"
    agent.write_text(
        agent.read_text().replace("async def test_one", "@pytest.mark.vcr\nasync def test_one")
    )
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*snaprun: test_agent.py::test_one has @pytest.mark.vcr, but snaprun already records*"]
    )
