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

Modules: this one is the command line;
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


def main() -> int:
    ap = probe_parser(hard_timeout=800)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--toggles", type=int, default=0)
    ap.add_argument("--reloads", type=int, default=0)
    ap.add_argument("--profile-reload", default="")
    ap.add_argument("--profile-load", default="")
    ap.add_argument("--profile-idle", default="")
    ap.add_argument("--trace-fetch", action="store_true", help="diagnostics: time fetch parts")
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
    from qs_gui import app

    rc = app.main(["--control-addr", args.control_addr, "--info-addr", args.info_addr])
    return rc or probe.exit_code


if __name__ == "__main__":
    sys.exit(main())
