"""A visible keyboard focus ring: 2 px in the palette's highlight colour around the focused
widget, in every window of the application.

Why an overlay and not a style sheet: the platform styles draw a 1 px (or no) focus frame, and
a ``:focus { border: … }`` style sheet replaces the native drawing of spin boxes and combo
boxes (their arrows go), so a ring that follows the focus is drawn on top instead. It takes
no input (mouse events pass through) and is clipped to what is visible of the widget (a field
scrolled half out of view gets half a ring). The colour is ``QPalette.Highlight`` of the
focused widget, so light, dark and high-contrast palettes all get a ring that stands out.
"""

from __future__ import annotations

from PyQt5 import sip
from PyQt5.QtCore import QEvent, QObject, QPoint, QRect, Qt
from PyQt5.QtGui import QPainter, QPaintEvent, QPalette, QPen
from PyQt5.QtWidgets import QApplication, QWidget

__all__ = ["RING_WIDTH", "FocusRing", "install_focus_ring"]

RING_WIDTH = 2

_WATCHED = (QEvent.Move, QEvent.Resize, QEvent.Show, QEvent.Hide, QEvent.ParentChange)


class FocusRing(QWidget):
    """The ring itself; one per application (see :func:`install_focus_ring`)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.setObjectName("focusRing")
        self.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.NoFocus)
        self.target: QWidget | None = None
        self._watched: list[QWidget] = []
        self._colour = self.palette().color(QPalette.Highlight)

    def follow(self, widget: QWidget | None) -> None:
        """Ring ``widget`` (None: hide) and keep up with it as it and its parents move."""
        for w in self._watched:
            try:
                w.removeEventFilter(self)
            except RuntimeError:  # already deleted
                pass
        self._watched = []
        self.target = widget if widget is not None and not isinstance(widget, FocusRing) \
            else None  # fmt: skip
        if self.target is None or self.target.isWindow():
            self.hide()
            return
        w: QWidget | None = self.target
        while w is not None:
            w.installEventFilter(self)
            self._watched.append(w)
            if w.isWindow():
                break
            w = w.parentWidget()
        self.place()

    def place(self) -> None:
        """Put the ring around the target's visible part, on top of its window."""
        target = self.target
        if target is None or sip.isdeleted(target) or not target.isVisible():
            self.hide()
            return
        window = target.window()
        if self.parentWidget() is not window:
            self.setParent(window)
        visible = QRect(target.mapTo(window, QPoint(0, 0)), target.size())
        w = target.parentWidget()
        while w is not None and w is not window:
            visible &= QRect(w.mapTo(window, QPoint(0, 0)), w.size())
            w = w.parentWidget()
        if visible.isEmpty():
            self.hide()
            return
        self._colour = target.palette().color(QPalette.Highlight)
        self.setGeometry(visible.adjusted(-RING_WIDTH, -RING_WIDTH, RING_WIDTH, RING_WIDTH))
        self.show()
        self.raise_()
        self.update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if event.type() in _WATCHED:
            self.place()
        return False

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        pen = QPen(self._colour, RING_WIDTH)
        pen.setJoinStyle(Qt.MiterJoin)
        painter.setPen(pen)
        half = RING_WIDTH / 2
        painter.drawRect(self.rect().adjusted(int(half), int(half), -int(half) - 1,
                                              -int(half) - 1))  # fmt: skip
        painter.end()


_RING: FocusRing | None = None


def _ring() -> FocusRing:
    """The ring, made again when its window took it along when it was deleted."""
    global _RING
    if _RING is None or sip.isdeleted(_RING):
        _RING = FocusRing()
    return _RING


def _focus_changed(_old: QWidget | None, new: QWidget | None) -> None:
    global _RING
    try:
        _ring().follow(new)
    except RuntimeError:  # the ring went with a window being destroyed: a new one, once
        _RING = None
        try:
            _ring().follow(new)
        except RuntimeError:  # ``new`` itself is going: nothing to ring
            pass


def install_focus_ring(app: QApplication | None = None) -> FocusRing:
    """Show the ring around whatever has the keyboard focus from now on (idempotent)."""
    app = app or QApplication.instance()
    if not app.property("qsFocusRing"):
        app.setProperty("qsFocusRing", True)
        app.focusChanged.connect(_focus_changed)
    ring = _ring()
    ring.follow(app.focusWidget())
    return ring
