"""Render the application icon's PNG sizes from its SVG master (run after editing the SVG).

Why PNGs are committed at all: window managers, the freedesktop icon theme and PyInstaller want
raster icons, and QtSvg is not guaranteed to be loadable everywhere the app runs (a stripped
bundle, a minimal distro Qt). The SVG stays the single source; this script is the only writer of
the PNGs, so they cannot drift apart by hand-editing.

    .venv/bin/python resources/render_icons.py          # rewrite qs_gui/resources/icons/...
    .venv/bin/python resources/render_icons.py --check  # exit 1 if a PNG is missing or stale
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt  # noqa: E402
from PyQt5.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PyQt5.QtSvg import QSvgRenderer  # noqa: E402

SIZES = (16, 32, 48, 64, 128, 256)
HICOLOR = Path(__file__).resolve().parents[1] / "qs_gui" / "resources" / "icons" / "hicolor"
MASTER = HICOLOR / "scalable" / "apps" / "qs-gui.svg"


def png_path(size: int) -> Path:
    return HICOLOR / f"{size}x{size}" / "apps" / "qs-gui.png"


def render(renderer: QSvgRenderer, size: int) -> bytes:
    """PNG bytes of the SVG at ``size`` px, antialiased on a transparent background."""
    image = QImage(size, size, QImage.Format_ARGB32_Premultiplied)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    painter.setRenderHints(QPainter.Antialiasing | QPainter.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; fail when a PNG differs from a fresh rendering")
    args = parser.parse_args(argv)
    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(MASTER))
    if not renderer.isValid():
        sys.stderr.write(f"render_icons: cannot parse {MASTER}\n")
        return 2
    stale = []
    for size in SIZES:
        path, data = png_path(size), render(renderer, size)
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        sys.stdout.write(f"wrote {path} ({len(data)} bytes)\n")
    if stale:
        sys.stderr.write("render_icons: stale or missing:\n  " + "\n  ".join(stale) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
