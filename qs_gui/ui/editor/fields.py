"""Value editors for one parameter: spin boxes, check box, combos, text and literal fields.

Every editor is a :class:`Field` with the same small contract, so the form treats them alike:

* ``value()`` returns the value or raises :class:`FieldError` with a plain message when the
  text is not (yet) a value ("enter an integer", a literal's parse error). It never guesses.
* ``set_value(v)`` shows ``v`` and returns False when this editor cannot show it exactly (the
  form then falls back to the literal field, so a loaded value is never altered or dropped).
* ``state()``/``restore()`` capture exactly what is on screen, including unfinished text, for
  "unsaved changes" checks and for keeping the operator's work across reconnects.
* ``edited`` is emitted for operator edits only; programmatic changes block signals.

Text becomes values through :func:`qs_gui.core.schema.values.parse_value` (JSON or a Python literal,
never ``eval``). Numbers are read from the text, not from Qt's rounded spin box value, and a
float field keeps ``5`` an integer so what was loaded is what is sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from PyQt5.QtCore import QLocale, QSignalBlocker, Qt, pyqtSignal
from PyQt5.QtGui import QValidator, QWheelEvent
from PyQt5.QtWidgets import (
    QAbstractSpinBox,
    QCompleter,
    QDoubleSpinBox,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from qs_gui.core.schema.check import range_text
from qs_gui.core.schema.values import parse_value

from .style import set_default_look

__all__ = [
    "INT32",
    "Field",
    "FieldError",
    "FloatField",
    "IntField",
    "LiteralField",
    "TextField",
    "literal_text",
    "py_literal",
]

INT32 = 2**31 - 1
_FLOAT_OK = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_FLOAT_PARTIAL = re.compile(r"[+-]?\d*\.?\d*([eE][+-]?\d*)?")
_INT_OK = re.compile(r"[+-]?\d+")
_INT_PARTIAL = re.compile(r"[+-]?")
_INT_TEXT = re.compile(r"[+-]?\d+")
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_KEYWORDS = {"None", "True", "False", "null", "true", "false"}


class FieldError(ValueError):
    """The editor's text is not a value; the message says why in plain words."""


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _py_str(text: str) -> str:
    """A double-quoted Python string literal that reads back to exactly ``text``.

    Printable characters stay as they are; others use Python escapes. Surrogates use the
    ``\\U`` form, which JSON rejects, so ``parse_value`` cannot pair them up the JSON way.
    """
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\U{code:08x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def py_literal(value: Any, depth: int = 0) -> str:
    """A value as a Python literal (``None``, ``True``, ``'det1'``-free JSON-style strings):
    what operators used to bluesky expect to read; :func:`parse_value` reads it back exactly."""
    if depth > 64:
        raise ValueError("nested too deeply")
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("not a finite number")
        return repr(value)
    if isinstance(value, str):
        return _py_str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(py_literal(v, depth + 1) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(str(k))}: {py_literal(v, depth + 1)}"
                               for k, v in value.items()) + "}"  # fmt: skip
    raise ValueError(f"{type(value).__name__} values cannot be shown")


def literal_text(value: Any, bare_words: bool = False) -> str:
    """How a value is written in a literal field: a Python literal, or a bare device name
    where bare names are accepted."""
    if bare_words and isinstance(value, str) and _BARE.fullmatch(value) and value not in _KEYWORDS:
        return value
    try:
        return py_literal(value)
    except (ValueError, RecursionError):
        return repr(value)


class Field(QWidget):
    """Base class: one inner Qt widget in a margin-less layout (see module docstring)."""

    edited = pyqtSignal()

    def __init__(self, inner: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.inner = inner
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(inner, 1)
        self.setFocusProxy(inner)

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> bool:
        raise NotImplementedError

    def clear(self) -> None:
        """Empty, where the editor has an empty state (text fields, lists)."""

    def state(self) -> Any:
        raise NotImplementedError

    def restore(self, state: Any) -> None:
        raise NotImplementedError

    def set_default_look(self, on: bool) -> None:
        """Greyed italics while the field shows a default that will not be sent."""
        set_default_look(self.inner, on)

    def set_devices(self, index: Any) -> None:
        """New devices_allowed: editors with device choices refresh them (the value stays)."""

    def refit(self, changed: QWidget | None = None) -> None:
        """Tell every enclosing layout, from ``changed`` (default: this editor) up, that a size
        changed.

        Qt caches each child's size hint in its parent's layout and refreshes only the cache
        of the widget whose geometry changed, so an editor that grew (rows added, list resized)
        before its form was shown would keep its old, smaller slot and overlap the next row.
        """
        widget: QWidget | None = changed or self
        while widget is not None and not widget.isWindow():
            widget.updateGeometry()
            widget = widget.parentWidget()

    def _emit(self, *_args: Any) -> None:
        if not self.signalsBlocked():
            self.edited.emit()


# ----- literal and text ----------------------------------------------------------------------
class LiteralField(Field):
    """Any value as JSON or a Python literal, parsed live; optionally bare device names."""

    def __init__(self, bare_words: bool = False, placeholder: str = "",
                 names_for: Any = None, parent: QWidget | None = None):  # fmt: skip
        super().__init__(QLineEdit(), parent)
        self.edit: QLineEdit = self.inner
        self.edit.setObjectName("literalEdit")
        self.edit.setMaxLength(1_000_000)
        self.bare_words = bare_words
        self._names_for = names_for  # index -> names offered by the completer
        hint = "JSON or a Python literal, e.g. 1, 'text', [1, 2], {'a': 1}"
        if bare_words:
            hint += "; device names may be typed without quotes"
        self.edit.setPlaceholderText(placeholder or hint)
        self.edit.setToolTip(hint)
        self.edit.textEdited.connect(self._emit)

    def set_devices(self, index: Any) -> None:
        if self._names_for is not None:
            self.set_completions(self._names_for(index))

    def set_completions(self, names: Sequence[str]) -> None:
        completer = QCompleter(list(names), self.edit)
        completer.setCaseSensitivity(Qt.CaseInsensitive)
        completer.setFilterMode(Qt.MatchContains)
        self.edit.setCompleter(completer)

    def value(self) -> Any:
        text = self.edit.text().strip()
        if not text:
            raise FieldError("enter a value (JSON or a Python literal)")
        try:
            return parse_value(text)
        except ValueError as ex:
            if self.bare_words and _BARE.fullmatch(text):
                return text
            raise FieldError(str(ex)) from None

    def set_value(self, value: Any) -> bool:
        with QSignalBlocker(self.edit):
            self.edit.setText(literal_text(value, self.bare_words))
        return True

    def clear(self) -> None:
        with QSignalBlocker(self.edit):
            self.edit.clear()

    def state(self) -> Any:
        return self.edit.text()

    def restore(self, state: Any) -> None:
        with QSignalBlocker(self.edit):
            self.edit.setText(state if isinstance(state, str) else "")


class TextField(Field):
    """``str`` parameters: the text is the value, as typed (an empty text is a value too)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(QLineEdit(), parent)
        self.edit: QLineEdit = self.inner
        self.edit.setObjectName("textEdit")
        self.edit.setMaxLength(1_000_000)
        self.edit.textEdited.connect(self._emit)

    def value(self) -> Any:
        return self.edit.text()

    def set_value(self, value: Any) -> bool:
        if not isinstance(value, str) or len(value) > self.edit.maxLength() or "\n" in value:
            return False
        with QSignalBlocker(self.edit):
            self.edit.setText(value)
        return True

    def clear(self) -> None:
        self.set_value("")

    def state(self) -> Any:
        return self.edit.text()

    def restore(self, state: Any) -> None:
        self.set_value(state if isinstance(state, str) else "")


# ----- numbers -------------------------------------------------------------------------------
class _NoWheelMixin:
    """Spin box fixes: no wheel changes while scrolling the form, and a real empty state.

    Qt re-renders a spin box's text from its last valid number on show and on focus-out, so a
    required field that was never filled in would silently read 0. ``blank`` keeps it empty.
    """

    blank = False

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt name)
        if self.hasFocus():  # type: ignore[attr-defined]
            super().wheelEvent(event)  # type: ignore[misc]
        else:
            event.ignore()

    def _keep_blank(self) -> None:
        if self.blank and self.lineEdit().text():  # type: ignore[attr-defined]
            with QSignalBlocker(self):  # type: ignore[arg-type]
                self.lineEdit().clear()  # type: ignore[attr-defined]

    def focusOutEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        self.blank = not self.lineEdit().text().strip()  # type: ignore[attr-defined]
        super().focusOutEvent(event)  # type: ignore[misc]
        self._keep_blank()

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)  # type: ignore[misc]
        self._keep_blank()

    def changeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().changeEvent(event)  # type: ignore[misc]
        self._keep_blank()


class _IntSpin(_NoWheelMixin, QSpinBox):
    """Plain digits only: QSpinBox would accept the C locale's group separator ("1,2")."""

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        s = text.strip()
        if _INT_OK.fullmatch(s):
            ok = self.minimum() <= int(s) <= self.maximum()
            return (QValidator.Acceptable if ok else QValidator.Intermediate), text, pos
        if _INT_PARTIAL.fullmatch(s):
            return QValidator.Intermediate, text, pos
        return QValidator.Invalid, text, pos

    def valueFromText(self, text: str) -> int:  # noqa: N802 (Qt name)
        s = text.strip()
        return int(s) if _INT_OK.fullmatch(s) else self.value()


class _FloatSpin(_NoWheelMixin, QDoubleSpinBox):
    """Accepts scientific notation; shows the shortest exact text of a number."""

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        s = text.strip()
        if _FLOAT_OK.fullmatch(s):
            x = float(s)
            if math.isfinite(x) and self.minimum() <= x <= self.maximum():
                return QValidator.Acceptable, text, pos
            return QValidator.Intermediate, text, pos
        if _FLOAT_PARTIAL.fullmatch(s):
            return QValidator.Intermediate, text, pos
        return QValidator.Invalid, text, pos

    def valueFromText(self, text: str) -> float:  # noqa: N802 (Qt name)
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt name)
        current = self.lineEdit().text().strip()
        if _FLOAT_OK.fullmatch(current) and float(current) == value:
            return current  # keep "5" or "1e-3" as typed
        return repr(float(value))

    def fixup(self, text: str) -> str:
        return text


class _NumberField(Field):
    def __init__(self, spin: QAbstractSpinBox, vmin: Any, vmax: Any, step: Any,
                 what: str, parent: QWidget | None = None):  # fmt: skip
        super().__init__(spin, parent)
        self.spin = spin
        spin.setLocale(QLocale.c())
        spin.setFocusPolicy(Qt.StrongFocus)
        spin.setKeyboardTracking(True)
        spin.setAccelerated(True)
        self._vmin, self._vmax, self._what = vmin, vmax, what
        if step:
            spin.setSingleStep(step)
        spin.lineEdit().textEdited.connect(self._typed)
        spin.valueChanged.connect(self._stepped)

    def _typed(self, text: str) -> None:
        self.spin.blank = not text.strip()
        self._emit()

    def _stepped(self, *_args: Any) -> None:
        if not self.spin.signalsBlocked():
            self.spin.blank = False
            self._emit()

    def _parse(self, text: str) -> Any:
        raise NotImplementedError

    def set_default_look(self, on: bool) -> None:
        # A spin box never takes back a style sheet *font* from its inner line edit: the
        # colour comes from the style sheet, the italics from the fonts themselves.
        set_default_look(self.spin, on, italic=False)
        for widget in (self.spin, self.spin.lineEdit()):
            font = widget.font()
            font.setItalic(on)
            widget.setFont(font)

    def value(self) -> Any:
        text = self.spin.lineEdit().text().strip()
        if not text:
            raise FieldError(f"enter {self._what}{range_text(self._vmin, self._vmax)}")
        if not self.spin.hasAcceptableInput():
            raise FieldError(f"must be {self._what}{range_text(self._vmin, self._vmax)}")
        try:
            return self._parse(text)
        except ValueError:
            raise FieldError(f"must be {self._what}{range_text(self._vmin, self._vmax)}") from None

    def _fits(self, value: Any) -> bool:
        return self.spin.minimum() <= value <= self.spin.maximum()

    def _show(self, text: str, value: Any) -> None:
        self.spin.blank = not text
        with QSignalBlocker(self.spin):
            self.spin.setValue(value)
            self.spin.lineEdit().setText(text)

    def clear(self) -> None:
        self.spin.blank = True
        with QSignalBlocker(self.spin):
            self.spin.lineEdit().clear()

    def state(self) -> Any:
        return self.spin.lineEdit().text()

    def restore(self, state: Any) -> None:
        text = state if isinstance(state, str) else ""
        try:
            self._show(text, self._parse(text))
        except ValueError:
            self.spin.blank = not text
            with QSignalBlocker(self.spin):
                self.spin.lineEdit().setText(text)


class IntField(_NumberField):
    """``int``: a spin box limited to min/max (32-bit otherwise) with the plan's step."""

    def __init__(self, vmin: int | None = None, vmax: int | None = None, step: Any = None,
                 parent: QWidget | None = None):  # fmt: skip
        spin = _IntSpin()
        spin.setObjectName("intSpin")
        spin.setRange(int(max(vmin, -INT32)) if vmin is not None else -INT32,
                      int(min(vmax, INT32)) if vmax is not None else INT32)  # fmt: skip
        super().__init__(spin, vmin, vmax, int(step) if step and step >= 1 else 1,
                         "an integer", parent)  # fmt: skip

    def _parse(self, text: str) -> Any:
        return int(text)

    def set_value(self, value: Any) -> bool:
        if not isinstance(value, int) or isinstance(value, bool) or not self._fits(value):
            return False
        self._show(str(value), value)
        return True


class FloatField(_NumberField):
    """``float``: accepts ``1e-3``; ``5`` stays an integer (the server accepts both)."""

    def __init__(self, vmin: float | None = None, vmax: float | None = None, step: Any = None,
                 parent: QWidget | None = None):  # fmt: skip
        spin = _FloatSpin()
        spin.setObjectName("floatSpin")
        spin.setDecimals(323)  # Qt's maximum: it must never round what the operator typed
        big = 1.7976931348623157e308
        spin.setRange(vmin if vmin is not None else -big, vmax if vmax is not None else big)
        super().__init__(spin, vmin, vmax, step or 1.0, "a number", parent)

    def _parse(self, text: str) -> Any:
        return int(text) if _INT_TEXT.fullmatch(text) else float(text)

    def set_value(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if isinstance(value, int) and abs(value) > 2**53:
            return False  # would lose digits as a float
        if not self._fits(value):
            return False
        self._show(str(value) if isinstance(value, int) else repr(value), value)
        return True
