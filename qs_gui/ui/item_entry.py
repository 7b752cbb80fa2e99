"""The simple item entry: type, plan name, args/kwargs/meta as text, validated while typing.

Why it is built this way:

* It is a passive view. All rules live in :func:`qs_gui.core.entry.parse_entry`; this widget only
  shows the result next to the offending field and emits ``changed`` so the main window can feed
  :meth:`ItemEntry.current_error` into the gates. Whether "Add to queue" or "Execute now" may be
  clicked is decided by the QActions the main window passes to :meth:`ItemEntry.set_actions`
  (``QToolButton.setDefaultAction`` makes the buttons follow their enabled state and tooltip).
* Validation is debounced (150 ms) so typing stays smooth, but :meth:`current_item` and
  :meth:`current_error` flush a pending run first: a click right after a keystroke never sends
  the item as it was before that keystroke.
* What the operator typed is sacred: refreshing ``plans_allowed``/``devices_allowed`` re-validates
  but never rewrites a field, and :meth:`text_state` / :meth:`restore_text_state` carry the text
  (and what it was loaded from) across reconnects.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from PyQt5.QtCore import QSignalBlocker, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QFont, QFontDatabase, QFontInfo
from PyQt5.QtWidgets import (
    QAction,
    QComboBox,
    QCompleter,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qs_gui.core.entry import INSTRUCTIONS, EntryResult, item_to_entry_texts, parse_entry
from qs_gui.core.entry import plan_signature_hint as signature_hint
from qs_gui.ui.status_panel import RED, muted_colour

__all__ = ["VALIDATION_DELAY_MS", "ItemEntry", "monospace_font"]

VALIDATION_DELAY_MS = 150
TEXT_FIELDS = ("args", "kwargs", "meta")
_TYPES = (("Plan", "plan"), ("Instruction", "instruction"))
_ERROR_COLOUR = RED
_INVALID_STYLE = f"QPlainTextEdit {{ border: 1px solid {_ERROR_COLOUR}; border-radius: 2px; }}"
_INVALID_NAME_STYLE = f"QComboBox {{ border: 1px solid {_ERROR_COLOUR}; border-radius: 2px; }}"
_PLACEHOLDERS = {
    "args": 'Positional values, e.g. [["det1", "det2"], 5]',
    "kwargs": 'Keyword values, e.g. {"num": 5, "delay": 0.5}',
    "meta": 'Optional metadata, e.g. {"sample": "Si"}',
}
_LINES = {"args": 3, "kwargs": 4, "meta": 2}


def monospace_font(delta: float = -1.0) -> QFont:
    """A fixed-pitch font, slightly smaller than the UI font: JSON lines up and fits more.

    The platform's "fixed" font is not always fixed (the offscreen platform answers with a
    proportional sans), so fall back to asking fontconfig for any monospace family.
    """
    font = QFontDatabase.systemFont(QFontDatabase.FixedFont)
    if not QFontInfo(font).fixedPitch():
        font = QFont("Monospace")
        font.setStyleHint(QFont.TypeWriter)
    if font.pointSizeF() > 0:
        font.setPointSizeF(max(6.0, font.pointSizeF() + delta))
    return font


class ItemEntry(QWidget):
    """Enter one plan or instruction as text; shows inline errors; never touches the network."""

    changed = pyqtSignal()  # after every validation run (errors, current_item may have changed)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("itemEntry")
        self._plans: Mapping[str, Any] | None = None  # None: not known yet, names unchecked
        self._devices: Mapping[str, Any] | None = None
        self._editing_uid: str | None = None
        self._editing_name = ""
        self._result = EntryResult(None, {})
        self._timer = QTimer(self, singleShot=True, interval=VALIDATION_DELAY_MS)
        self._timer.timeout.connect(self._validate)
        self._build()
        self._baseline = self._texts()
        self._own_reset = QAction("Reset", self, toolTip="Restore the text as it was loaded")
        self._own_reset.triggered.connect(self.reset)
        self.set_actions(None, None, None, None)
        self._fill_names()
        self._validate()

    # ----- construction ----------------------------------------------------------------------
    def _build(self) -> None:
        mono = monospace_font()
        self.banner = QLabel(objectName="editingBanner", visible=False)
        self.banner.setStyleSheet(
            "QLabel { background: #fff3cd; color: #5c4400; border: 1px solid #e0c36c;"
            " border-radius: 3px; padding: 3px 6px; }"
        )
        self.type_combo = QComboBox(objectName="itemType")
        for label, value in _TYPES:
            self.type_combo.addItem(label, value)
        self.type_combo.currentIndexChanged.connect(self._type_changed)
        self.name_combo = QComboBox(objectName="itemName", editable=True)
        self.name_combo.setInsertPolicy(QComboBox.NoInsert)
        self.name_combo.lineEdit().setPlaceholderText("Plan name — type to search")
        completer = QCompleter(self.name_combo.model(), self.name_combo)
        completer.setCaseSensitivity(Qt.CaseInsensitive)
        completer.setFilterMode(Qt.MatchContains)
        completer.setCompletionMode(QCompleter.PopupCompletion)
        self.name_combo.setCompleter(completer)
        self.name_combo.editTextChanged.connect(self._schedule)
        self.signature = QLabel(objectName="signatureHint", wordWrap=True)
        self.signature.setFont(mono)
        self.signature.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.description = QLabel(objectName="planDescription", wordWrap=True)
        self.description.setStyleSheet(f"color: {muted_colour(self)};")
        self.fields: dict[str, QPlainTextEdit] = {}
        self.error_labels: dict[str, QLabel] = {"name": self._error_label("name")}
        grid = QGridLayout()
        grid.setVerticalSpacing(2)
        grid.setColumnStretch(1, 1)
        names = QHBoxLayout()
        names.addWidget(self.type_combo)
        names.addWidget(self.name_combo, 1)
        grid.addWidget(QLabel("Item"), 0, 0)
        grid.addLayout(names, 0, 1)
        for row, widget in enumerate((self.error_labels["name"], self.signature, self.description)):
            grid.addWidget(widget, row + 1, 1)
        for i, name in enumerate(TEXT_FIELDS):
            edit = QPlainTextEdit(objectName=f"{name}Edit", tabChangesFocus=True)
            edit.setFont(mono)
            edit.setPlaceholderText(_PLACEHOLDERS[name])
            edit.setMinimumHeight(edit.fontMetrics().lineSpacing() * _LINES[name] + 12)
            edit.textChanged.connect(self._schedule)
            self.fields[name] = edit
            self.error_labels[name] = self._error_label(name)
            label = QLabel(name)
            label.setBuddy(edit)
            grid.addWidget(label, 4 + 2 * i, 0, Qt.AlignTop)
            grid.addWidget(edit, 4 + 2 * i, 1)
            grid.addWidget(self.error_labels[name], 5 + 2 * i, 1)
            grid.setRowStretch(4 + 2 * i, _LINES[name])
        self.add_button = self._button("addToQueueButton")
        self.execute_button = self._button("executeNowButton")
        self.save_button = self._button("saveButton")
        self.reset_button = self._button("resetButton")
        buttons = QHBoxLayout()
        for button in (self.add_button, self.execute_button, self.save_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.reset_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(grid, 1)
        layout.addLayout(buttons)

    def _error_label(self, name: str) -> QLabel:
        label = QLabel(objectName=f"{name}Error", wordWrap=True, visible=False)
        label.setStyleSheet(f"color: {_ERROR_COLOUR};")
        label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        return label

    def _button(self, name: str) -> QToolButton:
        button = QToolButton(self, objectName=name)
        button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        button.setMinimumWidth(96)
        return button

    # ----- actions -----------------------------------------------------------------------------
    def set_actions(
        self,
        execute_now: QAction | None,
        add: QAction | None,
        save: QAction | None = None,
        reset: QAction | None = None,
    ) -> None:
        """Buttons follow these actions (enabled state, text, tooltip); None hides a button.

        Without a ``reset`` action the widget uses its own, which calls :meth:`reset`. With one,
        whoever owns it calls :meth:`reset` (e.g. after asking whether to drop unsaved edits).
        """
        self._save_action = save
        chosen = (execute_now, add, save, reset or self._own_reset)
        buttons = (self.execute_button, self.add_button, self.save_button, self.reset_button)
        for button, action in zip(buttons, chosen, strict=True):
            old = button.defaultAction()
            if old is not None and old is not action:
                button.removeAction(old)  # a second action would add a menu arrow to the button
            if action is not None:
                button.setDefaultAction(action)
            button.setVisible(action is not None)
        self._update_editing()

    # ----- plans and devices -----------------------------------------------------------------
    def set_plans(self, plans_allowed: Mapping[str, Any] | None) -> None:
        """New plans_allowed (or None when unknown): re-validates; the typed text is untouched."""
        self._plans = plans_allowed if isinstance(plans_allowed, Mapping) else None
        self._fill_names()
        self._schedule()

    def set_devices(self, devices_allowed: Mapping[str, Any] | None) -> None:
        """New devices_allowed (or None when unknown: device names are then not checked)."""
        self._devices = devices_allowed if isinstance(devices_allowed, Mapping) else None
        self._schedule()

    def _fill_names(self) -> None:
        if self.item_type() == "instruction":
            names = sorted(INSTRUCTIONS)
        else:
            names = sorted(k for k in self._plans or {} if isinstance(k, str))
        combo = self.name_combo
        if [combo.itemText(i) for i in range(combo.count())] == names:
            return
        edit = combo.lineEdit()
        text, cursor = edit.text(), edit.cursorPosition()
        # clear()/addItems() would replace the typed text: put it back, with no signals (this is
        # not an edit by the operator)
        with QSignalBlocker(combo):
            combo.clear()
            combo.addItems(names)
            combo.setCurrentIndex(-1)
            edit.setText(text)
            edit.setCursorPosition(cursor)

    # ----- reading -----------------------------------------------------------------------------
    def item_type(self) -> str:
        return self.type_combo.currentData() or "plan"

    def current_item(self) -> dict[str, Any] | None:
        """The item to send (a copy), or None while the text is not valid."""
        self._flush()
        return copy.deepcopy(self._result.item)

    def current_error(self) -> str | None:
        """The first error in plain words (for the gates' reason), None when the item is valid."""
        self._flush()
        return self._result.first_error

    def current_errors(self) -> dict[str, str]:
        self._flush()
        return dict(self._result.errors)

    @property
    def editing_uid(self) -> str | None:
        return self._editing_uid

    def is_dirty(self) -> bool:
        """True when the text differs from what was loaded (or from the last reset)."""
        return self._texts() != self._baseline

    def _texts(self) -> dict[str, str]:
        texts = {"item_type": self.item_type(), "name": self.name_combo.currentText()}
        texts.update((n, self.fields[n].toPlainText()) for n in TEXT_FIELDS)
        return texts

    # ----- writing -----------------------------------------------------------------------------
    def load_item(self, item: Mapping[str, Any], *, editing_uid: str | None = None) -> None:
        """Show ``item`` in the fields; with ``editing_uid``, Save will update that queue item."""
        name, args, kwargs, meta = item_to_entry_texts(item)
        item_type = "instruction" if item.get("item_type") == "instruction" else "plan"
        texts = {"item_type": item_type, "name": name, "args": args, "kwargs": kwargs}
        texts["meta"] = meta
        self._set_texts(texts)
        self._baseline = self._texts()
        self._editing_uid = editing_uid if isinstance(editing_uid, str) and editing_uid else None
        self._editing_name = name
        self._update_editing()
        self._validate()

    def clear_editing(self) -> None:
        """Leave editing mode (the text stays; Save hides)."""
        self._editing_uid = None
        self._editing_name = ""
        self._update_editing()

    def reset(self) -> None:
        """Restore the text as it was loaded (empty fields when nothing was loaded)."""
        self._set_texts(self._baseline)
        self._validate()

    def text_state(self) -> dict[str, Any]:
        """Everything needed to rebuild the entry exactly as the operator left it."""
        return {
            **self._texts(),
            "baseline": dict(self._baseline),
            "editing_uid": self._editing_uid,
            "editing_name": self._editing_name,
        }

    def restore_text_state(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`text_state`; tolerant of missing or odd values."""
        if not isinstance(state, Mapping):
            return
        baseline = state.get("baseline")
        self._set_texts(state)
        self._baseline = self._texts()
        if isinstance(baseline, Mapping):
            self._baseline = {k: _str(baseline.get(k, "")) for k in self._baseline}
        uid, name = state.get("editing_uid"), state.get("editing_name")
        self._editing_uid = uid if isinstance(uid, str) and uid else None
        self._editing_name = _str(name)
        self._update_editing()
        self._validate()

    def _set_texts(self, texts: Mapping[str, Any]) -> None:
        index = self.type_combo.findData(texts.get("item_type"))
        with QSignalBlocker(self.type_combo):
            self.type_combo.setCurrentIndex(max(index, 0))
        self._fill_names()
        with QSignalBlocker(self.name_combo):
            self.name_combo.setEditText(_str(texts.get("name")))
        for name in TEXT_FIELDS:
            with QSignalBlocker(self.fields[name]):
                self.fields[name].setPlainText(_str(texts.get(name)))

    def _update_editing(self) -> None:
        editing = self._editing_uid is not None
        self.banner.setVisible(editing)
        if editing:
            self.banner.setText(f"Editing queue item <b>{_escape(self._editing_name)}</b>")
            self.banner.setToolTip(f"Queue item uid {self._editing_uid}")
        self.save_button.setVisible(editing and self._save_action is not None)

    # ----- validation --------------------------------------------------------------------------
    def _type_changed(self) -> None:
        if self.item_type() == "instruction" and not self.name_combo.currentText().strip():
            self.name_combo.setEditText("queue_stop")  # the only instruction: save the typing
        self._fill_names()
        self._schedule()

    def _schedule(self) -> None:
        self._timer.start()  # restarting the single-shot timer is the debounce

    def _flush(self) -> None:
        if self._timer.isActive():
            self._validate()

    def _validate(self) -> None:
        self._timer.stop()
        t = self._texts()
        self._result = parse_entry(
            t["item_type"], t["name"], t["args"], t["kwargs"], t["meta"], self._plans, self._devices
        )
        for name, label in self.error_labels.items():
            message = self._result.errors.get(name, "")
            if name == "name" and "item_type" in self._result.errors:
                message = self._result.errors["item_type"]
            label.setText(message)
            label.setVisible(bool(message))
            widget = self.name_combo if name == "name" else self.fields[name]
            style = _INVALID_NAME_STYLE if name == "name" else _INVALID_STYLE
            widget.setStyleSheet(style if message else "")
        self._show_hint(t["item_type"], t["name"].strip())
        self.changed.emit()

    def _show_hint(self, item_type: str, name: str) -> None:
        if item_type == "instruction":
            text, sig, tip = INSTRUCTIONS.get(name, ""), name if name in INSTRUCTIONS else "", ""
            self.description.setToolTip("")
        else:
            spec = (self._plans or {}).get(name)
            spec = spec if isinstance(spec, Mapping) else {}
            full = _str(spec.get("description")).strip()
            text = full.split("\n\n")[0].replace("\n", " ")
            text = text if len(text) <= 240 else text[:239] + "…"
            sig, tip = (signature_hint(spec) if spec else ""), _parameter_help(spec)
            self.description.setToolTip(full)
        self.description.setText(text)
        self.description.setVisible(bool(text))
        self.signature.setText(sig)
        self.signature.setVisible(bool(sig))
        self.signature.setToolTip(tip)


def _parameter_help(spec: Mapping[str, Any]) -> str:
    """One line per parameter: name, type, default, first line of its description."""
    lines = []
    params = spec.get("parameters")
    for p in params if isinstance(params, list) else []:
        if not isinstance(p, Mapping):
            continue
        ann = p.get("annotation")
        kind = _str(ann.get("type")) if isinstance(ann, Mapping) else ""
        default = f" = {_str(p.get('default'))}" if "default" in p else " (required)"
        doc = _str(p.get("description")).strip().split("\n")[0]
        lines.append(f"{_str(p.get('name'))}{': ' + kind if kind else ''}{default} — {doc}")
    return "\n".join(lines)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
