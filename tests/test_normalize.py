"""The order of a chat context's tool items (unit: livekit's items stand in as namespaces)."""

from __future__ import annotations

from types import SimpleNamespace

from snaprun.capture.normalize import tool_steps_in_order


def call(call_id: str, step: str, group_id: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        type="function_call", id=f"{step}/fnc_{call_id}", call_id=call_id, group_id=group_id
    )


def output(call_id: str) -> SimpleNamespace:
    return SimpleNamespace(type="function_call_output", id=f"out_{call_id}", call_id=call_id)


def message(text: str) -> SimpleNamespace:
    return SimpleNamespace(type="message", id=f"msg_{text}")


def order(items: list[SimpleNamespace]) -> list[str]:
    return [item.id for item in tool_steps_in_order(items)]


def test_a_steps_outputs_follow_all_its_calls_in_their_own_order() -> None:
    items = [call("a", "r1"), output("b"), output("a"), call("b", "r1")]
    assert order(items) == ["r1/fnc_a", "r1/fnc_b", "out_b", "out_a"]


def test_steps_one_after_the_other_keep_their_order() -> None:
    items = [call("a", "r1"), output("a"), call("b", "r2"), output("b")]
    assert order(items) == ["r1/fnc_a", "out_a", "r2/fnc_b", "out_b"]


def test_group_id_names_the_step_when_set() -> None:
    items = [call("a", "x", group_id="g"), output("a"), call("b", "y", group_id="g")]
    assert order(items) == ["x/fnc_a", "y/fnc_b", "out_a"]


def test_messages_bound_the_blocks_and_stray_outputs_stay_after_theirs() -> None:
    items = [output("z"), call("a", "r1"), output("a"), message("said"), output("a2")]
    assert order(items) == ["r1/fnc_a", "out_a", "out_z", "msg_said", "out_a2"]
