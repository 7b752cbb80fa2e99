"""Bind process groups to the life of this process, however it ends.

``atexit`` and ``finally`` cover a clean exit, an exception and Ctrl+C, but not SIGKILL, an
uncaught SIGTERM or an ``abort()`` inside Qt. A tiny guardian process (:mod:`._guardian`) holds the
read end of a pipe whose write end only this process has; the kernel closes that end whenever this
process dies, and the guardian then terminates every process group still registered with it. The
RE Manager's watchdog, manager and worker share one group, so the watchdog's own children go too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

GUARDIAN = Path(__file__).with_name("_guardian.py")


class Lifeline:
    """One guardian per process (started on first use, again after a fork or if it died)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._owner = 0
        self._groups: set[int] = set()

    @property
    def guardian_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._owner == os.getpid() else None

    def watch(self, pgid: int) -> None:
        """Terminate process group ``pgid`` when this process ends (until :meth:`release`)."""
        with self._lock:
            self._groups.add(pgid)
            self._send(f"+{pgid}\n")

    def release(self, pgid: int) -> None:
        """Forget ``pgid`` (it was stopped; its id may be reused by an unrelated group)."""
        with self._lock:
            self._groups.discard(pgid)
            self._send(f"-{pgid}\n")

    def _send(self, line: str) -> None:
        for _ in range(2):
            proc = self._ensure_guardian()
            try:
                proc.stdin.write(line.encode())
                proc.stdin.flush()
                return
            except (BrokenPipeError, ValueError, OSError):  # the guardian died: start another
                self._proc = None

    def _ensure_guardian(self) -> subprocess.Popen:
        if self._proc is not None and self._owner == os.getpid() and self._proc.poll() is None:
            return self._proc
        if self._owner != os.getpid():  # a fork inherits the groups of its parent: not ours
            self._groups.clear()
        # Its own session: a Ctrl+C or a signal to our process group must not take it first.
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(GUARDIAN)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self._owner = os.getpid()
        if self._groups:  # re-register with a replacement guardian
            self._proc.stdin.write("".join(f"+{g}\n" for g in self._groups).encode())
            self._proc.stdin.flush()
        return self._proc


_lifeline = Lifeline()


def guard(pgid: int) -> None:
    """Register the process group ``pgid`` with this process's guardian."""
    _lifeline.watch(pgid)


def unguard(pgid: int) -> None:
    """Forget a group that was stopped normally."""
    _lifeline.release(pgid)


def guardian_pid() -> int | None:
    """The guardian's pid in this process, None before the first :func:`guard`."""
    return _lifeline.guardian_pid
