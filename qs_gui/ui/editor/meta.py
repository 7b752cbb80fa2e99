"""Metadata (``meta``) of the item: key/value rows, or one literal for anything else.

The server accepts a dictionary or a list of dictionaries (merged in order). Rows are the easy
way for the usual dictionary; the literal mode shows any other shape exactly, so a loaded item's
metadata is never reshaped or dropped.
"""

from __future__ import annotations

from typing import Any

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from qs_gui.ui.theme import style_text

from .fields import FieldError, LiteralField
from .lists import KeyValueField

__all__ = ["MetaEditor"]


class MetaEditor(QWidget):
    """``value()`` is None (nothing to send), a dict or a list; raises FieldError when the text
    is not a value."""

    edited = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("metaEditor")
        self.rows = KeyValueField()
        self.rows.setObjectName("metaRows")
        self.literal = LiteralField(placeholder='e.g. {"sample": "Si", "operator": "ab"}')
        self.literal.setObjectName("metaLiteral")
        self.mode = QToolButton(objectName="metaMode", text="{}", checkable=True)
        self.mode.setToolTip("Edit the metadata as one JSON / Python literal")
        self.error = QLabel(objectName="metaError", wordWrap=True, visible=False)
        style_text(self.error, "alarm")
        hint = QLabel("Metadata is stored with the run (start document). Values are JSON or "
                      "Python literals.", wordWrap=True)
        style_text(hint, "muted")
        top = QHBoxLayout()
        top.addWidget(hint, 1)
        top.addWidget(self.mode)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.rows)
        layout.addWidget(self.literal)
        layout.addWidget(self.error)
        layout.addStretch(1)
        self.rows.edited.connect(self.edited)
        self.literal.edited.connect(self.edited)
        self.mode.clicked.connect(self._mode_clicked)
        self._show(False)

    def _show(self, literal: bool) -> None:
        self.mode.setChecked(literal)
        self.rows.setVisible(not literal)
        self.literal.setVisible(literal)

    def _mode_clicked(self, literal: bool) -> None:
        try:  # the value as the previous mode shows it (the button has already toggled)
            value = (self.rows.value() or None) if literal else self._literal_value()
        except FieldError:
            value = None
            if not literal:  # cannot turn unparsable text into rows: stay
                self._show(True)
                return
        if literal and value is not None:
            self.literal.set_value(value)
        elif literal:
            self.literal.clear()
        elif value is None or isinstance(value, dict):
            self.rows.set_value(value or {})
        else:
            self._show(True)
            self.show_error("meta: this metadata can only be edited as a literal")
            return
        self._show(literal)
        self.edited.emit()

    def _literal_value(self) -> Any:
        return self.literal.value() if self.literal.state().strip() else None

    def value(self) -> Any:
        if self.mode.isChecked():
            return self._literal_value()
        return self.rows.value() or None

    def set_value(self, meta: Any) -> None:
        if meta is None or meta == {}:
            self.rows.clear()
            self.literal.clear()
            self._show(False)
        elif self.rows.set_value(meta):
            self._show(False)
        else:
            self.literal.set_value(meta)
            self._show(True)

    def state(self) -> Any:
        return {"literal": self.mode.isChecked(), "rows": self.rows.state(),
                "text": self.literal.state()}

    def restore(self, state: Any) -> None:
        if not isinstance(state, dict):
            return
        self.rows.restore(state.get("rows"))
        self.literal.restore(state.get("text"))
        self._show(state.get("literal") is True)

    def show_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))
