"""Background work that must not compete with the GUI thread or a co-located RE Manager.

Why: compressing a 100,000-item history reply (tens of MB) costs a core for a few hundred
milliseconds. On a 2-core console that also runs the RE Manager, a normal-priority thread takes
that time from the manager's event loop and from the GUI; nobody is waiting for the result, so
it runs at a lower OS priority, one job after the other, in one thread for the whole process.
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["LOW_PRIORITY", "LowPriorityThread"]


class LowPriorityThread:
    """One daemon thread, started on first use, at ``NICE`` more niceness (Linux: per thread;
    elsewhere the default priority). Jobs run in the order submitted."""

    NICE = 10

    def __init__(self, name: str = "qs-gui-background") -> None:
        self.name = name
        self._queue: queue.SimpleQueue[tuple[concurrent.futures.Future, Callable, tuple]] = (
            queue.SimpleQueue())
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        """Run ``fn(*args)`` in the thread; its future (``asyncio.wrap_future`` to await it)."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        self._queue.put((future, fn, args))
        return future

    def _run(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                           os.getpriority(os.PRIO_PROCESS, 0) + self.NICE)
        except (AttributeError, OSError):  # not Linux: the default priority
            pass
        while True:
            future, fn, args = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as ex:  # handed to whoever awaits the future
                future.set_exception(ex)


#: the process's one low-priority thread (history blocks and large cached replies)
LOW_PRIORITY = LowPriorityThread()
