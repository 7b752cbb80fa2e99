"""Icon and style sheet, help dialogs, profile dialog and styling, notifications (pytest-qt)."""

from __future__ import annotations

import configparser
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import PYQT_VERSION_STR, QT_VERSION_STR, QSettings, Qt, qVersion  # noqa: E402
from PyQt5.QtGui import QColor, QKeySequence  # noqa: E402
from PyQt5.QtWidgets import (  # noqa: E402
    QApplication,
    QMainWindow,
    QMessageBox,
    QSystemTrayIcon,
    QToolBar,
    QWidget,
)

from qs_gui import __version__  # noqa: E402
from qs_gui.client import REManagerAPI  # noqa: E402
from qs_gui.core.events import Event  # noqa: E402
from qs_gui.core.gates import Action, Connection  # noqa: E402
from qs_gui.core.notify_rules import Kind, Notice, NotifyRules  # noqa: E402
from qs_gui.core.profiles import AppSettings, Profile  # noqa: E402
from qs_gui.core.session import Session  # noqa: E402
from qs_gui.core.tracking import Execution  # noqa: E402
from qs_gui.ui import main_window as main_window_module
from qs_gui.ui.actions import SPECS, ActionRegistry  # noqa: E402
from qs_gui.ui.help_dialogs import AboutDialog, ShortcutsDialog, show_about  # noqa: E402
from qs_gui.ui.main_window import MainWindow  # noqa: E402
from qs_gui.ui.message_log import MessageLog  # noqa: E402
from qs_gui.ui.notifications import Notifier, attach_notifications  # noqa: E402
from qs_gui.ui.profiles_dialog import (  # noqa: E402
    BAND_NAME,
    ProfilesDialog,
    QSettingsStore,
    apply_profile_style,
)
from qs_gui.ui.resources import ICON_SIZES, app_icon, read_resource, style_sheet  # noqa: E402
from qs_gui.ui.status_panel import GREEN, ConnectionIndicator  # noqa: E402

from .qt_async import run  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def shoot(widget: QWidget, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(SCREENSHOTS / name))


# -- resources ------------------------------------------------------------------------------
def test_app_icon_has_every_size(qapp) -> None:
    icon = app_icon()
    assert not icon.isNull()
    assert sorted(s.width() for s in icon.availableSizes()) == list(ICON_SIZES)
    pixmap = icon.pixmap(256, 256)
    assert pixmap.width() == 256
    SCREENSHOTS.mkdir(exist_ok=True)
    assert pixmap.save(str(SCREENSHOTS / "icon_256.png"))


def test_desktop_entry_is_freedesktop_shaped() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(read_resource("qs-gui.desktop").decode())
    entry = parser["Desktop Entry"]
    assert (entry["Type"], entry["Exec"], entry["Icon"]) == ("Application", "qs-gui", "qs-gui")
    assert entry["Categories"] == "Science;Physics;"
    assert read_resource("icons/hicolor/scalable/apps/qs-gui.svg").startswith(b"<?xml")


def test_style_sheet_keeps_the_status_pill_colours(qapp, qtbot) -> None:
    sheet = style_sheet()
    assert "QHeaderView::section" in sheet and "QLabel" not in sheet.split("*/", 1)[1]
    previous = qapp.styleSheet()
    qapp.setStyleSheet(sheet)
    try:
        pill = ConnectionIndicator()
        qtbot.addWidget(pill)
        pill.set_state(Connection.CONNECTED)
        pill.resize(160, 28)
        pill.show()
        qtbot.wait(10)
        image = pill.grab().toImage()
        assert image.pixelColor(6, image.height() // 2) == QColor(GREEN)
    finally:
        qapp.setStyleSheet(previous)


# -- help -----------------------------------------------------------------------------------
@pytest.fixture
def registry(qtbot) -> Iterator[ActionRegistry]:
    owner = QWidget()  # owns the QActions: keep it alive for the whole test
    qtbot.addWidget(owner)
    yield ActionRegistry(owner)


def test_shortcuts_dialog_lists_every_action_with_a_shortcut(qtbot, registry) -> None:
    dialog = ShortcutsDialog(registry)
    qtbot.addWidget(dialog)
    rows = dialog.texts()
    listed = {(keys, text) for keys, text, _detail in rows}
    expected = {(QKeySequence(shortcut).toString(QKeySequence.NativeText), text.rstrip("…"))
                for text, _tip, shortcut, _icon in SPECS.values() if shortcut}
    assert expected and expected <= listed
    keys = [k for k, _t, _d in rows]
    assert {"F1", "Ctrl+F", "Ctrl+Q"} <= set(keys)
    dialog.show()
    qtbot.wait(20)
    # The offscreen screen is 800x600, so the dialog starts capped and wraps descriptions;
    # on a wider window the rows must re-wrap to one line each.
    tall = dialog.table.rowHeight(0)
    dialog.resize(1100, 580)
    qtbot.wait(20)
    assert dialog.table.rowHeight(0) < tall
    shoot(dialog, "shortcuts.png")


def test_shortcuts_follow_the_live_actions(qtbot, registry) -> None:
    registry[Action.QUEUE_REMOVE].setShortcutContext(Qt.WidgetWithChildrenShortcut)
    registry[Action.ENV_OPEN].setShortcut(QKeySequence("Ctrl+Alt+O"))
    dialog = ShortcutsDialog(registry)
    qtbot.addWidget(dialog)
    rows = {text: (keys, detail) for keys, text, detail in dialog.texts()}
    assert rows["Open environment"][0] == "Ctrl+Alt+O"
    assert rows["Remove"][1].endswith("(in the queue)")


def test_about_shows_every_version(qtbot) -> None:
    status = {"msg": "RE Manager v0.0.25", "manager_state": "idle"}
    dialog = AboutDialog(status, "tcp://id12-ws:60615")
    qtbot.addWidget(dialog)
    values = {label: w.text() for label, w in dialog.value_labels.items()}
    assert values["qs-gui"] == __version__
    assert values["RE Manager"] == "RE Manager v0.0.25"
    assert values["Address"] == "tcp://id12-ws:60615"
    assert qVersion() in values["Qt"] and QT_VERSION_STR in values["Qt"]
    assert values["PyQt"] == PYQT_VERSION_STR
    dialog.copy_to_clipboard()
    assert "RE Manager: RE Manager v0.0.25" in QApplication.clipboard().text()
    dialog.show()
    qtbot.wait(20)
    shoot(dialog, "about.png")


def test_about_without_a_server(qtbot) -> None:
    dialog = show_about(None, None, "tcp://localhost:60615")
    qtbot.addWidget(dialog)
    assert dialog.isVisible() and dialog.testAttribute(Qt.WA_DeleteOnClose)
    assert dialog.value_labels["RE Manager"].text() == "not connected"


# -- profiles -------------------------------------------------------------------------------
def fill(dialog: ProfilesDialog, **values: str) -> None:
    for key, value in values.items():
        if key == "colour":
            dialog.colour_edit.setText(value)
        else:
            dialog.fields[key].setText(value)
    dialog._changed()


def test_profile_dialog_add_then_connect(qtbot) -> None:
    settings = AppSettings({})
    template = Profile(name="local", control_addr="tcp://127.0.0.1:60615")
    dialog = ProfilesDialog(settings, template=template)
    qtbot.addWidget(dialog)
    # No profiles yet: the form starts as a new profile from the current connection.
    assert dialog.fields["control_addr"].text() == "tcp://127.0.0.1:60615"
    fill(dialog, name="ID12", control_addr="tcp://id12-ws:60615", colour="#c62828")
    dialog.fields["user"].setText("op")
    dialog._changed()
    qtbot.mouseClick(dialog.connect_button, Qt.LeftButton)
    chosen = dialog.chosen()
    assert chosen is not None and (chosen.name, chosen.user) == ("ID12", "op")
    assert settings.profile_names() == ["ID12"] and settings.last_profile == "ID12"


def test_profile_dialog_select_edit_and_refuse_invalid(qtbot, monkeypatch) -> None:
    settings = AppSettings({})
    for name, colour in (("ID12", "#c62828"), ("ID13", "#2e7d32"), ("test", "#757575")):
        settings.add_profile(Profile(name=name, control_addr=f"tcp://{name.lower()}:60615",
                                     colour=colour))
    settings.set_last_profile("ID13")
    dialog = ProfilesDialog(settings)
    qtbot.addWidget(dialog)
    assert dialog.fields["name"].text() == "ID13"  # last used is preselected
    fill(dialog, colour="#1565c0")
    dialog.list.setCurrentRow(0)  # switching saves the pending edit, never drops it
    assert settings.profile("ID13").colour == "#1565c0"
    assert dialog.fields["name"].text() == "ID12"
    fill(dialog, control_addr="id12-without-scheme")
    dialog.accept()
    assert dialog.result() != dialog.Accepted and "tcp://host:port" in dialog.error_label.text()
    fill(dialog, control_addr="tcp://id12-new:60615")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    dialog.list.setCurrentRow(2)
    dialog.delete_current()
    assert settings.profile_names() == ["ID12", "ID13"]
    assert settings.profile("ID12").control_addr == "tcp://id12-new:60615"
    dialog.show()
    qtbot.wait(20)
    shoot(dialog, "profiles.png")


def test_apply_profile_style_title_and_band(qtbot) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    main_bar = QToolBar("Main", window)
    window.addToolBar(main_bar)
    window.setWindowTitle("qs-gui — tcp://id12-ws:60615")
    profile = Profile(name="ID12", control_addr="tcp://id12-ws:60615", colour="#c62828",
                      monitor=True)
    apply_profile_style(window, profile)
    apply_profile_style(window, profile)  # idempotent
    assert window.windowTitle() == "[ID12] qs-gui — tcp://id12-ws:60615"
    bands = window.findChildren(QToolBar, BAND_NAME)
    assert len(bands) == 1 and window.toolBarArea(bands[0]) == Qt.TopToolBarArea
    label = bands[0].widgetForAction(bands[0].actions()[0])
    assert "ID12" in label.text() and "MONITOR" in label.text()
    assert "#c62828" in label.styleSheet()
    window.resize(900, 200)
    window.show()
    qtbot.wait(20)
    assert bands[0].y() < main_bar.y()  # the band sits above the toolbar, full width
    assert bands[0].width() >= window.width() - 10
    apply_profile_style(window, None)
    assert window.windowTitle() == "qs-gui — tcp://id12-ws:60615"


def test_qsettings_store_round_trip(tmp_path) -> None:
    qs = QSettings(str(tmp_path / "qs-gui.ini"), QSettings.IniFormat)
    settings = AppSettings(QSettingsStore(qs))
    settings.add_profile(Profile(name="ID12", monitor=True))
    settings.set_notify_sound(True)
    settings.set_console_max_lines(3000)
    again = AppSettings(QSettingsStore(QSettings(str(tmp_path / "qs-gui.ini"),
                                                 QSettings.IniFormat)))
    assert again.profile("ID12").monitor is True
    assert again.notify_sound() is True and again.console_max_lines(10_000) == 3000
    again.remove("console/max_lines")
    assert again.console_max_lines(10_000) == 10_000


def test_lock_panel_key_never_reaches_the_settings_file(qtbot, qloop, tmp_path,
                                                        monkeypatch) -> None:
    """Use the real window's lock panel, profile styling and layout saving; then read the file."""
    monkeypatch.setattr(main_window_module, "HEADLESS_PLATFORMS", ())  # save as on a display
    path = tmp_path / "qs-gui.ini"
    qsettings = QSettings(str(path), QSettings.IniFormat)
    settings = AppSettings(QSettingsStore(qsettings))
    session = Session(REManagerAPI(zmq_control_addr="tcp://127.0.0.1:9"))
    window = MainWindow(session, settings=qsettings)
    qtbot.addWidget(window)
    window.show()
    window.lock_panel.generate_key()
    key = window.lock_panel.key_edit.text()
    assert len(key) >= 8 and session.ops.lock_key == key
    profile = Profile(name="ID12", control_addr="tcp://127.0.0.1:9")
    settings.add_profile(profile)
    settings.set_last_profile("ID12")
    apply_profile_style(window, profile)
    window.close()  # saves geometry and dock state
    run(qloop, session.stop())
    qsettings.sync()
    text = path.read_bytes()
    assert b"window/geometry" in text or b"geometry" in text
    assert key.encode() not in text
    assert settings.audit([key]) == []


def test_a_headless_run_does_not_save_the_layout(qtbot, qloop, tmp_path) -> None:
    """Offscreen (smoke runs, tests) the virtual 800x600 screen must not become the layout."""
    qsettings = QSettings(str(tmp_path / "qs-gui.ini"), QSettings.IniFormat)
    session = Session(REManagerAPI(zmq_control_addr="tcp://127.0.0.1:9"))
    window = MainWindow(session, settings=qsettings)
    qtbot.addWidget(window)
    window.show()
    window.close()
    run(qloop, session.stop())
    qsettings.sync()
    assert qsettings.value("window/geometry") is None


# -- notifications --------------------------------------------------------------------------
def status(state: str, items: int = 0, env: bool = True, running: str | None = None) -> dict:
    return {"manager_state": state, "items_in_queue": items, "worker_environment_exists": env,
            "running_item_uid": running, "re_state": "paused" if state == "paused" else "idle"}


@pytest.fixture
def shown_window(qtbot) -> QMainWindow:
    window = QMainWindow()
    window.setCentralWidget(QWidget())
    window.statusBar().showMessage("ready")
    window.resize(900, 600)
    qtbot.addWidget(window)
    window.show()
    return window


def test_tray_falls_back_to_a_toast_offscreen(qtbot, shown_window) -> None:
    assert not QSystemTrayIcon.isSystemTrayAvailable()  # offscreen platform
    logged: list[tuple[str, str]] = []
    notifier = Notifier(shown_window, log=lambda level, text: logged.append((level, text)),
                        toast_msecs=150)
    assert not notifier.uses_tray
    notifier.notify(Notice(Kind.ENVIRONMENT_CLOSED, "Environment closed", "It crashed.",
                           "error"))
    toast = notifier.toast
    assert toast.isVisible() and "Environment closed" in toast.title.text()
    assert logged == [("error", "Environment closed: It crashed.")]
    assert toast.geometry().right() <= shown_window.width()
    assert toast.geometry().bottom() <= shown_window.height() - shown_window.statusBar().height()
    assert not QApplication.focusWidget() or QApplication.focusWidget() is not toast
    notifier.notify(Notice(Kind.QUEUE_FINISHED, "Queue finished", "Done.", "info"))
    assert "+1 more" in toast.title.text()
    qtbot.waitUntil(lambda: not toast.isVisible(), timeout=2000)


def test_queue_finished_debounce_fires_from_the_timer(qtbot, shown_window) -> None:
    rules = NotifyRules(queue_idle_delay=0.15)
    notifier = Notifier(shown_window, rules, use_tray=False)
    notifier.on_status(status("idle", 2))
    notifier.on_status(status("executing_queue", 1, running="a"))
    started = time.monotonic()
    notifier.on_status(status("idle", 0))  # no further status: the timer must wake the rules
    assert notifier.shown == []
    qtbot.waitUntil(lambda: bool(notifier.shown), timeout=2000)
    assert time.monotonic() - started >= 0.15
    assert notifier.shown[-1].title == "Queue finished"


def test_pause_sent_by_this_client_is_quiet_and_sound_beeps(qtbot, shown_window,
                                                            monkeypatch) -> None:
    beeps: list[int] = []
    monkeypatch.setattr(QApplication, "beep", staticmethod(lambda: beeps.append(1)))
    notifier = Notifier(shown_window, use_tray=False, sound=True)
    notifier.on_status(status("executing_queue", 0, running="a"))
    notifier.note_requests({Action.RE_PAUSE_DEFERRED.value})
    notifier.on_status(status("paused", 0, running="a"))
    assert notifier.shown == [] and beeps == []
    notifier.on_status(status("executing_queue", 0, running="a"))
    notifier.on_status(status("paused", 0, running="a"))
    assert [n.kind for n in notifier.shown] == [Kind.UNEXPECTED_PAUSE] and beeps == [1]


class FakeWindow(QMainWindow):
    """What attach_notifications reads from the MainWindow: session and messages."""

    def __init__(self) -> None:
        super().__init__()
        self.messages = MessageLog(self)
        self.setCentralWidget(self.messages)
        self.session = SimpleNamespace(
            status=status("idle", 0), in_flight=set(), status_changed=Event("status"),
            busy_changed=Event("busy"), tracker=SimpleNamespace(changed=Event("changed")),
            attention=SimpleNamespace(watch=SimpleNamespace(stop_reason=lambda: None)))


def test_attach_notifications_wiring(qtbot) -> None:
    window = FakeWindow()
    qtbot.addWidget(window)
    window.show()
    settings = AppSettings({})
    notifier = attach_notifications(window, settings=settings, use_tray=False)
    session = window.session
    session.tracker.changed.emit(Execution(uid="u1", name="count", state="failed",
                                           msg="Bad things"))
    assert notifier.toast.isVisible() and "count: failed" in notifier.toast.title.text()
    assert window.messages.messages() == []  # MainWindow logs item outcomes itself
    session.in_flight.add(Action.ENV_CLOSE.value)
    session.busy_changed.emit()
    session.status_changed.emit(status("idle", 0, env=False))
    assert [n.kind for n in notifier.shown] == [Kind.ITEM_FINISHED]
    session.status_changed.emit(status("idle", 0, env=True))
    session.status_changed.emit(status("idle", 0, env=False))
    assert notifier.shown[-1].kind is Kind.ENVIRONMENT_CLOSED
    # gone without a close: a warning that the worker may have crashed (issue 17), not an error
    assert window.messages.messages("warning")[-1].startswith("Environment gone:")
    notifier.sound_action.setChecked(True)
    assert settings.notify_sound() is True
    notifier.close()
