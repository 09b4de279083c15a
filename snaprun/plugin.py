"""pytest glue only: options, ini keys, fixtures and hooks. Each hands off to another module."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion

    from snaprun.capture import Capture
    from snaprun.capture.crosscheck import RunResultCheck
    from snaprun.cassettes import CassetteUse
    from snaprun.golden.extension import GoldenExtension
    from snaprun.integrity import Completeness, WriteTally  # noqa: F401 (a StashKey type)
    from snaprun.options import Options
    from snaprun.volatile import Volatile

EXTENSION_KEY = pytest.StashKey["type[GoldenExtension]"]()
GOLDEN_KEY = pytest.StashKey["SnapshotAssertion"]()
CASSETTE_KEY = pytest.StashKey["CassetteUse"]()
VOLATILE_KEY = pytest.StashKey["Volatile"]()
STAGED_KEY = pytest.StashKey[list[tuple[Path, str]]]()
NOT_PASSED_KEY = pytest.StashKey[bool]()
OPTIONS_KEY = pytest.StashKey["Options"]()
TALLY_KEY = pytest.StashKey["WriteTally"]()
COMPLETENESS_KEY = pytest.StashKey["Completeness"]()
CASSETTE_MARKER = "snaprun_cassette"
EXPECT_LLM_ERROR_MARKER = "snaprun_expect_llm_error"
RUNRESULT_CHECK_MARKER = "snaprun_runresult_check"
# `snaprun_runresult_check`'s values; capture.crosscheck.RunResultCheck, without importing livekit.
_RUN_RESULT_CHECKS: tuple[RunResultCheck, ...] = ("fail", "warn", "off")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from snaprun import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


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
        "snaprun_secret_env_vars",
        "snaprun: more environment variables whose values must never be written to a cassette "
        "(set to a placeholder on replay when unset)",
        type="linelist",
        default=[],
    )
    parser.addini(
        "snaprun_volatile",
        "snaprun: regular expressions, one a line, of values generated afresh each run (ids, "
        "dates): labelled in order of first appearance in request matching and in goldens",
        type="linelist",
        default=[],
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


def _run_result_check(config: pytest.Config, item: pytest.Item | None = None) -> RunResultCheck:
    # A marker on the test (a livekit bug it knowingly lives with) overrides the ini key.
    marker = item.get_closest_marker(RUNRESULT_CHECK_MARKER) if item is not None else None
    if marker is not None and marker.args:
        mode, where = (
            marker.args[0],
            f"marker {RUNRESULT_CHECK_MARKER} of {item.nodeid}" if item else "",
        )
    else:
        mode, where = _options(config).run_result_check, "ini key snaprun_runresult_check"
    for check in _RUN_RESULT_CHECKS:
        if mode == check:
            return check
    raise pytest.UsageError(f"snaprun: {where} must be fail, warn or off, got {mode!r}")


def _volatile(config: pytest.Config) -> Volatile:
    if VOLATILE_KEY not in config.stash:
        from snaprun.volatile import InvalidVolatilePattern, Volatile

        try:
            config.stash[VOLATILE_KEY] = Volatile.from_lines(config.getini("snaprun_volatile"))
        except InvalidVolatilePattern as error:
            raise pytest.UsageError(str(error)) from None
    return config.stash[VOLATILE_KEY]


def _settle_timeout(config: pytest.Config) -> float:
    return _options(config).settle_timeout


def _options(config: pytest.Config) -> Options:
    if OPTIONS_KEY not in config.stash:
        from snaprun.options import InvalidOption, read_options

        try:
            config.stash[OPTIONS_KEY] = read_options(config.getini, Path(config.rootpath))
        except InvalidOption as error:
            raise pytest.UsageError(str(error)) from None
    return config.stash[OPTIONS_KEY]


@pytest.fixture
def cassette(
    request: pytest.FixtureRequest, record_mode: str, vcr_config: dict[str, object]
) -> Iterator[CassetteUse]:
    """This test's LLM traffic, replayed from (or recorded to) its cassette, exactly once."""
    from snaprun import cassettes
    from snaprun.cassettes import providers
    from snaprun.cassettes.generated_ids import deterministic_ids

    config = request.config
    request.node.stash[STAGED_KEY] = []
    path = cassette_path(request.node, config)
    test_id = request.node.nodeid
    mode = "once" if not path.exists() else "rewrite"
    command = f"pytest --record-mode={mode} --snapshot-update '{test_id}'"
    extra_secrets = config.getini("snaprun_secret_env_vars")
    secrets = (*cassettes.DEFAULT_SECRET_ENV_VARS, *extra_secrets)
    problems: list[str] = []
    try:
        with cassettes.open_cassette(
            path,
            record_mode=record_mode,
            test_id=test_id,
            vcr_config=vcr_config,
            secret_env_vars=secrets,
            rerecord_command=command,
            configure_vcr=_recording_configure(config),
            normalize_request=_normalizer(request.node, "pytest_snaprun_normalize_request", "body"),
            volatile=_volatile(config),
            # Written with the golden once the test has passed (snaprun.integrity).
            write=lambda path, text: request.node.stash[STAGED_KEY].append((path, text)),
        ) as use:
            request.node.stash[CASSETTE_KEY] = use
            # A project's own variables get placeholders too: its client reads them as
            # the table's providers read theirs.
            placeholders = providers.placeholder_credentials(extra=extra_secrets)
            with placeholders if use.replaying else nullcontext(), deterministic_ids():
                yield use
            if not use.discarded:  # discarded when the test failed: see makereport
                problems = use.unplayed_interactions()
    except cassettes.UnmatchedRequest:
        pass  # the use keeps its refusals, and the test's report tells them: see makereport
    except cassettes.CassetteError as error:  # unreadable, missing, or a secret in it
        problems.insert(0, str(error))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def transcript(request: pytest.FixtureRequest, cassette: CassetteUse) -> Iterator[Capture]:
    """Everything the AgentSessions started by this test do, compared with `golden`."""
    from snaprun.capture import Capture  # livekit is heavy: import it only in tests that use it

    capture = Capture(
        settle_timeout=_settle_timeout(request.config),
        run_result_check=_run_result_check(request.config, request.node),
        refused_requests=cassette.unmatched_requests,
        expect_llm_error=request.node.get_closest_marker(EXPECT_LLM_ERROR_MARKER) is not None,
    )
    with _installed(capture):
        yield capture


@contextmanager
def _installed(capture: Capture) -> Iterator[None]:
    """`capture.installed()`, failing the test in one line if livekit lacks an internal."""
    from snaprun.capture.accessors import LivekitInternalsChanged

    with ExitStack() as stack:
        try:
            stack.enter_context(capture.installed())
        except LivekitInternalsChanged as error:
            pytest.fail(str(error), pytrace=False)
        yield


@pytest.fixture(autouse=True)
def _snaprun_cassette_marker(request: pytest.FixtureRequest) -> None:
    # `@pytest.mark.snaprun_cassette` gives a test its cassette without a transcript.
    if request.node.get_closest_marker(CASSETTE_MARKER) is not None:
        request.getfixturevalue("cassette")


def _recording_configure(config: pytest.Config) -> Callable[[object], None]:
    """pytest-recording's hook, so a conftest's `pytest_recording_configure` (custom matchers)
    sees snaprun's VCR as it would pytest-recording's."""

    def configure(vcr: object) -> None:
        hook = getattr(config.hook, "pytest_recording_configure", None)  # `-p no:recording`
        if hook is not None:
            hook(config=config, vcr=vcr)

    return configure


def _normalizer(item: pytest.Item, hook_name: str, data_name: str) -> Callable[[Any], None] | None:
    """The item's implementations of a snaprun hook as one call, or None when there are none
    (so a project without them pays nothing). `item.ihook` honours conftests by directory."""
    hook = getattr(item.ihook, hook_name)
    if not hook.get_hookimpls():
        return None

    def normalize(data: Any) -> None:
        hook(**{data_name: data, "item": item})

    return normalize


def cassette_path(item: pytest.Item, config: pytest.Config) -> Path:
    """`<cassette dir>/<test file without .py>/<name>.yaml`: the golden's path, another root."""
    from snaprun.paths import file_of

    return file_of(Path(config.rootpath) / str(config.getini("snaprun_cassette_dir")), item.nodeid)


@pytest.fixture
def golden(snapshot: SnapshotAssertion, request: pytest.FixtureRequest) -> SnapshotAssertion:
    """syrupy's `snapshot`, writing this test's YAML golden under `snaprun_snapshot_dir`."""
    from snaprun.golden.extension import CorruptGolden, check_golden, normalize_by

    assertion = snapshot.use_extension(_extension(request.config))
    request.node.stash[GOLDEN_KEY] = assertion
    # Under --snapshot-update a corrupt golden is simply rewritten: the fix the error names.
    if not request.config.option.update_snapshots:
        try:
            check_golden(assertion)
        except CorruptGolden as error:
            pytest.fail(str(error), pytrace=False)
    normalize = _normalizer(request.node, "pytest_snaprun_normalize_golden", "golden")
    if normalize is not None:
        normalize_by(assertion, normalize)
    return assertion


def _extension(config: pytest.Config) -> type[GoldenExtension]:
    if EXTENSION_KEY not in config.stash:
        from snaprun.golden.extension import golden_extension

        snapshot_dir = config.getini("snaprun_snapshot_dir")
        config.stash[EXTENSION_KEY] = golden_extension(
            Path(config.rootpath), snapshot_dir, _volatile(config)
        )
    return config.stash[EXTENSION_KEY]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    use = item.stash.get(CASSETTE_KEY, None)
    if use is not None or GOLDEN_KEY in item.stash:
        from snaprun.reporting import explain_failure

        explain_failure(item, call, report, use, item.stash.get(GOLDEN_KEY, None))
    if use is not None and report.outcome != "passed":
        use.discard()  # a failed test's traffic is not worth keeping
    if report.outcome != "passed":
        item.stash[NOT_PASSED_KEY] = True
        if GOLDEN_KEY in item.stash:
            from snaprun.golden.extension import protect

            protect(item.stash[GOLDEN_KEY])
    if report.when == "teardown":
        _write_test_files(item, report)
    return report


def _write_test_files(item: pytest.Item, report: pytest.TestReport) -> None:
    """A test's golden and cassette, written together once it passed every phase; a test
    that did not pass writes neither. A failed write fails the test's teardown."""
    from snaprun import integrity
    from snaprun.cassettes import DEFAULT_SECRET_ENV_VARS
    from snaprun.golden.extension import take_staged

    goldens = take_staged(item.stash[GOLDEN_KEY]) if GOLDEN_KEY in item.stash else []
    cassettes = item.stash.get(STAGED_KEY, [])
    if item.stash.get(NOT_PASSED_KEY, False):
        return
    secrets = (*DEFAULT_SECRET_ENV_VARS, *_options(item.config).secret_env_vars)
    try:
        integrity.commit_test_files(
            item.nodeid,
            goldens,
            cassettes,
            secret_env_vars=secrets,
            tally=item.config.stash[TALLY_KEY],
        )
    except integrity.TestFilesRefused as refused:
        report.outcome = "failed"
        report.longrepr = str(refused)


class _CollectionWatcher:
    """Notes each module skipped or failed at import: its goldens look unused."""

    def __init__(self, completeness: Completeness) -> None:
        self.completeness = completeness

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not report.passed:
            self.completeness.module_not_run(report.nodeid, report.outcome)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from snaprun import integrity

    tests = [
        integrity.CollectedTest(
            nodeid=item.nodeid,
            uses_cassette="cassette" in getattr(item, "fixturenames", ())
            or item.get_closest_marker(CASSETTE_MARKER) is not None,
            uses_golden="golden" in getattr(item, "fixturenames", ()),
            vcr_marker=item.get_closest_marker("vcr") is not None,
        )
        for item in items
    ]
    problem = integrity.collection_problem(
        tests, recording_plugin=config.pluginmanager.has_plugin("recording")
    )
    if problem is not None:
        raise pytest.UsageError(problem)


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Iterator[None]:
    # syrupy deletes unused snapshots under --snapshot-update, and a golden looks unused whenever
    # its test did not run. Delete nothing unless this was a complete, uninterrupted run that
    # passed. (A wrapper, so this runs before syrupy's own tryfirst hook.)
    config = session.config
    if COMPLETENESS_KEY in config.stash:
        refusal = config.stash[COMPLETENESS_KEY].cleanup_refusal(
            exit_ok=exitstatus == pytest.ExitCode.OK,
            tests_failed=session.testsfailed,
            stopped_early=bool(session.shouldfail or session.shouldstop),
        )
        if refusal is not None:
            config.option.no_cleanup = True
        workeroutput = getattr(config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller decides and counts
            workeroutput["snaprun"] = {
                "reasons": config.stash[COMPLETENESS_KEY].reasons,
                "counts": config.stash[TALLY_KEY].counts(),
            }
    return (yield)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if config.option.update_snapshots and EXTENSION_KEY in config.stash:
        from snaprun.golden.extension import kept_report

        for line in kept_report(config.stash[EXTENSION_KEY]):
            terminalreporter.write_line(line)
    # What was really written (syrupy counts what was asserted); xdist workers' counts included.
    counts = written_counts(config) if TALLY_KEY in config.stash else {}
    if any(counts.values()):
        goldens, cassettes = counts["goldens"], counts["cassettes"]
        terminalreporter.write_line(
            f"snaprun: wrote {goldens} golden{'' if goldens == 1 else 's'} and "
            f"{cassettes} cassette{'' if cassettes == 1 else 's'}."
        )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    # An xdist worker ended: what it skipped and wrote counts for the whole run.
    output = getattr(node, "workeroutput", {}).get("snaprun")
    config = getattr(node, "config", None)
    if output is None or config is None or COMPLETENESS_KEY not in config.stash:
        return
    config.stash[COMPLETENESS_KEY].reasons.extend(output["reasons"])
    config.stash[TALLY_KEY].add(output["counts"])


def written_counts(config: pytest.Config) -> dict[str, int]:
    """The goldens and cassettes written this session, for the summary (xdist included)."""
    return config.stash[TALLY_KEY].counts()


def pytest_configure(config: pytest.Config) -> None:
    from snaprun import integrity

    config.addinivalue_line(
        "markers", f"{CASSETTE_MARKER}: replay or record this test's cassette, no transcript"
    )
    config.addinivalue_line(
        "markers",
        f"{EXPECT_LLM_ERROR_MARKER}: this test expects a failed LLM request (an llm_error event)",
    )
    config.addinivalue_line(
        "markers",
        f"{RUNRESULT_CHECK_MARKER}(mode): fail, warn or off for this test, instead of the ini key",
    )
    # A bad ini value fails at start-up, not in the first test that uses it.
    _volatile(config)
    options = _options(config)
    overlap = integrity.overlapping_folders(
        options.snapshot_dir, options.cassette_dir, Path(config.rootpath)
    )
    if overlap is not None:
        raise pytest.UsageError(overlap)
    config.stash[TALLY_KEY] = integrity.WriteTally()
    config.stash[COMPLETENESS_KEY] = integrity.Completeness()
    config.pluginmanager.register(
        _CollectionWatcher(config.stash[COMPLETENESS_KEY]), "snaprun-collection-watcher"
    )
