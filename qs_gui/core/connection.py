"""Connection supervision: is the RE Manager there, and what is its status?

Push first: status arrives on the info socket (QS_Info, about once a second and on every change).
A watchdog polls ``status`` only when pushes stop, which is also the plain polling used when the
server does not publish. Polls adapt to a slow server (its measured reply time, up to the request
timeout), so a server that answers in 1.5 s is shown as connected, and a dead one is still
reported within 2 s. Info-socket floods are handled in time-boxed batches with a yield in
between, so the GUI keeps painting while 10^5 console messages arrive.

"Connected" means the control socket answers, not only that status pushes arrive: the info
socket is never encrypted, so with a wrong CURVE key (or a wedged control socket) pushes keep
coming while every request times out. After a control failure, pushes keep the status display
live, but only an answered request makes the indicator "Connected".

A busy server is not a lost one (``core/liveness``): while this client's bulk read is served,
or a silence is short enough to be another client's large read, the indicator stays Connected
and ``SessionState.server_busy`` says what the server is busy with; the advice about the address
and the CURVE key is given only where it can be true.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..client import CONSOLE_TOPIC, STATUS_TOPIC, REManagerAPI
from ..client.exceptions import HTTPError, ReadOnlyError, RequestFailedError, RequestTimeoutError
from ..client.transport import BULK_METHODS as TRANSPORT_BULK_METHODS
from ..client.wakeup import Wakeup
from .access import Problem, classify
from .formatting import count
from .gates import Connection
from .history_policy import HistoryPolicy
from .liveness import SILENT_CEILING, BusyJudge, ReplyLog, describe_wait
from .replies import MalformedReply, sanitize_status, server_message
from .session_state import SessionEvents, SessionState
from .tracking import ExecutionTracker

logger = logging.getLogger(__name__)

#: requests whose reply may legitimately take the server seconds (the transport's bulk lane,
#: plus a batch add, which the server validates item by item)
BULK_METHODS = frozenset({"queue_get", "history_get", "queue_item_add_batch"}) | frozenset(
    TRANSPORT_BULK_METHODS)

LISTEN_BUDGET = 0.008  # seconds of info-socket reading per batch before yielding to the GUI
LISTEN_BATCH = 5000
BUSY_SHOW_AFTER = 0.5  # an own bulk read outstanding this long is shown as "busy" (seconds)
BUSY_REFRESH = 0.5  # how often the busy detail's "so far" is brought up to date (seconds)
#: status fields whose every change the tracker and the notices must see, even in a batch
TRANSITION_KEYS = ("manager_state", "running_item_uid", "worker_environment_exists",
                   "worker_environment_state", "re_state")
MAX_TRANSITIONS = 16  # older statuses of one batch applied at most (floods stay cheap)


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


class ConnectionSupervisor:
    """The watchdog, the info-socket listener and the control channel's health."""

    def __init__(self, api: REManagerAPI, state: SessionState, events: SessionEvents,
                 tracker: ExecutionTracker, *, timing: Timing, use_monitor: bool,
                 console: bool = True,
                 on_verified_status: Callable[[dict, bool], None],
                 on_control_lost: Callable[[], None],
                 policy: HistoryPolicy | None = None) -> None:  # fmt: skip
        self._api = api
        self.policy = policy or HistoryPolicy()  # predicts what a large read costs the server
        self.replies = ReplyLog()  # this client's answered requests and their durations
        observers = getattr(api, "reply_observers", None)
        if isinstance(observers, list):
            observers.append(self.replies.record)
        self.busy = BusyJudge(self.policy, self.replies)
        self._busy_kind: str | None = None  # "wait" (own request out) or "silence"
        self.state = state
        self.events = events
        self.tracker = tracker
        self.timing = timing
        self.use_monitor = use_monitor
        #: subscribe to console output too (a status-only view, e.g. an overview tile, does
        #: not decode every console line of every beamline)
        self.console = console
        self._on_verified_status = on_verified_status  # (status, reconnected): fetch by uid
        self._on_control_lost = on_control_lost  # stop queueing reads on a dead socket
        self.running = False
        self._wake: Wakeup | None = None
        self._tasks: list[asyncio.Task] = []
        self._monitor: Any = None
        self._last_status_at: float | None = None
        self._last_push_at: float | None = None
        self._last_failure = ""
        self._latencies: deque[float] = deque(maxlen=5)  # recent status round trips (s)
        self._reported: set[str] = set()  # malformed-data warnings already shown
        self._oversized_seen = 0
        self._reconnected = Wakeup()
        self._control_timeouts = 0  # consecutive control requests without a reply
        self._dead_after = 0.0  # the last patient poll's timeout (0: a plain poll)
        self._gateway_timeout = False  # the last poll got the gateway's 408
        self._last_raw_push: Any = None  # the last verified push as received (see on_status)
        self._silent_since: float | None = None  # the first unanswered request's send time
        self.control_verified = False  # a control reply arrived since the last failure

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the watchdog and (if enabled) the info-socket subscriber."""
        if self.running:
            return
        self.running = True
        self._wake = Wakeup()
        self._tasks.append(asyncio.ensure_future(self._supervise()))
        if self.use_monitor:
            topics = (STATUS_TOPIC, CONSOLE_TOPIC) if self.console else (STATUS_TOPIC,)
            self._monitor = self._api.info_monitor(topics=topics)
            self._monitor.start()
            self._tasks.append(asyncio.ensure_future(self._listen()))

    def tasks(self) -> list[asyncio.Task]:
        return list(self._tasks)

    def stopped(self) -> None:
        self.running = False
        self._tasks.clear()

    def poll_soon(self) -> None:
        """Ask the watchdog for a status poll now (after a command, for servers without push)."""
        self._last_status_at = None
        if self._wake is not None:
            self._wake.set()

    async def wait_connected(self, timeout: float) -> bool:
        """Until the indicator says connected again (False after ``timeout``)."""
        if self.state.connection is Connection.CONNECTED:
            return True
        return await self._reconnected.sleep(max(0.0, timeout))

    # -- connection state -------------------------------------------------------------------
    def set_connection(self, state: Connection, detail: str) -> None:
        s = self.state
        if state is s.connection and detail == s.connection_detail:
            return
        previous = s.connection
        s.connection, s.connection_detail = state, detail
        if state is Connection.OFFLINE and previous is not Connection.OFFLINE:
            if s.login_needed is not None:  # the gateway answers; the credentials are refused
                self.events.message.emit("warning", f"Not logged in to the HTTP server: {detail}")
            else:
                self.events.message.emit("error", f"Lost contact with the RE Manager: {detail}")
        elif state is Connection.CONNECTED and previous is Connection.OFFLINE:
            self.events.message.emit("info", "Reconnected to the RE Manager.")
        if state is Connection.CONNECTED:
            self._reconnected.set()
        self.events.connection_changed.emit(state, detail)

    # -- a busy server ----------------------------------------------------------------------
    def set_busy(self, kind: str | None, text: str | None) -> None:
        """Show (or clear, with None) what the server is busy with; never an error."""
        self._busy_kind = kind if text else None
        if text != self.state.server_busy:
            self.state.server_busy = text
            self.events.server_busy_changed.emit(text)

    def busy_grace(self, *, pushes_alive: bool) -> float:
        """How long a silence may be a busy server rather than a lost one (0: it cannot)."""
        return self.busy.grace(self.state.status, pushes_alive=pushes_alive)

    def _last_heard(self) -> float | None:
        times = [t for t in (self._last_status_at, self._last_push_at, self.replies.last_at)
                 if t is not None]
        return max(times, default=None)

    def _silence_text(self, silence: float) -> str:
        return self.busy.silence_text(self.state.status, silence)

    def _own_wait_text(self) -> str | None:
        """The busy detail while this client's bulk request is outstanding (None: none)."""
        in_flight = self._api.transport.in_flight
        if in_flight is None or in_flight[0] not in BULK_METHODS:
            return None
        method, started = in_flight
        waited = time.monotonic() - started
        if waited < BUSY_SHOW_AFTER:
            return None
        return self.busy.wait_text(self.state.status, method, waited)

    def refresh_busy(self) -> None:
        """Bring the busy detail in line with what is in flight now (a reply just came)."""
        text = self._own_wait_text()
        if text is not None:
            self.set_busy("wait", text)
        elif self._busy_kind == "wait":
            self.set_busy(None, None)

    @property
    def request_timeout(self) -> float:
        """The client's request timeout (seconds)."""
        value = self._api.transport.timeout_recv
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
        if self.state.connection is not Connection.CONNECTED:
            return ceiling
        slowest = max(self._latencies, default=0.0)
        return min(ceiling, max(self.timing.poll_timeout, 4.0 * slowest))

    def login_refused(self, reason: str) -> None:
        """Over HTTP the credentials were refused (401): ask for a login, once per episode."""
        if self.state.login_needed is None:
            self.state.login_needed = reason
            self.events.login_required.emit(reason)

    def login_renewed(self) -> None:
        """New credentials are in use: the next refusal asks again."""
        self.state.login_needed = None
        self.poll_soon()

    # -- control-channel health -------------------------------------------------------------
    def control_ok(self) -> None:
        """A reply arrived on the control socket."""
        self._control_timeouts = 0
        self.control_verified = True
        self._silent_since = None
        if self._busy_kind == "silence":
            self.set_busy(None, None)

    def control_lost(self) -> None:
        """A status poll failed, or a request in flight was judged dead."""
        self.control_verified = False

    def control_timeout(self) -> None:
        """A command, fetch or check got no reply; two in a row while the indicator says
        connected (pushes still arriving) take it offline until a poll is answered."""
        self._control_timeouts += 1
        heard = self._last_heard()
        # the request waited its timeout: a fake transport may fail at once, a real one cannot
        silence = max(self.request_timeout,
                      0.0 if heard is None else time.monotonic() - heard)
        if self.control_verified and silence < self.busy_grace(
                pushes_alive=self._pushes_alive()):
            self.set_busy("silence", self._silence_text(silence))
            return  # a large read (perhaps another client's) explains it: busy, not lost
        if self._control_timeouts >= 2 and self.control_verified:
            self.control_verified = False
            self._silence_from(time.monotonic() - self.request_timeout)  # when it was sent
            if self.state.connection in (Connection.CONNECTED, Connection.NO_STATUS):
                self.set_connection(Connection.OFFLINE, self._offline_detail(
                    f"no reply from {self.state.address} within {self.request_timeout:g} s"))
            self._on_control_lost()
            if self._wake is not None:
                self._wake.set()

    def report_malformed(self, kind: str, text: str) -> None:
        self.state.malformed_replies += 1
        if kind not in self._reported:  # once per kind: a broken peer must not flood the log
            self._reported.add(kind)
            self.events.message.emit("warning", text)
        logger.debug(text)

    def _pushes_alive(self) -> bool:
        at = self._last_push_at
        return at is not None and time.monotonic() - at < self.timing.stale_after

    def _silence_from(self, sent: float) -> None:
        """A request sent at ``sent`` is unanswered so far (the first one counts: a reply to
        anything ends the silence, :meth:`control_ok`)."""
        if self._silent_since is None or sent < self._silent_since:
            self._silent_since = sent

    def _pushes_since_silence(self) -> bool:
        """A push arrived after the first unanswered request was sent: the RE Manager is alive
        and publishing, so the control channel itself is what fails (address, key). A push
        from before it proves nothing (a manager killed just after publishing)."""
        at, since = self._last_push_at, self._silent_since
        return (at is not None and since is not None and at > since
                and time.monotonic() - at < self.timing.stale_after)

    def _offline_detail(self, reason: str, retry: float | None = None) -> str:
        if self._pushes_since_silence():
            reason = (f"status updates arrive, but the RE Manager does not answer requests "
                      f"({reason}); check the control address and the CURVE key")
        return reason + (f"; retrying every {retry:g} s" if retry else "")

    # -- the watchdog -----------------------------------------------------------------------
    async def _supervise(self) -> None:
        failures = 0
        while self.running:
            now = time.monotonic()
            age = None if self._last_status_at is None else now - self._last_status_at
            if (not self.control_verified or age is None
                    or age >= self.timing.watchdog_after):
                verdict = self._judge_in_flight()
                if verdict == "wait":
                    await self._wake.sleep(0.05)
                    continue
                if verdict == "dead":
                    self.control_lost()
                result = "dead" if verdict == "dead" else await self._patient_poll()
                if result == "ok":
                    failures = 0
                else:
                    failures += 1
                    delay = self.timing.backoff[min(failures, len(self.timing.backoff)) - 1]
                    if result == "malformed":
                        # The control socket answers, but not with a usable status.
                        self.set_connection(Connection.NO_STATUS,
                                            f"{self._last_failure}; retrying every {delay:g} s")
                    else:
                        reason = self._last_failure if result == "failed" else (
                            f"no reply from {self.state.address} within "
                            f"{max(self.poll_timeout, self._dead_after):g} s")
                        self.set_busy(None, None)
                        self.set_connection(Connection.OFFLINE,
                                            self._offline_detail(reason, delay))
                    await self._wake.sleep(delay)
                    continue
            elif age >= self.timing.stale_after and self.state.connection is Connection.CONNECTED:
                self.set_connection(Connection.NO_STATUS, f"no status for {age:.0f} s")
            self.refresh_busy()
            last = self._last_status_at or time.monotonic()
            delay = max(0.02, last + self.timing.watchdog_after - time.monotonic())
            if self._api.transport.in_flight is not None or self._busy_kind is not None:
                delay = min(delay, BUSY_REFRESH)  # keep the "so far" of the busy detail true
            await self._wake.sleep(delay)

    def _judge_in_flight(self) -> str:
        """Liveness from a request already awaiting its reply (a poll would queue behind it).

        "poll": nothing in flight; "wait": give it time; "dead": a small request went
        unanswered for longer than a poll may take, or than a busy server could stay silent.
        A bulk fetch (queue/history) may take the server seconds: while one is pending the
        server is busy (``server_busy``), and stale only after a silence its own watchdog
        would not allow.
        """
        in_flight = self._api.transport.in_flight
        if in_flight is None:
            self.refresh_busy()
            return "poll"
        method, started = in_flight
        waited = time.monotonic() - started
        if method in BULK_METHODS:
            # The server is serving our read: busy, not lost. Only a silence longer than the
            # manager's own watchdog allows a blocked loop means no status is coming.
            age = time.monotonic() - (self._last_status_at or started)
            if age >= SILENT_CEILING and self.state.connection is Connection.CONNECTED:
                self.set_busy(None, None)
                self.set_connection(Connection.NO_STATUS, f"no status for {age:.0f} s while "
                                    f"waiting {waited:.0f} s for the reply to {method}")
            elif self.state.connection is Connection.CONNECTED:
                self.refresh_busy()
            return "wait"
        if waited < self.poll_timeout:
            return "wait"
        pushes = self._last_push_at is not None and (
            time.monotonic() - self._last_push_at < self.timing.watchdog_after)
        if self.control_verified and waited < self.busy_grace(pushes_alive=pushes):
            self.set_busy("silence", describe_wait(method, None, waited))
            return "wait"
        self._silence_from(started)
        return "dead"

    async def _patient_poll(self) -> str:
        """A status poll that waits as long as a busy server may plausibly stay silent.

        With nothing large on the server (grace 0) it is the plain poll, as fast as ever.
        Otherwise one poll waits out the grace (the serial server answers it the moment it is
        free) while the busy detail says how long it has been silent. Over HTTP the gateway
        gives up on the RE Manager after its fixed 2 s (408): within the grace that is the same
        busy server, and the poll is repeated.
        """
        self._dead_after = 0.0
        heard = self._last_heard()
        grace = self.busy_grace(pushes_alive=False) if (
            self.control_verified and self.state.connection is Connection.CONNECTED) else 0.0
        now = time.monotonic()
        if grace <= 0 or heard is None or heard + grace <= now + self.poll_timeout:
            return await self._poll_status()
        deadline = heard + grace
        self._dead_after = deadline - now
        while True:
            task = asyncio.ensure_future(self._poll_status(deadline - time.monotonic()))
            try:
                while True:
                    done, _ = await asyncio.wait({task}, timeout=BUSY_REFRESH)
                    if done:
                        break
                    if time.monotonic() - now >= self.poll_timeout:
                        self.set_busy("silence", self._silence_text(time.monotonic() - heard))
            finally:
                if not task.done():
                    task.cancel()
            result = task.result()
            if not (result == "failed" and self._gateway_timeout
                    and time.monotonic() + self.timing.poll_timeout < deadline):
                return result
            self.set_busy("silence", self._silence_text(time.monotonic() - heard))

    async def _poll_status(self, timeout: float | None = None) -> str:
        """One status poll: "ok", "failed" (no/undecodable reply) or "malformed" (a reply
        that is not a usable status); the reason is kept in ``_last_failure``."""
        self.state.polls_sent += 1
        self._gateway_timeout = False  # set when the gateway answers 408 (RE Manager busy)
        timeout = self.poll_timeout if timeout is None else timeout
        started = time.monotonic()
        self._silence_from(started)
        try:
            status = await self._api.send_request(method="status", timeout=timeout)
        except RequestTimeoutError as ex:
            self._last_failure = _reason(ex, self.state.address, timeout)
            logger.debug("status poll failed: %s", ex)
            self.control_lost()
            return "failed"
        except RequestFailedError as ex:
            self.control_ok()
            self._last_failure = f"the status request was refused: {server_message(ex)}"
            return "malformed"
        except HTTPError as ex:  # the gateway answered with an error, or could not be reached
            kind, words = classify(ex) or (Problem.REFUSED, str(ex))
            self._last_failure = words
            self._gateway_timeout = kind is Problem.GATEWAY_TIMEOUT
            if kind is Problem.LOGIN:
                self.login_refused(words)
            elif kind is Problem.PERMISSION:
                self._last_failure = f"{words} (reading the status)"
            self.control_lost()
            return "failed"
        except (ReadOnlyError, RuntimeError):  # closed while polling
            self._last_failure = "the client is closed"
            self.control_lost()
            return "failed"
        except Exception as ex:  # a bug must not silently end the watchdog: say it, go on
            logger.exception("status poll failed unexpectedly")
            self._last_failure = f"internal error while polling: {ex!r}"
            self.control_lost()
            return "failed"
        self.control_ok()
        self._latencies.append(time.monotonic() - started)
        try:
            self.on_status(status)
        except MalformedReply as ex:
            self._last_failure = f"malformed status from {self.state.address}: {ex}"
            return "malformed"
        return "ok"

    # -- pushes -----------------------------------------------------------------------------
    async def _listen(self) -> None:
        monitor = self._monitor
        while self.running:
            message = await monitor.next(timeout=None)
            if message is None:
                continue
            batch = [message, *monitor.drain(LISTEN_BATCH, budget=LISTEN_BUDGET)]
            self.deliver(batch)
            if monitor.backlog:
                # During a flood every read completes at once and this task would never give
                # the event loop back: yield, so Qt paints and runs its timers between batches.
                await asyncio.sleep(0)

    def deliver(self, batch: list) -> None:
        """One batch of info messages: console text joined, the newest usable status applied."""
        console = [m.text for m in batch if m.text is not None]
        oversized = self._monitor.oversized if self._monitor is not None else 0
        if oversized != self._oversized_seen:
            skipped, self._oversized_seen = oversized - self._oversized_seen, oversized
            limit = self._monitor.max_bytes / 2**20
            what = count(skipped, "oversized info message")
            console.append(f"\n[qs-gui: {what} over {limit:g} MiB skipped]\n")
        if console:
            # One string: the console buffer gives the same result for the joined text, and a
            # burst costs one write instead of thousands.
            self.events.console_text.emit(["".join(console)])
        statuses = [m.status for m in batch if m.status is not None]
        if statuses:
            self.state.pushes_received += len(statuses)
            for status in self._transitions(statuses[:-1]):
                try:
                    self.on_status(status, pushed=True)
                except MalformedReply as ex:
                    self.report_malformed("push", f"Ignored a malformed status push: {ex}")
            for status in reversed(statuses):  # the newest usable one
                try:
                    self.on_status(status, pushed=True)
                    break
                except MalformedReply as ex:
                    self.report_malformed("push", f"Ignored a malformed status push: {ex}")

    def _repeats_last_push(self, status: Any) -> bool:
        """The push is the last verified one again (connected, nothing pending)."""
        last = self._last_raw_push
        return (last is not None and status == last and self.control_verified
                and self._busy_kind is None
                and self.state.connection is Connection.CONNECTED)

    def _transitions(self, older: list) -> list:
        """The older statuses of a batch that change what runs or the environment's state.

        A stalled loop (a loaded machine) gets several pushes in one batch; applying only the
        newest would hide an item that ran and ended (Execute now would never see it end) or
        an environment passing through ``closing`` (a requested close reported as a crash).
        At most :data:`MAX_TRANSITIONS` per batch, so a flood costs no more than before."""
        def key(status: Mapping) -> tuple:
            return tuple(status.get(k) for k in TRANSITION_KEYS)

        previous = key(self.state.status) if isinstance(self.state.status, Mapping) else None
        found = []
        for status in older:
            if isinstance(status, Mapping) and key(status) != previous:
                previous = key(status)
                found.append(status)
        return found[-MAX_TRANSITIONS:]

    def on_status(self, status: Any, *, pushed: bool = False) -> None:
        """A status from a poll or a push: checked, shown, and the uid-driven fetches asked."""
        if pushed and self._repeats_last_push(status):
            # The 1 Hz push that changes nothing: alive, and the fetcher still asked (a failed
            # fetch retries on statuses), but nothing re-checked or re-shown.
            self._last_status_at = self._last_push_at = time.monotonic()
            self._api.update_status(self.state.status)
            self._on_verified_status(self.state.status, False)
            return
        raw = status
        status, problems = sanitize_status(status)
        if problems:
            self.report_malformed("status-fields", "The RE Manager's status had values of the "
                                  f"wrong type, shown as unknown: {', '.join(problems[:5])}")
        s = self.state
        reconnected = s.connection in (Connection.OFFLINE, Connection.CONNECTING)
        self._last_status_at = time.monotonic()
        if self._busy_kind == "silence":
            self.set_busy(None, None)  # the server speaks again
        if pushed:
            self._last_push_at = self._last_status_at
        self._api.update_status(status)
        if not self.control_verified:
            # Show what the server publishes, but "Connected" waits for an answered request
            # (the watchdog is polling): a push proves the publisher alive, not the control
            # socket.
            if status != s.status:
                s.status = status
                self.tracker.on_status(status)
                self.events.status_changed.emit(status)
            return
        self.set_connection(Connection.CONNECTED, f"Connected to {s.address}")
        self._last_raw_push = raw if pushed and not problems else None
        changed = s.status is None or any(
            status.get(k) != s.status.get(k) for k in status if k not in ("time", "status_uid"))
        s.status = status
        if changed:
            self.tracker.on_status(status)
            self.events.status_changed.emit(status)
        self._on_verified_status(status, reconnected)


def _reason(ex: Exception, address: str, timeout: float) -> str:
    text = str(ex).removeprefix("Request timeout: ")
    if text.startswith("no reply") or text.startswith("could not send"):
        return f"no reply from {address} within {timeout:.1f} s"
    return f"bad reply from {address}: {text}"
