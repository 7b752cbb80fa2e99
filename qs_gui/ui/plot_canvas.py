"""The pyqtgraph half of the "Live data" dock: plot widget, curve styles, crosshair, PNG export.

Split from :mod:`qs_gui.ui.plot_dock` so that pyqtgraph and numpy (~200 ms and ~26 MB at
start-up) load only when the dock first needs a plot: this module imports them at the top, and
the dock imports this module on first show or first document, never at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import QWidget

if TYPE_CHECKING:
    from qs_gui.core.liverun import LiveRun

__all__ = ["PlotCanvas", "curve_color"]

logger = logging.getLogger(__name__)

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#17becf", "#bcbd22", "#7f7f7f")  # fmt: skip
_FAINT_ALPHA = 70


def curve_color(index: int, faint: bool) -> QColor:
    """The ``index``-th palette colour; older runs (``faint``) are drawn see-through."""
    color = pg.mkColor(_PALETTE[index % len(_PALETTE)])
    if faint:
        color.setAlpha(_FAINT_ALPHA)
    return color


class PlotCanvas(pg.PlotWidget):
    """White plot with grid, legend and a hidden crosshair; peak decimation and clip-to-view on.

    ``on_manual_range()`` is called on a mouse pan/zoom, ``on_mouse(x, y)`` (view coordinates,
    rate-limited to 30/s) when the mouse moves over the plot.
    """

    def __init__(self, parent: QWidget | None, on_manual_range: Callable[[], None],
                 on_mouse: Callable[[float, float], None]) -> None:  # fmt: skip
        super().__init__(parent, background="w")
        self.setObjectName("livePlot")
        self.setMinimumSize(240, 110)  # never squeezed to a line in a crowded dock area
        item = self.getPlotItem()
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setLabel("bottom", "")
        item.hideButtons()  # pyqtgraph's own auto-range button: "Autoscale" replaces it
        item.disableAutoRange()
        item.getViewBox().sigRangeChangedManually.connect(lambda *_: on_manual_range())
        self.legend = item.addLegend(offset=(-10, 10), labelTextColor="k",
                                     brush=pg.mkBrush(255, 255, 255, 200))  # fmt: skip
        dash = pg.mkPen("#888888", width=1, style=Qt.DashLine)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=dash)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=dash)
        for line in (self.vline, self.hline):
            line.setVisible(False)
            item.addItem(line, ignoreBounds=True)
        self._on_mouse = on_mouse
        self._mouse_proxy = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._mouse_moved, threadSafe=False)  # fmt: skip
        self._mouse_proxy.setParent(self)  # its timer dies with the plot, never fires after it

    # -- curves ---------------------------------------------------------------------------------
    def add_curve(self, name: str) -> pg.PlotDataItem:
        """A new, empty curve in the legend; NaN gaps are left open (``connect="finite"``)."""
        return self.getPlotItem().plot(name=name, connect="finite")

    @staticmethod
    def style_curve(curve: pg.PlotDataItem, index: int, faint: bool, long: bool) -> None:
        """Colour by ``index``, alpha by age; long curves get thin pens and no symbols: a 2 px
        pen costs the raster engine ~5 ms per curve per frame."""
        color = curve_color(index, faint)
        curve.setPen(pg.mkPen(color, width=1 if faint or long else 2))
        if long:
            curve.setSymbol(None)
        else:
            curve.setSymbol("o")
            curve.setSymbolPen(pg.mkPen(color))
            curve.setSymbolBrush(pg.mkBrush(color))
            curve.setSymbolSize(5 if faint else 7)
        curve.setZValue(0 if faint else 10)

    # -- crosshair ------------------------------------------------------------------------------
    def _mouse_moved(self, event: tuple) -> None:
        pos = event[0]
        item = self.getPlotItem()
        if item.sceneBoundingRect().contains(pos):
            point = item.getViewBox().mapSceneToView(pos)
            self._on_mouse(point.x(), point.y())

    def nearest(self, runs: Iterable[LiveRun], x: float, y: float,
                ) -> tuple[float, float, str] | None:  # fmt: skip
        """Move the crosshair to the point nearest to (x, y) in screen distance; return
        (x, y, "field, run") or None when no run has a finite point."""
        px, py = self.getPlotItem().getViewBox().viewPixelSize()
        px, py = (px or 1.0), (py or 1.0)
        best: tuple[float, float, float, str] | None = None
        for run in runs:
            xs = run.x
            if not len(xs):
                continue
            for field in run.y_fields:
                ys = run.y(field)
                with np.errstate(invalid="ignore"):
                    d2 = ((xs - x) / px) ** 2 + ((ys - y) / py) ** 2
                if np.isnan(d2).all():
                    continue
                i = int(np.nanargmin(d2))
                if best is None or d2[i] < best[0]:
                    best = (float(d2[i]), float(xs[i]), float(ys[i]), f"{field}, {run.label}")
        if best is None:
            return None
        _, bx, by, what = best
        for line, pos in ((self.vline, bx), (self.hline, by)):
            line.setPos(pos)
            line.setVisible(True)
        return bx, by, what

    # -- export ---------------------------------------------------------------------------------
    def export_png(self, path: Path, width: int | None = None) -> Path:
        """Write the plot as PNG (pyqtgraph's ImageExporter; widget grab if it fails)."""
        try:
            exporter = pyqtgraph.exporters.ImageExporter(self.getPlotItem())
            if width:
                exporter.parameters()["width"] = int(width)
            exporter.export(str(path))
        except (TypeError, ValueError, RuntimeError) as ex:  # known exporter size quirks
            logger.info("ImageExporter failed (%s); saving a widget grab", ex)
            if not self.grab().save(str(path), "PNG"):
                raise OSError(f"could not write {path}") from ex
        return path
