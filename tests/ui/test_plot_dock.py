"""PlotDock and ProgressWidget: curves from synthetic documents, coalesced flushes, crosshair,
export, runs kept, the pickle warning, and a live 1 kHz stream on a qasync loop."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio  # noqa: E402
import csv  # noqa: E402
import gc  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import msgpack  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import zmq  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PyQt5.QtCore import QPointF, Qt, QTimer  # noqa: E402
from PyQt5.QtGui import QImage  # noqa: E402
from PyQt5.QtWidgets import QDockWidget, QLabel, QMainWindow  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from qs_gui.client.documents import DocumentPump, DocumentSubscriber  # noqa: E402
from qs_gui.core.progress import Progress  # noqa: E402
from qs_gui.ui.plot_dock import PlotDock  # noqa: E402
from qs_gui.ui.progress_widget import ProgressWidget  # noqa: E402
from tests.core.test_liverun import descriptor, event, scan_docs, start, stop  # noqa: E402
from tests.ui.qt_async import run, until  # noqa: E402


@pytest.fixture
def dock(qtbot: QtBot) -> PlotDock:
    widget = PlotDock(max_runs=3)
    qtbot.addWidget(widget)
    widget.resize(800, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def curve_xy(dock: PlotDock, run: str, field: str) -> tuple[np.ndarray, np.ndarray]:
    curve = dock.curve(run, field)
    assert curve is not None, f"no curve for {run}/{field}: {list(dock.curves)}"
    x, y = curve.getOriginalDataset()
    return np.asarray(x), np.asarray(y)


def test_feed_only_buffers_and_the_flush_draws_the_scan(dock: PlotDock, qtbot: QtBot) -> None:
    dock.feed_many(scan_docs(10, detectors=("det1", "det2")))
    assert dock.curves == {}  # nothing is drawn from feed itself
    qtbot.waitUntil(lambda: dock.curve("r1", "det2") is not None, timeout=2000)
    x, y = curve_xy(dock, "r1", "det1")
    np.testing.assert_allclose(x, np.linspace(-1, 1, 10))
    np.testing.assert_allclose(y, 5 * np.linspace(-1, 1, 10))
    item = dock.plot.getPlotItem()
    assert item.getAxis("bottom").labelText == "motor"
    assert "#7 scan" in item.titleLabel.text
    names = [label.text for _, label in dock.legend.items]
    assert names == ["#7 scan: det1", "#7 scan: det2"]
    assert item.ctrl.downsampleCheck.isChecked() and item.ctrl.peakRadio.isChecked()
    assert item.ctrl.clipToViewCheck.isChecked()
    qtbot.waitUntil(lambda: not dock._timer.isActive(), timeout=2000)  # idle after the stop


def test_curves_are_created_once_and_flushes_coalesce(dock: PlotDock, qtbot: QtBot,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    dock.feed_many([("start", start(num_points=10_000, detectors=("det1", "det2"))),
                    ("descriptor", descriptor())])  # fmt: skip
    dock.flush()
    dock.feed("event", event(1, {"motor": 0.0, "det1": 0.0, "det2": 0.0}))
    dock.flush()
    curves = dock.curves
    calls: dict[str, int] = {"det1": 0, "det2": 0}
    for (_, field), curve in curves.items():
        original = curve.setData

        def counting(*args: Any, _orig: Any = original, _field: str = field, **kw: Any) -> None:
            calls[_field] += 1
            _orig(*args, **kw)

        monkeypatch.setattr(curve, "setData", counting)
    t0 = time.perf_counter()
    for i in range(2, 10_002):  # 10,000 events, one feed() each, as fast as Python goes
        dock.feed("event", event(i, {"motor": i * 1e-3, "det1": float(i), "det2": -float(i)}))
    feed_s = time.perf_counter() - t0
    qtbot.waitUntil(lambda: len(curve_xy(dock, "r1", "det1")[0]) == 10_001, timeout=3000)
    assert dock.curves == curves  # the same items: never cleared and re-plotted
    assert 1 <= calls["det1"] <= 3 and calls["det1"] == calls["det2"], (calls, feed_s)
    assert curves[("r1", "det1")].opts["symbol"] is None  # symbols dropped for long curves


def test_timer_stops_when_idle_and_slows_for_a_quiet_open_run(dock: PlotDock) -> None:
    dock.feed_many(scan_docs(3)[:-1])  # no stop document: the run stays open
    assert dock._timer.isActive() and dock._timer.interval() == 50
    for _ in range(60):
        dock.flush()
    assert dock._timer.isActive() and dock._timer.interval() == 1000  # elapsed text only
    dock.feed("event", event(4, {"motor": 0.5, "det1": 1.0}))
    assert dock._timer.interval() == 50
    dock.feed("stop", stop())
    dock.flush()
    dock.flush()
    assert not dock._timer.isActive()


def test_older_runs_fade_and_the_spin_box_evicts_their_curves(dock: PlotDock) -> None:
    for k in range(3):
        dock.feed_many(scan_docs(5, run=f"r{k}", desc=f"d{k}", scan_id=k + 1))
        dock.flush()
    alphas = {run: dock.curve(run, "det1").opts["pen"].color().alpha() for run in ("r0", "r2")}
    assert alphas["r2"] == 255 and alphas["r0"] < 128
    assert dock.curve("r0", "det1").zValue() < dock.curve("r2", "det1").zValue()
    dock.keep_runs.setValue(1)
    dock.flush()
    assert set(dock.curves) == {("r2", "det1")}
    assert [label.text for _, label in dock.legend.items] == ["#3 scan: det1"]
    items = dock.plot.getPlotItem().listDataItems()
    assert len(items) == 1


def test_view_follows_the_data_until_the_operator_zooms(dock: PlotDock) -> None:
    view = dock.plot.getPlotItem().getViewBox()
    dock.feed_many(scan_docs(1)[:3])  # a single point: a zero-size range must not break
    dock.flush()
    dock.feed_many(scan_docs(10, run="r2", desc="d2"))
    dock.flush()
    (x0, x1), (y0, y1) = view.viewRange()
    assert x0 <= -1 and x1 >= 1 and y0 <= -5 and y1 >= 5 and x1 - x0 < 3
    assert dock.following
    view.sigRangeChangedManually.emit([True, True])  # what a mouse zoom or pan emits
    assert not dock.following and not dock.autoscale_button.isChecked()
    dock.feed("event", event(11, {"motor": 40.0, "det1": 1.0}, desc="d2"))
    dock.flush()
    assert view.viewRange()[0][1] < 40  # left where the operator put it
    dock.autoscale_button.click()
    assert dock.following and view.viewRange()[0][1] >= 40


@pytest.mark.parametrize("xs, clip, decimate", [
    (np.linspace(-1, 1, 50), True, True),  # the usual scan
    (np.linspace(1, -1, 50), False, True),  # scanned downwards: clip-to-view needs sorted x
    (np.tile(np.linspace(0, 1, 10), 5), False, False)])  # a grid: x goes back and forth
def test_reduction_matches_the_x_order(dock: PlotDock, xs: np.ndarray, clip: bool,
                                       decimate: bool) -> None:  # fmt: skip
    dock.feed_many([("start", start(num_points=len(xs))), ("descriptor", descriptor())])
    dock.feed_many([("event", event(i + 1, {"motor": x, "det1": x * x}))
                    for i, x in enumerate(xs)])  # fmt: skip
    dock.flush()
    curve = dock.curve("r1", "det1")
    assert (curve.opts["clipToView"], curve.opts["autoDownsample"]) == (clip, decimate)
    view = dock.plot.getPlotItem().getViewBox()
    view.setRange(xRange=(0.35, 0.65), padding=0)  # zoomed in: every sweep stays drawn
    x, y = curve.getData()
    drawn = np.unique(y[(x >= 0.35) & (x <= 0.65)])
    assert np.allclose(drawn, np.unique(xs[(xs >= 0.35) & (xs <= 0.65)] ** 2))


def test_crosshair_reads_the_nearest_point(dock: PlotDock, qtbot: QtBot) -> None:
    dock.feed_many(scan_docs(10))
    dock.flush()
    dock.plot.getPlotItem().getViewBox().autoRange(padding=0.1)
    got = dock.show_nearest(0.1, 0.4)
    assert got is not None
    assert got[0] == pytest.approx(1 / 9) and got[1] == pytest.approx(5 / 9)
    # the same through the scene's rate-limited mouse signal
    scene_pos = dock.plot.getPlotItem().getViewBox().mapViewToScene(QPointF(-1.0, -5.0))
    dock.plot.scene().sigMouseMoved.emit(scene_pos)
    qtbot.waitUntil(lambda: dock.readout.text().startswith("x = -1, y = -5"), timeout=2000)
    assert "det1, #7 scan" in dock.readout.text()


def test_export_png_and_csv(dock: PlotDock, tmp_path: Path) -> None:
    with pytest.raises(LookupError):
        dock.export_csv(tmp_path / "none.csv")
    dock.feed_many(scan_docs(10))
    png = dock.export_png(tmp_path / "plot.png")
    image = QImage(str(png))
    assert not image.isNull() and image.width() > 100
    with open(dock.export_csv(tmp_path / "run.csv"), encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["motor", "det1"] and len(rows) == 11
    assert float(rows[1][0]) == -1.0 and float(rows[-1][1]) == 5.0


def test_export_buttons_ask_for_a_file_and_report(dock: PlotDock, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from qs_gui.ui import plot_dock as module

    dock.csv_button.click()
    assert dock.readout.text() == "Nothing to export yet"
    dock.feed_many(scan_docs(4))
    asked: list[str] = []

    def fake_dialog(_parent: Any, _title: str, name: str, _filter: str) -> tuple[str, str]:
        asked.append(name)
        return str(tmp_path / name), ""

    monkeypatch.setattr(module.QFileDialog, "getSaveFileName", fake_dialog)
    dock.csv_button.click()
    dock.png_button.click()
    assert asked == ["scan_7.csv", "scan_7.png"]
    assert (tmp_path / "scan_7.csv").stat().st_size > 0 and (tmp_path / "scan_7.png").exists()
    assert dock.readout.text() == f"Saved {tmp_path / 'scan_7.png'}"
    monkeypatch.setattr(module.QFileDialog, "getSaveFileName",
                        lambda *a: (str(tmp_path / "missing" / "x.csv"), ""))  # fmt: skip
    dock.csv_button.click()
    assert dock.readout.text().startswith("Export failed:")


def test_pickle_warning_and_stream_counters(dock: PlotDock) -> None:
    class Sub:
        pickle_enabled = True

        def stats(self) -> dict[str, int]:
            return {"received": 12, "malformed": 3, "refused": 0}

    assert not dock.pickle_warning.isVisible()
    dock.attach_subscriber(Sub())
    assert dock.pickle_warning.isVisible()
    assert dock.stats_label.text() == "12 messages · 3 malformed · 0 pickles refused"
    dock.attach_subscriber(None)
    assert not dock.pickle_warning.isVisible() and dock.stats_label.text() == ""


def test_progress_signal_drives_the_progress_widget(dock: PlotDock, qtbot: QtBot) -> None:
    widget = ProgressWidget()
    qtbot.addWidget(widget)
    dock.progress_changed.connect(widget.set_progress)
    assert not widget.isVisible()
    docs = scan_docs(10)
    dock.feed_many(docs[:9])  # start, descriptor, 7 events
    dock.flush()
    assert widget.percent == pytest.approx(70.0)
    assert widget.label.text().startswith("seq 7/10 · ETA")
    dock.feed_many(docs[9:])
    dock.flush()
    assert widget.percent == pytest.approx(100.0)
    assert widget.label.text().startswith("success · seq 10/10")


def test_progress_widget_states(qtbot: QtBot) -> None:
    widget = ProgressWidget()
    qtbot.addWidget(widget)
    widget.show()
    widget.set_progress(Progress("u", 3, "count", seq_num=4, num_points=None, elapsed=12.0,
                                 eta=None))  # fmt: skip
    assert widget.percent is None and widget.label.text() == "seq 4 · 12 s elapsed"
    widget.set_progress(Progress("u", 3, "count", seq_num=4, num_points=None, elapsed=13.0,
                                 eta=None, exit_status="success"))  # fmt: skip
    assert widget.percent == 100.0 and widget.label.text() == "success · seq 4 · 13 s"
    widget.set_progress(None)
    assert not widget.isVisible()


_values = st.one_of(st.none(), st.floats(), st.integers(-(2**70), 2**70), st.text(max_size=3),
                    st.booleans(), st.lists(st.floats(), max_size=3))  # fmt: skip
_docs = st.fixed_dictionaries({
    "uid": st.sampled_from(["r1", "d1", "x"]), "run_start": st.sampled_from(["r1", "x"]),
    "descriptor": st.sampled_from(["d1", "x"]), "seq_num": _values, "time": _values,
    "num_points": _values, "exit_status": _values,
    "data": st.dictionaries(st.sampled_from(["motor", "det1", "det2"]), _values),
})  # fmt: skip


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.lists(st.tuples(st.sampled_from(["start", "descriptor", "event", "event_page", "stop",
                                           "bogus"]), _docs | st.none()), max_size=20))
def test_garbage_never_raises_out_of_feed_or_flush(qtbot: QtBot, docs: list) -> None:
    """A fresh dock per example (deterministic); Qt slot errors fail the test via pytest-qt."""
    dock = PlotDock(max_runs=3)
    qtbot.addWidget(dock)
    dock.resize(500, 300)
    dock.show()
    dock.feed_many(scan_docs(3, run="r0", desc="d0"))  # a sane earlier run next to the garbage
    dock.flush()
    dock.feed_many(scan_docs(3, run="r1", desc="d1")[:-1])
    dock.feed_many(docs)
    for name, doc in docs[:3]:
        dock.feed(name, doc)
    dock.flush()
    dock.plot.repaint()  # paint-time work (decimation, clipping) runs here
    dock.show_nearest(0.0, 0.0)
    dock.close()


def test_runs_of_wildly_different_x_scales_do_not_break_decimation(dock: PlotDock,
                                                                   qtbot: QtBot) -> None:
    dock.feed_many(scan_docs(10, run="a", desc="da"))  # x from -1 to 1
    dock.flush()
    dock.feed_many([("start", start("b", num_points=3)), ("descriptor", descriptor("b", "db")),
                    *[("event", event(i, {"motor": x, "det1": 1.0}, desc="db"))
                      for i, x in enumerate([0.0, 1e20, 1e30], 1)]])  # fmt: skip
    dock.flush()
    dock.plot.repaint()
    qtbot.wait(10)
    assert dock.curve("a", "det1").opts["autoDownsample"] is False  # a speck at this scale
    assert dock.curve("b", "det1").opts["autoDownsample"] is True


# -- lazy pyqtgraph: not at start-up, built on first show or first document ----------------------
_STARTUP_PROBE = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PyQt5.QtWidgets import QApplication
app = QApplication([])
import qs_gui.ui.main_window as mw
from qs_gui.client import REManagerAPI
from qs_gui.core.session import Session
loaded = lambda: ("pyqtgraph" in sys.modules, "numpy" in sys.modules)
print("import", *loaded())
window = mw.MainWindow(Session(REManagerAPI(zmq_control_addr="tcp://127.0.0.1:9")))
window.show()
for _ in range(3):
    app.processEvents()
print("window", *loaded(), window.plot_dock.plot is None)
window.plot_dock.raise_()  # the operator selects the "Live data" tab
app.processEvents()
print("tab", *loaded(), window.plot_dock.plot is not None and window.plot_dock.plot.isVisible())
window.close()
"""


def test_main_window_starts_without_pyqtgraph_or_numpy() -> None:
    """A fresh interpreter: other tests have imported pyqtgraph into this one."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", _STARTUP_PROBE], cwd=root, env=env, timeout=60,
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.split()[0] in
             ("import", "window", "tab")]  # fmt: skip
    assert lines == ["import False False", "window False False True", "tab True True True"], (
        out.stdout, out.stderr)


def tabbed_dock(qtbot: QtBot) -> tuple[QMainWindow, PlotDock, QDockWidget]:
    """A window with the plot dock tabbed behind another dock, as in the main window."""
    window = QMainWindow()
    qtbot.addWidget(window)
    window.setCentralWidget(QLabel("central"))
    front = QDockWidget("Console", window)
    front.setWidget(QLabel("console"))
    dock = PlotDock(window)
    window.addDockWidget(Qt.BottomDockWidgetArea, front)
    window.addDockWidget(Qt.BottomDockWidgetArea, dock)
    window.tabifyDockWidget(front, dock)
    front.raise_()
    window.resize(800, 600)
    window.show()
    qtbot.waitExposed(window)
    return window, dock, front


def test_plot_is_built_when_its_tab_is_first_shown(qtbot: QtBot, tmp_path: Path) -> None:
    _, dock, front = tabbed_dock(qtbot)
    qtbot.wait(20)
    assert dock.plot is None and dock.legend is None and dock.progress is None
    assert dock.show_nearest(0.0, 0.0) is None
    dock.flush()  # a stray tick before any document: nothing to do, nothing built
    dock.set_max_runs(2)
    assert dock.plot is None and not dock._timer.isActive()
    dock.raise_()
    qtbot.waitUntil(lambda: dock.plot is not None and dock.plot.isVisible(), timeout=2000)
    front.raise_()  # and back: the plot stays, documents are drawn while hidden
    dock.feed_many(scan_docs(6))
    dock.flush()
    assert dock.runs.max_runs == 2 and dock.curve("r1", "det1") is not None
    dock.export_png(tmp_path / "hidden.png")
    assert not QImage(str(tmp_path / "hidden.png")).isNull()


def test_documents_before_the_plot_exists_are_all_drawn(qtbot: QtBot, tmp_path: Path) -> None:
    _, dock, front = tabbed_dock(qtbot)
    widget = ProgressWidget()
    qtbot.addWidget(widget)
    dock.progress_changed.connect(widget.set_progress)
    assert dock.plot is None
    docs = scan_docs(10)
    dock.feed("start", docs[0][1])  # the first document builds the plot (tab still hidden)
    assert dock.plot is not None and not front.visibleRegion().isEmpty()
    dock.feed_many(docs[1:])
    qtbot.waitUntil(lambda: dock.curve("r1", "det1") is not None, timeout=2000)
    x, y = curve_xy(dock, "r1", "det1")
    np.testing.assert_allclose(x, np.linspace(-1, 1, 10))
    np.testing.assert_allclose(y, 5 * np.linspace(-1, 1, 10))
    assert widget.percent == pytest.approx(100.0)  # progress works with the tab hidden
    dock.raise_()
    qtbot.waitUntil(lambda: dock.plot.isVisible(), timeout=2000)
    dock.plot.getPlotItem().getViewBox().autoRange(padding=0.1)
    assert dock.show_nearest(1.0, 5.0)[:2] == (1.0, 5.0)
    assert dock.readout.text().startswith("x = 1, y = 5")
    png = dock.export_png(tmp_path / "plot.png")
    assert QImage(str(png)).width() > 100
    assert len(Path(dock.export_csv(tmp_path / "run.csv")).read_text().splitlines()) == 11


# -- a live 1 kHz stream on the qasync loop ------------------------------------------------------
def _publish(address_box: list, ready: threading.Event, go: threading.Event,
             rate: float, seconds: float) -> None:
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.setsockopt(zmq.LINGER, 1000)
    address_box.append(f"tcp://127.0.0.1:{pub.bind_to_random_port('tcp://127.0.0.1')}")
    ready.set()
    go.wait(10)
    n = int(rate * seconds)
    pack = msgpack.packb
    pub.send(b" start " + pack(start(num_points=n)))
    pub.send(b" descriptor " + pack(descriptor()))
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        while time.perf_counter() - t0 < i / rate:
            time.sleep(0.0002)
        pub.send(b" event " + pack(event(i, {"motor": i / n, "det1": float(i)},
                                          t=1e9 + i / rate)))  # fmt: skip
    pub.send(b" stop " + pack(stop()))
    pub.close()
    ctx.term()


def test_live_1khz_stream_is_plotted_without_stalling_the_loop(dock: PlotDock, qloop) -> None:
    rate, seconds = 1000.0, 2.0
    box: list[str] = []
    ready, go = threading.Event(), threading.Event()
    thread = threading.Thread(target=_publish, args=(box, ready, go, rate, seconds), daemon=True)
    thread.start()
    assert ready.wait(5)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.PreciseTimer)
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(beat)
    gc.collect()  # not this test's garbage: earlier tests' widgets would be scanned mid-stream

    async def scenario() -> None:
        sub = DocumentSubscriber(box[0])
        pump = DocumentPump(sub, dock.feed_many)
        pump.start()
        await asyncio.sleep(0.3)  # slow joiner
        heartbeat.start()
        last[0] = time.perf_counter()
        go.set()
        try:
            await until(lambda: dock.progress is not None and dock.progress.done, timeout=10,
                        message=lambda: f"{sub.stats()} progress={dock.progress}")
            await until(lambda: dock.curve("r1", "det1") is not None
                        and len(curve_xy(dock, "r1", "det1")[0]) == 2000, timeout=2)
        finally:
            heartbeat.stop()
            await pump.stop()
            sub.close()

    run(qloop, scenario(), timeout=30)
    thread.join(5)
    x, y = curve_xy(dock, "r1", "det1")
    np.testing.assert_allclose(y, np.arange(1, 2001))
    print(f"1 kHz: worst heartbeat gap {max(gaps) * 1000:.1f} ms, {dock.flushes} flushes")
    assert max(gaps) < 0.1, f"worst heartbeat gap {max(gaps) * 1000:.0f} ms"
    assert dock.flushes <= 2 * seconds * 1000 / 50 + 10  # timer-paced, not per event
