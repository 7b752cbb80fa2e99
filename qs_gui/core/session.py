"""The live view of one RE Manager: connection state, status, and the data behind the views.

Push first: status arrives on the info socket (QS_Info, about once a second and on every change).
A watchdog polls ``status`` only when pushes stop, which is also the plain polling used when the
server does not publish. Queue, history, plans, devices and lock info are fetched only when their
``*_uid`` in the status changes. Everything runs as tasks on the asyncio (qasync) loop; nothing
here blocks or knows about Qt.

Robustness (tests/reliability, docs/reliability.md):

* A request whose reply is lost is never sent again. For queue-changing requests the session
  fetches the server's state and tells the operator whether the request took effect
  (``core/reconcile.py``); while the server is unreachable that check waits for it to return.
* Whatever the server (or an impostor on its port) sends is checked before it reaches a view: a
  status field of the wrong type is blanked, a status without a string ``manager_state`` or a
  ``queue_get``/``history_get``/... reply of the wrong shape is refused with a plain message.
* Polls adapt to a slow server (its measured reply time, up to the request timeout), so a server
  that answers in 1.5 s is shown as connected, and a dead one is still reported within 2 s.
* Info-socket floods are handled in time-boxed batches with a yield in between, so the GUI keeps
  painting while 10^5 console messages arrive.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..client import REManagerAPI
from ..client import transport as _transport_module
from ..client.exceptions import ReadOnlyError, RequestFailedError, RequestTimeoutError
from . import reconcile as reconcile_module
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


#: requests whose reply may legitimately take the server seconds (the transport's bulk lane,
#: plus a batch add, which the server validates item by item)
BULK_METHODS = frozenset({"queue_get", "history_get", "queue_item_add_batch"}) | frozenset(
    getattr(_transport_module, "BULK_METHODS", ()))

#: status keys and the types a view may rely on (re-manager-protocol.md §3); a value of another
#: type is replaced by None ("unknown") before anyone sees the status
_STR, _INT, _BOOL, _NONE = (str,), (int,), (bool,), (type(None),)
STATUS_TYPES: dict[str, tuple[type, ...]] = {
    "msg": _STR, "time": (str, int, float), "items_in_queue": _INT, "items_in_history": _INT,
    "running_item_uid": _STR + _NONE, "manager_state": _STR, "queue_stop_pending": _BOOL,
    "queue_autostart_enabled": _BOOL, "worker_environment_exists": _BOOL,
    "worker_environment_state": _STR, "worker_background_tasks": _INT,
    "re_state": _STR + _NONE, "ip_kernel_state": _STR + _NONE,
    "ip_kernel_captured": _BOOL + _NONE, "pause_pending": _BOOL, "status_uid": _STR,
    "run_list_uid": _STR, "plan_queue_uid": _STR, "plan_history_uid": _STR,
    "devices_existing_uid": _STR, "plans_existing_uid": _STR, "devices_allowed_uid": _STR,
    "plans_allowed_uid": _STR, "task_results_uid": _STR, "lock_info_uid": _STR,
    "plan_queue_mode": (dict,), "lock": (dict,),
}
_FLAG_DICTS = {"plan_queue_mode": ("loop", "ignore_failures"), "lock": ("environment", "queue")}
MAX_COUNT = 10**9  # item counts beyond this are nonsense (and would overflow timer arithmetic)
LISTEN_BUDGET = 0.008  # seconds of info-socket reading per batch before yielding to the GUI
LISTEN_BATCH = 5000
FETCH_BACKOFF_MAX = 30.0  # seconds between retries of a fetch that keeps failing
RECONCILE_ATTEMPTS = 3  # failed checks while connected before the outcome is declared unknown


class _Wakeup:
    """``await sleep(delay)`` that ``set()`` ends early. No helper task per sleep (unlike
    ``wait_for(event.wait(), delay)``), so nothing is left half-started at shutdown."""

    def __init__(self) -> None:
        self._waiter: asyncio.Future | None = None

    def set(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def sleep(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = loop.call_later(delay, self.set)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


class MalformedReply(ValueError):
    """A reply (or pushed status) that does not have the shape the protocol promises."""


def sanitize_status(status: Any) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``status`` safe for every consumer, and what had to be blanked.

    Raises MalformedReply when it is not a status at all (not a mapping, or no string
    ``manager_state``): nothing can be shown from it.
    """
    if not isinstance(status, Mapping):
        raise MalformedReply(f"the status is a {type(status).__name__}, not an object")
    state = status.get("manager_state")
    if not isinstance(state, str):
        raise MalformedReply(f"the status has manager_state = {_brief(state)}")
    clean: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in status.items():
        if not isinstance(key, str):
            problems.append(f"key {_brief(key)}")
            continue
        types = STATUS_TYPES.get(key)
        if types is not None:
            ok = isinstance(value, types) and not (
                isinstance(value, bool) and bool not in types)
            if ok and isinstance(value, int) and not isinstance(value, bool) and key != "time":
                ok = 0 <= value <= MAX_COUNT
            if ok and isinstance(value, float) and not math.isfinite(value):
                ok = False
            if not ok:
                problems.append(f"{key} = {_brief(value)}")
                value = None
            elif key in _FLAG_DICTS:
                flags = {k: v for k, v in value.items() if k in _FLAG_DICTS[key]
                         and isinstance(v, bool)}
                if len(flags) != len(value):
                    problems.append(f"{key} = {_brief(value)}")
                value = flags
        clean[key] = value
    return clean, problems


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _checked_items(reply: Mapping[str, Any], key: str) -> list[dict]:
    items = reply.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise MalformedReply(f"'{key}' is not a list of items")
    return items


@dataclass(frozen=True)
class Timing:
    """Watchdog and reconnect timing (seconds)."""

    # Pushes come about once a second; a crash is reported within watchdog + poll timeout
    # (< 2 s) of the last push, and a returning server is seen within backoff + poll timeout.
    watchdog_after: float = 1.2  # poll when no status arrived for this long
    stale_after: float = 3.0  # connected but the last status is this old -> NO_STATUS
    poll_timeout: float = 0.6  # the shortest; adapted up to the request timeout (slow servers)
    backoff: tuple[float, ...] = (0.2, 0.4, 0.8)
    reconcile_give_up: float = 600.0  # stop waiting for the server to check a lost reply


@dataclass(frozen=True)
class Outcome:
    """Result of one operator command."""

    ok: bool
    result: Any = None
    error: str = ""
    timed_out: bool = False
    #: after a lost reply: "applied", "not_applied" or "unknown" (see core/reconcile.py);
    #: ``ok`` is True when the server's state shows the request took effect
    reconciled: str | None = None


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
        self.malformed_replies = 0  # replies/pushes refused or repaired (see sanitize_status)

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

        self._fetched: dict[str, Any] = dict.fromkeys(UID_KEYS)  # status uid last fetched for
        self._reply_uid: dict[str, Any] = dict.fromkeys(UID_KEYS)  # uid the reply carried
        self._fetch_tasks: dict[str, asyncio.Task] = {}
        self._fetch_failures: dict[str, int] = dict.fromkeys(UID_KEYS, 0)
        self._fetch_failed_at: dict[str, float] = {}
        self._last_status_at: float | None = None
        self._wake: _Wakeup | None = None
        self._tasks: list[asyncio.Task] = []
        self._monitor = None
        self._running = False
        self._latencies: deque[float] = deque(maxlen=5)  # recent status round trips (s)
        self._reported: set[str] = set()  # malformed-data warnings already shown
        self._oversized_seen = 0
        self._reconciling: set[asyncio.Task] = set()
        self._reconnected: asyncio.Event | None = None
        self._control_timeouts = 0  # consecutive control requests without a reply
        self._control_verified = False  # a control reply arrived since the last failure
        self._last_push_at: float | None = None

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the watchdog and (if enabled) the info-socket subscriber."""
        if self._running:
            return
        self._running = True
        self._wake = _Wakeup()
        self._tasks.append(asyncio.ensure_future(self._supervise()))
        if self.use_monitor:
            self._monitor = self.api.info_monitor()
            self._monitor.start()
            self._tasks.append(asyncio.ensure_future(self._listen()))

    async def stop(self) -> None:
        """Cancel every task and close the client."""
        self._running = False
        tasks = self._tasks + list(self._fetch_tasks.values()) + list(self._reconciling)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._fetch_tasks.clear()
        self._reconciling.clear()
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
        if state is Connection.CONNECTED and self._reconnected is not None:
            self._reconnected.set()
        self.connection_changed.emit(state, detail)

    @property
    def request_timeout(self) -> float:
        """The client's request timeout (seconds)."""
        value = getattr(self.api.transport, "timeout_recv", None)
        return float(value) if isinstance(value, (int, float)) and value > 0 else 2.0

    @property
    def poll_timeout(self) -> float:
        """How long a status poll may take before the server counts as gone.

        Connected: the configured minimum, raised to 4x the slowest of the last few replies (at
        most the request timeout), so a slow but working server is not reported offline.
        Otherwise the full request timeout: a slow server is then recognised on the first
        poll, and a returning one is seen at once (0MQ delivers the queued poll on connect).
        """
        ceiling = max(self.timing.poll_timeout, self.request_timeout)
        if self.connection is not Connection.CONNECTED:
            return ceiling
        slowest = max(self._latencies, default=0.0)
        return min(ceiling, max(self.timing.poll_timeout, 4.0 * slowest))

    # -- control-channel health -------------------------------------------------------------
    # "Connected" means the control socket answers, not only that status pushes arrive: the
    # info socket is never encrypted, so with a wrong CURVE key (or a wedged control socket)
    # pushes keep coming while every request times out. After a control failure, pushes keep
    # the status display live, but only an answered request makes the indicator "Connected".
    def _control_ok(self) -> None:
        """A reply arrived on the control socket."""
        self._control_timeouts = 0
        self._control_verified = True

    def _control_lost(self) -> None:
        """A status poll failed, or a request in flight was judged dead."""
        self._control_verified = False

    def _control_timeout(self) -> None:
        """A command, fetch or check got no reply; two in a row while the indicator says
        connected (pushes still arriving) take it offline until a poll is answered."""
        self._control_timeouts += 1
        if self._control_timeouts >= 2 and self._control_verified:
            self._control_verified = False
            if self.connection in (Connection.CONNECTED, Connection.NO_STATUS):
                self._set_connection(Connection.OFFLINE, self._offline_detail(
                    f"no reply from {self.api.zmq_control_addr} within "
                    f"{self.request_timeout:g} s"))
            current = asyncio.current_task()
            for task in self._fetch_tasks.values():  # do not queue more reads on a dead socket
                if task is not current and not task.done():
                    task.cancel()
            if self._wake is not None:
                self._wake.set()

    def _pushes_alive(self) -> bool:
        at = self._last_push_at
        return at is not None and time.monotonic() - at < self.timing.stale_after

    def _offline_detail(self, reason: str, retry: float | None = None) -> str:
        if self._pushes_alive():
            reason = (f"status updates arrive, but the RE Manager does not answer requests "
                      f"({reason}); check the control address and the CURVE key")
        return reason + (f"; retrying every {retry:g} s" if retry else "")

    async def _supervise(self) -> None:
        failures = 0
        while self._running:
            now = time.monotonic()
            age = None if self._last_status_at is None else now - self._last_status_at
            if (not self._control_verified or age is None
                    or age >= self.timing.watchdog_after):
                verdict = self._judge_in_flight()
                if verdict == "wait":
                    await self._sleep(0.05)
                    continue
                if verdict == "dead":
                    self._control_lost()
                result = "dead" if verdict == "dead" else await self._poll_status()
                if result == "ok":
                    failures = 0
                else:
                    failures += 1
                    delay = self.timing.backoff[min(failures, len(self.timing.backoff)) - 1]
                    if result == "malformed":
                        # The control socket answers, but not with a usable status.
                        self._set_connection(Connection.NO_STATUS,
                                             f"{self._last_failure}; retrying every {delay:g} s")
                    else:
                        reason = self._last_failure if result == "failed" else (
                            f"no reply from {self.api.zmq_control_addr} within "
                            f"{self.poll_timeout:g} s")
                        self._set_connection(Connection.OFFLINE,
                                             self._offline_detail(reason, delay))
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
        return "dead" if waited >= self.poll_timeout else "wait"

    async def _sleep(self, delay: float) -> None:
        await self._wake.sleep(delay)

    async def _poll_status(self) -> str:
        """One status poll: "ok", "failed" (no/undecodable reply) or "malformed" (a reply
        that is not a usable status); the reason is kept in ``_last_failure``."""
        self.polls_sent += 1
        timeout = self.poll_timeout
        started = time.monotonic()
        try:
            status = await self.api.send_request(method="status", timeout=timeout)
        except RequestTimeoutError as ex:
            self._last_failure = _reason(ex, self.api.zmq_control_addr, timeout)
            logger.debug("status poll failed: %s", ex)
            self._control_lost()
            return "failed"
        except RequestFailedError as ex:
            self._control_ok()
            self._last_failure = f"the status request was refused: {server_message(ex)}"
            return "malformed"
        except (ReadOnlyError, RuntimeError):  # closed while polling
            self._last_failure = "the client is closed"
            self._control_lost()
            return "failed"
        self._control_ok()
        self._latencies.append(time.monotonic() - started)
        try:
            self._on_status(status)
        except MalformedReply as ex:
            self._last_failure = f"malformed status from {self.api.zmq_control_addr}: {ex}"
            return "malformed"
        return "ok"

    async def _listen(self) -> None:
        monitor = self._monitor
        while self._running:
            message = await monitor.next(timeout=None)
            if message is None:
                continue
            batch = [message, *monitor.drain(LISTEN_BATCH, budget=LISTEN_BUDGET)]
            self._deliver(batch)
            # During a flood every read completes at once and this task would never give the
            # event loop back: yield, so Qt paints and runs its timers between batches.
            await asyncio.sleep(0)

    def _deliver(self, batch: list) -> None:
        console = [m.text for m in batch if m.text is not None]
        oversized = getattr(self._monitor, "oversized", 0)
        if oversized != self._oversized_seen:
            skipped, self._oversized_seen = oversized - self._oversized_seen, oversized
            limit = getattr(self._monitor, "max_bytes", 0) / 2**20
            console.append(f"\n[qs-gui: {skipped} oversized info message(s) over {limit:g} MiB "
                           f"skipped]\n")
        if console:
            # One string: the console buffer gives the same result for the joined text, and a
            # burst costs one write instead of thousands.
            self.console_text.emit(["".join(console)])
        statuses = [m.status for m in batch if m.status is not None]
        if statuses:
            self.pushes_received += len(statuses)
            for status in reversed(statuses):  # the newest usable one
                try:
                    self._on_status(status, pushed=True)
                    break
                except MalformedReply as ex:
                    self._report_malformed("push", f"Ignored a malformed status push: {ex}")

    def _report_malformed(self, kind: str, text: str) -> None:
        self.malformed_replies += 1
        if kind not in self._reported:  # once per kind: a broken peer must not flood the log
            self._reported.add(kind)
            self.message.emit("warning", text)
        logger.debug(text)

    # -- status and uid-driven fetching -----------------------------------------------------
    def _on_status(self, status: Any, *, pushed: bool = False) -> None:
        status, problems = sanitize_status(status)
        if problems:
            self._report_malformed("status-fields", "The RE Manager's status had values of the "
                                   f"wrong type, shown as unknown: {', '.join(problems[:5])}")
        reconnected = self.connection in (Connection.OFFLINE, Connection.CONNECTING)
        self._last_status_at = time.monotonic()
        if pushed:
            self._last_push_at = self._last_status_at
        self.api.update_status(status)
        if not self._control_verified:
            # Show what the server publishes, but "Connected" waits for an answered request
            # (the watchdog is polling): a push proves the publisher alive, not the control
            # socket.
            if status != self.status:
                self.status = status
                self.tracker.on_status(status)
                self.status_changed.emit(status)
            return
        if reconnected:
            self._fetched = dict.fromkeys(UID_KEYS)  # the server may have restarted
            self._reply_uid = dict.fromkeys(UID_KEYS)
            self._fetch_failures = dict.fromkeys(UID_KEYS, 0)
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
        if not self._control_verified:
            return  # fetched once a poll is answered (see _on_status)
        failures = self._fetch_failures[category]
        if failures and time.monotonic() - self._fetch_failed_at.get(category, 0.0) < min(
                FETCH_BACKOFF_MAX, 2.0 ** failures):
            return  # failing: retry after a back-off, not on every status push
        self._fetch_tasks[category] = asyncio.ensure_future(self._fetch_loop(category))

    async def _fetch_loop(self, category: str) -> None:
        key = UID_KEYS[category]
        while self._running and self.status is not None:
            wanted = self.status.get(key)
            if wanted == self._fetched[category] or (
                    wanted is not None and wanted == self._reply_uid[category]):
                return
            try:
                uid = await self._fetch(category)
            except (RequestTimeoutError, RequestFailedError) as ex:
                if isinstance(ex, RequestTimeoutError):
                    self._control_timeout()
                else:
                    self._control_ok()
                self._fetch_failures[category] += 1
                self._fetch_failed_at[category] = time.monotonic()
                if self._fetch_failures[category] == 1:
                    self.message.emit("warning", f"Could not load the {category}: {ex}")
                return  # a later status retries
            except asyncio.CancelledError:
                raise
            except Exception as ex:  # a reply of the wrong shape: keep what is shown
                self._fetch_failures[category] += 1
                self._fetch_failed_at[category] = time.monotonic()
                self._report_malformed(f"fetch-{category}", f"Could not load the {category}: "
                                       f"the RE Manager's reply is malformed ({ex}).")
                return
            self._control_ok()
            self._fetch_failures[category] = 0
            # Done for the status that asked for it. The reply may already be newer (its uid
            # differs): a status carrying that uid then needs no fetch, but a status that still
            # shows the old one must not make this loop fetch again and again.
            self._fetched[category] = wanted
            self._reply_uid[category] = uid
            await asyncio.sleep(0)  # never spin without yielding, whatever the transport

    async def _fetch(self, category: str) -> Any:
        api = self.api
        if category == "queue":
            reply = _mapping(await api.queue_get(), "queue_get")
            items = _checked_items(reply, "items")
            running = reply.get("running_item") or {}
            if not isinstance(running, Mapping):
                raise MalformedReply("'running_item' is not an item")
            self.queue, self.running_item = items, running
            self.queue_changed.emit(self.queue, self.running_item)
            return reply.get("plan_queue_uid")
        if category == "history":
            reply = _mapping(await api.history_get(), "history_get")
            self.history = _checked_items(reply, "items")
            self.tracker.on_history(self.history)
            self.history_changed.emit(self.history)
            return reply.get("plan_history_uid")
        if category == "plans":
            reply = _mapping(await api.plans_allowed(), "plans_allowed")
            self.plans_allowed = _checked_map(reply, "plans_allowed")
            self.plans_changed.emit(self.plans_allowed)
            return reply.get("plans_allowed_uid")
        if category == "devices":
            reply = _mapping(await api.devices_allowed(), "devices_allowed")
            self.devices_allowed = _checked_map(reply, "devices_allowed")
            self.devices_changed.emit(self.devices_allowed)
            return reply.get("devices_allowed_uid")
        reply = _mapping(await api.lock_info(), "lock_info")
        info = reply.get("lock_info")
        if info is not None and not isinstance(info, Mapping):
            raise MalformedReply("'lock_info' is not an object")
        self.lock_info = info
        self.lock_info_changed.emit(self.lock_info)
        return reply.get("lock_info_uid")

    # -- commands ---------------------------------------------------------------------------
    async def run(self, action: str, call: Callable[[], Awaitable[Any]], what: str,
                  *, done: str | None = None, reconcile: bool = True) -> Outcome:
        """Send one operator command; every failure becomes a plain-words message.

        ``action`` is marked in flight for the gates while the request is out, so a second
        click cannot send it again. When the reply to a queue-changing request is lost
        (``reconcile``, on by default; see ``core/reconcile.RECONCILABLE_METHODS``), the request
        is not sent again: the server's state is fetched and the operator told whether it took
        effect. If the server cannot be asked, ``action`` stays in flight until it can (or
        ``Timing.reconcile_give_up`` passes), so the same request cannot be sent twice.
        """
        if action in self.in_flight:
            return Outcome(False, error=f"{what} is already in progress")
        self.in_flight.add(action)
        self.busy_changed.emit()
        before = reconcile_module.Snapshot(self.queue, self.running_item, self.history)
        keep_busy = False
        try:
            result = await call()
            self._control_ok()
        except RequestFailedError as ex:
            self._control_ok()
            error = f"{what} refused by the server: {server_message(ex)}"
            self.message.emit("error", error)
            return Outcome(False, error=error)
        except RequestTimeoutError as ex:
            self._control_timeout()
            request = ex.request if isinstance(ex.request, Mapping) else {}
            if reconcile and request.get("method") in reconcile_module.RECONCILABLE_METHODS:
                outcome = await self._reconcile_now(action, request, before, what)
                keep_busy = outcome.reconciled is None
                if outcome.reconciled is not None:
                    return outcome
                return Outcome(False, error=outcome.error, timed_out=True,
                               reconciled=reconcile_module.UNKNOWN)
            error = f"{what}: no reply from the RE Manager ({ex})"
            self.message.emit("error", error)
            return Outcome(False, error=error, timed_out=True)
        except (ReadOnlyError, TypeError, ValueError, RuntimeError) as ex:
            error = f"{what} not sent: {ex}"
            self.message.emit("error", error)
            return Outcome(False, error=error)
        finally:
            if not keep_busy:
                self.in_flight.discard(action)
            self.busy_changed.emit()
            if not self.use_monitor:
                self.poll_soon()
        if done:
            self.message.emit("info", done)
        return Outcome(True, result=result)

    async def _server_state(self, method: str) -> reconcile_module.ServerState:
        """The queue (and, when it matters, the history) as the server has it now."""
        reply = _mapping(await self.api.queue_get(reload=True), "queue_get")
        queue = _checked_items(reply, "items")
        running = reply.get("running_item") or {}
        history = None
        if method in reconcile_module.NEEDS_HISTORY:
            history = _checked_items(
                _mapping(await self.api.history_get(reload=True), "history_get"), "items")
        return reconcile_module.ServerState(
            queue, running if isinstance(running, Mapping) else {}, history)

    async def _reconcile_now(self, action: str, request: Mapping[str, Any],
                             before: reconcile_module.Snapshot, what: str) -> Outcome:
        """Decide now if the server can be asked; else hand over to a background check and
        return an Outcome with ``reconciled`` None (the caller keeps ``action`` busy)."""
        try:
            after = await self._server_state(request.get("method"))
            self._control_ok()
        except asyncio.CancelledError:
            raise
        except Exception as ex:  # unreachable or nonsense: ask again when it is back
            logger.debug("reconcile fetch failed: %s", ex)
            if isinstance(ex, RequestTimeoutError):
                self._control_timeout()
            text = (f"{what}: no reply from the RE Manager, and it cannot be asked what "
                    f"happened yet. {reconcile_module.NOT_RESENT} qs-gui will check as soon as "
                    f"the connection returns.")
            self.message.emit("warning", text)
            task = asyncio.ensure_future(self._reconcile_later(action, request, before, what))
            self._reconciling.add(task)
            task.add_done_callback(self._reconciling.discard)
            return Outcome(False, error=text, timed_out=True)
        return self._conclude(request, before, after, what)

    async def _reconcile_later(self, action: str, request: Mapping[str, Any],
                               before: reconcile_module.Snapshot, what: str) -> None:
        """Wait for the server, then check; ``action`` stays in flight meanwhile."""
        if self._reconnected is None:
            self._reconnected = asyncio.Event()
        deadline = time.monotonic() + self.timing.reconcile_give_up
        attempts = 0  # failed checks while connected: a server that answers pushes but not us
        try:
            while time.monotonic() < deadline and attempts < RECONCILE_ATTEMPTS:
                if self.connection is not Connection.CONNECTED:
                    self._reconnected.clear()
                    try:
                        await asyncio.wait_for(self._reconnected.wait(),
                                               max(0.0, deadline - time.monotonic()))
                    except asyncio.TimeoutError:
                        break
                try:
                    after = await self._server_state(request.get("method"))
                except asyncio.CancelledError:
                    raise
                except Exception as ex:
                    logger.debug("reconcile fetch failed again: %s", ex)
                    if self.connection is Connection.CONNECTED:
                        attempts += 1
                    if isinstance(ex, RequestTimeoutError):
                        self._control_timeout()
                    await asyncio.sleep(self.timing.backoff[-1])
                    continue
                self._conclude(request, before, after, what)
                return
            self.message.emit("error", f"{what}: the RE Manager could not be asked what "
                                       f"happened, so whether the request took effect is "
                                       f"unknown. {reconcile_module.NOT_RESENT} Check the queue "
                                       f"and history before sending it again.")
        finally:
            self.in_flight.discard(action)
            self.busy_changed.emit()

    def _conclude(self, request: Mapping[str, Any], before: reconcile_module.Snapshot,
                  after: reconcile_module.ServerState, what: str) -> Outcome:
        verdict = reconcile_module.decide(request, before, after, what)
        level = {"applied": "warning", "not_applied": "warning"}.get(verdict.verdict, "error")
        self.message.emit(level, verdict.message)
        if request.get("method") == "queue_item_execute" and verdict.applied and verdict.item:
            self._follow(verdict.item)
        if verdict.applied:
            reply = {"success": True, "msg": verdict.message, "reconciled": True}
            if verdict.item is not None:
                reply["item"] = dict(verdict.item)
            if verdict.items:
                reply["items"] = [dict(i) for i in verdict.items]
            return Outcome(True, result=reply, timed_out=True, reconciled=verdict.verdict)
        return Outcome(False, error=verdict.message, timed_out=True, reconciled=verdict.verdict)

    def _follow(self, item: Mapping[str, Any]) -> None:
        """Track an executed item found by reconciliation (running, or already in history)."""
        self.tracker.started(item)
        if isinstance(item.get("result"), Mapping):
            self.tracker.on_history([item])
        elif self.status is not None:
            self.tracker.on_status(self.status)

    async def execute_now(self, item: Mapping[str, Any], action: str = "execute_now") -> Outcome:
        """Execute one item now; follow it to its outcome; reconcile after a lost reply."""
        name = item.get("name", "item")
        outcome = await self.run(action, lambda: self.api.item_execute(dict(item)),
                                 f"Execute now ({name})")
        if outcome.ok and outcome.reconciled is None:
            started = outcome.result.get("item", {}) if isinstance(outcome.result, Mapping) else {}
            started = started if isinstance(started, Mapping) else {}
            self.tracker.started(started)
            uid = started.get("item_uid")
            self.message.emit("info", f"Started {name} (uid "
                                      f"{uid[:8] if isinstance(uid, str) else '?'}).")
        return outcome



def _mapping(reply: Any, method: str) -> Mapping[str, Any]:
    if not isinstance(reply, Mapping):
        raise MalformedReply(f"the reply to {method} is a {type(reply).__name__}")
    return reply


def _checked_map(reply: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = reply.get(key, {})
    if not isinstance(value, Mapping):
        raise MalformedReply(f"'{key}' is not an object")
    return dict(value)


def _reason(ex: Exception, address: str, timeout: float) -> str:
    text = str(ex).removeprefix("Request timeout: ")
    if text.startswith("no reply") or text.startswith("could not send"):
        return f"no reply from {address} within {timeout:.1f} s"
    return f"bad reply from {address}: {text}"
