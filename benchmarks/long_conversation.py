"""One long conversation of 25 to 200 turns: does replay stay linear, and the files small?

    .venv/bin/python benchmarks/long_conversation.py [--turns 25,50,100,200] [--repetitions 3]
    .venv/bin/python benchmarks/long_conversation.py --quick

Each size is one `AgentSession` with one agent: `run(user_input=...)` N times, each answered
with text by a scripted reply whose callable `match` takes every request. For each size it
records the conversation once with snaprun (cassette + golden) and once with plain vcrpy
(default serializer, match on method, URL and body). Then it times, round-robin, every size
in every round (so all sizes share the machine's noise):

  snaprun replay (cassette + capture + golden compare), plain vcrpy replay, and as baselines
  snaprun's cassette alone, livekit over live loopback HTTP, and livekit with the in-process
  LLM (no HTTP: what livekit itself costs as the history grows).

Prints ms per turn (medians; record is one run each), cassette and golden bytes, and the
ratios of the targets: snaprun replay ms/turn at the largest size vs the smallest (median of
the per-round ratios), and the 100-turn cassette's bytes, snaprun / vcrpy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from livekit.agents import Agent, AgentSession, llm  # noqa: E402

from benchmarks.harness import (  # noqa: E402
    Samples,
    Scenario,
    Variant,
    drive,
    free_port,
    interleave,
    median_ms,
    openai_llm,
    paired_ratio,
    print_machine,
    progress,
    snaprun_cassette_only,
    snaprun_record,
    snaprun_replay,
    table,
    vcrpy_record,
    vcrpy_replay,
    verdict,
)
from benchmarks.scripted_llm import ScriptedLLM  # noqa: E402
from snaprun.testing import Reply, ScriptedServer  # noqa: E402

ANSWER = (
    "Noted. That flavour pairs a creamy vanilla base with a ribbon of salted caramel and "
    "toasted pecans. Would you like to hear about another one?"
)
REPLIES = [Reply(match=lambda body: True, text=ANSWER)]


KEYS = {
    "snaprun": "replay snaprun",
    "vcrpy": "replay vcrpy",
    "cassette": "snaprun cassette alone",
    "live": "live HTTP",
    "in-process": "in-process LLM",
}


class Listener(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You are an ice cream expert. Answer every question briefly.")


def conversation(turns: int) -> Scenario:
    async def scenario(model: llm.LLM) -> None:
        async with AgentSession(llm=model) as session:
            await session.start(Listener())
            for turn in range(1, turns + 1):
                await session.run(user_input=f"Turn {turn}: tell me about flavour number {turn}.")

    return scenario


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Recorded:
    """One conversation size, recorded by snaprun and by plain vcrpy."""

    turns: int
    scenario: Scenario
    replayed: Callable[[], llm.LLM]  # the OpenAI plugin, at the (closed) recording URL
    snaprun_cassette: Path
    vcrpy_cassette: Path
    golden: Path
    record_ms: dict[str, float]  # per turn, one run each


def record(turns: int, work: Path) -> Recorded:
    scenario = conversation(turns)
    snaprun_cassette, vcrpy_cassette = work / f"snaprun-{turns}.yaml", work / f"vcrpy-{turns}.yaml"
    golden = work / f"golden-{turns}.yaml"
    progress(f"{turns} turns: recording with snaprun, then with plain vcrpy ...")
    with ScriptedServer(REPLIES, port=free_port()) as recording:
        replayed = openai_llm(recording.base_url)
        snaprun = timed(lambda: snaprun_record(scenario, replayed(), snaprun_cassette, golden))
        vcrpy = timed(lambda: vcrpy_record(scenario, replayed(), vcrpy_cassette))
    record_ms = {"snaprun": snaprun * 1000 / turns, "vcrpy": vcrpy * 1000 / turns}
    return Recorded(turns, scenario, replayed, snaprun_cassette, vcrpy_cassette, golden, record_ms)


def variants(size: Recorded, live: ScriptedServer, copies: int) -> list[Variant]:
    """The five ways to run one size, each `copies` times per timed run (so that short
    conversations get as many turns timed as long ones); keys are `<kind>@<turns>`."""
    scenario, replayed = size.scenario, size.replayed

    def over_http(model: llm.LLM) -> None:
        before = len(live.requests)
        drive(scenario, model)
        if len(live.requests) - before != size.turns:
            raise AssertionError("the live conversation did not reach the server")

    runs: dict[str, tuple[Callable[[llm.LLM], object], Callable[[], llm.LLM]]] = {
        "snaprun": (
            lambda m: snaprun_replay(scenario, m, size.snaprun_cassette, size.golden),
            replayed,
        ),
        "vcrpy": (lambda m: vcrpy_replay(scenario, m, size.vcrpy_cassette), replayed),
        "cassette": (lambda m: snaprun_cassette_only(scenario, m, size.snaprun_cassette), replayed),
        "live": (over_http, openai_llm(live.base_url)),
        "in-process": (lambda m: drive(scenario, m), lambda: ScriptedLLM(REPLIES)),
    }
    return [
        Variant(
            f"{key}@{size.turns}",
            f"{KEYS[key]}, {size.turns} turns",
            partial(run_each, run),
            partial(build_each, prepare, copies),
        )
        for key, (run, prepare) in runs.items()
    ]


def build_each(prepare: Callable[[], llm.LLM], copies: int) -> list[llm.LLM]:
    return [prepare() for _ in range(copies)]


def run_each(run: Callable[[llm.LLM], object], models: list[llm.LLM]) -> None:
    for model in models:
        run(model)


def per_turn(samples: Samples, turns: int) -> Samples:
    return Samples([s / turns for s in samples.wall], [s / turns for s in samples.cpu])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--turns", default="25,50,100,200", help="conversation sizes, comma-separated"
    )
    parser.add_argument("--repetitions", "-n", type=int, default=3, help="timed rounds")
    parser.add_argument("--quick", action="store_true", help="smoke mode: 5 and 10 turns, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.turns, args.repetitions = "5,10", 1
    turns_list = sorted(int(size) for size in args.turns.split(","))

    with (
        tempfile.TemporaryDirectory(prefix="snaprun-long-") as temp,
        ScriptedServer(REPLIES) as live,
    ):
        work = Path(temp)
        # Warm every path once (imports, first requests, the serializers), so the first size
        # measured does not pay for the process start-up.
        progress("warming up with a 2-turn conversation ...")
        interleave(variants(record(2, work), live, 1), repetitions=1, warmup=0)
        sizes = [record(turns, work) for turns in turns_list]
        copies = {size.turns: min(8, max(1, turns_list[-1] // size.turns)) for size in sizes}
        every = [v for size in sizes for v in variants(size, live, copies[size.turns])]
        progress(f"timing {len(every)} variants × {args.repetitions} rounds ...")
        times = interleave(every, args.repetitions, warmup=0)
        results = {
            (key, size.turns): per_turn(
                times[f"{key}@{size.turns}"], size.turns * copies[size.turns]
            )
            for size in sizes
            for key in KEYS
        }
        cassette_bytes = {
            size.turns: (size.snaprun_cassette.stat().st_size, size.vcrpy_cassette.stat().st_size)
            for size in sizes
        }
        golden_bytes = {size.turns: size.golden.stat().st_size for size in sizes}

    print_machine()
    print(
        f"one conversation of N user turns, ms per turn (wall; CPU in brackets): replays are "
        f"medians of {args.repetitions} rounds, every size and variant in every round (sizes "
        f"below {turns_list[-1]} turns replayed up to 8× per round); records are one run each"
    )
    header = ["turns", "record snaprun", "record vcrpy", *KEYS.values()]
    rows = [
        [
            size.turns,
            f"{size.record_ms['snaprun']:.1f}",
            f"{size.record_ms['vcrpy']:.1f}",
            *(
                f"{median_ms(results[key, size.turns].wall):.1f} "
                f"({median_ms(results[key, size.turns].cpu):.1f})"
                for key in KEYS
            ),
        ]
        for size in sizes
    ]
    print(table(header, rows))
    print()
    header = ["turns", "snaprun cassette bytes", "vcrpy cassette bytes", "snaprun / vcrpy"]
    rows = [
        [turns, ours, theirs, f"{ours / theirs:.1%}", golden_bytes[turns]]
        for turns, (ours, theirs) in cassette_bytes.items()
    ]
    print(table([*header, "golden bytes"], rows))
    first, last = turns_list[0], turns_list[-1]
    for key, name in KEYS.items():
        small, large = results[key, first], results[key, last]
        paired = paired_ratio(large.wall, small.wall)
        of_medians = median_ms(large.wall) / median_ms(small.wall)
        cpu = median_ms(large.cpu) / median_ms(small.cpu)
        target = f"; target ≤ 1.50 {verdict(paired <= 1.5)}" if key == "snaprun" else ""
        print(
            f"{name}: ms/turn at {last} turns / at {first} turns = {paired:.2f} (median of "
            f"per-round ratios; ratio of medians {of_medians:.2f}, CPU {cpu:.2f}){target}"
        )
    if 100 in cassette_bytes:
        ours, theirs = cassette_bytes[100]
        print(
            f"100-turn cassette: snaprun / vcrpy bytes = {ours / theirs:.1%} "
            f"(target ≤ 25%: {verdict(ours / theirs <= 0.25)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
