"""The live view of one RE Manager: connection state, status, and the data behind the views.

Push first: status arrives on the info socket (QS_Info, about once a second and on every change).
A watchdog polls ``status`` only when pushes stop, which is also the plain polling used when the
server does not publish. Queue, history, plans, devices and lock info are fetched only when their
``*_uid`` in the status changes. Everything runs as tasks on the asyncio (qasync) loop; nothing
here blocks or knows about Qt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..client import REManagerAPI
from ..client.exceptions import ReadOnlyError, RequestFailedError, RequestTimeoutError
from .events import Event
from .gates import Connection
from .tracking import ExecutionTracker

logger = logging.getLogger(__name__)

#: category -> status key holding its uid
UID_KEYS = {
    "queue": "plan_queue_uid",
    "history": "plan_history_uid",
    "plans": "plans_allowed_uid",
    "devices": "devices_allowed_uid",
    "lock": "lock_info_uid",
}


#: requests whose reply may legitimately take the server seconds
BULK_METHODS = frozenset({"queue_get", "history_get", "queue_item_add_batch"})


@dataclass(frozen=True)
class Timing:
    """Watchdog and reconnect timing (seconds)."""

    # Pushes come about once a second; a crash is reported within watchdog + poll timeout
    # (< 2 s) of the last push, and a returning server is seen within backoff + poll timeout.
    watchdog_after: float = 1.2  # poll when no status arrived for this long
    stale_after: float = 3.0  # connected but the last status is this old -> NO_STATUS
    poll_timeout: float = 0.6
    backoff: tuple[float, ...] = (0.2, 0.4, 0.8)


@dataclass(frozen=True)
class Outcome:
    """Result of one operator command."""

    ok: bool
    result: Any = None
    error: str = ""
    timed_out: bool = False


def server_message(ex: RequestFailedError) -> str:
    response = ex.response
    msg = response.get("msg", "") if isinstance(response, Mapping) else str(response)
    return msg or "(the server gave no reason)"


class Session:
    """Owns the client's background work and the latest server state."""

    def __init__(self, api: REManagerAPI, *, use_monitor: bool = True,
                 timing: Timing | None = None):
        self.api = api
        self.use_monitor = use_monitor
        self.timing = timing or Timing()
        self.connection = Connection.CONNECTING
        self.connection_detail = f"Connecting to {api.zmq_control_addr}"
        self.status: dict[str, Any] | None = None
        self.queue: list[dict] = []
        self.running_item: dict = {}
        self.history: list[dict] = []
        self.plans_allowed: dict[str, Any] = {}
        self.devices_allowed: dict[str, Any] = {}
        self.lock_info: dict[str, Any] | None = None
        self.in_flight: set[str] = set()
        self.tracker = ExecutionTracker()
        self.pushes_received = 0
        self.polls_sent = 0

        self.connection_changed = Event("connection_changed")
        self.status_changed = Event("status_changed")
        self.queue_changed = Event("queue_changed")
        self.history_changed = Event("history_changed")
        self.plans_changed = Event("plans_changed")
        self.devices_changed = Event("devices_changed")
        self.lock_info_changed = Event("lock_info_changed")
        self.console_text = Event("console_text")  # list[str] of fragments, batched
        self.message = Event("message")  # (level, text): "info" | "warning" | "error"
        self.busy_changed = Event("busy_changed")

        self._fetched: dict[str, Any] = dict.fromkeys(UID_KEYS)
        self._fetch_tasks: dict[str, asyncio.Task] = {}
        self._fetch_failures: dict[str, int] = dict.fromkeys(UID_KEYS, 0)
        self._last_status_at: float | None = None
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self._monitor = None
        self._running = False

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the watchdog and (if enabled) the info-socket subscriber."""
        if self._running:
            return
        self._running = True
        self._wake = asyncio.Event()
        self._tasks.append(asyncio.ensure_future(self._supervise()))
        if self.use_monitor:
            self._monitor = self.api.info_monitor()
            self._monitor.start()
            self._tasks.append(asyncio.ensure_future(self._listen()))

    async def stop(self) -> None:
        """Cancel every task and close the client."""
        self._running = False
        tasks = self._tasks + list(self._fetch_tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._fetch_tasks.clear()
        await self.api.close()

    def poll_soon(self) -> None:
        """Ask the watchdog for a status poll now (after a command, for servers without push)."""
        self._last_status_at = None
        if self._wake is not None:
            self._wake.set()

    # -- connection state -------------------------------------------------------------------
    def _set_connection(self, state: Connection, detail: str) -> None:
        if state is self.connection and detail == self.connection_detail:
            return
        previous = self.connection
        self.connection, self.connection_detail = state, detail
        if state is Connection.OFFLINE and previous is not Connection.OFFLINE:
            self.message.emit("error", f"Lost contact with the RE Manager: {detail}")
        elif state is Connection.CONNECTED and previous is Connection.OFFLINE:
            self.message.emit("info", "Reconnected to the RE Manager.")
        self.connection_changed.emit(state, detail)

    async def _supervise(self) -> None:
        failures = 0
        while self._running:
            now = time.monotonic()
            age = None if self._last_status_at is None else now - self._last_status_at
            if age is None or age >= self.timing.watchdog_after:
                verdict = self._judge_in_flight()
                if verdict == "wait":
                    await self._sleep(0.05)
                    continue
                if verdict != "dead" and await self._poll_status():
                    failures = 0
                else:
                    failures += 1
                    delay = self.timing.backoff[min(failures, len(self.timing.backoff)) - 1]
                    self._set_connection(
                        Connection.OFFLINE,
                        f"no reply from {self.api.zmq_control_addr}; retrying every {delay:g} s")
                    await self._sleep(delay)
                    continue
            elif age >= self.timing.stale_after and self.connection is Connection.CONNECTED:
                self._set_connection(Connection.NO_STATUS, f"no status for {age:.0f} s")
            last = self._last_status_at or time.monotonic()
            await self._sleep(max(0.02, last + self.timing.watchdog_after - time.monotonic()))

    def _judge_in_flight(self) -> str:
        """Liveness from a request already awaiting its reply (a poll would queue behind it).

        "poll": nothing in flight; "wait": give it time; "dead": a small request went
        unanswered for longer than a poll may take. A bulk fetch (queue/history) may take the
        server seconds, so while one is pending the status is only reported as stale.
        """
        in_flight = getattr(self.api.transport, "in_flight", None)
        if in_flight is None:
            return "poll"
        method, started = in_flight
        waited = time.monotonic() - started
        if method in BULK_METHODS:
            age = time.monotonic() - (self._last_status_at or started)
            if age >= self.timing.stale_after and self.connection is Connection.CONNECTED:
                self._set_connection(Connection.NO_STATUS,
                                     f"waiting {waited:.0f} s for the reply to {method}")
            return "wait"
        return "dead" if waited >= self.timing.poll_timeout else "wait"

    async def _sleep(self, delay: float) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except asyncio.TimeoutError:
            pass

    async def _poll_status(self) -> bool:
        self.polls_sent += 1
        try:
            status = await self.api.send_request(method="status",
                                                 timeout=self.timing.poll_timeout)
        except (RequestTimeoutError, RequestFailedError) as ex:
            logger.debug("status poll failed: %s", ex)
            return False
        if not isinstance(status, Mapping) or "manager_state" not in status:
            return False
        self._on_status(dict(status))
        return True

    async def _listen(self) -> None:
        monitor = self._monitor
        while self._running:
            message = await monitor.next(timeout=None)
            if message is None:
                continue
            batch = [message, *monitor.drain(5000)]
            console = [m.text for m in batch if m.text is not None]
            statuses = [m.status for m in batch if m.status is not None]
            if console:
                self.console_text.emit(console)
            if statuses:
                self.pushes_received += len(statuses)
                self._on_status(statuses[-1])

    # -- status and uid-driven fetching -----------------------------------------------------
    def _on_status(self, status: dict[str, Any]) -> None:
        reconnected = self.connection in (Connection.OFFLINE, Connection.CONNECTING)
        self._last_status_at = time.monotonic()
        self.api.update_status(status)
        if reconnected:
            self._fetched = dict.fromkeys(UID_KEYS)  # the server may have restarted
        self._set_connection(Connection.CONNECTED, f"Connected to {self.api.zmq_control_addr}")
        changed = self.status is None or any(
            status.get(k) != self.status.get(k) for k in status if k not in ("time", "status_uid"))
        self.status = status
        if changed:
            self.tracker.on_status(status)
            self.status_changed.emit(status)
        for category, key in UID_KEYS.items():
            if status.get(key) != self._fetched[category]:
                self._schedule_fetch(category)

    def _schedule_fetch(self, category: str) -> None:
        task = self._fetch_tasks.get(category)
        if task is not None and not task.done():
            return  # the running fetch re-checks the uid when it finishes
        self._fetch_tasks[category] = asyncio.ensure_future(self._fetch_loop(category))

    async def _fetch_loop(self, category: str) -> None:
        key = UID_KEYS[category]
        while self._running and self.status is not None:
            wanted = self.status.get(key)
            if wanted == self._fetched[category]:
                return
            try:
                uid = await self._fetch(category)
            except (RequestTimeoutError, RequestFailedError) as ex:
                self._fetch_failures[category] += 1
                if self._fetch_failures[category] == 1:
                    self.message.emit("warning", f"Could not load the {category}: {ex}")
                return  # the next status retries
            self._fetch_failures[category] = 0
            self._fetched[category] = uid if uid is not None else wanted

    async def _fetch(self, category: str) -> Any:
        api = self.api
        if category == "queue":
            reply = await api.queue_get()
            self.queue, self.running_item = reply.get("items", []), reply.get("running_item", {})
            self.queue_changed.emit(self.queue, self.running_item)
            return reply.get("plan_queue_uid")
        if category == "history":
            reply = await api.history_get()
            self.history = reply.get("items", [])
            self.tracker.on_history(self.history)
            self.history_changed.emit(self.history)
            return reply.get("plan_history_uid")
        if category == "plans":
            reply = await api.plans_allowed()
            self.plans_allowed = reply.get("plans_allowed", {})
            self.plans_changed.emit(self.plans_allowed)
            return reply.get("plans_allowed_uid")
        if category == "devices":
            reply = await api.devices_allowed()
            self.devices_allowed = reply.get("devices_allowed", {})
            self.devices_changed.emit(self.devices_allowed)
            return reply.get("devices_allowed_uid")
        reply = await api.lock_info()
        self.lock_info = reply.get("lock_info")
        self.lock_info_changed.emit(self.lock_info)
        return reply.get("lock_info_uid")

    # -- commands ---------------------------------------------------------------------------
    async def run(self, action: str, call: Callable[[], Awaitable[Any]], what: str,
                  *, done: str | None = None) -> Outcome:
        """Send one operator command; every failure becomes a plain-words message.

        ``action`` is marked in flight for the gates while the request is out, so a second
        click cannot send it again.
        """
        if action in self.in_flight:
            return Outcome(False, error=f"{what} is already in progress")
        self.in_flight.add(action)
        self.busy_changed.emit()
        try:
            result = await call()
        except RequestFailedError as ex:
            error = f"{what} refused by the server: {server_message(ex)}"
            self.message.emit("error", error)
            return Outcome(False, error=error)
        except RequestTimeoutError as ex:
            error = f"{what}: no reply from the RE Manager ({ex})"
            self.message.emit("error", error)
            return Outcome(False, error=error, timed_out=True)
        except (ReadOnlyError, TypeError, ValueError, RuntimeError) as ex:
            error = f"{what} not sent: {ex}"
            self.message.emit("error", error)
            return Outcome(False, error=error)
        finally:
            self.in_flight.discard(action)
            self.busy_changed.emit()
            if not self.use_monitor:
                self.poll_soon()
        if done:
            self.message.emit("info", done)
        return Outcome(True, result=result)

    async def execute_now(self, item: Mapping[str, Any], action: str = "execute_now") -> Outcome:
        """Execute one item now; follow it to its outcome; reconcile after a lost reply."""
        name = item.get("name", "item")
        outcome = await self.run(action, lambda: self.api.item_execute(dict(item)),
                                 f"Execute now ({name})")
        if outcome.ok:
            started = outcome.result.get("item", {}) if isinstance(outcome.result, Mapping) else {}
            self.tracker.started(started)
            self.message.emit("info", f"Started {name} (uid {started.get('item_uid', '?')[:8]}).")
        elif outcome.timed_out:
            await self._reconcile_execute(item)
        return outcome

    async def _reconcile_execute(self, item: Mapping[str, Any]) -> None:
        """After a lost reply, find out whether the server started the item; never re-send."""
        try:
            reply = await self.api.queue_get(reload=True)
        except (RequestTimeoutError, RequestFailedError):
            self.message.emit("warning", "Execute now: the server did not answer, so it is not "
                              "known whether the item started. It was NOT sent again; check the "
                              "running item and the history when the connection returns.")
            return
        running = reply.get("running_item") or {}
        props = running.get("properties") or {}
        if (props.get("immediate_execution") and running.get("name") == item.get("name")
                and running.get("args", []) == item.get("args", [])):
            self.tracker.started(running)
            self.message.emit("warning", f"Execute now: the reply was lost, but the server did "
                              f"start {running.get('name')}; following it.")
        else:
            self.message.emit("warning", "Execute now: the reply was lost and the item is not "
                              "running; it was NOT sent again.")
