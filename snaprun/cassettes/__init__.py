"""Cassettes: record a test's LLM traffic once with vcrpy, then replay it offline, exactly.

:func:`open_cassette` wraps one test's use of one cassette file. Everything it needs comes
in as arguments (this module never imports pytest); the plugin decides paths, record modes
and the command that re-records a test.

What it adds to plain vcrpy, and why:

* **Replay never touches the network, and fails at once.** vcrpy raises inside the HTTP
  transport when a request is not in the cassette; the openai SDK and livekit's LLM stream
  take that for a connection error and retry with back-off, so a changed prompt shows up as
  a multi-second hang and a vague "Connection error". Here the cassette answers such a
  request itself with an error the clients do not retry, remembers the explanation (a diff
  against the closest recorded request) and raises it when the test ends.
* **Exactly-once replay.** Every recorded interaction must be replayed once: a request made
  one time too many is refused like an unrecorded one, and :meth:`CassetteUse.problems`
  lists the interactions the test never asked for.
* **Nothing secret is written.** Only allow-listed headers are kept (``content-type``),
  credential query parameters are dropped, and a recording that still contains the value of
  a credential environment variable is refused before anything is written.
* **Readable, compact files.** A custom vcrpy serializer stores JSON bodies as YAML data,
  SSE streams as lists of events (rebuilt byte for byte on replay), and each request's chat
  ``messages`` as a delta against the previous request, so a long conversation grows
  linearly rather than quadratically.
* **Safe writes.** The file is written atomically at the end, and only when the test passed.

Where the pieces are, all in this package: :mod:`.format` and :mod:`.body_forms` (the file),
:mod:`.replay` (exact replay and its refusals), :mod:`.config` (vcrpy's settings and the
sanitizers), :mod:`.http_bodies` (bodies as data), :mod:`.errors`, :mod:`.providers` (what each
LLM provider needs) and :mod:`.secrets` (what a cassette must never hold). This module opens a
cassette, and checks and writes what was recorded.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal, TypeGuard

import vcr.serialize  # type: ignore[import-untyped]

from snaprun.cassettes.config import MemoryPersister, cassette_config, without_secret_params
from snaprun.cassettes.errors import (
    CassetteCorrupt,
    CassetteError,
    CassetteMissing,
    InvalidCassetteConfig,
    SecretInCassette,
    UnmatchedRequest,
    UnrecordedWebSocket,
)
from snaprun.cassettes.format import FORMAT_VERSION, CassetteSerializer
from snaprun.cassettes.http_bodies import Json, match_body_as_data, request_body, response_body
from snaprun.cassettes.providers import RESPONSE_HEADERS
from snaprun.cassettes.replay import (
    CLIENT_LOGGERS,
    REFUSAL_TEXT,
    BriefRefusalLogs,
    CassetteContext,
    ExactCassette,
    request_summary,
)
from snaprun.cassettes.secrets import CREDENTIAL_ENV_VARS, check_no_secrets
from snaprun.cassettes.websocket import WebSocketTape
from snaprun.cassettes.websocket_form import SocketRecording
from snaprun.files import write_atomically
from snaprun.volatile import NO_VOLATILE, Volatile

__all__ = [
    "DEFAULT_SECRET_ENV_VARS",
    "FORMAT_VERSION",
    "KEPT_HEADERS",
    "RECORD_MODES",
    "REFUSAL_TEXT",
    "RecordMode",
    "CassetteCorrupt",
    "CassetteError",
    "CassetteMissing",
    "CassetteSerializer",
    "CassetteUse",
    "InvalidCassetteConfig",
    "SecretInCassette",
    "UnmatchedRequest",
    "UnrecordedWebSocket",
    "match_body_as_data",
    "open_cassette",
]

# pytest-recording's record modes, and the vcrpy mode each runs as. "rewrite" is new_episodes
# on an empty cassette, but unlike pytest-recording the old file is only replaced once the
# new recording has succeeded.
RecordMode = Literal["none", "once", "new_episodes", "all", "rewrite"]
_VCR_RECORD_MODES: Final[dict[RecordMode, str]] = {
    "none": "none",
    "once": "once",
    "new_episodes": "new_episodes",
    "all": "all",
    "rewrite": "new_episodes",
}
RECORD_MODES: Final[tuple[RecordMode, ...]] = tuple(_VCR_RECORD_MODES)


def is_record_mode(value: str) -> TypeGuard[RecordMode]:
    return value in RECORD_MODES


# The credentials a recording must never hold are the ones `snaprun scan` looks for.
DEFAULT_SECRET_ENV_VARS: Final[tuple[str, ...]] = CREDENTIAL_ENV_VARS

# Headers are allow-listed rather than deny-listed: SDKs add new ones (x-stainless-*,
# openai-*, x-request-id, dates, rate limits) all the time, and each would be noise in the
# file and a place for a secret to leak. The others kept are those a plugin reads (Bedrock's
# request id: see the providers table). vcr_config.SECRET_HEADERS are dropped even when
# asked to keep them.
KEPT_HEADERS: Final[tuple[str, ...]] = ("content-type", *RESPONSE_HEADERS)


class CassetteUse:
    """One test's use of one cassette, as handed out by :func:`open_cassette`.

    It owns the requests it refused: whoever reports them (the plugin, in the test's failure
    report) takes them with :meth:`report_refusals`, so each is told exactly once.
    """

    def __init__(self, path: Path, rerecord_command: str) -> None:
        self.path = path
        self.rerecord_command = rerecord_command
        self.written = False  # whether the file was (re)written when the context exited
        self._cassette: ExactCassette | None = None
        self._sockets: WebSocketTape | None = None
        self._discarded = False
        self._reported = 0

    @property
    def replaying(self) -> bool:
        """Whether every request must come from the cassette (nothing is being recorded)."""
        return bool(self._cassette is not None and self._cassette.write_protected)

    @property
    def discarded(self) -> bool:
        return self._discarded

    def discard(self) -> None:
        """Do not write anything at exit: the test failed, so its recording is not golden, and
        what it left unplayed is no news."""
        self._discarded = True

    def unmatched_requests(self) -> list[str]:
        """Explanations of the requests refused so far (not in the cassette, or repeated)."""
        return list(self._cassette.snaprun_failures) if self._cassette is not None else []

    def report_refusals(self) -> list[str]:
        """The refusals not reported yet, from now on reported."""
        refusals = self.unmatched_requests()[self._reported :]
        self._reported += len(refusals)
        return refusals

    def unplayed_interactions(self) -> list[str]:
        """One message per recorded interaction the test never asked for (when replaying)."""
        cassette = self._cassette
        if cassette is None or not cassette.write_protected:
            return []  # when recording, nothing has to be replayed
        total = len(cassette.data)
        return [
            f"snaprun: recorded interaction #{index + 1} of {total} in {self.path} was "
            f"never replayed: {request_summary(cassette.data[index][0])}. The test made "
            f"fewer requests than when it was recorded; if that is intended, record the "
            f"cassette again:\n  {self.rerecord_command}"
            for index in cassette.unplayed()
        ] + [
            f"snaprun: in {self.path}, {problem}. The test talked less over the socket than "
            f"when it was recorded; if that is intended, record the cassette again:\n"
            f"  {self.rerecord_command}"
            for problem in (self._sockets.problems() if self._sockets is not None else [])
        ]

    def problems(self) -> list[str]:
        """Everything that breaks exactly-once replay: refused requests, then recorded
        interactions the test never asked for. Empty when replay was exact."""
        return self.unmatched_requests() + self.unplayed_interactions()


@contextlib.contextmanager
def open_cassette(
    path: Path,
    *,
    record_mode: str = "none",
    test_id: str,
    vcr_config: Mapping[str, Any] | None = None,
    secret_env_vars: Sequence[str] = DEFAULT_SECRET_ENV_VARS,
    rerecord_command: str,
    kept_headers: Sequence[str] = KEPT_HEADERS,
    configure_vcr: Callable[[Any], None] | None = None,
    normalize_request: Callable[[Json], None] | None = None,
    volatile: Volatile = NO_VOLATILE,
    write: Callable[[Path, str], None] = write_atomically,
) -> Iterator[CassetteUse]:
    """Record or replay the HTTP traffic inside the ``with`` block against cassette ``path``.

    ``record_mode`` is one of RECORD_MODES, with pytest-recording's meanings; "none" only
    replays and requires the file. ``test_id`` names the test in messages and in the file's
    header; ``rerecord_command`` is the command a person should run to record it again.
    ``vcr_config`` takes pytest-recording style vcrpy options (filters, ignore_hosts,
    match_on, hooks); snaprun's sanitizers always run after the caller's hooks.
    ``secret_env_vars`` extends nothing: pass ``(*DEFAULT_SECRET_ENV_VARS, "MY_KEY")``.
    ``configure_vcr`` receives the ``vcr.VCR`` the cassette is made from (the plugin fires
    pytest-recording's ``pytest_recording_configure`` with it); ``normalize_request`` changes
    each JSON request body in place before it is matched (never what is written), after
    ``volatile``'s values (the project's ``snaprun_volatile`` patterns) are labelled.

    On exit, in order: a block that raised writes nothing (the refused requests stay on the
    use, for its caller to report); refused requests raise UnmatchedRequest; a recording is checked
    for secrets (SecretInCassette) and written atomically, unless :meth:`CassetteUse.discard`
    was called. Unplayed interactions are only reported by :meth:`CassetteUse.problems`.
    ``write`` receives the checked text; the plugin stages it, to write it together with the
    test's golden once the test has passed.
    """
    if not is_record_mode(record_mode):
        raise InvalidCassetteConfig(
            f"snaprun: record mode {record_mode!r} is not one of {', '.join(RECORD_MODES)}"
        )
    path = Path(path)
    header = (
        f"snaprun cassette for {' '.join(test_id.split())}. Record it again rather than editing it."
    )
    serializer = CassetteSerializer(header=header)
    loaded, sockets = (
        (None, [])
        if record_mode == "rewrite"
        else _read_cassette(path, serializer, rerecord_command)
    )
    if loaded is None and record_mode == "none":
        raise CassetteMissing(path, rerecord_command)
    persister = MemoryPersister(loaded)
    vcr_mode = _VCR_RECORD_MODES[record_mode]
    config = cassette_config(
        vcr_config,
        vcr_mode,
        serializer,
        persister,
        kept_headers,
        path,
        configure_vcr=configure_vcr,
        normalize_request=normalize_request,
        volatile=volatile,
    )
    context = CassetteContext(path, record_mode, rerecord_command)
    cassette_class: type[ExactCassette] = type(
        "SnaprunCassette", (ExactCassette,), {"context": context}
    )
    use = CassetteUse(path, rerecord_command)

    with (
        cassette_class.use(**config) as cassette,  # patches the HTTP libraries until exit
        _brief_refusal_logs(),
    ):
        use._cassette = cassette
        use._sockets = tape = WebSocketTape(sockets, cassette.snaprun_failures.append)
        with tape.patched(lambda: bool(cassette.write_protected), without_secret_params):
            yield use

    if cassette.snaprun_failures:
        raise UnmatchedRequest(cassette.snaprun_failures)
    if use._discarded or record_mode == "none":
        return
    saved = persister.saved
    if saved is None and not tape.recorded and record_mode != "rewrite" and path.exists():
        return  # nothing new was recorded; the file already holds it all
    if saved is None:
        saved = {"requests": [], "responses": []}  # a test with no requests replays as one
    saved = _without_handshakes(saved, tape.handshakes, path, test_id)
    serializer.websockets = tape.recorded
    raw_parts = [
        *_raw_parts(saved),
        *((f"WebSocket {s.url}", p) for s in tape.recorded for p in s.raw_parts()),
    ]
    try:
        text = vcr.serialize.serialize(saved, serializer)
    except (TypeError, ValueError) as exc:
        raise CassetteError(f"snaprun: cannot write cassette {path}: {exc}") from exc
    check_no_secrets(path, text, raw_parts, secret_env_vars)
    write(path, text)
    use.written = True


@contextlib.contextmanager
def _brief_refusal_logs() -> Iterator[None]:
    brief = BriefRefusalLogs()
    loggers = [logging.getLogger(name) for name in CLIENT_LOGGERS]
    for logger in loggers:
        logger.addFilter(brief)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(brief)


# --------------------------------------------------------------------------------------
# Reading, checking and writing the file
# --------------------------------------------------------------------------------------


def _read_cassette(
    path: Path, serializer: CassetteSerializer, rerecord_command: str
) -> tuple[tuple[list[Any], ...] | None, list[SocketRecording]]:
    """vcrpy's (requests, responses[, metadata]) from the file, or None when there is none;
    and the file's WebSockets."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, []
    except UnicodeDecodeError as exc:
        raise CassetteCorrupt(path, f"not UTF-8 text ({exc.reason})", rerecord_command) from None
    try:
        return serializer.load_file(text)
    except (ValueError, TypeError, KeyError) as exc:  # FormatError and YamlError included
        raise CassetteCorrupt(path, str(exc), rerecord_command) from None


def _without_handshakes(
    saved: Mapping[str, Any], recorded: Sequence[str], path: Path, test_id: str
) -> dict[str, Any]:
    """vcrpy's recording without the ``101`` handshakes of the WebSockets snaprun recorded
    itself; any other handshake is a WebSocket it could not record (UnrecordedWebSocket)."""
    owned = list(recorded)
    requests, responses = [], []
    for request, response in zip(saved["requests"], saved["responses"], strict=True):
        if int(response["status"]["code"]) != 101:
            requests.append(request)
            responses.append(response)
        elif request.uri in owned:
            owned.remove(request.uri)
        else:
            raise UnrecordedWebSocket(path, test_id, str(request.uri))
    return {**saved, "requests": requests, "responses": responses}


def _raw_parts(cassette_dict: Mapping[str, Any]) -> Iterator[tuple[str, bytes]]:
    """Every recorded string before serialization, where a secret could hide from the text
    (e.g. inside a base64 body), and where it is."""
    for number, request in enumerate(cassette_dict.get("requests", []), start=1):
        yield f"the URL of request #{number}", str(request.uri).encode()
        headers = " ".join(f"{k}: {v}" for k, v in request.headers.items()).encode()
        yield f"the headers of request #{number}", headers
        yield f"the body of request #{number}", request_body(request) or b""
    for number, response in enumerate(cassette_dict.get("responses", []), start=1):
        yield f"the headers of response #{number}", repr(response.get("headers")).encode()
        yield f"the body of response #{number}", response_body(response)
