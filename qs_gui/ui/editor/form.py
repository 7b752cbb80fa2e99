"""The parameter form of one plan: one row per parameter, generated from its :class:`PlanSpec`.

A row is: the name (bold with "*" when required; a "set" check box when the parameter has a
default), the typed editor, an optional **None** toggle (``X | None``), a ``{}`` toggle to edit
the value as a literal instead, and an inline error line. Descriptions are tooltips.

Defaults are *shown* (greyed, italic) while "set" is unticked and are then **not sent**; any edit
ticks "set". Unticking restores the default display. This is what lets the plan's own default
(possibly defined in a decorator, or changed later on the server) stay in charge.

The form only reports what is on screen: ``values()`` gives ``(values, parse errors)`` and the
editor runs :func:`qs_gui.core.schema.validate` on the values. ``load()`` is the inverse.
"""

from __future__ import annotations

from typing import Any

from PyQt5.QtCore import QObject, QSignalBlocker, Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qs_gui.core.schema import (
    EXTRA_ARGS,
    EXTRA_KWARGS,
    VAR_KEYWORD,
    VAR_POSITIONAL,
    ArgsPattern,
    DeviceIndex,
    ParamSpec,
    PlanSpec,
    args_pattern,
    describe,
    strip_optional,
)
from qs_gui.core.schema.check import range_text
from qs_gui.ui.theme import style_text, theme_manager

from .factory import device_names, has_names, make_field
from .fields import Field, FieldError, LiteralField
from .focus import tab_stops
from .groups import ArgsGroupsField
from .lists import KeyValueField, ListField
from .style import error_text

__all__ = ["ParamForm", "ParamRow"]

_MISSING = object()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def param_tooltip(p: ParamSpec) -> str:
    """Description, type, default and range in one tooltip (rich text keeps the line breaks)."""
    lines = [f"<b>{_escape(p.name)}</b>"]
    if p.description:
        lines.append(_escape(p.description).replace("\n", "<br>"))
    if p.type_text:
        lines.append(f"<i>Type:</i> {_escape(p.type_text)} — {_escape(describe(p.type))}")
    if p.has_default:
        note = " (from the plan's decorator)" if p.default_in_decorator else ""
        sent = "" if p.default_is_literal else " — not a literal, cannot be sent"
        lines.append(f"<i>Default:</i> {_escape(p.default_text)}{note}{sent}. "
                     "Tick the box to send a value; unticked, the plan's default is used.")
    rng = range_text(p.min, p.max).strip()
    if rng:
        lines.append(f"<i>Range:</i> {_escape(rng)}")
    return "<br>".join(lines)


class ParamRow(QObject):
    """The widgets of one parameter (placed in the form's grid) and their state."""

    edited = pyqtSignal()

    def __init__(self, p: ParamSpec, plans: list[str], parent: QWidget,
                 pattern: ArgsPattern | None = None):  # fmt: skip
        super().__init__(parent)
        self.p = p
        inner, optional = strip_optional(p.type)
        untyped = not p.type_text
        if p.kind == VAR_POSITIONAL and pattern is not None:  # scan-like: labelled motor rows
            self.typed = ArgsGroupsField(pattern, device_names("movable"),
                                         nested=pattern.source == "annotation")
            optional = False
        elif p.kind == VAR_POSITIONAL:
            self.typed: Field = ListField(
                lambda: make_field(p.type, p, plans=plans, untyped=untyped))
            optional = False
        elif p.kind == VAR_KEYWORD:
            self.typed = KeyValueField(bare_words=untyped or has_names(p.type))
            optional = False
        else:
            self.typed = make_field(inner, p, required=p.required, plans=plans, untyped=untyped)
        self.typed.setObjectName(f"field_{p.name}")
        self.literal = self.typed if isinstance(self.typed, LiteralField) else LiteralField(
            untyped or has_names(p.type))
        self.literal.setObjectName(f"literal_{p.name}")
        self.optional = optional and self.typed is not self.literal
        self.editor = QWidget(parent, objectName=f"editor_{p.name}")
        line = QHBoxLayout(self.editor)
        line.setContentsMargins(0, 0, 0, 0)
        line.setSpacing(2)
        line.addWidget(self.typed, 1)  # no alignment: wrapped labels need heightForWidth
        if self.literal is not self.typed:
            line.addWidget(self.literal, 1)
        self.none_button = self._tool("None", f"none_{p.name}", "Send None (no value)")
        self.mode_button = self._tool("{}", f"mode_{p.name}",
                                      "Edit the value as JSON / a Python literal")
        for button, wanted in ((self.none_button, self.optional),
                               (self.mode_button, self.literal is not self.typed)):
            line.addWidget(button, 0, Qt.AlignTop)  # parent first: a parentless visible
            button.setVisible(wanted)  # button is a window of its own (and steals activation)
        tip = param_tooltip(p)
        if p.has_default:
            self.set_box: QCheckBox | None = QCheckBox(p.name, parent, objectName=f"set_{p.name}")
            self.label: QWidget = self.set_box
            self.set_box.clicked.connect(self._set_clicked)
        else:
            self.set_box = None
            name = {VAR_POSITIONAL: f"*{p.name}", VAR_KEYWORD: f"**{p.name}"}.get(p.kind, p.name)
            self._name_label = QLabel(parent, objectName=f"label_{p.name}")
            self.label = self._name_label
            self._name_html = f"<b>{_escape(name)}</b>"
            self._paint_label()
            if p.required:  # the red star is rich text: re-coloured on a theme change
                theme_manager().connect_recolour(self._name_label, self._paint_label)
        self.label.setToolTip(tip)
        self.editor.setToolTip(tip)
        self.error = QLabel(parent, objectName=f"error_{p.name}", wordWrap=True, visible=False)
        style_text(self.error, "alarm")
        self.error.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.typed.edited.connect(self._user_edit)
        if self.literal is not self.typed:
            self.literal.edited.connect(self._user_edit)
        self.none_button.clicked.connect(self._none_clicked)
        self.mode_button.clicked.connect(self._mode_clicked)
        self.load(False, None)

    @staticmethod
    def _tool(text: str, name: str, tip: str) -> QToolButton:
        button = QToolButton(objectName=name, text=text, toolTip=tip, checkable=True)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.ClickFocus)  # not a tab stop: see ParamForm.focus_widgets
        return button

    # ----- state -------------------------------------------------------------------------------
    @property
    def is_set(self) -> bool:
        return self.set_box is None or self.set_box.isChecked()

    @property
    def literal_mode(self) -> bool:
        return self.literal is self.typed or self.mode_button.isChecked()

    def _show(self, literal: bool, none: bool = False) -> None:
        if self.literal is not self.typed:
            self.mode_button.setChecked(literal)
            self.typed.setVisible(not literal)
            self.literal.setVisible(literal)
        self.none_button.setChecked(none and self.optional)
        # None that is only the default on display keeps the editor usable: typing a value
        # there is how the operator overrides it
        active = not self.none_button.isChecked() or not self.is_set
        self.typed.setEnabled(active)
        self.literal.setEnabled(active)
        self.typed.refit()

    def _look(self) -> None:
        grey = not self.is_set
        self.typed.set_default_look(grey)
        if self.literal is not self.typed:
            self.literal.set_default_look(grey)

    def load(self, present: bool, value: Any = None) -> None:
        """Show a value (``present``) or the unset state: the default, or an empty editor."""
        with QSignalBlocker(self):
            if self.set_box is not None:
                with QSignalBlocker(self.set_box):
                    self.set_box.setChecked(present)
            if not present:
                self._show_unset()
            else:
                self._show_value(value)
            self._look()

    def _show_value(self, value: Any) -> None:
        if value is None and self.optional:
            self.typed.clear()
            self._show(False, none=True)
        elif self.typed is not self.literal and self.typed.set_value(value):
            self._show(False)
        else:
            self.literal.set_value(value)
            self._show(True)

    def _show_unset(self) -> None:
        p = self.p
        self.typed.clear()
        self.literal.clear()
        if not p.has_default:
            self._show(False)
        elif p.default_is_literal:
            self._show_value(p.default)
        else:
            self.literal.edit.setPlaceholderText(f"default: {p.default_text}")
            self._show(True)

    def result(self) -> tuple[Any, str | None]:
        """(value or _MISSING when not sent, parse error or None)."""
        if not self.is_set:
            return _MISSING, None
        if self.none_button.isChecked():
            return None, None
        field = self.literal if self.literal_mode else self.typed
        try:
            value = field.value()
        except FieldError as ex:
            return _MISSING, str(ex)
        if self.p.kind in (VAR_POSITIONAL, VAR_KEYWORD) and not value and not self.literal_mode:
            return _MISSING, None  # no extra values: nothing to send
        return value, None

    def state(self) -> dict[str, Any]:
        return {
            "set": self.is_set,
            "none": self.none_button.isChecked(),
            "literal": self.literal_mode,
            "typed": None if self.typed is self.literal else self.typed.state(),
            "text": self.literal.state(),
        }

    def restore(self, state: Any) -> None:
        if not isinstance(state, dict):
            return
        with QSignalBlocker(self):
            if self.set_box is not None:
                with QSignalBlocker(self.set_box):
                    self.set_box.setChecked(state.get("set") is True)
            if self.typed is not self.literal:
                self.typed.restore(state.get("typed"))
            self.literal.restore(state.get("text"))
            self._show(state.get("literal") is True, none=state.get("none") is True)
            self._look()

    def show_error(self, message: str | None, warning: bool = False) -> None:
        """The inline line under the field: an error (red) or a warning (amber, overridable)."""
        self.error.setText(("⚠ " if warning and message else "") + (message or ""))
        self.error.setVisible(bool(message))
        role = "attention" if warning else "alarm"
        if self.error.property("role") != role:
            self.error.setProperty("role", role)
            style_text(self.error, role)

    def _paint_label(self) -> None:
        """The bold name, with a red "*" when required (in the current theme's red)."""
        star = f" <span style='color:{error_text()}'>*</span>" if self.p.required else ""
        self._name_label.setText(self._name_html + star)

    # ----- operator actions --------------------------------------------------------------------
    def _mark_set(self) -> None:
        if self.set_box is not None and not self.set_box.isChecked():
            with QSignalBlocker(self.set_box):
                self.set_box.setChecked(True)
            self._look()

    def _user_edit(self) -> None:
        self._mark_set()
        if self.none_button.isChecked():  # a value typed over the default None replaces it
            self._show(self.literal_mode, none=False)
        self.edited.emit()

    def _set_clicked(self, checked: bool) -> None:
        if not checked:
            self.load(False)
        else:
            empty = not self.literal.state().strip()
            literal = self.literal_mode and not (empty and self.literal is not self.typed)
            self._show(literal, none=self.none_button.isChecked())
            self._look()
        self.edited.emit()

    def _none_clicked(self, checked: bool) -> None:
        self._mark_set()
        self._show(self.literal_mode, none=checked)
        self.edited.emit()

    def _mode_clicked(self, to_literal: bool) -> None:
        if to_literal:
            try:
                self.literal.set_value(self.typed.value())
            except FieldError:
                pass  # keep whatever literal text there was
            self._show(True, none=self.none_button.isChecked())
        else:
            try:  # a default on display is not the operator's value: start empty
                empty = not self.is_set or not self.literal.state().strip()
                value = _MISSING if empty else self.literal.value()
            except FieldError:
                value = _MISSING
            if value is _MISSING:
                self.typed.clear()
            elif not self.typed.set_value(value):
                self.mode_button.setChecked(True)
                self.show_error(f"{self.p.name}: this value can only be edited as a literal")
                return
            self._show(False, none=self.none_button.isChecked())
        self._mark_set()
        self.edited.emit()

    def set_devices(self, index: DeviceIndex | None) -> None:
        self.typed.set_devices(index)
        if self.literal is not self.typed:
            self.literal.set_devices(index)


class ParamForm(QWidget):
    """All rows of one plan; ``values()``/``load()``/``state()``/``restore()`` (see docstring)."""

    edited = pyqtSignal()

    def __init__(self, spec: PlanSpec, devices: DeviceIndex | None = None,
                 plans: list[str] | None = None, parent: QWidget | None = None):  # fmt: skip
        super().__init__(parent)
        self.setObjectName("paramForm")
        self.spec = spec
        self.rows: dict[str, ParamRow] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(3)
        outer.addLayout(grid)
        r = 0
        pattern = args_pattern(spec)
        for p in spec.parameters:
            row = ParamRow(p, plans or [], self, pattern if p.kind == VAR_POSITIONAL else None)
            grid.addWidget(row.label, r, 0, Qt.AlignTop | Qt.AlignLeft)
            grid.addWidget(row.editor, r, 1)
            grid.addWidget(row.error, r + 1, 1)
            row.edited.connect(self.edited)
            self.rows[p.name] = row
            r += 2
        self.extras: dict[str, LiteralField] = {}
        self.extra_labels: dict[str, QLabel] = {}
        for key, text in ((EXTRA_ARGS, "extra args"), (EXTRA_KWARGS, "unknown kwargs")):
            field = LiteralField()
            field.setObjectName(f"extra_{text.split()[0]}")
            label = QLabel(text, self)
            style_text(label, "alarm")
            label.setToolTip("Values the plan's signature has no place for: remove them "
                             "(empty the field) or move them to the right parameter.")
            field.edited.connect(self.edited)
            grid.addWidget(label, r, 0, Qt.AlignTop)
            grid.addWidget(field, r, 1)
            label.hide()
            field.hide()
            self.extras[key], self.extra_labels[key] = field, label
            r += 1
        self.empty = QLabel(
            "This plan takes no parameters." if spec.item_type == "plan" and not spec.parameters
            else "Instructions take no parameters." if spec.item_type != "plan" else "",
            self, objectName="noParameters")
        self.empty.setVisible(bool(self.empty.text()))
        outer.addWidget(self.empty)
        outer.addStretch(1)
        self.set_devices(devices)

    def set_devices(self, index: DeviceIndex | None) -> None:
        for row in self.rows.values():
            row.set_devices(index)

    def focus_widgets(self) -> list[QWidget]:
        """Tab stops in reading order: per row its "set" box, then its editor's inputs (the
        None / {} toggles are mouse-only: the JSON tab edits any value from the keyboard)."""
        stops: list[QWidget] = []
        for row in self.rows.values():
            if row.set_box is not None:
                stops.append(row.set_box)
            stops += tab_stops(row.editor)
        for field in self.extras.values():
            stops += tab_stops(field)
        return stops

    def values(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(values of the parameters that are set, ``{parameter: parse error}``)."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, row in self.rows.items():
            value, error = row.result()
            if error:
                errors[name] = f"{name}: {error}"
            elif value is not _MISSING:
                values[name] = value
        for key, field in self.extras.items():
            if field.isHidden() or not field.state().strip():
                continue
            try:
                values[key] = field.value()
            except FieldError as ex:
                errors[key] = f"{self.extra_labels[key].text()}: {ex}"
        return values, errors

    def load(self, values: dict[str, Any]) -> None:
        """Show ``values`` (from :func:`values_from_item`); absent parameters show defaults."""
        for name, row in self.rows.items():
            row.load(name in values, values.get(name))
        for key, field in self.extras.items():
            present = key in values
            if present:
                field.set_value(values[key])
            else:
                field.clear()
            field.setVisible(present)
            self.extra_labels[key].setVisible(present)

    def show_errors(self, errors: dict[str, str],
                    warnings: dict[str, str] | None = None) -> None:  # fmt: skip
        warnings = warnings or {}
        for name, row in self.rows.items():
            if errors.get(name):
                row.show_error(errors[name])
            else:
                row.show_error(warnings.get(name), warning=True)

    def state(self) -> dict[str, Any]:
        rows = {name: row.state() for name, row in self.rows.items()}
        extras = {key: f.state() for key, f in self.extras.items() if not f.isHidden()}
        return {"rows": rows, "extras": extras}

    def restore(self, state: Any) -> None:
        if not isinstance(state, dict):
            return
        rows = state.get("rows") if isinstance(state.get("rows"), dict) else {}
        for name, row in self.rows.items():
            if name in rows:
                row.restore(rows[name])
        extras = state.get("extras") if isinstance(state.get("extras"), dict) else {}
        for key, field in self.extras.items():
            present = isinstance(extras.get(key), str)
            field.restore(extras.get(key) if present else "")
            field.setVisible(present)
            self.extra_labels[key].setVisible(present)
