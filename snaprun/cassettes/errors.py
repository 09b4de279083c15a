"""The errors snaprun raises about a cassette. Each message names the file and what fixes it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from snaprun.cassettes.replay import FOLLOW_UP_NOTE


class CassetteError(Exception):
    """Base of every error snaprun raises about a cassette."""


class InvalidCassetteConfig(CassetteError, ValueError):
    """A record mode or vcr_config entry snaprun cannot honour."""


class CassetteMissing(CassetteError):
    """Replay-only mode, and the test's cassette does not exist."""

    def __init__(self, path: Path, rerecord_command: str) -> None:
        super().__init__(
            f"snaprun: cassette {path} does not exist, and record mode 'none' only replays.\n"
            f"Record it with:\n  {rerecord_command}"
        )
        self.path = path


class CassetteCorrupt(CassetteError):
    """The cassette file cannot be read back (truncated, not YAML, wrong shape)."""

    def __init__(self, path: Path, problem: str, rerecord_command: str) -> None:
        super().__init__(
            f"snaprun: cassette {path} is corrupt: {problem}\n"
            f"Delete it and record it again with:\n  {rerecord_command}"
        )
        self.path = path


class SecretInCassette(CassetteError):
    """A recording contains the value of a credential environment variable; nothing was written."""

    def __init__(self, path: Path, what: str, where: str = "the file") -> None:
        super().__init__(
            f"snaprun: refusing to write cassette {path}: it would contain {what} (in "
            f"{where}). Nothing was written. Keep the credential out of the recorded "
            f"requests and responses (or filter it with vcr_config's before_record_request / "
            f"before_record_response), then record again."
        )
        self.path = path
        self.what = what


class UnmatchedRequest(CassetteError):
    """During replay the test made requests that are not in the cassette (or made one twice).

    Each is explained in full, except those that only follow from an earlier refusal (they
    carry its answer): one line each, since the earlier explanation is theirs too.
    """

    def __init__(self, failures: Sequence[str]) -> None:
        first, *rest = failures
        others = [failure for failure in rest if FOLLOW_UP_NOTE not in failure]
        follow_ups = [failure for failure in rest if FOLLOW_UP_NOTE in failure]
        parts = [first]
        if others:
            parts.append(f"({len(others)} more unmatched request(s) follow)")
            parts += others
        if follow_ups:
            parts.append(
                "Refused as well, because they carry the answer to a refused request:\n"
                + "\n".join(_request_line(failure) for failure in follow_ups)
            )
        super().__init__("\n\n".join(parts))
        self.failures = list(failures)
        self.follow_ups = len(follow_ups)

    @property
    def summary(self) -> str:
        """One line: the first refusal's, and how many more there are."""
        first = self.failures[0].splitlines()[0].removesuffix(":")
        more = len(self.failures) - 1 - self.follow_ups
        return first + (f" (and {more} more)" if more else "")


def _request_line(explanation: str) -> str:
    """`  POST <url> (last message …)`: the second line of a refusal's explanation."""
    lines = explanation.splitlines()
    return lines[1] if len(lines) > 1 else lines[0]


class UnrecordedWebSocket(CassetteError):
    """A recording opened a WebSocket through a client snaprun does not record: the cassette
    would hold only its ``101`` handshake, and replay could not answer it. Nothing is written."""

    def __init__(self, path: Path, test_id: str, url: str) -> None:
        super().__init__(
            f"snaprun: refusing to write cassette {path}: {test_id} opened a WebSocket "
            f"(GET {url} → 101 Switching Protocols) through a client snaprun cannot record; "
            f"snaprun records WebSockets opened with aiohttp's ClientSession.ws_connect only. "
            f"The cassette would hold the bare handshake and replay would fail. Nothing was "
            f"written. Open the socket with aiohttp's ws_connect, or give the LLM an HTTP "
            f"transport (e.g. openai.responses.LLM(use_websocket=False)), then record again."
        )
        self.path = path
        self.url = url


class RefusedWebSocket(CassetteError):
    """While a cassette was open, a WebSocket was opened through a client snaprun neither
    records nor replays (the ``websockets`` package); no connection was made."""
