"""The seed scenario four ways, side by side in one warm process: what does replay cost?

    .venv/bin/python benchmarks/seed_replay.py [--repetitions 20] [--quick]

(a) livekit with an in-process LLM (`ScriptedLLM`), no HTTP: the floor;
(b) livekit's OpenAI plugin over loopback HTTP to the scripted server (live);
(c) plain vcrpy replay (record_mode none, match on method, URL and body, default serializer);
(d) snaprun replay, as one test does it: snaprun's cassette, the capture, the golden dumped
    and compared with the golden text.
Two more split (d) into its parts: (e) snaprun's cassette alone, (f) the capture and golden
over the in-process LLM; (g) times building `openai.LLM(...)` alone, which every variant is
handed ready-made (untimed) because it costs more than a replay and belongs to neither
vcrpy nor snaprun. Cassettes and golden are recorded once beforehand, in a temp dir.
Prints ms per scenario (median, quartiles) and the ratios d/c and d/b (medians of the
per-round ratios) against the targets.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from livekit.agents import AgentSession, llm  # noqa: E402

from benchmarks.harness import (  # noqa: E402
    Variant,
    captured,
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
    spread_ms,
    table,
    vcrpy_record,
    vcrpy_replay,
    verdict,
)
from benchmarks.scripted_llm import ScriptedLLM  # noqa: E402
from examples.seed_agents import EnterAgent  # noqa: E402
from examples.seed_replies import SEED_REPLIES  # noqa: E402
from snaprun.testing import ScriptedServer  # noqa: E402

REQUESTS_PER_SCENARIO = 3  # on_enter's reply, the tool call, the second agent's reply


async def seed(model: llm.LLM) -> None:
    """The user report's scenario: start with capture_run, then one user turn (2 runs)."""
    async with AgentSession(llm=model) as session:
        await session.start(EnterAgent(), capture_run=True)
        await session.run(user_input="Give me all ice cream types.")


def in_process() -> llm.LLM:
    return ScriptedLLM(SEED_REPLIES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", "-n", type=int, default=20, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    parser.add_argument("--quick", action="store_true", help="smoke mode: 3 rounds, 1 warm-up")
    args = parser.parse_args()
    if args.quick:
        args.repetitions, args.warmup = 3, 1

    with tempfile.TemporaryDirectory(prefix="snaprun-seed-") as temp:
        work = Path(temp)
        snaprun_cassette = work / "snaprun.yaml"
        vcrpy_cassette = work / "vcrpy.yaml"
        golden = work / "golden.yaml"

        # Record against a server on a port that is closed again before anything is timed:
        # a replay that leaked to the network would fail rather than look fast.
        progress("recording the cassettes and the golden ...")
        with ScriptedServer(SEED_REPLIES, port=free_port()) as recording:
            replayed = openai_llm(recording.base_url)
            snaprun_record(seed, replayed(), snaprun_cassette, golden)
            vcrpy_record(seed, replayed(), vcrpy_cassette)
        if captured(seed, in_process()) != golden.read_text(encoding="utf-8"):
            raise AssertionError("the in-process LLM does not reproduce the recorded golden")

        with ScriptedServer(SEED_REPLIES) as live:
            live_llm = openai_llm(live.base_url)

            def over_http(model: llm.LLM) -> None:
                before = len(live.requests)
                drive(seed, model)
                if len(live.requests) - before != REQUESTS_PER_SCENARIO:
                    raise AssertionError("the live scenario did not reach the server")

            variants = [
                Variant("a", "in-process LLM (no HTTP)", lambda m: drive(seed, m), in_process),
                Variant("b", "live loopback HTTP", over_http, live_llm),
                Variant(
                    "c",
                    "plain vcrpy replay",
                    lambda m: vcrpy_replay(seed, m, vcrpy_cassette),
                    replayed,
                ),
                Variant(
                    "d",
                    "snaprun replay (cassette + capture + golden)",
                    lambda m: snaprun_replay(seed, m, snaprun_cassette, golden),
                    replayed,
                ),
                Variant(
                    "e",
                    "  part of d: snaprun cassette alone",
                    lambda m: snaprun_cassette_only(seed, m, snaprun_cassette),
                    replayed,
                ),
                Variant(
                    "f",
                    "  part of d: capture + golden, in-process LLM",
                    lambda m: captured(seed, m),
                    in_process,
                ),
                Variant("g", "openai.LLM(...) construction alone", lambda _: replayed()),
            ]
            progress(f"timing {len(variants)} variants × {args.repetitions} rounds ...")
            times = interleave(variants, args.repetitions, args.warmup)

        sizes = {
            "snaprun cassette": snaprun_cassette.stat().st_size,
            "vcrpy cassette": vcrpy_cassette.stat().st_size,
            "golden": golden.stat().st_size,
        }

    wall = {key: median_ms(samples.wall) for key, samples in times.items()}
    cpu = {key: median_ms(samples.cpu) for key, samples in times.items()}
    print_machine()
    print(
        f"seed scenario (2 runs, {REQUESTS_PER_SCENARIO} LLM requests), ms per scenario: medians "
        f"of {args.repetitions} rounds, round-robin, after {args.warmup} warm-up round(s)"
    )
    rows = [
        [
            v.key,
            v.name,
            f"{wall[v.key]:.1f}",
            spread_ms(times[v.key].wall),
            f"{wall[v.key] / wall['c']:.2f}",
            f"{cpu[v.key]:.1f}",
            f"{cpu[v.key] / cpu['c']:.2f}",
        ]
        for v in variants
    ]
    header = ["", "variant", "wall ms", "wall quartiles", "wall × c", "CPU ms", "CPU × c"]
    print(table(header, rows))
    print("bytes: " + ", ".join(f"{name} {size}" for name, size in sizes.items()))
    d_c, d_b = wall["d"] / wall["c"], wall["d"] / wall["b"]
    paired_d_c = paired_ratio(times["d"].wall, times["c"].wall)
    paired_d_b = paired_ratio(times["d"].wall, times["b"].wall)
    print(
        f"d/c snaprun / plain vcrpy replay: {paired_d_c:.2f} (median of per-round ratios; "
        f"ratio of medians {d_c:.2f}, CPU {cpu['d'] / cpu['c']:.2f}): target ≤ 1.10 "
        f"{verdict(paired_d_c <= 1.1)}"
    )
    print(
        f"d/b snaprun / live loopback HTTP: {paired_d_b:.2f} (median of per-round ratios; "
        f"ratio of medians {d_b:.2f}, CPU {cpu['d'] / cpu['b']:.2f}): target < 1.00 "
        f"{verdict(paired_d_b < 1.0)}"
    )
    g = wall["g"]
    print(
        f"a test's `llm` fixture also builds its LLM (g, {g:.1f} ms, httpx's SSL trust store); "
        f"counting it, d/c = {(wall['d'] + g) / (wall['c'] + g):.2f} and "
        f"d/b = {(wall['d'] + g) / (wall['b'] + g):.2f} (ratios of medians)"
    )
    print(
        f"parts of d (differences of medians): snaprun's cassette {wall['e'] - wall['a']:.1f} ms "
        f"over no HTTP (e-a; plain vcrpy c-a {wall['c'] - wall['a']:.1f}); capture + golden "
        f"{wall['f'] - wall['a']:.1f} ms over the bare in-process run (f-a); d-e "
        f"{wall['d'] - wall['e']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
