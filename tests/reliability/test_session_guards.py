"""Session guards found by the reliability scenarios, as fast unit tests (FakeTransport)."""

from __future__ import annotations

import asyncio
import time

from qs_gui.client import REManagerAPI
from qs_gui.client.monitor import InfoMessage
from qs_gui.client.transport import TransportTimeout
from qs_gui.core.gates import Connection
from qs_gui.core.session import Session, Timing
from tests.client.fakes import FakeTransport, status_reply

FAST = Timing(watchdog_after=0.05, stale_after=1.0, poll_timeout=0.05, backoff=(0.02, 0.05))


async def until(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def push(session: Session, status: dict) -> None:
    session.supervisor.deliver([InfoMessage("QS_Info", 0.0, {"status": status}, time.monotonic())])


def test_reply_newer_than_the_status_is_fetched_once():
    """queue_get answers with uid q2 while the status still says q1: one fetch, not a loop."""
    status = status_reply(plan_queue_uid="q1")

    def handle(method, params):
        if method == "status":
            return dict(status)
        if method == "queue_get":
            return {"success": True, "msg": "", "items": [], "running_item": {},
                    "plan_queue_uid": "q2"}
        return {"success": True, "msg": ""}

    async def scenario():
        transport = FakeTransport(handle)
        session = Session(REManagerAPI(transport=transport), use_monitor=False, timing=FAST)
        await session.start()
        await until(lambda: session.connection is Connection.CONNECTED)
        await asyncio.sleep(0.5)  # ~10 status polls, all still saying q1
        count = transport.methods().count("queue_get")
        status["plan_queue_uid"] = "q2"  # the status catches up: nothing new to fetch
        await asyncio.sleep(0.2)
        assert transport.methods().count("queue_get") == count
        await session.stop()
        return count

    assert asyncio.run(scenario()) == 1


def test_pushes_alone_never_make_it_connected():
    """Status pushes arrive, the control socket times out (a wrong CURVE key looks like this)."""
    answering = {"on": False}

    def handle(method, params):
        if not answering["on"]:
            return TransportTimeout("no reply")
        if method == "status":
            return status_reply()
        return {"success": True, "msg": "", "items": [], "running_item": {}}

    async def scenario():
        session = Session(REManagerAPI(transport=FakeTransport(handle)), use_monitor=False,
                          timing=FAST)
        states = []
        session.connection_changed.connect(lambda state, detail: states.append(state))
        await session.start()
        for _ in range(20):
            push(session, status_reply())
            await asyncio.sleep(0.02)
        assert Connection.CONNECTED not in states
        assert session.connection is Connection.OFFLINE
        assert "status updates arrive, but" in session.connection_detail
        assert session.status is not None  # the pushed status is still shown
        answering["on"] = True
        await until(lambda: session.connection is Connection.CONNECTED)
        await session.stop()

    asyncio.run(scenario())


def test_two_timeouts_while_pushes_arrive_go_offline():
    mode = {"timeout": False}

    def handle(method, params):
        if mode["timeout"]:
            return TransportTimeout("no reply")
        if method == "status":
            return status_reply()
        return {"success": True, "msg": "", "items": [], "running_item": {}}

    async def scenario():
        session = Session(REManagerAPI(transport=FakeTransport(handle)), use_monitor=False,
                          timing=Timing(watchdog_after=5, stale_after=10, poll_timeout=0.05,
                                        backoff=(0.02, 0.05)))
        await session.start()
        await until(lambda: session.connection is Connection.CONNECTED)
        push(session, status_reply())
        mode["timeout"] = True
        for _ in range(2):
            outcome = await session.run("queue_start", session._api.queue_start, "Start queue")
            assert outcome.timed_out and outcome.reconciled is None  # not reconcilable
        assert session.connection is Connection.OFFLINE
        mode["timeout"] = False
        await until(lambda: session.connection is Connection.CONNECTED)
        await session.stop()

    asyncio.run(scenario())


def test_absurd_counts_never_reach_timer_arithmetic():
    """items_in_queue 10**30 would make the bulk timeout overflow qasync's int32 timers."""
    session = Session(REManagerAPI(transport=FakeTransport(lambda m, p: status_reply())),
                      use_monitor=False)
    push(session, status_reply(items_in_queue=10**30, items_in_history=-5))
    assert session.status["items_in_queue"] is None
    assert session._api._bulk_timeout("items_in_queue") < 10


def test_poll_timeout_adapts_to_a_slow_server():
    session = Session(REManagerAPI(transport=FakeTransport(lambda m, p: status_reply())),
                      use_monitor=False)
    assert session.poll_timeout == 2.0  # not connected: the full request timeout
    session.state.connection = Connection.CONNECTED
    assert session.poll_timeout == 0.6
    session.supervisor._latencies.extend([0.001, 0.4])
    assert session.poll_timeout == 1.6
    session.supervisor._latencies.append(1.5)
    assert session.poll_timeout == 2.0  # capped at the request timeout


def test_a_server_gone_silent_is_not_blamed_on_the_address_or_key():
    """The RE Manager dies just after a push: the last push is recent, but none came after the
    unanswered request was sent, so nothing says "status updates arrive" or blames the key."""
    alive = {"on": True}

    def handle(method, params):
        if not alive["on"]:
            return TransportTimeout("no reply")
        return status_reply() if method == "status" else {
            "success": True, "msg": "", "items": [], "running_item": {}}

    async def scenario():
        session = Session(REManagerAPI(transport=FakeTransport(handle)), use_monitor=False,
                          timing=FAST)
        await session.start()
        await until(lambda: session.connection is Connection.CONNECTED)
        push(session, status_reply())
        alive["on"] = False  # killed right after publishing: no push, no reply from now on
        await until(lambda: session.connection is Connection.OFFLINE)
        detail = session.connection_detail
        await session.stop()
        return detail

    detail = asyncio.run(scenario())
    assert "no reply" in detail
    assert "status updates arrive" not in detail and "CURVE" not in detail
