"""Editors for collections: device multi-pickers, row lists of numbers/text, key/value rows.

Why these shapes:

* Device lists (``Sequence[__READABLE__]``, ``List[Motors]``) are a checkable list of the allowed
  names, filtered by the annotation's readable/movable/flyable flag, with component paths
  (``det1.val``) behind a toggle. The *order* of ticking is kept and shown, because it matters
  (``move_then_count`` pairs ``motors`` with ``positions``). A name that is not offered can be
  typed into the filter and added with Enter; a loaded name that is not allowed is shown in red,
  never dropped.
* Lists of scalars get one typed editor per row with add/remove buttons: a spin box per number
  is harder to get wrong than a comma-separated text.
* Key/value rows serve ``dict`` parameters, ``**kwargs`` and metadata: keys are plain text,
  values are literals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PyQt5.QtCore import QSignalBlocker, Qt
from PyQt5.QtGui import QBrush, QColor
from PyQt5.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qs_gui.ui.theme import theme_manager

from .fields import Field, FieldError, LiteralField, literal_text
from .style import error_text, set_default_look

__all__ = ["DeviceListField", "KeyValueField", "ListField"]

_VISIBLE_ROWS = 7
_FEW = 6  # up to this many names: no filter line, list exactly as tall as the names


def _tool(text: str, tip: str, name: str) -> QToolButton:
    button = QToolButton(objectName=name, text=text, toolTip=tip)
    button.setAutoRaise(True)
    return button


class DeviceListField(Field):
    """Several names from a list (see module docstring); the value is the ticked names in order."""

    def __init__(self, names_for: Callable[[Any], Sequence[str]], required: bool = False,
                 parent: QWidget | None = None):  # fmt: skip
        super().__init__(QWidget(), parent)
        self._names_for = names_for
        self._required = required
        self._order: list[str] = []
        self.filter = QLineEdit(objectName="deviceFilter", clearButtonEnabled=True)
        self.filter.setPlaceholderText("Filter…")
        self.filter.setToolTip("Show names containing this text; Enter adds the typed name "
                               "(e.g. a component path such as det1.val)")
        self.components = QCheckBox("components", objectName="showComponents")
        self.components.setToolTip("Also list sub-devices such as det1.val")
        self.list = QListWidget(objectName="deviceList")
        self.list.setUniformItemSizes(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # long names are elided
        self.summary = QLabel(objectName="deviceSummary")
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        # one line, clipped when narrow (full text in the tooltip): a wrapped label inside the
        # form's grid is not given its wrapped height and would overlap the list
        self.summary.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.filter, 1)
        top.addWidget(self.components)
        box = QVBoxLayout(self.inner)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addLayout(top)
        box.addWidget(self.list)
        box.addWidget(self.summary)
        self.filter.textChanged.connect(self._apply_filter)
        self.filter.returnPressed.connect(self._add_typed)
        self.components.toggled.connect(self._apply_filter)
        self.list.itemChanged.connect(self._item_changed)
        self.set_devices(None)
        theme_manager().connect_recolour(self, self._recolour)

    def _recolour(self) -> None:
        """Names outside the allowed list in the new theme's red (the items stay as they are)."""
        allowed, red = set(self._allowed), QBrush(QColor(error_text()))
        with QSignalBlocker(self.list):
            for i in range(self.list.count()):
                item = self.list.item(i)
                if item.text() not in allowed:
                    item.setForeground(red)

    # names ---------------------------------------------------------------------------------
    def set_devices(self, index: Any) -> None:
        self._allowed = list(dict.fromkeys(self._names_for(index)))
        self._has_components = any("." in n for n in self._allowed)
        self.components.setVisible(self._has_components)
        self._rebuild()

    def _rebuild(self) -> None:
        with QSignalBlocker(self.list):
            self.list.clear()
            allowed = set(self._allowed)
            # ticked names first (in order), so a loaded selection is visible without scrolling
            for name in self._order + [n for n in self._allowed if n not in self._order]:
                item = QListWidgetItem(name)
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Checked if name in self._order else Qt.Unchecked)
                if name not in allowed:
                    item.setForeground(QBrush(QColor(error_text())))
                    item.setToolTip(f"{name!r} is not in the allowed list")
                self.list.addItem(item)
        self._apply_filter()
        self._update_summary()
        self._fit()

    def _fit(self) -> None:
        """As tall as the names need, up to a few rows; no filter for a handful of names."""
        row = self.list.sizeHintForRow(0) if self.list.count() else self.fontMetrics().height()
        shown = sum(1 for i in range(self.list.count()) if not self.list.item(i).isHidden())
        few = self.list.count() <= _FEW and not self._has_components
        self.filter.setVisible(not few)
        self.list.setFixedHeight(row * max(1, min(_VISIBLE_ROWS, shown if few else _VISIBLE_ROWS))
                                 + 2 * self.list.frameWidth() + 2)  # fmt: skip
        self.refit(self.list)

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self._fit()  # row heights are only final once the list is polished (shown)

    def _apply_filter(self, *_args: Any) -> None:
        text = self.filter.text().strip().lower()
        show_components = self.components.isChecked() or bool(text)
        for i in range(self.list.count()):
            item = self.list.item(i)
            name = item.text()
            hidden = (text and text not in name.lower()) or (
                "." in name and not show_components and item.checkState() != Qt.Checked)
            item.setHidden(bool(hidden))

    def _item_changed(self, item: QListWidgetItem) -> None:
        name = item.text()
        if item.checkState() == Qt.Checked and name not in self._order:
            self._order.append(name)
        elif item.checkState() != Qt.Checked and name in self._order:
            self._order.remove(name)
        self._update_summary()
        self._emit()

    def _add_typed(self) -> None:
        name = self.filter.text().strip()
        if not name:
            return
        if name not in self._order:
            self._order.append(name)
        self.filter.clear()
        self._rebuild()
        self._emit()

    def _update_summary(self) -> None:
        if self._order:
            self.summary.setText("Selected (in order): " + ", ".join(self._order))
        else:
            self.summary.setText("Nothing selected" + (" (required)" if self._required else ""))
        self.summary.setToolTip(self.summary.text())

    # Field contract --------------------------------------------------------------------------
    def value(self) -> Any:
        if not self._order and self._required:
            raise FieldError("choose at least one")
        return list(self._order)

    def set_value(self, value: Any) -> bool:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return False
        if len(set(value)) != len(value) or (self._required and not value):
            return False  # duplicates / an explicit [] cannot be shown as ticks: use a literal
        self._order = list(value)
        self._rebuild()
        return True

    def clear(self) -> None:
        self._order = []
        self._rebuild()

    def state(self) -> Any:
        return list(self._order)

    def restore(self, state: Any) -> None:
        ok = isinstance(state, list) and all(isinstance(v, str) for v in state)
        self._order = list(dict.fromkeys(state)) if ok else []
        self._rebuild()

    def set_default_look(self, on: bool) -> None:
        set_default_look(self.list, on, "QListWidget")

    def check(self, name: str, on: bool = True) -> None:
        """Tick or untick ``name`` as the operator would (for tests and keyboard helpers)."""
        for i in range(self.list.count()):
            if self.list.item(i).text() == name:
                self.list.item(i).setCheckState(Qt.Checked if on else Qt.Unchecked)
                return
        raise KeyError(name)


class ListField(Field):
    """A list edited as rows of one element editor each, with add (+) and remove (−)."""

    def __init__(self, make_row: Callable[[], Field], required: bool = False,
                 parent: QWidget | None = None):  # fmt: skip
        super().__init__(QWidget(), parent)
        self._make_row = make_row
        self._required = required
        self.rows: list[Field] = []
        self._box = QVBoxLayout(self.inner)
        self._box.setContentsMargins(0, 0, 0, 0)
        self._box.setSpacing(2)
        self.add_button = _tool("+ Add", "Add a row", "addRow")
        self.add_button.setAutoRaise(False)
        self.add_button.clicked.connect(self._add_clicked)
        self.empty_label = QLabel("(empty list)", objectName="emptyList")
        bottom = QHBoxLayout()
        bottom.addWidget(self.add_button)
        bottom.addWidget(self.empty_label)
        bottom.addStretch(1)
        self._box.addLayout(bottom)
        self._update_empty()

    def _add_clicked(self) -> None:
        row = self.add_row()
        row.setFocus()
        self._emit()

    def add_row(self) -> Field:
        field = self._make_row()
        holder = QWidget()
        line = QHBoxLayout(holder)
        line.setContentsMargins(0, 0, 0, 0)
        line.setSpacing(2)
        line.addWidget(field, 1)
        remove = _tool("−", "Remove this row", "removeRow")
        line.addWidget(remove)
        remove.clicked.connect(lambda: self._remove(holder, field))
        field.edited.connect(self._emit)
        self._box.insertWidget(len(self.rows), holder)
        self.rows.append(field)
        self._update_empty()
        return field

    def _remove(self, holder: QWidget, field: Field) -> None:
        if field in self.rows:
            self.rows.remove(field)
        holder.setParent(None)
        holder.deleteLater()
        self._update_empty()
        self._emit()

    def _update_empty(self) -> None:
        self.empty_label.setVisible(not self.rows)
        self.refit(self.inner)

    def value(self) -> Any:
        out = []
        for i, row in enumerate(self.rows):
            try:
                out.append(row.value())
            except FieldError as ex:
                raise FieldError(f"item {i + 1}: {ex}") from None
        if not out and self._required:
            raise FieldError("add at least one value")
        return out

    def set_value(self, value: Any) -> bool:
        if not isinstance(value, list) or (self._required and not value):
            return False
        probe = [self._make_row() for _ in value]
        ok = all(f.set_value(v) for f, v in zip(probe, value, strict=True))
        for f in probe:
            f.deleteLater()
        if not ok:
            return False
        self._set_rows(len(value))
        for row, v in zip(self.rows, value, strict=True):
            row.set_value(v)
        return True

    def _set_rows(self, n: int) -> None:
        with QSignalBlocker(self):
            while len(self.rows) > n:
                field = self.rows.pop()
                holder = field.parentWidget()
                if holder is not None:
                    holder.setParent(None)
                    holder.deleteLater()
            while len(self.rows) < n:
                self.add_row()
        self._update_empty()

    def clear(self) -> None:
        self._set_rows(0)

    def state(self) -> Any:
        return [row.state() for row in self.rows]

    def restore(self, state: Any) -> None:
        states = state if isinstance(state, list) else []
        self._set_rows(len(states))
        for row, s in zip(self.rows, states, strict=True):
            row.restore(s)

    def set_default_look(self, on: bool) -> None:
        for row in self.rows:
            row.set_default_look(on)

    def set_devices(self, index: Any) -> None:
        for row in self.rows:
            row.set_devices(index)


class KeyValueField(Field):
    """A dictionary as rows of key (text) and value (literal). Blank rows are ignored."""

    def __init__(self, bare_words: bool = False, parent: QWidget | None = None):
        super().__init__(QWidget(), parent)
        self._bare = bare_words
        self.rows: list[tuple[QLineEdit, LiteralField, QWidget]] = []
        self._grid = QGridLayout(self.inner)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(2)
        self._grid.setVerticalSpacing(2)
        self._grid.setColumnStretch(0, 2)
        self._grid.setColumnStretch(1, 3)
        self.add_button = _tool("+ Add", "Add a key", "addKey")
        self.add_button.setAutoRaise(False)
        self.add_button.clicked.connect(self._add_clicked)
        self._grid.addWidget(self.add_button, 0, 0, Qt.AlignLeft)

    def _add_clicked(self) -> None:
        key, _, _ = self.add_row()
        key.setFocus()
        self._emit()

    def add_row(self) -> tuple[QLineEdit, LiteralField, QWidget]:
        key = QLineEdit(objectName="keyEdit", placeholderText="key")
        value = LiteralField(self._bare, placeholder="value")
        remove = _tool("−", "Remove this key", "removeKey")
        row = (key, value, remove)
        key.textEdited.connect(self._emit)
        value.edited.connect(self._emit)
        remove.clicked.connect(lambda: self._remove(row))
        self.rows.append(row)
        self._relayout()
        return row

    def _remove(self, row: tuple[QLineEdit, LiteralField, QWidget]) -> None:
        if row in self.rows:
            self.rows.remove(row)
            for w in row:
                w.setParent(None)
                w.deleteLater()
            self._relayout()
            self._emit()

    def _relayout(self) -> None:
        for i, (key, value, remove) in enumerate(self.rows):
            self._grid.addWidget(key, i, 0)
            self._grid.addWidget(value, i, 1)
            self._grid.addWidget(remove, i, 2)
        self._grid.addWidget(self.add_button, len(self.rows), 0, Qt.AlignLeft)
        self.refit(self.inner)

    def value(self) -> Any:
        out: dict[str, Any] = {}
        for i, (key, value, _) in enumerate(self.rows):
            k = key.text()
            if not k.strip() and not value.state().strip():
                continue
            if not k.strip():
                raise FieldError(f"row {i + 1}: enter a key")
            if k in out:
                raise FieldError(f"key {k!r} is given twice")
            try:
                out[k] = value.value()
            except FieldError as ex:
                raise FieldError(f"{k!r}: {ex}") from None
        return out

    def set_value(self, value: Any) -> bool:
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and k.strip() and "\n" not in k and "\r" not in k
                for k in value):
            return False  # blank keys are refused by value(): show such a dict as a literal
        self._set_rows([[k, literal_text(v, self._bare)] for k, v in value.items()])
        return True

    def _set_rows(self, pairs: list[list[str]]) -> None:
        while len(self.rows) > len(pairs):
            for w in self.rows.pop():
                w.setParent(None)
                w.deleteLater()
        while len(self.rows) < len(pairs):
            self.add_row()
        for (key, value, _), (k, v) in zip(self.rows, pairs, strict=True):
            with QSignalBlocker(key):
                key.setText(k)
            value.restore(v)
        self._relayout()

    def clear(self) -> None:
        self._set_rows([])

    def state(self) -> Any:
        return [[key.text(), value.state()] for key, value, _ in self.rows]

    def restore(self, state: Any) -> None:
        ok = isinstance(state, list) and all(
            isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(s, str) for s in p)
            for p in state)  # fmt: skip
        self._set_rows([list(p) for p in state] if ok else [])

    def set_default_look(self, on: bool) -> None:
        for key, value, _ in self.rows:
            set_default_look(key, on)
            value.set_default_look(on)
