"""Monitor mode (``--monitor``): a read-only wall display of one RE Manager.

Why a window of its own: the editing window greyed out is a poor display — its controls are
noise on a wall, its type is too small to read across the room, and a live lock-key field
invites typing. Like a Phoebus/CSS display, this window only shows, in type that scales with
the window (the base font is a fraction of its height):

* the state banner (the same :class:`~qs_gui.ui.state_banner.StateBanner` as the main window,
  without Acknowledge: nobody acknowledges on a wall, so a failure stays red and named until
  the server runs another item, and the requeued item is marked in the queue meanwhile);
* the running item — name, short arguments, and its progress ("Point 3 of 10 · ETA 4 s")
  from the bluesky documents when a document stream is attached (:class:`LiveRuns` buffers,
  no plot is built), else the time since it started;
* the queue (next items) and the recent history, newest first, the outcome coloured;
* the connection, the lock, and the last warning or error in plain words.

It holds no action that could send a request, and the client behind it is read-only anyway
(``REManagerAPI(read_only=True)``, see ``app.py``). Its geometry is saved under its own key,
apart from the main window's layout (``monitor/geometry``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from PyQt5.QtCore import (
    QAbstractTableModel,
    QSettings,
    QSize,
    Qt,
    QTimer,
    pyqtSignal,
)
from PyQt5.QtGui import QCloseEvent, QFont, QFontMetrics, QGuiApplication, QKeySequence
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QAction,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..core.formatting import format_duration
from ..core.gates import Connection
from ..core.itemdiff import format_time, param_summary
from ..core.operator_state import OperatorState, StateKind, derive
from ..core.profiles import AppSettings, Profile, contrast_text
from ..core.progress import Progress
from ..core.session import Session
from .elided_label import ElidedLabel
from .login_dialog import LoginDialog, LoginPrompt
from .queue_model import QueueModel
from .recent_history_model import RecentHistoryModel
from .state_banner import HEADLINE_FACTOR, StateBanner
from .status_panel import ConnectionIndicator
from .theme import install_theme_menu, style_text, theme_manager

__all__ = ["GEOMETRY_KEY", "MonitorWindow", "base_pixel_size"]

#: where the monitor's own geometry is kept (the main window uses window/geometry)
GEOMETRY_KEY = "monitor/geometry"
PREFERRED_SIZE = QSize(1600, 1000)
HEADLESS_PLATFORMS = ("offscreen", "minimal")
FRAME_ALLOWANCE = QSize(8, 48)
#: the base type is 1/LINES_PER_HEIGHT of the window height: 22 px at 800, 60 px at 2160
LINES_PER_HEIGHT = 36
MIN_PX, MAX_PX = 14, 160
SIZED_ROWS = 60  #: rows measured for column widths (more than a wall shows)
BANNER_FACTOR = 2.6  #: the banner's headline, in base sizes
MESSAGE_SECONDS = 300  #: a warning or error stays on the wall this long (or until replaced)

def base_pixel_size(height: int) -> int:
    """The base font size in pixels for a window ``height`` pixels high (readable across the
    room: about 36 lines of it fill the height)."""
    return max(MIN_PX, min(MAX_PX, round(height / LINES_PER_HEIGHT)))


def _table(parent: QWidget, model: QAbstractTableModel, name: str) -> QTableView:
    """A display-only table: no editing, no selection, no focus, no drag."""
    view = QTableView(parent)
    view.setObjectName(name)
    view.setModel(model)
    view.setEditTriggers(QAbstractItemView.NoEditTriggers)
    view.setSelectionMode(QAbstractItemView.NoSelection)
    view.setFocusPolicy(Qt.NoFocus)
    view.setDragEnabled(False)
    view.setAcceptDrops(False)
    view.setDragDropMode(QAbstractItemView.NoDragDrop)
    view.setCornerButtonEnabled(False)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.ElideRight)
    view.setShowGrid(False)
    view.setAlternatingRowColors(True)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setSectionsClickable(False)
    header.setDefaultAlignment(Qt.AlignLeft | Qt.AlignVCenter)
    view.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
    view.verticalHeader().setSectionsClickable(False)
    return view


class MonitorWindow(QMainWindow):
    """The wall display over one (read-only) Session; see the module docstring."""

    closed = pyqtSignal()  #: after the geometry is saved; the application may quit

    def __init__(self, session: Session, *, settings: QSettings | None = None,
                 title: str = "qs-gui", app_settings: AppSettings | None = None,
                 profile: Profile | None = None) -> None:  # fmt: skip
        super().__init__()
        self.session = session
        self.settings = settings
        self.app_settings = app_settings
        self.profile = profile
        self._login = LoginPrompt(self, session.address, session.login)
        self.app_title = f"{title} monitor"
        self.setObjectName("monitorWindow")
        self.demo_note = ""
        self._px = 0
        self._runs: Any = None  # LiveRuns, created with the first document (imports numpy)
        self._message_time = 0.0
        self.state: OperatorState = session.operator_state
        self._build()
        self._install_shortcuts()
        # Re-setting the application style sheet on a theme switch drops the fonts set on
        # widgets: scale again afterwards.
        theme_manager().connect_recolour(self, self._rescale)
        #: (failure uid, running uid when raised, superseded): see _monitor_state
        self._failure_seen_with: tuple[str, str, bool] | None = None
        self._links = [(session.operator_state_changed, self.set_state),
                       (session.connection_changed, self._on_connection),
                       (session.status_changed, self._on_status),
                       (session.queue_changed, self._on_queue),
                       (session.history_changed, self.history_model.set_history),
                       (session.alarm_changed, self._mark_failed),
                       (session.history_policy_changed, self._on_history_policy),
                       (session.message, self.show_message),
                       (session.login_required, self._on_login_required)]
        for event, handler in self._links:
            event.connect(handler)
        self._timer = QTimer(self)  # elapsed times, ETA, message expiry: once a second
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._on_connection(session.connection, session.connection_detail)
        self._on_queue(session.queue, session.running_item)
        self.history_model.set_history(session.history)
        self._on_history_policy()
        self.banner.tick.connect(session.attention.refresh)  # the opening time advances
        self.set_state(session.operator_state)
        restored = self._restore_geometry()
        if not restored:
            self._fit_to_screen()
        self._apply_scale()

    # -- construction -----------------------------------------------------------------------
    def _build(self) -> None:
        body = QWidget(self)
        body.setObjectName("monitorBody")
        layout = QVBoxLayout(body)
        self._layout = layout
        if self.profile is not None:
            band = QLabel(f"{self.profile.name}", body)
            band.setObjectName("profileBand")
            colour = self.profile.colour
            band.setStyleSheet(f"background: {colour}; color: {contrast_text(colour)};"
                               "padding: 2px 8px; font-weight: bold;")
            layout.addWidget(band)
        # A monitor does not acknowledge; a scale >= 1.5 puts the detail under the headline.
        self.banner = StateBanner(body, scale=2.0, acknowledge=False)
        self.banner.headline.setMinimumWidth(1)  # never widens the window: see _fit_banner
        self._banner_scale = 2.0
        layout.addWidget(self.banner)

        running = QFrame(body)
        running.setObjectName("runningPanel")
        running.setFrameShape(QFrame.StyledPanel)
        rl = QVBoxLayout(running)
        self.running_title = self._caption("Now running", running)
        rl.addWidget(self.running_title)
        top = QHBoxLayout()
        self.running_name = QLabel("—", running)
        self.running_name.setObjectName("runningName")
        self.running_args = ElidedLabel(running)
        self.running_args.setObjectName("runningArgs")
        top.addWidget(self.running_name)
        top.addWidget(self.running_args, 1)
        rl.addLayout(top)
        prow = QHBoxLayout()
        self.progress_bar = QProgressBar(running)
        self.progress_bar.setObjectName("runningProgressBar")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_text = ElidedLabel(running)
        self.progress_text.setObjectName("runningProgressText")
        prow.addWidget(self.progress_bar, 3)
        prow.addWidget(self.progress_text, 2)
        rl.addLayout(prow)
        layout.addWidget(running)

        lists = QHBoxLayout()
        qcol, hcol = QVBoxLayout(), QVBoxLayout()
        self.queue_title = self._caption("Next in the queue", body)
        self.queue_model = QueueModel(self)
        self.queue_table = _table(body, self.queue_model, "monitorQueue")
        for col in (QueueModel.TYPE, QueueModel.GROUP):  # the marker shows a failed item
            self.queue_table.setColumnHidden(col, True)
        self.queue_table.horizontalHeader().setSectionResizeMode(QueueModel.PARAMS,
                                                                 QHeaderView.Stretch)
        qcol.addWidget(self.queue_title)
        qcol.addWidget(self.queue_table, 1)
        self.history_title = self._caption("Recent history (newest first)", body)
        self.history_model = RecentHistoryModel(self)
        self.history_table = _table(body, self.history_model, "monitorHistory")
        self.history_table.verticalHeader().setVisible(False)
        hh = self.history_table.horizontalHeader()
        hh.setSectionResizeMode(RecentHistoryModel.PARAMS, QHeaderView.Stretch)
        hh.setSectionResizeMode(RecentHistoryModel.MESSAGE, QHeaderView.Stretch)
        self._columns_timer = QTimer(self)  # column widths follow the rows, once per change
        self._columns_timer.setSingleShot(True)
        self._columns_timer.setInterval(0)
        self._columns_timer.timeout.connect(self._size_columns)
        for model in (self.queue_model, self.history_model):
            for signal in (model.rowsInserted, model.modelReset, model.dataChanged):
                signal.connect(self._columns_timer.start)
        hcol.addWidget(self.history_title)
        hcol.addWidget(self.history_table, 1)
        lists.addLayout(qcol, 2)
        lists.addLayout(hcol, 3)
        layout.addLayout(lists, 1)

        foot = QHBoxLayout()
        self.indicator = ConnectionIndicator(body)
        self.address_label = QLabel(self.session.address, body)
        self.address_label.setObjectName("monitorAddress")
        self.lock_label = ElidedLabel(body)
        self.lock_label.setObjectName("monitorLock")
        self.message_label = ElidedLabel(body)
        self.message_label.setObjectName("monitorMessage")
        self.clock_label = QLabel("", body)
        self.clock_label.setObjectName("monitorClock")
        foot.addWidget(self.indicator)
        foot.addWidget(self.address_label)
        foot.addWidget(self.lock_label)
        foot.addWidget(self.message_label, 1)
        foot.addWidget(self.clock_label)
        layout.addLayout(foot)
        self.setCentralWidget(body)

    def _on_history_policy(self) -> None:
        """A history too large to read automatically is not read here either (a wall display
        never asks for it): the caption says so, with the count, so an empty table is not
        taken for an empty history."""
        title = "Recent history (newest first)"
        if self.session.history_withheld:
            items = self.session.history_staleness.items_on_server
            count = f"{items:,} items, " if isinstance(items, int) else ""
            title += f" — not read ({count}too large to read automatically)"
        self.history_title.setText(title)
        self.history_title.setToolTip(self.session.history_withheld or "")

    @staticmethod
    def _caption(text: str, parent: QWidget) -> QLabel:
        label = QLabel(text, parent)
        label.setProperty("monitorRole", "muted")
        return label

    def _install_shortcuts(self) -> None:
        """No buttons: Ctrl+Q quits, F11 toggles full screen, a right-click offers both and the
        theme (a dark one for dim control rooms)."""
        quit_action = QAction("Quit", self)
        quit_action.setObjectName("action_quit")
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        full = QAction("Full screen", self)
        full.setObjectName("action_fullscreen")
        full.setShortcut(QKeySequence("F11"))
        full.triggered.connect(
            lambda: self.showNormal() if self.isFullScreen() else self.showFullScreen())
        self.addActions([quit_action, full])
        # Right-click: the view's own choices (no server action exists in this window).
        self.view_menu = QMenu(self)
        self.view_menu.setObjectName("monitorMenu")
        self.view_menu.addAction(full)
        install_theme_menu(self, self.view_menu, self.app_settings)
        self.view_menu.addSeparator()
        self.view_menu.addAction(quit_action)
        self.setContextMenuPolicy(Qt.CustomContextMenu)
        self.customContextMenuRequested.connect(
            lambda pos: self.view_menu.popup(self.mapToGlobal(pos)))

    # -- scale ------------------------------------------------------------------------------
    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._apply_scale()
        self._size_columns()
        self._fit_banner()

    def _rescale(self) -> None:
        self._px = 0
        self._apply_scale()
        self._size_columns()

    def _apply_scale(self) -> None:
        """Fonts, row heights and bar heights from the window height (only when it changes)."""
        px = base_pixel_size(self.height())
        if px == self._px:
            return
        self._px = px
        base = QFont(self.font())
        base.setPixelSize(px)
        self.centralWidget().setFont(base)

        def sized(widget: QWidget, factor: float, bold: bool = False) -> None:
            font = QFont(base)
            font.setPixelSize(max(MIN_PX, round(px * factor)))
            font.setBold(bold)
            widget.setFont(font)

        sized(self.running_name, 1.6, bold=True)
        sized(self.running_args, 1.1)
        sized(self.progress_text, 1.1)
        self.progress_bar.setFixedHeight(max(10, round(px * 0.9)))
        for label in (self.address_label, self.lock_label, self.clock_label, self.indicator):
            sized(label, 0.8)
        self._style_coloured()
        # The application style sheet styles header sections, and then only a style sheet
        # sets their font.
        header_css = f"QHeaderView {{ font-size: {max(MIN_PX, round(px * 0.7))}px; }}"
        for view in (self.queue_table, self.history_table):
            view.setFont(base)
            view.horizontalHeader().setStyleSheet(header_css)
            view.verticalHeader().setStyleSheet(header_css)
            view.verticalHeader().setDefaultSectionSize(round(px * 1.6))
        self._layout.setSpacing(max(4, px // 3))
        self._layout.setContentsMargins(*(max(4, px // 2),) * 4)
        # The banner's headline: BANNER_FACTOR times the base size, whatever its point size.
        banner_pt = self.banner.font().pointSizeF()
        banner_pt = banner_pt if banner_pt > 0 else 10.0
        pt_px = max(1, self.logicalDpiY()) / 72
        self._banner_scale = BANNER_FACTOR * px / (banner_pt * HEADLINE_FACTOR * pt_px)
        self._fit_banner()

    def _fit_banner(self) -> None:
        """The headline at its wall size, or smaller when it would not fit on one line (a
        long state such as "Paused — resume, stop, abort or halt" plus LOCKED at 1280 px)."""
        banner, scale = self.banner, self._banner_scale
        banner.set_scale(scale)
        margins = banner.contentsMargins()
        room = (self.centralWidget().width() - self._layout.contentsMargins().left() * 2
                - margins.left() - margins.right())
        if banner.lock_badge.isVisibleTo(banner):
            room -= banner.lock_badge.sizeHint().width() + banner.layout().spacing()
        text = banner.headline.text()
        needed = QFontMetrics(banner.headline.font()).horizontalAdvance(text) if text else 0
        if needed > room > 0:
            banner.set_scale(scale * room / needed * 0.96)

    def _style_coloured(self) -> None:
        """Captions and the message line take their colour from the theme (``style_text``, a
        style sheet); a widget's style sheet then also decides its font, so the size goes
        there too."""
        px = self._px or MIN_PX
        for label, factor, bold in ((self.running_title, 0.8, True),
                                    (self.queue_title, 0.8, True),
                                    (self.history_title, 0.8, True),
                                    (self.message_label, 0.8, False)):
            size = max(MIN_PX, round(px * factor))
            style_text(label, label.property("monitorRole"), bold=bold,
                       extra=f"font-size: {size}px;")

    def _size_columns(self) -> None:
        """Name-like columns as wide as their shown text (at most a share of the table), so the
        stretching columns (parameters, message) get the rest."""
        fits = [(self.queue_table, ((QueueModel.MARKER, 0.1), (QueueModel.NAME, 0.3),
                                    (QueueModel.USER, 0.2))),
                (self.history_table, ((RecentHistoryModel.OUTCOME, 0.3),
                                      (RecentHistoryModel.NAME, 0.25),
                                      (RecentHistoryModel.FINISHED, 0.2)))]
        for view, columns in fits:
            model, room = view.model(), view.viewport().width()
            bold = QFont(view.font())
            bold.setBold(True)
            metrics, pad = QFontMetrics(bold), view.font().pixelSize()
            rows = range(min(model.rowCount(), SIZED_ROWS))
            for col, share in columns:
                header = str(model.headerData(col, Qt.Horizontal) or "")
                texts = [header, *(str(model.index(r, col).data() or "") for r in rows)]
                width = max(metrics.horizontalAdvance(t) for t in texts) + pad
                view.setColumnWidth(col, min(width, int(room * share)))

    # -- session events ---------------------------------------------------------------------
    def set_state(self, state: OperatorState) -> None:
        """Show the session's operator state, as a monitor shows a failure (see
        :meth:`_monitor_state`), in the banner and the window title."""
        state = self.state = self._monitor_state(state)
        self.banner.set_state(state)
        self._fit_banner()
        prefix = f"[{self.profile.name}] " if self.profile is not None else ""
        self.setWindowTitle(prefix + state.window_title(self.app_title, self.session.address))
        self.lock_label.setText(state.lock_text if state.locked else "")
        self._mark_failed()

    def _mark_failed(self, *_args: Any) -> None:
        """The requeued item that failed is marked in the queue while the wall shows the failure."""
        failure = self.session.alarm
        seen = self._failure_seen_with
        shown = failure is not None and not (seen and seen[0] == failure.uid and seen[2])
        self.queue_model.set_failed_uid(failure.requeued_uid if shown and failure.queue_item
                                        else None)  # fmt: skip

    def _monitor_state(self, state: OperatorState) -> OperatorState:
        """Nobody acknowledges on a wall display, so a failure is shown until the server runs
        another item after it (the history keeps it, in red); its headline names it ("Queue
        stopped: scan failed") instead of asking for an acknowledgement that never comes."""
        failure = self.session.alarm
        if state.kind is not StateKind.FAILED or failure is None:
            self._failure_seen_with = None
            return state
        status = self.session.status or {}
        running = status.get("running_item_uid") or ""
        seen = self._failure_seen_with
        if seen is None or seen[0] != failure.uid:  # new: note what ran when it was raised
            seen = self._failure_seen_with = (failure.uid, running, False)
        if running and running != seen[1] and not seen[2]:  # the server has moved on
            seen = self._failure_seen_with = (failure.uid, running, True)
        if seen[2]:
            return derive(status, connection=self.session.connection,
                          running_item=self.session.running_item or None)
        text = failure.text.strip().splitlines()
        return replace(state, headline=failure.title, detail=text[0] if text else "")

    def _on_connection(self, state: Connection, detail: str = "") -> None:
        self.indicator.set_state(state, detail)

    def _on_status(self, status: Mapping) -> None:
        self.clock_label.setText(f"Updated {time.strftime('%H:%M:%S')}")
        n = status.get("items_in_queue")
        if isinstance(n, int):
            self.queue_title.setText(
                "Next in the queue — empty" if n == 0 else
                f"Next in the queue — {n} item{'' if n == 1 else 's'}")  # fmt: skip
        self._show_running()
        if self.state.kind is StateKind.FAILED or self._failure_seen_with is not None:
            self.set_state(self.session.operator_state)  # a monitor's failure ends by itself

    def _on_queue(self, items: list, running_item: Mapping | None) -> None:
        self.queue_model.set_queue(items, None)  # the running item has its own panel
        self._show_running()

    def _show_running(self) -> None:
        item = self.session.running_item or None
        if not item:
            self.running_name.setText("Nothing running")
            self.running_name.setEnabled(False)
            self.running_args.setText("")
            self.progress_bar.setVisible(False)
            self.progress_text.setText("")
            return
        self.running_name.setEnabled(True)
        props = item.get("properties") if isinstance(item.get("properties"), Mapping) else {}
        name = str(item.get("name", "")) or "a plan"
        if props.get("immediate_execution"):
            name += " (Execute now)"
        self.running_name.setText(name)
        args = param_summary(item, 160)
        self.running_args.setText(args)
        self._show_progress(item, props)

    def _show_progress(self, item: Mapping, props: Mapping) -> None:
        progress = self.progress
        bar = self.progress_bar
        paused = self.state.kind is StateKind.PAUSED
        if progress is not None and not progress.done and progress.plan_name in (
                item.get("name"), ""):  # fmt: skip
            fraction = progress.fraction
            if fraction is None:
                bar.setRange(0, 0)
            else:
                bar.setRange(0, 1000)
                bar.setValue(round(fraction * 1000))
            bar.setVisible(True)
            self.progress_text.setText(progress_words(progress, paused=paused))
            return
        bar.setVisible(False)
        started = props.get("time_start")
        if isinstance(started, (int, float)):
            elapsed = format_duration(max(0.0, time.time() - started), decimals=0)
            now = "paused" if paused else f"running for {elapsed}"
            self.progress_text.setText(f"Started {format_time(started)} · {now}")
        else:
            self.progress_text.setText("")

    def show_message(self, level: str, text: str) -> None:
        """A warning or error in plain words on the wall (info messages are not shown)."""
        if level not in ("warning", "error"):
            return
        mark = "✖" if level == "error" else "⚠"
        self.message_label.setText(f"{mark} {time.strftime('%H:%M')} {text}")
        self.message_label.setProperty("monitorRole",
                                       "alarm" if level == "error" else "attention")
        self._style_coloured()
        self._message_time = time.monotonic()

    def _tick(self) -> None:
        if self.session.running_item:
            self._show_running()
        if self._message_time and time.monotonic() - self._message_time > MESSAGE_SECONDS:
            self._message_time = 0.0
            self.message_label.setText("")

    # -- documents (progress) ---------------------------------------------------------------
    def feed_documents(self, documents: list[tuple[str, Any]]) -> None:
        """A batch from the document stream (``DocumentPump``): buffered for the progress."""
        if self._runs is None:
            from ..core.liverun import LiveRuns

            self._runs = LiveRuns(1)
        self._runs.feed_many(documents)
        self._show_running()

    @property
    def progress(self) -> Progress | None:
        return self._runs.progress() if self._runs is not None else None

    # -- login (HTTP) -------------------------------------------------------------------------
    def configure_login(self, user: str, providers: list[str]) -> None:
        self._login.configure(user, providers)

    def open_login(self, reason: str = "") -> LoginDialog | None:
        return self._login.open(reason)

    @property
    def login_dialog(self) -> LoginDialog | None:
        return self._login.dialog

    def _on_login_required(self, reason: str) -> None:
        if self.open_login(f"The session has ended: {reason}. Log in again.") is None:
            self.show_message("error", f"The HTTP server refused the credentials: {reason}.")

    # -- geometry ---------------------------------------------------------------------------
    def _restore_geometry(self) -> bool:
        if self.app_settings is not None:
            geometry = self.app_settings.get(GEOMETRY_KEY)
        elif self.settings is not None:
            geometry = self.settings.value(GEOMETRY_KEY)
        else:
            return False
        if geometry is None or not self.restoreGeometry(geometry):
            return False
        screen = QGuiApplication.screenAt(self.geometry().center())
        return screen is not None and screen.availableGeometry().intersects(self.frameGeometry())

    def _fit_to_screen(self) -> None:
        screen = QGuiApplication.primaryScreen()
        if screen is None:
            return
        available = screen.availableGeometry()
        room = QSize(available.width() - 2 * FRAME_ALLOWANCE.width(),
                     available.height() - FRAME_ALLOWANCE.height())
        self.resize(PREFERRED_SIZE.boundedTo(room))
        frame = self.frameGeometry()
        frame.moveCenter(available.center())
        self.move(max(available.left(), frame.left()), max(available.top(), frame.top()))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        self._timer.stop()
        for session_event, handler in self._links:
            session_event.disconnect(handler)
        self._links = []
        if QGuiApplication.platformName() not in HEADLESS_PLATFORMS:
            if self.app_settings is not None:
                self.app_settings.set(GEOMETRY_KEY, self.saveGeometry())
            elif self.settings is not None:
                self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        super().closeEvent(event)
        self.closed.emit()


def progress_words(progress: Progress, *, paused: bool = False) -> str:
    """"Point 3 of 10 · ETA 4 s", "Point 3 · 12 s elapsed" (length unknown), "Point 3 of 10 ·
    paused"."""
    n, k = progress.num_points, progress.seq_num
    if paused:
        return f"Point {k} of {n} · paused" if n else f"Point {k} · paused"
    if n:
        eta = format_duration(progress.eta, decimals=0) if progress.eta is not None else ""
        return f"Point {k} of {n}" + (f" · ETA {eta}" if eta else "")
    return f"Point {k} · {format_duration(progress.elapsed, decimals=0)} elapsed"
