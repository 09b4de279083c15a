"""snaprun's hooks: implement them in a `conftest.py` (or a plugin) to normalise what snaprun
compares, the way pytest-recording's `pytest_recording_configure` configures vcrpy.

Both hooks change data in place and return nothing; every implementation is called, in pytest's
usual order, and a `conftest.py` applies to the tests below its directory. They see plain data
(dicts, lists, str, int, float, bool, None) and must leave plain data behind. The `pytest_`
prefix is pytest's rule: it registers no other name from a conftest. snaprun adds these specs in
`plugin.pytest_addhooks`.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_snaprun_normalize_golden(golden: dict[str, Any], item: pytest.Item) -> None:
    """Normalise the golden of `item` before it is compared and written.

    `golden` is what the YAML file holds (`runs` and `chat_ctx`, or `sessions`), after
    snaprun's own normalisation (no ids, times or addresses) and before syrupy's
    `exclude`/`include`/`matcher`. Replace volatile values in place, e.g. an order number in
    a tool output by a label; keep the structure (runs, their events), which the golden needs.
    """


@pytest.hookspec
def pytest_snaprun_normalize_request(body: Any, item: pytest.Item) -> None:
    """Normalise the JSON body of an HTTP request of `item` before it is matched.

    Called for every JSON request the test sends and every request its cassette recorded; two
    requests match when their normalised bodies are equal as data. Only matching uses it: the
    cassette keeps the bodies as they were sent. Change `body` (usually a dict) in place, e.g.
    replace today's date in the system prompt. It is called once for each body, recorded or
    sent, so its result must not depend on earlier calls (labels start afresh in each body). It
    runs inside the HTTP client, so it must not raise.
    """
