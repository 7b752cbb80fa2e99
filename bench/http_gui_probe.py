#!/usr/bin/env python
"""qs-gui probe over HTTP (a subprocess of bench_http.py): ``gui_probe.py``'s load phase, with
the real entry point started as ``qs_gui.app.main(["--http", URI])`` instead of 0MQ addresses.

The API key comes from ``QSERVER_HTTP_SERVER_API_KEY`` in the environment (never the command
line). ``--control-addr`` / ``--info-addr`` are still required by the shared probe options; only
the load phase (start-up, first display, stall, RSS) is meant to run here.
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
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(1, str(BENCH_DIR))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui_scenarios import GuiProbe  # noqa: E402
from probe_common import parse_args, probe_parser  # noqa: E402


def main() -> int:
    ap = probe_parser(hard_timeout=300)
    ap.add_argument("--http-uri", required=True)
    for name, default in (("--settle", 1.0), ("--toggles", 0), ("--reloads", 0)):
        ap.add_argument(name, type=type(default), default=default)
    for name in ("--profile-reload", "--profile-load", "--profile-idle"):
        ap.add_argument(name, default="")
    ap.add_argument("--trace-fetch", action="store_true")
    ap.add_argument("--stall-stacks", action="store_true")
    args = parse_args(ap)
    probe = GuiProbe(args, t_start=T_START, spawn=SPAWN)
    import qs_gui.ui.main_window as mw

    base = mw.MainWindow

    class Instrumented(base):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            transport = self.session._api.transport
            if not hasattr(transport, "codec"):  # the instrumentation hooks the 0MQ name
                transport.codec = transport._codec
            probe.attach(self)

    mw.MainWindow = Instrumented
    from qs_gui import app

    rc = app.main(["--http", args.http_uri])
    return rc or probe.exit_code


if __name__ == "__main__":
    sys.exit(main())
