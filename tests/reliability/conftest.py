"""Fixtures for the reliability scenarios: a qasync loop per test (Pattern A), the scenario
metrics collector, and a guard that turns swallowed handler errors into test failures."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.ui.qt_async import qloop  # noqa: E402,F401 (fixture)

from .harness import ErrorLog  # noqa: E402

_RESULTS: list[dict] = []


@pytest.fixture
def error_log():
    """ERROR records under qs_gui during the test; must stay empty."""
    with ErrorLog() as log:
        yield log
    assert not log.records, f"errors were logged: {log.texts()}"


@pytest.fixture
def record(request):
    """``record(**metrics)``: one row of the reliability table (printed at the end of the run,
    appended as JSON lines to $QS_GUI_RELIABILITY_REPORT when set)."""

    def add(beat=None, **metrics):
        row = {"test": request.node.name, **metrics}
        if beat is not None:  # a harness.Heartbeat
            row.update(stall_max_s=beat.max_stall, busy_stall_max_s=beat.max_busy_stall,
                       stalls_over_100ms=len(beat.stalls_over(0.1)))
        _RESULTS.append(row)
        path = os.environ.get("QS_GUI_RELIABILITY_REPORT")
        if path:
            with Path(path).open("a") as f:
                f.write(json.dumps({"time": time.time(), **row}) + "\n")

    return add


def pytest_terminal_summary(terminalreporter):
    if not _RESULTS:
        return
    terminalreporter.section("reliability measurements")
    for row in _RESULTS:
        items = ", ".join(f"{k}={_fmt(v)}" for k, v in row.items() if k != "test")
        terminalreporter.write_line(f"{row['test']}: {items}")


def _fmt(value):
    return f"{value:.3f}" if isinstance(value, float) else str(value)
