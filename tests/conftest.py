"""Throwaway projects for pytester: a test module plus the scripted LLM it talks to."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path

# pytester runs the throwaway projects in this process and unloads what they import afterwards;
# numpy (under livekit) cannot be loaded twice in one process, so load it once, up front.
import livekit.agents  # noqa: F401
import livekit.plugins.openai  # noqa: F401
import pytest

import snaprun.capture  # noqa: F401
import snaprun.testing.scripted_server  # noqa: F401

# The conftest of every throwaway project: an `llm` fixture served by the scripted server, with
# the replies each test module declares in `REPLIES` (and an optional per-chunk `CHUNK_DELAY`).
# The server runs only while recording, on the project's fixed port so the cassette's URLs
# stay the same: a replay has nothing to talk to but the cassette.
PROJECT_CONFTEST = """
import pytest
from livekit.plugins import openai

from snaprun.testing import ScriptedServer

PORT = {port}


@pytest.fixture
def llm(request, record_mode):
    replies = getattr(request.module, "REPLIES", [])
    delay = getattr(request.module, "CHUNK_DELAY", 0.0)
    server = ScriptedServer(replies, chunk_delay=delay, port=PORT)
    if record_mode != "none":
        server.start()
    try:
        base_url = f"http://127.0.0.1:{{PORT}}/v1"
        yield openai.LLM(model="gpt-4.1", base_url=base_url, api_key="sk-test")
    finally:
        if record_mode != "none":
            server.stop()
"""

PROJECT_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

# Imported by throwaway test modules as `from header import *`.
PROJECT_HEADER = """
from typing import Any

from livekit.agents import Agent, AgentSession, RunContext
from livekit.agents.llm import ToolError, function_tool

from snaprun.testing import Reply, ToolCall
"""


# Arguments of every in-process throwaway run. snaprun is already imported by this session
# (through the editable install's finder, which pytest's assertion rewriter does not see), so
# each inner run warns that it cannot rewrite it again: pytester's artefact, never a user's.
INNER_RUN = ("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Project:
    """A throwaway pytest project under pytester's tmp dir."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        pytester.makeini(PROJECT_INI)
        pytester.makeconftest(PROJECT_CONFTEST.format(port=free_port()))
        pytester.makepyfile(header=PROJECT_HEADER)

    def ini(self, *lines: str) -> None:
        """The project's ini file, with these lines added."""
        self.pytester.makeini(PROJECT_INI + "".join(f"{line}\n" for line in lines))

    @property
    def path(self) -> Path:
        return self.pytester.path

    def write_test(self, source: str, name: str = "test_agent") -> Path:
        return self.pytester.makepyfile(
            **{name: "from header import *\n" + textwrap.dedent(source)}
        )

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest(*INNER_RUN, *args)

    def record(self, *args: str) -> pytest.RunResult:
        """What a user runs to record cassettes and write goldens."""
        return self.run("--record-mode=once", "--snapshot-update", *args)

    def cassette(self, test: str, module: str = "test_agent") -> Path:
        return self.path / "cassettes" / module / f"{test}.yaml"

    def golden(self, test: str, module: str = "test_agent") -> Path:
        return self.path / "__snapshots__" / module / f"{test}.yaml"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Project:
    # Under `pytest -n`, the throwaway run must not believe it is an xdist worker itself.
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    return Project(pytester)
