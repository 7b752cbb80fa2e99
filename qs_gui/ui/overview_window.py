"""The control-room overview window: one tile per beamline, in a grid that follows the width.

Why it is built this way:

* **A room beside the main window, over the same core.** The window holds a
  :class:`~qs_gui.core.overview.Overview` (its status-only sessions, alarms, layout and log) and
  only shows it: a :class:`~qs_gui.ui.overview_tile.TileWidget` per visible beamline, the event
  log in a dock, alarms through the same :class:`~qs_gui.ui.notifications.Notifier` (tray
  balloon or toast) as a full window. It sends no request; control happens in a full window,
  opened by the app's ``open_full(name)`` on Enter or a double-click.
* **Reflow, not squeeze.** Columns = the viewport's width // the minimum tile width (times
  the tile size the operator chose), at most the number of tiles; tiles fill the height when
  they fit and keep a sensible aspect, else the area scrolls.
* **HTTP logins.** A tile of a login profile (``core/clients.login_needed``) says "Needs login"
  until its session has logged in; "Log in…" (or Enter) opens the usual
  :class:`~qs_gui.ui.login_dialog.LoginDialog` for that beamline, window-modal and without a
  nested loop, which logs the tile's own (read-only) session in; the password is not kept.
* **One timer.** A single 1 s timer refreshes every tile's "changed … ago" line; nothing else
  ticks. A tile repaints only when its ``TileState`` changed.
* **Persisted**: the chosen profiles, the layout (order, hidden, pinned: ``Overview.layout()``),
  the tile size and the geometry, under ``overview/…`` in the settings (``AppSettings``: the
  no-secrets checks apply).
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable
from typing import Any

from PyQt5.QtCore import QEvent, QSize, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QCloseEvent, QGuiApplication, QKeySequence
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QAction,
    QDockWidget,
    QGridLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ..core.clients import LoginNeeded, login_needed
from ..core.overview import LogEntry, Overview, TileAlarm, TileState
from ..core.profiles import AppSettings
from .login_dialog import LoginDialog
from .notifications import Notifier
from .overview_tile import MIN_TILE_SIZE, TileWidget
from .theme import install_theme_menu, role_text

__all__ = ["KEYS", "LOG_ROWS", "OverviewWindow", "grid_columns"]


class KEYS:
    PROFILES = "overview/profiles"  #: JSON list of the profile names shown
    LAYOUT = "overview/layout"  #: JSON: Overview.layout()
    TILE_SCALE = "overview/tile_scale"
    GEOMETRY = "overview/geometry"


LOG_ROWS = 500  #: the event log table keeps the newest this many (the core's log keeps more)
SCALES = (0.75, 1.0, 1.25, 1.5, 2.0, 2.5)  #: View ▸ Larger / Smaller tiles
ASPECT = 0.8  #: tile height / width when the window has room
HEADLESS_PLATFORMS = ("offscreen", "minimal")
_LEVEL_ROLES = {"error": "alarm", "warning": "attention", "info": None}


def _clock_text(at: float) -> str:
    try:
        return time.strftime("%H:%M:%S", time.localtime(at))
    except (OverflowError, OSError, ValueError):
        return ""


def grid_columns(width: int, tiles: int, min_width: int) -> int:
    """How many columns ``tiles`` tiles take in ``width`` pixels (each at least ``min_width``)."""
    return max(1, min(max(1, tiles), width // max(1, min_width)))


class OverviewWindow(QMainWindow):
    """The overview over ``overview``; see the module docstring.

    ``open_full(name)`` opens (or raises) the full window of a beamline; ``notifier_factory``
    builds the Notifier for alarms (default: tray balloon or toast, as in a full window).
    """

    closed = pyqtSignal()  #: after the settings are saved; the app may stop the sessions

    def __init__(self, overview: Overview, *,
                 notifier_factory: Callable[[QWidget], Notifier] | None = None,
                 open_full: Callable[[str], Any] | None = None,
                 app_settings: AppSettings | None = None, title: str = "qs-gui",
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        super().__init__()
        self.setObjectName("overviewWindow")
        self.overview = overview
        self.open_full = open_full
        self.app_settings = app_settings
        self.app_title = f"{title} overview"
        self.clock = clock
        self.tiles: dict[str, TileWidget] = {}
        self.login_dialogs: dict[str, LoginDialog] = {}  #: beamline -> its open login dialog
        self.scale = 1.0
        self._columns = 0
        self._restore_settings()
        self._build()
        self.notifier = (notifier_factory or (lambda w: Notifier(w, kept_in="the Event log")))(
            self)
        self._links = [(overview.tile_changed, self._on_tile_changed),
                       (overview.notify, self._on_alarm),
                       (overview.layout_changed, self._on_layout_changed),
                       (overview.log.added, self._add_log_row)]
        for event, handler in self._links:
            event.connect(handler)
        for entry in list(overview.log)[-LOG_ROWS:]:
            self._add_log_row(entry)
        self._relayout()
        self._timer = QTimer(self)  # the one timer: every tile's "changed … ago"
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._update_title()
        if not self._restore_geometry():
            self.resize(QSize(1280, 800))

    # -- construction -----------------------------------------------------------------------
    def _build(self) -> None:
        self.scroll = QScrollArea(self)
        self.scroll.setObjectName("overviewScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.grid_host = QWidget(self.scroll)
        self.grid_host.setObjectName("overviewGrid")
        self.grid = QGridLayout(self.grid_host)
        self.grid.setSpacing(8)
        self.grid.setContentsMargins(8, 8, 8, 8)
        self.grid.setAlignment(Qt.AlignTop)
        self.scroll.setWidget(self.grid_host)
        self.scroll.viewport().installEventFilter(self)  # reflow when the viewport resizes
        self.empty_label = QLabel("No beamline to show. Add profiles in Connection ▸ Profiles, "
                                  "or unhide one in View ▸ Show hidden beamlines.", self)
        self.empty_label.setAlignment(Qt.AlignCenter)
        self.empty_label.setWordWrap(True)
        central = QWidget(self)
        box = QVBoxLayout(central)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.empty_label)
        box.addWidget(self.scroll, 1)
        self.setCentralWidget(central)

        self.log_table = QTableWidget(0, 3, self)
        self.log_table.setObjectName("overviewLog")
        self.log_table.setHorizontalHeaderLabels(["Time", "Beamline", "Event"])
        self.log_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.log_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.log_table.verticalHeader().setVisible(False)
        self.log_table.setWordWrap(False)
        header = self.log_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.Stretch)
        self.log_dock = QDockWidget("Event log", self)
        self.log_dock.setObjectName("overviewLogDock")
        self.log_dock.setWidget(self.log_table)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.log_dock)
        self.log_dock.hide()  # the tiles first; the toolbar's Event log shows it

        self.ack_all_action = QAction("Acknowledge &all", self)
        self.ack_all_action.setObjectName("action_acknowledge_all")
        self.ack_all_action.setShortcut(QKeySequence("Ctrl+Shift+A"))
        self.ack_all_action.setToolTip("Every alarm has been seen: clear them all")
        self.ack_all_action.triggered.connect(self.overview.acknowledge_all)
        log_action = self.log_dock.toggleViewAction()
        log_action.setText("Event &log")
        log_action.setObjectName("action_event_log")
        log_action.setShortcut(QKeySequence("Ctrl+L"))
        self.full_action = QAction("&Full screen", self)
        self.full_action.setObjectName("action_fullscreen")
        self.full_action.setShortcut(QKeySequence("F11"))
        self.full_action.triggered.connect(
            lambda: self.showNormal() if self.isFullScreen() else self.showFullScreen())
        self.larger_action = QAction("&Larger tiles", self)
        self.larger_action.setObjectName("action_larger_tiles")
        self.larger_action.setShortcut(QKeySequence("Ctrl++"))
        self.larger_action.triggered.connect(lambda: self.step_scale(+1))
        self.smaller_action = QAction("&Smaller tiles", self)
        self.smaller_action.setObjectName("action_smaller_tiles")
        self.smaller_action.setShortcut(QKeySequence("Ctrl+-"))
        self.smaller_action.triggered.connect(lambda: self.step_scale(-1))
        quit_action = QAction("&Close", self)
        quit_action.setObjectName("action_close")
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)

        bar = QToolBar("Overview", self)
        bar.setObjectName("overviewToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        for action in (self.ack_all_action, log_action, self.smaller_action,
                       self.larger_action, self.full_action):
            bar.addAction(action)
        self.addToolBar(Qt.TopToolBarArea, bar)
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(quit_action)
        alarms = self.menuBar().addMenu("&Alarms")
        alarms.addAction(self.ack_all_action)
        self.view_menu = self.menuBar().addMenu("&View")
        for action in (log_action, self.larger_action, self.smaller_action, self.full_action):
            self.view_menu.addAction(action)
        self.hidden_menu = self.view_menu.addMenu("Show &hidden beamlines")
        self.hidden_menu.setObjectName("menu_hidden")
        self.hidden_menu.aboutToShow.connect(self._fill_hidden_menu)
        self.view_menu.addSeparator()
        install_theme_menu(self, self.view_menu, self.app_settings)

    def _fill_hidden_menu(self) -> None:
        self.hidden_menu.clear()
        hidden = [e.name for e in self.overview.entries if e.hidden]
        for name in hidden:
            self.hidden_menu.addAction(name, lambda n=name: self.overview.set_hidden(n, False))
        if not hidden:
            self.hidden_menu.addAction("(none hidden)").setEnabled(False)

    # -- tiles ------------------------------------------------------------------------------
    def tile(self, name: str) -> TileWidget:
        """The tile widget of ``name`` (KeyError: no such tile)."""
        return self.tiles[name]

    def _make_tile(self, name: str) -> TileWidget:
        model = self.overview.tile(name)
        pinned = any(e.name == name and e.pinned for e in self.overview.entries)
        tile = TileWidget(model.state, self.grid_host, pinned=pinned, clock=self.clock)
        tile.open_requested.connect(self._open)
        tile.acknowledge_requested.connect(self.overview.acknowledge)
        tile.read_requested.connect(lambda n: self.overview.tile(n).session.load_history_now())
        tile.pin_requested.connect(self.overview.set_pinned)
        tile.hide_requested.connect(lambda n: self.overview.set_hidden(n, True))
        login = self._login(name)
        if login is not None:
            tile.login_user = login.user
            tile.login_requested.connect(self.open_login)
            tile.set_needs_login(self.needs_login(name))
        return tile

    # -- logins (HTTP profiles with a password) ---------------------------------------------
    def _login(self, name: str) -> LoginNeeded | None:
        profile = self.overview.tile(name).profile
        return login_needed(profile.to_dict()) if profile is not None else None

    def needs_login(self, name: str) -> bool:
        """The tile's profile logs in with a password, and its session is not logged in (not
        yet, or the gateway ended the session)."""
        if name not in self.overview.tiles or self._login(name) is None:
            return False
        session = self.overview.tile(name).session
        return session.auth_method != "token" or session.state.login_needed is not None

    def open_login(self, name: str) -> LoginDialog | None:
        """The login dialog for the beamline ``name`` (window-modal, no nested loop; raised
        when already open); a successful login connects its tile."""
        login = self._login(name) if name in self.overview.tiles else None
        if login is None:
            return None
        dialog = self.login_dialogs.get(name)
        if dialog is not None and dialog.isVisible():
            dialog.raise_()
            dialog.activateWindow()
            return dialog
        session = self.overview.tile(name).session
        reason = session.state.login_needed or ""
        dialog = LoginDialog(self, server=html.escape(f"{name} ({session.address})"),
                             login=session.login,
                             user=login.user, providers=list(login.providers),
                             reason=f"The gateway says: {reason}." if reason else "")
        dialog.setObjectName(f"loginDialog_{name}")
        dialog.logged_in.connect(lambda user: self._logged_in(name, user))
        dialog.finished.connect(lambda _result: self._login_closed(name, dialog))
        self.login_dialogs[name] = dialog
        dialog.open()
        return dialog

    def _logged_in(self, name: str, user: str) -> None:
        self.overview.log.add(self.clock(), name, f"Logged in as {user}.", "info")
        widget = self.tiles.get(name)
        if widget is not None:
            widget.set_needs_login(self.needs_login(name))

    def _login_closed(self, name: str, dialog: LoginDialog) -> None:
        if self.login_dialogs.get(name) is dialog:
            del self.login_dialogs[name]
        dialog.deleteLater()

    def _open(self, name: str) -> None:
        if self.open_full is not None:
            self.open_full(name)

    def _relayout(self) -> None:
        """Place the visible tiles (pinned first, hidden left out) in the grid."""
        visible = [n for n in self.overview.visible() if n in self.overview.tiles]
        for name in [n for n in self.tiles if n not in visible]:
            widget = self.tiles.pop(name)
            self.grid.removeWidget(widget)
            widget.deleteLater()
        for name in visible:
            if name not in self.tiles:
                self.tiles[name] = self._make_tile(name)
        pinned = {e.name for e in self.overview.entries if e.pinned}
        for name, widget in self.tiles.items():
            if widget.pinned != (name in pinned):
                widget.set_pinned(name in pinned)
        self._order = visible
        self._columns = 0  # place again
        self._place()
        self.empty_label.setVisible(not visible)
        self.scroll.setVisible(bool(visible))
        self._save_layout()

    def _place(self) -> None:
        """Columns from the viewport's width; tile heights fill the view when they fit."""
        order = getattr(self, "_order", [])
        width = self.scroll.viewport().width() - 16
        min_w = round(MIN_TILE_SIZE.width() * self.scale)
        min_h = round(MIN_TILE_SIZE.height() * self.scale)
        columns = grid_columns(width, len(order), min_w)
        spacing = self.grid.spacing()
        col_w = max(1, (width - spacing * (columns - 1)) // columns)
        rows = max(1, -(-len(order) // columns))
        room_h = (self.scroll.viewport().height() - 16 - spacing * (rows - 1)) // rows
        height = max(min_h, min(round(col_w * ASPECT), room_h))
        if columns != self._columns:
            self._columns = columns
            for widget in self.tiles.values():
                self.grid.removeWidget(widget)
            for i, name in enumerate(order):
                self.grid.addWidget(self.tiles[name], i // columns, i % columns)
            for c in range(self.grid.columnCount()):
                self.grid.setColumnStretch(c, 1 if c < columns else 0)
        for widget in self.tiles.values():
            if widget.height() != height or widget.minimumHeight() != height:
                widget.setFixedHeight(height)
            widget.setMinimumWidth(min(col_w, min_w))

    @property
    def columns(self) -> int:
        return self._columns

    def step_scale(self, step: int) -> None:
        """Larger (+1) or smaller (-1) tiles."""
        i = min(range(len(SCALES)), key=lambda k: abs(SCALES[k] - self.scale))
        self.scale = SCALES[max(0, min(len(SCALES) - 1, i + step))]
        self.larger_action.setEnabled(self.scale < SCALES[-1])
        self.smaller_action.setEnabled(self.scale > SCALES[0])
        self._columns = 0
        self._place()
        if self.app_settings is not None:
            self.app_settings.set(KEYS.TILE_SCALE, self.scale)

    def eventFilter(self, obj: Any, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QEvent.Resize and obj is self.scroll.viewport():
            self._place()
        return super().eventFilter(obj, event)

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self._columns = 0
        self._place()

    # -- overview events --------------------------------------------------------------------
    def _on_tile_changed(self, name: str, state: TileState) -> None:
        widget = self.tiles.get(name)
        if widget is not None:
            if widget.login_user is not None:
                widget.needs_login = self.needs_login(name)  # shown by set_state just below
            widget.set_state(state)
        self._update_title()

    def _on_layout_changed(self) -> None:
        self._relayout()

    def _on_alarm(self, alarm: TileAlarm) -> None:
        """Each raised alarm once to the notifier (tray balloon or toast)."""
        self.notifier.notify(alarm)
        self._update_title()

    def _update_title(self) -> None:
        n = len(self.overview.alarms)
        count = f" — {n} alarm{'' if n == 1 else 's'} unacknowledged" if n else ""
        tiles = len(self.overview.tiles)
        title = f"{self.app_title} ({tiles} beamline{'' if tiles == 1 else 's'}){count}"
        if self.windowTitle() != title:
            self.setWindowTitle(title)
        self.ack_all_action.setEnabled(bool(n))

    def _tick(self) -> None:
        now = self.clock()
        for widget in self.tiles.values():
            widget.refresh_age(now)

    def _add_log_row(self, entry: LogEntry) -> None:
        table = self.log_table
        table.insertRow(0)
        role = _LEVEL_ROLES.get(entry.level)
        for col, text in enumerate((_clock_text(entry.at), entry.beamline, entry.text)):
            item = QTableWidgetItem(text)
            if role is not None:
                item.setForeground(role_text(role))
            if col == 2 and role is not None:
                item.setText(("✖ " if role == "alarm" else "⚠ ") + text)
            table.setItem(0, col, item)
        while table.rowCount() > LOG_ROWS:
            table.removeRow(table.rowCount() - 1)

    def log_rows(self) -> list[tuple[str, str, str]]:
        """The event log as shown, newest first (tests, diagnostics)."""
        t = self.log_table
        return [tuple(t.item(r, c).text() for c in range(3)) for r in range(t.rowCount())]

    # -- settings ---------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.app_settings
        if s is None:
            return
        try:
            scale = float(s.get(KEYS.TILE_SCALE, 1.0))
        except (TypeError, ValueError):
            scale = 1.0
        self.scale = scale if SCALES[0] <= scale <= SCALES[-1] else 1.0
        raw = s.get(KEYS.LAYOUT)
        if raw:
            try:
                self.overview.restore_layout(json.loads(raw) if isinstance(raw, str) else raw)
            except ValueError:
                pass

    def _save_layout(self) -> None:
        if self.app_settings is None:
            return
        self.app_settings.set(KEYS.LAYOUT, json.dumps(self.overview.layout()))
        self.app_settings.set(KEYS.PROFILES, json.dumps(list(self.overview.tiles)))

    def _restore_geometry(self) -> bool:
        if self.app_settings is None:
            return False
        geometry = self.app_settings.get(KEYS.GEOMETRY)
        if geometry is None or not self.restoreGeometry(geometry):
            return False
        screen = QGuiApplication.screenAt(self.geometry().center())
        return screen is not None and screen.availableGeometry().intersects(self.frameGeometry())

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        self._timer.stop()
        for dialog in list(self.login_dialogs.values()):
            dialog.reject()
        for session_event, handler in self._links:
            session_event.disconnect(handler)
        self._links = []
        self.notifier.close()
        if self.app_settings is not None:
            self._save_layout()
            self.app_settings.set(KEYS.TILE_SCALE, self.scale)
            if QGuiApplication.platformName() not in HEADLESS_PLATFORMS:
                self.app_settings.set(KEYS.GEOMETRY, self.saveGeometry())
        super().closeEvent(event)
        self.closed.emit()
