"""vcrpy's settings for one use of a cassette: the test's ``vcr_config``, then snaprun's rules.

Snaprun decides the record mode, serializer, persister and matching itself, and its
sanitizers run after the caller's hooks, so what they drop (headers outside the allow-list,
credential query parameters) never reaches the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import vcr  # type: ignore[import-untyped]
from vcr.persisters.filesystem import CassetteNotFoundError  # type: ignore[import-untyped]

from snaprun.cassettes.errors import InvalidCassetteConfig
from snaprun.cassettes.format import CassetteSerializer
from snaprun.cassettes.http_bodies import BodyMatcher, Json, VcrRequest, VcrResponse
from snaprun.cassettes.secrets import REDACTED, query_param_action
from snaprun.volatile import NO_VOLATILE, Volatile

# Dropped even when asked to keep them (see cassettes.KEPT_HEADERS).
SECRET_HEADERS: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
    }
)
SECRET_QUERY_PARAMS: Final = frozenset({"key", "api_key", "api-key", "token", "access_token"})

# Names under which this module registers its pieces on the VCR instance.
_SERIALIZER_NAME: Final = "snaprun"
_BODY_MATCHER_NAME: Final = "snaprun_body"
_DEFAULT_MATCH_ON: Final = ("method", "uri", _BODY_MATCHER_NAME)

# vcr_config keys passed on to vcrpy as they are.
_PASSTHROUGH_KEYS: Final = frozenset(
    {
        "filter_headers",
        "filter_query_parameters",
        "filter_post_data_parameters",
        "filter_nested_post_data_parameters",
        "ignore_hosts",
        "ignore_localhost",
        "match_on",
        "additional_matchers",
        "filter_sensitive_data",
        "before_save_interaction",
        "after_load_interaction",
        "skip_patchers",
    }
)
# Hooks that run before snaprun's own sanitizers, which always run last.
_HOOK_KEYS: Final = frozenset({"before_record_request", "before_record", "before_record_response"})
# pytest-recording's own network-blocking option, not a vcrpy setting.
_IGNORED_KEYS: Final = frozenset({"allowed_hosts"})


class MemoryPersister:
    """Hands vcrpy the cassette read beforehand and keeps what vcrpy would save.

    Reading happens before vcrpy starts, so a corrupt file gives our error rather than one
    from inside vcrpy. Saving only captures: vcrpy saves before it unpatches the HTTP
    libraries, so anything raised there would leave them patched; checks and the write
    happen after vcrpy has exited.
    """

    def __init__(self, loaded: tuple[list[Any], ...] | None) -> None:
        self.loaded = loaded
        self.saved: dict[str, Any] | None = None

    def load_cassette(self, cassette_path: str, serializer: Any) -> tuple[list[Any], ...]:
        if self.loaded is None:
            raise CassetteNotFoundError()
        return self.loaded

    def save_cassette(
        self, cassette_path: str, cassette_dict: dict[str, Any], serializer: Any
    ) -> None:
        self.saved = cassette_dict


def cassette_config(
    vcr_config: Mapping[str, Any] | None,
    vcr_record_mode: str,
    serializer: CassetteSerializer,
    persister: MemoryPersister,
    kept_headers: Iterable[str],
    path: Path,
    configure_vcr: Callable[[Any], None] | None = None,
    normalize_request: Callable[[Json], None] | None = None,
    volatile: Volatile = NO_VOLATILE,
) -> dict[str, Any]:
    """The keyword arguments of vcrpy's Cassette for this use.

    ``configure_vcr`` gets the ``vcr.VCR`` before the cassette is made from it, as
    pytest-recording's ``pytest_recording_configure`` hook does (register matchers there);
    request bodies are matched with ``volatile``'s values labelled, then changed in place by
    ``normalize_request``.
    """
    user = dict(vcr_config or {})
    refused = sorted(set(user) - _PASSTHROUGH_KEYS - _HOOK_KEYS - _IGNORED_KEYS)
    if refused:
        raise InvalidCassetteConfig(
            f"snaprun: vcr_config key(s) {', '.join(refused)} cannot be used: snaprun sets the "
            f"record mode, serializer, persister and replay rules itself. Allowed keys: "
            f"{', '.join(sorted(_PASSTHROUGH_KEYS | _HOOK_KEYS))}."
        )
    kept = frozenset(name.lower() for name in kept_headers) - SECRET_HEADERS
    recorder = vcr.VCR()
    recorder.register_serializer(_SERIALIZER_NAME, serializer)
    recorder.register_matcher(_BODY_MATCHER_NAME, BodyMatcher(volatile, normalize_request))
    recorder.register_persister(persister)
    if configure_vcr is not None:
        configure_vcr(recorder)
        _check_persister(recorder, persister)
    options = {key: user[key] for key in _PASSTHROUGH_KEYS if key in user}
    request_hooks = _hooks(user.get("before_record_request", user.get("before_record")))
    response_hooks = _hooks(user.get("before_record_response"))
    config: dict[str, Any] = recorder.get_merged_config(
        path=str(path),
        record_mode=vcr_record_mode,
        serializer=_SERIALIZER_NAME,
        match_on=tuple(options.pop("match_on", _DEFAULT_MATCH_ON)),
        before_record_request=[*request_hooks, _request_sanitizer(kept)],
        before_record_response=[*response_hooks, _response_sanitizer(kept)],
        decode_compressed_response=True,
        allow_playback_repeats=False,
        drop_unused_requests=False,
        # Saving is decided after the test; vcrpy only hands over what it would save.
        record_on_exception=False,
        **options,
    )
    return config


def _check_persister(recorder: Any, persister: MemoryPersister) -> None:
    if recorder.persister is not persister:
        raise InvalidCassetteConfig(
            f"snaprun: a pytest_recording_configure hook registered the persister "
            f"{_name_of(recorder.persister)}, but snaprun reads and writes its cassettes itself "
            f"(exact replay, atomic writes, no secrets). Leave snaprun's VCR alone in that hook: "
            f'`if "{_SERIALIZER_NAME}" in vcr.serializers: return`.'
        )


def _name_of(value: object) -> str:
    kind = value if isinstance(value, type) else type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _hooks(value: object) -> list[Callable[..., Any]]:
    if value is None:
        return []
    if callable(value):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    raise InvalidCassetteConfig(f"snaprun: a vcr_config hook must be callable, not {value!r}")


def _request_sanitizer(kept: frozenset[str]) -> Callable[[VcrRequest], VcrRequest]:
    def sanitize_request(request: VcrRequest) -> VcrRequest:
        # vcrpy calls this on its own deep copy, so changing it in place is safe.
        request.headers = {k: v for k, v in request.headers.items() if k.lower() in kept}
        # google-genai on aiohttp sends "get"/"post": methods are matched whatever their case.
        request.method = str(request.method).upper()
        uri = without_secret_params(request.uri)
        if uri != request.uri:
            request.uri = uri
        return request

    return sanitize_request


def _response_sanitizer(kept: frozenset[str]) -> Callable[[VcrResponse], VcrResponse]:
    def sanitize_response(response: VcrResponse) -> VcrResponse:
        headers = response.get("headers") or {}
        response["headers"] = {k: v for k, v in headers.items() if k.lower() in kept}
        return response

    return sanitize_response


def without_secret_params(uri: str) -> str:
    """``uri`` without credential query parameters (what a cassette stores as the URL)."""
    parts = urlsplit(uri)
    if not parts.query:
        return uri
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    # Known harmless names are kept, credential-like ones dropped, and any other whose value
    # looks like a key redacted (secrets.query_param_action). Replay applies the same rule to
    # the request it matches, so a dropped or redacted value still matches.
    kept = []
    for name, value in pairs:
        action = "drop" if name.lower() in SECRET_QUERY_PARAMS else query_param_action(name, value)
        if action != "drop":
            kept.append((name, REDACTED if action == "redact" else value))
    if kept == pairs:
        return uri  # leave the URI byte for byte as the client sent it
    return urlunsplit(parts._replace(query=urlencode(kept)))
