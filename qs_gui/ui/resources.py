"""The packaged look: application icon, style sheet and desktop-entry data.

Why it is built this way:

* Resources live inside the package (``qs_gui/resources/``) and are read with
  ``importlib.resources`` as bytes, so the same code works from a source checkout, an installed
  wheel, a zipped install and a PyInstaller bundle; nothing assumes a file-system layout.
* The icon is built from the pre-rendered PNGs (``resources/render_icons.py`` writes them from
  the SVG, 16-256 px), so it does not need QtSvg or its image plugin at run time.
* Missing resources never stop the app: an operator without an icon can still run a beamline. A
  broken package is logged once and the app falls back to no icon / no style sheet.
"""

from __future__ import annotations

import functools
import logging
from importlib import resources

from PyQt5.QtCore import QByteArray
from PyQt5.QtGui import QIcon, QPixmap
from PyQt5.QtWidgets import QApplication

__all__ = ["ICON_SIZES", "app_icon", "apply_app_resources", "read_resource", "style_sheet"]

logger = logging.getLogger(__name__)

ICON_SIZES = (16, 32, 48, 64, 128, 256)
ICON_NAME = "qs-gui"
_PACKAGE = "qs_gui"
_ROOT = "resources"


def read_resource(relative: str) -> bytes:
    """Bytes of ``qs_gui/resources/<relative>``; FileNotFoundError when it is not packaged."""
    node = resources.files(_PACKAGE).joinpath(_ROOT)
    for part in relative.split("/"):
        node = node.joinpath(part)
    return node.read_bytes()


def _png_path(size: int) -> str:
    return f"icons/hicolor/{size}x{size}/apps/{ICON_NAME}.png"


@functools.lru_cache(maxsize=1)
def _icon_data() -> tuple[tuple[int, bytes], ...]:
    out = []
    for size in ICON_SIZES:
        try:
            out.append((size, read_resource(_png_path(size))))
        except (FileNotFoundError, OSError) as ex:
            logger.warning("Application icon %d px is missing: %s", size, ex)
    return tuple(out)


def app_icon() -> QIcon:
    """The application icon with every rendered size (empty QIcon if none is packaged)."""
    icon = QIcon()
    for _size, data in _icon_data():
        pixmap = QPixmap()
        if pixmap.loadFromData(QByteArray(data), "PNG"):
            icon.addPixmap(pixmap)
    return icon


@functools.lru_cache(maxsize=1)
def style_sheet() -> str:
    """The application style sheet, palette(...) colours only (``""`` when missing: Qt default)."""
    try:
        return read_resource("qs-gui.qss").decode("utf-8")
    except (FileNotFoundError, OSError, UnicodeDecodeError) as ex:
        logger.warning("Style sheet is missing or unreadable: %s", ex)
        return ""


def apply_app_resources(app: QApplication, *, use_style_sheet: bool = True) -> None:
    """Icon, desktop-file name (Wayland/taskbar matching) and, optionally, the style sheet.

    Call once, right after the QApplication exists and before windows are created, so every
    top-level window and dialog inherits the icon.
    """
    app.setWindowIcon(app_icon())
    app.setDesktopFileName(ICON_NAME)
    if use_style_sheet:
        sheet = style_sheet()
        if sheet:
            app.setStyleSheet(sheet)
