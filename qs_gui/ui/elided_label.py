"""One line of text that ends in "…" when it does not fit: the wall displays (the monitor window,
the overview's tiles) must never let a long message push the rest of a row off the screen."""

from __future__ import annotations

from typing import Any

from PyQt5.QtCore import QEvent, QSize, Qt
from PyQt5.QtWidgets import QLabel, QWidget

__all__ = ["ElidedLabel"]


class ElidedLabel(QLabel):
    """One line that ends in "…" when it does not fit (the whole text is in :meth:`full_text`
    and the tooltip), so a long message never pushes the rest of its row off the wall."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setMinimumWidth(10)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        self._full = text
        self.setToolTip(text)
        self._elide()
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        """The whole text's width: the layout gives it that much when there is room."""
        width = self.fontMetrics().horizontalAdvance(self._full) + 2 * self.margin() + 4
        return QSize(width, super().sizeHint().height())

    def full_text(self) -> str:
        return self._full

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(10, super().minimumSizeHint().height())

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().changeEvent(event)
        if event.type() in (QEvent.FontChange, QEvent.StyleChange,
                            QEvent.ContentsRectChange):  # a pill's padding: less room
            self._elide()

    def _elide(self) -> None:
        # the room inside a style sheet's padding and border (a pill), not the widget's width:
        # otherwise the "…" is cut off and a clipped word reads as the end of the text
        indent = self.indent()
        if indent < 0 and self.frameWidth():  # QLabel's own rule: half an "x" inside a frame
            indent = self.fontMetrics().horizontalAdvance("x") // 2 - self.margin()
        room = self.contentsRect().width() - 2 * self.margin() - max(0, indent)
        shown = self.fontMetrics().elidedText(self._full, Qt.ElideRight, max(0, room))
        if shown != super().text():
            super().setText(shown)
