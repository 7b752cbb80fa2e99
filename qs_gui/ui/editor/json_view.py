"""The raw JSON of the exact item that will be sent, editable and kept in sync with the form.

Form -> JSON: every form change rewrites the text (``show_item``), so what the operator reads is
what is sent. JSON -> form: the editor's state parses the text (debounced) with
:func:`~qs_gui.core.editor_text.parse_item_text`; a valid item is loaded into the form, an
invalid one shows its error here and blocks sending until it is fixed, because the text on
screen would otherwise disagree with what is sent.
"""

from __future__ import annotations

from typing import Any

from PyQt5.QtCore import QSignalBlocker, Qt, pyqtSignal
from PyQt5.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from qs_gui.core.editor_text import item_text
from qs_gui.ui.theme import css, role_text, style_text, theme_manager

from .style import mono_font

__all__ = ["JsonView"]


class JsonView(QWidget):
    """Monospace text of the item, an error line, and a hint."""

    text_edited = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("jsonView")
        self.edit = QPlainTextEdit(objectName="jsonEdit", tabChangesFocus=True)
        self.edit.setFont(mono_font())
        self.edit.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.error = QLabel(objectName="jsonError", wordWrap=True, visible=False)
        style_text(self.error, "alarm")
        self.error.setTextInteractionFlags(Qt.TextSelectableByMouse)
        hint = QLabel("This is exactly what will be sent. Edit it and the form follows; "
                      "while it is not a valid item, nothing can be sent.", wordWrap=True)
        style_text(hint, "muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(hint)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.error)
        self.edit.textChanged.connect(self._changed)
        theme_manager().connect_recolour(self, self._recolour)

    def _changed(self) -> None:
        if not self.edit.signalsBlocked():
            self.text_edited.emit()

    def text(self) -> str:
        return self.edit.toPlainText()

    def show_item(self, item: dict[str, Any]) -> None:
        """Replace the text (not an operator edit: no signal); keeps the scroll position."""
        text = item_text(item)
        if text == self.edit.toPlainText():
            return
        bar = self.edit.verticalScrollBar().value()
        cursor = self.edit.textCursor().position()
        with QSignalBlocker(self.edit):
            self.edit.setPlainText(text)
        c = self.edit.textCursor()
        c.setPosition(min(cursor, len(text)))
        self.edit.setTextCursor(c)
        self.edit.verticalScrollBar().setValue(bar)

    def set_text(self, text: str) -> None:
        with QSignalBlocker(self.edit):
            self.edit.setPlainText(text)

    def show_error(self, message: str | None) -> None:
        self.error.setText(f"JSON: {message}" if message else "")
        self.error.setVisible(bool(message))
        self._recolour()

    def _recolour(self) -> None:
        """The red border while the text is not a valid item (again on a theme change)."""
        self.edit.setStyleSheet(f"QPlainTextEdit {{ border: 1px solid {css(role_text('alarm'))}; }}"
                                if self.error.text() else "")
