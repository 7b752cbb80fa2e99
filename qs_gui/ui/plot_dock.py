"""Live plot of the running scan (pyqtgraph): hinted detector fields vs. the scanned motor.

Why it is built this way (style-anchors §5, client-api-semantics §14):

* ``feed``/``feed_many`` only append to :class:`~qs_gui.core.liverun.LiveRuns` (numpy buffers).
  A 50 ms QTimer, armed by the first document after it went idle, pushes them into the curves
  with ``setData``: one call per changed curve per tick whatever the rate (1 kHz -> 20 paints/s).
* One ``PlotDataItem`` per (run, field), created once, kept until the run is evicted; nothing is
  cleared and re-plotted. Older runs stay, fainter; the spin box sets how many.
* Peak downsampling and clip-to-view keep long scans cheap, where the x order allows them.
* The view range is set once per tick from bounds the buffers fold incrementally, not by
  pyqtgraph's auto-range, which re-ranges inside the paint and so paints every frame twice.
  A manual pan/zoom stops following the data; "Autoscale" resumes it.
* Mouse moves reach the crosshair through a rate-limited ``SignalProxy``.
* pyqtgraph and numpy (~200 ms, ~26 MB) load when the plot is first needed, not at start-up:
  the pyqtgraph half lives in :mod:`qs_gui.ui.plot_canvas`, built on the dock's first show or
  first document (buffered first, so none is lost). Until then the dock holds plain Qt controls.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QShowEvent
from PyQt5.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from qs_gui.core.progress import Progress
from qs_gui.ui.theme import style_pill, style_text

if TYPE_CHECKING:  # the dock only reads its counters; it never touches the socket
    import pyqtgraph as pg

    from qs_gui.core.liverun import LiveRun, LiveRuns

    from .plot_canvas import PlotCanvas

__all__ = ["PlotDock", "KEEP_RUNS_RANGE", "FLUSH_INTERVAL_MS"]


class DocumentStats(Protocol):
    """What the dock reads of the document subscriber (the app attaches it): its counters,
    and whether it unpickles (shown as a warning)."""

    pickle_enabled: bool

    def stats(self) -> dict[str, int]: ...

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_MS = 50
KEEP_RUNS_RANGE = (1, 20)
QUIET_TICKS = 40  # ticks without data before an open run's timer slows to 1 Hz
SYMBOL_LIMIT = 200  # points per curve above which symbols are dropped (they are slow and noisy)
_MAX_ABS = 1e300  # view range clamp: pyqtgraph refuses ranges whose span is not finite


def _padded(lo: float, hi: float, pad: float = 0.05) -> tuple[float, float]:
    """[lo, hi] plus 5 % each side, kept finite (a span of ±1e308 overflows to inf)."""
    lo, hi = max(lo, -_MAX_ABS), min(hi, _MAX_ABS)
    span = hi - lo
    if span <= 0:
        span = abs(lo) * 0.1 or 1.0
    return lo - span * pad, hi + span * pad


class PlotDock(QDockWidget):
    """Dock "Live data" (objectName "plotDock"); emits ``progress_changed(Progress | None)``."""

    progress_changed = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None, *, max_runs: int = 3,
                 runs: LiveRuns | None = None,
                 flush_interval_ms: int = FLUSH_INTERVAL_MS) -> None:  # fmt: skip
        super().__init__("Live data", parent)
        self.setObjectName("plotDock")
        self._runs = runs  # created on first use (see ``runs``)
        self._max_runs = runs.max_runs if runs is not None else max_runs
        self.plot: PlotCanvas | None = None  # built by ensure_plot
        self._range: tuple[float, float, float, float] | None = None
        self._curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._drawn: dict[str, int] = {}  # run uid -> revision last pushed to its curves
        self._bright: str | None = None  # uid of the run drawn at full strength
        self._progress_key: tuple | None = None
        self._field_colors: dict[str, int] = {}  # a field keeps its colour across runs
        self._subscriber: DocumentStats | None = None
        self.flushes = 0  # timer ticks that pushed data (for tests and benchmarks)
        self.set_data_calls = 0
        self._build()
        self.visibilityChanged.connect(self._on_visibility)
        self._flush_interval_ms = flush_interval_ms
        self._quiet_ticks = 0
        self._timer, self._stats_timer = QTimer(self), QTimer(self)
        self._timer.setInterval(flush_interval_ms)
        self._timer.timeout.connect(self.flush)
        self._stats_timer.setInterval(1000)
        self._stats_timer.timeout.connect(self._update_stats)

    # -- construction ---------------------------------------------------------------------------
    def _build(self) -> None:
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        self.pickle_warning = QLabel(
            "⚠ Pickle payloads are enabled: unpickling runs code sent by the stream. "
            "Use only with a trusted document proxy.", body)  # fmt: skip
        self.pickle_warning.setObjectName("pickleWarning")
        self.pickle_warning.setWordWrap(True)
        style_pill(self.pickle_warning, "attention", extra="border-radius: 0; padding: 3px;")
        self.pickle_warning.setVisible(False)
        layout.addWidget(self.pickle_warning)

        row = QHBoxLayout()
        row.addWidget(QLabel("Runs kept:", body))
        self.keep_runs = QSpinBox(body)
        self.keep_runs.setObjectName("keepRunsSpin")
        self.keep_runs.setRange(*KEEP_RUNS_RANGE)
        self.keep_runs.setValue(self._max_runs)
        self.keep_runs.setToolTip("How many runs stay on the plot (earlier ones drawn fainter)")
        self.keep_runs.valueChanged.connect(self.set_max_runs)
        row.addWidget(self.keep_runs)
        self.autoscale_button = self._button(body, row, "Autoscale", self.autoscale,
                                             "Follow the data (off after a manual zoom or pan)")
        self.autoscale_button.setCheckable(True)
        self.autoscale_button.setChecked(True)
        self.png_button = self._button(body, row, "PNG…", lambda: self._ask_export("png"),
                                       "Export the plot as PNG")  # fmt: skip
        self.csv_button = self._button(body, row, "CSV…", lambda: self._ask_export("csv"),
                                       "Export the latest run's points as CSV")  # fmt: skip
        row.addStretch(1)
        self.readout = QLabel("", body)
        self.readout.setObjectName("crosshairReadout")
        self.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)
        row.addWidget(self.readout)
        layout.addLayout(row)

        self._body_layout = layout
        self._placeholder = QWidget(body)  # the plot's place (and size) until it is built
        self._placeholder.setMinimumSize(240, 80)
        layout.addWidget(self._placeholder, 1)
        self.stats_label = QLabel("", body)
        self.stats_label.setObjectName("streamStats")
        style_text(self.stats_label, "muted")
        layout.addWidget(self.stats_label)
        self.setWidget(body)

    def ensure_plot(self) -> PlotCanvas:
        """Build the plot (once): on first show or first document, not at start-up."""
        if self.plot is not None:
            return self.plot
        from .plot_canvas import PlotCanvas  # imports pyqtgraph and numpy

        self.plot = PlotCanvas(self.widget(), lambda: self.autoscale_button.setChecked(False),
                               self.show_nearest,  # a pan/zoom stops following the data
                               on_theme=self._recolour_curves)
        layout = self._body_layout
        index = layout.indexOf(self._placeholder)
        layout.removeWidget(self._placeholder)
        self._placeholder.deleteLater()
        layout.insertWidget(index, self.plot, 1)
        self.plot.show()
        return self.plot

    def _on_visibility(self, visible: bool) -> None:
        if visible:  # its tab was selected (a hidden tab is "shown" offscreen: not this)
            self.ensure_plot()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self.isWindow():  # floating, or a dock on its own
            self.ensure_plot()

    @property
    def legend(self) -> Any:
        """The plot's legend (None until the plot is built)."""
        return self.plot.legend if self.plot is not None else None

    @property
    def runs(self) -> LiveRuns:
        """The document buffers, created on first use (liverun imports numpy)."""
        if self._runs is None:
            from qs_gui.core.liverun import LiveRuns

            self._runs = LiveRuns(self._max_runs)
        return self._runs

    @staticmethod
    def _button(parent: QWidget, row: QHBoxLayout, text: str, slot: Any, tip: str) -> QPushButton:
        button = QPushButton(text, parent)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        row.addWidget(button)
        return button

    # -- input ----------------------------------------------------------------------------------
    def feed(self, name: str, doc: Any) -> None:
        """Buffer one document; the plot catches up on the next timer tick."""
        self.runs.feed(name, doc)
        self.ensure_plot()
        self._arm()

    def feed_many(self, documents: list[tuple[str, Any]]) -> None:
        """Buffer a batch (what ``DocumentPump`` delivers); never raises for bad documents."""
        self.runs.feed_many(documents)
        self.ensure_plot()
        self._arm()

    def _arm(self) -> None:
        self._quiet_ticks = 0
        if self._timer.interval() != self._flush_interval_ms:
            self._timer.setInterval(self._flush_interval_ms)
        if not self._timer.isActive():
            self._timer.start()

    def attach_subscriber(self, subscriber: DocumentStats | None) -> None:
        """Show the subscriber's pickle setting (as a warning) and its counters, every second."""
        self._subscriber = subscriber
        self.set_pickle_warning(bool(subscriber and subscriber.pickle_enabled))
        if subscriber is None:
            self._stats_timer.stop()
            self.stats_label.clear()
        else:
            self._update_stats()
            self._stats_timer.start()

    def set_pickle_warning(self, enabled: bool) -> None:
        self.pickle_warning.setVisible(enabled)  # also used by attach_subscriber

    def _update_stats(self) -> None:
        if self._subscriber is None:
            return
        s = self._subscriber.stats()
        text = (f"{s.get('received', 0)} messages · {s.get('malformed', 0)} malformed · "
                f"{s.get('refused', 0)} pickles refused")  # fmt: skip
        if s.get("oversized"):
            text += f" · {s['oversized']} oversized"
        if text != self.stats_label.text():
            self.stats_label.setText(text)

    def set_max_runs(self, value: int) -> None:
        """Keep the last ``value`` runs; older curves go on the next tick."""
        self._max_runs = value
        if self.keep_runs.value() != value:
            self.keep_runs.setValue(value)
        if self._runs is not None:  # else the buffers are created with it
            self._runs.max_runs = value
            self._arm()

    # -- flush ----------------------------------------------------------------------------------
    def flush(self) -> None:
        """Push changed buffers into their curves (the timer's slot; also callable directly)."""
        if self._runs is None:  # no document yet: nothing to draw or report
            self._timer.stop()
            return
        item = self.ensure_plot().getPlotItem()
        runs = self.runs.runs
        present = {run.uid for run in runs}
        evicted = [k for k in self._curves if k[0] not in present]
        for key in evicted:
            item.removeItem(self._curves.pop(key))
            self._drawn.pop(key[0], None)
        current = self.runs.current
        if current is not None and current.uid != self._bright:
            self._bright = current.uid
            self._restyle(runs)
        changed = False
        reductions = self._reductions(runs)
        for run in runs:
            stale = self._drawn.get(run.uid) != run.revision
            for field in run.y_fields:
                curve = self._curves.get((run.uid, field))
                if curve is None:
                    if not stale:
                        continue
                    curve = self._make_curve(run, field)
                elif stale and curve.opts.get("symbol") is not None and run.n > SYMBOL_LIMIT:
                    self._style(curve, field, run.uid != self._bright, long=True)
                clip, decimate = reductions[run.uid]  # every run, every tick (scales change)
                if curve.opts["clipToView"] != clip:
                    curve.setClipToView(clip)
                if curve.opts["autoDownsample"] != decimate:
                    curve.setDownsampling(ds=1, auto=decimate)
                if stale:
                    curve.setData(run.x, run.y(field))
                    self.set_data_calls += 1
            if stale:
                self._drawn[run.uid] = run.revision
                changed = True
                if run is current:
                    self._label_axes(run)
        if changed:
            self.flushes += 1
        if changed or evicted:
            self._follow_data()
            self._update_stats()
        self._emit_progress()
        if changed:
            self._quiet_ticks = 0
        elif current is None or current.done:
            self._timer.stop()  # idle until the next document arrives
        else:  # an open run gone quiet (a long count, or a lost stop): 1 Hz is enough for
            self._quiet_ticks += 1  # its elapsed/ETA text, and keeps an idle GUI idle
            if self._quiet_ticks == QUIET_TICKS:
                self._timer.setInterval(1000)

    @staticmethod
    def _reductions(runs: list[LiveRun]) -> dict[str, tuple[bool, bool]]:
        """(clip to view, decimate) per run. pyqtgraph assumes increasing x to clip (it bisects:
        on a grid whole sweeps inside the view vanish) and monotonic x to decimate (its step is
        the view width over the mean x spacing). A run whose x span is a speck next to the view
        (another run spans 1e6 times more) is not decimated either: that step would overflow
        numpy inside pyqtgraph's slot ("Maximum allowed dimension exceeded")."""
        bounds = {run.uid: run.bounds for run in runs}
        known = [b for b in bounds.values() if b is not None]
        union = max(b[1] for b in known) - min(b[0] for b in known) if known else 0.0
        out = {}
        for run in runs:
            b, order = bounds[run.uid], run.x_order
            own = b[1] - b[0] if b is not None else 0.0
            speck = own <= 0 or not union < own * 1e6  # (also when the union overflowed to inf)
            out[run.uid] = (order == "increasing", order is not None and not speck)
        return out

    def _color_index(self, field: str) -> int:
        return self._field_colors.setdefault(field, len(self._field_colors))

    def _make_curve(self, run: LiveRun, field: str) -> pg.PlotDataItem:
        curve = self.ensure_plot().add_curve(f"{run.label}: {field}")
        self._style(curve, field, run.uid != self._bright, long=run.n > SYMBOL_LIMIT)
        self._curves[(run.uid, field)] = curve
        return curve

    def _style(self, curve: pg.PlotDataItem, field: str, faint: bool, long: bool) -> None:
        """Colour by field (the same in every run), faint and thin for older runs."""
        self.ensure_plot().style_curve(curve, self._color_index(field), faint, long)

    def _recolour_curves(self) -> None:
        """The theme changed: curve colours come from the other (light/dark) set."""
        if self._runs is not None:
            self._restyle(self._runs.runs)
        if self.plot is not None and self.plot.getPlotItem().titleLabel.text:
            item = self.plot.getPlotItem()
            item.setTitle(item.titleLabel.text, color=self.plot.text_colour(), size="10pt")

    def _restyle(self, runs: list[LiveRun]) -> None:
        """Draw the newest run at full strength and every other run fainter (on a new run)."""
        for run in runs:
            for field in run.y_fields:
                curve = self._curves.get((run.uid, field))
                if curve is not None:
                    self._style(curve, field, run.uid != self._bright, run.n > SYMBOL_LIMIT)

    def _label_axes(self, run: LiveRun) -> None:
        item = self.plot.getPlotItem()
        x_label = "time since start (s)" if run.x_field == "time" else run.x_field
        if item.getAxis("bottom").labelText != x_label:
            item.setLabel("bottom", x_label)
        fields = ", ".join(run.y_fields) or "(no plottable fields)"
        title = f"{run.label}: {fields} vs {x_label}"
        if item.titleLabel.text != title:
            item.setTitle(title, color=self.plot.text_colour(), size="10pt")

    def _emit_progress(self) -> None:
        progress = self.progress
        key = None if progress is None else (progress.run_uid, progress.text(), progress.fraction)
        if key != self._progress_key:
            self._progress_key = key
            self.progress_changed.emit(progress)

    @property
    def progress(self) -> Progress | None:
        return self._runs.progress() if self._runs is not None else None

    def curve(self, run_uid: str, field: str) -> pg.PlotDataItem | None:
        """The curve of ``field`` in run ``run_uid`` (for tests and for the main window)."""
        return self._curves.get((run_uid, field))

    @property
    def curves(self) -> dict[tuple[str, str], pg.PlotDataItem]:
        return dict(self._curves)

    # -- interaction ----------------------------------------------------------------------------
    def autoscale(self) -> None:
        """Follow the data again (the button, or a call)."""
        self.autoscale_button.setChecked(True)
        self._range = None
        self._follow_data()

    @property
    def following(self) -> bool:
        return self.autoscale_button.isChecked()

    def _follow_data(self) -> None:
        """Set the view to the union of the kept runs' bounds (only when it changed)."""
        if not self.following:
            return
        bounds = [b for b in (run.bounds for run in self.runs.runs) if b is not None]
        if not bounds:
            return
        rng = (min(b[0] for b in bounds), max(b[1] for b in bounds),
               min(b[2] for b in bounds), max(b[3] for b in bounds))  # fmt: skip
        if rng != self._range:
            self._range = rng
            view = self.plot.getPlotItem().getViewBox()
            view.setRange(xRange=_padded(rng[0], rng[1]), yRange=_padded(rng[2], rng[3]),
                          padding=0)  # fmt: skip
            view.updateMatrix()  # now, not inside the paint (which would then paint twice)

    def show_nearest(self, x: float, y: float) -> tuple[float, float, str] | None:
        """Put the crosshair on the data point nearest to (x, y) in screen distance."""
        best = None
        if self.plot is not None and self._runs is not None:
            best = self.plot.nearest(self._runs.runs, x, y)
        if best is None:
            self.readout.clear()
            return None
        bx, by, what = best
        self.readout.setText(f"x = {bx:.6g}, y = {by:.6g}  ({what})")
        return best

    # -- export ---------------------------------------------------------------------------------
    def export_png(self, path: str | Path, width: int | None = None) -> Path:
        """Write the plot as PNG (pyqtgraph's ImageExporter; widget grab if it fails)."""
        plot = self.ensure_plot()
        self.flush()
        return plot.export_png(Path(path), width)

    def export_csv(self, path: str | Path, run_uid: str | None = None) -> Path:
        """Write a run (default: the latest) as CSV: x column then one column per field."""
        run = self.runs.get(run_uid) if run_uid else self.runs.current
        if run is None:
            raise LookupError("no run to export")
        path = Path(path)
        run.write_csv(path)
        return path

    def _ask_export(self, kind: str) -> None:
        """The PNG…/CSV… buttons: ask for a file name, write, report in the readout line."""
        run = self._runs.current if self._runs is not None else None
        if run is None and kind == "csv":
            self.readout.setText("Nothing to export yet")
            return
        scan = run.scan_id if run is not None and run.scan_id is not None else "plot"
        path, _ = QFileDialog.getSaveFileName(self, f"Export {kind.upper()}",
                                              f"scan_{scan}.{kind}", f"{kind.upper()} (*.{kind})")
        if not path:
            return
        try:
            written = self.export_png(path) if kind == "png" else self.export_csv(path)
        except (OSError, LookupError) as ex:
            self.readout.setText(f"Export failed: {ex}")
            logger.warning("Export failed: %s", ex)
        else:
            self.readout.setText(f"Saved {written}")
