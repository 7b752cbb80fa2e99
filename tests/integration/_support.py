"""Shared helpers for the integration tests: plain asyncio (no Qt), real server via the harness."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from qs_gui.client import REManagerAPI
from qs_gui.sandbox import Sandbox

T = TypeVar("T")

#: The prefix of every ``queue_item_execute`` refusal (re-manager-protocol.md §8.1).
EXEC_FAIL = "Failed to start execution of the item: "


def run(coro: Awaitable[T], timeout: float = 60.0) -> T:
    """Run one coroutine on a fresh event loop, failing it after ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def client_for(sb: Sandbox, **kwargs: Any) -> REManagerAPI:
    """qs-gui's client pointed at the sandbox (CURVE key included when the sandbox has one)."""
    kwargs.setdefault("zmq_public_key", sb.public_key)
    return REManagerAPI(zmq_control_addr=sb.control_addr, zmq_info_addr=sb.info_addr, **kwargs)


@contextlib.asynccontextmanager
async def api(sb: Sandbox, **kwargs: Any) -> AsyncIterator[REManagerAPI]:
    """``async with api(sb) as rm``: always closed, whatever happens in the body."""
    rm = client_for(sb, **kwargs)
    try:
        yield rm
    finally:
        await rm.close()


async def wait_until(
    probe: Callable[[], Awaitable[Any]],
    timeout: float,
    *,
    interval: float = 0.05,
    what: str = "condition",
) -> Any:
    """Await ``probe()`` until it returns something truthy; return it. AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)  # poll interval of a condition wait, not a synchronisation


async def wait_status(rm: REManagerAPI, predicate: Callable[[dict], bool], timeout: float = 30.0,
                      what: str = "status") -> dict:
    """Poll ``rm.status(reload=True)`` until ``predicate(status)``; return that status."""
    last: dict = {}

    async def probe() -> dict | None:
        nonlocal last
        last = await rm.status(reload=True)
        return last if predicate(last) else None

    try:
        return await wait_until(probe, timeout, what=what)
    except AssertionError as ex:
        brief = {k: last.get(k) for k in ("manager_state", "worker_environment_exists",
                                           "re_state", "items_in_queue", "items_in_history")}
        raise AssertionError(f"{ex}; last status {brief}") from None


async def wait_idle(rm: REManagerAPI, timeout: float = 30.0) -> dict:
    return await wait_status(rm, lambda s: s["manager_state"] == "idle", timeout, "idle")


async def wait_in_history(rm: REManagerAPI, item_uid: str, timeout: float = 30.0) -> dict:
    """Wait until the item with ``item_uid`` is in history; return the history entry."""

    async def probe() -> dict | None:
        history = await rm.history_get(reload=True)
        return next((h for h in history["items"] if h.get("item_uid") == item_uid), None)

    return await wait_until(probe, timeout, what=f"item {item_uid} in history")


def lock_block(lock_info: dict) -> str:
    """The lock description the server embeds in every lock-key failure (protocol §8)."""
    return (
        "Invalid lock key: \n"
        f"RE Manager is locked by {lock_info['user']} at {lock_info['time_str']}\n"
        f"Environment is locked: {lock_info['environment']}\n"
        f"Queue is locked:       {lock_info['queue']}\n"
        f"Emergency lock key:    {'set' if lock_info['emergency_lock_key_is_set'] else 'not set'}\n"
        f"Note: {lock_info['note'] or '---'}"
    )


@contextlib.contextmanager
def server_locked(sb: Sandbox, key: str, *, environment: bool = True, queue: bool = False,
                  note: str | None = None, user: str = "lock-owner"):
    """Lock the server through the harness (raw requests) and ALWAYS unlock it afterwards."""
    params: dict[str, Any] = {"lock_key": key, "user": user}
    if environment:
        params["environment"] = True
    if queue:
        params["queue"] = True
    if note:
        params["note"] = note
    try:
        reply = sb.request("lock", params)
        assert reply["success"], reply
        yield reply["lock_info"]
    finally:
        reply = sb.request("unlock", {"lock_key": key})
        assert reply["success"], f"unlock failed: {reply}"
