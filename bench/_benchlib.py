"""Shared helpers for the GUI benchmarks (runs in the project's venv, never in a GUI child).

* Seeding a sandbox RE Manager: a queue through ``queue_item_add_batch`` (chunks of 1000, as
  any client would), and a history written straight into the sandbox's Redis in exactly the
  form the server stores it (``bluesky_queueserver/manager/plan_queue_ops.py``: key
  ``<prefix>_plan_history``, one ``json.dumps(item)`` per entry, RPUSHed at completion), followed
  by a manager restart, because the manager keeps the history size and uid in memory and reads
  them from Redis only at start-up.
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
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import zmq

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent

PLANS = (  # (name, args, kwargs) shapes like those of the simulated profile; short ones dominate
    ("count", [["det1"]], {"num": 1}),
    ("count", [["det1", "det2"]], {"num": 10, "delay": 0.1}),
    ("count", [["det1"]], {"num": 1}),
    ("scan", [["det1"], "motor", -1, 1], {"num": 10}),
    ("count", [["det1"]], {"num": 1}),
    ("rel_scan", [["det1", "det2"], "motor1", -0.5, 0.5], {"num": 21}),
    ("count", [["det1"]], {"num": 1}),
    ("mv", ["motor1", 1.5], {}),
    ("count", [["det1", "det2", "det3"]], {"num": 5, "delay": [0.1, 0.2, 0.4, 0.8]}),
    ("grid_scan", [["det4"], "motor1", -1, 1, 5, "motor2", -2, 2, 7], {"snake_axes": True}),
)
USERS = (("operator", "primary"), ("staff", "primary"), ("qserver", "primary"))
TRACEBACK = ("Traceback (most recent call last):\n  ...\n"
             "ophyd.utils.errors.LimitError: motor: position 12.5 out of limits\n")


def make_plan(rng: random.Random, i: int) -> dict[str, Any]:
    name, args, kwargs = PLANS[i % len(PLANS)]
    kwargs = dict(kwargs)
    if name == "count":
        kwargs["num"] = rng.randint(1, 50)
    item: dict[str, Any] = {"item_type": "plan", "name": name, "args": json.loads(json.dumps(args)),
                            "kwargs": kwargs}
    if i % 50 == 0:
        item["meta"] = {"sample": f"S{i % 97:03d}"}
    return item


def history_entry(rng: random.Random, i: int, t0: float) -> dict[str, Any]:
    """One history entry, key order and content as ``_set_processed_item_as_completed`` makes."""
    item = make_plan(rng, i)
    user, group = USERS[i % len(USERS)]
    item.update(user=user, user_group=group, item_uid=str(uuid.UUID(int=rng.getrandbits(128))))
    failed = i % 53 == 0
    start = t0 + i * 7.0
    item["result"] = {
        "exit_status": "failed" if failed else ("stopped" if i % 101 == 0 else "completed"),
        "run_uids": [str(uuid.UUID(int=rng.getrandbits(128)))],
        "scan_ids": [i + 1],
        "time_start": start,
        "time_stop": start + rng.uniform(0.2, 30.0),
        "msg": "LimitError: motor: position 12.5 out of limits" if failed else "",
        "traceback": TRACEBACK if failed else "",
    }
    return item


def _resp(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


class Redis:
    """Just enough RESP to DEL, RPUSH (pipelined) and LLEN; no client library involved."""

    def __init__(self, addr: str):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.buf = b""

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        if line.startswith(b"-"):
            raise RuntimeError(line.decode())
        return line

    def command(self, *parts: bytes) -> bytes:
        self.sock.sendall(_resp(*parts))
        return self._line()

    def rpush_many(self, key: bytes, values: list[bytes], chunk: int = 1000) -> int:
        sent = 0
        for i in range(0, len(values), chunk):
            self.sock.sendall(_resp(b"RPUSH", key, *values[i:i + chunk]))
            sent += 1
        n = 0
        for _ in range(sent):
            n = int(self._line()[1:])
        return n

    def close(self) -> None:
        self.sock.close()


def seed_history(sb: Any, n: int, *, seed: int = 7, replace: bool = True) -> float:
    """Write ``n`` history entries into the sandbox's Redis, restart the manager so it sees
    them, and re-open the worker environment. Returns the seconds spent."""
    t = time.monotonic()
    rng = random.Random(seed)
    t0 = time.time() - n * 7.0 - 3600
    values = [json.dumps(history_entry(rng, i, t0)).encode() for i in range(n)]
    key = f"{sb.redis_prefix}_plan_history".encode()
    r = Redis(sb.redis_addr)
    try:
        if replace:
            r.command(b"DEL", key)
        size = r.rpush_many(key, values)
    finally:
        r.close()
    # The manager caches the history size and uid in memory (PlanQueueOperations.start()):
    # without a restart ``items_in_history`` and ``plan_history_uid`` would not change.
    env_was_open = sb.request("status")["worker_environment_exists"]
    sb.restart_manager()
    status = sb.request("status")
    if status["items_in_history"] != size:
        raise RuntimeError(f"manager reports {status['items_in_history']} history items, "
                           f"Redis holds {size}")
    if env_was_open:
        sb.environment_open()
    return time.monotonic() - t


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
