"""A sleep that another part of the loop can end early, and whose cancel is never lost.

Why not ``asyncio.wait_for(event.wait(), timeout)``: on Python 3.11 it swallows a cancel that
arrives in the same loop iteration as the event (the inner wait completes, the outer task goes
on as if nothing had been asked of it; python/cpython#86296), so a task being shut down can
keep running and whoever awaits it hangs. It also starts a helper task per sleep. Here a sleep
is one bare future and a timer: a cancel always raises, and nothing is left half-started.
"""

from __future__ import annotations

import asyncio

__all__ = ["Wakeup"]


class Wakeup:
    """``await sleep(delay)`` until :meth:`set` or ``delay`` seconds (None: no limit).

    Edge-triggered: a ``set()`` with nobody asleep is not remembered, so a sleeper checks its
    condition first, with no ``await`` between the check and the sleep (the loop runs one
    callback at a time, so nothing can slip in). ``set()`` must be called on the loop's thread.
    Any number of coroutines may sleep at once; ``set()`` wakes them all.
    """

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future] = set()

    def set(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(True)

    async def sleep(self, delay: float | None) -> bool:
        """True when woken by :meth:`set`, False after ``delay``."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.add(waiter)
        timer = None if delay is None else loop.call_later(
            max(0.0, delay), lambda: waiter.done() or waiter.set_result(False))
        try:
            return await waiter
        finally:
            if timer is not None:
                timer.cancel()
            self._waiters.discard(waiter)
