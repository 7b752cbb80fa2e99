"""The operator's record of what happened: every command result and error, in plain words.

Errors must reach the operator in the window, so the session's messages land here (a dock with a
timestamped, colour-coded list) and the newest one is also shown in the status bar.
"""

from __future__ import annotations

import time

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QBrush
from PyQt5.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .theme import role_text, theme_manager

#: level -> colour role (ui/theme.py): the colours follow the palette and the theme
ROLES = {"error": "alarm", "warning": "attention", "info": "ok"}
MAX_MESSAGES = 2000


class MessageLog(QWidget):
    """A bounded list of messages, newest at the bottom."""

    message_added = pyqtSignal(str, str)  # level, text

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("messageLog")
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setTextElideMode(Qt.ElideNone)
        clear = QPushButton("Clear", self)
        clear.clicked.connect(self.list.clear)
        bar = QHBoxLayout()
        bar.addStretch(1)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.list)
        layout.addLayout(bar)
        theme_manager().connect_recolour(self, self._recolour)

    def _recolour(self) -> None:
        for row in range(self.list.count()):
            entry = self.list.item(row)
            entry.setForeground(QBrush(role_text(ROLES.get(entry.data(Qt.UserRole), "off"))))

    def add(self, level: str, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        entry = QListWidgetItem(f"{stamp}  {level.upper():7s} {text}")
        entry.setData(Qt.UserRole, level)
        entry.setForeground(QBrush(role_text(ROLES.get(level, "off"))))
        entry.setToolTip(text)
        at_bottom = self.list.verticalScrollBar().value() >= self.list.verticalScrollBar().maximum()
        self.list.addItem(entry)
        while self.list.count() > MAX_MESSAGES:
            self.list.takeItem(0)
        if at_bottom:
            self.list.scrollToBottom()
        self.message_added.emit(level, text)

    def messages(self, level: str | None = None) -> list[str]:
        """Texts of the messages (optionally of one level), oldest first."""
        out = []
        for row in range(self.list.count()):
            entry = self.list.item(row)
            if level is None or entry.data(Qt.UserRole) == level:
                out.append(entry.toolTip())
        return out
