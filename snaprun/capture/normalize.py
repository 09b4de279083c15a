"""Turn volatile values into stable ones: no ids, timestamps or memory addresses in a golden."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from typing import Any, TypeVar

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_TOOL_ITEMS = ("function_call", "function_call_output")

Item = TypeVar("Item")


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


def tool_steps_in_order(items: Sequence[Item]) -> list[Item]:
    """Chat items with each tool step's calls together, then that step's outputs.

    Where a tool's output lands among the calls of its step depends on timing: on
    livekit-agents 1.3 a tool starts as soon as its call is streamed, so with a slow model its
    output comes before the next call. The model is sent the same thing either way (livekit
    groups a step's calls into one assistant message, then the outputs, in their order), and
    that is the order kept here. Items are livekit's chat items; a step is livekit's group of
    calls: ``group_id``, else the part of ``id`` before ``/``.
    """
    ordered: list[Item] = []
    for is_tool, run in groupby(items, key=lambda item: getattr(item, "type", None) in _TOOL_ITEMS):
        block = list(run)  # consecutive calls and outputs, or consecutive other items
        ordered += _in_steps(block) if is_tool else block
    return ordered


def _in_steps(block: list[Item]) -> list[Item]:
    steps: dict[str, list[Item]] = {}  # step -> its calls, then its outputs
    step_of_call: dict[str, str] = {}
    for call in block:
        if getattr(call, "type", None) == "function_call":
            step = getattr(call, "group_id", None) or str(getattr(call, "id", "")).split("/")[0]
            steps.setdefault(step, []).append(call)
            step_of_call[getattr(call, "call_id", "")] = step
    orphans: list[Item] = []  # outputs whose call is not in the block stay after it
    for output in block:
        if getattr(output, "type", None) == "function_call_output":
            step = step_of_call.get(getattr(output, "call_id", ""))
            (steps[step] if step is not None else orphans).append(output)
    return [item for step_items in steps.values() for item in step_items] + orphans


def as_data(value: Any) -> Any:
    """An AgentTask's result as plain data a golden can hold: dataclasses and pydantic models
    become mappings of their fields, sets sorted lists, anything else its address-free repr."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if callable(getattr(value, "model_dump", None)):  # a pydantic model
        return as_data(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(key): as_data(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((as_data(item) for item in value), key=repr)
    if isinstance(value, list | tuple):
        return [as_data(item) for item in value]
    if isinstance(value, BaseException):
        return error_text(value)
    return without_addresses(repr(value))


def error_text(error: BaseException) -> str:
    """`ToolError: no therapist is free`: what a golden says of an exception."""
    return without_addresses(f"{type(error).__name__}: {error}")
