"""pytest glue only: options, ini keys, fixtures and hooks. Each hands off to another module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion

    from .capture import Capture
    from .extension import GoldenExtension

EXTENSION_KEY = pytest.StashKey["type[GoldenExtension]"]()
GOLDEN_KEY = pytest.StashKey["SnapshotAssertion"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "snaprun_snapshot_dir",
        "snaprun: folder of the YAML goldens, relative to the rootdir",
        default="__snapshots__",
    )
    parser.addini(
        "snaprun_cassette_dir",
        "snaprun: folder of the cassettes, relative to the rootdir",
        default="cassettes",
    )
    parser.addini(
        "snaprun_settle_timeout",
        "snaprun: seconds to wait for an agent's on_enter and speeches before failing the test",
        default="30",
    )
    parser.addini(
        "snaprun_runresult_check",
        "snaprun: when livekit's RunResult misses or repeats a captured event: fail, warn or off",
        default="fail",
    )


def _run_result_check(config: pytest.Config) -> str:
    mode = config.getini("snaprun_runresult_check")
    if mode not in ("fail", "warn", "off"):
        raise pytest.UsageError(
            f"snaprun: ini key snaprun_runresult_check must be fail, warn or off, got {mode!r}"
        )
    return str(mode)


def _settle_timeout(config: pytest.Config) -> float:
    raw = config.getini("snaprun_settle_timeout")
    try:
        return float(raw)
    except ValueError:
        raise pytest.UsageError(
            f"snaprun: ini key snaprun_settle_timeout must be a number of seconds, got {raw!r}"
        ) from None


@pytest.fixture
def transcript(pytestconfig: pytest.Config) -> Iterator[Capture]:
    """Everything the AgentSessions started by this test do, compared with `golden`."""
    from .capture import Capture  # livekit is heavy: import it only in tests that use it

    capture = Capture(
        settle_timeout=_settle_timeout(pytestconfig),
        run_result_check=_run_result_check(pytestconfig),
    )
    with capture.installed():
        yield capture


@pytest.fixture
def golden(snapshot: SnapshotAssertion, request: pytest.FixtureRequest) -> SnapshotAssertion:
    """syrupy's `snapshot`, writing this test's YAML golden under `snaprun_snapshot_dir`."""
    from .extension import CorruptGolden, check_golden

    assertion = snapshot.use_extension(_extension(request.config))
    request.node.stash[GOLDEN_KEY] = assertion
    try:
        check_golden(assertion)
    except CorruptGolden as error:
        pytest.fail(str(error), pytrace=False)
    return assertion


def _extension(config: pytest.Config) -> type[GoldenExtension]:
    if EXTENSION_KEY not in config.stash:
        from .extension import golden_extension

        snapshot_dir = config.getini("snaprun_snapshot_dir")
        config.stash[EXTENSION_KEY] = golden_extension(Path(config.rootpath), snapshot_dir)
    return config.stash[EXTENSION_KEY]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if report.outcome != "passed" and GOLDEN_KEY in item.stash:
        from .extension import protect

        protect(item.stash[GOLDEN_KEY])
    return report


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Iterator[None]:
    # syrupy deletes unused snapshots under --snapshot-update; a golden whose test failed before
    # its assertion looks unused. Delete nothing unless the whole run passed. (A wrapper, so this
    # runs before syrupy's own tryfirst hook.)
    if session.testsfailed or session.shouldfail or session.shouldstop:
        session.config.option.no_cleanup = True
    return (yield)


def pytest_configure(config: pytest.Config) -> None:
    # A bad ini value fails at start-up, not in the first test that uses it.
    _settle_timeout(config)
    _run_result_check(config)
