"""What a new ``--demo`` starts with, so that a first look shows a working queue and history.

Everything goes through the RE Manager's own API, exactly as an operator's requests would: two
items run with ``item_execute`` (one completes, one fails at run time, so the history shows both
outcomes), then three representative items are added to the queue.
"""

from __future__ import annotations

import time
from typing import Any

from .procs import SandboxError
from .server import Sandbox

DEMO_USER = "demo"
DEMO_GROUP = "primary"

#: run once each at start: (item, expected exit status)
HISTORY_ITEMS: list[tuple[dict[str, Any], str]] = [
    ({"item_type": "plan", "name": "count", "args": [["det1", "det2"]],
      "kwargs": {"num": 5, "delay": 0.1}}, "completed"),
    # Accepted by the server, but fails in the worker: scan() needs (motor, start, stop).
    ({"item_type": "plan", "name": "scan", "args": [["det1"], "motor", -1],
      "kwargs": {"num": 5}}, "failed"),
]  # fmt: skip

QUEUE_ITEMS: list[dict[str, Any]] = [
    {"item_type": "plan", "name": "count", "args": [["det1", "det2"]],
     "kwargs": {"num": 10, "delay": 0.5}},
    {"item_type": "plan", "name": "scan", "args": [["det1", "det2"], "motor", -1, 1],
     "kwargs": {"num": 11}},
    {"item_type": "instruction", "name": "queue_stop"},
]  # fmt: skip


def _ok(reply: dict, what: str) -> dict:
    if not reply.get("success"):
        raise SandboxError(f"demo: {what} was refused: {reply.get('msg')}")
    return reply


def _wait_history(sb: Sandbox, count: int, deadline: float) -> dict:
    while True:
        st = sb.request("status")
        if st["items_in_history"] >= count and st["manager_state"] == "idle":
            return st
        if time.monotonic() > deadline:
            raise SandboxError(f"demo: the item did not finish in time:\n{sb.log_tail(20)}")
        time.sleep(0.1)


def seed_demo(sb: Sandbox, *, open_environment: bool = True, timeout: float = 90.0) -> None:
    """Fill an empty demo server: history first (needs the environment), then the queue.

    With ``open_environment=False`` and the environment closed, only the queue is filled."""
    deadline = time.monotonic() + timeout
    status = sb.request("status")
    if open_environment and not status["worker_environment_exists"]:
        sb.environment_open(timeout=max(1.0, deadline - time.monotonic()))
        status = sb.request("status")
    identity = {"user": DEMO_USER, "user_group": DEMO_GROUP}
    if status["worker_environment_exists"]:
        done = status["items_in_history"]
        for item, _outcome in HISTORY_ITEMS:
            _ok(sb.request("queue_item_execute", {"item": item, **identity}), item["name"])
            done += 1
            _wait_history(sb, done, deadline)
    for item in QUEUE_ITEMS:
        _ok(sb.request("queue_item_add", {"item": item, **identity}), f"adding {item['name']}")
