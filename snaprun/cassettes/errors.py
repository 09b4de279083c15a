"""The errors snaprun raises about a cassette. Each message names the file and what fixes it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


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

    def __init__(self, path: Path, env_var: str) -> None:
        super().__init__(
            f"snaprun: refusing to write cassette {path}: it would contain the value of "
            f"${env_var}. Nothing was written. Keep the credential out of the recorded "
            f"requests and responses (or filter it with vcr_config's before_record_request / "
            f"before_record_response), then record again."
        )
        self.path = path
        self.env_var = env_var


class UnmatchedRequest(CassetteError):
    """During replay the test made requests that are not in the cassette (or made one twice)."""

    def __init__(self, failures: Sequence[str]) -> None:
        more = f"\n\n({len(failures) - 1} more unmatched request(s) follow)" if failures[1:] else ""
        super().__init__(failures[0] + more + "".join("\n\n" + f for f in failures[1:]))
        self.failures = list(failures)


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
