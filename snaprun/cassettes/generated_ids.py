"""Ids livekit and its plugins generate and send to a provider, made the same on every run
while a cassette is open.

livekit makes its ids with ``livekit.agents.utils.shortuuid(prefix)``: the prefix and 12 hex
digits of a random uuid. Most never leave the process (speech and chat item ids), but some
are sent to the provider and back: when Gemini streams a function call without an id, the
google plugin names it ``function_call_<hex>`` and sends that id back with the tool's output
(``livekit.plugins.google.llm``); the mistralai plugin does the same with ``tool_call_``. A
random id makes every replay differ from its recording, so while a cassette is open each
prefix counts instead — ``function_call_000000000001``, ``function_call_000000000002``… —
per test and per prefix, so that one id more or less of another kind (a speech) shifts
nothing.

Modules hold the function in two ways, ``utils.shortuuid(...)`` and ``from
livekit.agents.utils import shortuuid``: every loaded module holding the original (livekit's,
its plugins', the app's own) is given the counter, and the original is put back on exit.
Nothing is imported here: when livekit is not loaded, nothing can call it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Final

_DEFINED_IN: Final = "livekit.agents.utils.misc"
_NAME: Final = "shortuuid"


class IdCounter:
    """A stand-in for ``shortuuid``: ``prefix`` and a 12-hex-digit count of that prefix."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def __call__(self, prefix: str = "") -> str:
        count = self._counts.get(prefix, 0) + 1
        self._counts[prefix] = count
        return f"{prefix}{count:012x}"


@contextlib.contextmanager
def deterministic_ids() -> Iterator[IdCounter]:
    """livekit's ``shortuuid`` replaced by a fresh :class:`IdCounter` until exit."""
    counter = IdCounter()
    defining = sys.modules.get(_DEFINED_IN)
    original = None if defining is None else vars(defining).get(_NAME)
    holders = [] if original is None else _holders(original)
    for module in holders:
        setattr(module, _NAME, counter)
    try:
        yield counter
    finally:
        for module in holders:
            if vars(module).get(_NAME) is counter:
                setattr(module, _NAME, original)


def _holders(original: Callable[..., str]) -> list[ModuleType]:
    """The loaded modules that hold ``original`` under its name."""
    return [
        module
        for module in list(sys.modules.values())
        if isinstance(module, ModuleType) and vars(module).get(_NAME) is original
    ]
