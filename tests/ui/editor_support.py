"""Helpers for the ItemEditor tests: a ready editor, operator-like filling (holds no tests)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from PyQt5.QtCore import Qt  # noqa: E402
from PyQt5.QtWidgets import QAction, QWidget  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from qs_gui.ui.editor import ItemEditor  # noqa: E402
from qs_gui.ui.editor.choices import BoolField, ChoiceField, NameField  # noqa: E402
from qs_gui.ui.editor.fields import FloatField, IntField, LiteralField, TextField  # noqa: E402
from qs_gui.ui.editor.form import ParamRow  # noqa: E402
from qs_gui.ui.editor.groups import ArgsGroupsField  # noqa: E402
from qs_gui.ui.editor.lists import DeviceListField, KeyValueField, ListField  # noqa: E402
from tests.core.schema_support import sim_devices, sim_plans  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
USER = {"user": "qs-gui-editor-test", "user_group": "primary"}


class Answers:
    """Stands in for the confirmation dialog: records questions, answers ``reply``."""

    def __init__(self, reply: bool = True):
        self.reply = reply
        self.asked: list[tuple[str, str]] = []

    def __call__(self, title: str, text: str) -> bool:
        self.asked.append((title, text))
        return self.reply


def make_editor(qtbot: QtBot, *, plans: bool = True, width: int = 520,
                height: int = 820) -> ItemEditor:  # fmt: skip
    editor = ItemEditor()
    qtbot.addWidget(editor)
    editor.confirm = Answers(True)
    if plans:
        editor.set_plans(sim_plans())
        editor.set_devices(sim_devices())
    editor.resize(width, height)
    editor.show()
    qtbot.waitExposed(editor)
    return editor


def actions(parent: QWidget) -> dict[str, QAction]:
    """Stand-ins for the main window's actions, with its shortcuts (qs_gui.ui.actions)."""
    out = {}
    for key, text, shortcut in (("execute_now", "Execute now", "Ctrl+Return"),
                                ("add", "Add to queue", "Ctrl+Shift+Return"),
                                ("save", "Save", ""), ("reset", "Reset", "")):
        action = QAction(text, parent)
        if shortcut:
            action.setShortcut(shortcut)
        out[key] = action
    return out


def type_into(qtbot: QtBot, field: Any, text: str) -> None:
    """Type like an operator into whatever line edit the field has (select-all first)."""
    edit = field_line_edit(field)
    edit.selectAll()
    if text:
        qtbot.keyClicks(edit, text)
    else:
        qtbot.keyClick(edit, Qt.Key_Delete)


def field_line_edit(field: Any) -> Any:
    if isinstance(field, IntField | FloatField):
        return field.spin.lineEdit()
    if isinstance(field, LiteralField | TextField):
        return field.edit
    if isinstance(field, NameField):
        return field.combo.lineEdit()
    raise TypeError(type(field).__name__)


def _number_text(row: ParamRow) -> str:
    p = row.p
    low = p.min if p.min is not None else 1
    return str(max(1, int(low)) if p.max is None or p.max >= 1 else p.max)


def fill_field(qtbot: QtBot, row: ParamRow, field: Any) -> bool:
    """Give ``field`` a plausible value as an operator would; False when it cannot."""
    if isinstance(field, DeviceListField):
        names = field._allowed
        preferred = [n for n in ("det1", "motor1", "flyer1", "motor") if n in names]
        if not names:
            return False
        field.check((preferred or names)[0])
    elif isinstance(field, NameField):
        names = [field.combo.itemText(i) for i in range(field.combo.count())]
        preferred = [n for n in ("det1", "motor", "count") if n in names]
        if not names:
            return False
        type_into(qtbot, field, (preferred or names)[0])
    elif isinstance(field, IntField | FloatField):
        type_into(qtbot, field, _number_text(row))
    elif isinstance(field, TextField):
        type_into(qtbot, field, "det1")
    elif isinstance(field, ChoiceField):
        field.combo.setCurrentIndex(0)
        field.combo.activated.emit(0)
    elif isinstance(field, BoolField):
        qtbot.mouseClick(field.box, Qt.LeftButton)
    elif isinstance(field, ArgsGroupsField):  # scan-like *args: one motor row
        texts = {"motor": "motor", "int": "3", "positions": "[1, 2]"}
        for name, cell in zip(field.fields, field.rows[0].cells, strict=True):
            type_into(qtbot, cell, texts.get(field.pattern.kind(name), "1"))
    elif isinstance(field, ListField):
        qtbot.mouseClick(field.add_button, Qt.LeftButton)
        return fill_field(qtbot, row, field.rows[-1])
    else:
        return isinstance(field, KeyValueField)  # an empty dict is fine; literals are not
    return True


def fill_required(qtbot: QtBot, editor: ItemEditor) -> bool:
    """Fill every required parameter through its widget; False if one needs a free literal."""
    form = editor.form
    assert form is not None
    groups = [r.typed for r in form.rows.values() if isinstance(r.typed, ArgsGroupsField)]
    for row in form.rows.values():
        if row.p.name == "num" and any(g.pattern.trailing_num for g in groups):
            type_into(qtbot, row.literal if row.literal_mode else row.typed, "3")  # scan's num
            continue
        required = row.p.required or isinstance(row.typed, ArgsGroupsField)  # a motor at least
        if required and not fill_field(qtbot, row, row.typed):
            return False
    return True
