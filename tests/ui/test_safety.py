"""Operator safety against a real RE Manager (issue 16, points 3–5): Stop now and the paused
choices, Ctrl+Enter following the focus, undo of queue edits, the close-environment question."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import Qt  # noqa: E402
from PyQt5.QtWidgets import QWidget  # noqa: E402

from qs_gui.core.gates import Action, Connection, GateInputs, compute_gates  # noqa: E402
from qs_gui.ui.actions import ActionRegistry  # noqa: E402
from qs_gui.ui.main_window import MainWindow  # noqa: E402
from qs_gui.ui.stop_control import StopControl  # noqa: E402

from .qt_async import run, until  # noqa: E402
from .test_main_window_server import make_window, save_shot, server_queue, started  # noqa: E402

pytestmark = pytest.mark.server

LONG_COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]],
              "kwargs": {"num": 50, "delay": 0.2}}


def count(num: int, delay: float = 0.0) -> dict[str, Any]:
    return {"item_type": "plan", "name": "count", "args": [["det1"]],
            "kwargs": {"num": num, "delay": delay}}


class Prompts:
    """The operator's answers, recorded (no modal dialog in a test)."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str, bool]] = []

    def confirm(self, title: str, text: str, *, destructive: bool = False) -> bool:
        self.asked.append((title, text, destructive))
        return self.answer

    def confirm_typed(self, title: str, text: str, word: str) -> bool:
        return self.answer

    def keep_newest(self, total: int) -> int | None:
        return None


def status(window: MainWindow) -> dict:
    return window.session.status or {}


def messages(window: MainWindow, level: str | None = None) -> list[str]:
    return window.messages.messages(level)


async def press(qtbot, widget, key: int, modifiers: Any = Qt.NoModifier) -> None:
    """A key press as the operator makes it: the window active, the widget focused."""
    window = widget.window()
    window.activateWindow()
    widget.setFocus()
    await until(lambda: window.isActiveWindow() and widget.hasFocus(), 5, message="focus")
    qtbot.keyClick(widget, key, modifiers)


async def start_long_plan(window: MainWindow) -> None:
    window.entry.load_item(LONG_COUNT, editing_uid=None)
    execute = window.registry[Action.EXECUTE_NOW]
    await until(execute.isEnabled, 10, message="Execute editor item enabled")
    execute.trigger()
    pause = window.registry[Action.RE_PAUSE_IMMEDIATE]
    await until(lambda: status(window).get("manager_state") == "executing_queue"
                and pause.isEnabled(), 15, message="plan running, Stop now enabled")


def test_stop_control_pages_follow_the_gates(qtbot):
    """No server: the control shows what the gates of one snapshot say, nothing of its own."""
    owner = QWidget()
    qtbot.addWidget(owner)
    registry = ActionRegistry(owner)
    control = StopControl(registry, owner)
    base = {"manager_state": "idle", "worker_environment_exists": True, "re_state": "idle",
            "ip_kernel_state": "disabled", "pause_pending": False, "queue_stop_pending": False,
            "items_in_queue": 0, "items_in_history": 0,
            "lock": {"environment": False, "queue": False}}

    def apply(**status: Any) -> None:
        registry.apply(compute_gates(GateInputs(Connection.CONNECTED, {**base, **status})))

    apply()
    assert control.page == "stop" and not control.stop_button.isEnabled()
    apply(manager_state="executing_queue", re_state="running")
    assert control.page == "stop" and control.stop_button.isEnabled()
    assert not registry[Action.RE_ABORT].isEnabled()  # never while it runs
    apply(manager_state="paused", re_state="paused")
    assert control.page == "paused"
    assert all(b.isEnabled() for b in control.choices.values())
    apply(manager_state="paused", re_state="paused", lock={"environment": True, "queue": False})
    assert control.page == "paused"  # still where the operator looks, with the lock's reason
    assert "locked" in control.choices[Action.RE_RESUME].toolTip()
    assert not any(b.isEnabled() for b in control.choices.values())


def test_stop_now_pauses_then_abort_from_the_same_place(qtbot, qloop, env_open):
    sandbox = env_open
    window = make_window(qtbot, sandbox)
    prompts = window.commands.prompts = Prompts(True)
    control = window.stop_control
    aborts: list[str] = []  # the manager state whenever an abort is actually sent
    real_abort = window.session.ops.re_abort

    async def recording_abort():
        aborts.append(sandbox.request("status")["manager_state"])
        return await real_abort()

    window.session.ops.re_abort = recording_abort

    async def scenario():
        await started(window)
        assert control.page == "stop" and not control.stop_button.isEnabled()
        assert "No plan is running" in control.stop_button.toolTip()
        await start_long_plan(window)
        assert control.isVisible() and control.page == "stop"
        assert control.stop_button.text() == "Stop now" and control.stop_button.isEnabled()
        save_shot(window, "stop_now_running.png")
        # Execute now runs as executing_queue: stopping "the queue" would not stop it.
        stop_queue = window.registry[Action.QUEUE_STOP]
        await until(lambda: "Execute now is running" in stop_queue.toolTip(), 5,
                    message=lambda: f"Stop queue reason, tooltip is {stop_queue.toolTip()!r}")
        assert not stop_queue.isEnabled()
        assert "use Stop now" in stop_queue.toolTip()
        # Abort is refused while the plan runs: the server accepts it only when paused.
        abort = window.registry[Action.RE_ABORT]
        assert not abort.isEnabled()
        window.commands.fire(Action.RE_ABORT)
        assert aborts == [] and any("Abort not sent" in m for m in messages(window, "warning"))

        qtbot.mouseClick(control.stop_button, Qt.LeftButton)
        choices = control.choices
        await until(lambda: control.page == "paused" and choices[Action.RE_ABORT].isEnabled(),
                    10, message="paused choices shown")
        assert status(window)["manager_state"] == "paused"
        assert [b.text() for b in choices.values()] == ["Resume", "Stop plan", "Abort…", "Halt…"]
        assert all(b.isEnabled() and b.isVisible() for b in choices.values())
        assert "F8" in choices[Action.RE_RESUME].toolTip()
        assert "Shift+F8" in choices[Action.RE_STOP].toolTip()
        save_shot(window, "stop_now_paused.png")
        qtbot.mouseClick(choices[Action.RE_ABORT], Qt.LeftButton)
        await until(lambda: window.history_view.model.rowCount() == 1, 15, message="history")
        last = window.history_view.model.item_at(0)
        assert last["result"]["exit_status"] == "aborted"
        assert aborts == ["paused"]  # sent once, and only once the plan was paused
        assert prompts.asked and prompts.asked[0][0] == "Abort"
        await until(lambda: control.page == "stop", 10, message="back to Stop now")

    run(qloop, scenario())
    run(qloop, window.session.stop())


def test_resume_and_stop_plan_shortcuts(qtbot, qloop, env_open):
    sandbox = env_open
    window = make_window(qtbot, sandbox)
    table = window.queue_view.table

    async def scenario():
        await started(window)
        await start_long_plan(window)
        await press(qtbot, table, Qt.Key_Space, Qt.ControlModifier | Qt.ShiftModifier)  # Stop now
        await until(lambda: status(window).get("manager_state") == "paused", 10, message="paused")
        resume = window.registry[Action.RE_RESUME]
        await until(resume.isEnabled, 5, message="Resume enabled")
        await press(qtbot, table, Qt.Key_F8)
        await until(lambda: status(window).get("re_state") == "running"
                    and window.stop_control.page == "stop", 10, message="resumed")
        await press(qtbot, table, Qt.Key_Space, Qt.ControlModifier | Qt.ShiftModifier)
        await until(lambda: window.registry[Action.RE_STOP].isEnabled(), 10, message="paused")
        await press(qtbot, table, Qt.Key_F8, Qt.ShiftModifier)  # Stop plan
        await until(lambda: window.history_view.model.rowCount() == 1, 15, message="history")
        last = window.history_view.model.item_at(0)
        assert last["result"]["exit_status"] == "stopped"
        assert sandbox.request("status")["manager_state"] == "idle"

    run(qloop, scenario())
    run(qloop, window.session.stop())


def test_undo_of_a_remove_puts_an_equal_item_back_at_its_position(qtbot, qloop, server_reset):
    sandbox = server_reset
    for item in (count(1), {**count(2), "name": "count", "kwargs": {"num": 2, "delay": 0.5}},
                 count(3)):
        sandbox.request("queue_item_add", {"item": item, "user": "tester",
                                           "user_group": "primary"})
    window = make_window(qtbot, sandbox)
    view = window.queue_view
    undo = window.registry[Action.QUEUE_UNDO]

    async def scenario():
        await started(window)
        await until(lambda: view.model.rowCount() == 3, 5, message="queue shown")
        before = server_queue(sandbox)
        assert not undo.isEnabled() and "Nothing to undo" in undo.toolTip()
        view.select_uids([before[1]["item_uid"]])
        window.refresh_gates()  # a programmatic selection does not signal (a click does)
        await press(qtbot, view.table, Qt.Key_Delete)
        await until(lambda: len(server_queue(sandbox)) == 2, 5, message=lambda: (
            f"removed; remove is {window.registry[Action.QUEUE_REMOVE].toolTip()!r}, "
            f"messages {messages(window)}"))
        await until(lambda: "Removed count (position 2). Ctrl+Z puts it back."
                    in messages(window, "info"), 5, message="remove stated in Messages")
        await until(undo.isEnabled, 5, message="Undo enabled")
        assert undo.text() == "Undo remove of count"
        assert "Ctrl+Z" in undo.toolTip()
        assert undo in window.queue_view.context_menu().actions()

        await press(qtbot, view.table, Qt.Key_Z, Qt.ControlModifier)
        await until(lambda: len(server_queue(sandbox)) == 3, 5, message="put back")
        after = server_queue(sandbox)
        keys = ("item_type", "name", "args", "kwargs")
        assert [{k: i[k] for k in keys} for i in after] == [{k: i[k] for k in keys}
                                                            for i in before]
        assert after[1]["item_uid"] != before[1]["item_uid"]  # the server's new uid
        assert [i["item_uid"] for i in after[::2]] == [i["item_uid"] for i in before[::2]]
        await until(lambda: any(m.startswith("Undone: count is back at position 2 (the server "
                                             "gave it a new uid)") for m in messages(window)), 5,
                    message="undo stated in Messages")
        await until(lambda: not undo.isEnabled() and undo.text() == "Undo", 5,
                    message="nothing left to undo")

        # A move (Alt+Down) is undone the same way: the same item, back where it was.
        first = after[0]["item_uid"]
        await until(lambda: [i.get("item_uid") for i in window.session.queue]
                    == [i["item_uid"] for i in after], 5, message="the window has the queue")
        view.select_uids([first])
        window.refresh_gates()
        await press(qtbot, view.table, Qt.Key_Down, Qt.AltModifier)
        await until(lambda: server_queue(sandbox)[1]["item_uid"] == first, 5, message="moved")
        await until(lambda: "Moved count (was at position 1). Ctrl+Z moves it back."
                    in messages(window, "info"), 5, message="move stated in Messages")
        await until(lambda: undo.text() == "Undo move of count" and undo.isEnabled(), 5)
        await press(qtbot, view.table, Qt.Key_Z, Qt.ControlModifier)
        await until(lambda: [i["item_uid"] for i in server_queue(sandbox)]
                    == [i["item_uid"] for i in after], 5, message="moved back")
        await until(lambda: "Undone: count is back at position 1." in messages(window, "info"), 5,
                    message="move undo stated in Messages")

    run(qloop, scenario())
    run(qloop, window.session.stop())


def test_ctrl_enter_runs_the_focused_item(qtbot, qloop, env_open):
    sandbox = env_open
    for num in (11, 12):
        sandbox.request("queue_item_add", {"item": count(num), "user": "tester",
                                           "user_group": "primary"})
    window = make_window(qtbot, sandbox)
    view = window.queue_view
    history = window.history_view.model
    hint = window.execute_target_label

    def history_nums() -> list[int]:
        return [history.item_at(r)["kwargs"]["num"] for r in range(history.rowCount())]

    async def idle() -> None:
        await until(lambda: status(window).get("manager_state") == "idle"
                    and window.registry[Action.EXECUTE_NOW].isEnabled(), 15, message="idle")

    async def scenario():
        await started(window)
        window.entry.load_item(count(13), editing_uid=None)
        await until(lambda: view.model.rowCount() == 2, 5, message="queue shown")
        await idle()
        assert window.registry[Action.EXECUTE_NOW].text() == "Execute editor item"
        assert window.registry[Action.EXECUTE_SELECTED_QUEUE].text() == "Execute selected"
        second = server_queue(sandbox)[1]["item_uid"]
        view.select_uids([second])
        window.refresh_gates()
        view.table.setFocus()
        await until(lambda: "selected queue item count (position 2)" in hint.text(), 5,
                    message=lambda: f"hint names the queue item, is {hint.text()!r}")
        await press(qtbot, view.table, Qt.Key_Return, Qt.ControlModifier)
        await until(lambda: history_nums() == [12], 20, message="the selected item ran")
        assert [i["kwargs"]["num"] for i in server_queue(sandbox)] == [11, 12]  # queue unchanged

        await idle()
        field = window.entry.form.rows["num"].typed.spin
        field.setFocus()
        await until(lambda: "editor's item count" in hint.text(), 5,
                    message=lambda: f"hint names the editor's item, is {hint.text()!r}")
        await press(qtbot, field.lineEdit(), Qt.Key_Enter, Qt.ControlModifier)  # keypad Enter
        await until(lambda: history_nums() == [12, 13], 20, message="the editor's item ran")

        # Focus in the queue but nothing selected: refused with the reason, never the editor's
        await idle()
        view.select_uids([])
        window.refresh_gates()
        await press(qtbot, view.table, Qt.Key_Return, Qt.ControlModifier)
        await until(lambda: any(m.startswith("Ctrl+Return: Execute selected not sent: Select "
                                             "a queue item") for m in messages(window)), 5,
                    message="refusal stated")
        assert history_nums() == [12, 13]

    run(qloop, scenario())
    run(qloop, window.session.stop())


def test_close_environment_asks_and_a_no_sends_nothing(qtbot, qloop, env_open):
    sandbox = env_open
    window = make_window(qtbot, sandbox)
    prompts = window.commands.prompts = Prompts(False)
    sent: list[str] = []
    real_close = window.session.ops.environment_close

    async def recording_close():
        sent.append("environment_close")
        return await real_close()

    window.session.ops.environment_close = recording_close
    close = window.registry[Action.ENV_CLOSE]

    async def scenario():
        await started(window)
        await until(close.isEnabled, 10, message="Close environment enabled")
        close.trigger()
        title, text, destructive = prompts.asked[-1]
        assert title == "Close environment" and destructive and "No plan can run" in text
        assert sent == []
        assert "Close environment cancelled: nothing was sent." in messages(window, "info")
        assert sandbox.request("status")["worker_environment_exists"] is True

        prompts.answer = True
        close.trigger()
        await until(lambda: sandbox.request("status")["worker_environment_exists"] is False, 30,
                    interval=0.2, message="closed once confirmed")
        assert sent == ["environment_close"]

    run(qloop, scenario())
    run(qloop, window.session.stop())
