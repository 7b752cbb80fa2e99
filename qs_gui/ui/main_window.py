"""The main window: layout, wiring of session events into the views, and gate refresh.

Views are passive; the session (core) holds the server state; ``Commands`` turns actions into
requests. Gates are recomputed from one snapshot whenever anything they depend on changes, and
applied by the ActionRegistry — nothing else calls setEnabled on a server action.
"""

from __future__ import annotations

from PyQt5.QtCore import QSettings, QSize, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QCloseEvent, QGuiApplication, QPalette
from PyQt5.QtWidgets import (
    QAction,
    QDockWidget,
    QLabel,
    QMainWindow,
    QProgressBar,
    QSizePolicy,
    QSplitter,
    QTabBar,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ..core.attention import Failure
from ..core.gates import Action, GateInputs, Gates, compute_gates
from ..core.operator_state import OperatorState
from ..core.profiles import AppSettings, Profile
from ..core.session import Session
from ..core.tracking import Execution
from .actions import ActionRegistry
from .commands import Commands
from .console_dock import MAX_LINES_RANGE, ConsoleDock
from .dialogs import DialogPrompts
from .editor import ItemEditor
from .help_dialogs import install_help_menu
from .history_view import HistoryView
from .lock_panel import LockPanel
from .login_dialog import LoginDialog, LoginPrompt
from .message_log import MessageLog
from .notifications import attach_notifications
from .pane_keys import install_pane_keys
from .plot_dock import PlotDock
from .profiles_dialog import apply_profile_style, show_profiles
from .progress_widget import ProgressWidget
from .queue_view import QueueView
from .state_banner import StateBanner
from .status_panel import ConnectionIndicator, StatusPanel
from .theme import install_theme_menu, outcome_role, role_text, style_text

PREFERRED_SIZE = QSize(1600, 1000)
#: platforms with no real screen: the window's layout is not saved from them
HEADLESS_PLATFORMS = ("offscreen", "minimal")
#: room left for the window manager's frame and title bar when the screen is the limit
FRAME_ALLOWANCE = QSize(8, 48)

#: outcome -> symbol; the colour comes from theme.outcome_role (palette- and theme-aware)
OUTCOME_STYLE = {
    "completed": "✔", "failed": "✖", "stopped": "■", "aborted": "■", "halted": "■",
    "unknown": "?", "running": "▶", "submitted": "…",
}


class MainWindow(QMainWindow):
    """qs-gui main window over one Session."""

    closed = pyqtSignal()  #: after the layout is saved; the application may quit
    overview_requested = pyqtSignal()  #: View ▸ Overview: the app opens (or raises) it

    def __init__(self, session: Session, *, monitor_mode: bool = False,
                 settings: QSettings | None = None, title: str = "qs-gui",
                 app_settings: AppSettings | None = None, profile: Profile | None = None):
        super().__init__()
        self.session = session
        self.monitor_mode = monitor_mode
        self.settings = settings
        self.app_settings = app_settings
        self.profile = profile
        self.setObjectName("mainWindow")
        self._title = title + (" [monitor]" if monitor_mode else "")
        self.setWindowTitle(f"{self._title} — {session.address}")
        self.registry = ActionRegistry(self)
        self._login = LoginPrompt(self, session.address, session.login)
        self.gates: Gates | None = None
        self._gate_timer = QTimer(self)  # coalesces bursts of changes into one gate refresh
        self._gate_timer.setSingleShot(True)
        self._gate_timer.setInterval(0)
        self._gate_timer.timeout.connect(self.refresh_gates)
        self._build_widgets()
        self.commands = Commands(
            session.ops, session.state, session.message, self.registry, self.current_gates,
            queue_view=self.queue_view, history_view=self.history_view, editor=self.entry,
            lock_panel=self.lock_panel, prompts=DialogPrompts(self),
            show_editor=lambda: self.entry_dock.raise_(), changed=self.schedule_gates,
            load_history=session.load_history_now,
            history_withheld=lambda: session.history_withheld)
        self._build_menus_and_toolbar()
        self._connect_session()
        self.refresh_gates()
        self._layout_restored = False
        if settings is not None:
            self._layout_restored = self._restore_layout()
            self._pin_state_bar()  # a layout saved by an older version has no banner row
        self._fit_to_screen()
        self.notifier = attach_notifications(self, settings=app_settings)
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.notifier.sound_action)
        apply_profile_style(self, profile)
        install_theme_menu(self, self.view_menu, self.app_settings)
        install_pane_keys(self)  # F6 / Ctrl+1…5 between panes: last, once every pane exists

    # -- construction -----------------------------------------------------------------------
    def _pin_state_bar(self) -> None:
        """The banner on a row of its own, first, over the whole width; then the main toolbar,
        which holds Stop now, so it is always shown too. A restored layout (one saved by an
        older version has no banner row) cannot move or hide either."""
        for bar in (self.state_bar, self.main_toolbar):
            self.removeToolBar(bar)
            bar.setMovable(False)
            bar.toggleViewAction().setEnabled(False)
        self.addToolBar(Qt.TopToolBarArea, self.state_bar)
        self.addToolBarBreak(Qt.TopToolBarArea)
        self.addToolBar(Qt.TopToolBarArea, self.main_toolbar)
        self.state_bar.show()
        self.main_toolbar.show()

    def _build_widgets(self) -> None:
        self.banner = StateBanner(self)
        self.banner.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        state_bar = QToolBar("State", self)
        state_bar.setObjectName("stateToolBar")
        state_bar.setMovable(False)
        state_bar.setFloatable(False)
        state_bar.setContentsMargins(0, 0, 0, 0)
        state_bar.layout().setContentsMargins(2, 0, 2, 0)
        state_bar.toggleViewAction().setEnabled(False)  # the state is always in view
        state_bar.addWidget(self.banner)
        self.state_bar = state_bar  # placed with the main toolbar by _pin_state_bar
        self.queue_view = QueueView(self)
        self.history_view = HistoryView(self)
        splitter = QSplitter(Qt.Vertical, self)
        splitter.setObjectName("centralSplitter")
        splitter.addWidget(self.queue_view)
        splitter.addWidget(self.history_view)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.setCentralWidget(splitter)

        self.entry = ItemEditor(self)
        self.status_panel = StatusPanel(self)
        self.lock_panel = LockPanel(self)
        side = QWidget(self)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(2, 2, 2, 2)
        side_layout.addWidget(self.status_panel)
        side_layout.addWidget(self.lock_panel)
        side_layout.addStretch(1)
        side.setMaximumWidth(520)  # the queue and history get the room
        self.entry.setMaximumWidth(520)

        max_lines = (self.app_settings.console_max_lines(10_000, *MAX_LINES_RANGE)
                     if self.app_settings else 10_000)
        self.console = ConsoleDock(self, max_lines=max_lines)
        self.messages = MessageLog(self)
        self.entry_dock = self._dock("Item", "itemDock", self.entry, Qt.LeftDockWidgetArea)
        self.status_dock = self._dock("Status", "statusDock", side, Qt.RightDockWidgetArea)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.console)
        self.messages_dock = self._dock("Messages", "messagesDock", self.messages,
                                        Qt.BottomDockWidgetArea)
        self.plot_dock = PlotDock(self)  # pyqtgraph loads on its first show or document
        self.addDockWidget(Qt.BottomDockWidgetArea, self.plot_dock)
        self.tabifyDockWidget(self.console, self.messages_dock)
        self.tabifyDockWidget(self.console, self.plot_dock)
        self.console.raise_()

        self.indicator = ConnectionIndicator(self)
        self.execution_label = QLabel(self)
        self.execution_label.setObjectName("executionLabel")
        self.reason_label = QLabel(self)
        self.reason_label.setObjectName("executeReason")
        self.busy_bar = QProgressBar(self)
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(90)
        self.busy_bar.setMaximumHeight(14)
        self.busy_bar.setVisible(False)
        self.busy_bar.setToolTip("Waiting for the RE Manager to reply")
        # what a busy (not lost) RE Manager is doing: it answers one request at a time
        self.server_busy_label = QLabel(self)
        self.server_busy_label.setObjectName("serverBusyLabel")
        self.server_busy_label.setVisible(False)
        style_text(self.server_busy_label, "busy")
        self.user_label = QLabel(self)
        self.user_label.setObjectName("userLabel")
        self.user_label.setVisible(False)
        bar = self.statusBar()
        bar.addWidget(self.execution_label)
        bar.addWidget(self.reason_label, 1)
        bar.addPermanentWidget(self.user_label)
        self.scan_progress = ProgressWidget(self)
        bar.addPermanentWidget(self.scan_progress)
        bar.addPermanentWidget(self.server_busy_label)
        bar.addPermanentWidget(self.busy_bar)
        self.plot_dock.progress_changed.connect(self.scan_progress.set_progress)
        self.messages.message_added.connect(self._show_message_in_status_bar)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus_and_toolbar(self) -> None:
        from .execute_focus import ExecuteFocus
        from .stop_control import StopControl

        a = self.registry
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolBar")
        toolbar.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        toolbar.addWidget(self.indicator)
        toolbar.addSeparator()
        # Stop now / the paused choices: first, in a fixed place, away from Close env
        self.stop_control = StopControl(a, toolbar)
        toolbar.addWidget(self.stop_control)
        toolbar.addSeparator()
        for action in (Action.EXECUTE_NOW, None, Action.QUEUE_START, Action.QUEUE_STOP,
                       Action.RE_PAUSE_DEFERRED, None, Action.ENV_OPEN, Action.ENV_CLOSE):
            if action is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(a[action])
        self.main_toolbar = toolbar
        self._pin_state_bar()
        # Ctrl+Enter follows the focus (ui/execute_focus.py); the status bar says what it runs
        self.execute_focus = ExecuteFocus(
            a, queue_view=self.queue_view, history_view=self.history_view, editor=self.entry,
            fire=self.commands.fire, parent=self)
        self.addAction(a.execute_focused)
        self.entry.addAction(a.execute_focused)  # also from a floating editor dock
        self.execute_target_label = QLabel(self.execute_focus.hint, self)
        self.execute_target_label.setObjectName("executeTargetLabel")
        self.execute_focus.hint_changed.connect(self.execute_target_label.setText)
        self.statusBar().addPermanentWidget(self.execute_target_label)
        execute_button = toolbar.widgetForAction(a[Action.EXECUTE_NOW])
        if execute_button is not None:
            execute_button.setObjectName("executeNowButton")
            execute_button.setStyleSheet("QToolButton:enabled { font-weight: bold; }")

        menus = {
            "&Queue": [Action.EXECUTE_NOW, Action.EXECUTE_SELECTED_QUEUE, "execute_focused",
                       Action.QUEUE_ADD, None, Action.QUEUE_UNDO, None, Action.QUEUE_START,
                       Action.QUEUE_STOP, Action.QUEUE_STOP_CANCEL, Action.QUEUE_AUTOSTART,
                       "loop", "ignore_failures", None, Action.QUEUE_CLEAR],
            "&History": [Action.EXECUTE_SELECTED_HISTORY, Action.QUEUE_ADD_FROM_HISTORY,
                         Action.HISTORY_EXPORT, None, Action.HISTORY_LOAD, Action.HISTORY_CLEAR],
            "&Environment": [Action.ENV_OPEN, Action.ENV_CLOSE, Action.ENV_UPDATE, None,
                             Action.ENV_DESTROY],
            "&Run Engine": [Action.RE_PAUSE_DEFERRED, Action.RE_PAUSE_IMMEDIATE,
                            Action.RE_RESUME, None, Action.RE_STOP, Action.RE_ABORT,
                            Action.RE_HALT, None, Action.KERNEL_INTERRUPT],
            "&Lock": [Action.LOCK, Action.UNLOCK],
        }
        file_menu = self.menuBar().addMenu("&File")
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut("Ctrl+Q")
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        connection_menu = self.menuBar().addMenu("&Connection")
        profiles_action = QAction("&Profiles…", self)
        profiles_action.setObjectName("action_profiles")
        profiles_action.setEnabled(self.app_settings is not None)
        profiles_action.triggered.connect(
            lambda: show_profiles(self, self.app_settings, self.profile))
        connection_menu.addAction(profiles_action)
        for title, entries in menus.items():
            menu = self.menuBar().addMenu(title)
            for entry in entries:
                if entry is None:
                    menu.addSeparator()
                elif isinstance(entry, Action):
                    menu.addAction(a[entry])
                elif entry == "execute_focused":
                    menu.addAction(a.execute_focused)
                else:
                    menu.addAction(self.registry.mode_actions[entry])
        self.view_menu = self.menuBar().addMenu("&View")
        for dock in (self.entry_dock, self.status_dock, self.console, self.messages_dock,
                     self.plot_dock):
            self.view_menu.addAction(dock.toggleViewAction())
        self.overview_action = QAction("&Overview of all beamlines", self)
        self.overview_action.setObjectName("action_overview")
        self.overview_action.setToolTip("Every saved profile's state at a glance (read-only)")
        self.overview_action.triggered.connect(self.overview_requested)
        self.view_menu.addAction(self.overview_action)
        install_help_menu(self, a, server_status=lambda: self.session.status,
                          address=lambda: self.session.address)

        self.queue_view.set_context_actions([
            a[Action.EXECUTE_SELECTED_QUEUE], None, a[Action.QUEUE_EDIT],
            a[Action.QUEUE_DUPLICATE], a[Action.QUEUE_COPY], a[Action.QUEUE_PASTE], None,
            a[Action.QUEUE_MOVE_TOP], a[Action.QUEUE_MOVE_UP], a[Action.QUEUE_MOVE_DOWN],
            a[Action.QUEUE_MOVE_BOTTOM], None, a[Action.QUEUE_REMOVE], a[Action.QUEUE_UNDO],
            a[Action.QUEUE_CLEAR]])
        self.history_view.set_context_actions([
            a[Action.EXECUTE_SELECTED_HISTORY], a[Action.QUEUE_ADD_FROM_HISTORY], None,
            a[Action.HISTORY_EXPORT], None, a[Action.HISTORY_LOAD], a[Action.HISTORY_CLEAR]])
        self.history_view.notice.add_button(a[Action.HISTORY_LOAD], "Load now…")
        self.history_view.notice.add_button(a[Action.HISTORY_CLEAR], "Keep only the newest…")
        for action in (Action.QUEUE_REMOVE, Action.QUEUE_COPY, Action.QUEUE_PASTE,
                       Action.QUEUE_DUPLICATE, Action.QUEUE_MOVE_UP, Action.QUEUE_MOVE_DOWN,
                       Action.QUEUE_MOVE_TOP, Action.QUEUE_MOVE_BOTTOM):
            a[action].setShortcutContext(Qt.WidgetWithChildrenShortcut)
            self.queue_view.addAction(a[action])
        self.entry.set_actions(a[Action.EXECUTE_NOW], a[Action.QUEUE_ADD],
                               a[Action.ITEM_SAVE], self.registry.reset_action)
        self.lock_panel.set_actions(a[Action.LOCK], a[Action.UNLOCK])

    def _connect_session(self) -> None:
        """Subscribe to the session's events; ``closeEvent`` lets go of every one of them, so a
        session that outlives its window (another window, the overview) keeps no dead view."""
        s = self.session
        self._session_links = [
            (s.connection_changed, self._on_connection), (s.status_changed, self._on_status),
            (s.queue_changed, self._on_queue), (s.history_changed, self.history_view.set_history),
            (s.plans_changed, self.entry.set_plans), (s.devices_changed, self.entry.set_devices),
            (s.lock_info_changed, self._on_lock_info), (s.console_text, self._on_console),
            (s.message, self.messages.add), (s.busy_changed, self._on_busy),
            (s.tracker.changed, self._on_execution),
            (s.principal_changed, self._on_principal), (s.login_required, self._on_login_required),
            (s.operator_state_changed, self._on_operator_state), (s.alarm_changed, self._on_alarm),
            (s.server_busy_changed, self._on_server_busy),
            (s.history_policy_changed, self._on_history_policy),
        ]
        for event, handler in self._session_links:
            event.connect(handler)
        self.queue_view.selection_changed.connect(self.schedule_gates)
        self.history_view.selection_changed.connect(self.schedule_gates)
        self.entry.changed.connect(self.schedule_gates)
        self.banner.acknowledge_requested.connect(s.acknowledge_alarm)
        self.banner.tick.connect(s.attention.refresh)  # the opening time advances
        self.messages.message_added.connect(self._count_unread)
        self.messages_dock.visibilityChanged.connect(self._messages_seen)
        self._unread = [0, 0]  # messages, errors among them, since the Messages tab was on top
        self.history_view.notice.set_staleness_source(lambda: s.history_staleness)
        self._on_connection(s.connection, s.connection_detail)
        self._on_server_busy(s.server_busy)
        self._on_history_policy()
        self._on_principal(s.principal)
        self._on_operator_state(s.operator_state)

    # -- session events ---------------------------------------------------------------------
    def _on_connection(self, state, detail: str) -> None:
        busy = self.session.server_busy
        self.indicator.set_state(state, f"{detail}\n{busy}" if busy else detail)
        self.schedule_gates()

    def _on_server_busy(self, text: str | None) -> None:
        """A busy RE Manager is not a lost one: the indicator keeps its state, the status bar
        says what the server is serving (and for how long so far)."""
        self.server_busy_label.setText(text or "")
        self.server_busy_label.setToolTip(text or "")
        self.server_busy_label.setVisible(bool(text))
        self._on_connection(self.session.connection, self.session.connection_detail)

    def _on_history_policy(self) -> None:
        s = self.session
        self.history_view.notice.show_policy(s.history_withheld, s.history_note)
        self.schedule_gates()

    def _on_status(self, status: dict) -> None:
        self.status_panel.set_status(status)
        mode = status.get("plan_queue_mode") or {}
        self.queue_view.set_modes(bool(mode.get("loop")), bool(mode.get("ignore_failures")),
                                  bool(status.get("queue_autostart_enabled")),
                                  bool(status.get("queue_stop_pending")))
        self._sync_modes(status)
        lock = status.get("lock") if isinstance(status.get("lock"), dict) else {}
        self.queue_view.set_locked(lock.get("queue") is True)
        running = status.get("running_item_uid")
        if running != getattr(self, "_running_uid", None):
            self._running_uid = running
            if running:  # a new item runs: the last run's "success · seq 6/6" is not its own
                self.scan_progress.set_progress(None)
        self.refresh_gates()  # immediately: the push -> gate latency is a quality bar

    def _on_queue(self, items: list, running_item: dict) -> None:
        self.queue_view.set_queue(items, running_item)
        self.entry.notify_queue(items)
        self.status_panel.set_running_item(running_item or None)
        self.schedule_gates()

    # -- attention: the banner, the title, the failure alarm, unread messages ---------------
    def _on_operator_state(self, state: OperatorState) -> None:
        self.banner.set_state(state)
        self.setWindowTitle(state.window_title(self._title, self.session.address))

    def _on_alarm(self, failure: Failure | None) -> None:
        """A failed item: its requeued copy is marked; the detail pane shows its traceback."""
        self.queue_view.set_failed_uid(failure.requeued_uid if failure is not None else None)
        if failure is not None and failure.queue_item and failure.detail_read and failure.item:
            self.history_view.detail.show_item(dict(failure.item))

    def _count_unread(self, level: str, _text: str) -> None:
        if self._messages_on_top():
            return
        self._unread[0] += 1
        self._unread[1] += level == "error"
        count, errors = self._unread
        badge = f"{errors} error{'s' * (errors != 1)}" if errors else f"{count} new"
        self.messages_dock.setWindowTitle(f"Messages ({badge})")
        self._colour_messages_tab("alarm" if errors else "busy")

    def _messages_on_top(self) -> bool:
        dock = self.messages_dock
        return dock.isVisible() and not dock.visibleRegion().isEmpty()

    def _messages_seen(self, visible: bool) -> None:
        if visible and self._unread != [0, 0]:
            self._unread = [0, 0]
            self.messages_dock.setWindowTitle("Messages")
            self._colour_messages_tab(None)

    def _colour_messages_tab(self, role: str | None) -> None:
        """The dock tab's text in the role's colour (Qt draws the tabs; no style sheet reaches
        them one by one)."""
        for bar in self.findChildren(QTabBar):
            for index in range(bar.count()):
                if bar.tabText(index).startswith("Messages"):
                    bar.setTabTextColor(index, role_text(role) if role else
                                        bar.palette().color(QPalette.WindowText))

    # -- identity (HTTP) ---------------------------------------------------------------------
    def configure_login(self, user: str, providers: list[str]) -> None:
        """The connection logs in with a password: ask again when the session ends."""
        self._login.configure(user, providers)

    def open_login(self, reason: str = "") -> LoginDialog | None:
        """The login dialog (window-modal, no nested loop); None without a login configured."""
        shown = self._login.dialog
        dialog = self._login.open(reason)
        if dialog is not None and dialog is not shown:
            dialog.logged_in.connect(
                lambda name: self.messages.add("info", f"Logged in as {name}."))
        return dialog

    @property
    def login_dialog(self) -> LoginDialog | None:
        return self._login.dialog

    def _on_login_required(self, reason: str) -> None:
        if self.open_login(f"The session has ended: {reason}. Log in again to go on; "
                           f"nothing you typed is lost.") is None:
            self.messages.add("error", f"The HTTP server refused the credentials: {reason}. "
                                       f"Check the API key (QSERVER_HTTP_SERVER_API_KEY or "
                                       f"--api-key-file).")

    def _on_principal(self, principal) -> None:
        s = self.session
        if s.protocol != "HTTP":
            self.user_label.setVisible(False)
            return
        if principal is None:
            text, tip = "Permissions: checking…", "Reading your roles and scopes from the server"
        else:
            text = principal.summary
            writes = sorted(x for x in principal.scopes if x.startswith("write:"))
            tip = (f"Logged in to {s.address} as {principal.name}\n"
                   f"Roles: {', '.join(principal.roles) or 'none'}\n"
                   f"May: {', '.join(writes) or 'read only'}")
        note = getattr(self, "demo_note", "")
        self.user_label.setText(f"User: {text}")
        tip += f"\n{note}" if note else ""
        self.user_label.setToolTip(tip)
        self.user_label.setVisible(True)
        self.schedule_gates()

    def _on_lock_info(self, info: dict | None) -> None:
        self.status_panel.set_lock_info(info)
        self.lock_panel.set_lock_info(info)
        self.schedule_gates()

    def _on_console(self, fragments: list[str]) -> None:
        widget = self.console.console
        for text in fragments:
            widget.append_fragment(text)

    def _on_busy(self) -> None:
        self.busy_bar.setVisible(bool(self.session.in_flight))
        self.schedule_gates()

    def _on_execution(self, execution: Execution) -> None:
        if execution.state == "ended":  # finished by the status; the result is in the history
            self.execution_label.setText(f"… {execution.waiting_text}")
            self.execution_label.setToolTip(execution.waiting_text)
            style_text(self.execution_label, "muted", bold=True)
            if execution.awaiting:  # it may wait long: say so where it stays readable
                self.messages.add("info", execution.waiting_text)
            return
        symbol = OUTCOME_STYLE.get(execution.state, "?")
        text = f"{symbol} {execution.name}: {execution.state}"
        if execution.msg:
            text += f" — {execution.msg.splitlines()[0][:160]}"
        self.execution_label.setText(text)
        self.execution_label.setToolTip(text)
        style_text(self.execution_label, outcome_role(execution.state), bold=True)
        if execution.finished:
            level = "info" if execution.state == "completed" else "error"
            self.messages.add(level, f"Executed {execution.name} ({execution.uid[:8]}): "
                                     f"{execution.state}" + (f" — {execution.msg}"
                                                             if execution.msg else ""))
            self.history_view.detail.show_item(dict(execution.item))

    def _show_message_in_status_bar(self, level: str, text: str) -> None:
        if level in ("error", "warning"):
            self.statusBar().showMessage(text, 15000)

    # -- gates ------------------------------------------------------------------------------
    def schedule_gates(self, *_args) -> None:
        self._gate_timer.start()

    def gate_inputs(self) -> GateInputs:
        from ..core.operator_state import is_execute_now

        s = self.session
        running_immediate = isinstance(s.status, dict) and is_execute_now(
            s.status, s.running_item or None, [e.uid for e in s.tracker.active])
        undo = self.commands.undo_stack
        return GateInputs(
            connection=s.connection, status=s.status, lock_key_set=s.ops.lock_key_set,
            lock_info=s.lock_info, monitor_mode=self.monitor_mode,
            in_flight=frozenset(s.in_flight),
            queue_selection=self.queue_view.selected_queue_rows(),
            history_selection=self.history_view.selected_count(),
            editor_error=self.entry.current_error(),
            editing=bool(self.entry.editing_uid),
            edit_vanished=self.entry.edit_state == "vanished", scopes=s.scopes,
            running_immediate=running_immediate, can_undo=undo.can_undo, undo_busy=undo.busy)

    def current_gates(self) -> Gates:
        """The gates of this moment (a shortcut can fire before the next scheduled refresh)."""
        self.refresh_gates()
        return self.gates

    def _sync_modes(self, status: dict) -> None:
        mode = status.get("plan_queue_mode") or {}
        for name, qaction in self.registry.mode_actions.items():
            qaction.setChecked(bool(mode.get(name)))
        self.registry[Action.QUEUE_AUTOSTART].setChecked(
            bool(status.get("queue_autostart_enabled")))

    def refresh_gates(self) -> None:
        """Compute every gate from one snapshot (core/gates.py) and apply them in one pass."""
        self.gates = compute_gates(self.gate_inputs())
        self.registry.apply(self.gates)
        self.registry[Action.ITEM_SAVE].setVisible(bool(self.entry.editing_uid))
        gate = self.gates[Action.EXECUTE_NOW]
        self.reason_label.setText("" if gate.enabled else
                                  f"Execute editor item unavailable: {gate.reason}")

    # -- persistence ------------------------------------------------------------------------
    def _restore_layout(self) -> bool:
        if self.app_settings is not None:
            geometry, state = self.app_settings.window_layout()
        else:
            geometry = self.settings.value("window/geometry")
            state = self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        return state is not None and bool(self.restoreState(state))

    def _fit_to_screen(self) -> None:
        """The preferred 1600×1000, or what the screen offers (a 1280×800 laptop), centred;
        a geometry restored from a bigger screen is brought back inside this one."""
        screen = QGuiApplication.screenAt(self.geometry().center()) or \
            QGuiApplication.primaryScreen()
        if screen is None:
            return
        available = screen.availableGeometry()
        room = QSize(available.width() - 2 * FRAME_ALLOWANCE.width(),
                     available.height() - FRAME_ALLOWANCE.height())
        if self._layout_restored and available.contains(self.frameGeometry()):
            return
        size = PREFERRED_SIZE.boundedTo(room).expandedTo(self.minimumSizeHint())
        self.resize(size)
        frame = self.frameGeometry()
        frame.moveCenter(available.center())
        self.move(max(available.left(), frame.left()), max(available.top(), frame.top()))

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if not self._layout_restored:  # default proportions, once, when sizes are known
            self._layout_restored = True
            width = max(300, min(420, self.width() // 4))
            self.resizeDocks([self.entry_dock, self.status_dock], [width, width], Qt.Horizontal)
            # The queue and history get most of the height: the console a seventh of it.
            self.resizeDocks([self.console], [max(110, self.height() // 7)], Qt.Vertical)
            QTimer.singleShot(0, self._split_centre)  # once the docks have taken their room

    def _split_centre(self) -> None:
        """Queue two thirds, history one third of the centre (the history's detail opens on
        selection)."""
        splitter = self.centralWidget()
        total = sum(splitter.sizes())
        splitter.setSizes([total * 2 // 3, total - total * 2 // 3])

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        self.notifier.close()
        self.commands.close()
        for session_event, handler in self._session_links:
            session_event.disconnect(handler)
        self._session_links = []
        self._gate_timer.stop()
        # A smoke run's virtual 800x600 screen must not become the operator's layout.
        keep_layout = QGuiApplication.platformName() not in HEADLESS_PLATFORMS
        if self.app_settings is not None:  # writes go through the no-secrets check
            if keep_layout:
                self.app_settings.set_window_layout(self.saveGeometry(), self.saveState())
            self.app_settings.set_console_max_lines(self.console.console.max_lines())
        elif self.settings is not None and keep_layout:
            self.settings.setValue("window/geometry", self.saveGeometry())
            self.settings.setValue("window/state", self.saveState())
        super().closeEvent(event)
        self.closed.emit()
