"""Uid-driven fetching: queue, history, plans, devices and lock info are read only when their
``*_uid`` in the status changes, once per uid, with a back-off while a fetch keeps failing.

The history is read only when ``core/history_policy`` allows it: a costly read is coalesced or
withheld (the operator may still choose :meth:`Fetcher.load_history_now`), and a costly
background read is not sent while an operator command is in flight, so a command never queues
in the serial server behind a read that had not been sent yet.

A session may read only some categories (``fetch``): a status-only tile (``TILE_FETCH``) reads
the lock info and the history, never the queue, plans or devices. For the running plan's name it
has the ``"running"`` category instead of the queue: ``queue_get`` (the only reply in RE Manager
0.0.25 naming the running item; ``queue_item_get`` refuses it) read when ``running_item_uid``
changes, never on ``plan_queue_uid`` changes, and only while the queue is small: its cost grows
with ``items_in_queue`` (measured 20 µs/item at 5,000-10,000 items, docs/performance.md), so a
second :class:`HistoryPolicy` with :data:`RUNNING_READ_LIMIT` decides, as for the history."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..client import REManagerAPI
from ..client.exceptions import RequestFailedError, RequestTimeoutError
from .events import Event
from .history_policy import HistoryPolicy, Verdict
from .replies import MalformedReply, as_mapping, checked_items, checked_map
from .session_state import SessionEvents, SessionState
from .tracking import ExecutionTracker

if TYPE_CHECKING:  # a type only: the supervisor is handed in, never imported at run time
    from .connection import ConnectionSupervisor

#: category -> status key holding its uid
UID_KEYS = {
    "queue": "plan_queue_uid",
    "history": "plan_history_uid",
    "plans": "plans_allowed_uid",
    "devices": "devices_allowed_uid",
    "lock": "lock_info_uid",
}
#: the pseudo-category that reads ``queue_get`` only for the running item's name
RUNNING = "running"
#: category -> status key that triggers its read (the uids, and the running item for RUNNING)
TRIGGER_KEYS = {**UID_KEYS, RUNNING: "running_item_uid"}
#: every category a full session reads (RUNNING is implied by "queue")
ALL_FETCH = frozenset(UID_KEYS)
#: what a status-only ("tile") session reads
TILE_FETCH = frozenset({"history", "lock", RUNNING})
#: assumed server cost of ``queue_get`` per queued item until a read of 1,000+ items measures it
#: (measured 10-20 µs/item on the 2-core test machine; above it on purpose)
QUEUE_SECONDS_PER_ITEM = 25e-6
#: a running-name read predicted to cost the server more than this is not made (seconds):
#: about 2,000 queued items; the tile then says the name is not read
RUNNING_READ_LIMIT = 0.05
FETCH_BACKOFF_MAX = 30.0  # seconds between retries of a fetch that keeps failing
#: a background history read predicted to cost the server more than this waits for operator
#: commands in flight to be answered first (seconds)
YIELD_TO_COMMANDS = 0.05


class Fetcher:
    """Keeps ``queue``/``history``/... of the session state in step with the status uids."""

    def __init__(self, api: REManagerAPI, state: SessionState, events: SessionEvents,
                 tracker: ExecutionTracker, health: ConnectionSupervisor,
                 policy: HistoryPolicy | None = None,
                 fetch: frozenset[str] = ALL_FETCH) -> None:  # fmt: skip
        unknown = set(fetch) - set(TRIGGER_KEYS)
        if unknown:
            raise ValueError(f"unknown fetch categories: {', '.join(sorted(unknown))}")
        #: the categories this session reads (the queue read names the running item itself)
        self.fetch = frozenset(fetch) - ({RUNNING} if "queue" in fetch else set())
        #: when the running item's name may be read (RUNNING only): cost grows with the queue
        self.running_policy = HistoryPolicy(seconds_per_item=QUEUE_SECONDS_PER_ITEM,
                                            safety_limit=RUNNING_READ_LIMIT)
        #: why the running item's name is not read (None: it is, or nothing runs)
        self.running_skipped: str | None = None
        self.running_skipped_changed = Event("running_skipped_changed")  #: (reason | None)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._api = api
        self.state = state
        self.events = events
        self.tracker = tracker
        self.health = health
        self.policy = policy or health.policy
        self._history_timer: asyncio.TimerHandle | None = None
        self._history_note = ""  # why the history waits (coalesced or withheld), shown
        events.busy_changed.connect(self._commands_changed)
        self._fetched: dict[str, Any] = dict.fromkeys(TRIGGER_KEYS)  # status uid last fetched for
        self._reply_uid: dict[str, Any] = dict.fromkeys(TRIGGER_KEYS)  # uid the reply carried
        self._fetch_tasks: dict[str, asyncio.Task] = {}
        self._fetch_failures: dict[str, int] = dict.fromkeys(TRIGGER_KEYS, 0)
        self._fetch_failed_at: dict[str, float] = {}
        self._fetch_warned: set[str] = set()  # categories whose failure was reported

    def tasks(self) -> list[asyncio.Task]:
        return list(self._fetch_tasks.values())

    def stopped(self) -> None:
        self._fetch_tasks.clear()
        if self._history_timer is not None:
            self._history_timer.cancel()
            self._history_timer = None
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def on_status(self, status: Mapping[str, Any], reconnected: bool) -> None:
        """A verified status: fetch each category whose uid changed (all after a reconnect,
        since the server may have restarted)."""
        if reconnected:
            self._fetched = dict.fromkeys(TRIGGER_KEYS)
            self._reply_uid = dict.fromkeys(TRIGGER_KEYS)
            self._fetch_failures = dict.fromkeys(TRIGGER_KEYS, 0)
            self._fetch_warned.clear()
            self.policy.reset()
        items = status.get("items_in_history")
        self.policy.note_status(status.get("plan_history_uid"),
                                items if isinstance(items, int) else None)
        queued = status.get("items_in_queue")
        self.running_policy.note_status(None, queued if isinstance(queued, int) else None)
        for category, key in TRIGGER_KEYS.items():
            if category in self.fetch and status.get(key) != self._fetched[category]:
                self.schedule(category)

    def cancel_pending(self) -> None:
        """The control socket is judged dead: do not queue more reads on it."""
        current = asyncio.current_task()
        for task in self._fetch_tasks.values():
            if task is not current and not task.done():
                task.cancel()

    # -- the history policy ------------------------------------------------------------------
    def load_history_now(self) -> None:
        """The operator chose to read the history now, whatever it costs."""
        self.policy.load_now()
        self._fetched["history"] = None
        self._reply_uid["history"] = None
        self._fetch_failures["history"] = 0
        self.schedule("history")

    def _commands_changed(self) -> None:
        """A command finished: a history read held back for it may go now."""
        if not self.state.in_flight and self._history_note == "":
            status = self.state.status or {}
            if status.get(UID_KEYS["history"]) != self._fetched["history"]:
                self.schedule("history")

    def _set_withheld(self, reason: str | None, note: str) -> None:
        changed = reason != self.state.history_withheld or note != self._history_note
        self.state.history_withheld = reason
        self._history_note = note
        self.tracker.history_withheld(reason)
        if changed:
            self.events.history_policy_changed.emit()

    @property
    def history_note(self) -> str:
        """Why the shown history may be behind: coalesced or withheld ("" when current)."""
        return self._history_note

    def _history_gate(self) -> bool:
        """May the history be read now? Otherwise arranges the retry (or says why not)."""
        decision = self.policy.decide()
        if decision.verdict is Verdict.WITHHOLD:
            self._set_withheld(decision.reason, decision.reason)
            return False
        if decision.verdict is Verdict.WAIT:
            self._set_withheld(None, decision.reason)
            self._retry_history(decision.delay)
            return False
        if self.state.in_flight and decision.predicted > YIELD_TO_COMMANDS:
            self._set_withheld(None, "")
            return False  # _commands_changed schedules it once the commands are answered
        self._set_withheld(None, "")
        return True

    def _retry_history(self, delay: float) -> None:
        if self._history_timer is not None:
            self._history_timer.cancel()
        loop = asyncio.get_running_loop()
        self._history_timer = loop.call_later(delay, self._history_due)

    def _history_due(self) -> None:
        self._history_timer = None
        self.schedule("history")

    def _running_gate(self, wanted: Any) -> bool:
        """May ``queue_get`` be read for the running item's name now? Nothing runs, or the
        queue is too long to read for a name: no (the tile says so); a read too soon after the
        last costly one: later (a timer), as for the history."""
        if not wanted:
            self._fetched[RUNNING] = wanted  # nothing runs: nothing to name
            self._set_running_skipped(None)
            return False
        decision = self.running_policy.decide()
        if decision.verdict is Verdict.WITHHOLD:
            queued = self.running_policy.staleness.items_on_server or 0
            self._set_running_skipped(f"the queue has {queued:,} items; reading it for the "
                                      f"name would cost the RE Manager about "
                                      f"{decision.predicted:.2f} s")
            return False
        if decision.verdict is Verdict.WAIT:
            self._set_running_skipped(None)
            timer = self._timers.pop(RUNNING, None)
            if timer is not None:
                timer.cancel()
            self._timers[RUNNING] = asyncio.get_running_loop().call_later(
                decision.delay, lambda: (self._timers.pop(RUNNING, None), self.schedule(RUNNING)))
            return False
        self._set_running_skipped(None)
        return True

    def read_queue_front(self) -> None:
        """A status-only session reads ``queue_get`` once, when the attention asks (a failed
        item never seen running: is its copy back at the front?), under the running-name cost
        policy; a session that reads the queue does so on its uid anyway."""
        if RUNNING not in self.fetch or not self.health.control_verified:
            return
        task = self._fetch_tasks.get("front")
        if task is not None and not task.done():
            return
        if self.running_policy.decide().verdict is not Verdict.READ:
            return  # too costly for a background read: the tile shows the outcome, no alarm
        self._fetch_tasks["front"] = asyncio.ensure_future(self._read_front())

    async def _read_front(self) -> None:
        try:
            await self._fetch(RUNNING)
        except (RequestTimeoutError, RequestFailedError, MalformedReply):
            pass  # the outcome stays shown; the next failure asks again

    def _set_running_skipped(self, reason: str | None) -> None:
        if reason != self.running_skipped:
            self.running_skipped = reason
            self.running_skipped_changed.emit(reason)

    def schedule(self, category: str) -> None:
        task = self._fetch_tasks.get(category)
        if task is not None and not task.done():
            return  # the running fetch re-checks the uid when it finishes
        if not self.health.control_verified:
            return  # fetched once a poll is answered (see ConnectionSupervisor.on_status)
        failures = self._fetch_failures[category]
        if failures and time.monotonic() - self._fetch_failed_at.get(category, 0.0) < min(
                FETCH_BACKOFF_MAX, 2.0 ** failures):
            return  # failing: retry after a back-off, not on every status push
        self._fetch_tasks[category] = asyncio.ensure_future(self._fetch_loop(category))

    async def _fetch_loop(self, category: str) -> None:
        key = TRIGGER_KEYS[category]
        while self.health.running and self.state.status is not None:
            wanted = self.state.status.get(key)
            if wanted == self._fetched[category] or (
                    wanted is not None and wanted == self._reply_uid[category]):
                return
            if category == "history" and not self._history_gate():
                return
            if category == RUNNING and not self._running_gate(wanted):
                return
            try:
                uid = await self._fetch(category)
            except (RequestTimeoutError, RequestFailedError) as ex:
                busy = False
                if isinstance(ex, RequestTimeoutError):
                    self.health.control_timeout()
                    # judged busy (another client's large read, a manager starting up): the
                    # server is there and a later status retries; a warning would cry wolf
                    busy = self.health.control_verified and self.state.server_busy is not None
                else:
                    self.health.control_ok()
                self._fetch_failures[category] += 1
                self._fetch_failed_at[category] = time.monotonic()
                if not busy and category not in self._fetch_warned:
                    self._fetch_warned.add(category)  # once per run of failures
                    self.events.message.emit("warning", f"Could not load the {category}: {ex}")
                return  # a later status retries
            except asyncio.CancelledError:
                raise
            except Exception as ex:  # a reply of the wrong shape: keep what is shown
                self._fetch_failures[category] += 1
                self._fetch_failed_at[category] = time.monotonic()
                self.health.report_malformed(f"fetch-{category}", f"Could not load the "
                                             f"{category}: the RE Manager's reply is malformed "
                                             f"({ex}).")
                return
            self.health.control_ok()
            self.health.refresh_busy()  # our read is answered: not "serving" any longer
            self._fetch_failures[category] = 0
            self._fetch_warned.discard(category)
            # Done for the status that asked for it. The reply may already be newer (its uid
            # differs): a status carrying that uid then needs no fetch, but a status that still
            # shows the old one must not make this loop fetch again and again.
            self._fetched[category] = wanted
            self._reply_uid[category] = uid
            await asyncio.sleep(0)  # never spin without yielding, whatever the transport

    async def _fetch(self, category: str) -> Any:
        api, s, events = self._api, self.state, self.events
        if category in ("queue", RUNNING):
            if category == RUNNING:
                self.running_policy.started()
            sent, started = self.health.replies.count, time.monotonic()
            reply = as_mapping(await api.queue_get(), "queue_get")
            items = checked_items(reply, "items")
            running = reply.get("running_item") or {}
            if not isinstance(running, Mapping):
                raise MalformedReply("'running_item' is not an item")
            answered = self.health.replies.last("queue_get")
            if category == RUNNING and self.health.replies.count > sent and answered is not None:
                self.running_policy.record_read(len(items), answered.seconds, started=started)
            s.queue, s.running_item = items, running
            events.queue_changed.emit(s.queue, s.running_item)
            if category == RUNNING:
                return running.get("item_uid") or None
            return reply.get("plan_queue_uid")
        if category == "history":
            self.policy.started()
            sent, started = self.health.replies.count, time.monotonic()
            # compact entries (client/history_entries): a fraction of the memory and decode time
            read = getattr(api, "history_get_compact", api.history_get)
            reply = as_mapping(await read(), "history_get")
            items = checked_items(reply, "items")
            answered = self.health.replies.last("history_get")
            if self.health.replies.count > sent and answered is not None:
                # a request was sent (not a cache hit): learn what a read costs the server
                self.policy.record_read(len(items), answered.seconds, started=started)
            s.history = items
            self.policy.shown(reply.get("plan_history_uid"))
            self.events.history_policy_changed.emit()
            self.tracker.on_history(s.history)
            events.history_changed.emit(s.history)
            return reply.get("plan_history_uid")
        if category == "plans":
            reply = as_mapping(await api.plans_allowed(), "plans_allowed")
            s.plans_allowed = checked_map(reply, "plans_allowed")
            events.plans_changed.emit(s.plans_allowed)
            return reply.get("plans_allowed_uid")
        if category == "devices":
            reply = as_mapping(await api.devices_allowed(), "devices_allowed")
            s.devices_allowed = checked_map(reply, "devices_allowed")
            events.devices_changed.emit(s.devices_allowed)
            return reply.get("devices_allowed_uid")
        reply = as_mapping(await api.lock_info(), "lock_info")
        info = reply.get("lock_info")
        if info is not None and not isinstance(info, Mapping):
            raise MalformedReply("'lock_info' is not an object")
        s.lock_info = info
        events.lock_info_changed.emit(s.lock_info)
        return reply.get("lock_info_uid")
