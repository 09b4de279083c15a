"""Declared extension points end to end: syrupy's exclude/matcher on `golden`, pytest-recording's
`pytest_recording_configure`, snaprun's own normalisation hooks, and the check of the livekit
internals snaprun reads."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import Project

GREETER = """
from syrupy.filters import props
from syrupy.matchers import path_type

TODAY = "2026-12-01"

REPLIES = [
    Reply(match="Greet the user", text="Hello!"),
    Reply(match="What day is it?", text=f"It is {TODAY}."),
]


class Greeter(Agent):
    def __init__(self):
        super().__init__(instructions=f"You are a greeter. Today is {TODAY}.")

    async def on_enter(self):
        await self.session.generate_reply(instructions="Greet the user")


async def converse(llm):
    session = AgentSession(llm=llm)
    async with session:
        await session.start(Greeter())
        await session.run(user_input="What day is it?")
"""


def load(path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def add_to_conftest(project: Project, source: str) -> None:
    with open(project.path / "conftest.py", "a", encoding="utf-8") as conftest:
        conftest.write(textwrap.dedent(source))


def test_golden_honours_syrupy_exclude_and_matcher_and_refuses_what_breaks_it(
    project: Project,
) -> None:
    project.write_test(
        GREETER
        + """
async def test_filtered(transcript, golden, llm):
    await converse(llm)
    reply = path_type({"runs.1.events.1.message.text": (str,)}, replacer=lambda d, m: "<reply>")
    assert transcript == golden(exclude=props("source"), matcher=reply)


async def test_no_runs(transcript, golden, llm):
    await converse(llm)
    assert transcript == golden(exclude=props("runs"))


async def test_not_plain_data(transcript, golden, llm):
    await converse(llm)
    a_set = lambda data, path: {1} if path[-1:] == (("input", str),) else data
    assert transcript == golden(matcher=a_set)
"""
    )
    result = project.record()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*UnusableGolden: snaprun: golden(exclude=..., include=... or matcher=...) removed "
            "the runs a golden is made of, so the file could not be read back. Filter or replace "
            'values inside the events (e.g. exclude=props("text")), not the runs themselves.',
        ]
    )
    assert (  # not fnmatch: the message holds brackets
        "UnusableGolden: snaprun: the golden cannot be written as YAML: cannot dump set at "
        "$['runs'][1]['input']: only dict (str keys), list, str, int, float, bool and None are "
        "supported. A golden holds plain data: make the matcher or pytest_snaprun_normalize_golden "
        "hook return str, int, float, bool, None, lists or dicts."
    ) in result.stdout.str()
    assert not project.golden("test_no_runs").exists()
    assert not project.golden("test_not_plain_data").exists()
    golden = project.golden("test_filtered")
    assert load(golden)["runs"] == [
        {
            "kind": "start",
            "events": [
                {"agent_handoff": {"from": None, "to": "Greeter"}},
                {"message": {"role": "assistant", "text": "Hello!"}},
            ],
        },
        {
            "kind": "run",
            "input": "What day is it?",
            "events": [
                {"message": {"role": "user", "text": "What day is it?"}},
                {"message": {"role": "assistant", "text": "<reply>"}},
            ],
        },
    ]
    # The filtered golden is what a replay compares with.
    written = golden.read_bytes()
    project.run("-k", "test_filtered").assert_outcomes(passed=1)
    assert golden.read_bytes() == written


def test_include_keeps_the_named_keys_and_every_list_item() -> None:
    from syrupy.filters import paths_include

    from snaprun.golden.properties import filtered

    golden = {
        "runs": [{"kind": "start", "events": [{"message": {"role": "user", "text": "Hi"}}]}],
        "chat_ctx": {"agent": "Greeter", "items": []},
    }
    # Paths name list items by index, as syrupy's JSON extension does.
    include = paths_include(["runs", "0", "kind"], ["runs", "0", "events", "0", "message"])
    assert filtered(golden, include=include) == {
        "runs": [{"kind": "start", "events": [{"message": {}}]}]
    }
    assert golden["chat_ctx"] == {"agent": "Greeter", "items": []}  # the input is not changed


# A matcher only this conftest registers, and a persister it may try to register.
RECORDING_CONFIGURE = """
import os

import pytest

MATCHED = []


def same_model(r1, r2):
    MATCHED.append(r1.uri)
    assert r1.body is not None and r2.body is not None


class FilesystemLike:
    @staticmethod
    def load_cassette(cassette_path, serializer):
        raise ValueError("not used")

    @staticmethod
    def save_cassette(cassette_path, cassette_dict, serializer):
        pass


def pytest_recording_configure(config, vcr):
    vcr.register_matcher("same_model", same_model)
    if os.environ.get("REGISTER_PERSISTER"):
        vcr.register_persister(FilesystemLike)


@pytest.fixture
def vcr_config():
    return {"match_on": ["method", "uri", "snaprun_body", "same_model"]}


def pytest_sessionfinish(session):
    print(f"same_model was asked: {bool(MATCHED)}")
"""


def test_pytest_recording_configure_sees_snaprun_vcr(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_to_conftest(project, RECORDING_CONFIGURE)
    project.write_test(
        GREETER
        + """
async def test_greeting(transcript, golden, llm):
    await converse(llm)
    assert transcript == golden
"""
    )
    project.record().assert_outcomes(passed=1)
    # Replaying matches through the conftest's matcher: without the hook, vcrpy would not know
    # "same_model" and the test would error.
    result = project.run("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*same_model was asked: True"])

    monkeypatch.setenv("REGISTER_PERSISTER", "1")
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "snaprun: a pytest_recording_configure hook registered the persister "
            "conftest.FilesystemLike, but snaprun reads and writes its cassettes itself (exact "
            "replay, atomic writes, no secrets). Leave snaprun's VCR alone in that hook: "
            '`if "snaprun" in vcr.serializers: return`.'
        ]
    )


# Dates are volatile: the README's conftest labels them when requests are matched, and this
# one in goldens.
README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
NORMALIZE_REQUEST = textwrap.dedent(
    next(
        block
        for block in re.findall(r"```python\n(.*?)```", README, flags=re.S)
        if "def pytest_snaprun_normalize_request" in block
    )
)
NORMALIZE_GOLDEN = """

def pytest_snaprun_normalize_golden(golden, item):
    for item_data in golden["chat_ctx"]["items"]:
        item_data["text"] = DATE.sub("<date>", item_data["text"])
    for run in golden["runs"]:
        for event in run["events"]:
            if "message" in event:
                event["message"]["text"] = DATE.sub("<date>", event["message"]["text"])
"""


def test_normalize_hooks_let_a_dated_agent_replay_on_another_day(project: Project) -> None:
    add_to_conftest(project, NORMALIZE_REQUEST + NORMALIZE_GOLDEN)
    test = """
async def test_dated(transcript, golden, llm):
    await converse(llm)
    assert transcript == golden
"""
    project.write_test(GREETER + test)
    project.record().assert_outcomes(passed=1)
    golden = project.golden("test_dated")
    data = load(golden)
    assert data["runs"][1]["events"][1] == {
        "message": {"role": "assistant", "source": "generate_reply", "text": "It is <date>."}
    }
    assert data["chat_ctx"]["items"][0] == {
        "role": "system",
        "text": "You are a greeter. Today is <date>.",
    }
    cassette = project.cassette("test_dated").read_text(encoding="utf-8")
    assert "Today is 2026-12-01." in cassette  # matching is normalised, the file is not

    # A day later: the request differs from the recorded one only by its date.
    written = golden.read_bytes()
    project.write_test(GREETER.replace("2026-12-01", "2026-12-02") + test)
    project.run().assert_outcomes(passed=1)
    assert golden.read_bytes() == written


# livekit renames an internal: once on a class, once in what `__init__` sets.
RENAMED = """
import pytest
from livekit.agents.voice.speech_handle import SpeechHandle


@pytest.fixture
def renamed_method(monkeypatch):
    method = SpeechHandle._add_item_added_callback
    monkeypatch.delattr(SpeechHandle, "_add_item_added_callback")
    monkeypatch.setattr(SpeechHandle, "_on_item_added", method, raising=False)


def test_a_renamed_method_fails_at_setup(renamed_method, transcript):
    pass


class RenamedAgent(Agent):
    def __init__(self):
        super().__init__(instructions="Be brief.")
        self._activity_v2 = self.__dict__.pop("_activity")


async def test_a_renamed_attribute_fails_the_test(transcript, llm):
    await AgentSession(llm=llm).start(RenamedAgent())
"""


def test_a_missing_livekit_internal_names_itself_and_the_version(project: Project) -> None:
    from livekit.agents import __version__

    project.write_test(RENAMED)
    result = project.record()
    result.assert_outcomes(errors=1, failed=1)
    fix = (
        "This livekit-agents release changed its internals: install the release your project "
        f"used before (pip install 'livekit-agents<{__version__}') or a snaprun that supports "
        f"{__version__}."
    )
    result.stdout.fnmatch_lines(
        [
            f"snaprun: livekit-agents {__version__} has no SpeechHandle._add_item_added_callback, "
            "which snaprun reads to collect the items of each speech; without it the capture "
            f"would be silently incomplete. {fix}",
            f"E   *LivekitInternalsChanged: snaprun: livekit-agents {__version__} has no "
            "Agent._activity, which snaprun reads to find the session of an agent; without it "
            f"the capture would be silently incomplete. {fix}",
        ]
    )
