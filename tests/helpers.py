"""Reusable test helpers: polling and bringing the sandbox RE Manager into a known state.

Everything here talks to the server through ``Sandbox.request`` (raw, synchronous pyzmq), so the
harness does not depend on qs-gui's own client code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from qs_gui.sandbox import Sandbox, guard, unguard

T = TypeVar("T")

#: the manager's watchdog restarts it after 5 s without a heartbeat: never stop it that long
STOP_LIMIT = 4.0

#: States in which the manager finishes on its own (we just wait).
TRANSIENT_STATES = {
    "initializing",
    "creating_environment",
    "starting_queue",
    "executing_task",
    "closing_environment",
    "destroying_environment",
}


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition not met",
) -> T:
    """Poll ``predicate`` until it returns something truthy and return that value.

    Raises AssertionError with ``message`` (called if callable, so it can describe the last
    state) when ``timeout`` seconds pass first. The predicate is always tried at least once.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout} s: {text}")
        time.sleep(interval)


def wait_status(
    sb: Sandbox, predicate: Callable[[dict], Any], timeout: float = 30.0, what: str = "status"
) -> dict:
    """Poll ``status`` until ``predicate(status)`` is truthy; return that status."""
    last: dict = {}

    def check() -> dict | None:
        nonlocal last
        last = sb.request("status")
        return last if predicate(last) else None

    def describe() -> str:
        keys = ("manager_state", "worker_environment_exists", "worker_environment_state",
                "re_state", "items_in_queue", "items_in_history", "lock")
        brief = {k: last.get(k) for k in keys}
        return f"waiting for {what}; last status {brief}\n--- manager log ---\n{sb.log_tail(20)}"

    return wait_for(check, timeout, interval=0.05, message=describe)


class ServerLockedError(AssertionError):
    """A test left the RE Manager locked: the harness cannot unlock it without the key."""


def check_not_locked(sb: Sandbox, status: dict | None = None) -> None:
    status = status or sb.request("status")
    lock = status.get("lock", {})
    if lock.get("environment") or lock.get("queue"):
        info = sb.request("lock_info")
        raise ServerLockedError(
            f"RE Manager is locked ({lock}, lock_info={info.get('lock_info')}). A test locked the "
            "server and did not unlock it; tests that call 'lock' must 'unlock' in a finally block."
        )


def _ok(reply: dict, method: str) -> dict:
    if not reply.get("success", False):
        raise AssertionError(f"{method} failed: {reply.get('msg')!r}")
    return reply


def bring_to_idle(sb: Sandbox, timeout: float = 30.0) -> dict:
    """Stop whatever runs (pause immediately, then abort) and wait for ``manager_state == idle``."""
    sb.request("queue_autostart", {"enable": False})  # otherwise an aborted queue may restart
    last_action: dict[str, float] = {}

    def act_once(method: str, params: dict | None = None, every: float = 3.0) -> None:
        # Re-send only after a while: replies just mean "started", the state follows later.
        if time.monotonic() - last_action.get(method, -1e9) >= every:
            last_action[method] = time.monotonic()
            sb.request(method, params)

    def step(st: dict) -> bool:
        state = st["manager_state"]
        if state == "idle":
            return True
        if state == "paused":
            act_once("re_abort")
        elif state == "executing_queue":
            if not st["queue_stop_pending"]:
                act_once("queue_stop")
            act_once("re_pause", {"option": "immediate"})
        return False  # transient states finish by themselves

    return wait_status(sb, step, timeout, what="manager_state == 'idle'")


def reset_server(sb: Sandbox, timeout: float = 30.0) -> dict:
    """Bring the server to a known state: idle, empty queue and history, default queue mode,
    autostart off. The worker environment is left as it is. Fails loudly on a leftover lock."""
    check_not_locked(sb)
    bring_to_idle(sb, timeout)
    _ok(sb.request("queue_clear"), "queue_clear")
    _ok(sb.request("history_clear"), "history_clear")
    _ok(sb.request("queue_mode_set", {"mode": "default"}), "queue_mode_set")
    _ok(sb.request("queue_autostart", {"enable": False}), "queue_autostart")
    return wait_status(
        sb,
        lambda st: st["manager_state"] == "idle"
        and st["items_in_queue"] == 0
        and st["items_in_history"] == 0
        and st["running_item_uid"] is None
        and not st["queue_autostart_enabled"]
        and not st["queue_stop_pending"]
        and st["plan_queue_mode"] == {"loop": False, "ignore_failures": False},
        timeout,
        what="reset state",
    )


def reset_around_test(sb: Sandbox) -> Iterator[Sandbox]:
    """For a per-test fixture: the server reset before the test, checked unlocked after it;
    fails loudly (not as an error in some later test) when a test leaves a lock behind."""
    import pytest

    try:
        reset_server(sb)
    except ServerLockedError as ex:
        pytest.fail(f"a previous test left the server locked. {ex}")
    yield sb
    try:
        check_not_locked(sb)
    except ServerLockedError as ex:
        pytest.fail(f"this test left the server locked. {ex}")


def ensure_env_open(sb: Sandbox, timeout: float = 60.0) -> dict:
    """Open the worker environment unless it is already open and healthy; wait until idle."""
    st = wait_status(sb, lambda s: s["manager_state"] not in TRANSIENT_STATES, timeout)
    if st["worker_environment_exists"] and st["worker_environment_state"] not in ("idle", "closed"):
        # e.g. 'failed': start over with a fresh worker
        _ok(sb.request("environment_destroy"), "environment_destroy")
        wait_status(sb, lambda s: not s["worker_environment_exists"]
                    and s["manager_state"] == "idle", timeout, "environment destroyed")
    elif st["worker_environment_exists"] and st["manager_state"] == "idle":
        return st
    _ok(sb.request("environment_open"), "environment_open")
    return wait_status(
        sb,
        lambda s: s["worker_environment_exists"]
        and s["manager_state"] == "idle"
        and s["worker_environment_state"] == "idle",
        timeout,
        what="environment open and idle",
    )


def ensure_env_closed(sb: Sandbox, timeout: float = 30.0) -> dict:
    """Close the worker environment (destroy it if a normal close is refused); wait until idle."""
    st = wait_status(sb, lambda s: s["manager_state"] not in TRANSIENT_STATES, timeout)
    if st["worker_environment_exists"] and not sb.request("environment_close").get("success"):
        _ok(sb.request("environment_destroy"), "environment_destroy")
    return wait_status(
        sb,
        lambda s: not s["worker_environment_exists"] and s["manager_state"] == "idle",
        timeout,
        what="environment closed",
    )


def process_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def spawn_guarded(argv: list[str], **kwargs: Any) -> subprocess.Popen:
    """A child process (with its own process group) that the sandbox's lifeline guardian ends
    if this test run dies, however it dies; :func:`reap` it when done."""
    proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
    guard(proc.pid)
    return proc


def reap(proc: subprocess.Popen) -> None:
    """Kill ``proc`` if it still runs, wait for it, and release it from the guardian."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    unguard(proc.pid)


def child_pids(pid: int) -> list[int]:
    """Live (non-zombie) children of ``pid``, from /proc."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on loopback TCP ``port`` (from /proc/net/tcp*)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(fields[9])
    return inodes


def manager_pid(sb: Sandbox) -> int:
    """The RE Manager process: the watchdog's (``Sandbox.pid``) child that listens on the
    control port. The worker, while an environment is open, is the watchdog's child too."""
    port = int(sb.control_addr.rsplit(":", 1)[1])
    inodes = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    found = []
    for pid in child_pids(sb.pid):
        try:
            links = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
        except OSError:
            continue
        if links & inodes:
            found.append(pid)
    assert len(found) == 1, f"expected one manager listening on {port} under {sb.pid}: {found}"
    return found[0]


@contextlib.contextmanager
def manager_stopped(sb: Sandbox) -> Iterator[int]:
    """SIGSTOP the RE Manager process (not the watchdog): it answers nothing until the block
    ends. SIGCONT on exit, and in any case after STOP_LIMIT s (a safety net, well before the
    watchdog's 5 s)."""
    pid = manager_pid(sb)
    resume = threading.Timer(STOP_LIMIT, os.kill, (pid, signal.SIGCONT))
    os.kill(pid, signal.SIGSTOP)
    resume.start()
    try:
        yield pid
    finally:
        resume.cancel()
        os.kill(pid, signal.SIGCONT)
