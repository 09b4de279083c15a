"""The LLM providers a LiveKit agent can use over HTTP, and what snaprun must know of each.

One table feeds every use: the credential variables a replay sets to placeholders (provider
SDKs refuse to build a client without a key, and botocore signs each request with one,
although a replay sends nothing anywhere); the variables whose values a recording must never
hold and `snaprun scan` looks for (:mod:`snaprun.cassettes.secrets`); the response headers a
plugin reads, which the cassette keeps (:data:`snaprun.cassettes.KEPT_HEADERS`); and how each
streams its answer, which decides the body's form in the file
(:mod:`snaprun.cassettes.body_forms`). Each row is read off the plugin's own source: the
variables it reads from the environment when an LLM is built or a request is signed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Final

# 32 bytes at least: inference.LLM signs a token with the secret, and pyjwt warns on every
# replay about an HMAC key shorter than that.
PLACEHOLDER: Final = "snaprun-replay-placeholder-not-a-credential"

# How a provider streams its answer, and so how the cassette writes the body.
SSE: Final = "server-sent events, data only"  # `sse:` a list of data
SSE_NAMED: Final = "server-sent events with event names"  # `sse_events:` {name: data}
SSE_CRLF: Final = "server-sent events, CRLF framing"  # `sse:` + `sse_framing: crlf`
EVENT_STREAM: Final = "AWS event stream (binary frames)"  # `event_stream:` {type: data}


@dataclass(frozen=True)
class Provider:
    """One LLM plugin: who it is, what it reads from the environment, how it answers."""

    name: str
    plugin: str
    """How a user builds it: `openai.LLM`, `inference.LLM`."""
    credentials: tuple[str, ...]
    """Variables whose values are secrets; each is set to a placeholder on replay if unset."""
    stream: str = SSE
    settings: tuple[tuple[str, str], ...] = ()
    """Variables that are no secret but that the client needs to be built, with the value a
    replay gives them when unset."""
    secrets: tuple[str, ...] = ()
    """More secret variables, never given a placeholder (a placeholder session token would be
    worse than none: the client would send it instead of falling back)."""
    kept_headers: tuple[str, ...] = ()
    """Response headers the plugin reads, kept in the cassette (lower case)."""


def _openai_compatible(name: str, plugin: str, *credentials: str) -> Provider:
    """A provider reached through livekit-plugins-openai's chat-completions client."""
    return Provider(name, plugin, credentials)


PROVIDERS: Final[tuple[Provider, ...]] = (
    # openai.LLM (chat completions) and openai.responses.LLM (Responses API over HTTP).
    Provider("OpenAI", "openai.LLM, openai.responses.LLM", ("OPENAI_API_KEY",)),
    Provider(
        "Azure OpenAI",
        "openai.LLM.with_azure",
        ("AZURE_OPENAI_API_KEY",),
        secrets=("AZURE_OPENAI_AD_TOKEN",),
    ),
    Provider("Anthropic", "anthropic.LLM", ("ANTHROPIC_API_KEY",), SSE_NAMED),
    # google-genai also reads GEMINI_API_KEY, but the plugin passes GOOGLE_API_KEY itself.
    Provider(
        "Google Gemini", "google.LLM", ("GOOGLE_API_KEY",), SSE_CRLF, secrets=("GEMINI_API_KEY",)
    ),
    # livekit/agents/inference/_utils.py: the INFERENCE variants win over the plain ones.
    Provider(
        "LiveKit Inference",
        "inference.LLM",
        (
            "LIVEKIT_API_KEY",
            "LIVEKIT_API_SECRET",
            "LIVEKIT_INFERENCE_API_KEY",
            "LIVEKIT_INFERENCE_API_SECRET",
        ),
        secrets=("LIVEKIT_WORKER_TOKEN",),
    ),
    # botocore signs every request with the credentials (SigV4) before it is sent, so a replay
    # needs some; livekit's plugin reads ResponseMetadata.RequestId, taken from this header.
    Provider(
        "AWS Bedrock",
        "aws.LLM",
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
        EVENT_STREAM,
        settings=(("AWS_DEFAULT_REGION", "us-east-1"),),
        secrets=("AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK"),
        kept_headers=("x-amzn-requestid",),
    ),
    Provider("Mistral AI", "mistralai.LLM", ("MISTRAL_API_KEY",)),
    _openai_compatible("Groq", "groq.LLM", "GROQ_API_KEY"),
    _openai_compatible("Cerebras", "openai.LLM.with_cerebras", "CEREBRAS_API_KEY"),
    _openai_compatible("Ollama", "openai.LLM.with_ollama"),  # no key: it sends "ollama"
    _openai_compatible("SambaNova", "openai.LLM.with_sambanova", "SAMBANOVA_API_KEY"),
    _openai_compatible("Fireworks", "openai.LLM.with_fireworks", "FIREWORKS_API_KEY"),
    _openai_compatible("xAI", "openai.LLM.with_x_ai", "XAI_API_KEY"),
    _openai_compatible("OpenRouter", "openai.LLM.with_openrouter", "OPENROUTER_API_KEY"),
    _openai_compatible("DeepSeek", "openai.LLM.with_deepseek", "DEEPSEEK_API_KEY"),
    _openai_compatible("CometAPI", "openai.LLM.with_cometapi", "COMETAPI_API_KEY"),
    _openai_compatible("OctoAI", "openai.LLM.with_octo", "OCTOAI_TOKEN"),
    _openai_compatible("OVHcloud", "openai.LLM.with_ovhcloud", "OVHCLOUD_API_KEY"),
    _openai_compatible("Perplexity", "openai.LLM.with_perplexity", "PERPLEXITY_API_KEY"),
    _openai_compatible("Together AI", "openai.LLM.with_together", "TOGETHER_API_KEY"),
    _openai_compatible("Telnyx", "openai.LLM.with_telnyx", "TELNYX_API_KEY"),
    _openai_compatible("Nebius", "openai.LLM.with_nebius", "NEBIUS_API_KEY"),
    _openai_compatible("Letta", "openai.LLM.with_letta", "LETTA_API_KEY"),
)

CREDENTIAL_ENV_VARS: Final[tuple[str, ...]] = tuple(
    dict.fromkeys(
        name for provider in PROVIDERS for name in (*provider.credentials, *provider.secrets)
    )
)
"""Every provider's secret variables, in the table's order: refused in recordings, scanned."""

PLACEHOLDER_ENV_VARS: Final[tuple[str, ...]] = tuple(
    dict.fromkeys(name for provider in PROVIDERS for name in provider.credentials)
)
"""The secret variables a replay fills with :data:`PLACEHOLDER` when unset."""

SETTING_ENV_VARS: Final[dict[str, str]] = {
    name: value for provider in PROVIDERS for name, value in provider.settings
}
"""The non-secret variables a replay fills when unset, with the value it gives each."""

RESPONSE_HEADERS: Final[tuple[str, ...]] = tuple(
    dict.fromkeys(name for provider in PROVIDERS for name in provider.kept_headers)
)
"""Response headers some plugin needs: kept in every cassette."""

# A client reading one variable of a pair first must not be handed a placeholder for it when
# the user set only the other one: fill a pair only when both are unset.
_ALTERNATIVES: Final = {
    "LIVEKIT_INFERENCE_API_KEY": "LIVEKIT_API_KEY",
    "LIVEKIT_INFERENCE_API_SECRET": "LIVEKIT_API_SECRET",
    "AWS_DEFAULT_REGION": "AWS_REGION",
}


@contextlib.contextmanager
def placeholder_credentials(
    environ: MutableMapping[str, str] = os.environ, extra: Iterable[str] = ()
) -> Iterator[None]:
    """Every unset credential (the table's and ``extra``) set to a placeholder, and every
    unset setting to its replay value, for a replay; restored after."""
    wanted = {name: PLACEHOLDER for name in (*PLACEHOLDER_ENV_VARS, *extra)} | SETTING_ENV_VARS
    added = {
        name: value
        for name, value in wanted.items()
        if not environ.get(name) and not environ.get(_ALTERNATIVES.get(name, name))
    }
    environ.update(added)
    try:
        yield
    finally:
        for name in added:
            environ.pop(name, None)
