#!/usr/bin/env python
"""qs-gui next to its peers, against the same sandbox RE Manager in the same run.

The peers (bluesky-widgets 0.0.18 queue-monitor widgets, bluesky-queueserver-qt 0.1.3) live in
a separate venv, ``bench/.venv-peers``, created here when missing (``python3 -m venv`` + ``pip
install``). Each GUI runs in its own process (``gui_probe.py`` for qs-gui through its real
entry point, ``peer_probe.py`` for the peers), offscreen, and prints the same metrics:

* ``small``: 10,000-item queue + 10,000-item history, environment open: first display (rows
  present in the GUI's own tables), worst event-loop stall, RSS, an item added by another
  client, idle CPU and requests over ``--idle`` seconds;
* ``large``: the same queue + a 100,000-item history (seeded into Redis in the server's format),
  environment closed: first display (or failure), stall, RSS.

    .venv/bin/python bench/bench_peers.py [--idle 60] [--only bw,qsqt,qsgui] [--scenario ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchlib as B  # noqa: E402

from qs_gui.sandbox import Sandbox  # noqa: E402

VENV = B.BENCH_DIR / ".venv-peers"
# qtpy: bluesky-widgets imports it but does not declare it
PEER_PACKAGES = ["bluesky-widgets==0.0.18", "bluesky-queueserver-qt==0.1.3", "PyQt5", "qtpy"]
NAMES = {"qsgui": "qs-gui", "bw": "bluesky-widgets 0.0.18", "qsqt": "bluesky-queueserver-qt 0.1.3"}


def peers_python() -> str:
    """The peers' venv interpreter, created (and the peers installed) if missing."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"# creating {VENV} (python3 -m venv; pip install {' '.join(PEER_PACKAGES)})",
              flush=True)
        subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
    probe = ("import bluesky_widgets.apps.queue_monitor.viewer, "
             "bluesky_queueserver_qt.ui.main_window")
    if subprocess.run([str(python), "-c", probe], capture_output=True,
                      env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}).returncode:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return str(python)


def run(who: str, sb: Sandbox, n_queue: int, n_history: int, extra: list[str], prefix: str,
        config_home: str) -> dict:
    common = B.probe_args(sb, n_queue, n_history)
    env = {"XDG_CONFIG_HOME": config_home}
    if who == "qsgui":
        return B.run_probe(sys.executable, B.BENCH_DIR / "gui_probe.py",
                           common + extra,
                           prefix=prefix, env=env)
    return B.run_probe(peers_python(), B.BENCH_DIR / "peer_probe.py",
                       ["--peer", who, *common, *extra], prefix=prefix, env=env)


def fmt(m: dict, key: str, unit: str = "", digits: int = 0) -> str:
    if "_failed" in m and key not in m:
        return "probe failed"
    value = m.get(key, (float("nan"), ""))[0]
    if value != value:  # NaN
        return "—"
    return f"{value:.{digits}f}{unit}"


def main(argv: list[str] | None = None) -> int:
    ap = B.parent_parser(__doc__, item_changes=5)
    ap.add_argument("--only", default="qsgui,bw,qsqt")
    ap.add_argument("--load-timeout", type=float, default=90.0)
    args = ap.parse_args(argv)
    who = [w for w in args.only.split(",") if w]
    if any(w != "qsgui" for w in who):
        peers_python()
    t0 = time.monotonic()
    config_home = tempfile.mkdtemp(prefix="qs_gui_bench_cfg_")
    sb = Sandbox(publish_console=True, open_environment=False)
    results: dict[tuple[str, str], dict] = {}
    server: dict[str, dict] = {}
    try:
        sb.start()
        print(f"# sandbox {sb.control_addr}; {os.cpu_count()} CPUs", flush=True)
        B.seed_start(sb, args)
        if args.scenario in ("all", "small"):
            sb.environment_open()
            for method in ("queue_get", "history_get"):
                st = server[f"small.{method}"] = B.server_fetch_time(sb.control_addr, method)
                print(f"server.small.{method} {st['time'] * 1e3:.1f} ms", flush=True)
            extra_q = ["--item-changes", str(args.item_changes), "--idle", str(args.idle)]
            for w in who:
                extra = list(extra_q) + ["--load-timeout", str(args.load_timeout)]
                results[(w, "small")] = run(w, sb, args.queue, args.history_small, extra,
                                            f"{w}.small", config_home)
        if args.scenario in ("all", "large"):
            st = server["large.history_get"] = B.start_large(sb, args.history_large)
            print(f"server.large.history_get {st['time'] * 1e3:.1f} ms "
                  f"(lost to the manager's watchdog: {st['lost']})", flush=True)
            for w in who:
                restarts = B.watchdog_restarts(sb)
                results[(w, "large")] = run(w, sb, args.queue, args.history_large,
                                            ["--load-timeout", str(args.load_timeout)],
                                            f"{w}.large", config_home)
                restarts = B.watchdog_restarts(sb) - restarts
                results[(w, "large")]["server.watchdog_restarts"] = (restarts, "count")
                print(f"{w}.large.server_watchdog_restarts {restarts} count", flush=True)
    finally:
        sb.stop()
    table(results, server, who)
    print(f"# total {time.monotonic() - t0:.1f} s")
    return 0


def table(results: dict, server: dict, who: list[str]) -> None:
    header = "| what | " + " | ".join(NAMES[w] for w in who) + " |"
    lines = [header, "|---" * (len(who) + 1) + "|"]

    def row(label, cells):
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    def first_display(m):
        if "load.first_display_from_window" in m:
            return fmt(m, "load.first_display_from_window", " ms")
        return fmt(m, "load.first_display_from_connect", " ms")

    small = {w: results.get((w, "small"), {}) for w in who}
    large = {w: results.get((w, "large"), {}) for w in who}
    if any(small.values()):
        row("10k queue + 10k history: first display (qs-gui: from window shown; peers: from "
            "connect)", [first_display(small[w]) for w in who])
        row("  worst stall while loading", [fmt(small[w], "load.stall_max", " ms") for w in who])
        row("  RSS after loading", [fmt(small[w], "load.rss", " MB") for w in who])
        row("item added by another client -> row, p50 / max",
            [f"{fmt(small[w], 'item_change.add_latency_p50', ' ms')} / "
             f"{fmt(small[w], 'item_change.add_latency_max', ' ms')}" for w in who])
        row("  worst stall meanwhile", [fmt(small[w], "item_change.stall_max", " ms")
                                        for w in who])
        row("idle, env open: CPU of one core",
            [fmt(small[w], "idle.cpu", " %", 2) for w in who])
        row("  requests other than status while idle",
            [fmt(small[w], "idle.requests_not_status") for w in who])
    if any(large.values()):
        srv = server.get("large.history_get", {}).get("time", float("nan")) * 1e3
        row(f"10k queue + 100k history (server's history_get {srv:.0f} ms): first display",
            [first_display(large[w]) for w in who])
        row("  history rows shown", [fmt(large[w], "load.history_rows") for w in who])
        row("  worst stall", [fmt(large[w], "load.stall_max_incl_settle", " ms") for w in who])
        row("  RSS", [fmt(large[w], "load.rss", " MB") for w in who])
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
