"""Shows what the processes under test printed when a test fails (setup, call or teardown)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from devstack_support import PROCESS_LOGS, TAIL


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        for name, path in item.stash.get(PROCESS_LOGS, {}).items():
            text = path.read_text(errors="replace") if path.exists() else "(no output file)"
            report.sections.append((f"output of {name} ({path})", text[-TAIL:]))
