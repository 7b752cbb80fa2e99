"""Show the notices ``core.notify_rules`` decides on: tray balloon, or an in-window toast.

Why it is built this way:

* The rules (what is worth a notice, the queue-finished debounce) are Qt-free and tested with a
  fake clock; this module only feeds them and displays. A single-shot QTimer wakes the rules when
  the debounce falls due, because an idle manager may push no status for a long time.
* A desktop notification (``QSystemTrayIcon.showMessage``) reaches an operator looking at another
  window. Wall displays, bare X sessions and the offscreen test platform have no tray, so the same
  notice then appears as a toast: a small frame in the window's corner that hides by itself and
  never takes the keyboard focus (a shortcut typed at that moment must still reach its action).
* Every notice also goes to the Messages log through the ``log`` callback, so nothing shown in a
  balloon is lost; the log is the record, the balloon only the knock on the door.
* "Did this client ask for it?" comes from the session's in-flight requests (see
  ``attach_notifications``): only a pause/close request actually sent counts, not a click that a
  gate or a confirmation dialog stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

from PyQt5.QtCore import QEvent, QObject, Qt, QTimer
from PyQt5.QtWidgets import (
    QAction,
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSystemTrayIcon,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.gates import Action
from ..core.notify_rules import ExecutionLike, Kind, Notice, NotifyRules
from .resources import app_icon
from .theme import css, role_colours

if TYPE_CHECKING:
    from ..core.profiles import AppSettings

__all__ = ["Notifier", "Toast", "attach_notifications"]

logger = logging.getLogger(__name__)

#: notice level -> colour role (ui/theme.py) of the toast's edge
LEVEL_ROLES = {"info": "ok", "warning": "attention", "error": "alarm"}
_TRAY_ICONS = {"info": QSystemTrayIcon.Information, "warning": QSystemTrayIcon.Warning,
               "error": QSystemTrayIcon.Critical}
_PAUSE_REQUESTS = frozenset({Action.RE_PAUSE_DEFERRED.value, Action.RE_PAUSE_IMMEDIATE.value})
_CLOSE_REQUESTS = frozenset({Action.ENV_CLOSE.value, Action.ENV_DESTROY.value})


class Toast(QFrame):
    """A small auto-hiding notice in the bottom-right corner of its parent window."""

    MARGIN = 16

    def __init__(self, parent: QWidget, *, msecs: int = 8000, kept_in: str = "Messages"):
        super().__init__(parent)
        self.setObjectName("notificationToast")
        self.kept_in = kept_in  #: where the window keeps every notice ("Messages", "the Event log")
        self.setFocusPolicy(Qt.NoFocus)
        self.setAttribute(Qt.WA_ShowWithoutActivating)
        self.msecs = msecs
        self._more = 0
        self.title = QLabel(self, objectName="toastTitle")
        self.body = QLabel(self, objectName="toastBody", wordWrap=True)
        self.setFixedWidth(380)  # a wrapped QLabel would otherwise shrink to a narrow column
        close = QToolButton(self, objectName="toastClose", text="✕", autoRaise=True)
        close.setFocusPolicy(Qt.NoFocus)
        close.setToolTip(f"Dismiss (the notice stays in {kept_in})")
        close.clicked.connect(self.dismiss)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(close, 0, Qt.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 10)
        layout.addLayout(head)
        layout.addWidget(self.body)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        parent.installEventFilter(self)  # follow the window's size
        self.hide()

    def show_notice(self, notice: Notice) -> None:
        """Show ``notice``; notices arriving while one is visible replace it and are counted."""
        self._more = self._more + 1 if self.isVisible() else 0
        colour = css(role_colours(LEVEL_ROLES.get(notice.level, "off"))[0])
        self.setStyleSheet(  # the palette's tooltip colours: readable in any theme
            f"#notificationToast {{ background: palette(tool-tip-base); border: 1px solid "
            f"palette(mid); border-left: 6px solid {colour}; border-radius: 6px; }}"
            f" #notificationToast QLabel {{ color: palette(tool-tip-text); "
            f"background: transparent; }}")
        more = f"  (+{self._more} more in {self.kept_in})" if self._more else ""
        self.title.setText(f"<b>{_escape(notice.title)}</b>{_escape(more)}")
        first_lines = "\n".join(notice.text.splitlines()[:4])
        self.body.setText(_escape(first_lines))
        self.setToolTip(notice.text)
        self.adjustSize()
        self._place()
        self.show()
        self.raise_()
        self._timer.start(self.msecs)

    def dismiss(self) -> None:
        self._timer.stop()
        self._more = 0
        self.hide()

    def _place(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        bottom = parent.height() - self.MARGIN
        if isinstance(parent, QMainWindow) and parent.statusBar().isVisible():
            bottom -= parent.statusBar().height()
        self.move(max(0, parent.width() - self.width() - self.MARGIN),
                  max(0, bottom - self.height()))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if obj is self.parentWidget() and event.type() == QEvent.Resize and self.isVisible():
            self._place()
        return super().eventFilter(obj, event)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        "\n", "<br>")


class Notifier(QObject):
    """Feeds ``NotifyRules`` and shows what they return (tray balloon or toast, log, sound)."""

    def __init__(self, window: QWidget, rules: NotifyRules | None = None, *,
                 log: Callable[[str, str], Any] | None = None,
                 logged_kinds: Collection[Kind] = tuple(Kind), sound: bool = False,
                 use_tray: bool | None = None, toast_msecs: int = 8000,
                 balloon_msecs: int = 10000, kept_in: str = "Messages"):
        super().__init__(window)
        #: (session event, handler) pairs this notifier is subscribed to; closed with it
        self.links: list[tuple[Any, Any]] = []
        self.window = window
        self.rules = rules or NotifyRules()
        self.log = log
        self.logged_kinds = frozenset(logged_kinds)
        self.balloon_msecs = balloon_msecs
        self.shown: list[Notice] = []  # the most recent notices (tests, diagnostics)
        self.toast = Toast(window, msecs=toast_msecs, kept_in=kept_in)
        self.tray: QSystemTrayIcon | None = None
        if use_tray is not False and QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip("qs-gui")
            self.tray.activated.connect(self._raise_window)
            self.tray.messageClicked.connect(self._raise_window)
            self.tray.show()
            if not QSystemTrayIcon.supportsMessages():
                self.tray.hide()
                self.tray = None
        self.sound_action = QAction("Notification &sound", self)
        self.sound_action.setObjectName("action_notification_sound")
        self.sound_action.setCheckable(True)
        self.sound_action.setChecked(sound)
        self.sound_action.setToolTip("Beep when a notice is shown")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.poll)

    @property
    def uses_tray(self) -> bool:
        return self.tray is not None

    # -- inputs -----------------------------------------------------------------------------
    def on_status(self, status: dict) -> None:
        self._deliver(self.rules.on_status(status))

    def on_execution(self, execution: ExecutionLike) -> None:
        self._deliver(self.rules.on_execution(execution))

    def expect_pause(self) -> None:
        self.rules.expect_pause()

    def expect_environment_close(self) -> None:
        self.rules.expect_environment_close()

    def note_requests(self, in_flight: Iterable[str]) -> None:
        """Session requests now in flight: a pause or close sent by us is not a surprise."""
        names = set(in_flight)
        if names & _PAUSE_REQUESTS:
            self.rules.expect_pause()
        if names & _CLOSE_REQUESTS:
            self.rules.expect_environment_close()

    def poll(self) -> None:
        self._deliver(self.rules.poll())

    # -- output -----------------------------------------------------------------------------
    def notify(self, notice: Notice) -> None:
        """Show one notice now (also usable for app-level notices that need no rule)."""
        self.shown = [*self.shown[-49:], notice]
        if self.log is not None and notice.kind in self.logged_kinds:
            self.log(notice.level, f"{notice.title}: {notice.text}")
        if self.tray is not None:
            self.tray.showMessage(notice.title, notice.text,
                                  _TRAY_ICONS.get(notice.level, QSystemTrayIcon.Information),
                                  self.balloon_msecs)
        else:
            self.toast.show_notice(notice)
        if self.sound_action.isChecked():
            QApplication.beep()

    def close(self) -> None:
        """Stop the timer, remove the tray icon and let go of the session's events (call when
        the window closes: the session may outlive it)."""
        self._timer.stop()
        for event, handler in self.links:
            event.disconnect(handler)
        self.links = []
        if self.tray is not None:
            self.tray.hide()

    def _deliver(self, notices: list[Notice]) -> None:
        for notice in notices:
            self.notify(notice)
        due = self.rules.seconds_until_due()
        if due is None:
            self._timer.stop()
        else:
            self._timer.start(int(due * 1000) + 20)  # just past the deadline

    def _raise_window(self, *_args: Any) -> None:
        window = self.window.window()
        window.showNormal() if window.isMinimized() else window.show()
        window.raise_()
        window.activateWindow()


def attach_notifications(window: Any, *, settings: AppSettings | None = None,
                         use_tray: bool | None = None) -> Notifier:
    """Wire a Notifier to a MainWindow: its session, its Messages log and the sound setting.

    Item outcomes are not logged again here: ``MainWindow._on_execution`` already logs them.
    """
    session = window.session
    # why the queue stopped (a failure, a requested stop, a halt) when the session knows it
    rules = NotifyRules(stop_reason=session.attention.watch.stop_reason)
    notifier = Notifier(window, rules, log=window.messages.add,
                        logged_kinds=set(Kind) - {Kind.ITEM_FINISHED},
                        sound=settings.notify_sound() if settings is not None else False,
                        use_tray=use_tray)
    notifier.links = [
        (session.status_changed, notifier.on_status),
        (session.tracker.changed, notifier.on_execution),
        (session.busy_changed, lambda: notifier.note_requests(session.in_flight)),
    ]
    for event, handler in notifier.links:
        event.connect(handler)
    if settings is not None:
        notifier.sound_action.toggled.connect(settings.set_notify_sound)
    if session.status is not None:  # the rules need the state before the first transition
        notifier.on_status(session.status)
    return notifier
