"""Choosing from lists: a check box for bools, a fixed combo for literals/enums, and an editable
combo with completion for one device or plan name.

Same :class:`~qs_gui.ui.editor.fields.Field` contract as the other editors; see ``fields.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PyQt5.QtCore import QSignalBlocker, Qt
from PyQt5.QtWidgets import QCheckBox, QComboBox, QCompleter, QWidget

from .fields import Field, FieldError

__all__ = ["BoolField", "ChoiceField", "NameField"]


# ----- choices -------------------------------------------------------------------------------
class BoolField(Field):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(QCheckBox("true"), parent)
        self.box: QCheckBox = self.inner
        self.box.setObjectName("boolBox")
        self.box.toggled.connect(lambda on: self.box.setText("true" if on else "false"))
        self.box.setText("false")
        self.box.clicked.connect(self._emit)

    def value(self) -> Any:
        return self.box.isChecked()

    def set_value(self, value: Any) -> bool:
        if not isinstance(value, bool):
            return False
        with QSignalBlocker(self.box):
            self.box.setChecked(value)
            self.box.setText("true" if value else "false")
        return True

    def state(self) -> Any:
        return self.box.isChecked()

    def restore(self, state: Any) -> None:
        self.set_value(state is True)


class ChoiceField(Field):
    """Literal/enum/custom-list choices: a fixed list; nothing chosen is an error."""

    def __init__(self, choices: Sequence[Any], parent: QWidget | None = None):
        super().__init__(QComboBox(), parent)
        self.combo: QComboBox = self.inner
        self.combo.setObjectName("choiceCombo")
        self.choices = list(choices)
        for c in self.choices:
            self.combo.addItem(c if isinstance(c, str) else repr(c))
        self.combo.setPlaceholderText("choose…")
        self.combo.setCurrentIndex(-1)
        self.combo.activated.connect(self._emit)

    def value(self) -> Any:
        i = self.combo.currentIndex()
        if i < 0:
            raise FieldError("choose one of the listed values")
        return self.choices[i]

    def set_value(self, value: Any) -> bool:
        for i, c in enumerate(self.choices):
            if c == value and type(c) is type(value):
                with QSignalBlocker(self.combo):
                    self.combo.setCurrentIndex(i)
                return True
        return False

    def clear(self) -> None:
        with QSignalBlocker(self.combo):
            self.combo.setCurrentIndex(-1)

    def state(self) -> Any:
        return self.combo.currentIndex()

    def restore(self, state: Any) -> None:
        with QSignalBlocker(self.combo):
            ok = isinstance(state, int) and -1 <= state < len(self.choices)
            self.combo.setCurrentIndex(state if ok else -1)


class NameField(Field):
    """One device (or plan) name: an editable combo of the allowed names, with completion.

    Typing a name that is not listed is allowed (a component path such as ``det1.val`` of a
    device whose components are not all listed); validation then names the problem.
    """

    def __init__(self, names_for: Any, what: str = "a device", parent: QWidget | None = None):
        super().__init__(QComboBox(), parent)
        self.combo: QComboBox = self.inner
        self.combo.setObjectName("nameCombo")
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.NoInsert)
        self.combo.lineEdit().setPlaceholderText(f"choose {what}…")
        self._names_for = names_for  # index -> list of names
        self._what = what
        completer = QCompleter(self.combo.model(), self.combo)
        completer.setCaseSensitivity(Qt.CaseInsensitive)
        completer.setFilterMode(Qt.MatchContains)
        self.combo.setCompleter(completer)
        self.combo.lineEdit().textEdited.connect(self._emit)
        self.combo.activated.connect(self._emit)
        self.set_devices(None)

    def set_devices(self, index: Any) -> None:
        names = list(self._names_for(index))
        text = self.combo.currentText()
        with QSignalBlocker(self.combo):
            self.combo.clear()
            self.combo.addItems(names)
            self.combo.setCurrentIndex(-1)
            self.combo.setEditText(text)

    def value(self) -> Any:
        text = self.combo.currentText().strip()
        if not text:
            raise FieldError(f"choose {self._what}")
        return text

    def set_value(self, value: Any) -> bool:
        if not isinstance(value, str) or not value.strip() or value != value.strip():
            return False
        with QSignalBlocker(self.combo):
            self.combo.setEditText(value)
        return True

    def clear(self) -> None:
        with QSignalBlocker(self.combo):
            self.combo.setEditText("")

    def state(self) -> Any:
        return self.combo.currentText()

    def restore(self, state: Any) -> None:
        with QSignalBlocker(self.combo):
            self.combo.setEditText(state if isinstance(state, str) else "")
