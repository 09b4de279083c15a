"""WebSocket LLMs: replaying a cassette next to talking to a live server on loopback.

    .venv/bin/python benchmarks/websocket_replay.py [--repetitions 20] [--quick]

The scenario of tests/test_websocket.py (a tool call, then a handoff whose agent replies),
on each WebSocket transport livekit's OpenAI plugin has: ``openai.responses.LLM()`` (its
default transport; skipped where the plugin has none) and ``openai.realtime.RealtimeModel``
in text mode. For each, a cassette and golden are recorded once against the scripted server
on a port closed again before anything is timed (a replay that reached for the network would
fail, not look fast); then, round-robin in one warm process (benchmarks/harness.py):

(a) live loopback: the scripted server on 127.0.0.1 (a thread of this process), no cassette;
(b) snaprun replay, as one test does it: cassette, capture, golden dumped and compared;
(c) part of b: snaprun's cassette alone (the ReplaySocket, no capture or golden);
(d) live loopback with the capture and the golden's dump: a test run live, without a cassette;
(e) part of c: reading the cassette file alone.

Prints ms per scenario (median, quartiles), b/a and b/d as medians of per-round ratios, and
the load average before and after, since neighbours on a shared machine move every figure.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from livekit.agents import AgentSession, llm, utils  # noqa: E402
from livekit.plugins import openai  # noqa: E402

from benchmarks.harness import (  # noqa: E402
    API_KEY,
    Variant,
    captured,
    drive,
    free_port,
    interleave,
    median_ms,
    paired_ratio,
    print_machine,
    progress,
    snaprun_cassette_only,
    snaprun_record,
    snaprun_replay,
    spread_ms,
    table,
)
from snaprun.cassettes import CassetteSerializer  # noqa: E402
from snaprun.testing import Reply, ScriptedServer, ToolCall  # noqa: E402
from snaprun.testing.scripted_realtime import ScriptedRealtimeServer  # noqa: E402
from snaprun.testing.scripted_responses import ScriptedResponsesServer  # noqa: E402
from tests.test_websocket import SHOP  # noqa: E402

REPLIES = [
    Reply(match="flavours", tool_calls=(ToolCall("flavours"),)),
    Reply(match="vanilla, chocolate", tool_calls=(ToolCall("to_cashier"),)),
    Reply(match="CASHIER", text="That is two euros."),
]
# The agents the tests record, from the test's own source, so the two cannot drift apart.
AGENTS: dict[str, Any] = {}
exec(
    "from livekit.agents import Agent, RunContext\n"
    "from livekit.agents.llm import function_tool\n" + SHOP,
    AGENTS,
)


async def shop(model: llm.LLM) -> None:
    """One user turn: a tool call, then a handoff to an agent that replies on entering."""
    # responses.LLM takes its aiohttp session from livekit's http context (a worker's).
    async with utils.http_context.open():
        async with AgentSession(llm=model) as session:
            await session.start(AGENTS["Shop"]())
            await session.run(user_input="Which flavours?")
        await model.aclose()  # inside the context, whose session it used


def read(cassette: Path) -> None:
    """What opening a cassette reads: the file, parsed into interactions and sockets."""
    CassetteSerializer().load_file(cassette.read_text(encoding="utf-8"))


def transports() -> list[tuple[str, type[ScriptedServer], Callable[[str], llm.LLM]]]:
    """(name, server, model for a server's base URL) of every WebSocket transport here."""
    out: list[tuple[str, type[ScriptedServer], Callable[[str], llm.LLM]]] = []
    if "use_websocket" in inspect.signature(openai.responses.LLM).parameters:
        out.append(
            (
                "openai.responses.LLM (WebSocket)",
                ScriptedResponsesServer,
                lambda base: openai.responses.LLM(
                    model="gpt-4.1",
                    base_url=base.replace("http", "ws", 1) + "/responses",
                    api_key=API_KEY,
                ),
            )
        )
    out.append(
        (
            "openai.realtime.RealtimeModel (text)",
            ScriptedRealtimeServer,
            lambda base: openai.realtime.RealtimeModel(
                modalities=["text"], base_url=base, api_key=API_KEY
            ),
        )
    )
    return out


def measure(
    name: str,
    server: type[ScriptedServer],
    model: Callable[[str], llm.LLM],
    work: Path,
    args: argparse.Namespace,
) -> list[list[str]]:
    cassette, golden = work / "cassette.yaml", work / "golden.yaml"
    progress(f"{name}: recording the cassette and the golden ...")
    port = free_port()
    with server(REPLIES, port=port) as recording:
        snaprun_record(shop, model(recording.base_url), cassette, golden)
    replayed = lambda: model(f"http://127.0.0.1:{port}/v1")  # noqa: E731  (closed port)

    with server(REPLIES) as live:

        def over_loopback(m: llm.LLM) -> None:
            before = len(live.requests)
            drive(shop, m)
            if len(live.requests) == before:
                raise AssertionError("the live scenario did not reach the server")

        variants = [
            Variant("a", "live loopback", over_loopback, lambda: model(live.base_url)),
            Variant(
                "b",
                "snaprun replay (cassette + capture + golden)",
                lambda m: snaprun_replay(shop, m, cassette, golden),
                replayed,
            ),
            Variant(
                "c",
                "  part of b: snaprun cassette alone",
                lambda m: snaprun_cassette_only(shop, m, cassette),
                replayed,
            ),
            Variant(
                "d",
                "live loopback + capture + golden dump",
                lambda m: captured(shop, m),
                lambda: model(live.base_url),
            ),
            Variant("e", "  part of c: reading the cassette", lambda _: read(cassette)),
        ]
        progress(f"{name}: timing {len(variants)} variants × {args.repetitions} rounds ...")
        times = interleave(variants, args.repetitions, args.warmup)
    wall = {key: median_ms(samples.wall) for key, samples in times.items()}
    rows = [
        [name if v.key == "a" else "", v.key, v.name, f"{wall[v.key]:.1f}"]
        + [spread_ms(times[v.key].wall), f"{wall[v.key] / wall['a']:.2f}"]
        for v in variants
    ]
    for other in ("a", "d"):
        ratio = paired_ratio(times["b"].wall, times[other].wall)
        rows.append(["", "", f"b/{other}, median of per-round ratios", "", "", f"**{ratio:.2f}**"])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", "-n", type=int, default=20, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    parser.add_argument("--quick", action="store_true", help="smoke mode: 3 rounds, 1 warm-up")
    args = parser.parse_args()
    if args.quick:
        args.repetitions, args.warmup = 3, 1
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="snaprun-websocket-") as temp:
        for number, (name, server, model) in enumerate(transports()):
            work = Path(temp) / str(number)
            work.mkdir()
            rows += measure(name, server, model, work, args)
    print_machine()
    print(f"load average before: {load_before}")
    print(
        f"one scenario (a tool call, a handoff, a reply), ms: medians of {args.repetitions} "
        f"rounds, round-robin, after {args.warmup} warm-up round(s)"
    )
    header = ["transport", "", "variant", "wall ms", "wall quartiles", "× a"]
    print(table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
