"""The seed scenario replayed through each provider's plugin: snaprun next to plain vcrpy.

    .venv/bin/python benchmarks/providers.py [--repetitions 10] [--quick]

For each provider, its cassette is recorded once (snaprun's and plain vcrpy's) against the
local server speaking its protocol (snaprun.testing), on a port closed again before anything
is timed; then both replays run round-robin in this process, every provider's variants
interleaved. Prints ms per scenario (medians) and, per provider, the median of the
per-round ratios snaprun / plain vcrpy against the target (≤ 1.10).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from livekit.agents import llm  # noqa: E402

from benchmarks.harness import (  # noqa: E402
    Variant,
    free_port,
    interleave,
    median_ms,
    paired_ratio,
    print_machine,
    progress,
    snaprun_record,
    snaprun_replay,
    table,
    vcrpy_record,
    vcrpy_replay,
    verdict,
)
from benchmarks.seed_replay import seed  # noqa: E402
from examples.seed_replies import SEED_REPLIES  # noqa: E402
from snaprun.testing import ScriptedServer  # noqa: E402
from snaprun.testing.provider_servers import (  # noqa: E402
    AnthropicServer,
    BedrockServer,
    GeminiServer,
)

# Fake keys for recording; each provider's replay gets snaprun's placeholders like a test's.
FAKE_KEYS = {
    "OPENAI_API_KEY": "sk-benchmark",
    "ANTHROPIC_API_KEY": "sk-ant-benchmark",
    "GOOGLE_API_KEY": "AIza-benchmark",
    "MISTRAL_API_KEY": "mistral-benchmark",
    "AWS_ACCESS_KEY_ID": "AKIABENCHMARK",
    "AWS_SECRET_ACCESS_KEY": "benchmark-secret",
}


@dataclass(frozen=True)
class Provider:
    key: str
    plugin: str  # the module it needs; left out when it is not installed
    server: type[ScriptedServer]
    build: Callable[[str], llm.LLM]  # the LLM, given the server's root URL


def _openai(url: str) -> llm.LLM:
    from livekit.plugins import openai

    return openai.LLM(model="gpt-4.1", base_url=url + "/v1")


def _anthropic(url: str) -> llm.LLM:
    from livekit.plugins import anthropic

    return anthropic.LLM(model="claude-sonnet-4-5", base_url=url)


def _google(url: str) -> llm.LLM:
    from google.genai import types
    from livekit.plugins import google

    return google.LLM(model="gemini-2.0-flash", http_options=types.HttpOptions(base_url=url))


def _bedrock(url: str) -> llm.LLM:
    from livekit.plugins import aws

    os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = url
    return aws.LLM(model="amazon.nova-lite-v1:0", region="us-east-1")


def _mistral(url: str) -> llm.LLM:
    from livekit.plugins import mistralai
    from mistralai.client import Mistral

    client = Mistral(api_key=os.environ["MISTRAL_API_KEY"], server_url=url)
    return mistralai.LLM(model="mistral-small-latest", client=client, api_mode="chat_completions")


PROVIDERS = (
    Provider("openai", "livekit.plugins.openai", ScriptedServer, _openai),
    Provider("anthropic", "livekit.plugins.anthropic", AnthropicServer, _anthropic),
    Provider("google", "livekit.plugins.google", GeminiServer, _google),
    Provider("bedrock", "livekit.plugins.aws", BedrockServer, _bedrock),
    Provider("mistral", "livekit.plugins.mistralai", ScriptedServer, _mistral),
)


def _server(provider: Provider, port: int) -> ScriptedServer:
    if provider.key == "mistral":
        return ScriptedServer(SEED_REPLIES, port=port, whole_tool_calls=True)
    return provider.server(SEED_REPLIES, port=port)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", "-n", type=int, default=10, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--quick", action="store_true", help="smoke mode: 3 rounds")
    parser.add_argument("--only", nargs="*", help="provider keys to run (default: all)")
    args = parser.parse_args()
    if args.quick:
        args.repetitions = 3
    os.environ.update(FAKE_KEYS)
    chosen = [
        p
        for p in PROVIDERS
        if importlib.util.find_spec(p.plugin) and (not args.only or p.key in args.only)
    ]
    variants: list[Variant] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="snaprun-providers-") as temp:
        for provider in chosen:
            work = Path(temp) / provider.key
            work.mkdir()
            snaprun_cassette, vcrpy_cassette = work / "snaprun.yaml", work / "vcrpy.yaml"
            golden = work / "golden.yaml"
            progress(f"recording {provider.key} ...")
            with _server(provider, free_port()) as server:
                url = server.root_url
                build = provider.build
                snaprun_record(seed, build(url), snaprun_cassette, golden)
                vcrpy_record(seed, build(url), vcrpy_cassette)
            try:  # one replay each, untimed: a provider that cannot replay is named, not timed
                snaprun_replay(seed, build(url), snaprun_cassette, golden)
                vcrpy_replay(seed, build(url), vcrpy_cassette)
            except Exception as exc:  # noqa: BLE001 - reported and left out
                skipped.append(f"{provider.key}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            variants += _variants(
                provider.key, build, url, snaprun_cassette, vcrpy_cassette, golden
            )
        progress(f"timing {len(variants)} variants × {args.repetitions} rounds ...")
        times = interleave(variants, args.repetitions, args.warmup)

    print_machine()
    print(f"seed scenario per provider, ms per scenario: medians of {args.repetitions} rounds")
    rows = []
    for key in dict.fromkeys(v.key.split(":")[0] for v in variants):
        vcrpy, snaprun = times[f"{key}:vcrpy"].wall, times[f"{key}:snaprun"].wall
        ratio = paired_ratio(snaprun, vcrpy)
        rows.append(
            [
                key,
                f"{median_ms(vcrpy):.1f}",
                f"{median_ms(snaprun):.1f}",
                f"{ratio:.2f}",
                verdict(ratio <= 1.1),
            ]
        )
    print(table(["provider", "plain vcrpy", "snaprun", "snaprun / vcrpy", "≤ 1.10"], rows))
    for line in skipped:
        print(f"not timed, {line}")
    return 0


def _variants(
    key: str,
    build: Callable[[str], llm.LLM],
    url: str,
    snaprun_cassette: Path,
    vcrpy_cassette: Path,
    golden: Path,
) -> list[Variant]:
    return [
        Variant(
            f"{key}:vcrpy",
            f"{key}, plain vcrpy replay",
            lambda m: vcrpy_replay(seed, m, vcrpy_cassette),
            lambda: build(url),
        ),
        Variant(
            f"{key}:snaprun",
            f"{key}, snaprun replay",
            lambda m: snaprun_replay(seed, m, snaprun_cassette, golden),
            lambda: build(url),
        ),
    ]


if __name__ == "__main__":
    sys.exit(main())
