"""Monitor mode (``--monitor``): the read-only wall display against a real RE Manager — states in
the banner and the title, the queue and history following changes made by another client, no
control that could change the server, nothing mutating sent — plus its scaling, progress,
geometry and history model offline."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PyQt5.QtCore import QModelIndex, QSettings, Qt  # noqa: E402
from PyQt5.QtGui import QFontMetrics  # noqa: E402
from PyQt5.QtWidgets import (  # noqa: E402
    QAbstractButton,
    QAbstractSpinBox,
    QAction,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from qs_gui.client import READ_ONLY_METHODS, REManagerAPI  # noqa: E402
from qs_gui.core.gates import Connection  # noqa: E402
from qs_gui.core.operator_state import OperatorState, StateKind  # noqa: E402
from qs_gui.core.profiles import Profile  # noqa: E402
from qs_gui.core.session import Session  # noqa: E402
from qs_gui.ui import monitor_window as monitor_module  # noqa: E402
from qs_gui.ui.elided_label import ElidedLabel  # noqa: E402
from qs_gui.ui.monitor_window import GEOMETRY_KEY, MonitorWindow  # noqa: E402
from qs_gui.ui.recent_history_model import RecentHistoryModel  # noqa: E402
from qs_gui.ui.theme import outcome_text, theme_manager  # noqa: E402
from tests.core.test_liverun import scan_docs  # noqa: E402

from .qt_async import run, until  # noqa: E402

SHOTS = os.environ.get("QS_GUI_SCREENSHOTS", "screenshots")
WHO = {"user": "alice", "user_group": "primary"}
SLOW_COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]],
              "kwargs": {"num": 5, "delay": 0.3}}
SHORT_COUNT = {"item_type": "plan", "name": "count", "args": [["det1", "det2"]],
               "kwargs": {"num": 2}}
FAILING_SCAN = {"item_type": "plan", "name": "scan", "args": [["det1"], "motor", -1],
                "kwargs": {"num": 5}}  # accepted, fails in the worker: no stop position
#: actions a monitor may have: they change the view, never the server
VIEW_ACTIONS = {"action_quit", "action_fullscreen", "theme_system", "theme_light", "theme_dark"}


def make_monitor(qtbot, sandbox, **kwargs) -> tuple[MonitorWindow, list[str]]:
    """A monitor over a read-only client; the list collects every method it tries to send."""
    api = REManagerAPI(zmq_control_addr=sandbox.control_addr, zmq_info_addr=sandbox.info_addr,
                       read_only=True)
    tried: list[str] = []
    send = api._send

    async def spy(method, params=None, **kw):
        tried.append(method)
        return await send(method, params, **kw)

    api._send = spy
    window = MonitorWindow(Session(api), **kwargs)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return window, tried


def offline_monitor(qtbot, **kwargs) -> MonitorWindow:
    """A monitor whose session is never started (nothing listens at the address)."""
    api = REManagerAPI(zmq_control_addr="tcp://127.0.0.1:9", read_only=True)
    window = MonitorWindow(Session(api), **kwargs)
    qtbot.addWidget(window)
    return window


async def connected(window: MonitorWindow) -> None:
    await window.session.start()
    await until(lambda: window.session.connection is Connection.CONNECTED, 10, message="connect")


def headline(window: MonitorWindow) -> str:
    return window.banner.headline.text()


def column(model, col: int) -> list[str]:
    return [str(model.index(r, col).data()) for r in range(model.rowCount())]


def assert_display_only(window: MonitorWindow) -> None:
    """Nothing to type into, no button to press, no action that is not a view choice."""
    for widget in window.findChildren(QWidget):
        name = f"{type(widget).__name__} {widget.objectName()!r}"
        if isinstance(widget, (QLineEdit, QAbstractSpinBox)):
            assert widget.isReadOnly() or not widget.isVisibleTo(window), name
        if isinstance(widget, (QTextEdit, QPlainTextEdit)):
            assert widget.isReadOnly(), name
        if isinstance(widget, QComboBox):
            assert not widget.isVisibleTo(window), name
        if isinstance(widget, QAbstractButton):  # (the tables' corner buttons are disabled)
            assert not (widget.isEnabled() and widget.isVisibleTo(window)), name
    actions = {a.objectName() for a in window.findChildren(QAction) if a.objectName()}
    assert actions <= VIEW_ACTIONS, actions - VIEW_ACTIONS
    assert window.findChild(QAction, "action_quit").shortcut().toString() == "Ctrl+Q"


def save_shot(window: MonitorWindow, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    window.grab().save(os.path.join(SHOTS, name))


@pytest.mark.server
def test_monitor_follows_states_queue_and_history(qtbot, qloop, env_closed):
    sandbox = env_closed
    window, tried = make_monitor(qtbot, sandbox)
    seen: list[str] = []
    window.session.operator_state_changed.connect(lambda state: seen.append(state.headline))

    async def scenario():
        await connected(window)
        await until(lambda: headline(window) == "Environment closed", 10,
                    message=lambda: f"closed banner, shows {headline(window)!r}")
        assert window.windowTitle().startswith("Environment closed — qs-gui monitor")
        assert window.running_name.text() == "Nothing running"

        # Another client fills the queue: the monitor follows.
        for item in (SLOW_COUNT, SHORT_COUNT):
            assert sandbox.request("queue_item_add", {"item": item, **WHO})["success"]
        queue = window.queue_model
        await until(lambda: queue.rowCount() == 2, 5, message="two queued items")
        assert column(queue, queue.NAME) == ["count", "count"]
        assert "num=2" in column(queue, queue.PARAMS)[1]
        await until(lambda: window.queue_title.text().endswith("2 items"), 5)
        assert_display_only(window)

        assert sandbox.request("environment_open")["success"]
        await until(lambda: headline(window) == "Idle", 60, message="idle once open")
        assert any(h.startswith("Opening environment") for h in seen), seen

        assert sandbox.request("queue_start")["success"]
        await until(lambda: headline(window) == "Running count (queue)", 10,
                    message=lambda: f"running banner, shows {headline(window)!r}")
        assert window.windowTitle().startswith("Running count (queue) — qs-gui monitor")
        assert window.running_name.text() == "count"
        assert "num=5" in window.running_args.full_text()
        await until(lambda: queue.rowCount() == 1, 5, message="the running item left the list")
        # No document stream here: the time since it started stands in for "point k of n".
        await until(lambda: window.progress_text.full_text().startswith("Started "), 5,
                    message=lambda: f"elapsed time, shows {window.progress_text.full_text()!r}")
        save_shot(window, "monitor_running_1280x800.png")
        assert_display_only(window)

        history = window.history_model
        await until(lambda: history.rowCount() == 2 and headline(window) == "Idle", 30,
                    message="both items in the history, idle again")
        # Newest first: the short count finished last.
        assert "num=2" in str(history.index(0, history.PARAMS).data())
        assert column(history, history.OUTCOME) == ["✔ Completed", "✔ Completed"]
        assert queue.rowCount() == 0 and window.queue_title.text().endswith("empty")
        assert window.running_name.text() == "Nothing running"

    run(qloop, scenario(), 120)
    run(qloop, window.session.stop())
    assert tried and set(tried) <= READ_ONLY_METHODS, set(tried) - READ_ONLY_METHODS


@pytest.mark.server
def test_monitor_shows_a_failure_until_the_queue_moves_on(qtbot, qloop, env_open):
    sandbox = env_open
    window, tried = make_monitor(qtbot, sandbox)

    async def scenario():
        await connected(window)
        await until(lambda: headline(window) == "Idle", 10)
        assert sandbox.request("queue_item_add", {"item": FAILING_SCAN, **WHO})["success"]
        # (Seen queued first, as an operator's add and start are: the status before the start
        # must show the item, or the start is indistinguishable from another's Execute now.)
        await until(lambda: window.session.status.get("items_in_queue") == 1, 5)
        assert sandbox.request("queue_start")["success"]
        # First "scan did not complete" (from the status), then "scan failed" (the history).
        await until(lambda: window.state.kind is StateKind.FAILED
                    and "scan failed" in headline(window), 30,
                    message=lambda: f"failure shown, banner {headline(window)!r}")
        # Named, red, and no Acknowledge: nobody acknowledges on a wall display.
        assert "acknowledge" not in headline(window).lower()
        assert window.state.role == "alarm"
        assert not window.banner.ack_button.isVisibleTo(window)
        assert window.windowTitle().startswith(headline(window))
        history = window.history_model
        await until(lambda: history.rowCount() == 1, 10, message="the failure in the history")
        index = history.index(0, RecentHistoryModel.OUTCOME)
        assert index.data() == "✖ Failed"
        assert index.data(Qt.ForegroundRole) == outcome_text("failed")
        assert window.message_label.full_text().startswith("✖")
        queue = window.queue_model  # the server put it back at the front: marked there
        await until(lambda: queue.rowCount() == 1 and queue.is_failed_row(0), 10,
                    message="the requeued item marked")
        assert queue.index(0, queue.MARKER).data() == "✖"
        assert_display_only(window)
        save_shot(window, "monitor_failed_1280x800.png")

        # Another operator clears the failed item and runs something else: the wall moves on.
        assert sandbox.request("queue_clear")["success"]
        assert sandbox.request("queue_item_add", {"item": SHORT_COUNT, **WHO})["success"]
        assert sandbox.request("queue_start")["success"]
        await until(lambda: history.rowCount() == 2 and headline(window) == "Idle", 30,
                    message=lambda: f"idle after the next item, banner {headline(window)!r}")
        assert window.state.kind is StateKind.IDLE
        assert column(history, history.OUTCOME) == ["✔ Completed", "✖ Failed"]

    run(qloop, scenario(), 90)
    run(qloop, window.session.stop())
    assert tried and set(tried) <= READ_ONLY_METHODS, set(tried) - READ_ONLY_METHODS


# -- offline: scale, progress, geometry, the history model -----------------------------------------
@pytest.mark.parametrize("size, px", [((1280, 800), 22), ((1920, 1080), 30), ((3840, 2160), 60)])
def test_type_scales_with_the_window(qtbot, size, px):
    window = offline_monitor(qtbot)
    window.resize(*size)
    window.show()
    assert window.height() == size[1]
    assert window._px == px
    assert window.queue_table.font().pixelSize() == px
    assert window.queue_table.verticalHeader().defaultSectionSize() >= 1.5 * px
    headline_height = QFontMetrics(window.banner.headline.font()).height()
    assert headline_height >= 2.5 * px, (headline_height, px)
    assert window.running_name.font().pixelSize() > px
    hint = window.minimumSizeHint()  # the layout fits the window at this scale
    assert hint.width() <= size[0] and hint.height() <= size[1], hint


def test_progress_from_documents_without_a_plot(qtbot):
    window = offline_monitor(qtbot)
    window.show()
    window.session.state.running_item = {"item_uid": "u1", "name": "scan", "item_type": "plan",
                                         "args": [["det1"], "motor", -1, 1],
                                         "kwargs": {"num": 10}}
    docs = scan_docs(10)
    window.feed_documents(docs[:6])  # start, descriptor, 4 events
    assert window.running_name.text() == "scan"
    assert window.progress_text.full_text().startswith("Point 4 of 10")
    assert window.progress_bar.isVisibleTo(window) and window.progress_bar.value() == 400
    window.set_state(OperatorState(StateKind.PAUSED, "Paused — resume, stop, abort or halt"))
    window._tick()  # the once-a-second refresh
    assert window.progress_text.full_text() == "Point 4 of 10 · paused"
    window.feed_documents(docs[6:])  # the rest and the stop
    assert not window.progress_bar.isVisibleTo(window)
    assert not window.findChildren(QWidget, "plotDock")  # progress without building a plot


def test_geometry_is_its_own_and_ctrl_q_closes(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(monitor_module, "HEADLESS_PLATFORMS", ())  # as on a real display
    settings = QSettings(str(tmp_path / "qs-gui.ini"), QSettings.IniFormat)
    window = offline_monitor(qtbot, settings=settings)
    window.show()
    window.resize(1000, 700)
    closed = []
    window.closed.connect(lambda: closed.append(True))
    window.findChild(QAction, "action_quit").trigger()
    assert closed and not window.isVisible()
    settings.sync()
    assert settings.value(GEOMETRY_KEY) is not None
    assert settings.value("window/geometry") is None  # the main window's layout is untouched
    again = offline_monitor(qtbot, settings=settings)
    assert (again.width(), again.height()) == (1000, 700)


def test_recent_history_inserts_new_items_on_top(qtbot):
    def item(n: int, status: str = "completed") -> dict:
        return {"item_uid": f"u{n}", "name": f"plan{n}",
                "result": {"exit_status": status, "time_stop": float(n)}}

    model = RecentHistoryModel(limit=3)
    events: list[str] = []
    model.modelReset.connect(lambda: events.append("reset"))
    model.rowsInserted.connect(lambda _p, a, b: events.append(f"insert {a}-{b}"))
    model.rowsRemoved.connect(lambda _p, a, b: events.append(f"remove {a}-{b}"))
    model.set_history([item(1), item(2, "failed")])
    assert column(model, model.NAME) == ["plan2", "plan1"]
    assert column(model, model.OUTCOME) == ["✖ Failed", "✔ Completed"]
    assert model.index(0, 0).data(Qt.BackgroundRole) is not None  # a failed row is tinted
    events.clear()
    model.set_history([item(1), item(2), item(3)])
    assert events == ["insert 0-0"]
    events.clear()
    model.set_history([item(n) for n in range(1, 6)])  # two more: the oldest fall off
    assert events == ["insert 0-1", "remove 3-4"]
    assert column(model, model.NAME) == ["plan5", "plan4", "plan3"]
    events.clear()
    model.set_history([])  # cleared elsewhere
    assert events == ["reset"] and model.rowCount() == 0
    assert model.rowCount(model.index(0, 0)) == 0 and not model.index(5, 0).isValid()
    assert model.data(QModelIndex()) is None


def test_a_theme_switch_keeps_the_wall_sizes(qtbot):
    window = offline_monitor(qtbot)
    window.resize(1920, 1080)
    window.show()
    window.show_message("error", "Lost contact with the RE Manager")

    def sizes() -> list[int]:
        return [w.font().pixelSize() for w in (window.running_name, window.address_label,
                                               window.queue_table, window.queue_title,
                                               window.message_label)]

    before = sizes()
    assert before[2] == 30 and min(before) >= 24
    try:
        theme_manager().set_mode("dark")
        assert sizes() == before
        assert window.message_label.full_text().endswith("Lost contact with the RE Manager")
    finally:
        theme_manager().set_mode("system")
    assert sizes() == before


def test_login_dialog_only_when_a_login_is_configured(qtbot):
    window = offline_monitor(qtbot)
    assert window.open_login() is None
    window._on_login_required("token expired")  # no login configured: said on the wall
    assert "refused the credentials" in window.message_label.full_text()
    window.configure_login("observer", ["toy"])
    dialog = window.open_login("The session has ended")
    assert dialog is not None and dialog.isVisible()
    assert window.open_login() is dialog  # one dialog at a time
    dialog.reject()


@pytest.mark.parametrize("size", [(1280, 800), (3840, 2160)])
def test_a_long_locked_state_fits_the_width(qtbot, size):
    window = offline_monitor(qtbot)
    window.resize(*size)
    window.show()
    lock = "Locked: environment and queue (a lock key is needed to change them)"
    window.set_state(OperatorState(StateKind.PAUSED, "Paused — resume, stop, abort or halt",
                                   "a_very_long_plan_name_for_the_wall is paused.",
                                   locked=True, lock_text=lock))
    window.show_message("warning", "The RE Manager is slow to answer " * 5)
    assert window.minimumSizeHint().width() <= size[0]
    assert window.width() == size[0]
    banner = window.banner
    qtbot.waitUntil(lambda: banner.headline.width() > 1)  # laid out
    window.centralWidget().layout().activate()
    text_width = QFontMetrics(banner.headline.font()).horizontalAdvance(banner.headline.text())
    assert text_width <= banner.headline.width(), (text_width, banner.headline.width())
    assert banner.lock_badge.isVisibleTo(window)
    assert window.windowTitle().startswith("Paused — resume, stop, abort or halt · LOCKED")
    assert window.lock_label.full_text() == lock


def test_a_profile_names_the_beamline(qtbot):
    window = offline_monitor(qtbot, profile=Profile(name="ID12", colour="#7b1fa2", monitor=True))
    band = window.findChild(QLabel, "profileBand")
    assert band is not None and band.text() == "ID12"
    assert window.windowTitle().startswith("[ID12] ")


def test_an_elided_line_keeps_its_ellipsis_inside_a_pill(qtbot):
    """A style sheet's padding narrows the room: the "…" must be drawn inside it (the overview
    screenshot showed "Wrong ." with the ellipsis cut off), also when the pill comes after the
    text."""
    label = ElidedLabel()
    qtbot.addWidget(label)
    label.setText("Last: scan failed: Plan failed: Wrong number of positional arguments for "
                  "'inner_product'")
    label.resize(300, 30)
    label.show()
    label.setStyleSheet("QLabel { border: 2px solid black; padding: 1px 12px; }")
    room = label.contentsRect().width()
    assert room < label.width() - 24 and label.frameWidth() > 0
    room -= label.fontMetrics().horizontalAdvance("x") // 2  # QLabel's indent inside a frame
    assert label.text().endswith("…")
    assert label.fontMetrics().horizontalAdvance(label.text()) <= room
    label.setText("short")
    assert label.text() == "short"
