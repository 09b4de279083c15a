"""Reading a cassette, this tree's snaprun next to another revision's, in alternating processes.

    .venv/bin/python benchmarks/cassette_load.py --against d8ca1ed [--turns 25,200] [-n 5]
    .venv/bin/python benchmarks/cassette_load.py --against d8ca1ed --quick

Records one conversation per size (this tree, the long conversation of `long_conversation.py`),
checks out `--against` into a temporary git worktree, then runs `--measure` in a fresh process
per tree and round, alternating which tree goes first: what a test pays before its first
request (`open_cassette` entered and left, no request: reading, decoding, indexing), what a
golden's corrupt-check costs (`yamlio.load` of it) and the match key of the conversation's last
request as sent (`body_key` of its body). The other revision reads the same files: a format
change between the two makes the run fail rather than compare different things.

Prints ms per turn (medians of the rounds) and the ratios this tree / the other revision.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 400  # turns timed per step and process, spread over repetitions of the step


def steps(work: Path, turns: int) -> dict[str, tuple[Callable[[], object], int]]:
    """Each step of one size, and how many turns one call of it covers."""
    import vcr.request  # type: ignore[import-untyped]

    from snaprun import yamlio
    from snaprun.cassettes import open_cassette
    from snaprun.cassettes.http_bodies import body_key

    cassette, golden = work / f"c{turns}.yaml", (work / f"g{turns}.yaml").read_text()
    last = json.loads(cassette.with_suffix(".last.json").read_text())
    sent = json.dumps(last, separators=(",", ":")).encode()

    def open_and_close() -> None:
        with open_cassette(cassette, record_mode="none", test_id="t", rerecord_command="-"):
            pass

    def key_of_sent() -> bytes:
        request = vcr.request.Request("POST", "http://x/v1/chat/completions", sent, {})
        return body_key(request)

    return {
        "open_cassette": (open_and_close, turns),
        "yamlio.load of the golden": (partial(yamlio.load, golden), turns),
        "body_key of the last request sent": (key_of_sent, 1),
    }


def measure(work: Path, sizes: list[int]) -> dict[str, float]:
    """ms per turn of each step (per request for body_key), median of repetitions, with the
    snaprun this process imports."""
    out: dict[str, float] = {}
    for turns in sizes:
        for name, (step, per) in steps(work, turns).items():
            step()  # warm
            samples = []
            for _ in range(max(5, REPEATS // turns)):
                started = time.perf_counter()
                step()
                samples.append(time.perf_counter() - started)
            out[f"{name}@{turns}"] = statistics.median(samples) * 1000 / per
    return out


def record(work: Path, sizes: list[int]) -> None:
    """One long conversation per size: cassette, golden and the last request's body."""
    from benchmarks import long_conversation
    from benchmarks.harness import free_port, openai_llm, progress, snaprun_record
    from snaprun.testing import ScriptedServer

    for turns in sizes:
        progress(f"recording {turns} turns ...")
        cassette = work / f"c{turns}.yaml"
        with ScriptedServer(long_conversation.REPLIES, port=free_port()) as server:
            model = openai_llm(server.base_url)()
            snaprun_record(
                long_conversation.conversation(turns), model, cassette, work / f"g{turns}.yaml"
            )
            last = server.requests[-1]
        cassette.with_suffix(".last.json").write_text(json.dumps(last))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="the git revision to compare with")
    parser.add_argument("--turns", default="25,200")
    parser.add_argument("--repetitions", "-n", type=int, default=5, help="rounds")
    parser.add_argument("--quick", action="store_true", help="smoke mode: 5,10 turns, 1 round")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args()
    if args.quick:
        args.turns, args.repetitions = "5,10", 1
    sizes = sorted(int(size) for size in args.turns.split(","))
    if args.measure:
        print(json.dumps(measure(args.measure, sizes)))
        return 0
    if not args.against:
        parser.error("--against REV is required")

    sys.path.insert(0, str(ROOT))
    from benchmarks.harness import print_machine, progress, table

    with tempfile.TemporaryDirectory(prefix="snaprun-load-") as temp:
        work, other = Path(temp) / "work", Path(temp) / "other"
        work.mkdir()
        record(work, sizes)
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(other), args.against],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            trees = {"this tree": ROOT, args.against: other}
            results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
            for round_ in range(args.repetitions):
                progress(f"round {round_ + 1} of {args.repetitions} ...")
                order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
                for name in order:
                    # PYTHONPATH comes before site-packages: each imports its tree's snaprun.
                    done = subprocess.run(
                        [sys.executable, __file__, "--measure", str(work), "--turns", args.turns],
                        env={**os.environ, "PYTHONPATH": str(trees[name])},
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    results[name].append(json.loads(done.stdout.splitlines()[-1]))
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, check=False
            )

    print_machine()
    print(f"ms per turn (body_key: ms per request), medians of {args.repetitions} rounds")
    ours, theirs = results["this tree"], results[args.against]
    rows = []
    for key in ours[0]:
        mine = statistics.median(r[key] for r in ours)
        other_ms = statistics.median(r[key] for r in theirs)
        ratios = statistics.median(a[key] / b[key] for a, b in zip(ours, theirs, strict=True))
        rows.append([key, f"{other_ms:.3f}", f"{mine:.3f}", f"{ratios:.2f}"])
    print(table(["step@turns", args.against, "this tree", "this / other (per-round)"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
