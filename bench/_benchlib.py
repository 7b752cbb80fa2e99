"""Shared helpers for the GUI benchmarks (runs in the project's venv, never in a GUI child).

* Seeding a sandbox RE Manager: a queue through ``queue_item_add_batch`` (chunks of 1000, as
  any client would); the history is written straight into the sandbox's Redis by
  ``qs_gui.sandbox.seeding.seed_history`` (shared with the tests, re-exported here).
* Timing the server's own ``queue_get`` / ``history_get`` with a raw blocking REQ socket.
* Running a probe subprocess and relaying its ``metric value unit`` lines.
* What ``bench_gui.py`` and ``bench_peers.py`` share: their common options, the probes' common
  arguments, and the seeding steps of the two scenarios (with their ``# seeding`` lines).

The probes' own helpers (output lines, statistics, "another client") are in
``probe_common.py``, which must also work in ``bench/.venv-peers``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import zmq

from qs_gui.sandbox.seeding import (  # noqa: F401 (re-exported for the bench scripts)
    history_entry,
    make_plan,
    seed_history,
)

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


def seed_queue(sb: Any, n: int, *, seed: int = 11, chunk: int = 1000) -> float:
    """Add ``n`` plans with ``queue_item_add_batch`` in chunks (as any client would)."""
    t = time.monotonic()
    rng = random.Random(seed)
    for start in range(0, n, chunk):
        items = [make_plan(rng, i) for i in range(start, min(n, start + chunk))]
        reply = sb.request("queue_item_add_batch", {"items": items, "user": "seeder",
                                                    "user_group": "primary"}, timeout=120)
        if not reply.get("success"):
            raise RuntimeError(f"queue_item_add_batch failed: {reply.get('msg')}")
    return time.monotonic() - t


def environment_close(sb: Any, timeout: float = 60.0) -> None:
    """Close the worker environment and wait until the manager reports it gone."""
    if not sb.request("status")["worker_environment_exists"]:
        return
    reply = sb.request("environment_close")
    if not reply.get("success"):
        raise RuntimeError(f"environment_close failed: {reply.get('msg')}")
    deadline = time.monotonic() + timeout
    while True:
        st = sb.request("status")
        if not st["worker_environment_exists"] and st["manager_state"] == "idle":
            return
        if time.monotonic() > deadline:
            raise RuntimeError("environment did not close")
        time.sleep(0.05)


def watchdog_restarts(sb: Any) -> int:
    """How often the manager's own watchdog killed and restarted it (a request that blocks the
    manager's loop for >= 5 s, e.g. a huge ``history_get``, makes it do that)."""
    try:
        return sb.log_path.read_text(errors="replace").count("Timeout detected by Watchdog")
    except OSError:
        return -1


def server_fetch_time(address: str, method: str, repeat: int = 3,
                      timeout: float = 20.0) -> dict[str, float]:
    """Median time for the server to answer ``method`` (send -> last byte received), the reply
    size, and how long a plain ``json.loads`` of it takes (blocking, raw pyzmq).

    A 100k-item ``history_get`` can block the manager's loop past its own 5 s watchdog limit,
    which then kills and restarts it (the request is never answered): such attempts are
    counted in ``lost`` and retried (up to 3 x ``repeat`` attempts)."""
    ctx = zmq.Context()
    times, decode, size, lost = [], [], 0, 0
    try:
        for _ in range(3 * repeat):
            if len(times) >= repeat:
                break
            sock = ctx.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(address)
            try:
                t0 = time.perf_counter()
                sock.send(json.dumps({"method": method, "params": {}}).encode())
                if not sock.poll(int(timeout * 1000)):
                    lost += 1
                    _wait_answering(ctx, address)
                    continue
                raw = sock.recv()
                times.append(time.perf_counter() - t0)
                size = len(raw)
                t1 = time.perf_counter()
                json.loads(raw)
                decode.append(time.perf_counter() - t1)
                del raw
            finally:
                sock.close(linger=0)
    finally:
        ctx.term()
    if not times:
        raise TimeoutError(f"{method}: no reply in {lost} attempts")
    return {"time": statistics.median(times), "max": max(times), "bytes": size,
            "decode": statistics.median(decode), "lost": lost, "n": len(times)}


def _wait_answering(ctx: zmq.Context, address: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(address)
        try:
            sock.send(b'{"method": "status", "params": {}}')
            if sock.poll(1000):
                sock.recv()
                return
        finally:
            sock.close(linger=0)
    raise TimeoutError(f"{address} does not answer")


def run_probe(python: str, script: Path, args: list[str], *, prefix: str, timeout: float = 900,
              env: dict[str, str] | None = None) -> dict[str, tuple[float, str]]:
    """Run a probe; echo its metric lines (live) with ``prefix``; return {metric: (value,
    unit)}. A probe still running after ``timeout`` seconds is killed."""
    full_env = dict(os.environ)
    full_env.setdefault("QT_QPA_PLATFORM", "offscreen")
    full_env.update(env or {})
    full_env["BENCH_SPAWN_T"] = repr(time.monotonic())
    err = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed below, after the wait)
    proc = subprocess.Popen([python, str(script), *args], stdout=subprocess.PIPE, stderr=err,
                            text=True, env=full_env, start_new_session=True)
    killer = threading.Timer(timeout, lambda: proc.poll() is None and os.killpg(proc.pid, 9))
    killer.start()
    metrics: dict[str, tuple[float, str]] = {}
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("#"):
                print(f"# {prefix}: {line[1:].strip()}", flush=True)
                continue
            parts = line.split()
            try:
                value = float(parts[1])
            except (IndexError, ValueError):
                if line.strip():
                    print(f"# {prefix}: {line}", flush=True)
                continue
            unit = " ".join(parts[2:])
            metrics[parts[0]] = (value, unit)
            print(f"{prefix}.{parts[0]} {parts[1]} {unit}".rstrip(), flush=True)
        proc.wait()
    finally:
        killer.cancel()
    if proc.returncode != 0:
        err.seek(0)
        lines = [ln for ln in err.read().splitlines() if "propagateSizeHints" not in ln]
        tail = "\n".join(lines[-25:])
        print(f"# {prefix}: probe exited with {proc.returncode}:\n{tail}", file=sys.stderr)
        metrics["_failed"] = (float(proc.returncode), tail)
    err.close()
    return metrics


# -- shared by bench_gui.py and bench_peers.py ------------------------------------------------
def parent_parser(doc: str, *, item_changes: int) -> argparse.ArgumentParser:
    """The options both parents take: scenario, data sizes, phases."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--scenario", choices=("all", "small", "large"), default="all")
    ap.add_argument("--queue", type=int, default=10_000)
    ap.add_argument("--history-small", type=int, default=10_000)
    ap.add_argument("--history-large", type=int, default=100_000)
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--item-changes", type=int, default=item_changes)
    return ap


def probe_args(sb: Any, n_queue: int, n_history: int) -> list[str]:
    """The arguments every probe takes: the sandbox's addresses and the rows to expect."""
    return ["--control-addr", sb.control_addr, "--info-addr", sb.info_addr,
            "--expect-queue", str(n_queue), "--expect-history", str(n_history)]


def seed_start(sb: Any, args: argparse.Namespace) -> None:
    """First seeding: the small history (when the small scenario runs), then the queue."""
    if args.scenario in ("all", "small"):
        print(f"# seeding: history {args.history_small} in "
              f"{seed_history(sb, args.history_small):.1f} s", flush=True)
    print(f"# seeding: queue {args.queue} in {seed_queue(sb, args.queue):.1f} s", flush=True)


def start_large(sb: Any, n_history: int) -> dict[str, float]:
    """The large scenario's set-up: environment closed, ``n_history`` entries seeded; returns
    the server's own ``history_get`` time (``server_fetch_time``)."""
    environment_close(sb)
    print(f"# seeding: history {n_history} in {seed_history(sb, n_history):.1f} s", flush=True)
    return server_fetch_time(sb.control_addr, "history_get")
