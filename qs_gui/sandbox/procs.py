"""Process and port helpers for the sandbox: free loopback ports, log tails, waiting for a
process, finding a sandbox's processes, and stopping a whole process group without ever
signalling a reused group id."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from .lifeline import unguard

log = logging.getLogger("qs_gui.sandbox")

HOST = "127.0.0.1"
#: set in the environment of every process a sandbox starts (inherited by their children too)
MARKER_ENV = "QS_GUI_SANDBOX"
#: the RE Manager's and bluesky-httpserver's well-known ports (60610, 60615, 60625, and the
#: reference test suite's 60616/60617): a sandbox leaves the whole block to real servers
RESERVED_PORTS = range(60600, 60640)
_ports_lock = threading.Lock()
_ports_handed_out: set[int] = set()


class SandboxError(RuntimeError):
    """The sandbox could not be started (the message carries the relevant log tail)."""


def port_is_free(port: int) -> bool:
    """True if nothing is bound to ``port`` on 127.0.0.1 (or on all interfaces)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Like 0MQ's listeners: TIME_WAIT leftovers of a killed server do not block a rebind,
        # a live listener still does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def pick_ports(n: int) -> list[int]:
    """Distinct free loopback ports (bind to port 0), never handed out twice by this process."""
    socks: list[socket.socket] = []
    ports: list[int] = []
    try:
        with _ports_lock:
            while len(ports) < n:
                socks.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                socks[-1].bind((HOST, 0))
                port = socks[-1].getsockname()[1]
                if port not in _ports_handed_out and port not in RESERVED_PORTS:
                    ports.append(port)
            _ports_handed_out.update(ports)
    finally:
        for s in socks:
            s.close()
    return ports


def tail(path: Path | None, n: int) -> str:
    """The last ``n`` lines of a log file ("" if there is none), for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path else ""
    except OSError:
        return ""


def exited(proc: subprocess.Popen | None, timeout: float = 0.0) -> bool:
    """Wait up to ``timeout`` for an exit, leaving the zombie unreaped so that its PID, our
    process group id, cannot be reused while we still signal the group."""
    deadline = time.monotonic() + timeout
    while proc is not None and proc.returncode is None:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
        except ChildProcessError:
            break
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``, from /proc (empty where absent)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def marked_pids(marker: str) -> list[int]:
    """Live processes whose environment carries ``QS_GUI_SANDBOX=marker``: everything one sandbox
    started, grandchildren included, whatever their process group."""
    needle = f"{MARKER_ENV}={marker}".encode()
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle not in environ.read_bytes().split(b"\0"):
                continue
            state = (environ.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            pids.append(int(environ.parent.name))
    return pids


def redis_answers(proc: subprocess.Popen, port: int, timeout: float) -> bool:
    """Wait until the Redis server ``proc`` answers PING on ``port``; False if it exits first or
    ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((HOST, port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def stop_group(proc: subprocess.Popen, name: str, grace: float = 5.0,
               level: int = logging.INFO) -> None:
    """SIGTERM, then SIGKILL, the process group led by ``proc`` (started with a new session),
    kill any stragglers while the unreaped leader still pins the group id, then reap it."""
    if proc.returncode is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if exited(proc):
            break
        log.log(level, "sending %s to %s process group %d", sig.name, name, proc.pid)
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, sig)
        exited(proc, grace)
    deadline = time.monotonic() + grace
    while group_pids(proc.pid) and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.02)
    proc.wait()
    unguard(proc.pid)
