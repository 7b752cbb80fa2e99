"""Keyboard focus in the editor: tab stops in reading order.

Why: Qt's tab chain follows creation order, and the editor creates widgets out of reading order
(a form row's check box after its field, rows added later land at the end of the window's
chain, the picker before a form that is rebuilt for every plan). :func:`tab_stops` walks the
layouts instead (grid cells by row, then column), so the editor's Tab can go plan picker →
fields in order → Add / Execute whatever was built when (``ItemEditor.focusNextPrevChild``).
"""

from __future__ import annotations

from collections.abc import Iterable

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QGridLayout,
    QLayout,
    QLineEdit,
    QPlainTextEdit,
    QTabBar,
    QTextEdit,
    QWidget,
)

__all__ = ["tab_stops"]

_LEAVES = (QAbstractButton, QAbstractItemView, QAbstractSpinBox, QComboBox, QLineEdit,
           QPlainTextEdit, QTabBar, QTextEdit)  # fmt: skip

def _focusable(w: QWidget) -> bool:
    return w.focusProxy() is None and bool(w.focusPolicy() & Qt.TabFocus)


def _layout_widgets(layout: QLayout) -> Iterable[QWidget]:
    items = [layout.itemAt(i) for i in range(layout.count())]
    if isinstance(layout, QGridLayout):
        pos = {id(item): layout.getItemPosition(i)[:2] for i, item in enumerate(items)}
        items.sort(key=lambda item: pos[id(item)])
    for item in items:
        if item.widget() is not None:
            yield item.widget()
        elif item.layout() is not None:
            yield from _layout_widgets(item.layout())


def tab_stops(root: QWidget) -> list[QWidget]:
    """Focusable widgets under ``root`` in reading order (layouts first, then other children)."""
    out: list[QWidget] = []
    seen: set[int] = set()

    def visit(w: QWidget) -> None:
        if id(w) in seen or (w.isWindow() and w is not root):
            return
        seen.add(id(w))
        if isinstance(w, _LEAVES):
            if _focusable(w):
                out.append(w)
            return
        if w is not root and _focusable(w) and w.layout() is None:
            out.append(w)
            return
        if w.layout() is not None:
            for child in _layout_widgets(w.layout()):
                visit(child)
        for child in w.children():
            if isinstance(child, QWidget):
                visit(child)

    visit(root)
    return out
