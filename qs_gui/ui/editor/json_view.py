"""The raw JSON of the exact item that will be sent, editable and kept in sync with the form.

Form -> JSON: every form change rewrites the text (``show_item``), so what the operator reads is
what is sent. JSON -> form: the editor parses the text (debounced) with :func:`parse_item_text`;
a valid item is loaded into the form, an invalid one shows its error here and blocks sending
until it is fixed, because the text on screen would otherwise disagree with what is sent.
"""

from __future__ import annotations

import json
from typing import Any

from PyQt5.QtCore import QSignalBlocker, Qt, pyqtSignal
from PyQt5.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from qs_gui.core.entry import MAX_FIELD_CHARS, parse_value

from .style import RED, mono_font, muted_colour

__all__ = ["ITEM_KEYS", "JsonView", "item_text", "parse_item_text"]

ITEM_KEYS = ("item_type", "name", "args", "kwargs", "meta")


def _escape_odd(text: str) -> str:
    """\\u-escape characters a text editor would not keep exactly (no-break spaces become
    spaces, line separators break lines, invisible ones vanish). They only occur inside JSON
    strings, where the escape means the same character."""
    out = []
    for ch in text:
        if ch in " \n" or (ch.isprintable() and not ch.isspace()):
            out.append(ch)
        elif ord(ch) > 0xFFFF:
            high, low = divmod(ord(ch) - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
        else:
            out.append(f"\\u{ord(ch):04x}")
    return "".join(out)


_WIDTH = 64


def _dump(value: Any, level: int, force: bool = False) -> str:
    """One line when it fits, else one entry per line (nested values again one line if they
    fit): a scan's positions stay on one line instead of one number per line."""
    one = json.dumps(value, ensure_ascii=False, allow_nan=False, default=repr)
    if not isinstance(value, list | dict) or not value or (
            not force and len(one) + 2 * level <= _WIDTH):  # fmt: skip
        return one
    pad, end = "  " * (level + 1), "  " * level
    if isinstance(value, dict):
        parts = [f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {_dump(v, level + 1)}"
                 for k, v in value.items()]  # fmt: skip
        return "{\n" + ",\n".join(parts) + "\n" + end + "}"
    if all(not isinstance(v, list | dict) for v in value):  # numbers/names: fill the lines
        pieces = [json.dumps(v, ensure_ascii=False, allow_nan=False) for v in value]
        lines: list[list[str]] = [[]]
        for piece in pieces:
            used = len(pad) + sum(len(p) + 2 for p in lines[-1]) + len(piece)
            if lines[-1] and used > _WIDTH:
                lines.append([])
            lines[-1].append(piece)
        body = ",\n".join(pad + ", ".join(line) for line in lines)
        return "[\n" + body + "\n" + end + "]"
    return "[\n" + ",\n".join(pad + _dump(v, level + 1) for v in value) + "\n" + end + "]"


def item_text(item: dict[str, Any]) -> str:
    """Readable JSON of an item: one key per line, short values on one line."""
    try:
        text = _dump(item, 0, force=True)
    except (ValueError, RecursionError):  # NaN/inf (only in an invalid draft) or too deep
        text = json.dumps(item, indent=2, ensure_ascii=False, default=repr)
    return _escape_odd(text)


def parse_item_text(text: str) -> dict[str, Any]:
    """The item in ``text``; ValueError with a plain message when it is not one."""
    if len(text) > MAX_FIELD_CHARS:
        raise ValueError("the text is too long (the limit is 1 MB)")
    if not text.strip():
        raise ValueError('empty: write an item, e.g. {"item_type": "plan", "name": "count"}')
    value = parse_value(text)
    if not isinstance(value, dict):
        raise ValueError("an item is a JSON object: {\"item_type\": …, \"name\": …}")
    unknown = [k for k in value if k not in ITEM_KEYS]
    if unknown:
        raise ValueError(f"unexpected key {unknown[0]!r}; an item has only "
                         + ", ".join(ITEM_KEYS))
    if value.get("item_type") not in ("plan", "instruction"):
        raise ValueError("item_type must be \"plan\" or \"instruction\"")
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be the plan's name (text)")
    for key, kind, what in (("args", list, "a list"), ("kwargs", dict, "an object")):
        if key in value and value[key] is not None and not isinstance(value[key], kind):
            raise ValueError(f"{key} must be {what}")
    return value


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
        self.error.setStyleSheet(f"color: {RED};")
        self.error.setTextInteractionFlags(Qt.TextSelectableByMouse)
        hint = QLabel("This is exactly what will be sent. Edit it and the form follows; "
                      "while it is not a valid item, nothing can be sent.", wordWrap=True)
        hint.setStyleSheet(f"color: {muted_colour(self)};")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(hint)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.error)
        self.edit.textChanged.connect(self._changed)

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
        self.edit.setStyleSheet(
            f"QPlainTextEdit {{ border: 1px solid {RED}; }}" if message else "")
