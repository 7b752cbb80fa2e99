"""StatusPanel, ConnectionIndicator, LockPanel and dialogs: passive views, offscreen."""

from __future__ import annotations

import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from PyQt5.QtCore import QCoreApplication, QSettings, Qt, QTimer  # noqa: E402
from PyQt5.QtWidgets import (  # noqa: E402
    QAction,
    QApplication,
    QDialog,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)
from pytestqt.qtbot import QtBot  # noqa: E402

from qs_gui.core.gates import Connection  # noqa: E402
from qs_gui.ui import dialogs  # noqa: E402
from qs_gui.ui.lock_panel import NO_KEY, NOTHING_SELECTED, LockPanel  # noqa: E402
from qs_gui.ui.status_panel import (  # noqa: E402
    AMBER,
    BLUE,
    GREEN,
    GREY,
    MISSING,
    RED,
    ConnectionIndicator,
    StatusPanel,
)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

# status(paused) as captured from RE Manager 0.0.25 (re-manager-protocol.md §3), lock added.
PAUSED = {
    "msg": "RE Manager v0.0.25", "time": "2026-11-29T08:35:00.973674",
    "items_in_queue": 3, "items_in_history": 2,
    "running_item_uid": "5c004697-b476-4f13-93b7-2778fa653c59", "manager_state": "paused",
    "queue_stop_pending": False, "queue_autostart_enabled": False,
    "worker_environment_exists": True, "worker_environment_state": "idle",
    "worker_background_tasks": 0, "re_state": "paused", "ip_kernel_state": "disabled",
    "ip_kernel_captured": True, "pause_pending": False,
    "status_uid": "56b78abc-0fdb-4fc7-9212-d2d7d7c8bca5",
    "plan_queue_uid": "ae1c987c-83a4-4dcf-8189-fedaa9cdbc48",
    "plan_history_uid": "23b46d3e-86ed-4ab5-9af3-ef9b58805e98",
    "plan_queue_mode": {"loop": False, "ignore_failures": False},
    "lock_info_uid": "571a290a-4593-4189-9cd6-c5eac3868ef0",
    "lock": {"environment": True, "queue": False},
}  # fmt: skip
LOCK_INFO = {
    "environment": True, "queue": False, "user": "alice", "time": 1795941364.109,
    "time_str": "11/29/2026 08:36:04", "note": "calibration", "emergency_lock_key_is_set": False,
}  # fmt: skip
#: the lock time as the window shows it: ISO, local time (the server's time_str is month-first)
ISO_LOCK_TIME = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(LOCK_INFO["time"]))
RUNNING = {
    "item_type": "plan", "name": "count", "args": [["det1", "det2"]],
    "kwargs": {"num": 10, "delay": 1}, "item_uid": PAUSED["running_item_uid"],
}  # fmt: skip


def _shown(widget: QWidget) -> bool:
    return not widget.isHidden()


# ----- StatusPanel and ConnectionIndicator -------------------------------------------------
@pytest.fixture
def panel(qtbot: QtBot) -> StatusPanel:
    widget = StatusPanel()
    qtbot.addWidget(widget)
    return widget


def test_status_panel_renders_every_key(panel: StatusPanel) -> None:
    panel.set_status(PAUSED)
    panel.set_lock_info(LOCK_INFO)
    panel.set_running_item(RUNNING)
    assert {k: panel.text(k) for k in panel.values} == {
        "manager": "Paused", "environment": "open (idle)", "re": "paused", "kernel": MISSING,
        "running": "count (5c004697)", "server": "RE Manager v0.0.25", "queue": "3 items",
        "history": "2 items", "mode": "loop off · ignore failures off", "autostart": "off",
        "stop_pending": "no", "pause_pending": "no",
        "lock": f"Environment locked by alice at {ISO_LOCK_TIME}: calibration",
    }  # fmt: skip
    lock = panel.values["lock"].styleSheet()  # a lock is normal: attention colour, never red
    assert lock and RED not in lock and "#b71c1c" not in lock and "bold" not in lock
    assert panel.values["kernel"].isHidden()  # Python worker: kernel state "disabled"
    assert AMBER in panel.values["manager"].styleSheet()
    panel.set_running_item({**RUNNING, "item_uid": "other"})  # stale: not the running one
    assert panel.text("running") == "5c004697"
    kernel = {**PAUSED, "ip_kernel_state": "busy", "ip_kernel_captured": False}
    panel.set_status({**kernel, "worker_background_tasks": 2, "lock": {"environment": False}})
    assert panel.text("kernel") == "busy (work started outside the queue server)"
    assert not panel.values["kernel"].isHidden()
    assert panel.text("environment") == "open (idle), 2 background tasks"
    assert panel.text("lock") == "Not locked"  # fresher status flags win over lagging lock_info


@pytest.mark.parametrize(
    ("state", "colour"),
    [("idle", GREEN), ("executing_queue", BLUE), ("paused", AMBER), ("creating_environment", GREY)],
)
def test_manager_state_colour(panel: StatusPanel, state: str, colour: str) -> None:
    panel.set_status({"manager_state": state, "worker_environment_exists": True})
    assert colour in panel.values["manager"].styleSheet()
    assert "_" not in panel.text("manager")  # operator words, never the server's enum


def test_idle_without_an_environment_is_never_green(panel: StatusPanel) -> None:
    panel.set_status({"manager_state": "idle", "worker_environment_exists": False})
    assert GREEN not in panel.values["manager"].styleSheet()
    assert GREY in panel.values["manager"].styleSheet()


@pytest.mark.parametrize(
    "status",
    [None, {}, {"manager_state": 3, "items_in_queue": "x", "lock": [], "plan_queue_mode": 1},
     {"items_in_queue": True, "re_state": None, "running_item_uid": None}, "junk"],
)  # fmt: skip
def test_status_panel_tolerates_missing_and_odd_values(panel: StatusPanel, status: Any) -> None:
    panel.set_status(status)
    panel.set_lock_info({"user": 5, "environment": "yes"})
    panel.set_running_item({"name": None})
    texts = {k: panel.text(k) for k in panel.values}
    assert texts["manager"] == MISSING and texts["queue"] == MISSING
    assert panel.values["manager"].styleSheet() == ""
    if isinstance(status, dict) and "re_state" in status:
        assert texts["re"] == "none" and texts["running"] == "none"
    else:
        assert set(texts.values()) == {MISSING}


@pytest.mark.parametrize(
    ("state", "text", "colour"),
    [(Connection.OFFLINE, "Offline", RED), (Connection.CONNECTING, "Connecting…", AMBER),
     (Connection.NO_STATUS, "Connected — no status", AMBER),
     (Connection.CONNECTED, "Connected", GREEN)],
)  # fmt: skip
def test_connection_indicator(qtbot: QtBot, state: Connection, text: str, colour: str) -> None:
    indicator = ConnectionIndicator()
    qtbot.addWidget(indicator)
    assert indicator.objectName() == "connectionIndicator" and indicator.text() == "Offline"
    indicator.set_state(state, "tcp://127.0.0.1:60615 — retry in 2 s")
    assert indicator.text() == text and colour in indicator.styleSheet()
    assert "border-radius" in indicator.styleSheet() and indicator.state() is state
    assert indicator.toolTip() == "tcp://127.0.0.1:60615 — retry in 2 s"
    indicator.set_state(state)
    assert indicator.toolTip() == text


def test_screenshot_status_panel(qtbot: QtBot) -> None:
    box = QWidget()
    qtbot.addWidget(box)
    indicator, panel = ConnectionIndicator(), StatusPanel()
    indicator.set_state(Connection.CONNECTED, "tcp://127.0.0.1:60615")
    panel.set_status(PAUSED)
    panel.set_lock_info(LOCK_INFO)
    panel.set_running_item(RUNNING)
    layout = QVBoxLayout(box)
    layout.addWidget(indicator, 0, Qt.AlignLeft)
    layout.addWidget(panel)
    box.show()
    qtbot.waitExposed(box)
    box.resize(560, box.heightForWidth(560) if box.hasHeightForWidth() else 280)
    qtbot.wait(20)  # let the layouts settle before grabbing
    SCREENSHOTS.mkdir(exist_ok=True)
    assert box.grab().save(str(SCREENSHOTS / "status_panel.png"))


# ----- LockPanel ---------------------------------------------------------------------------
@pytest.fixture
def lock_panel(qtbot: QtBot) -> LockPanel:
    widget = LockPanel()
    qtbot.addWidget(widget)
    lock, unlock = QAction("Lock", widget), QAction("Unlock", widget)
    widget.set_actions(lock, unlock)
    widget.resize(480, 240)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_lock_request_validation(lock_panel: LockPanel, qtbot: QtBot) -> None:
    assert lock_panel.key() is None
    assert lock_panel.validate_lock_request() == NOTHING_SELECTED
    assert _shown(lock_panel.error_label) and lock_panel.error_label.text() == NOTHING_SELECTED
    lock_panel.env_box.setChecked(True)
    assert not _shown(lock_panel.error_label)  # a change clears the stale error
    lock_panel.lock_button.click()  # triggering Lock shows what is missing
    assert lock_panel.error_label.text() == NO_KEY and _shown(lock_panel.error_label)
    qtbot.keyClicks(lock_panel.key_edit, "k1 ")
    assert lock_panel.key() == "k1 " and not _shown(lock_panel.error_label)
    lock_panel.note_edit.setText("  calibration ")
    assert lock_panel.validate_lock_request() is None
    assert lock_panel.lock_request() == {"environment": True, "queue": False, "note": "calibration"}


def test_lock_key_field(lock_panel: LockPanel, qtbot: QtBot) -> None:
    assert lock_panel.key_edit.echoMode() == QLineEdit.Password
    with qtbot.waitSignal(lock_panel.key_changed) as blocker:
        key = lock_panel.generate_key()
    assert blocker.args == [key] and lock_panel.key() == key and len(key) == 16
    assert lock_panel.key_edit.echoMode() == QLineEdit.Normal  # shown so it can be noted down
    lock_panel.show_button.click()
    assert lock_panel.key_edit.echoMode() == QLineEdit.Password
    assert lock_panel.generate_key() != key
    with qtbot.assertNotEmitted(lock_panel.key_changed):
        lock_panel.set_key("from-client")
    assert lock_panel.key() == "from-client"
    lock_panel.set_key(None)
    assert lock_panel.key() is None


def test_generated_key_is_masked_after_lock_unlock_and_lock_change(lock_panel: LockPanel) -> None:
    lock, unlock = lock_panel.lock_button.defaultAction(), lock_panel.unlock_button.defaultAction()
    for trigger in (lock.trigger, unlock.trigger,
                    lambda: lock_panel.set_lock_info(LOCK_INFO)):  # fmt: skip
        lock_panel.generate_key()
        assert not lock_panel.key_masked()
        trigger()
        assert lock_panel.key_masked() and lock_panel.show_button.text() == "Show"
    lock_panel.show_button.click()  # the operator can still look on purpose
    assert not lock_panel.key_masked()
    lock_panel.set_lock_info(LOCK_INFO)  # same lock: no change, stays as the operator chose
    assert not lock_panel.key_masked()


def test_lock_time_is_iso_and_falls_back_to_time_str() -> None:
    from qs_gui.ui.status_panel import lock_time

    assert lock_time(LOCK_INFO) == ISO_LOCK_TIME
    assert lock_time({"time_str": "11/29/2026 08:36:04"}) == "11/29/2026 08:36:04"
    assert lock_time({"time": "junk"}) is None and lock_time(None) is None


def test_lock_info_display(lock_panel: LockPanel) -> None:
    lock_panel.set_lock_info(LOCK_INFO)
    assert lock_panel.info_label.text() == (
        f"Environment locked by alice at {ISO_LOCK_TIME}: calibration"
    )
    assert lock_panel.info_label.isHidden()  # shown once: in the status panel's Lock row
    unlocked = {"environment": False, "queue": False, "user": None, "time_str": "", "note": None}
    lock_panel.set_lock_info(unlocked)
    assert lock_panel.info_label.text() == "Not locked"
    lock_panel.set_lock_info(None)
    assert lock_panel.info_label.text() == MISSING


def test_lock_key_never_written_to_settings(lock_panel: LockPanel, qtbot: QtBot) -> None:
    saved = (QCoreApplication.organizationName(), QCoreApplication.applicationName())
    QCoreApplication.setOrganizationName("qs-gui-test-org")
    QCoreApplication.setApplicationName("qs-gui-test-panels")
    try:
        key = lock_panel.generate_key()
        qtbot.keyClicks(lock_panel.key_edit, "-typed")
        lock_panel.queue_box.setChecked(True)
        lock_panel.lock_button.click()
        lock_panel.set_key("another-key")
        lock_panel.close()
        scope = (QSettings.IniFormat, QSettings.UserScope, "qs-gui-test-org", "qs-gui-test-panels")
        for settings in (QSettings(), QSettings(*scope)):
            settings.sync()
            keys = settings.allKeys()
            assert not any("key" in k.lower() for k in keys)
            assert not any(s in str(settings.value(k)) for k in keys for s in (key, "another"))
            path = Path(settings.fileName())
            assert not path.exists() or key not in path.read_text(errors="replace")
    finally:
        QCoreApplication.setOrganizationName(saved[0])
        QCoreApplication.setApplicationName(saved[1])


def test_screenshot_lock_panel(lock_panel: LockPanel, qtbot: QtBot) -> None:
    lock_panel.env_box.setChecked(True)
    lock_panel.note_edit.setText("calibration")
    lock_panel.set_key("s3cret-key")
    lock_panel.set_lock_info(LOCK_INFO)
    qtbot.wait(20)  # let the layout settle before grabbing
    SCREENSHOTS.mkdir(exist_ok=True)
    assert lock_panel.grab().save(str(SCREENSHOTS / "lock_panel.png"))


# ----- dialogs -----------------------------------------------------------------------------
def test_typed_confirm_ok_disabled_until_word_matches(qtbot: QtBot) -> None:
    dialog = dialogs.make_typed_confirm_dialog(None, "Destroy environment", "Kill it?", "destroy")
    qtbot.addWidget(dialog)
    assert not dialog.ok_button.isEnabled() and dialog.ok_button.isDefault()
    for text, ok in [("destro", False), ("Destroy", False), ("destroyy", False), ("destroy", True)]:
        dialog.line_edit.setText(text)
        assert dialog.ok_button.isEnabled() is ok
    dialog.line_edit.setText("nope")
    dialog.accept()  # programmatic accept is refused too
    assert dialog.result() != QDialog.Accepted


def _answer(monkeypatch: pytest.MonkeyPatch, operator: Callable[[Any], Any]) -> None:
    """Inject the operator's answer: ``operator`` drives the dialog instead of exec_()."""
    monkeypatch.setattr(dialogs, "run_dialog", lambda d: (operator(d), d.result())[1])


def test_confirm_typed_with_injected_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [("destroy", "ok", True), ("destroy", "cancel", False), ("destr", "ok", False)]
    for word, button, expected in cases:

        def operator(d: dialogs.TypedConfirmDialog, word: str = word, button: str = button) -> None:
            d.line_edit.setText(word)
            getattr(d, f"{button}_button").click()  # a disabled OK does nothing: rejected

        _answer(monkeypatch, operator)
        assert dialogs.confirm_typed(None, "Destroy", "Sure?", "destroy") is expected


def test_confirm_defaults_and_answers(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    box = dialogs.make_confirm_box(None, "Clear queue", "Remove 3 items?", destructive=True)
    qtbot.addWidget(box)
    assert box.defaultButton() is box.button(QMessageBox.No)
    assert box.icon() == QMessageBox.Warning
    safe = dialogs.make_confirm_box(None, "Start", "Start the queue?", destructive=False)
    qtbot.addWidget(safe)
    assert safe.defaultButton() is safe.button(QMessageBox.Yes)
    for button, expected in [(QMessageBox.Yes, True), (QMessageBox.No, False)]:
        _answer(monkeypatch, lambda b, which=button: b.button(which).click())
        assert dialogs.confirm(None, "t", "x", destructive=True) is expected


def test_confirm_really_runs_modally(qtbot: QtBot) -> None:
    def answer() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        box.button(QMessageBox.Yes).click()

    QTimer.singleShot(50, answer)
    assert dialogs.confirm(None, "Clear queue", "Remove 3 items?", destructive=True) is True


def test_keep_newest_dialog(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    dialog = dialogs.make_keep_newest_dialog(None, 42)
    qtbot.addWidget(dialog)
    assert (dialog.spin.minimum(), dialog.spin.maximum(), dialog.spin.value()) == (0, 42, 10)
    assert dialog.summary.text() == "The oldest 32 items will be removed."
    dialog.spin.setValue(0)
    assert dialog.summary.text() == "All 42 items will be removed." and dialog.ok_button.isEnabled()
    dialog.spin.setValue(42)
    assert dialog.summary.text() == "Nothing will be removed." and not dialog.ok_button.isEnabled()

    _answer(monkeypatch, lambda d: (d.spin.setValue(5), d.ok_button.click()))
    assert dialogs.ask_keep_newest(None, 42) == 5
    _answer(monkeypatch, lambda d: (d.spin.setValue(0), d.ok_button.click()))
    assert dialogs.ask_keep_newest(None, 42) == 0
    _answer(monkeypatch, lambda d: d.reject())
    assert dialogs.ask_keep_newest(None, 42) is None
