"""Shared look of the editor: error colour, muted (default) text, a monospace font.

Kept in one place so the editor package depends on nothing in the simple entry it replaces.
"""

from __future__ import annotations

from PyQt5.QtGui import QFont, QFontDatabase, QFontInfo
from PyQt5.QtWidgets import QWidget

from qs_gui.ui.status_panel import AMBER, RED, muted_colour

__all__ = ["AMBER", "RED", "default_look", "mono_font", "muted_colour"]


def mono_font(delta: float = -1.0) -> QFont:
    """A fixed-pitch font a point smaller than the UI font (JSON lines up and fits more).

    The platform's "fixed" font is not always fixed (offscreen answers with a sans), hence the
    fallback to the generic "Monospace" family.
    """
    font = QFontDatabase.systemFont(QFontDatabase.FixedFont)
    if not QFontInfo(font).fixedPitch():
        font = QFont("Monospace")
        font.setStyleHint(QFont.TypeWriter)
    if font.pointSizeF() > 0:
        font.setPointSizeF(max(6.0, font.pointSizeF() + delta))
    return font


def default_look(widget: QWidget) -> str:
    """Style sheet for a value that is only the default (shown, not sent): muted italics."""
    return f"color: {muted_colour(widget, 0.55)}; font-style: italic;"
