#!/usr/bin/env python
"""Many consoles on one RE Manager with a 100,000-item history (issue 17 point 4).

For each contender, five instances (processes) watch the same sandbox RE Manager for two minutes
while a plan finishes about every 5 s (``count(det1, num=5, delay=1)`` items run by the queue):

* ``qsgui``: the real application (``python -m qs_gui --control-addr … --info-addr …``),
  offscreen, each with its own settings directory;
* ``naive``: ``naive_console.py``, which re-reads the whole history on every change;
* ``bw`` / ``qsqt``: the peer GUIs (``peer_probe.py`` in ``bench/.venv-peers``, see
  ``bench_peers.py``), when asked for with ``--only``.

Measured, all in the same run:

* the server's time serving ``history_get`` as a fraction of wall time. The consoles' control
  connections go through a tap (a ROUTER/DEALER relay in this process) that records when each
  request arrived and when its reply left; the RE Manager answers one request at a time, so a
  reply's service time is from the later of its arrival and the previous reply;
* how long a sixth client's ``status`` waits (a blocking REQ socket straight to the server, one
  request every 0.2 s): p50, p95, max;
* the manager restarts by its own watchdog (its log: "Timeout detected by Watchdog");
* the floor: the server's own time for one ``history_get`` of this history, measured here
  before the runs with a raw blocking socket.

    .venv/bin/python bench/bench_consoles.py [--consoles 5] [--duration 120] [--only qsgui,naive]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchlib as B  # noqa: E402
from probe_common import pct  # noqa: E402

from qs_gui.sandbox import Sandbox, guard, unguard  # noqa: E402

PLAN = {"item_type": "plan", "name": "count", "args": [["det1"]],
        "kwargs": {"num": 5, "delay": 1}}
STATUS_PERIOD = 0.2
NAMES = {"qsgui": "qs-gui", "naive": "naive (re-read on every change)",
         "bw": "bluesky-widgets 0.0.18", "qsqt": "bluesky-queueserver-qt 0.1.3"}


@dataclass
class Served:
    method: str
    arrived: float
    replied: float


class ControlTap(threading.Thread):
    """A relay in front of the RE Manager's control socket that timestamps every exchange."""

    def __init__(self, backend: str) -> None:
        super().__init__(daemon=True)
        self.ctx = zmq.Context()
        self.front = self.ctx.socket(zmq.ROUTER)
        self.front.setsockopt(zmq.LINGER, 0)
        port = self.front.bind_to_random_port("tcp://127.0.0.1")
        self.back = self.ctx.socket(zmq.DEALER)
        self.back.setsockopt(zmq.LINGER, 0)
        self.back.connect(backend)
        self.address = f"tcp://127.0.0.1:{port}"
        self.pending: dict[bytes, tuple[str, float]] = {}
        self.served: list[Served] = []
        self._halt = threading.Event()

    def run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.front, zmq.POLLIN)
        poller.register(self.back, zmq.POLLIN)
        while not self._halt.is_set():
            events = dict(poller.poll(100))
            now = time.monotonic()
            if self.front in events:
                frames = self.front.recv_multipart()
                try:
                    method = json.loads(frames[-1]).get("method", "?")
                except ValueError:
                    method = "?"
                self.pending[frames[0]] = (method, now)
                self.back.send_multipart(frames)
            if self.back in events:
                frames = self.back.recv_multipart()
                request = self.pending.pop(frames[0], None)
                if request is not None:
                    self.served.append(Served(request[0], request[1], now))
                self.front.send_multipart(frames)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)
        self.front.close(linger=0)
        self.back.close(linger=0)
        self.ctx.term()

    def service_times(self, method: str) -> list[float]:
        """Server seconds spent on each answered ``method`` request (the server is serial)."""
        out, previous = [], 0.0
        for s in sorted(self.served, key=lambda s: s.replied):
            start = max(s.arrived, previous)
            if s.method == method:
                out.append(s.replied - start)
            previous = s.replied
        return out

    def unanswered(self, method: str) -> int:
        return sum(m == method for m, _t in self.pending.values())


class StatusProbe(threading.Thread):
    """The sixth client: one ``status`` every STATUS_PERIOD s, straight to the server."""

    def __init__(self, address: str) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.waits: list[float] = []
        self.lost = 0
        self._halt = threading.Event()

    def run(self) -> None:
        ctx = zmq.Context()
        sock = None
        try:
            while not self._halt.is_set():
                if sock is None:
                    sock = ctx.socket(zmq.REQ)
                    sock.setsockopt(zmq.LINGER, 0)
                    sock.connect(self.address)
                t0 = time.monotonic()
                sock.send(b'{"method": "status", "params": {}}')
                if sock.poll(20_000):
                    sock.recv()
                    self.waits.append(time.monotonic() - t0)
                else:
                    self.lost += 1
                    sock.close(linger=0)
                    sock = None
                self._halt.wait(max(0.0, STATUS_PERIOD - (time.monotonic() - t0)))
        finally:
            if sock is not None:
                sock.close(linger=0)
            ctx.term()

    def stop(self) -> None:
        self._halt.set()
        self.join(25)


@dataclass
class Result:
    who: str
    history_times: list[float] = field(default_factory=list)
    history_unanswered: int = 0
    status_waits: list[float] = field(default_factory=list)
    status_lost: int = 0
    restarts: int = 0
    plans_finished: int = 0
    wall: float = 0.0
    consoles_alive: int = 0


def console_command(who: str, control: str, info: str, duration: float,
                    history: int) -> list[str]:
    if who == "qsgui":
        return [sys.executable, "-m", "qs_gui", "--control-addr", control, "--info-addr", info,
                "--user-group", "primary"]
    if who == "naive":
        return [sys.executable, str(B.BENCH_DIR / "naive_console.py"), "--control-addr", control,
                "--duration", str(duration + 60)]
    from bench_peers import peers_python  # creates bench/.venv-peers on first use
    # expect a queue it never reaches: the probe just watches for the whole run
    return [peers_python(), str(B.BENCH_DIR / "peer_probe.py"), "--peer", who,
            "--control-addr", control, "--info-addr", info, "--expect-queue", str(10**9),
            "--expect-history", str(history), "--load-timeout", str(duration + 60),
            "--hard-timeout", str(duration + 120)]


def spawn(command: list[str], home: str) -> subprocess.Popen:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": home}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    guard(proc.pid)  # ended by the sandbox's guardian if this benchmark dies
    return proc


def end(proc: subprocess.Popen) -> bool:
    """Stop a console; True if it was still running (it survived the run)."""
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    unguard(proc.pid)
    return alive


def wait_answering(address: str) -> None:
    """Until the manager answers again (it may be serving a long read, or restarting)."""
    ctx = zmq.Context()
    try:
        B._wait_answering(ctx, address, timeout=120)
    finally:
        ctx.term()


def settle(sb: Sandbox) -> None:
    """Queue emptied and stopped, manager idle, environment open (for the next contender)."""
    wait_answering(sb.control_addr)
    for method in ("queue_stop", "queue_clear"):
        sb.request(method, timeout=30)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = sb.request("status", timeout=30)
        if status["manager_state"] == "idle":
            break
        time.sleep(0.5)
    if not sb.request("status", timeout=30)["worker_environment_exists"]:
        sb.environment_open()


def run_contender(sb: Sandbox, who: str, consoles: int, duration: float,
                  history: int) -> Result:
    settle(sb)
    restarts0 = B.watchdog_restarts(sb)
    finished0 = sb.request("status", timeout=30)["items_in_history"]
    for _ in range(int(duration / 5) + 10):
        sb.request("queue_item_add", {"item": PLAN, "user": "bench", "user_group": "primary"},
                   timeout=30)
    tap = ControlTap(sb.control_addr)
    tap.start()
    homes = tempfile.TemporaryDirectory(prefix="qs-gui-consoles-")
    procs = []
    probe = StatusProbe(sb.control_addr)
    t0 = time.monotonic()
    try:
        for i in range(consoles):
            home = os.path.join(homes.name, str(i))
            os.makedirs(home)
            procs.append(spawn(console_command(who, tap.address, sb.info_addr, duration,
                                               history), home))
        sb.request("queue_start", timeout=30)
        probe.start()
        time.sleep(duration)  # the benchmark's measuring window (the threads record it)
    finally:
        probe.stop()
        alive = sum(end(p) for p in procs)
        wall = time.monotonic() - t0
        tap.stop()
        homes.cleanup()
    wait_answering(sb.control_addr)
    result = Result(who, tap.service_times("history_get"), tap.unanswered("history_get"),
                    probe.waits, probe.lost, B.watchdog_restarts(sb) - restarts0,
                    wall=wall, consoles_alive=alive)
    settle(sb)
    result.plans_finished = sb.request("status", timeout=30)["items_in_history"] - finished0
    return result


def report(results: list[Result], floor: dict, consoles: int) -> None:
    print(f"\n# floor: the server's own history_get of this history: "
          f"{floor['time'] * 1000:.0f} ms median, {floor['max'] * 1000:.0f} ms max "
          f"(n={floor['n']}, {floor['bytes'] / 1e6:.1f} MB)")
    print(f"\n| {consoles} consoles × | history reads answered (unanswered) | server time on "
          f"history reads, share of wall time | per read, median (× floor) | sixth client's "
          f"status wait p50 / p95 / max | status lost | watchdog restarts | plans finished | "
          f"consoles alive at the end |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        total = sum(r.history_times)
        per = statistics.median(r.history_times) if r.history_times else 0.0
        waits = [w * 1000 for w in r.status_waits]
        print(f"| {NAMES.get(r.who, r.who)} | {len(r.history_times)} ({r.history_unanswered}) | "
              f"{total:.1f} s, {100 * total / r.wall:.1f} % | "
              f"{per * 1000:.0f} ms ({per / floor['time']:.2f} ×) | "
              f"{pct(waits, 0.5):.1f} / {pct(waits, 0.95):.1f} / {max(waits, default=0):.0f} ms | "
              f"{r.status_lost} | {r.restarts} | {r.plans_finished} | "
              f"{r.consoles_alive}/{consoles} |")
    for r in results:
        total = sum(r.history_times)
        waits = [w * 1000 for w in r.status_waits]
        prefix = f"consoles.{r.who}"
        print(f"{prefix}.history_share {100 * total / r.wall:.2f} %")
        print(f"{prefix}.status_p95 {pct(waits, 0.95):.1f} ms")
        print(f"{prefix}.watchdog_restarts {r.restarts} count")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--consoles", type=int, default=5)
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--history", type=int, default=100_000)
    ap.add_argument("--only", default="qsgui,naive",
                    help="comma-separated: qsgui, naive, bw, qsqt (default qsgui,naive)")
    args = ap.parse_args(argv)
    who = [w for w in args.only.split(",") if w]
    sb = Sandbox(publish_console=True, open_environment=True).start()
    try:
        print(f"# seeding: history {args.history} in "
              f"{B.seed_history(sb, args.history):.1f} s", flush=True)
        floor = B.server_fetch_time(sb.control_addr, "history_get", repeat=3)
        results = []
        for name in who:
            print(f"# running {args.consoles} × {NAMES.get(name, name)} for "
                  f"{args.duration:.0f} s", flush=True)
            results.append(run_contender(sb, name, args.consoles, args.duration,
                                         args.history))
        report(results, floor, args.consoles)
    finally:
        sb.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
