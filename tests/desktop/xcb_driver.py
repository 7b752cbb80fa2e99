"""Drive the real ``qs-gui`` entry point on a display and report what it saw, as JSON.

``python -m tests.desktop.xcb_driver OUT.json SHOT.png [--run-plan] [--seeded] -- QS-GUI-ARGS…``

The driver only hooks ``MainWindow.show`` to learn the window and start a scenario on the same
qasync loop; everything else (options, QApplication, resources, session, shutdown) is the
product's own start-up path. Used by test_xcb (under Xvfb with ``QT_QPA_PLATFORM=xcb``); not a
test module itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QFontMetrics, QGuiApplication
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QApplication, QToolBar, QToolButton, QWidget

from qs_gui import app
from qs_gui.core.gates import Action, Connection
from qs_gui.ui.main_window import MainWindow

COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]],
         "kwargs": {"num": 3, "delay": 0.1}}  # fmt: skip


async def until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
    return value


def squeezed(window: MainWindow) -> list[str]:
    """Visible widgets smaller than their minimum size hint: what is clipped or overlapping."""
    names = ("queueTable", "historyTable", "connectionIndicator", "executeNowButton")
    found = []
    for widget in window.findChildren(QWidget):
        if widget.objectName() not in names and widget not in (
                window.entry, window.status_panel, window.lock_panel, window.console):
            continue
        if not widget.isVisible():
            continue
        hint = widget.minimumSizeHint()
        if widget.width() < hint.width() or widget.height() < hint.height():
            found.append(f"{widget.objectName() or type(widget).__name__}: "
                         f"{widget.width()}x{widget.height()} < {hint.width()}x{hint.height()}")
    return found


def layout_report(window: MainWindow) -> dict[str, Any]:
    screen = window.windowHandle().screen() if window.windowHandle() else None
    screen = screen or QGuiApplication.primaryScreen()
    available = screen.availableGeometry()
    frame = window.frameGeometry()
    table = window.queue_view.table
    row_height = table.verticalHeader().defaultSectionSize()
    body = QFontMetrics(QApplication.font()).height()
    return {
        "platform": QGuiApplication.platformName(),
        "screen": [available.width(), available.height()],
        "device_pixel_ratio": screen.devicePixelRatio(),
        "window": [frame.x(), frame.y(), frame.width(), frame.height()],
        "fits": available.contains(frame),
        "minimum": [window.minimumSizeHint().width(), window.minimumSizeHint().height()],
        "queue_rows_visible": table.viewport().height() // max(1, row_height),
        "body_text_height": body,
        "pill_text_heights": [window.indicator.fontMetrics().height(),
                              window.status_panel.values["manager"].fontMetrics().height()],
        "history_detail_height": window.history_view.detail.height(),
        "history_table_height": window.history_view.table.height(),
        "central_sizes": window.centralWidget().sizes(),
        "queue_viewport": [table.viewport().height(), row_height],
        "squeezed": squeezed(window),
        "toolbar_overflow": toolbar_overflow(window),
    }


def toolbar_overflow(window: MainWindow) -> list[str]:
    """Toolbar actions pushed into the » extension menu (their buttons are hidden)."""
    bar = window.findChild(QToolBar, "mainToolBar")
    hidden = []
    for action in bar.actions():
        widget = bar.widgetForAction(action)
        if widget is not None and not action.isSeparator() and not widget.isVisible():
            hidden.append(action.text() or widget.objectName())
    return hidden


async def run_plan(window: MainWindow, report: dict[str, Any]) -> None:
    """Execute now is gated by the environment, then runs a plan to its outcome in history."""
    execute = window.registry[Action.EXECUTE_NOW]
    window.entry.load_item(COUNT, editing_uid=None)
    await until(lambda: window.entry.current_error() is None, 10, "a valid editor item")
    status = window.session.status
    if not status.get("worker_environment_exists"):
        window.refresh_gates()
        report["gated_reason"] = execute.toolTip()
        report["gated_enabled"] = execute.isEnabled()
        window.registry[Action.ENV_OPEN].trigger()
    await until(execute.isEnabled, 60, "Execute now enabled")
    history_before = window.history_view.model.rowCount()
    button = window.findChild(QToolButton, "executeNowButton")
    QTest.mouseClick(button, Qt.LeftButton)  # a real click through the xcb event path
    tracker = window.session.tracker
    await until(lambda: tracker.last and tracker.last.finished, 60, "the plan's outcome")
    report["outcome"] = tracker.last.state
    await until(lambda: window.history_view.model.rowCount() > history_before, 10,
                "the history row")
    last = window.history_view.model.item_at(window.history_view.model.rowCount() - 1)
    report["history_last"] = [last["name"], last["result"]["exit_status"]]


async def scenario(window: MainWindow, out: str, shot: str, plan: bool, seeded: bool) -> None:
    report: dict[str, Any] = {}
    try:
        session = window.session
        await until(lambda: session.connection is Connection.CONNECTED, 30, "connected")
        await until(lambda: session.plans_allowed, 30, "plans loaded")
        if seeded:  # --demo: wait for its items (3 queued, 2 in the history)
            await until(lambda: window.queue_view.model.rowCount() >= 3
                        and window.history_view.model.rowCount() >= 2, 90, "the demo items")
        await asyncio.sleep(0.3)  # not a synchronisation: lets the layout settle for the shot
        report.update(layout_report(window))
        if plan:
            await run_plan(window, report)
        window.grab().save(shot)
    except Exception:
        report["error"] = traceback.format_exc()
    finally:
        with open(out, "w") as f:
            json.dump(report, f, indent=1)
        window.close()


def main(argv: list[str]) -> int:
    split = argv.index("--")
    out, shot, *flags = argv[:split]
    show = MainWindow.show

    def show_and_drive(self: MainWindow) -> None:
        show(self)
        asyncio.get_event_loop().create_task(
            scenario(self, out, shot, "--run-plan" in flags, "--seeded" in flags))

    MainWindow.show = show_and_drive
    return app.main(argv[split + 1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
