"""A large history in a sandbox RE Manager, fast: for the tests and the benchmarks alike.

Why not through the server: a history only grows by running plans (seconds each), so 100,000
entries are written straight into the sandbox's Redis in exactly the form the server stores them
(``bluesky_queueserver/manager/plan_queue_ops.py``: key ``<prefix>_plan_history``, one
``json.dumps(item)`` per entry, RPUSHed at completion), followed by a manager restart, because
the manager keeps the history size and uid in memory and reads them from Redis only at start-up.
Entries are deterministic (seeded ``random``), shaped like those of the simulated profile.
An empty history is restored the ordinary way, with ``history_clear`` (no restart needed).
"""

from __future__ import annotations

import json
import random
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Sandbox

__all__ = ["PLANS", "TRACEBACK", "USERS", "Redis", "history_entry", "make_plan", "seed_history"]

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


def seed_history(sb: Sandbox, n: int, *, seed: int = 7, replace: bool = True) -> float:
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
