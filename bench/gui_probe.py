#!/usr/bin/env python
"""qs-gui probe (a subprocess of bench_gui.py): the real entry point, instrumented.

Runs ``qs_gui.app.main([--control-addr ..., --info-addr ...])`` with ``MainWindow`` replaced by
a subclass that adds measurements, so start-up, wiring and shutdown are exactly the product's.
Everything is measured inside the process, on its qasync loop, with a 10 ms PreciseTimer
heartbeat; "another client" is a thread with its own blocking REQ socket. Prints
``metric value unit`` lines (and ``# ...`` notes) on stdout.

Phases (each optional): load (start-up, first display, stall, RSS), item changes by another
client, status push -> Execute now QAction latency (lock/unlock by another key), idle CPU, and
history reloads with urgent requests sent while the bulk fetch is in flight.

Modules: this one is the command line and the ``--proposed`` monkeypatches;
``gui_instrument.py`` the heartbeat, counters and diagnostics; ``gui_scenarios.py`` the phases;
``probe_common.py`` what the peer probe shares (output lines, statistics, the other client).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

T_START = time.monotonic()
SPAWN = float(os.environ.get("BENCH_SPAWN_T", T_START))
BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
if str(BENCH_DIR) not in sys.path:  # run as a script it is sys.path[0] already
    sys.path.insert(1, str(BENCH_DIR))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui_scenarios import GuiProbe  # noqa: E402
from probe_common import parse_args, probe_parser  # noqa: E402


def apply_proposed_wiring() -> None:
    """The changes proposed in docs/performance.md for files outside the performance work,
    applied here by monkeypatching so their effect can be measured:

    * ``qs_gui/app.py``: ``REManagerAPI(..., reuse_unchanged_items=True)``;
    * ``qs_gui/ui/history_view.py``: the filter reads the model's per-row search text instead of
      its own cache keyed by item identity (which misses after every reload, re-warms 100k rows,
      keeps the old snapshot alive and frees it all at once), and its warm-up keeps going while
      the model is still loading.
    """
    from qs_gui import client
    from qs_gui.ui import history_view as hv

    init = client.REManagerAPI.__init__

    def api_init(self, *a, **kw):
        kw.setdefault("reuse_unchanged_items", True)
        init(self, *a, **kw)

    client.REManagerAPI.__init__ = api_init

    def _haystack(self, src, row):
        return src.search_text(row)

    def _warm_step(self):
        src = self.sourceModel()
        if src.is_loading():  # resumed by loading_finished: do not slow the loading down
            self._warm_timer.stop()
            return
        end = min(self._warm_row + 1000, src.rowCount())
        for row in range(self._warm_row, end):
            src.search_text(row)
        self._warm_row = end
        if end >= src.rowCount():
            self._warm_timer.stop()

    init_view = hv.HistoryView.__init__

    def view_init(self, *a, **kw):
        init_view(self, *a, **kw)
        self.model.loading_finished.connect(self.proxy.warm_up)

    hv.HistoryFilter._haystack = _haystack
    hv.HistoryFilter._warm_step = _warm_step
    hv.HistoryView.__init__ = view_init


def main() -> int:
    ap = probe_parser(hard_timeout=800)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--toggles", type=int, default=0)
    ap.add_argument("--reloads", type=int, default=0)
    ap.add_argument("--profile-reload", default="")
    ap.add_argument("--profile-load", default="")
    ap.add_argument("--profile-idle", default="")
    ap.add_argument("--trace-fetch", action="store_true", help="diagnostics: time fetch parts")
    ap.add_argument("--proposed", action="store_true",
                    help="apply the app/history_view changes proposed in docs/performance.md")
    ap.add_argument("--stall-stacks", action="store_true",
                    help="sample the main thread's stack while the loop is stalled")
    args = parse_args(ap)
    probe = GuiProbe(args, t_start=T_START, spawn=SPAWN)
    import qs_gui.ui.main_window as mw

    base = mw.MainWindow

    class Instrumented(base):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            probe.attach(self)

    mw.MainWindow = Instrumented
    if args.proposed:
        apply_proposed_wiring()
    from qs_gui import app

    rc = app.main(["--control-addr", args.control_addr, "--info-addr", args.info_addr])
    return rc or probe.exit_code


if __name__ == "__main__":
    sys.exit(main())
