"""``*args`` of scan-like plans as labelled rows: one row per motor, one column per slot.

Why: ``scan``'s ``*args`` is one flat list of repeated ``motor, start, stop`` groups, and a list
of loose values lets ``[motor, -1]`` (a missing stop) through to fail at run time. Here the
group (:class:`~qs_gui.core.schema.plan_args.ArgsPattern`, from the plan's description or
bluesky's known signatures) gives the columns, each slot gets the right editor (a motor picker,
numbers, a whole number for ``num``, a list for positions), an empty slot is an inline error
that names the row ("Row 1: stop is missing"), and a motor that is not an allowed movable device
is tinted as a warning (the editor asks the operator to accept it before sending).

The value is what the server takes: the flat list (``motor, start, stop, motor2, …``), or one
``[motor, positions]`` element per row when the annotation is a tuple (``list_scan``). Values
this shape cannot show (the legacy trailing ``num``, ``snake`` flags, a number where the motor
goes) are refused by :meth:`ArgsGroupsField.set_value`, and the row falls back to its literal
editor, so nothing loaded is ever dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QPalette
from PyQt5.QtWidgets import (
    QApplication,
    QGridLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qs_gui.core.schema.plan_args import ArgsPattern
from qs_gui.ui.theme import theme_manager

from .choices import NameField
from .fields import Field, FieldError, FloatField, IntField, LiteralField
from .style import blend, mark_colour

__all__ = ["ArgsGroupsField"]

_TITLES = {"motor": "Motor", "start": "Start", "stop": "Stop", "num": "Points",
           "positions": "Positions"}  # fmt: skip


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _proxy(cell: QWidget) -> QWidget:
    """The widget that takes the focus (not ``or``: an empty combo box is falsy in PyQt)."""
    proxy = cell.focusProxy()
    return proxy if proxy is not None else cell


def _tint(widget: QWidget, mark: str) -> None:
    """Mark an input by mixing the theme's "error"/"warning" colour into its background
    ("": the inherited palette). A palette, not a style sheet: spin boxes and combo boxes keep
    their native look. Set on the inner line edit too: Qt does not always pass a parent's palette
    change on to it (a cleared tint stayed on a spin box's text)."""
    colour = mark_colour(mark)
    palette = QPalette()  # nothing set: inherits again
    if colour is not None:
        base = QApplication.palette().color(QPalette.Base)  # a widget's palette lags a switch
        palette.setColor(QPalette.Base, blend(base, colour, 0.25))
    for w in (widget, *widget.findChildren(QLineEdit)):
        w.setPalette(palette)


class _Row:
    """The widgets of one motor's group."""

    def __init__(self, label: QLabel, cells: list[Field], remove: QToolButton):
        self.label, self.cells, self.remove = label, cells, remove

    def widgets(self) -> list[QWidget]:
        return [self.label, *self.cells, self.remove]


class ArgsGroupsField(Field):
    """Rows of (motor, start, stop…) with add/remove; see the module docstring."""

    def __init__(self, pattern: ArgsPattern, names_for: Callable[[Any], list[str]],
                 nested: bool = False, parent: QWidget | None = None):  # fmt: skip
        super().__init__(QWidget(), parent)
        self.setObjectName("argsGroups")
        self.pattern = pattern
        self.fields = [f for f in pattern.fields]
        self.nested = nested
        self._names_for = names_for
        self._index: Any = None
        self._allowed: set[str] | None = None
        self.rows: list[_Row] = []
        theme_manager().connect_recolour(self, self._retint)
        box = QVBoxLayout(self.inner)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(3)
        self.grid.setVerticalSpacing(2)
        box.addLayout(self.grid)
        self.headers = [QLabel(f"<b>{_TITLES.get(f, f.capitalize())}</b>",
                               objectName=f"argsHeader_{f}") for f in self.fields]  # fmt: skip
        for col, header in enumerate(self.headers, 1):
            header.setToolTip(f"{header.text()[3:-4]} of each motor")
            self.grid.addWidget(header, 0, col)
            self.grid.setColumnStretch(col, 2 if self.fields[col - 1] == "motor" else 1)
        self.add_button = QToolButton(objectName="addArgsRow", text="+ Add motor")
        self.add_button.setToolTip(
            f"Add a row: one more motor ({', '.join(self.fields)}). Alt+Insert in a row")
        self.add_button.setFocusPolicy(Qt.StrongFocus)
        self.add_button.clicked.connect(self._add_clicked)
        box.addWidget(self.add_button, 0, Qt.AlignLeft)
        self._set_rows(1)

    # ----- rows --------------------------------------------------------------------------------
    def _cell(self, field: str) -> Field:
        kind = self.pattern.kind(field)
        if kind == "motor":
            cell: Field = NameField(self._names_for, "a motor")
            cell.set_devices(self._index)
        elif kind == "int":
            cell = IntField(1, None)
            cell.clear()
        elif kind == "positions":
            cell = LiteralField(placeholder="[1, 2, 3]")
        else:
            cell = FloatField()
            cell.clear()
        cell.setObjectName(f"args_{field}")
        cell.edited.connect(self._cell_edited)
        # the columns share the form's width (a spin box's own hint is far too wide for 520 px)
        for w in (cell, _proxy(cell)):
            w.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
            w.setMinimumWidth(90 if kind == "motor" else 56)
        return cell

    def add_row(self) -> _Row:
        """Append an empty row (no signal)."""
        n = len(self.rows) + 1
        label = QLabel(f"Row {n}", objectName="argsRowLabel")
        cells = [self._cell(f) for f in self.fields]
        remove = QToolButton(objectName="removeArgsRow", text="−")
        remove.setToolTip("Remove this motor's row (Alt+Delete in the row)")
        remove.setFocusPolicy(Qt.StrongFocus)
        row = _Row(label, cells, remove)
        remove.clicked.connect(lambda: self._remove(row))
        self.rows.append(row)
        self._relayout()
        for w in row.widgets():
            w.show()  # now, not queued by the layout: the next Tab may go into it
        return row

    def _add_clicked(self) -> None:
        row = self.add_row()
        row.cells[0].setFocus(Qt.TabFocusReason)
        self._emit()

    def _remove(self, row: _Row) -> None:
        if row not in self.rows:
            return
        i = self.rows.index(row)
        focus = self.focusWidget()
        focus_next = focus is not None and any(w is focus or w.isAncestorOf(focus)
                                               for w in row.widgets())  # fmt: skip
        self.rows.remove(row)
        for w in row.widgets():
            self.grid.removeWidget(w)
            w.hide()
            w.deleteLater()
        if not self.rows:
            self.add_row()
        self._relayout()
        if focus_next:
            target = self.rows[min(i, len(self.rows) - 1)].cells[0]
            target.setFocus(Qt.TabFocusReason)
        self._emit()

    def _relayout(self) -> None:
        for r, row in enumerate(self.rows, 1):
            row.label.setText(f"Row {r}")
            self.grid.addWidget(row.label, r, 0)
            for c, cell in enumerate(row.cells, 1):
                self.grid.addWidget(cell, r, c)
            self.grid.addWidget(row.remove, r, len(self.fields) + 1)
        if self.rows:
            self.setFocusProxy(self.rows[0].cells[0])
        self._mark()
        self.refit(self.inner)

    def _set_rows(self, n: int) -> None:
        n = max(1, n)
        while len(self.rows) > n:
            row = self.rows.pop()
            for w in row.widgets():
                self.grid.removeWidget(w)
                w.hide()
                w.deleteLater()
        while len(self.rows) < n:
            self.add_row()
        self._relayout()

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        """Alt+Insert adds a row, Alt+Delete removes the focused one (keyboard, no Tab trip)."""
        if event.modifiers() == Qt.AltModifier and event.key() == Qt.Key_Insert:
            self._add_clicked()
        elif event.modifiers() == Qt.AltModifier and event.key() == Qt.Key_Delete:
            focus = self.focusWidget()
            row = next((r for r in self.rows if any(
                w is focus or w.isAncestorOf(focus) for w in r.widgets())), None)  # fmt: skip
            if row is not None:
                self._remove(row)
        else:
            super().keyPressEvent(event)

    def focus_widgets(self) -> list[QWidget]:
        """The tab stops in reading order: each row's cells and its remove button, then Add."""
        out: list[QWidget] = []
        for row in self.rows:
            out += [_proxy(c) for c in row.cells] + [row.remove]
        return out + [self.add_button]

    # ----- inline marks ------------------------------------------------------------------------
    def _cell_edited(self) -> None:
        self._mark()
        self._emit()

    @staticmethod
    def _empty(cell: Field) -> bool:
        try:
            return cell.state() in ("", None) or (isinstance(cell.state(), str)
                                                  and not cell.state().strip())  # fmt: skip
        except NotImplementedError:
            return False

    def _row_problem(self, r: int, row: _Row) -> str | None:
        missing = [f for f, c in zip(self.fields, row.cells, strict=True) if self._empty(c)]
        if missing and len(missing) == len(self.fields) and len(self.rows) == 1:
            return None  # the one empty row of a fresh form: "add at least one motor" speaks
        if len(missing) == len(self.fields):
            return f"Row {r} is empty: fill it in or remove it (−)"
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            return f"Row {r}: {_and(missing)} {verb} missing"
        return None

    def _mark(self) -> None:
        """Outline empty slots of started rows (error) and unknown motors (warning)."""
        single = len(self.rows) == 1
        for row in self.rows:
            all_empty = all(self._empty(c) for c in row.cells)
            for field, cell in zip(self.fields, row.cells, strict=True):
                mark = ""
                if self._empty(cell) and not (all_empty and single):
                    mark = "error"
                elif field == "motor" and self._allowed is not None and not self._empty(cell):
                    name = cell.state().strip()
                    mark = "" if name in self._allowed else "warning"
                if cell.property("mark") != mark:
                    cell.setProperty("mark", mark)
                    _tint(_proxy(cell), mark)
                    cell.setToolTip({"error": "Missing: every slot of a row needs a value",
                                     "warning": "Not an allowed movable device"}.get(mark, ""))

    def _retint(self) -> None:
        """The marks' tints again, from the new palette (a theme change)."""
        for row in self.rows:
            for cell in row.cells:
                _tint(_proxy(cell), str(cell.property("mark") or ""))

    # ----- Field contract ----------------------------------------------------------------------
    def value(self) -> Any:
        for r, row in enumerate(self.rows, 1):
            problem = self._row_problem(r, row)
            if problem:
                raise FieldError(problem)
        out: list[Any] = []
        for r, row in enumerate(self.rows, 1):
            if all(self._empty(c) for c in row.cells):
                continue  # the lone empty row of a fresh form
            group = []
            for field, cell in zip(self.fields, row.cells, strict=True):
                try:
                    group.append(cell.value())
                except FieldError as ex:
                    raise FieldError(f"Row {r}: {field}: {ex}") from None
            if self.nested:
                out.append(group)
            else:
                out += group
        return out

    def _fits(self, field: str, value: Any) -> bool:
        kind = self.pattern.kind(field)
        if kind == "motor":
            return isinstance(value, str) and bool(value.strip()) and value == value.strip()
        if kind == "int":
            return isinstance(value, int) and not isinstance(value, bool) and value >= 1
        if kind == "positions":
            return isinstance(value, list)
        return isinstance(value, int | float) and not isinstance(value, bool)

    def _groups(self, value: Any) -> list[list[Any]] | None:
        if not isinstance(value, list):
            return None
        n = len(self.fields)
        if self.nested:
            groups = value
            if not all(isinstance(g, list) and len(g) == n for g in groups):
                return None
        else:
            if len(value) % n:
                return None
            groups = [value[i:i + n] for i in range(0, len(value), n)]
        ok = all(self._fits(f, v) for g in groups for f, v in zip(self.fields, g, strict=True))
        return groups if ok else None

    def set_value(self, value: Any) -> bool:
        groups = self._groups(value)
        if groups is None:
            return False
        self._set_rows(len(groups))
        for row, group in zip(self.rows, groups, strict=False):
            for cell, v in zip(row.cells, group, strict=True):
                if not cell.set_value(v):
                    return False
        if not groups:
            for cell in self.rows[0].cells:
                cell.clear()
        self._mark()
        return True

    def clear(self) -> None:
        self._set_rows(1)
        for cell in self.rows[0].cells:
            cell.clear()
        self._mark()

    def state(self) -> Any:
        return [[c.state() for c in row.cells] for row in self.rows]

    def restore(self, state: Any) -> None:
        rows = state if isinstance(state, list) and all(isinstance(r, list) for r in state) else []
        self._set_rows(len(rows))
        for row, states in zip(self.rows, rows, strict=False):
            for cell, s in zip(row.cells, states, strict=False):
                cell.restore(s)
        if not rows:
            for cell in self.rows[0].cells:
                cell.clear()
        self._mark()

    def set_default_look(self, on: bool) -> None:
        """Never a default: ``*args`` has none."""

    def set_devices(self, index: Any) -> None:
        self._index = index
        self._allowed = set(self._names_for(index)) if index is not None else None
        for row in self.rows:
            for field, cell in zip(self.fields, row.cells, strict=True):
                if field == "motor":
                    cell.set_devices(index)
        self._mark()
