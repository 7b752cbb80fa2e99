"""Waiting for a server condition: :class:`WaitMonitor` and the ``wait_for_*`` methods.

The reference client's contract (``bluesky_queueserver_api``, ``_wait_for_condition``): the
status is reloaded every ``status_polling_period``; a lost status reply (server down or
restarting) is not an error, the wait polls on until its timeout and then raises
WaitTimeoutError; ``monitor.cancel()`` ends it with WaitCancelError. The timeout is read from the
monitor at every step, so ``monitor.set_timeout()`` during a wait takes effect.

Unlike the reference, nothing runs between waits (no background status task): a wait polls from
its own coroutine and checks the status at once rather than after one polling period. A status
read at the deadline is still judged (the condition may hold in it), but neither a cancel nor
the deadline waits more than one polling period for a pending status reply (that request is
abandoned; the transport then opens a fresh socket).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from .exceptions import (
    HTTPError,
    RequestFailedError,
    RequestParameterError,
    RequestTimeoutError,
    WaitCancelError,
    WaitTimeoutError,
)
from .params import RequestBuilder

logger = logging.getLogger(__name__)

DEFAULT_WAIT_TIMEOUT = 600.0
Condition = Callable[[dict], bool]


class WaitMonitor:
    """Cancel a ``wait_*`` call from another task or thread, and watch its progress.

    The reference's own ``bluesky_queueserver_api.WaitMonitor`` is accepted by the waits too.
    """

    def __init__(self) -> None:
        self._time_start = 0.0
        self._timeout = 0.0
        self._cancel_callbacks: list[Callable[[], Any]] = []
        self._wait_cancelled = False
        self._lock = threading.Lock()  # cancel() may come from another thread

    @property
    def time_start(self) -> float:
        """When the wait started (``time.time()``)."""
        return self._time_start

    @property
    def time_elapsed(self) -> float:
        return time.time() - self._time_start

    @property
    def timeout(self) -> float:
        return self._timeout

    def set_timeout(self, timeout: float) -> None:
        """Change the timeout of the wait in progress (seconds from its start)."""
        self._timeout = timeout

    def add_cancel_callback(self, cancel_callback: Callable[[], Any]) -> None:
        """Call ``cancel_callback()`` once, when the monitor is cancelled."""
        with self._lock:
            self._cancel_callbacks.append(cancel_callback)

    def remove_cancel_callback(self, cancel_callback: Callable[[], Any]) -> None:
        with self._lock:
            if cancel_callback in self._cancel_callbacks:
                self._cancel_callbacks.remove(cancel_callback)

    def cancel(self) -> None:
        """Cancel the wait (a monitor is cancelled once for good); callback errors are ignored."""
        with self._lock:
            callbacks, self._cancel_callbacks = self._cancel_callbacks, []
            self._wait_cancelled = True
        for callback in callbacks:
            try:
                callback()
            except Exception:
                logger.debug("A WaitMonitor cancel callback failed", exc_info=True)

    @property
    def is_cancelled(self) -> bool:
        return self._wait_cancelled


def start_monitor(monitor: Any, timeout: float, reset_time_start: bool = True) -> Any:
    """``monitor`` (or a new WaitMonitor) started now with ``timeout``. A monitor of the
    reference's class has no public way to set its start: its ``_time_start`` is set, as the
    reference itself does."""
    if not monitor:
        monitor, reset_time_start = WaitMonitor(), True
    if reset_time_start:
        monitor._time_start = time.time()
    monitor.set_timeout(timeout)
    return monitor


def _remaining(monitor: Any) -> float:
    return max(0.0, monitor.timeout - monitor.time_elapsed)


def _consume(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()  # an abandoned request's outcome is not logged as "never retrieved"


async def _pause(wake: asyncio.Event, seconds: float) -> None:
    """Sleep until the next poll, or until a cancel sets ``wake``. Not ``wait_for``: on Python
    3.11 it can swallow a cancel of this task (see client/wakeup.py)."""
    if wake.is_set():
        return
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({waker}, timeout=seconds)
    finally:
        waker.cancel()


async def _poll(fetch: Callable[[], Awaitable[Any]], wake: asyncio.Event,
                budget: float | None) -> Any:
    """One status reload; None if the reply is lost, or if a cancel or the deadline
    (``budget`` seconds) comes first."""
    request = asyncio.ensure_future(fetch())
    waker = asyncio.ensure_future(wake.wait())
    try:
        done, _ = await asyncio.wait({request, waker}, timeout=budget,
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        waker.cancel()
        if not request.done():
            request.cancel()
    if request not in done:
        request.add_done_callback(_consume)
        return None
    try:
        return request.result()
    except (RequestTimeoutError, HTTPError, RequestFailedError):
        return None  # as the reference: no status this time (the gateway's 408 included)


async def wait_for_status(fetch: Callable[[], Awaitable[Any]], condition: Condition,
                          monitor: Any, polling_period: float) -> None:
    """Poll ``fetch()`` until ``condition(status)`` holds (module doc); ``monitor`` started."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()  # set once, by a cancel, and never cleared

    def on_cancel() -> None:
        loop.call_soon_threadsafe(wake.set)

    monitor.add_cancel_callback(on_cancel)
    try:
        budget = None  # the first status is always awaited in full, however short the timeout
        while True:
            status = await _poll(fetch, wake, budget)
            if isinstance(status, Mapping) and condition(copy.deepcopy(dict(status))):
                return
            if monitor.time_elapsed > monitor.timeout:
                raise WaitTimeoutError("Timeout while waiting for condition")
            if monitor.is_cancelled:
                raise WaitCancelError("Wait for condition was cancelled")
            await _pause(wake, min(polling_period, _remaining(monitor)))
            # The status read at the deadline still counts (as the reference, which judges the
            # first status loaded after it): it gets at least one polling period.
            budget = max(_remaining(monitor), polling_period)
    finally:
        remove = getattr(monitor, "remove_cancel_callback", None)  # the reference's has none
        if remove is not None:
            remove(on_cancel)


def completed_task_uids(task_uid: str | Iterable[str]) -> str | list[str]:
    """Validate ``wait_for_completed_task``'s ``task_uid``: a non-empty string or list."""
    task_uid = RequestBuilder._prepare_task_status(task_uid=task_uid)["task_uid"]
    if not task_uid:
        kind = "string" if isinstance(task_uid, str) else "list"
        raise RequestParameterError(
            f"Invalid value of parameter 'task_uid': task UID must be a non-empty {kind}")
    return task_uid


def pick_completed_tasks(reply: Mapping[str, Any], *,
                         treat_not_found_as_completed: bool) -> dict[str, str]:
    """{task_uid: status} of the tasks a ``task_status`` reply shows as done ("not_found" is
    done too if so asked: a finished task's result expires)."""
    if not isinstance(reply, Mapping):
        return {}
    done = {"completed", "not_found"} if treat_not_found_as_completed else {"completed"}
    uids, status = reply.get("task_uid"), reply.get("status")
    if isinstance(uids, str):
        return {uids: status} if status in done else {}
    if isinstance(uids, list) and isinstance(status, Mapping):
        return {uid: status[uid] for uid in uids if status.get(uid) in done}
    return {}


def _state_in(*states: str) -> Condition:
    return lambda status: status.get("manager_state") in states


class WaitMethods:
    """The ``wait_for_*`` methods of :class:`~qs_gui.client.api.REManagerAPI`."""

    _status_polling_period: float

    async def _status(self, *, reload: bool = False) -> dict[str, Any]:
        raise NotImplementedError

    async def task_status(self, task_uid: Any) -> dict[str, Any]:
        raise NotImplementedError

    async def _wait(self, condition: Condition, timeout: float, monitor: Any,
                    reset_time_start: bool = True) -> None:
        monitor = start_monitor(monitor, timeout, reset_time_start)
        await wait_for_status(lambda: self._status(reload=True), condition, monitor,
                              self._status_polling_period)

    async def wait_for_condition(self, condition: Condition, *,
                                 timeout: float = DEFAULT_WAIT_TIMEOUT,
                                 monitor: Any = None) -> None:
        """Until ``condition(status)`` is true; WaitTimeoutError / WaitCancelError otherwise."""
        await self._wait(condition, timeout, monitor)

    async def wait_for_idle(self, *, timeout: float = DEFAULT_WAIT_TIMEOUT,
                            monitor: Any = None) -> None:
        """Until ``manager_state`` is "idle" (whether or not the environment exists)."""
        await self._wait(_state_in("idle"), timeout, monitor)

    async def wait_for_idle_or_paused(self, *, timeout: float = DEFAULT_WAIT_TIMEOUT,
                                      monitor: Any = None) -> None:
        await self._wait(_state_in("idle", "paused"), timeout, monitor)

    async def wait_for_idle_or_running(self, *, timeout: float = DEFAULT_WAIT_TIMEOUT,
                                       monitor: Any = None) -> None:
        await self._wait(_state_in("idle", "executing_queue"), timeout, monitor)

    async def wait_for_completed_task(self, task_uid: str | Iterable[str], *,
                                      timeout: float = DEFAULT_WAIT_TIMEOUT, monitor: Any = None,
                                      treat_not_found_as_completed: bool = True,
                                      ) -> dict[str, str]:
        """Until one of the tasks is done; returns {task_uid: status} of the done ones.

        Waits on ``task_results_uid`` in the status, asking ``task_status`` only when it
        changes. A lost reply to the first status or task request raises RequestTimeoutError.
        """
        task_uid = completed_task_uids(task_uid)
        monitor = start_monitor(monitor, timeout)
        results_uid = (await self._status()).get("task_results_uid")

        async def completed() -> dict[str, str]:
            reply = await self.task_status(task_uid)
            return pick_completed_tasks(
                reply, treat_not_found_as_completed=treat_not_found_as_completed)

        done = await completed()
        while not done:
            results_uid = await self._results_uid_change(results_uid, monitor)
            done = await completed()
        return done

    async def _results_uid_change(self, seen: Any, monitor: Any) -> Any:
        """Wait until ``task_results_uid`` differs from ``seen``; return the new one."""
        new = seen

        def changed(status: dict) -> bool:
            nonlocal new
            new = status.get("task_results_uid")
            return new != seen

        await self._wait(changed, monitor.timeout, monitor, reset_time_start=False)
        return new
