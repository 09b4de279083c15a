"""What a failing test prints: snaprun's explanation, once and first, in one screen.

pytest reports a failure as the traceback of whatever the test raised. When the cassette
refused a request, that is livekit's or the SDK's exception, raised a few frames later, and
every exception of its chain repeats the refusal: some 400 lines for one changed prompt,
summarised as `FAILED … APIConnectio…`. So the report of such a test is replaced by snaprun's
explanation (the body diff and the command that fixes it), and its short summary line by
the explanation's first line; what the test raised follows only with `-v`.

pytest-glue like plugin.py (it builds pytest's report objects); plugin.py's hooks call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

# What pytest's own reports are made of (pytest exports no public name for them).
from _pytest._code.code import ExceptionChainRepr, ReprFileLocation, ReprTraceback

from snaprun.cassettes.errors import UnmatchedRequest
from snaprun.golden.extension import mismatch_report

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion

    from snaprun.cassettes import CassetteUse


class SnaprunFailure(Exception):
    """Why a test failed, in snaprun's words: shown as its text alone, like pytest.fail."""


def explain(item: pytest.Item, report: pytest.TestReport, explanation: str, summary: str) -> None:
    """Make `explanation` the whole failure report of `report`, and `summary` its summary line.

    With `-v`, what the test raised follows, so livekit's traceback is one flag away.
    """
    try:
        raise SnaprunFailure(explanation)
    except SnaprunFailure as failure:
        ours = pytest.ExceptionInfo.from_exception(failure).getrepr(style="value")
    crash = ours.reprcrash
    if crash is None:  # only when every frame is hidden, and this one is not
        return
    # The crash is what `--tb=line` and the short summary show: the test, and snaprun's words.
    crash.path, crash.lineno, crash.message = str(item.path), (item.location[1] or 0) + 1, summary
    chain: list[tuple[ReprTraceback, ReprFileLocation | None, str | None]]
    chain = [(ours.reprtraceback, crash, None)]
    original = report.longrepr
    if item.config.get_verbosity() >= 1 and isinstance(original, ExceptionChainRepr):
        *earlier, (traceback, _, description) = original.chain
        chain = [
            (ours.reprtraceback, crash, "What the test raised on the way (shown with -v):"),
            *earlier,
            (traceback, crash, description),  # the last crash is the one the summary shows
        ]
    report.longrepr = ExceptionChainRepr(chain)
    report.outcome = "failed"
    if hasattr(report, "wasxfail"):
        del report.wasxfail  # it failed, but not as the xfail marker expected


def explain_failure(
    item: pytest.Item,
    call: pytest.CallInfo[None],
    report: pytest.TestReport,
    use: CassetteUse | None,
    golden: SnapshotAssertion | None,
) -> None:
    """Refused requests are told first, as the report of the phase that made them, once each
    (they are why the test failed, or why a passing one must not pass); otherwise a golden
    that differs is told event by event, with the command that accepts it."""
    refusals = use.report_refusals() if use is not None else []
    # An expected failure does not excuse a refusal: replay itself is broken.
    if refusals and (not report.skipped or hasattr(report, "wasxfail")):
        explain_refusals(item, report, refusals)
        return
    golden_failed = call.excinfo is not None and call.excinfo.errisinstance(AssertionError)
    if report.failed and golden is not None and golden_failed:
        # Accepting a change made while recording keeps the new recording too.
        recording = use is not None and not use.replaying
        command = f"pytest --snapshot-update '{item.nodeid}'"
        explain_mismatch(
            item, report, golden, use.rerecord_command if use and recording else command
        )


def explain_refusals(item: pytest.Item, report: pytest.TestReport, refusals: list[str]) -> None:
    """The refused requests are why the test failed (or, if it passed, why it must not)."""
    refused = UnmatchedRequest(refusals)
    explain(item, report, str(refused), refused.summary)


def explain_mismatch(
    item: pytest.Item, report: pytest.TestReport, golden: SnapshotAssertion, accept_command: str
) -> None:
    """A golden that differs is told event by event, in full, with the command accepting it."""
    width = item.config.get_terminal_writer().fullwidth
    text = mismatch_report(golden, accept_command, width)
    if text is not None:
        explain(item, report, text, text.splitlines()[0].removesuffix(":"))
