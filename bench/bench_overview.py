#!/usr/bin/env python
"""The control-room overview at scale (issue 18): 24 tiles over 24 fake beamlines.

Runs two probes, each a fresh process (offscreen Qt + qasync), one after the other:

* ``overview_probe.py``: an ``OverviewWindow`` over an ``Overview`` of ``--count`` status-only
  tile sessions, against as many fake beamlines in a helper process (each pushing its status at
  1 Hz like RE Manager 0.0.25 and on every change): idle CPU of the whole process, RSS, status
  change -> tile repaint latency while the others push, and the same with one server silenced
  (plus how long its tile takes to go offline);
* ``gui_probe.py`` (as ``bench_gui.py`` runs it): one idle main window against a sandbox RE
  Manager (environment open, empty queue and history), for the idle-CPU ratio.

Output: ``metric value unit`` lines, then a table against the issue's goals.

    .venv/bin/python bench/bench_overview.py [--count 24] [--idle 60] [--changes 40] [--no-main]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchlib as B  # noqa: E402

from qs_gui.sandbox import Sandbox  # noqa: E402


def get(m: dict, key: str) -> float:
    return m.get(key, (float("nan"), ""))[0]


def row(what: str, value: str, goal: str, ok: bool | None) -> str:
    verdict = "—" if ok is None else ("PASS" if ok else "MISS")
    return f"| {what} | {value} | {goal} | {verdict} |"


def main_window_idle(idle: float, config_home: str) -> dict:
    """One idle main window (the real entry point) against a sandbox: gui_probe's idle phase."""
    sb = Sandbox(publish_console=True, open_environment=False)
    try:
        t0 = time.monotonic()
        sb.start()
        sb.environment_open()
        print(f"# sandbox {sb.control_addr} ready in {time.monotonic() - t0:.1f} s", flush=True)
        args = [*B.probe_args(sb, 0, 0), "--idle", str(idle)]
        return B.run_probe(sys.executable, B.BENCH_DIR / "gui_probe.py", args,
                           prefix="main", env={"XDG_CONFIG_HOME": config_home})
    finally:
        sb.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--changes", type=int, default=40)
    ap.add_argument("--core-only", action="store_true", help="overview without its window")
    ap.add_argument("--no-main", action="store_true", help="skip the single main window")
    ap.add_argument("--profile-idle", default="", help="cProfile the overview's steady idle "
                    "(main thread) to this file")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    print(f"# {os.cpu_count()} CPUs; python {sys.version.split()[0]}", flush=True)
    config_home = tempfile.mkdtemp(prefix="qs_gui_bench_cfg_")
    extra = ["--count", str(args.count), "--idle", str(args.idle),
             "--changes", str(args.changes), *(["--core-only"] if args.core_only else []),
             *(["--profile-idle", args.profile_idle] if args.profile_idle else [])]
    ov = B.run_probe(sys.executable, B.BENCH_DIR / "overview_probe.py", extra,
                     prefix="overview", env={"XDG_CONFIG_HOME": config_home})
    mw = {} if args.no_main else main_window_idle(args.idle, config_home)
    summary(ov, mw, args.count)
    print(f"# total {time.monotonic() - t0:.1f} s")
    return 1 if "_failed" in ov or "_failed" in mw else 0


def summary(ov: dict, mw: dict, n: int) -> None:
    qt = get(ov, "probe.qt_window") == 1
    kind = "paint" if qt else "model"
    lines = ["| what | qs-gui overview | goal | verdict |", "|---|---|---|---|"]
    main_cpu = get(mw, "idle.cpu")
    for key, when in (("idle", "first minute after connecting"),
                      ("idle_steady", "steady, the next minute")):
        cpu = get(ov, f"{key}.cpu")
        ratio = f"; one main window {main_cpu:.2f} % (x{cpu / main_cpu:.1f})" if mw else ""
        lines.append(row(f"idle CPU, {n} connected tiles, whole process (main thread), {when} "
                         f"({get(ov, f'{key}.paints'):.0f} tile paints)",
                         f"{cpu:.2f} % ({get(ov, f'{key}.cpu_main_thread'):.2f}){ratio}",
                         "<= 1 % of one core", cpu <= 1.0))
    rss = get(ov, "tiles.rss")
    lines.append(row(f"RSS with {n} tiles (peak; threads)",
                     f"{rss:.0f} MB ({get(ov, 'end.rss_peak'):.0f}; "
                     f"{get(ov, 'tiles.threads'):.0f})", "<= 200 MB", rss <= 200))
    p95 = get(ov, f"latency.{kind}_p95")
    what = "tile repaint" if qt else "TileModel.changed (no window)"
    lines.append(row(f"status change -> {what}, p50 / p95 ({get(ov, 'latency.n'):.0f} "
                     f"changes, {n - 1} others pushing at 1 Hz)",
                     f"{get(ov, f'latency.{kind}_p50'):.1f} / {p95:.1f} ms", "p95 <= 50 ms",
                     p95 <= 50))
    dp95 = get(ov, f"dead_latency.{kind}_p95")
    lines.append(row("the same with one server silenced, p50 / p95",
                     f"{get(ov, f'dead_latency.{kind}_p50'):.1f} / {dp95:.1f} ms "
                     f"({dp95 - p95:+.1f})", "no measurable effect",
                     dp95 <= max(50.0, p95 * 1.5 + 5)))
    off = get(ov, "dead.offline_after")
    lines.append(row("silenced server -> its tile offline", f"{off:.0f} ms", "<= 2 s",
                     off <= 2000))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
