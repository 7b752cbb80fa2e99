#!/usr/bin/env python
"""Overview probe (a subprocess of bench_overview.py): N tiles over N fake beamlines.

A fresh process: offscreen Qt + qasync, an ``Overview`` with ``zmq_tile_session`` (what
``qs-gui --overview`` builds) shown in an ``OverviewWindow`` at 1920x1080; the N fake
beamlines run in a ``FakeBeamlineProcess`` (its own process, so their CPU is not ours), each
pushing its status at 1 Hz and on every change. Phases:

* connect: every tile connected and idle; RSS, threads;
* idle: CPU of this whole process (all threads) over ``--idle`` s, paints meanwhile, twice:
  right after connecting (the tiles' ages count seconds) and then in the steady state;
* latency: ``--changes`` scripted changes (the queue length of one beamline at a time, the
  others pushing at 1 Hz): the push's time.monotonic() (returned by the helper) -> the first
  ``TileWidget.paintEvent`` of that tile showing the new length (hooked here), and -> the
  model's ``changed``;
* dead: one fake silenced (no replies, no pushes): how long until its tile is offline, then the
  latency phase again on the others.

Without ``qs_gui.ui.overview_window`` (or with ``--core-only``) only the model side is measured.
Prints ``metric value unit`` lines and ``# ...`` notes.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import gc
import os
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(1, str(BENCH_DIR))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from probe_common import note, out, out_rss, pct  # noqa: E402


def threads() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return -1


def main_thread_cpu() -> float:
    """CPU seconds of this process's main thread (the Qt/asyncio loop), from /proc."""
    fields = Path(f"/proc/self/task/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Waiter:
    """The change being timed: first model ``changed`` and first paint of ``name`` whose
    state satisfies ``pred``."""

    def __init__(self, name: str, pred) -> None:
        self.name, self.pred = name, pred
        self.model_at: float | None = None
        self.paint_at: float | None = None


class OverviewProbe:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.waiter: Waiter | None = None
        self.paints = 0
        self.window = None
        self.overview = None

    # -- hooks ------------------------------------------------------------------------------
    def hook_paint(self) -> bool:
        """Time the first repaint of the awaited tile (patched before any tile exists)."""
        if self.args.core_only:
            return False
        try:
            from qs_gui.ui.overview_tile import TileWidget
            from qs_gui.ui.overview_window import OverviewWindow  # noqa: F401
        except ImportError as ex:
            note(f"no OverviewWindow ({ex}): model side only")
            return False
        original = TileWidget.paintEvent
        probe = self

        def paintEvent(widget, event):  # noqa: N802 (Qt's name)
            original(widget, event)
            probe.paints += 1
            w = probe.waiter
            state = getattr(widget, "state", None)
            if w is not None and w.paint_at is None and state is not None \
                    and state.name == w.name and w.pred(state):
                w.paint_at = time.monotonic()

        TileWidget.paintEvent = paintEvent
        return True

    def on_tile_changed(self, name: str, state) -> None:
        w = self.waiter
        if w is not None and w.model_at is None and name == w.name and w.pred(state):
            w.model_at = time.monotonic()

    # -- the run ----------------------------------------------------------------------------
    async def until(self, predicate, timeout: float, what: str) -> float:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.002)
        return time.monotonic()

    async def run(self, fakes, qt: bool) -> None:
        from qs_gui.core.operator_state import StateKind
        from qs_gui.core.overview import Overview, zmq_tile_session
        from qs_gui.core.profiles import Profile

        a = self.args
        t0 = time.monotonic()
        profiles = [Profile(b["name"], control_addr=b["control_addr"],
                            info_addr=b["info_addr"]) for b in fakes.beamlines]
        overview = self.overview = Overview(zmq_tile_session)
        for profile in profiles:
            overview.add(profile)
        overview.tile_changed.connect(self.on_tile_changed)
        if qt:
            from qs_gui.ui.overview_window import OverviewWindow

            self.window = OverviewWindow(overview, open_full=lambda name: None)
            self.window.resize(a.width, a.height)
            self.window.show()
        try:
            await overview.start()
            await self.until(lambda: all(t.state.connection == "connected"
                                         and t.state.state.kind is StateKind.IDLE
                                         for t in overview.tiles.values()), 30,
                             "every tile connected and idle")
            out("connect.all_idle", (time.monotonic() - t0) * 1e3, "ms")
            await asyncio.sleep(a.settle)
            gc.collect()
            out_rss("tiles")
            out("tiles.threads", threads(), "count")
            out("tiles.n", len(overview.tiles), "count")
            names = [p.name for p in profiles]
            silent = names[0]
            targets = names[1:]
            if qt:
                visible = [n for n in targets
                           if not self.window.tile(n).visibleRegion().isEmpty()]
                out("tiles.visible", len(visible) + (silent in names), "count")
                if len(visible) < len(targets):
                    note(f"{len(targets) - len(visible)} tiles not visible at "
                         f"{a.width}x{a.height}: timing only the visible ones")
                targets = visible or targets
            await self.idle(overview)
            before = await self.latencies(fakes, targets, a.changes, "live", qt, base=100)
            self.report("latency", before, qt)
            tile = overview.tiles[silent]
            seen: list[float] = []
            overview.tile_changed.connect(
                lambda name, state: name == silent and state.connection == "offline"
                and not seen and seen.append(time.monotonic()))
            t_sil = await asyncio.to_thread(fakes.call, silent, "silence")
            await self.until(lambda: seen, 10, f"{silent} offline")
            out("dead.offline_after", (seen[0] - t_sil) * 1e3, "ms")
            during = await self.latencies(fakes, targets, a.changes, "dead", qt, base=1000)
            assert tile.state.connection == "offline", "the silenced tile came back"
            self.report("dead_latency", during, qt)
            out("dead.alarms", len(overview.alarms), "count")
            out_rss("end")
        finally:
            if self.window is not None:
                self.window.close()
            await overview.stop()

    async def idle(self, overview) -> None:
        """Two windows of ``--idle`` s: the first right after connecting (every tile's "changed
        N s ago" still counts seconds), the second once they count minutes (steady state)."""
        for prefix in ("idle", "idle_steady"):
            sessions = [t.session for t in overview.tiles.values()]
            polls0 = sum(s.polls_sent for s in sessions)
            pushes0 = sum(s.pushes_received for s in sessions)
            emitted0 = sum(t.emitted for t in overview.tiles.values())
            paints0 = self.paints
            prof = None
            if self.args.profile_idle and prefix == "idle_steady":
                import cProfile

                prof = cProfile.Profile()
                prof.enable()
            main0, cpu0, t0 = main_thread_cpu(), time.process_time(), time.monotonic()
            await asyncio.sleep(self.args.idle)
            main1, cpu1, t1 = main_thread_cpu(), time.process_time(), time.monotonic()
            if prof is not None:
                prof.disable()
                prof.dump_stats(self.args.profile_idle)
                note(f"steady idle profile (cProfile, main thread) in {self.args.profile_idle}")
            out(f"{prefix}.cpu", (cpu1 - cpu0) / (t1 - t0) * 100, "% of one core")
            out(f"{prefix}.cpu_main_thread", (main1 - main0) / (t1 - t0) * 100,
                "% of one core")
            out(f"{prefix}.seconds", t1 - t0, "s")
            out(f"{prefix}.tile_changes",
                sum(t.emitted for t in overview.tiles.values()) - emitted0, "count")
            out(f"{prefix}.paints", self.paints - paints0, "count")
            out(f"{prefix}.pushes", sum(s.pushes_received for s in sessions) - pushes0, "count")
            out(f"{prefix}.watchdog_polls", sum(s.polls_sent for s in sessions) - polls0,
                "count")

    async def latencies(self, fakes, names: list[str], changes: int, what: str, qt: bool,
                        base: int) -> list[tuple[float, float]]:
        """(push -> model changed, push -> painted) per change, in seconds."""
        result = []
        for i in range(changes):
            name = names[i % len(names)]
            n = base + i

            def pred(state, n=n) -> bool:
                return state.queue_length == n

            w = self.waiter = Waiter(name, pred)
            pushed = await asyncio.to_thread(fakes.call, name, "set_queue", n)
            await self.until(lambda w=w: w.model_at is not None
                             and (w.paint_at is not None or not qt), 5,
                             f"{what}: {name} showing queue {n}")
            self.waiter = None
            result.append((w.model_at - pushed,
                           (w.paint_at - pushed) if w.paint_at is not None else float("nan")))
            await asyncio.sleep(0.1 + 0.37 * ((i * 7) % 5) / 5)  # spread across the 1 s pushes
        return result

    def report(self, prefix: str, values: list[tuple[float, float]], qt: bool) -> None:
        model = [m * 1e3 for m, _ in values]
        out(f"{prefix}.model_p50", pct(model, 0.5), "ms")
        out(f"{prefix}.model_p95", pct(model, 0.95), "ms")
        if qt:
            paint = [p * 1e3 for _, p in values]
            out(f"{prefix}.paint_p50", pct(paint, 0.5), "ms")
            out(f"{prefix}.paint_p95", pct(paint, 0.95), "ms")
            out(f"{prefix}.paint_max", max(paint), "ms")
        out(f"{prefix}.n", len(values), "changes")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--changes", type=int, default=40)
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--core-only", action="store_true", help="no window: the model side only")
    ap.add_argument("--profile-idle", default="", help="cProfile the steady idle to this file")
    ap.add_argument("--hard-timeout", type=float, default=600)
    args = ap.parse_args()
    faulthandler.dump_traceback_later(args.hard_timeout, exit=True)
    import qasync
    from PyQt5.QtWidgets import QApplication

    from qs_gui.sandbox.fake_beamline import FakeBeamlineProcess

    probe = OverviewProbe(args)
    qt = probe.hook_paint()
    out("probe.qt_window", 1 if qt else 0, "bool")
    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)  # the window closes before the sessions stop
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with FakeBeamlineProcess(args.count, publish_period=1.0) as fakes:
        note(f"{args.count} fake beamlines in pid {fakes.proc.pid}; probe pid {os.getpid()}")
        with loop:
            loop.run_until_complete(probe.run(fakes, qt))
    return 0


if __name__ == "__main__":
    sys.exit(main())
