"""Turn volatile values into stable ones: no ids, timestamps or memory addresses in a golden."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class CallLabels:
    """Tool call ids become `call-1`, `call-2`… in order of first appearance within a test."""

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}

    def __call__(self, call_id: str) -> str:
        if call_id not in self._labels:
            self._labels[call_id] = f"call-{len(self._labels) + 1}"
        return self._labels[call_id]


def parse_arguments(raw: str) -> Any:
    """Tool arguments as data, so a golden shows `{city: Paris}` rather than a JSON string."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        # The model may stream invalid JSON; keep it verbatim so the golden still shows it.
        return raw


def text_of(content: Iterable[Any]) -> str:
    """The text parts of a message, joined; images and audio are named, never dumped."""
    parts: list[str] = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        else:
            parts.append(f"<{type(part).__name__}>")
    return "\n".join(parts)


def without_addresses(text: str) -> str:
    """`<Foo object at 0x7f…>` is different on every run; drop the address."""
    return _ADDRESS.sub("", text)
