"""One place for colours: System / Light / Dark theme, state-role and outcome colours, live switch.

Why it is built this way:

* **Every colour comes from the palette or from the tables here.** Views never hard-code a hex
  colour: a light-only colour turns unreadable on a dark palette (dock titles, headers, pills).
  The tables hold one light and one dark variant of each colour; the variant follows the
  *effective* palette (a "System" palette that happens to be dark gets the dark variants).
* **Colour pairs are checked.** Every (background, foreground) pair and every text colour on the
  palette's base/window has WCAG contrast >= 4.5 in both variants (``tests/ui/test_theme.py``).
* **One meaning per colour**: "ok" green, "busy" blue, "attention" amber (requested or waiting
  states: paused, stop pending, a lock), "alarm" red (only an unacknowledged failure), "off" grey.
  Outcomes map onto the same roles (an operator-requested stop/abort/halt is not an alarm).
* **Live switch.** :class:`ThemeManager` sets the application palette (Fusion, so the palette is
  honoured everywhere), re-applies the application style sheet (``palette(...)`` references are
  resolved again) and emits ``changed`` so views with per-widget colours (pills, plot, table
  brushes) re-colour themselves. The choice is persisted in ``AppSettings.theme``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PyQt5.QtWidgets import (
    QAction,
    QActionGroup,
    QApplication,
    QMenu,
    QStyle,
    QStyleFactory,
    QToolTip,
    QWidget,
)

if TYPE_CHECKING:
    from qs_gui.core.profiles import AppSettings

__all__ = [
    "MODES",
    "OUTCOMES",
    "ROLES",
    "ThemeManager",
    "contrast",
    "css",
    "install_theme_menu",
    "is_dark",
    "mark_colour",
    "muted",
    "outcome_colours",
    "outcome_role",
    "outcome_text",
    "role_colours",
    "role_text",
    "set_standard_icon",
    "standard_icon",
    "style_pill",
    "style_text",
    "theme_manager",
]

logger = logging.getLogger(__name__)

MODES = ("system", "light", "dark")
ROLES = ("ok", "busy", "attention", "alarm", "off")

#: role -> ((light bg, light fg), (dark bg, dark fg)): pills, banners, badges.
_ROLE_PAIRS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "ok": (("#2e7d32", "#ffffff"), ("#1f5f24", "#e8f5e9")),
    "busy": (("#1565c0", "#ffffff"), ("#164a8a", "#e3f2fd")),
    "attention": (("#f0a000", "#1a1a1a"), ("#c98a00", "#1a1a1a")),
    "alarm": (("#c62828", "#ffffff"), ("#a11d1d", "#ffebee")),
    "off": (("#616161", "#ffffff"), ("#4a4a4a", "#eeeeee")),
}
#: role -> (light, dark) text colour on the palette's base/window (table cells, labels).
_ROLE_TEXT: dict[str, tuple[str, str]] = {
    "ok": ("#1b5e20", "#81c784"),
    "busy": ("#0d47a1", "#90caf9"),
    "attention": ("#7a4f00", "#ffca28"),
    "alarm": ("#a01818", "#ff8a80"),
    "off": ("#555555", "#b0b0b0"),
}
#: Outcome (exit status or Execute-now state) -> role. A stop/abort/halt is asked for by an
#: operator: attention, not alarm; only "failed" is red.
_OUTCOME_ROLES: dict[str, str] = {
    "completed": "ok",
    "success": "ok",
    "failed": "alarm",
    "error": "alarm",
    "stopped": "attention",
    "aborted": "attention",
    "halted": "attention",
    "unknown": "off",
    "running": "busy",
    "submitted": "busy",
}
OUTCOMES = ("completed", "failed", "stopped", "aborted", "halted", "unknown", "running")

#: The built-in dark ("night") palette: low light for dim control rooms, not pure black.
_DARK = {
    QPalette.Window: "#202124",
    QPalette.WindowText: "#e3e3e3",
    QPalette.Base: "#17181a",
    QPalette.AlternateBase: "#232427",
    QPalette.ToolTipBase: "#2b2d31",
    QPalette.ToolTipText: "#e3e3e3",
    QPalette.PlaceholderText: "#8c8c8c",
    QPalette.Text: "#e3e3e3",
    QPalette.Button: "#2b2d31",
    QPalette.ButtonText: "#e3e3e3",
    QPalette.BrightText: "#ff8a80",
    QPalette.Light: "#3c3f44",
    QPalette.Midlight: "#33363a",
    QPalette.Mid: "#4a4d52",
    QPalette.Dark: "#151618",
    QPalette.Shadow: "#0b0b0c",
    QPalette.Highlight: "#2f6db3",
    QPalette.HighlightedText: "#ffffff",
    QPalette.Link: "#8ab4f8",
    QPalette.LinkVisited: "#c58af9",
}
_DARK_DISABLED = {
    QPalette.WindowText: "#7d7d7d",
    QPalette.Text: "#7d7d7d",
    QPalette.ButtonText: "#7d7d7d",
    QPalette.Highlight: "#3a3d42",
    QPalette.HighlightedText: "#a0a0a0",
}


# -- colour arithmetic ----------------------------------------------------------------------------
def _luminance(colour: QColor) -> float:
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return (0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF())
            + 0.0722 * linear(colour.blueF()))  # fmt: skip


def contrast(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio of two opaque colours (1 … 21; text needs >= 4.5)."""
    la, lb = sorted((_luminance(QColor(a)), _luminance(QColor(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def css(colour: QColor) -> str:
    """``#rrggbb`` (or ``rgba(...)`` when translucent) for a style sheet."""
    colour = QColor(colour)
    if colour.alpha() == 255:
        return colour.name()
    return f"rgba({colour.red()}, {colour.green()}, {colour.blue()}, {colour.alpha()})"


def _palette_is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.Window).lightnessF() < 0.5


def is_dark(palette: QPalette | None = None) -> bool:
    """True when ``palette`` (default: the application's) is a dark one, whatever the mode."""
    if palette is None:
        app = QApplication.instance()
        if app is None:
            return False
        palette = app.palette()
    return _palette_is_dark(palette)


def role_colours(role: str, dark: bool | None = None) -> tuple[QColor, QColor]:
    """(background, foreground) for a state role: "ok", "busy", "attention", "alarm", "off".

    ``dark`` defaults to the current application palette. Unknown roles get "off".
    """
    light_pair, dark_pair = _ROLE_PAIRS.get(role, _ROLE_PAIRS["off"])
    bg, fg = dark_pair if (is_dark() if dark is None else dark) else light_pair
    return QColor(bg), QColor(fg)


def role_text(role: str, dark: bool | None = None) -> QColor:
    """Text colour for ``role`` on the palette's base/window (a red "failed" cell, a label)."""
    light, dark_colour = _ROLE_TEXT.get(role, _ROLE_TEXT["off"])
    return QColor(dark_colour if (is_dark() if dark is None else dark) else light)


def outcome_role(outcome: str | None) -> str:
    """The role of an exit status / execution state ("failed" -> "alarm"; unknown -> "off")."""
    return _OUTCOME_ROLES.get((outcome or "").lower(), "off")


def outcome_colours(outcome: str | None, dark: bool | None = None) -> tuple[QColor, QColor]:
    """(background, foreground) for an outcome: completed, failed, stopped, aborted, halted,
    unknown, running (also success/error/submitted)."""
    return role_colours(outcome_role(outcome), dark)


def outcome_text(outcome: str | None, dark: bool | None = None) -> QColor:
    """Text colour for an outcome on the palette's base/window (tables and labels)."""
    return role_text(outcome_role(outcome), dark)


def muted(widget: QWidget | None = None, weight: float = 0.6) -> QColor:
    """Secondary text: the window text moved towards the window colour (readable in any theme)."""
    palette = widget.palette() if widget is not None else QApplication.palette()
    fg, bg = palette.color(QPalette.WindowText), palette.color(QPalette.Window)
    return QColor(*(round(f * weight + b * (1 - weight)) for f, b in
                    zip((fg.red(), fg.green(), fg.blue()), (bg.red(), bg.green(), bg.blue()),
                        strict=True)))  # fmt: skip


def dark_palette() -> QPalette:
    """The built-in night palette."""
    palette = QPalette()
    for role, colour in _DARK.items():
        palette.setColor(QPalette.All, role, QColor(colour))
    for role, colour in _DARK_DISABLED.items():
        palette.setColor(QPalette.Disabled, role, QColor(colour))
    return palette


def light_palette() -> QPalette:
    """Fusion's standard light palette (independent of a dark desktop setting)."""
    style = QStyleFactory.create("Fusion")
    return style.standardPalette() if style is not None else QPalette()


# -- the live switch -------------------------------------------------------------------------------
class ThemeManager(QObject):
    """Applies System / Light / Dark to the application and tells views when colours changed.

    ``changed(dark)`` is emitted after the palette and style sheet were applied; slots read the
    new colours through :func:`role_colours` & co.
    """

    changed = pyqtSignal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._mode = "system"
        self._system_palette: QPalette | None = None
        self._system_style: str | None = None

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def dark(self) -> bool:
        return is_dark()

    def set_mode(self, mode: str, settings: AppSettings | None = None) -> None:
        """Apply ``mode`` ("system", "light" or "dark"; anything else is "system") and, when
        ``settings`` is given, remember it."""
        mode = mode if mode in MODES else "system"
        app = QApplication.instance()
        if settings is not None:
            try:
                settings.set_theme(mode)
            except Exception as ex:  # noqa: BLE001 - a settings store failure must not stop the UI
                logger.warning("Could not save the theme: %s", ex)
        if app is None or (mode == self._mode and self._system_palette is not None):
            self._mode = mode
            return
        if self._system_palette is None:  # remember what "System" looked like, once
            self._system_palette = QPalette(app.palette())
            self._system_style = app.style().objectName()
        self._mode = mode
        if mode == "system":
            if self._system_style and app.style().objectName() != self._system_style:
                app.setStyle(self._system_style)
            palette = QPalette(self._system_palette)
        else:
            if app.style().objectName().lower() != "fusion":
                app.setStyle("Fusion")  # the one built-in style that follows the palette fully
            palette = dark_palette() if mode == "dark" else light_palette()
        app.setPalette(palette)
        QApplication.setPalette(palette)
        QToolTip.setPalette(palette)
        sheet = app.styleSheet()
        if sheet:
            app.setStyleSheet("")  # palette(...) in the sheet is resolved again
            app.setStyleSheet(sheet)
        _restyle_all()
        _retint_icons()
        self.changed.emit(_palette_is_dark(palette))

    def connect_recolour(self, owner: QObject, slot: Callable[[], Any]) -> None:
        """Call ``slot()`` on every theme change for as long as ``owner`` lives."""
        def relay(_dark: bool) -> None:
            # An exception escaping a slot makes PyQt abort the process where no excepthook is
            # set: a view that fails to re-colour must cost its colours, never the window.
            try:
                slot()
            except RuntimeError:  # the C++ object is gone
                pass
            except Exception:  # noqa: BLE001 - see above
                logger.exception("Re-colouring %r after a theme change failed", owner)

        self.changed.connect(relay)
        owner.destroyed.connect(lambda *_: _disconnect(self.changed, relay))


def _disconnect(signal: Any, slot: Callable[..., Any]) -> None:
    try:
        signal.disconnect(slot)
    except (TypeError, RuntimeError):
        pass


_MANAGER: ThemeManager | None = None


def theme_manager() -> ThemeManager:
    """The application's one ThemeManager (created on first use)."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = ThemeManager(QApplication.instance())
    return _MANAGER


_LABELS = {"system": "&System", "light": "&Light", "dark": "&Dark (night)"}


def install_theme_menu(parent: QWidget, menu: QMenu, settings: AppSettings | None = None) -> QMenu:
    """Add View ▸ Theme (System / Light / Dark) to ``menu`` and apply the saved choice."""
    manager = theme_manager()
    saved = settings.theme if settings is not None else manager.mode
    submenu = menu.addMenu("&Theme")
    submenu.setObjectName("themeMenu")
    group = QActionGroup(submenu)
    group.setExclusive(True)
    actions: dict[str, QAction] = {}
    for mode in MODES:
        action = submenu.addAction(_LABELS[mode])
        action.setObjectName(f"theme_{mode}")
        action.setCheckable(True)
        action.setData(mode)
        group.addAction(action)
        actions[mode] = action
    submenu.setToolTip("Colours: the desktop's palette, a light one, or a dark one for dim "
                       "control rooms")  # fmt: skip
    group.triggered.connect(lambda action: manager.set_mode(str(action.data()), settings))

    def sync(_dark: bool = False) -> None:
        checked = actions.get(manager.mode)
        try:
            if checked is not None and not checked.isChecked():
                checked.setChecked(True)
        except RuntimeError:  # the menu went with its window
            _disconnect(manager.changed, sync)

    manager.changed.connect(sync)
    parent.destroyed.connect(lambda *_: _disconnect(manager.changed, sync))
    if saved != manager.mode:
        manager.set_mode(saved)
    sync()
    return submenu


# -- widgets that keep their theme colours --------------------------------------------------------
_TEXT_PROP, _PILL_PROP = "qsThemeText", "qsThemePill"
_PILL_CSS = "background: {bg}; color: {fg}; border-radius: 9px; padding: 2px 10px;"


def style_text(widget: QWidget, role: str | None, *, bold: bool = False, extra: str = "") -> None:
    """Colour ``widget``'s text by ``role`` (see :data:`ROLES`, or "muted"; None: palette text)
    and keep it right when the theme changes. ``extra`` is appended CSS (no colours in it)."""
    widget.setProperty(_TEXT_PROP, f"{role or ''}|{int(bold)}|{extra}")
    _apply_text(widget)


def style_pill(widget: QWidget, role: str | None, *, extra: str = "") -> None:
    """A rounded pill in ``role``'s (background, foreground); None removes it. Re-coloured on a
    theme change."""
    widget.setProperty(_PILL_PROP, f"{role or ''}|{extra}")
    _apply_pill(widget)


def _apply_text(widget: QWidget) -> None:
    role, bold, extra = str(widget.property(_TEXT_PROP)).split("|", 2)
    parts = []
    if role == "muted":
        parts.append(f"color: {css(muted(widget))};")
    elif role:
        parts.append(f"color: {css(role_text(role))};")
    if bold == "1":
        parts.append("font-weight: bold;")
    if extra:
        parts.append(extra)
    widget.setStyleSheet(" ".join(parts))


def _apply_pill(widget: QWidget) -> None:
    role, extra = str(widget.property(_PILL_PROP)).split("|", 1)
    if not role:
        widget.setStyleSheet(extra)
        return
    bg, fg = role_colours(role)
    widget.setStyleSheet(_PILL_CSS.format(bg=css(bg), fg=css(fg)) + (" " + extra if extra else ""))


def _restyle_all(_dark: bool = False) -> None:
    for widget in QApplication.allWidgets():
        try:
            if widget.property(_PILL_PROP) is not None:
                _apply_pill(widget)
            elif widget.property(_TEXT_PROP) is not None:
                _apply_text(widget)
            elif widget.styleSheet():
                # A widget with a style sheet of its own keeps the palette it had when the sheet
                # was set (a disabled button's light-theme grey would look enabled on dark):
                # setting the sheet again resolves it against the new palette.
                widget.setStyleSheet(widget.styleSheet())
        except RuntimeError:  # deleted while we walked
            continue


# -- icons --------------------------------------------------------------------------------------
_ICON_SIZES = (16, 22, 24, 32, 48)
_TRACKED_ICONS: weakref.WeakKeyDictionary[QAction, int] = weakref.WeakKeyDictionary()


def _dark_monochrome(image: QImage) -> bool:
    """A glyph drawn in black/grey (Fusion's media icons): invisible on a dark background."""
    light = sat = n = 0
    step = max(1, image.width() // 16)
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            c = image.pixelColor(x, y)
            if c.alpha() > 128:
                light += c.lightness()
                sat += c.hslSaturation()
                n += 1
    return n > 0 and light / n < 110 and sat / n < 60


def standard_icon(pixmap: QStyle.StandardPixmap) -> QIcon:
    """The style's standard icon, its dark monochrome glyphs drawn in the palette's button-text
    colour when the palette is dark (coloured icons, e.g. folders, are kept as they are)."""
    app = QApplication.instance()
    icon = app.style().standardIcon(pixmap) if app is not None else QIcon()
    if not is_dark() or icon.isNull():
        return icon
    colour = QApplication.palette().color(QPalette.ButtonText)
    out = QIcon()
    for size in _ICON_SIZES:
        source = icon.pixmap(size, size)
        if source.isNull():
            continue
        image = source.toImage().convertToFormat(QImage.Format_ARGB32_Premultiplied)
        if _dark_monochrome(image):
            painter = QPainter(image)
            painter.setCompositionMode(QPainter.CompositionMode_SourceIn)
            painter.fillRect(image.rect(), colour)
            painter.end()
        out.addPixmap(QPixmap.fromImage(image))
    return out if not out.isNull() else icon


def set_standard_icon(action: QAction, pixmap: QStyle.StandardPixmap | None) -> None:
    """Give ``action`` the themed :func:`standard_icon` and keep it right on theme changes."""
    if pixmap is None:
        _TRACKED_ICONS.pop(action, None)
        action.setIcon(QIcon())
        return
    _TRACKED_ICONS[action] = pixmap
    action.setIcon(standard_icon(pixmap))


def _retint_icons() -> None:
    for action, pixmap in list(_TRACKED_ICONS.items()):
        try:
            action.setIcon(standard_icon(pixmap))
        except RuntimeError:  # the C++ action is gone
            _TRACKED_ICONS.pop(action, None)


def mark_colour() -> QColor:
    """The red of the "this item failed" marker stripe (visible on a selected row too)."""
    return role_colours("alarm")[0]

