"""Lock / unlock the environment and/or the queue: what to lock, a note, and the lock key.

Why it is built this way:

* Passive view: the Lock and Unlock buttons follow the QActions the main window passes in (their
  enabled state and reason come from ``core.gates``); the panel only collects the request and says,
  inline, what is missing before a Lock request could make sense.
* The lock key is a secret shared only by the people allowed to act while the manager is locked.
  It lives in this widget and in the client's memory, nowhere else: this module never writes it to
  QSettings, a file or a log, and the field is in password mode unless the operator asks to see it.
  A generated key is shown so it can be noted down, and masked again as soon as Lock or Unlock is
  pressed or the lock state changes: it does not stay readable on a shared screen.
* The current lock sentence is shown once, in the status panel's "Lock" row (neutral colour: a
  lock is a normal state). ``info_label`` keeps the text (for the inline checks), hidden.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from PyQt5.QtCore import QSignalBlocker, Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QAction,
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qs_gui.ui.status_panel import describe_lock
from qs_gui.ui.theme import style_text

__all__ = ["LockPanel", "NO_KEY", "NOTHING_SELECTED"]

NOTHING_SELECTED = "Tick Environment and/or Queue to choose what to lock."
NO_KEY = "Enter a lock key or press Generate."


class LockPanel(QWidget):
    """Choose what to lock, add a note, hold the lock key; shows who holds the current lock."""

    key_changed = pyqtSignal(str)  # the operator typed or generated a key ("" when cleared)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lockPanel")
        self._lock_action: QAction | None = None
        self._was_locked = False
        self.env_box = QCheckBox("Environment", objectName="lockEnvironment")
        self.env_box.setToolTip("Lock opening/closing the environment, running and pausing plans")
        self.queue_box = QCheckBox("Queue", objectName="lockQueue")
        self.queue_box.setToolTip("Lock editing the queue and the history")
        self.note_edit = QLineEdit(objectName="lockNote")
        self.note_edit.setPlaceholderText("Why it is locked (shown to everyone; optional)")
        # The key: in memory only. Deliberately never saved to QSettings or any file (it would
        # let anyone with access to this account's settings act on a locked manager).
        self.key_edit = QLineEdit(objectName="lockKey", echoMode=QLineEdit.Password)
        self.key_edit.setPlaceholderText("Lock key")
        self.key_edit.textChanged.connect(self._key_edited)
        self.show_button = QToolButton(objectName="showKey", text="Show", checkable=True)
        self.show_button.setToolTip("Show the lock key")
        self.show_button.toggled.connect(self._show_key)
        self.generate_button = QPushButton("Generate", objectName="generateKey")
        self.generate_button.setToolTip("Make a new random key (note it down to unlock later)")
        self.generate_button.clicked.connect(self.generate_key)
        self.lock_button = QToolButton(objectName="lockButton")
        self.unlock_button = QToolButton(objectName="unlockButton")
        for button in (self.lock_button, self.unlock_button):
            button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
            button.setMinimumWidth(80)
            button.setVisible(False)
        self.error_label = QLabel(objectName="lockError", wordWrap=True, visible=False)
        style_text(self.error_label, "alarm")
        # The lock sentence lives in the status panel (shown once); kept here, hidden, as state.
        self.info_label = QLabel("—", self, objectName="lockInfo", wordWrap=True, visible=False)
        for box in (self.env_box, self.queue_box):
            box.toggled.connect(self._clear_error)

        # The form is rarely used: it folds away under a header, so the status column stays
        # short on a laptop screen. It opens by itself when the manager is locked (the key is
        # then needed) and whenever it has something to say (a missing key, a new key).
        self.toggle = QToolButton(objectName="lockToggle", text="Lock controls", checkable=True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.toggle.setAutoRaise(True)
        self.toggle.toggled.connect(self.set_expanded)
        self.form = QWidget(objectName="lockForm")
        grid = QGridLayout(self.form)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setColumnStretch(1, 1)
        boxes = QHBoxLayout()
        boxes.addWidget(self.env_box)
        boxes.addWidget(self.queue_box)
        boxes.addStretch(1)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.show_button)
        key_row.addWidget(self.generate_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.lock_button)
        buttons.addWidget(self.unlock_button)
        buttons.addStretch(1)
        rows: list[tuple[str, Any]] = [
            ("Lock", boxes),
            ("Note", self.note_edit),
            ("Key", key_row),
            ("", buttons),
            ("", self.error_label),
        ]
        for row, (text, item) in enumerate(rows):
            if text:
                grid.addWidget(QLabel(text), row, 0)
            if isinstance(item, QWidget):
                grid.addWidget(item, row, 1)
            else:
                grid.addLayout(item, row, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.toggle, 0, Qt.AlignLeft)
        column.addWidget(self.form)
        column.addStretch(1)
        self.set_expanded(False)

    def expanded(self) -> bool:
        return not self.form.isHidden()

    def set_expanded(self, expanded: bool) -> None:
        """Show or fold the lock form."""
        with QSignalBlocker(self.toggle):
            self.toggle.setChecked(expanded)
        self.toggle.setArrowType(Qt.DownArrow if expanded else Qt.RightArrow)
        self.form.setVisible(expanded)

    # ----- actions -----------------------------------------------------------------------------
    def set_actions(self, lock: QAction, unlock: QAction) -> None:
        """The buttons follow these actions; triggering Lock also shows what is missing inline."""
        if self._lock_action is not None:
            self._lock_action.triggered.disconnect(self._lock_triggered)
        self._lock_action = lock
        lock.triggered.connect(self._lock_triggered)
        unlock.triggered.connect(self.mask_key)
        self.lock_button.setDefaultAction(lock)
        self.unlock_button.setDefaultAction(unlock)
        self.lock_button.setVisible(True)
        self.unlock_button.setVisible(True)

    def _lock_triggered(self) -> None:
        self.mask_key()
        self.validate_lock_request()

    # ----- key ---------------------------------------------------------------------------------
    def key(self) -> str | None:
        """The key as typed (not stripped: it must match exactly), None when empty."""
        return self.key_edit.text() or None

    def set_key(self, key: str | None) -> None:
        """Show ``key`` (e.g. the client's current key) without emitting ``key_changed``."""
        with QSignalBlocker(self.key_edit):
            self.key_edit.setText(key or "")
        self._clear_error()

    def generate_key(self) -> str:
        """A fresh random key, shown in clear so the operator can note it down."""
        key = secrets.token_urlsafe(12)
        self.set_expanded(True)
        self.key_edit.setText(key)  # emits key_changed through _key_edited
        self.show_button.setChecked(True)
        return key

    def mask_key(self) -> None:
        """Hide the key again (after Lock/Unlock, or when the lock changes)."""
        self.show_button.setChecked(False)

    def key_masked(self) -> bool:
        return self.key_edit.echoMode() == QLineEdit.Password

    def _key_edited(self, text: str) -> None:
        self._clear_error()
        self.key_changed.emit(text)

    def _show_key(self, shown: bool) -> None:
        self.key_edit.setEchoMode(QLineEdit.Normal if shown else QLineEdit.Password)
        self.show_button.setText("Hide" if shown else "Show")
        self.show_button.setToolTip("Hide the lock key" if shown else "Show the lock key")

    # ----- request -----------------------------------------------------------------------------
    def lock_request(self) -> dict[str, Any]:
        """What to lock: ``{"environment", "queue", "note"}`` (note None when empty)."""
        note = self.note_edit.text().strip()
        return {
            "environment": self.env_box.isChecked(),
            "queue": self.queue_box.isChecked(),
            "note": note or None,
        }

    def validate_lock_request(self) -> str | None:
        """Why a Lock request cannot be sent (also shown inline), or None when it can."""
        request = self.lock_request()
        if not (request["environment"] or request["queue"]):
            error: str | None = NOTHING_SELECTED
        elif self.key() is None:
            error = NO_KEY
        else:
            error = None
        self.error_label.setText(error or "")
        self.error_label.setVisible(error is not None)
        if error is not None:
            self.set_expanded(True)
        return error

    def _clear_error(self) -> None:
        self.error_label.clear()
        self.error_label.setVisible(False)

    # ----- current lock ------------------------------------------------------------------------
    def set_lock_info(self, lock_info: Mapping[str, Any] | None) -> None:
        """Track the manager's current lock (``lock_info`` reply; "—" when unknown)."""
        info = lock_info if isinstance(lock_info, Mapping) else None
        text = describe_lock(None, info)
        self.info_label.setText(text)
        locked = text not in ("—", "Not locked")
        if locked != self._was_locked:
            self.mask_key()
        if locked and not self._was_locked:  # the key may now be needed: show where it goes
            self.set_expanded(True)
        self._was_locked = locked
