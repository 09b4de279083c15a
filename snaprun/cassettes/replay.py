"""Replay: a vcrpy Cassette that plays each recorded interaction exactly once, and answers a
request it cannot play with a refusal that explains why.

vcrpy raises inside the HTTP transport when a request is not in the cassette; the openai SDK
and livekit's LLM stream take that for a connection error and retry with back-off. Here the
cassette answers such a request itself, with an error the clients do not retry (see
:func:`_refusal`), and keeps the explanation: a diff against the closest recorded request.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import vcr.matchers  # type: ignore[import-untyped]
from vcr.cassette import Cassette  # type: ignore[import-untyped]
from vcr.errors import UnhandledHTTPRequestError  # type: ignore[import-untyped]

from snaprun import yamlio
from snaprun.canonical import canonical_json
from snaprun.cassettes import near_misses
from snaprun.cassettes.http_bodies import (
    NOT_JSON,
    BodyMatcher,
    Json,
    VcrRequest,
    VcrResponse,
    match_body_as_data,
    messages_of,
    parse_json,
    render_json,
    request_body,
    response_body,
)
from snaprun.describe import cut
from snaprun.paths import shown

if TYPE_CHECKING:
    from snaprun.cassettes import RecordMode

# Text of the one visible chunk of a refused streaming chat completion (see _refusal).
REFUSAL_TEXT: Final = "[snaprun: request not in cassette]"
_REFUSAL_CODE: Final = "snaprun_request_not_in_cassette"

# How the explanation of a request that follows from an earlier refusal begins.
FOLLOW_UP_NOTE: Final = "It carries the answer to an earlier refused request"

MAX_DIFF_LINES: Final = 80
_SUMMARY_CHARS: Final = 80

# Finding the closest recorded request must stay well inside the fail-fast budget, even for a
# cassette of hundreds of long requests: only the earliest unplayed ones are compared (in a
# replay that runs in order, the request a test was expected to make is among them).
MAX_CLOSEST_CANDIDATES: Final = 40

# Requests that warm up a connection (livekit's LLM.prewarm lists the models when an
# AgentSession starts, fire-and-forget). Whether one happens while the cassette is open is a
# race, so they are answered locally in every mode and never recorded.
_PREWARM_PATH_SUFFIXES: Final = ("/models",)


@dataclass(frozen=True)
class CassetteContext:
    """What messages about this cassette need to say."""

    path: Path
    record_mode: RecordMode
    rerecord_command: str


class ExactCassette(Cassette):  # type: ignore[misc]
    """A vcrpy Cassette that answers requests it cannot replay instead of raising.

    vcrpy's HTTP stubs ask ``can_play_response_for`` and then call ``play_response``; raising
    is left for when neither replay nor recording is possible. Claiming those requests here
    lets ``play_response`` return the refusal (see ``_refusal``) for every stubbed library.
    It also indexes the recorded requests, so finding a response does not scan them all.
    """

    context: CassetteContext  # set on a per-use subclass, so it exists before any request

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.snaprun_failures: list[str] = []
        # vcrpy finds a request's responses by running every matcher against every recorded
        # request, for each request: quadratic over a long conversation. When method and body
        # are among the matchers, a match needs equal (method, body key), so an index on that
        # narrows the scan to the (usually one) candidate; the matchers still decide.
        body = _body_matcher(self._match_on)
        self._indexed = vcr.matchers.method in self._match_on and body is not None
        self.body_matcher = body or BodyMatcher()  # how messages compare bodies, too
        self._index: dict[tuple[str, bytes], list[int]] = {}

    def append(self, request: VcrRequest, response: VcrResponse) -> None:
        count = len(self.data)
        super().append(request, response)  # may drop it (ignored hosts, hooks)
        for index in range(count, len(self.data)):
            key = self._index_key(self.data[index][0])
            self._index.setdefault(key, []).append(index)

    def _responses(self, request: VcrRequest) -> Iterator[tuple[int, VcrResponse]]:
        if not self._indexed:
            yield from super()._responses(request)
            return
        request = self._before_record_request(request)
        if request is None:
            return
        for index in self._index.get(self._index_key(request), ()):
            recorded, response = self.data[index]
            if vcr.matchers.requests_match(request, recorded, self._match_on):
                yield index, response

    def can_play_response_for(self, request: VcrRequest) -> bool:
        self.body_matcher.key(request)  # parse once; vcrpy's copies of the request inherit it
        if _is_prewarm(request) or super().can_play_response_for(request):
            return True
        return bool(self.write_protected and self.filter_request(request) is not None)

    def play_response(self, request: VcrRequest) -> VcrResponse:
        if _is_prewarm(request):
            return _prewarm_response()
        try:
            response: VcrResponse = super().play_response(request)
            return response
        except UnhandledHTTPRequestError:
            if not self.write_protected:
                raise
        stored_form = self.filter_request(request)
        message = _explain_unmatched(stored_form, self)
        self.snaprun_failures.append(message)
        return _refusal(stored_form, message)

    def _index_key(self, request: VcrRequest) -> tuple[str, bytes]:
        return str(request.method).upper(), self.body_matcher.key(request)

    def unplayed(self) -> list[int]:
        """Indices of recorded interactions never replayed (meaningful when replaying)."""
        return [index for index in range(len(self.data)) if not self.play_counts[index]]


def _body_matcher(match_on: Sequence[Any]) -> BodyMatcher | None:
    """snaprun's body matcher among ``match_on``; None when the test matches bodies otherwise."""
    for matcher in match_on:
        if isinstance(matcher, BodyMatcher):
            return matcher
        if matcher is match_body_as_data:
            return BodyMatcher()
    return None


def _same_target(r1: VcrRequest, r2: VcrRequest) -> bool:
    return bool(r1.method == r2.method and r1.uri == r2.uri)


def _is_prewarm(request: VcrRequest) -> bool:
    # google-genai prewarms with a lowercase "get".
    return str(request.method).upper() == "GET" and urlsplit(request.uri).path.endswith(
        _PREWARM_PATH_SUFFIXES
    )


def _prewarm_response() -> VcrResponse:
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["application/json"]},
        # An empty list in OpenAI's shape (also Anthropic's and Mistral's) and in Google's,
        # which otherwise logs "Cannot determine the models type." on every prewarm.
        "body": {"string": b'{"object":"list","data":[],"models":[]}'},
    }


def _refusal(request: VcrRequest, message: str) -> VcrResponse:
    """The response that stands in for a request the cassette cannot answer.

    It must make every client fail at once, without retrying. The openai SDK retries
    connection errors, 408/409/429 and 5xx, so a plain request gets a 400 carrying the
    explanation (plus ``x-should-retry: false``, which the SDK obeys). livekit's LLM stream
    retries any error raised before the first generated chunk, whatever the status, in
    livekit-agents up to 1.3 (three times, two seconds apart); so a streamed chat completion
    instead gets one visible chunk (REFUSAL_TEXT) and then an error event, which the SDK
    raises as ``openai.APIError(message)`` and livekit no longer retries.
    """
    data = parse_json(request_body(request))
    error = {
        "error": {"message": message, "type": _REFUSAL_CODE, "param": None, "code": _REFUSAL_CODE}
    }
    streaming_chat = (
        urlsplit(request.uri).path.endswith("/chat/completions")
        and isinstance(data, dict)
        and data.get("stream") is True
    )
    if not streaming_chat:
        return {
            "status": {"code": 400, "message": "Bad Request"},
            "headers": {"content-type": ["application/json"], "x-should-retry": ["false"]},
            "body": {"string": render_json(error).encode("utf-8")},
        }
    chunk = {
        "id": "snaprun-refused",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": str(data.get("model", "")),
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": REFUSAL_TEXT},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    }
    events = f"data: {render_json(chunk)}\n\ndata: {render_json(error)}\n\n"
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["text/event-stream"], "x-should-retry": ["false"]},
        "body": {"string": events.encode("utf-8")},
    }


def is_refusal(error: BaseException | None) -> bool:
    """Whether ``error``, or an exception it was raised from, is a client's account of a
    refusal (the SDK keeps the error body's ``code``; livekit wraps the SDK's error)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        body = getattr(error, "body", None)
        code = body.get("code") if isinstance(body, dict) else getattr(error, "code", None)
        if code == _REFUSAL_CODE:
            return True
        error = error.__cause__ or error.__context__
    return False


class BriefRefusalLogs(logging.Filter):
    """Logs a refused request's error in one line, without its traceback.

    livekit logs every failed LLM call with the whole exception chain, and each exception in
    it repeats the refusal's explanation: sixty lines of "Captured log" for one changed
    prompt. The failure report explains the refusal once; the log keeps that it happened.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and is_refusal(record.exc_info[1]):
            record.msg = (
                f"{record.getMessage()} (snaprun refused the request: the test's report says why)"
            )
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


# The loggers that log an LLM call's failure with its traceback: livekit-agents' own, and
# its plugins' (a logger's filter sees only the records logged through that very logger).
CLIENT_LOGGERS: Final = (
    "livekit.agents",
    "livekit.plugins.openai",
    "livekit.plugins.anthropic",
    "livekit.plugins.google",
)


# ---- explaining a request that is not in the cassette ------------------------------------


def _explain_unmatched(request: VcrRequest, cassette: ExactCassette) -> str:
    data: Sequence[tuple[VcrRequest, Any]] = cassette.data
    context = cassette.context
    unplayed = cassette.unplayed()
    lines = [
        f"snaprun: request not in cassette {shown(context.path)} (record mode "
        f"'{context.record_mode}'), so it was refused instead of reaching the network:",
        f"  {request_summary(request)}",
        f"  The cassette has {len(data)} recorded interaction(s); "
        f"{len(data) - len(unplayed)} replayed so far.",
    ]
    key = cassette.body_matcher.key(request)
    twins = [
        index
        for index, (recorded, _) in enumerate(data)
        if cassette.play_counts[index]
        and _same_target(recorded, request)
        and cassette.body_matcher.key(recorded) == key
    ]
    if REFUSAL_TEXT.encode() in (request_body(request) or b""):
        lines.append(
            f"{FOLLOW_UP_NOTE} (see that one first): "
            "this one cannot match until the earlier one does."
        )
    elif twins and _failed_response(data[twins[0]][1]):
        lines.append(
            f"It repeats recorded interaction #{twins[0] + 1}, whose recorded response is "
            f"{_failed_response(data[twins[0]][1])}: the client retried the failed request, "
            f"and the cassette holds only one answer. The cassette recorded the provider "
            f"failing, not the conversation."
        )
    elif twins:
        lines.append(
            f"It is identical to recorded interaction #{twins[0] + 1}, which was already "
            f"replayed: each recorded interaction is replayed exactly once, and this test "
            f"makes that request more often than when it was recorded."
        )
    elif data:
        pool = (unplayed or list(range(len(data))))[:MAX_CLOSEST_CANDIDATES]
        closest = _closest(request, [(index, data[index][0]) for index in pool])
        lines.append(
            f"Closest recorded request not yet replayed: #{closest + 1}."
            if unplayed
            else f"Every recorded interaction was already replayed; the closest is #{closest + 1}."
        )
        lines.append("Diff, - recorded, + this request:")
        label = f"#{closest + 1}"
        lines += ["    " + line for line in _body_diff(data[closest][0], request, label)]
        hint = _near_miss(data[closest][0], request, label, cassette.body_matcher)
        if hint is not None:
            return "\n".join(lines + hint)  # recording again would not help
    else:
        lines.append("The cassette has no recorded interactions.")
    lines += [
        "If the change is intended, record the cassette again:",
        f"  {context.rerecord_command}",
    ]
    return "\n".join(lines)


def _near_miss(
    recorded: VcrRequest, request: VcrRequest, label: str, matcher: BodyMatcher
) -> list[str] | None:
    """What fixes a request that differs only by order or by generated values, in what
    matching compares (volatile values labelled, schema sets sorted, the project's hook)."""
    if not _same_target(recorded, request):
        return None
    bodies = [parse_json(request_body(r)) for r in (recorded, request)]
    if any(body is NOT_JSON for body in bodies):
        return None
    recorded_data, sent_data = (matcher.compared(body) for body in bodies)
    return near_misses.explain(recorded_data, sent_data, label)


def _failed_response(response: Any) -> str | None:
    """How a recorded response failed (an HTTP error, a stream cut short), or None."""
    status = response.get("status", {}) if isinstance(response, dict) else {}
    code = status.get("code", 200) if isinstance(status, dict) else 200
    if isinstance(code, int) and code >= 400:
        return f"an error (HTTP {code} {status.get('message', '')})".replace(" )", ")")
    headers = {str(k).lower(): v for k, v in (response.get("headers") or {}).items()}
    kind = str(headers.get("content-type", ""))
    if "event-stream" in kind:
        body = response_body(response)
        if b"[DONE]" not in body and b"message_stop" not in body:
            return "a stream cut short (it never sent its final event)"
    return None


def request_summary(request: VcrRequest) -> str:
    """One line: method, URL and what identifies the body (its last chat message)."""
    line = f"{request.method} {request.uri}"
    body = request_body(request)
    messages = messages_of(parse_json(body))
    if messages:
        return f"{line} (last message {_message_summary(messages[-1])})"
    if body:
        return f"{line} (body {_short(body.decode('utf-8', 'replace'))!r})"
    return line


def _message_summary(message: Json) -> str:
    if not isinstance(message, dict):
        return _short(canonical_json(message))
    role = str(message.get("role", "?"))
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    if isinstance(content, str) and content:
        return f"{role}: {_short(content)!r}"
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        names = [
            str((call.get("function") or {}).get("name", "?"))
            for call in calls
            if isinstance(call, dict)
        ]
        return f"{role}: calls {', '.join(names)}"
    return role


def _short(text: str) -> str:
    """One line of at most _SUMMARY_CHARS characters, its runs of white space one space."""
    return cut(" ".join(text.split()), _SUMMARY_CHARS)


def _closest(request: VcrRequest, candidates: Sequence[tuple[int, VcrRequest]]) -> int:
    """The index of the candidate most like ``request``; the earliest one on a tie."""
    data = parse_json(request_body(request))

    def score(candidate: tuple[int, VcrRequest]) -> tuple[bool, float, int]:
        index, recorded = candidate
        similarity = _similarity(data, parse_json(request_body(recorded)))
        return _same_target(request, recorded), similarity, -index

    return max(candidates, key=score)[0]


def _similarity(a: Json, b: Json) -> float:
    """How alike two request bodies are, from 0 to 1: the share of equal top-level fields and
    of equal messages at equal positions. No rendering or diffing, so it is cheap."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return 1.0 if a == b else 0.0
    keys = (set(a) | set(b)) - {"messages"}
    equal = sum(1 for key in keys if a.get(key) == b.get(key))
    messages_a, messages_b = messages_of(a) or [], messages_of(b) or []
    equal += sum(1 for x, y in zip(messages_a, messages_b, strict=False) if x == y)
    return equal / max(len(keys) + max(len(messages_a), len(messages_b)), 1)


def _body_diff(recorded: VcrRequest, request: VcrRequest, label: str) -> list[str]:
    lines: list[str] = []
    if not _same_target(recorded, request):
        lines += [f"- {recorded.method} {recorded.uri}", f"+ {request.method} {request.uri}"]
    diff = list(
        difflib.unified_diff(
            _pretty_lines(request_body(recorded)),
            _pretty_lines(request_body(request)),
            f"{label} (recorded)",
            "this request",
            n=3,
            lineterm="",
        )
    )
    if len(diff) > MAX_DIFF_LINES:
        diff = diff[:MAX_DIFF_LINES] + [f"… {len(diff) - MAX_DIFF_LINES} more diff lines"]
    return lines + diff


def _pretty_lines(body: bytes | None) -> list[str]:
    """The body as lines a person can diff: YAML for JSON (keys sorted), else the text."""
    data = parse_json(body)
    if data is not NOT_JSON:
        try:
            return yamlio.dump(_sorted_data(data)).splitlines()
        except (TypeError, ValueError):
            return json.dumps(data, indent=2, sort_keys=True).splitlines()
    if not body:
        return []
    try:
        return body.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return [f"<{len(body)} bytes of binary data>"]


def _sorted_data(data: Json) -> Json:
    if isinstance(data, dict):
        return {key: _sorted_data(data[key]) for key in sorted(data)}
    if isinstance(data, list):
        return [_sorted_data(item) for item in data]
    return data
