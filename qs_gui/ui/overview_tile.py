"""One beamline's tile in the control-room overview: a thin view over a ``TileState``.

Why it is built this way:

* **Readable from a few metres.** Large words, one line each (elided, the whole text in the
  tooltip), fonts derived from the tile's own size, so bigger tiles (View ▸ Larger tiles, or a
  4K wall) simply carry bigger type. No tables, nothing dense.
* **Colour is never alone.** The headline sits on its state's colour role (``ui/theme.py``,
  light and dark variants) and says the state in words; an alarm adds a red band that says
  "ALARM" and what happened, with an Acknowledge button; a failed last outcome is marked "✖".
  The profile's own colour is only the name band (as in the full window).
* **Everything derived comes from the core.** :meth:`TileWidget.set_state` takes the frozen
  ``TileState`` (``core/overview.py``) and only copies words into labels: the widgets that
  changed are touched, then the tile repaints once (``update()``), so the benchmark can hook
  ``paintEvent`` to time "status change -> repaint". The age line ("changed 3 min ago") is
  refreshed by the window's one shared 1 s timer (:meth:`refresh_age`), never by a timer here.
* **Read-only.** The tile sends nothing: it emits what the operator asked for (open, acknowledge,
  read the last result, pin, hide, log in) and the window decides.
* **A login profile says so.** Over HTTP with a password login, until the tile's session has
  logged in (or once the gateway ended it) the tile says "Needs login" and offers "Log in…" (a
  button beside the headline, the context menu, and Enter); the window opens the login dialog.
"""

from __future__ import annotations

import time
from typing import Any

from PyQt5.QtCore import QSize, Qt, pyqtSignal
from PyQt5.QtGui import (
    QContextMenuEvent,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QMouseEvent,
    QPaintEvent,
)
from PyQt5.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QMenu,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..core.formatting import format_duration
from ..core.overview import TileState, is_alarm
from ..core.profiles import contrast_text
from .elided_label import ElidedLabel
from .theme import css, role_colours, style_pill, style_text, theme_manager

__all__ = ["MIN_TILE_SIZE", "TileWidget", "age_words", "headline_words"]

#: the smallest tile (at tile scale 1): the grid's column count is the width // this width
MIN_TILE_SIZE = QSize(300, 190)
#: the base font is the tile's height / LINES_PER_TILE pixels (clamped to MIN_PX..MAX_PX)
LINES_PER_TILE = 16
CHARS_PER_TILE = 22  #: ... and at most its width / this (a line of about 35 characters fits)
MIN_PX, MAX_PX = 11, 64
HEADLINE_FACTOR = 1.9  #: the state headline, in base sizes
#: state kind -> the tile's shorter headline (the alarm line and the detail say the rest)
_SHORT = {"paused": "Paused", "failed": "Failed"}


def headline_words(state: TileState) -> str:
    """The tile's large words: the operator state's headline, shortened where a tile has no
    room ("Paused — resume, stop, abort or halt" -> "Paused", "Running scan (queue)" ->
    "Running scan"; the running line names the plan anyway)."""
    kind = state.state.kind.value
    headline = _SHORT.get(kind) or state.state.headline
    return headline.removesuffix(" (queue)")


def age_words(seconds: float | None) -> str:
    """"changed just now", "changed 3 min ago", "changed 2 h ago"; "" when unknown.

    Minutes at best: a wall of tiles counting seconds repaints every tile every second (the
    overview's idle CPU doubled) for a precision the Event log's times already give."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "changed just now"
    if seconds < 3600:
        return f"changed {int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"changed {int(seconds // 3600)} h ago"
    return f"changed {int(seconds // 86400)} d ago"


def _queue_words(state: TileState) -> str:
    """"Queue: 3 items · running", "Queue: empty · stopped", "Queue: unknown (last 2)"."""
    n = state.queue_length
    if state.connection == "offline":
        return f"Queue: unknown (last known {n})" if isinstance(n, int) else "Queue: unknown"
    items = "length unknown" if n is None else (
        "empty" if n == 0 else f"{n} item{'' if n == 1 else 's'}")
    queue = {"stopping": "stopping after this item"}.get(state.queue, state.queue)
    return f"Queue: {items} · {queue}"


def _lock_words(state: TileState) -> str:
    """"LOCKED by alice: beam tuning" (who and why first: the tooltip says what is locked)."""
    if not state.locked:
        return ""
    if state.lock_user:
        return f"LOCKED by {state.lock_user}" + (f": {state.lock_note}" if state.lock_note
                                                   else "")
    return f"LOCKED — {state.lock_text}"


class TileWidget(QFrame):
    """One tile; ``state`` is the ``TileState`` shown. Focusable: Enter or a double-click
    emits ``open_requested(name)``; the context menu offers the rest."""

    open_requested = pyqtSignal(str)  #: open the full window for this beamline
    acknowledge_requested = pyqtSignal(str)
    read_requested = pyqtSignal(str)  #: read the last result now (Session.load_history_now)
    pin_requested = pyqtSignal(str, bool)
    hide_requested = pyqtSignal(str)
    login_requested = pyqtSignal(str)  #: ask for the password of this beamline's login

    def __init__(self, state: TileState, parent: QWidget | None = None, *,
                 pinned: bool = False, clock: Any = time.time) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("overviewTile")
        self.setFrameShape(QFrame.StyledPanel)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.clock = clock
        self.pinned = pinned
        self.state: TileState | None = None
        #: the login user of a login profile (None: the tile needs no login)
        self.login_user: str | None = None
        self.needs_login = False  #: the tile's session is not logged in (login profiles only)
        self._role: tuple[str, bool] = ("", False)
        self._outcome_key: tuple[str, bool] | None = None
        self._px = 0
        self.paints = 0  #: paintEvent calls (diagnostics)
        self._build()
        theme_manager().connect_recolour(self, self._recolour)
        self.set_state(state)

    # -- construction -----------------------------------------------------------------------
    def _build(self) -> None:
        def line(name: str, parent: QWidget) -> ElidedLabel:
            label = ElidedLabel(parent)
            label.setObjectName(name)
            return label

        self.band = line("tileBand", self)
        self.head = QFrame(self, objectName="tileHead")
        self.headline = line("tileHeadline", self.head)
        self.detail = line("tileDetail", self.head)
        # the Acknowledge button sits beside the headline (alarm headlines are short: Failed,
        # Paused, Offline), so the alarm line below keeps the whole width for its words
        self.ack_button = QPushButton("Acknowledge", self.head, objectName="tileAcknowledge")
        self.ack_button.setFocusPolicy(Qt.NoFocus)  # Tab moves between tiles, not into them
        self.ack_button.setToolTip("The alarm has been seen: clear it (the event log keeps it)")
        self.ack_button.clicked.connect(lambda: self.acknowledge_requested.emit(self.name))
        self.ack_button.setVisible(False)
        self.login_button = QPushButton("Log in…", self.head, objectName="tileLogin")
        self.login_button.setFocusPolicy(Qt.NoFocus)
        self.login_button.setToolTip("Log in to this beamline's HTTP server (Enter)")
        self.login_button.clicked.connect(lambda: self.login_requested.emit(self.name))
        self.login_button.setVisible(False)
        words = QVBoxLayout()
        words.setSpacing(0)
        words.addWidget(self.headline)
        words.addWidget(self.detail)
        hl = QHBoxLayout(self.head)
        hl.addLayout(words, 1)
        hl.addWidget(self.login_button, 0, Qt.AlignVCenter)
        hl.addWidget(self.ack_button, 0, Qt.AlignVCenter)
        self.alarm_box = QFrame(self, objectName="tileAlarm")
        self.alarm_label = line("tileAlarmText", self.alarm_box)
        al = QHBoxLayout(self.alarm_box)
        al.addWidget(self.alarm_label, 1)
        body = QWidget(self)
        self.running = line("tileRunning", body)
        self.progress_bar = QProgressBar(body, objectName="tileProgress")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.eta = line("tileEta", body)
        self.queue = line("tileQueue", body)
        self.environment = line("tileEnvironment", body)
        self.outcome = line("tileOutcome", body)
        self.lock = line("tileLock", body)
        self.age = line("tileAge", body)
        prow = QHBoxLayout()
        prow.addWidget(self.progress_bar, 3)
        prow.addWidget(self.eta, 2)
        bl = QVBoxLayout(body)
        self._body_layout = bl
        bl.addWidget(self.running)
        bl.addLayout(prow)
        bl.addWidget(self.queue)
        bl.addWidget(self.environment)
        bl.addWidget(self.outcome)
        bl.addWidget(self.lock)
        bl.addStretch(1)
        bl.addWidget(self.age)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.band)
        layout.addWidget(self.head)
        layout.addWidget(self.alarm_box)
        layout.addWidget(body, 1)
        style_text(self.age, "muted")
        style_text(self.lock, "attention", bold=True)
        for widget in (self.band, self.head, self.headline, self.detail, self.alarm_box,
                       self.alarm_label, body, self.running, self.eta, self.queue,
                       self.environment,
                       self.outcome, self.lock, self.age):
            widget.setAttribute(Qt.WA_TransparentForMouseEvents)  # clicks reach the tile

    @property
    def name(self) -> str:
        return self.state.name if self.state is not None else ""

    # -- state ------------------------------------------------------------------------------
    def set_state(self, state: TileState) -> None:
        """Show ``state``: only the labels whose words changed are touched; one repaint."""
        old = self.state
        self.state = state
        if old is None or old.name != state.name or old.colour != state.colour:
            self.band.setText(self._band_text())
            self._style_band()
        headline = "Needs login" if self.needs_login else headline_words(state)
        if self.headline.full_text() != headline:
            self.headline.setText(headline)
            self._fit_headline()
        if self.needs_login:
            self._set(self.detail, f"needs login as {self.login_user} (Enter: Log in…)"
                      if self.login_user else "needs login (Enter: Log in…)")
        else:
            self._set(self.detail, state.state.detail if state.connection != "offline"
                      else state.connection_detail or state.state.detail)
        if self.login_button.isVisibleTo(self) != self.needs_login:
            self.login_button.setVisible(self.needs_login)
            self._fit_headline()
        alarm = is_alarm(state)
        self.alarm_box.setVisible(alarm)
        if self.ack_button.isVisibleTo(self) != alarm:
            self.ack_button.setVisible(alarm)
            self._fit_headline()
        if alarm:
            a = state.alarm
            over = " (over)" if a.over else ""
            # the title's last part is the news ("ID12: Queue stopped: scan failed" -> "scan
            # failed"); the whole title and the text are in the tooltip and the event log
            self._set(self.alarm_label, f"⚠ ALARM{over}: {a.title.rsplit(': ', 1)[-1]}")
            self.alarm_label.setToolTip(f"{a.title}\n{a.text}")
        running = bool(state.running_text)
        self._set(self.running, f"▶ {state.running_text}" if running else "Nothing running")
        self.running.setEnabled(running)
        has_progress = running and state.progress is not None
        self.progress_bar.setVisible(has_progress)
        if has_progress:
            self.progress_bar.setValue(round(max(0.0, min(1.0, state.progress)) * 1000))
        eta = format_duration(state.eta, decimals=0) if has_progress else ""
        self._set(self.eta, f"ETA {eta}" if eta else "")
        self.eta.setVisible(has_progress)
        self._set(self.queue, _queue_words(state))
        self._set(self.environment, f"Environment: {state.environment}")
        self._show_outcome(state)
        self._set(self.lock, _lock_words(state))
        self.lock.setToolTip(state.lock_text)
        self.lock.setVisible(state.locked)
        self.setAccessibleName(f"{state.name}: {headline}" + (" — ALARM" if alarm else ""))
        self.setToolTip(f"{state.name}: {headline}\n{state.connection_detail}".strip())
        self.refresh_age()
        if (state.role, alarm) != self._role:
            self._recolour()
        self.update()

    def _show_outcome(self, state: TileState) -> None:
        o = state.outcome
        text = "No finished item yet" if o.kind == "none" else f"Last: {o.text}"
        if o.kind in ("failed", "aborted", "halted"):
            text = f"✖ {text}"
        self._set(self.outcome, text)
        # a failed item is highlighted (a pill) until its alarm is acknowledged
        highlight = o.role == "alarm" and is_alarm(state)
        key = (o.role, highlight)
        if key != self._outcome_key:
            self._outcome_key = key
            if highlight:
                self.outcome.setProperty("qsThemeText", None)
                style_pill(self.outcome, "alarm", extra="border-radius: 4px; padding: 1px 6px;")
            else:
                self.outcome.setProperty("qsThemePill", None)
                style_text(self.outcome, o.role if o.role != "off" else "muted")
        self.outcome.setToolTip(f"{text}\n{o.reason}".strip())

    @staticmethod
    def _set(label: ElidedLabel, text: str) -> None:
        if label.full_text() != text:
            label.setText(text)

    def set_needs_login(self, needed: bool) -> None:
        """Say "Needs login" and offer "Log in…" (only a login profile's tile needs one)."""
        needed = bool(needed) and self.login_user is not None
        if needed != self.needs_login:
            self.needs_login = needed
            if self.state is not None:
                self.set_state(self.state)

    def set_pinned(self, pinned: bool) -> None:
        self.pinned = pinned
        if self.state is not None:
            self.band.setText(self._band_text())
        self.update()

    def _band_text(self) -> str:
        return self.name + ("  · pinned" if self.pinned else "")

    def refresh_age(self, now: float | None = None) -> None:
        """The "changed … ago" line only (the window's shared 1 s timer calls this)."""
        if self.state is None:
            return
        seconds = self.state.since_change(self.clock() if now is None else now)
        text = age_words(seconds)
        if self.age.full_text() != text:
            self.age.setText(text)

    # -- colours and sizes ------------------------------------------------------------------
    def _style_band(self) -> None:
        colour = self.state.colour if self.state is not None else "#616161"
        self.band.setStyleSheet(f"background: {colour}; color: {contrast_text(colour)};"
                                f" font-weight: bold; padding: 2px 8px;")

    def _recolour(self) -> None:
        role = self.state.role if self.state is not None else "off"
        alarm = self.state is not None and is_alarm(self.state)
        self._role = (role, alarm)
        bg, fg = role_colours(role)
        abg, afg = role_colours(self.state.alarm.role if alarm else "alarm")
        self.setStyleSheet(
            f"QFrame#tileHead {{ background: {css(bg)}; }}"
            f"QLabel#tileHeadline, QLabel#tileDetail {{ color: {css(fg)};"
            f" background: transparent; }}"
            f"QFrame#tileAlarm {{ background: {css(abg)}; }}"
            f"QLabel#tileAlarmText {{ color: {css(afg)}; background: transparent;"
            f" font-weight: bold; }}"
            + (f"QFrame#overviewTile {{ border: 4px solid {css(bg)}; }}" if alarm else "")
            + "QFrame#overviewTile:focus { border: 4px solid palette(highlight); }")
        self._px = 0
        self._apply_scale()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._apply_scale()
        self._fit_headline()

    def _apply_scale(self) -> None:
        """Fonts from the tile's size (only when the base size changes)."""
        px = max(MIN_PX, min(MAX_PX, round(min(self.height() / LINES_PER_TILE,
                                                 self.width() / CHARS_PER_TILE))))
        if px == self._px:
            return
        self._px = px

        def sized(widget: QWidget, factor: float, bold: bool = False) -> None:
            font = QFont(self.font())
            font.setPixelSize(max(MIN_PX, round(px * factor)))
            font.setBold(bold)
            widget.setFont(font)

        sized(self.band, 1.0, True)
        self._fit_headline()
        sized(self.detail, 0.85)
        sized(self.alarm_label, 1.0, True)
        sized(self.ack_button, 0.9, True)
        sized(self.login_button, 0.9, True)
        for label in (self.running, self.queue, self.environment, self.outcome, self.lock,
                      self.eta):
            sized(label, 1.0)
        sized(self.running, 1.1, True)
        sized(self.age, 0.8)
        self.progress_bar.setFixedHeight(max(6, round(px * 0.6)))
        pad = max(4, px // 2)
        self.head.layout().setContentsMargins(pad, pad // 2, pad, pad // 2)
        self.alarm_box.layout().setContentsMargins(pad, pad // 3, pad, pad // 3)
        self._body_layout.setContentsMargins(pad, pad // 2, pad, pad // 2)
        self._body_layout.setSpacing(max(2, px // 4))

    def _fit_headline(self) -> None:
        """The headline at HEADLINE_FACTOR base sizes, or smaller (down to 1.2) so that a long
        state ("Environment closed") fits the tile's width on one line."""
        px = self._px or MIN_PX
        font = QFont(self.font())
        font.setBold(True)
        size = round(px * HEADLINE_FACTOR)
        font.setPixelSize(size)
        room = self.width() - 2 * max(4, px // 2) - 4
        for button in (self.ack_button, self.login_button):
            if button.isVisibleTo(self):
                room -= button.sizeHint().width() + 6
        needed = QFontMetrics(font).horizontalAdvance(self.headline.full_text())
        if needed > room > 0:
            font.setPixelSize(max(round(px * 1.2), int(size * room / needed)))
        if font != self.headline.font():
            self.headline.setFont(font)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return MIN_TILE_SIZE

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(200, 140)

    # -- input ------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt name)
        self.paints += 1
        super().paintEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt name)
        if event.key() in (Qt.Key_Return, Qt.Key_Enter):
            if self.needs_login:  # the tile shows nothing until then: log in first
                self.login_requested.emit(self.name)
            else:
                self.open_requested.emit(self.name)
            return
        super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt name)
        if event.button() == Qt.LeftButton:
            self.open_requested.emit(self.name)
            return
        super().mouseDoubleClickEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt name)
        self.setFocus(Qt.MouseFocusReason)
        super().mousePressEvent(event)

    def context_menu(self) -> QMenu:
        """The tile's menu: Log in… (a login profile), Acknowledge, Read last result,
        Pin/Unpin, Hide, Open full window."""
        menu = QMenu(self)
        name, state = self.name, self.state
        if self.login_user is not None:
            login = menu.addAction("&Log in…", lambda: self.login_requested.emit(name))
            login.setEnabled(self.needs_login)
        ack = menu.addAction("&Acknowledge", lambda: self.acknowledge_requested.emit(name))
        ack.setEnabled(state is not None and is_alarm(state))
        if state is not None and state.outcome.can_read:
            menu.addAction("&Read last result", lambda: self.read_requested.emit(name))
        menu.addSeparator()
        menu.addAction("Un&pin" if self.pinned else "&Pin first",
                       lambda: self.pin_requested.emit(name, not self.pinned))
        menu.addAction("&Hide", lambda: self.hide_requested.emit(name))
        menu.addSeparator()
        menu.addAction("&Open full window", lambda: self.open_requested.emit(name))
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 (Qt name)
        menu = self.context_menu()
        menu.exec_(event.globalPos())
        menu.deleteLater()
