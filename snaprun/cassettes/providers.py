"""The LLM providers a LiveKit agent can use, and what snaprun must know of each.

One table feeds every use: the credential variables a replay sets to placeholders (provider
SDKs refuse to build a client without a key, although a replay sends nothing anywhere), and
the variables whose values a recording must never hold and `snaprun scan` looks for
(:mod:`snaprun.cassettes.secrets`). Each row is read off the plugin's own source: the
variables it reads from the environment when an LLM is built.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Final

PLACEHOLDER: Final = "snaprun-replay-placeholder"


@dataclass(frozen=True)
class Provider:
    """One LLM plugin: who it is, and the environment variables it reads as credentials."""

    name: str
    plugin: str
    """How a user builds it: `openai.LLM`, `inference.LLM`."""
    credentials: tuple[str, ...]
    """Variables whose values are secrets; each is set to a placeholder on replay if unset."""


PROVIDERS: Final[tuple[Provider, ...]] = (
    Provider("OpenAI", "openai.LLM", ("OPENAI_API_KEY",)),
    Provider("Azure OpenAI", "openai.LLM.with_azure", ("AZURE_OPENAI_API_KEY",)),
    Provider("Anthropic", "anthropic.LLM", ("ANTHROPIC_API_KEY",)),
    Provider("Google Gemini", "google.LLM", ("GOOGLE_API_KEY",)),
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
    ),
)

CREDENTIAL_ENV_VARS: Final[tuple[str, ...]] = tuple(
    dict.fromkeys(name for provider in PROVIDERS for name in provider.credentials)
)
"""Every provider's credential variables, in the table's order."""

# A plugin reading the INFERENCE variant first must not be handed a placeholder for it when
# the user set only the plain one (or the other way round): fill a pair only when both are unset.
_ALTERNATIVES: Final = {
    "LIVEKIT_INFERENCE_API_KEY": "LIVEKIT_API_KEY",
    "LIVEKIT_INFERENCE_API_SECRET": "LIVEKIT_API_SECRET",
}


@contextlib.contextmanager
def placeholder_credentials(
    environ: MutableMapping[str, str] = os.environ,
) -> Iterator[None]:
    """Every unset credential variable set to a placeholder, for a replay; restored after."""
    added = [
        name
        for name in CREDENTIAL_ENV_VARS
        if not environ.get(name) and not environ.get(_ALTERNATIVES.get(name, name))
    ]
    for name in added:
        environ[name] = PLACEHOLDER
    try:
        yield
    finally:
        for name in added:
            environ.pop(name, None)
