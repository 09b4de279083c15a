"""What the replay benchmarks share: the ways to run a scenario, and side-by-side timing.

A *scenario* is an async function that drives one `AgentSession` over the LLM it is given.
Each `Variant` runs it one way (in-process LLM, live HTTP, plain vcrpy, snaprun) and checks
that the run really happened that way, so a broken replay cannot pass as a fast one.
`interleave` times variants round-robin in one process, so they share the machine's noise.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import vcr  # type: ignore[import-untyped]
from livekit.agents import llm
from livekit.plugins import openai

from snaprun import yamlio
from snaprun.capture import Capture
from snaprun.cassettes import open_cassette

Scenario = Callable[[llm.LLM], Awaitable[None]]

# Plain vcrpy as its documentation configures it: the default YAML serializer (libyaml when
# present), requests matched on method, URL and body.
VCRPY_MATCH_ON = ("method", "uri", "body")
API_KEY = "sk-benchmark"


def progress(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the figures."""
    print(message, file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    """What a reader needs to compare these figures with their own."""
    return {
        "nproc": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "livekit-agents": version("livekit-agents"),
        "livekit-plugins-openai": version("livekit-plugins-openai"),
        "openai": version("openai"),
        "vcrpy": version("vcrpy"),
        "pyyaml": version("pyyaml"),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "snaprun": snaprun_revision(),
    }


def snaprun_revision() -> str:
    """The commit measured, and a digest of each snaprun module that differs from it.

    Others edit snaprun while benchmarks run; the digest says which version was measured.
    """
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("diff", "--name-only", "HEAD", "--", "snaprun").split()
    changed += git("ls-files", "--others", "--exclude-standard", "--", "snaprun").split()
    digests = [
        f"{Path(name).name}@{hashlib.sha256((root / name).read_bytes()).hexdigest()[:8]}"
        for name in changed
        if (root / name).exists()
    ]
    return commit + (f" + uncommitted {' '.join(digests)}" if digests else "")


def print_machine() -> None:
    print("machine: " + ", ".join(f"{key} {value}" for key, value in machine().items()))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def openai_llm(base_url: str) -> Callable[[], llm.LLM]:
    """livekit's OpenAI plugin pointed at `base_url`, as a test's `llm` fixture builds it."""
    return lambda: openai.LLM(model="gpt-4.1", base_url=base_url, api_key=API_KEY)


def drive(scenario: Scenario, model: llm.LLM) -> None:
    """Run the scenario on a fresh event loop, as each pytest-asyncio test does; close `model`."""

    async def main() -> None:
        try:
            await scenario(model)
        finally:
            await model.aclose()

    asyncio.run(main())


def captured(scenario: Scenario, model: llm.LLM) -> str:
    """Run the scenario under snaprun's capture; the golden text it produces."""
    capture = Capture(settle_timeout=60)
    with capture.installed():
        drive(scenario, model)
    return yamlio.dump(capture.timeline().to_data())


# -- snaprun --------------------------------------------------------------------------------


def snaprun_record(scenario: Scenario, model: llm.LLM, cassette: Path, golden: Path) -> None:
    """Record `cassette` and write `golden`, like `pytest --record-mode=once --snapshot-update`."""
    with open_cassette(
        cassette, record_mode="once", test_id=cassette.stem, rerecord_command="(benchmark)"
    ):
        text = captured(scenario, model)
    golden.write_text(text, encoding="utf-8")


def snaprun_replay(scenario: Scenario, model: llm.LLM, cassette: Path, golden: Path) -> None:
    """What one snaprun test does on replay: golden check, cassette, capture, dump, compare."""
    golden_text = golden.read_text(encoding="utf-8")
    yamlio.load(golden_text)  # the `golden` fixture's corrupt-golden check
    with open_cassette(
        cassette, record_mode="none", test_id=cassette.stem, rerecord_command="(benchmark)"
    ) as use:
        capture = Capture(settle_timeout=60)
        with capture.installed():
            drive(scenario, model)
        capture.check()  # `transcript == golden` asks the capture first ...
        text = yamlio.dump(capture.timeline().to_data())  # ... then syrupy serializes it
        problems = use.problems()
    if text != golden_text:
        raise AssertionError(f"snaprun replay of {cassette} differs from its golden {golden}")
    if problems:
        raise AssertionError("\n".join(problems))


def snaprun_cassette_only(scenario: Scenario, model: llm.LLM, cassette: Path) -> None:
    """snaprun's cassette without the capture or the golden: isolates the cassette's cost."""
    with open_cassette(
        cassette, record_mode="none", test_id=cassette.stem, rerecord_command="(benchmark)"
    ) as use:
        drive(scenario, model)
        problems = use.problems()
    if problems:
        raise AssertionError("\n".join(problems))


# -- plain vcrpy ----------------------------------------------------------------------------


def vcrpy_record(scenario: Scenario, model: llm.LLM, cassette: Path) -> None:
    recorder = vcr.VCR(record_mode="once", match_on=VCRPY_MATCH_ON)
    with recorder.use_cassette(str(cassette)):
        drive(scenario, model)


def vcrpy_replay(scenario: Scenario, model: llm.LLM, cassette: Path) -> None:
    """Plain vcrpy replay; fails unless every recorded chat request was replayed."""
    player = vcr.VCR(record_mode="none", match_on=VCRPY_MATCH_ON)
    with player.use_cassette(str(cassette)) as used:
        drive(scenario, model)
    posts = [i for i, request in enumerate(used.requests) if request.method == "POST"]
    unplayed = [i for i in posts if not used.play_counts[i]]
    if unplayed:
        raise AssertionError(f"plain vcrpy left {len(unplayed)} of {len(posts)} requests unplayed")


# -- timing ---------------------------------------------------------------------------------


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Variant:
    """One way to run a scenario. `prepare` (not timed) builds what `run` (timed) is given."""

    key: str  # short label used in ratios: a, b, c ...
    name: str
    run: Callable[[Any], object]
    prepare: Callable[[], Any] = _nothing


@dataclass
class Samples:
    """Seconds per timed run: wall clock, and CPU time of this process (all its threads).

    CPU time leaves out waiting (timers, sockets) and the turns other processes take on a
    core, so it cross-checks the wall clock; it does not cure noise where neighbours slow the
    core itself down (on the shared VM these figures were measured on, CPU ≈ wall).
    """

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def interleave(
    variants: Sequence[Variant], repetitions: int, warmup: int = 1
) -> dict[str, Samples]:
    """Time each variant round-robin in this process.

    Each round runs every variant once, starting further along each time (spread evenly over
    the rounds), so no variant always follows the same one; a garbage collection before each
    timed run keeps one variant's garbage from being collected on another's clock.
    """
    samples = {variant.key: Samples() for variant in variants}
    stride = max(1, len(variants) // max(1, repetitions))
    for round_number in range(-warmup, repetitions):
        shift = round_number * stride % len(variants)
        took: dict[str, float] = {}
        for variant in [*variants[shift:], *variants[:shift]]:
            prepared = variant.prepare()
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            variant.run(prepared)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            took[variant.key] = wall
            if round_number >= 0:
                samples[variant.key].wall.append(wall)
                samples[variant.key].cpu.append(cpu)
        label = "warm-up" if round_number < 0 else f"round {round_number + 1}/{repetitions}"
        figures = ", ".join(f"{v.key} {took[v.key] * 1000:.0f} ms" for v in variants)
        progress(f"  {label}: {figures}")
    return samples


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """The median of the per-round ratios: each round's two runs shared the machine's state,
    so this cancels the slow and fast spells a shared machine goes through."""
    return statistics.median(n / d for n, d in zip(numerator, denominator, strict=True))


def spread_ms(samples: Sequence[float]) -> str:
    """The middle half of the samples (quartiles), to show how noisy a median is."""
    if len(samples) < 4:
        return f"{min(samples) * 1000:.1f}-{max(samples) * 1000:.1f}"
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return f"{q1 * 1000:.1f}-{q3 * 1000:.1f}"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, so the output pastes straight into BENCHMARKS.md."""
    cells = [list(map(str, header)), *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            + " |"
        )

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(cells[0]), rule, *map(line, cells[1:])])


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"
