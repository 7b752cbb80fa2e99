"""Shared look of the editor: error/warning text colours, muted (default) text, a monospace font.

Every colour comes from :mod:`qs_gui.ui.theme` (a light-only red is unreadable on the dark
palette). Labels are coloured with :func:`~qs_gui.ui.theme.style_text` and so follow a theme
change by themselves; colours baked into rich text, palettes or item brushes are read here when
the widget is (re)built and re-applied by their owner on ``theme_manager().changed``.
"""

from __future__ import annotations

from PyQt5.QtGui import QColor, QFont, QFontDatabase, QFontInfo
from PyQt5.QtWidgets import QApplication, QWidget

from qs_gui.ui.theme import css, muted, role_colours, role_text, theme_manager

__all__ = ["blend", "error_text", "mark_colour", "mono_font", "muted_colour", "set_default_look"]

_LOOK_PROP = "qsEditorDefaultLook"
_looks_follow_theme = False


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


def muted_colour(widget: QWidget | None = None, weight: float = 0.6) -> str:
    """Secondary text for a style sheet, from the widget's current palette."""
    return css(muted(widget, weight))


def set_default_look(widget: QWidget, on: bool, selector: str = "", italic: bool = True) -> None:
    """Give ``widget`` the look of a value that is only the default (shown, not sent: muted
    italics), or take it away; its grey follows when the
    theme changes. ``selector`` scopes the rule (e.g. "QListWidget"); ``italic=False`` leaves the
    font alone (spin boxes take their italics from the font)."""
    global _looks_follow_theme
    widget.setProperty(_LOOK_PROP, f"{selector}|{int(italic)}" if on else None)
    _apply_look(widget)
    if on and not _looks_follow_theme:
        _looks_follow_theme = True
        theme_manager().changed.connect(_restyle_looks)


def _apply_look(widget: QWidget) -> None:
    look = widget.property(_LOOK_PROP)
    if not look:
        widget.setStyleSheet("")
        return
    selector, italic = str(look).split("|")
    # the application's palette: a widget's own lags behind a theme switch
    rule = f"color: {muted_colour(None, 0.55)};" + (" font-style: italic;" * (italic == "1"))
    widget.setStyleSheet(f"{selector} {{ {rule} }}" if selector else rule)


def _restyle_looks(_dark: bool = False) -> None:
    for widget in QApplication.allWidgets():
        try:
            if widget.property(_LOOK_PROP):
                _apply_look(widget)
        except RuntimeError:  # deleted while we walked
            continue


def error_text() -> str:
    """Error text colour (rich-text spans, item brushes) for the current palette."""
    return css(role_text("alarm"))


def mark_colour(mark: str) -> QColor | None:
    """The colour mixed into a marked input's background: "error" red, "warning" amber."""
    role = {"error": "alarm", "warning": "attention"}.get(mark)
    return role_colours(role)[0] if role else None


def blend(base: QColor, mark: QColor, amount: float) -> QColor:
    """``amount`` of ``mark`` mixed into ``base`` (opaque): a tint that keeps the palette's text
    readable on light and dark palettes alike."""
    return QColor(*(round(b * (1 - amount) + m * amount) for b, m in (
        (base.red(), mark.red()), (base.green(), mark.green()), (base.blue(), mark.blue()))))
