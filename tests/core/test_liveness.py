"""A busy server is not a lost one (issue 17 point 1), and the history policy in the session
(point 2): a Session over a fake serial RE Manager whose replies the test holds and releases.

No sleeping as synchronisation: every wait is for a condition (``until``) or for a reply the
test itself releases.
"""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest

from qs_gui.client import REManagerAPI
from qs_gui.client.exceptions import HTTPClientError
from qs_gui.client.monitor import InfoMessage
from qs_gui.client.transport import BULK_METHODS, Codec, TransportTimeout
from qs_gui.core.gates import Connection
from qs_gui.core.history_policy import HistoryPolicy
from qs_gui.core.liveness import SILENT_CEILING, BusyJudge, ReplyLog, busy_grace, describe_wait
from qs_gui.core.queue_alarm import QueueAlarmWatch
from qs_gui.core.session import Session, Timing
from tests.client.fakes import status_reply

FAST = Timing(watchdog_after=0.05, stale_after=0.3, poll_timeout=0.05, backoff=(0.02, 0.05))


async def until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


class SerialServer:
    """A fake transport in front of a scripted RE Manager. ``hold(method)`` keeps that
    method's replies until ``release(method)``; ``occupy()`` holds every reply (the server is
    serving another client's large read) until ``free()``. ``in_flight`` reports the
    outstanding request like the 0MQ transport (a bulk one first)."""

    supports_reuse = False

    def __init__(self, **status: Any) -> None:
        self.status = status_reply(**status)
        self.timeout_recv = 2.0
        self.codec = Codec("json")
        self.closed = False
        self.requests: list[str] = []
        self.pending: list[tuple[str, float]] = []
        self.history: list[dict] = []
        self.times_out: set[str] = set()
        self.gateway_408 = 0  # status requests answered 408 by an HTTP gateway (RE Manager busy)
        self._held: dict[str, asyncio.Event] = {}
        self._occupied: asyncio.Event | None = None

    @property
    def in_flight(self) -> tuple[str, float] | None:
        bulk = [p for p in self.pending if p[0] in BULK_METHODS]
        return (bulk or self.pending or [None])[0]

    def hold(self, method: str) -> None:
        self._held[method] = asyncio.Event()

    def release(self, method: str) -> None:
        self._held.pop(method).set()

    def occupy(self) -> None:
        self._occupied = asyncio.Event()

    def free(self) -> None:
        event, self._occupied = self._occupied, None
        event.set()

    def methods(self) -> list[str]:
        return list(self.requests)

    async def request(self, method: str, params: dict, *, timeout: float | None = None,
                      reuse: Any = None) -> tuple[Any, bytes]:
        self.requests.append(method)
        timeout = self.timeout_recv if timeout is None else timeout
        entry = (method, time.monotonic())
        self.pending.append(entry)
        try:
            reply = await asyncio.wait_for(self._serve(method, params), timeout)
        except asyncio.TimeoutError:
            raise TransportTimeout(f"no reply within {timeout:g} s (timeout occurred)") from None
        finally:
            self.pending.remove(entry)
        raw = json.dumps(reply).encode()
        return json.loads(raw), raw

    async def _serve(self, method: str, params: dict) -> Any:
        if self._occupied is not None:
            await self._occupied.wait()
        held = self._held.get(method)
        if held is not None:
            await held.wait()
        if method == "status" and self.gateway_408 > 0:
            self.gateway_408 -= 1
            raise HTTPClientError("408: Request timeout http://gw/api/status", request=None,
                                  response=SimpleNamespace(status_code=408))
        if method in self.times_out:
            await asyncio.Event().wait()  # never answered: the caller's timeout fires
        s = self.status
        if method == "status":
            return dict(s)
        if method == "history_get":
            return {"success": True, "msg": "", "items": list(self.history),
                    "plan_history_uid": s["plan_history_uid"]}
        if method == "queue_get":
            return {"success": True, "msg": "", "items": [], "running_item": {},
                    "plan_queue_uid": s["plan_queue_uid"]}
        if method == "queue_item_execute":
            return {"success": True, "msg": "", "qsize": 0,
                    "item": {**params["item"], "item_uid": "x1"}}
        return {"success": True, "msg": "", "plans_allowed": {}, "devices_allowed": {},
                "lock_info": {}, "plans_allowed_uid": s["plans_allowed_uid"],
                "devices_allowed_uid": s["devices_allowed_uid"],
                "lock_info_uid": s["lock_info_uid"]}

    def decode(self, raw: bytes) -> Any:
        return json.loads(raw)

    async def decode_async(self, raw: bytes, reuse: Any = None) -> Any:
        return json.loads(raw)

    def close(self) -> None:
        self.closed = True


def make(server: SerialServer, policy: HistoryPolicy | None = None, *,
         use_monitor: bool = False, timing: Timing = FAST) -> tuple[Session, list, list]:
    session = Session(REManagerAPI(transport=server), use_monitor=use_monitor, timing=timing,
                      history_policy=policy)
    messages: list[tuple[str, str]] = []
    states: list[Connection] = []
    session.message.connect(lambda level, text: messages.append((level, text)))
    session.connection_changed.connect(lambda state, detail: states.append(state))
    return session, messages, states


def push(session: Session, status: dict) -> None:
    session.supervisor.deliver([InfoMessage("QS_Info", 0.0, {"status": dict(status)},
                                            time.monotonic())])


def alarms(messages: list) -> list:
    return [(level, text) for level, text in messages if level in ("error", "warning")]


# -- the busy window ------------------------------------------------------------------------
def test_own_bulk_read_is_busy_not_lost():
    """Our history read takes the server longer than the watchdog and staleness limits."""
    async def scenario():
        server = SerialServer(items_in_history=20_000)
        server.hold("history_get")
        session, messages, states = make(server, HistoryPolicy(seconds_per_item=1e-6))
        busy: list = []
        session.server_busy_changed.connect(busy.append)
        await session.start()
        await until(lambda: "history_get" in server.pending[0][0] if server.pending else False)
        await until(lambda: session.server_busy is not None)
        assert session.server_busy.startswith("RE Manager is serving the 20,000-item history (")
        assert session.server_busy.endswith(" s so far)")
        assert session.connection is Connection.CONNECTED
        server.history = [{"item_uid": "a", "name": "count"}]
        server.release("history_get")
        await until(lambda: session.history and session.server_busy is None)
        assert states == [Connection.CONNECTED]  # no "no status", no offline, no reconnect
        assert alarms(messages) == []
        assert busy[-1] is None
        await session.stop()

    asyncio.run(scenario())


def test_another_clients_large_read_is_busy_not_lost():
    """The server answers nothing for a while (serving someone's 100k history_get): the
    watchdog's poll waits as long as such a read can take, and nothing is reported lost."""
    async def scenario():
        server = SerialServer(items_in_history=100_000)
        session, messages, states = make(server)
        await session.start()
        await until(lambda: session.connection is Connection.CONNECTED and session.lock_info
                    is not None)
        server.occupy()
        await until(lambda: session.server_busy is not None)
        assert session.server_busy.startswith("RE Manager has not answered for ")
        assert "100,000-item history takes it about 6.0 s" in session.server_busy
        assert "CURVE" not in session.server_busy
        server.free()
        await until(lambda: session.server_busy is None)
        assert session.connection is Connection.CONNECTED
        assert states == [Connection.CONNECTED]
        assert alarms(messages) == []
        await session.stop()

    asyncio.run(scenario())


def test_gateway_408s_within_the_grace_are_a_busy_server():
    """Over HTTP the gateway gives up after 2 s (408) while RE Manager serves a large read."""
    async def scenario():
        server = SerialServer(items_in_history=100_000)
        session, messages, states = make(server)
        await session.start()
        await until(lambda: session.connection is Connection.CONNECTED and session.lock_info
                    is not None)
        server.gateway_408 = 3
        await until(lambda: server.gateway_408 == 0)
        polls = session.polls_sent
        await until(lambda: session.polls_sent > polls)  # answered again
        assert states == [Connection.CONNECTED]
        assert alarms(messages) == []
        await session.stop()

    asyncio.run(scenario())


def test_small_server_silence_is_still_lost_contact_at_once():
    """Nothing large on the server: a silence cannot be a busy server (the reliability suite's
    killed-server case keeps its speed)."""
    async def scenario():
        server = SerialServer(items_in_history=3)
        session, messages, states = make(server)
        await session.start()
        await until(lambda: session.connection is Connection.CONNECTED)
        server.occupy()
        t0 = time.monotonic()
        await until(lambda: session.connection is Connection.OFFLINE)
        assert time.monotonic() - t0 < 1.0
        assert any(level == "error" and "Lost contact" in text for level, text in messages)
        assert session.server_busy is None
        server.free()
        await until(lambda: session.connection is Connection.CONNECTED)
        await session.stop()

    asyncio.run(scenario())


def test_timeouts_while_pushes_arrive_are_busy_when_a_large_read_explains_them():
    async def scenario():
        server = SerialServer(items_in_history=100_000)
        session, messages, states = make(server, use_monitor=False,
                                         timing=Timing(watchdog_after=5, stale_after=10,
                                                       poll_timeout=0.05, backoff=(0.02,)))
        await session.start()
        await until(lambda: session.connection is Connection.CONNECTED)
        push(session, server.status)
        server.timeout_recv = 0.05  # commands give up fast in this test
        server.times_out.add("queue_start")
        for _ in range(2):
            outcome = await session.run("queue_start", session._api.queue_start, "Start queue")
            assert outcome.timed_out
        assert session.connection is Connection.CONNECTED
        assert session.server_busy is not None and "CURVE" not in session.server_busy
        assert not any("Lost contact" in text for _, text in messages)
        await session.stop()

    asyncio.run(scenario())


def test_grace_is_zero_for_small_servers_and_capped_by_the_managers_watchdog():
    assert busy_grace(0.001, 0.002, pushes_alive=False) == 0.0
    assert busy_grace(6.0, 0.0, pushes_alive=False) == SILENT_CEILING
    assert busy_grace(1.0, 0.0, pushes_alive=False) == 2.0
    # pushes stopped: a slow reply alone (plans_allowed on a loaded machine) is no excuse, so a
    # killed server with a small history is reported as fast as before
    assert busy_grace(0.01, 2.0, pushes_alive=False) == 0.0
    assert busy_grace(6.0, 4.0, pushes_alive=True) == 12.0  # the loop runs: wait longer
    assert describe_wait("queue_get", 10_000, 1.25) == (
        "RE Manager is serving the 10,000-item queue (1.2 s so far)")


def test_busy_judge_reads_the_counts_and_the_slowest_reply():
    clock = [100.0]
    replies = ReplyLog(clock=lambda: clock[0])
    judge = BusyJudge(HistoryPolicy(seconds_per_item=50e-6), replies)
    status = {"items_in_history": 40_000, "items_in_queue": 10_000}
    assert judge.expected_block(status) == pytest.approx(2.0)
    assert judge.expected_block({"items_in_history": True, "items_in_queue": "9"}) == 0.0
    assert judge.grace({"items_in_history": 10}, pushes_alive=False) == 0.0
    replies.record("history_get", 1.5)  # a slow reply makes any silence up to 4.5 s plausible
    assert judge.grace({"items_in_history": 10}, pushes_alive=True) == pytest.approx(4.5)
    clock[0] += 1000  # long ago: no longer recent
    assert judge.grace({"items_in_history": 10}, pushes_alive=True) == 0.0
    assert judge.wait_text(status, "history_get", 3.42) == (
        "RE Manager is serving the 40,000-item history (3.4 s so far)")


# -- the history policy in the session ----------------------------------------------------------
def test_100k_history_is_withheld_until_the_operator_loads_it():
    async def scenario():
        server = SerialServer(items_in_history=100_000)
        session, messages, _ = make(server)
        changed: list = []
        session.history_policy_changed.connect(lambda: changed.append(session.history_withheld))
        await session.start()
        await until(lambda: session.history_withheld is not None)
        assert "history_get" not in server.methods()
        assert session.history_withheld.startswith("the history has 100,000 items; reading it "
                                                   "blocks the RE Manager for about 6 s")
        assert session.history_staleness.changes_unread == 1
        server.history = [{"item_uid": "h", "name": "count"}] * 3
        session.load_history_now()  # the operator's explicit choice
        await until(lambda: len(session.history) == 3)
        assert server.methods().count("history_get") == 1
        assert session.history_staleness.changes_unread == 0
        assert alarms(messages) == []
        await session.stop()

    asyncio.run(scenario())


def test_costly_reads_are_coalesced():
    """Each read costs 0.1 s predicted; duty 50 % (test speed): at most one read per 0.2 s."""
    async def scenario():
        server = SerialServer(items_in_history=1000, plan_history_uid="h0")
        policy = HistoryPolicy(seconds_per_item=1e-4, duty=0.5)
        session, _, _ = make(server, policy)
        await session.start()
        await until(lambda: server.methods().count("history_get") == 1)
        policy.record_read(1000, 0.1, started=time.monotonic())  # as if it had cost 0.1 s
        sent = time.monotonic()
        for n in range(1, 4):
            server.status = {**server.status, "plan_history_uid": f"h{n}"}
            push(session, server.status)
        await until(lambda: "at most every 0.20 s" in session.history_note)
        await until(lambda: server.methods().count("history_get") == 2)
        assert time.monotonic() - sent >= 0.15  # waited for its turn, then one read for three
        await until(lambda: session.history_staleness.changes_unread == 0)
        assert server.methods().count("history_get") == 2
        await session.stop()

    asyncio.run(scenario())


def test_background_read_waits_for_an_operator_command_in_flight():
    """A command is out; a history change arrives: the costly read is not sent ahead of the
    command's reply (the serial server would make the command wait behind it)."""
    async def scenario():
        server = SerialServer(items_in_history=10_000, plan_history_uid="h0")
        session, _, _ = make(server, HistoryPolicy(seconds_per_item=20e-6, duty=100.0),
                            use_monitor=True)  # predicted 0.2 s: costly, never coalesced here
        await session.start()
        push(session, server.status)
        await until(lambda: server.methods().count("history_get") == 1 and session.lock_info
                    is not None)
        server.hold("queue_start")
        command = asyncio.ensure_future(
            session.run("queue_start", session._api.queue_start, "Start queue"))
        await until(lambda: "queue_start" in server.methods())
        server.status = {**server.status, "plan_history_uid": "h1"}
        push(session, server.status)
        await until(lambda: all(t.done() for t in session.fetcher.tasks()))
        assert server.methods().count("history_get") == 1  # held back
        server.release("queue_start")
        assert (await command).ok
        await until(lambda: server.methods().count("history_get") == 2)
        await session.stop()

    asyncio.run(scenario())


# -- outcome tracking while the history is withheld -----------------------------------------
def test_execute_now_result_waits_for_a_read_the_operator_must_allow():
    async def scenario():
        server = SerialServer(items_in_history=100_000, worker_environment_exists=True)
        session, _, _ = make(server, use_monitor=True)
        await session.start()
        push(session, server.status)
        await until(lambda: session.history_withheld is not None)
        outcome = await session.execute_now({"item_type": "plan", "name": "count"})
        assert outcome.ok
        push(session, {**server.status, "manager_state": "executing_queue",
                       "running_item_uid": "x1"})
        assert session.tracker.last.state == "running"
        server.status = {**server.status, "plan_history_uid": "h2",
                         "items_in_history": 100_001, "running_item_uid": None}
        push(session, server.status)
        execution = session.tracker.last
        assert execution.state == "ended" and not execution.finished and execution.ended
        assert execution.waiting_text.startswith(
            "count finished; the result waits for a history read you must allow (the history "
            "has 100,000 items")  # at once, from the status; then brought up to date:
        await until(lambda: "has 100,001 items" in session.tracker.last.waiting_text)
        server.history = [{"item_uid": "x1", "name": "count",
                           "result": {"exit_status": "completed", "msg": ""}}]
        session.load_history_now()
        await until(lambda: session.tracker.last.finished)
        assert session.tracker.last.state == "completed"
        await session.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("withheld", ["the history has 100,000 items", None])
def test_queue_alarm_says_what_its_detail_waits_for(withheld):
    watch = QueueAlarmWatch()
    watch.history_withheld(withheld)
    watch.on_status({"manager_state": "idle", "items_in_queue": 2})
    watch.on_status({"manager_state": "executing_queue", "items_in_queue": 1,
                     "running_item_uid": "q1"})
    watch.on_status({"manager_state": "idle", "items_in_queue": 2})  # it went back: failed
    assert watch.alarm is not None and not watch.alarm.detail_read
    if withheld:
        assert "waits for a history read you must allow (the history has 100,000 items)" in \
            watch.alarm.text
        assert watch.history_withheld(None)  # read again automatically: the words change
    assert "The detail is not read yet" in watch.alarm.text


def test_lost_reply_is_not_checked_with_a_history_read_the_server_cannot_afford():
    """Reconciling a lost Execute-now reply normally reads the history; not a 100k one."""
    async def scenario():
        server = SerialServer(items_in_history=100_000, worker_environment_exists=True)
        session, messages, _ = make(server, use_monitor=True)
        await session.start()
        push(session, server.status)
        await until(lambda: session.history_withheld is not None)
        server.timeout_recv = 0.05
        server.times_out.add("queue_item_execute")
        outcome = await session.execute_now({"item_type": "plan", "name": "count"})
        assert outcome.timed_out and outcome.reconciled == "unknown"
        assert "history_get" not in server.methods()
        assert any("history could not be checked" in text for _, text in messages)
        await session.stop()

    asyncio.run(scenario())


def test_tracker_ends_only_on_a_status_that_names_what_runs():
    from qs_gui.core.tracking import ExecutionTracker

    tracker = ExecutionTracker()
    tracker.started({"item_uid": "u1", "name": "count"})
    tracker.on_status({"running_item_uid": "u1"})
    tracker.on_status({"manager_state": "idle"})  # no running_item_uid key: no verdict
    assert tracker.last.state == "running"
    tracker.history_withheld("the history has 100,000 items")
    tracker.on_status({"running_item_uid": None})
    assert tracker.last.state == "ended" and tracker.last.awaiting.startswith("the history")
    tracker.on_status({"running_item_uid": "u1"})  # a glitch: it runs after all
    assert tracker.last.state == "running" and tracker.last.awaiting == ""
    tracker.on_status({"running_item_uid": None})
    tracker.history_withheld(None)  # read automatically again: the text changes
    assert tracker.last.waiting_text == "count finished; reading its result from the history."
