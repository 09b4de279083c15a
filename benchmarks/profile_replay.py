"""Where does replay time go? pyinstrument profiles, attributed to the code that spent it.

    .venv/bin/python benchmarks/profile_replay.py seed [--repetitions 20]
    .venv/bin/python benchmarks/profile_replay.py long [--turns 25,200]
    .venv/bin/python benchmarks/profile_replay.py parts [--turns 25,200]
    .venv/bin/python benchmarks/profile_replay.py pyspy RAW_FILE
    .venv/bin/python benchmarks/profile_replay.py ... --quick

`seed` profiles the seed scenario replayed by plain vcrpy and by snaprun (as seed_replay.py runs
them, c and d); `long` profiles snaprun's replay of one conversation at each size. Each column
is one profile; each row an *owner*, the library that spent the time: a sample belongs to the
innermost frame from snaprun, livekit-agents, livekit's OpenAI plugin, the openai SDK, httpx,
vcrpy or asyncio; frames of other libraries, the standard library and builtins (json, yaml,
copy, pydantic ...) count for the owner that called them. So `snaprun` is the time spent in
snaprun's own code and whatever it asked for, and nothing livekit did inside snaprun's
wrappers. Needs pyinstrument (`pip install pyinstrument`). Sampling is on the wall clock and
slows Python-heavy code down, so read shares and growth, not absolute times.

`parts` times, without a profiler, the steps of one snaprun test that plain vcrpy does not
have (reading snaprun's cassette, the golden's check, the capture's check, the dump), next to
plain vcrpy's, for the seed and for conversations of the given sizes; and the openai SDK's
request transform, which every HTTP variant runs on the whole history for every request.

`pyspy` attributes a py-spy raw profile of a whole pytest run (e.g. of the project that
`suite.py --keep DIR` leaves) the same way, counting only samples taken while a test ran:

    cd DIR/suite && py-spy record -r 100 -f raw -o /tmp/suite.txt -- python -m pytest -q
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vcr  # type: ignore[import-untyped]  # noqa: E402
import yaml  # type: ignore[import-untyped]  # noqa: E402
from openai._utils._transform import async_maybe_transform  # noqa: E402
from openai.types.chat import completion_create_params  # noqa: E402
from pyinstrument import Profiler  # noqa: E402
from pyinstrument.frame import Frame  # noqa: E402
from vcr.serializers import yamlserializer  # type: ignore[import-untyped]  # noqa: E402

from benchmarks import long_conversation, seed_replay  # noqa: E402
from benchmarks.harness import (  # noqa: E402
    VCRPY_MATCH_ON,
    Scenario,
    drive,
    free_port,
    openai_llm,
    print_machine,
    progress,
    snaprun_record,
    snaprun_replay,
    table,
    vcrpy_record,
    vcrpy_replay,
)
from benchmarks.scripted_llm import ScriptedLLM  # noqa: E402
from snaprun import yamlio  # noqa: E402
from snaprun.capture import Capture  # noqa: E402
from snaprun.cassettes import CassetteSerializer, open_cassette  # noqa: E402
from snaprun.testing import Reply, ScriptedServer  # noqa: E402

# Path fragment -> owner, first match wins (the plugin before livekit-agents, httpcore before
# httpx: they are spelled alike).
OWNERS = (
    ("/snaprun/", "snaprun"),
    ("/livekit/plugins/openai/", "livekit OpenAI plugin"),
    ("/livekit/", "livekit-agents"),
    ("/openai/", "openai SDK"),
    ("/httpcore", "httpx (httpx2, httpcore2)"),
    ("/httpx", "httpx (httpx2, httpcore2)"),
    ("/vcr/", "vcrpy"),
    ("/asyncio/", "asyncio event loop"),
    ("/selectors.py", "idle (waiting in select)"),
    ("/benchmarks/", "benchmark harness"),
)


def owner_of(frame: Frame) -> str | None:
    path = frame.file_path or ""
    return next((owner for fragment, owner in OWNERS if fragment in path), None)


# py-spy names frames `function (path:line)`, paths relative to their sys.path entry. The
# trust store is singled out: building an httpx client per test loads it every time.
PYSPY_OWNERS = (
    ("(ssl.py:", "ssl trust store (httpx client per LLM)"),
    ("snaprun/", "snaprun"),
    ("plugins/openai/", "livekit OpenAI plugin"),
    ("agents/", "livekit-agents"),
    ("openai/", "openai SDK"),
    ("httpcore", "httpx (httpx2, httpcore2)"),
    ("httpx", "httpx (httpx2, httpcore2)"),
    ("vcr/", "vcrpy"),
    ("syrupy/", "syrupy"),
    ("pytest_asyncio/", "pytest-asyncio"),
    ("_pytest/", "pytest"),
    ("pluggy/", "pytest"),
    ("asyncio/", "asyncio event loop"),
)


def attribute_pyspy(path: Path) -> Counter[str]:
    """Samples per owner (innermost owning frame) of the samples taken inside a test."""
    owners: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any(frame.startswith("runtestprotocol ") for frame in frames):
            continue  # start-up, collection, reporting
        owner = "other"
        for frame in frames:
            owner = next((name for part, name in PYSPY_OWNERS if part in frame), owner)
        owners[owner] += int(count)
    return owners


def report_pyspy(path: Path) -> None:
    owners = attribute_pyspy(path)
    total = sum(owners.values())
    rows = [[owner, count, f"{count / total:.0%}"] for owner, count in owners.most_common()]
    print(f"{path}: {total} samples taken while tests ran")
    print(table(["owner", "samples", "share"], [*rows, ["total", total, "100%"]]))


def attribute(root: Frame) -> tuple[Counter[str], Counter[str]]:
    """Seconds per owner, and seconds per snaprun function (module.function)."""
    owners: Counter[str] = Counter()
    functions: Counter[str] = Counter()

    def walk(frame: Frame, owner: str, function: str) -> None:
        own = owner_of(frame)
        if own is not None and not frame.is_synthetic:
            owner = own
            if own == "snaprun":
                module = Path(frame.file_path or "").stem
                function = f"{module}.{frame.function}"
        owners[owner] += frame.total_self_time
        if owner == "snaprun":
            functions[function] += frame.total_self_time
        for child in frame.children:
            if not child.is_synthetic:
                walk(child, owner, function)

    walk(root, "other", "")
    return owners, functions


def profile(action: Callable[[Any], object], prepare: Callable[[], Any], times: int) -> Frame:
    """One profile of `times` runs of `action`, each given a fresh `prepare()` (not profiled)."""
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    for _ in range(times):
        prepared = prepare()
        profiler.start()
        action(prepared)
        profiler.stop()
    root = profiler.last_session.root_frame() if profiler.last_session else None
    if root is None:
        raise RuntimeError("pyinstrument recorded nothing")
    return root


def report(columns: dict[str, tuple[Counter[str], Counter[str]]], unit: str, per: dict[str, int]):
    """One row per owner, ms per `unit` in each column, with each owner's share."""
    totals = {name: sum(owners.values()) for name, (owners, _) in columns.items()}
    names = sorted(
        {owner for owners, _ in columns.values() for owner in owners},
        key=lambda owner: -max(owners[owner] / totals[n] for n, (owners, _) in columns.items()),
    )
    rows = []
    for owner in [*names, "total"]:
        row = [owner]
        for name, (owners, _) in columns.items():
            seconds = totals[name] if owner == "total" else owners[owner]
            row.append(f"{seconds * 1000 / per[name]:.1f} ({seconds / totals[name]:.0%})")
        rows.append(row)
    print(table(["owner", *(f"{name}: ms/{unit} (share)" for name in columns)], rows))
    rest = {name: totals[name] - owners["openai SDK"] for name, (owners, _) in columns.items()}
    print(
        f"total without the openai SDK, ms/{unit}: "
        + ", ".join(f"{name} {rest[name] * 1000 / per[name]:.1f}" for name in columns)
    )
    for name, (_, functions) in columns.items():
        top = ", ".join(
            f"{function} {seconds * 1000 / per[name]:.2f}"
            for function, seconds in functions.most_common(8)
        )
        print(f"{name}: snaprun's top functions, ms/{unit}: {top}")


def profile_seed(repetitions: int, work: Path) -> None:
    seed, cassettes = seed_replay.seed, {"snaprun": work / "s.yaml", "vcrpy": work / "v.yaml"}
    golden = work / "golden.yaml"
    with ScriptedServer(seed_replay.SEED_REPLIES, port=free_port()) as server:
        replayed = openai_llm(server.base_url)
        snaprun_record(seed, replayed(), cassettes["snaprun"], golden)
        vcrpy_record(seed, replayed(), cassettes["vcrpy"])
    actions = {
        "c plain vcrpy": partial(vcrpy_replay, seed, cassette=cassettes["vcrpy"]),
        "d snaprun": partial(snaprun_replay, seed, cassette=cassettes["snaprun"], golden=golden),
    }
    for action in actions.values():
        action(model=replayed())  # warm
    columns = {}
    for name, action in actions.items():
        progress(f"profiling {name} × {repetitions} ...")
        columns[name] = attribute(profile(lambda m, a=action: a(model=m), replayed, repetitions))
    print_machine()
    print(f"seed scenario, {repetitions} replays each (building the LLM is not profiled)")
    report(columns, "scenario", dict.fromkeys(columns, repetitions))


def profile_long(sizes: list[int], work: Path) -> None:
    columns, per = {}, {}
    for turns in sizes:
        scenario = long_conversation.conversation(turns)
        cassette, golden = work / f"s{turns}.yaml", work / f"g{turns}.yaml"
        with ScriptedServer(long_conversation.REPLIES, port=free_port()) as server:
            replayed = openai_llm(server.base_url)
            progress(f"{turns} turns: recording ...")
            snaprun_record(scenario, replayed(), cassette, golden)
        progress(f"{turns} turns: profiling snaprun's replay ...")
        name = f"{turns} turns"
        replay = partial(snaprun_replay, scenario, cassette=cassette, golden=golden)
        columns[name] = attribute(profile(lambda m, r=replay: r(model=m), replayed, 1))
        per[name] = turns
    print_machine()
    print("snaprun replay of one conversation, one profile per size")
    report(columns, "turn", per)


def median_of(action: Callable[[], object], repetitions: int) -> float:
    """Milliseconds, median of `repetitions` timed calls after 3 untimed ones."""
    for _ in range(3):
        action()
    gc.collect()  # once: a full collection costs ~0.1 s in a process that imported livekit
    samples = []
    for _ in range(repetitions):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def sdk_transform_ms(turns: int) -> float:
    """The openai SDK's request transform (`async_maybe_transform`, run by
    `chat.completions.create` before any HTTP) of the request at turn `turns` of the
    long conversation: system prompt, then user and assistant messages."""
    messages = [{"role": "system", "content": "You are an ice cream expert."}]
    for turn in range(1, turns + 1):
        messages.append({"role": "user", "content": f"Turn {turn}: tell me about flavour {turn}."})
        messages.append({"role": "assistant", "content": long_conversation.ANSWER})
    body = {"model": "gpt-4.1", "messages": messages[:-1], "stream": True}
    params = completion_create_params.CompletionCreateParamsStreaming

    def transform() -> object:
        return asyncio.run(async_maybe_transform(body, params))

    return median_of(transform, 5)


def gc_paused(function: Callable[[str], object], text: str) -> object:
    """What pausing Python's cyclic GC during a load saves (a proposed fix for yamlio.load)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return function(text)
    finally:
        if enabled:
            gc.enable()


def step_timings(
    scenario: Scenario, replies: list[Reply], cassettes: dict[str, Path], golden: Path, reps: int
) -> dict[str, float]:
    """ms per step of one test, median of `reps` runs each."""
    capture = Capture(settle_timeout=60)
    with capture.installed():
        drive(scenario, ScriptedLLM(replies))
    data = capture.timeline().to_data()
    ours, theirs = (cassettes[name].read_text(encoding="utf-8") for name in ("snaprun", "vcrpy"))
    golden_text = golden.read_text(encoding="utf-8")
    libyaml = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    def snaprun_open() -> None:
        with open_cassette(
            cassettes["snaprun"], record_mode="none", test_id="t", rerecord_command="-"
        ):
            pass

    def vcrpy_open() -> None:
        with vcr.VCR(record_mode="none", match_on=VCRPY_MATCH_ON).use_cassette(
            str(cassettes["vcrpy"])
        ):
            pass

    steps: dict[str, Callable[[], object]] = {
        "snaprun: open_cassette enter + exit, no request": snaprun_open,
        "plain vcrpy: use_cassette enter + exit, no request": vcrpy_open,
        "snaprun: read the cassette (CassetteSerializer.deserialize)": lambda: (
            CassetteSerializer().deserialize(ours)
        ),
        "  of which yamlio.load": lambda: yamlio.load(ours),
        "  the same text, yaml.load with libyaml's CSafeLoader": lambda: yaml.load(
            ours, Loader=libyaml
        ),
        "  yamlio.load with the cyclic GC paused": lambda: gc_paused(yamlio.load, ours),
        "plain vcrpy: read its cassette (yaml serializer)": lambda: yamlserializer.deserialize(
            theirs
        ),
        "snaprun: golden fixture's check_golden (yamlio.load)": lambda: yamlio.load(golden_text),
        "snaprun: Capture.check() (once per assertion)": capture.check,
        "snaprun: Capture.timeline().to_data()": lambda: capture.timeline().to_data(),
        "snaprun: yamlio.dump of the timeline": lambda: yamlio.dump(data),
    }
    return {name: median_of(action, reps) for name, action in steps.items()}


def time_parts(sizes: list[int], repetitions: int, work: Path) -> None:
    columns: dict[str, dict[str, float]] = {}
    cassettes = {"snaprun": work / "s-seed.yaml", "vcrpy": work / "v-seed.yaml"}
    golden = work / "g-seed.yaml"
    with ScriptedServer(seed_replay.SEED_REPLIES, port=free_port()) as server:
        replayed = openai_llm(server.base_url)
        snaprun_record(seed_replay.seed, replayed(), cassettes["snaprun"], golden)
        vcrpy_record(seed_replay.seed, replayed(), cassettes["vcrpy"])
    progress("timing the steps of a seed test ...")
    seed_replies = list(seed_replay.SEED_REPLIES)
    columns["seed"] = step_timings(seed_replay.seed, seed_replies, cassettes, golden, repetitions)
    for turns in sizes:
        scenario = long_conversation.conversation(turns)
        cassettes = {"snaprun": work / f"s{turns}.yaml", "vcrpy": work / f"v{turns}.yaml"}
        golden = work / f"g{turns}.yaml"
        with ScriptedServer(long_conversation.REPLIES, port=free_port()) as server:
            progress(f"{turns} turns: recording ...")
            replayed = openai_llm(server.base_url)
            snaprun_record(scenario, replayed(), cassettes["snaprun"], golden)
            vcrpy_record(scenario, replayed(), cassettes["vcrpy"])
        progress(f"{turns} turns: timing the steps ...")
        steps = step_timings(
            scenario, long_conversation.REPLIES, cassettes, golden, max(5, repetitions // turns)
        )
        columns[f"{turns} turns"] = {name: ms / turns for name, ms in steps.items()}
    print_machine()
    print("steps of one test, ms (seed: per test; conversations: per turn), medians")
    names = list(columns["seed"])
    rows = [[name, *(f"{column[name]:.3f}" for column in columns.values())] for name in names]
    print(table(["step", *columns], rows))
    for turns in sorted({1, 25, 100, *sizes}):
        print(
            f"openai SDK request transform of the request at turn {turns}: "
            f"{sdk_transform_ms(turns):.2f} ms"
        )
    for turns in sizes:
        probes = sorted({1, *range(max(1, turns // 10), turns + 1, max(1, turns // 10))})
        mean = statistics.mean(sdk_transform_ms(turn) for turn in probes)
        print(
            f"openai SDK request transform over a {turns}-turn conversation: "
            f"≈{mean:.2f} ms per turn (mean over turns {probes[0]}..{probes[-1]})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["seed", "long", "parts", "pyspy"])
    parser.add_argument("raw", nargs="?", type=Path, help="pyspy: a py-spy raw profile")
    parser.add_argument("--repetitions", "-n", type=int, default=20, help="seed: replays profiled")
    parser.add_argument("--turns", default="25,200", help="long, parts: conversation sizes")
    parser.add_argument("--quick", action="store_true", help="smoke mode: 3 replays, 5,10 turns")
    args = parser.parse_args()
    if args.quick:
        args.repetitions, args.turns = 3, "5,10"
    if args.what == "pyspy":
        if args.raw is None:
            parser.error("pyspy needs the path of a py-spy raw profile")
        report_pyspy(args.raw)
        return 0
    with tempfile.TemporaryDirectory(prefix="snaprun-profile-") as temp:
        if args.what == "seed":
            profile_seed(args.repetitions, Path(temp))
        elif args.what == "parts":
            sizes = sorted(int(size) for size in args.turns.split(","))
            time_parts(sizes, 10 * args.repetitions, Path(temp))
        else:
            profile_long(sorted(int(size) for size in args.turns.split(",")), Path(temp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
