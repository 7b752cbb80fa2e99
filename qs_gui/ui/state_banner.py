"""The state banner: what the instrument is doing, readable from across the room.

A thin view over :class:`~qs_gui.core.operator_state.OperatorState` (derived in core from the
status, the running item and the unacknowledged failure): large words, one colour per role
(ok green, busy blue, attention amber, alarm red, off grey — ``ui/theme.py``), a LOCKED badge
beside the state (a lock is a flag, not a state), and an Acknowledge button while a failure is
shown. While the environment opens it asks once a second to be re-derived, so the elapsed time
advances without a status push.
"""

from __future__ import annotations

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QFont
from PyQt5.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..core.operator_state import OperatorState, StateKind
from .theme import css, role_colours, theme_manager

#: the headline's size relative to the application font, at scale 1
HEADLINE_FACTOR = 1.5


class StateBanner(QFrame):
    """One prominent line of state; ``scale`` enlarges it (monitor mode, wall displays)."""

    acknowledge_requested = pyqtSignal()  #: the operator clicked Acknowledge
    tick = pyqtSignal()  #: once a second while something time-dependent is shown

    def __init__(self, parent: QWidget | None = None, *, scale: float = 1.0,
                 acknowledge: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("stateBanner")
        self.setFrameShape(QFrame.NoFrame)
        self.setAutoFillBackground(True)
        self._scale = scale
        self._state: OperatorState | None = None
        self.headline = QLabel(self, objectName="bannerHeadline")
        self.detail = QLabel(self, objectName="bannerDetail")
        self.detail.setWordWrap(True)
        for label in (self.headline, self.detail):
            label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.lock_badge = QLabel("LOCKED", self, objectName="bannerLocked")
        self.lock_badge.setAlignment(Qt.AlignCenter)
        self.lock_badge.setVisible(False)
        self.ack_button = QPushButton("Acknowledge", self, objectName="bannerAcknowledge")
        self.ack_button.setToolTip("The failure has been seen: clear the red banner and the "
                                   "queue mark (the history keeps the record)")
        self.ack_button.setVisible(False)
        self.ack_button.clicked.connect(self.acknowledge_requested)
        self._acknowledge = acknowledge
        # In the window the detail sits beside the headline (one line of height on a 1280×800
        # laptop); on a wall display (scale >= 1.5) it goes under it.
        words = QVBoxLayout() if scale >= 1.5 else QHBoxLayout()
        words.setSpacing(0 if scale >= 1.5 else 16)
        words.addWidget(self.headline, 0)
        words.addWidget(self.detail, 1)
        self.detail.setAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        row = QHBoxLayout(self)
        margin = round(3 * scale)
        row.setContentsMargins(margin * 3, margin, margin * 3, margin)
        row.addLayout(words, 1)
        row.addWidget(self.lock_badge, 0, Qt.AlignVCenter)
        row.addWidget(self.ack_button, 0, Qt.AlignVCenter)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.tick)
        self.set_scale(scale)
        theme_manager().connect_recolour(self, self._recolour)

    def set_scale(self, scale: float) -> None:
        """Text size relative to the application font (1 in the window, 2–4 on a wall)."""
        self._scale = scale
        base = self.font().pointSizeF() if self.font().pointSizeF() > 0 else 10.0
        big = QFont(self.font())
        big.setPointSizeF(base * HEADLINE_FACTOR * scale)
        big.setBold(True)
        self.headline.setFont(big)
        small = QFont(self.font())
        small.setPointSizeF(base * max(1.0, scale * 0.9))
        self.detail.setFont(small)
        badge = QFont(small)
        badge.setBold(True)
        self.lock_badge.setFont(badge)
        self.ack_button.setFont(badge)

    def set_state(self, state: OperatorState) -> None:
        if state == self._state:
            return
        self._state = state
        self.headline.setText(state.headline)
        self.detail.setText(state.detail)
        self.detail.setVisible(bool(state.detail))
        self.lock_badge.setVisible(state.locked)
        self.lock_badge.setToolTip(state.lock_text)
        self.ack_button.setVisible(self._acknowledge and state.kind is StateKind.FAILED)
        self.setAccessibleName(f"State: {state.headline}")
        self.setToolTip(state.lock_text)
        if state.kind is StateKind.ENV_OPENING:
            if not self._timer.isActive():
                self._timer.start()
        else:
            self._timer.stop()
        self._recolour()

    def state(self) -> OperatorState | None:
        return self._state

    def _recolour(self) -> None:
        role = self._state.role if self._state is not None else "off"
        bg, fg = role_colours(role)
        lock_bg, lock_fg = role_colours("attention")
        # objectName selectors: the colours must not leak into the Acknowledge button
        self.setStyleSheet(
            f"QFrame#stateBanner {{ background: {css(bg)}; border-radius: 4px; }}"
            f"QLabel#bannerHeadline, QLabel#bannerDetail {{ color: {css(fg)}; "
            f"background: transparent; }}"
            f"QLabel#bannerLocked {{ color: {css(lock_fg)}; background: {css(lock_bg)}; "
            f"border: 2px solid {css(fg)}; border-radius: 3px; padding: 2px 8px; }}")
