"""The history pane's notice: why the history shown is not current, and what the operator can do.

The history policy (``core/history_policy``) holds back reads the RE Manager cannot afford: a
costly read is coalesced (the notice says when the next one comes), a read too large to make
automatically is withheld (the notice says what it would cost, how old the shown history is,
and offers Load now and Keep newest…). The buttons are the window's QActions, so the gates
decide whether they are enabled; the notice only shows them.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtWidgets import (
    QAction,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from qs_gui.core.history_policy import Staleness, staleness_text
from qs_gui.ui.theme import css, role_colours, theme_manager

__all__ = ["HistoryNotice"]

#: how often the age of the shown history is redrawn while the notice is visible (ms)
REFRESH_MS = 5000


class HistoryNotice(QFrame):
    """Hidden while the history is current; amber when a read is withheld, muted when only
    coalesced."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyNotice")
        self.title = QLabel(objectName="historyNoticeTitle")
        self.reason = QLabel(objectName="historyNoticeReason", wordWrap=True)
        self.reason.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.age = QLabel(objectName="historyNoticeAge", wordWrap=True)
        text = QVBoxLayout()
        text.setContentsMargins(0, 0, 0, 0)
        text.setSpacing(2)
        for label in (self.title, self.reason, self.age):
            text.addWidget(label)
        self._buttons = QVBoxLayout()
        self._buttons.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 6, 8, 6)
        row.addLayout(text, 1)
        row.addLayout(self._buttons)
        self._staleness: Callable[[], Staleness] | None = None
        self._role = "off"
        self._timer = QTimer(self, interval=REFRESH_MS)
        self._timer.timeout.connect(self._show_age)
        theme_manager().connect_recolour(self, self._recolour)
        self.hide()

    def set_staleness_source(self, source: Callable[[], Staleness]) -> None:
        """Where the age of the shown history comes from (read again at every redraw)."""
        self._staleness = source

    def add_button(self, action: QAction, text: str) -> QPushButton:
        """A button that triggers ``action`` and is enabled (with its tooltip, which gives the
        reason when disabled) as the action is: the gates decide, the notice only shows it."""
        button = QPushButton(text, self)
        button.clicked.connect(action.trigger)

        def follow() -> None:
            button.setEnabled(action.isEnabled())
            button.setToolTip(action.toolTip())

        action.changed.connect(follow)
        follow()
        self._buttons.addWidget(button)
        return button

    def show_policy(self, withheld: str | None, note: str) -> None:
        """``withheld``: why the history is not read automatically (None: it is); ``note``: why
        the shown history may be behind ("" when current)."""
        if not withheld and not note:
            self._timer.stop()
            self.hide()
            return
        if withheld:
            self.title.setText("History not read automatically")
            self._role, reason = "attention", withheld
        else:
            self.title.setText("History refreshes are spaced out")
            self._role, reason = "off", note
        self.reason.setText(f"{reason[0].upper()}{reason[1:]}.")
        for button in self.findChildren(QPushButton):
            button.setVisible(bool(withheld))
        self._recolour()
        self._show_age()
        self._timer.start()
        self.show()

    def _recolour(self) -> None:
        bg, fg = role_colours(self._role)
        # scoped to the frame and its labels: the buttons keep the platform's look
        self.setStyleSheet(f"#historyNotice {{ background: {css(bg)}; border-radius: 4px; }} "
                           f"#historyNotice QLabel {{ color: {css(fg)}; }} "
                           "#historyNoticeTitle { font-weight: bold; }")

    def _show_age(self) -> None:
        if self._staleness is not None:
            self.age.setText(staleness_text(self._staleness()))
