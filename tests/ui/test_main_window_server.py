"""The main window against a real RE Manager: gates, Execute now, queue editing, monitor mode."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import Qt  # noqa: E402
from PyQt5.QtWidgets import QToolButton  # noqa: E402

from qs_gui.client import ReadOnlyError, REManagerAPI  # noqa: E402
from qs_gui.core.gates import Action, Connection  # noqa: E402
from qs_gui.core.session import Session  # noqa: E402
from qs_gui.sandbox import Sandbox  # noqa: E402
from qs_gui.ui.main_window import MainWindow  # noqa: E402

from .qt_async import run, until  # noqa: E402

pytestmark = pytest.mark.server

COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]],
         "kwargs": {"num": 3, "delay": 0.1}}
SHOTS = os.environ.get("QS_GUI_SCREENSHOTS", "screenshots")


def make_window(qtbot, sandbox, *, monitor: bool = False) -> MainWindow:
    api = REManagerAPI(zmq_control_addr=sandbox.control_addr, zmq_info_addr=sandbox.info_addr,
                       read_only=monitor)
    api.user, api.user_group = "gui-tester", "primary"
    window = MainWindow(Session(api), monitor_mode=monitor)
    qtbot.addWidget(window)
    window.show()
    return window


async def started(window: MainWindow) -> MainWindow:
    await window.session.start()
    await until(lambda: window.session.connection is Connection.CONNECTED, 10, message="connect")
    await until(lambda: window.session.plans_allowed, 10, message="plans loaded")
    return window


def action(window: MainWindow, name: Action):
    return window.registry[name]


def save_shot(window: MainWindow, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    window.grab().save(os.path.join(SHOTS, name))


def server_queue(sandbox) -> list[dict]:
    return sandbox.request("queue_get")["items"]


def test_execute_now_gated_by_environment_and_runs_to_history(qtbot, qloop, env_closed):
    sandbox = env_closed
    window = make_window(qtbot, sandbox)

    async def scenario():
        await started(window)
        window.entry.load_item(COUNT, editing_uid=None)
        execute = action(window, Action.EXECUTE_NOW)
        await until(lambda: window.entry.current_error() is None, message="entry valid")
        window.refresh_gates()
        assert not execute.isEnabled()
        assert "environment is closed" in execute.toolTip()
        assert "environment is closed" in window.reason_label.text()

        polls_before = window.session.polls_sent
        enabled_at = {}
        window.session.status_changed.connect(
            lambda st: enabled_at.setdefault("t", time.monotonic())
            if execute.isEnabled() else None)
        assert sandbox.request("environment_open")["success"]
        await until(lambda: "t" in enabled_at, 30, message="Execute now enabled")
        ready = sandbox.request("status")
        assert ready["worker_environment_exists"] and ready["manager_state"] == "idle"
        # Enabled by the status push itself, not by polling.
        assert window.session.polls_sent == polls_before
        save_shot(window, "main_window_idle.png")

        history_before = sandbox.request("status")["items_in_history"]
        queue_before = server_queue(sandbox)
        button = window.findChild(QToolButton, "executeNowButton")
        assert button is not None and button.isEnabled()
        qtbot.mouseClick(button, Qt.LeftButton)
        await until(lambda: not execute.isEnabled(), 5, message="busy while running")
        # Until the reply arrives the reason is "request in progress"; then the server's state.
        await until(lambda: window.session.status.get("manager_state") == "executing_queue"
                    and not window.session.in_flight and any(
                        w in execute.toolTip().lower() for w in ("busy", "running")), 10,
                    message=lambda: f"busy reason, tooltip is {execute.toolTip()!r}")
        assert not execute.isEnabled()
        save_shot(window, "main_window_running.png")
        await until(lambda: window.session.tracker.last and window.session.tracker.last.finished,
                    30, message="execution finished")
        assert window.session.tracker.last.state == "completed"
        assert sandbox.request("status")["items_in_history"] == history_before + 1
        assert server_queue(sandbox) == queue_before  # never added to the queue
        model = window.history_view.model
        await until(lambda: model.rowCount() == history_before + 1, 5)
        last = model.item_at(model.rowCount() - 1)
        assert last["name"] == "count" and last["result"]["exit_status"] == "completed"
        assert "completed" in window.execution_label.text()
        await until(lambda: execute.isEnabled(), 10, message="enabled again when idle")

    run(qloop, scenario())
    run(qloop, window.session.stop())


def test_execute_now_disabled_when_locked_without_key(qtbot, qloop, env_open):
    sandbox = env_open
    window = make_window(qtbot, sandbox)

    async def scenario():
        await started(window)
        window.entry.load_item(COUNT, editing_uid=None)
        execute = action(window, Action.EXECUTE_NOW)
        await until(lambda: execute.isEnabled(), 10, message="enabled")
        assert sandbox.request("lock", {"user": "alice", "lock_key": "other-key",
                                        "environment": True, "note": "alignment"})["success"]
        try:
            await until(lambda: not execute.isEnabled(), 5, message="disabled by the lock")
            await until(lambda: "alice" in execute.toolTip(), 5, message="reason names alice")
            # With the key, the operator can act again.
            qtbot.keyClicks(window.lock_panel.key_edit, "other-key")  # as the operator types
            await until(lambda: execute.isEnabled(), 5, message="enabled with the key")
        finally:
            assert sandbox.request("unlock", {"lock_key": "other-key"})["success"]

    run(qloop, scenario())
    run(qloop, window.session.stop())


def test_failed_item_traceback_is_shown(qtbot, qloop, env_open):
    sandbox = env_open
    window = make_window(qtbot, sandbox)
    bad = {"item_type": "plan", "name": "move_then_count",
           "args": [["motor1"], ["det1"], [1.0, 2.0]]}  # lengths differ: fails at run time

    async def scenario():
        await started(window)
        window.entry.load_item(bad, editing_uid=None)
        execute = action(window, Action.EXECUTE_NOW)
        await until(lambda: execute.isEnabled(), 10, message="enabled")
        execute.trigger()
        await until(lambda: window.session.tracker.last and window.session.tracker.last.finished,
                    30, message="finished")
        last = window.session.tracker.last
        assert last.state == "failed" and last.msg.startswith("Plan failed:")
        assert "Traceback" in last.traceback
        await until(lambda: any("failed" in m for m in window.messages.messages("error")), 5)
        save_shot(window, "main_window_failed.png")

    run(qloop, scenario())
    run(qloop, window.session.stop())


def test_queue_editing_reaches_the_server(qtbot, qloop, env_closed):
    sandbox = env_closed
    window = make_window(qtbot, sandbox)
    view = window.queue_view

    async def scenario():
        await started(window)
        for num in (1, 2, 3):
            window.entry.load_item({**COUNT, "kwargs": {"num": num}}, editing_uid=None)
            await until(lambda: action(window, Action.QUEUE_ADD).isEnabled(), 5)
            view.select_uids([])
            window.refresh_gates()
            action(window, Action.QUEUE_ADD).trigger()
            await until(lambda n=num: len(server_queue(sandbox)) == n, 5)
        nums = [i["kwargs"]["num"] for i in server_queue(sandbox)]
        assert nums == [1, 2, 3]
        await until(lambda: view.model.rowCount() == 3, 5)

        # Move the last item up: the server's order changes.
        third = server_queue(sandbox)[2]["item_uid"]
        view.select_uids([third])
        window.refresh_gates()
        action(window, Action.QUEUE_MOVE_UP).trigger()
        await until(lambda: [i["kwargs"]["num"] for i in server_queue(sandbox)] == [1, 3, 2], 5)
        await until(lambda: view.selected_uids() == [third], 5, message="selection kept")

        # A change made by another client appears, and the selection stays.
        sandbox.request("queue_item_add", {"item": {**COUNT, "kwargs": {"num": 9}},
                                           "user": "other", "user_group": "primary",
                                           "pos": "front"})
        await until(lambda: view.model.rowCount() == 4, 5, message="other client's item")
        assert view.selected_uids() == [third]

        # Edit in place: load, change, save -> item_update keeps the uid.
        view.select_uids([third])
        window.refresh_gates()
        action(window, Action.QUEUE_EDIT).trigger()
        await until(lambda: window.entry.editing_uid == third, 5)
        window.entry.load_item({**COUNT, "kwargs": {"num": 7}}, editing_uid=third)
        save = window.registry[Action.ITEM_SAVE]
        await until(save.isEnabled, 5, message="save enabled")
        save.trigger()
        await until(lambda: any(i["item_uid"] == third and i["kwargs"]["num"] == 7
                                for i in server_queue(sandbox)), 5, message="updated")

        # Remove it.
        view.select_uids([third])
        window.refresh_gates()
        action(window, Action.QUEUE_REMOVE).trigger()
        await until(lambda: third not in [i["item_uid"] for i in server_queue(sandbox)], 5)
        await until(lambda: view.model.rowCount() == 3, 5)

    run(qloop, scenario())
    run(qloop, window.session.stop())


def test_monitor_mode_cannot_send_mutating_requests(qtbot, qloop, env_open):
    sandbox = env_open
    window = make_window(qtbot, sandbox, monitor=True)

    async def scenario():
        await started(window)
        window.entry.load_item(COUNT, editing_uid=None)
        window.refresh_gates()
        mutating = [a for a in Action if a.mutating]
        assert all(not action(window, a).isEnabled() for a in mutating)
        assert "Monitor mode" in action(window, Action.EXECUTE_NOW).toolTip()
        history = sandbox.request("status")["items_in_history"]
        for call in (window.session._api.item_execute(COUNT), window.session._api.queue_clear(),
                     window.session._api.environment_close()):
            with pytest.raises(ReadOnlyError):
                await call
        action(window, Action.EXECUTE_NOW).trigger()  # disabled: nothing happens
        status = sandbox.request("status")
        assert status["items_in_history"] == history and status["worker_environment_exists"]

    run(qloop, scenario())
    run(qloop, window.session.stop())


def test_server_killed_and_restarted(qtbot, qloop):
    """Offline shown within 2 s of a crash, back within 2 s of the return, typed text intact."""
    with Sandbox(publish_console=True) as sandbox:
        window = make_window(qtbot, sandbox)
        typed = {**COUNT, "kwargs": {"num": 42, "delay": 0.5}}

        async def scenario():
            await started(window)
            window.entry.load_item(typed, editing_uid=None)
            text_before = window.entry.text_state()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, sandbox.kill_manager)  # the GUI loop keeps running
            killed_at = time.monotonic()
            await until(lambda: window.session.connection is Connection.OFFLINE, 4,
                        message="offline")
            offline_after = time.monotonic() - killed_at
            assert "Offline" in window.indicator.text()
            assert not action(window, Action.EXECUTE_NOW).isEnabled()
            await loop.run_in_executor(None, sandbox.restart_manager)
            back_at = time.monotonic()
            await until(lambda: window.session.connection is Connection.CONNECTED, 5,
                        message="reconnected")
            back_after = time.monotonic() - back_at
            assert window.entry.text_state() == text_before
            assert window.entry.current_item()["kwargs"] == {"num": 42, "delay": 0.5}
            return offline_after, back_after

        offline_after, back_after = run(qloop, scenario())
        run(qloop, window.session.stop())
    print(f"offline after {offline_after:.2f} s, reconnected after {back_after:.2f} s")
    assert offline_after <= 2.0, offline_after
    assert back_after <= 2.0, back_after
