"""The pyqtgraph half of the "Live data" dock: plot widget, curve styles, crosshair, PNG export.

Split from :mod:`qs_gui.ui.plot_dock` so that pyqtgraph and numpy (~200 ms and ~26 MB at
start-up) load only when the dock first needs a plot: this module imports them at the top, and
the dock imports this module on first show or first document, never at start-up.

The plot follows the palette (background = Base, axes and text = Text, curve colours from a light
or a dark set): :meth:`PlotCanvas.apply_theme` runs at construction and on every theme change.
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
from PyQt5.QtGui import QColor, QPalette
from PyQt5.QtWidgets import QWidget

from .theme import is_dark, muted, theme_manager

if TYPE_CHECKING:
    from qs_gui.core.liverun import LiveRun

__all__ = ["PlotCanvas", "curve_color", "plot_colours"]

logger = logging.getLogger(__name__)

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#17becf", "#bcbd22", "#7f7f7f")  # fmt: skip
#: the same hues, lighter, for a dark background (each >= 3:1 against the dark Base)
_DARK_PALETTE = ("#5aa9e6", "#ff6b6b", "#5cd65c", "#ffa94d", "#b197fc", "#c8a08a", "#f783ac",
                 "#3bc9db", "#d8d84a", "#b0b0b0")  # fmt: skip
_FAINT_ALPHA = 70


def plot_colours(widget: QWidget | None = None) -> tuple[QColor, QColor, QColor]:
    """(background, foreground, faint) of the plot from the palette: Base, Text, muted Text."""
    palette = widget.palette() if widget is not None else pg.QtWidgets.QApplication.palette()
    return palette.color(QPalette.Base), palette.color(QPalette.Text), muted(widget, 0.5)


def curve_color(index: int, faint: bool) -> QColor:
    """The ``index``-th curve colour (light or dark set, by the palette); older runs
    (``faint``) are drawn see-through."""
    colours = _DARK_PALETTE if is_dark() else _PALETTE
    color = pg.mkColor(colours[index % len(colours)])
    if faint:
        color.setAlpha(_FAINT_ALPHA)
    return color


class PlotCanvas(pg.PlotWidget):
    """Palette-coloured plot with grid, legend and a hidden crosshair; peak decimation and
    clip-to-view on.

    ``on_manual_range()`` is called on a mouse pan/zoom, ``on_mouse(x, y)`` (view coordinates,
    rate-limited to 30/s) when the mouse moves over the plot; ``on_theme()`` after the plot
    re-coloured itself for a new theme (the owner restyles its curves).
    """

    def __init__(self, parent: QWidget | None, on_manual_range: Callable[[], None],
                 on_mouse: Callable[[float, float], None],
                 on_theme: Callable[[], None] | None = None) -> None:  # fmt: skip
        super().__init__(parent, background=plot_colours(parent)[0])
        self.setObjectName("livePlot")
        self.setMinimumSize(240, 80)  # never squeezed to a line in a crowded dock area
        item = self.getPlotItem()
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setLabel("bottom", "")
        item.hideButtons()  # pyqtgraph's own auto-range button: "Autoscale" replaces it
        item.disableAutoRange()
        item.getViewBox().sigRangeChangedManually.connect(lambda *_: on_manual_range())
        self.legend = item.addLegend(offset=(-10, 10))
        self.vline = pg.InfiniteLine(angle=90, movable=False)
        self.hline = pg.InfiniteLine(angle=0, movable=False)
        for line in (self.vline, self.hline):
            line.setVisible(False)
            item.addItem(line, ignoreBounds=True)
        self._on_mouse = on_mouse
        self._mouse_proxy = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._mouse_moved, threadSafe=False)  # fmt: skip
        self._mouse_proxy.setParent(self)  # its timer dies with the plot, never fires after it
        self._on_theme = on_theme
        self.apply_theme()
        theme_manager().connect_recolour(self, self._theme_changed)

    # -- colours --------------------------------------------------------------------------------
    def apply_theme(self) -> None:
        """Background, axes, labels, legend and crosshair from the current palette."""
        bg, fg, faint = plot_colours(self)
        self.setBackground(bg)
        item = self.getPlotItem()
        for name in ("left", "bottom", "right", "top"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(fg))
            axis.setTextPen(pg.mkPen(fg))  # re-renders the axis label too
        if item.titleLabel.text:
            item.titleLabel.setText(item.titleLabel.text, color=fg.name())
        legend_bg = QColor(bg)
        legend_bg.setAlpha(200)
        self.legend.setBrush(pg.mkBrush(legend_bg))
        self.legend.setPen(pg.mkPen(faint))
        self.legend.setLabelTextColor(fg)
        for _sample, label in self.legend.items:
            label.setText(label.text)  # LabelItem renders its colour only on setText
        dash = pg.mkPen(faint, width=1, style=Qt.DashLine)
        for line in (self.vline, self.hline):
            line.setPen(dash)

    def text_colour(self) -> str:
        """The palette's text colour, for titles set by the owner."""
        return plot_colours(self)[1].name()

    def _theme_changed(self) -> None:
        self.apply_theme()
        if self._on_theme is not None:
            self._on_theme()

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
