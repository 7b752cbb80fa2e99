"""Session logic (connection state, uid-driven fetches, commands) with an injected transport."""

import asyncio
import time

from qs_gui.client import REManagerAPI
from qs_gui.client.transport import TransportTimeout
from qs_gui.core.gates import Connection
from qs_gui.core.session import Session, Timing
from qs_gui.core.tracking import ExecutionTracker
from tests.client.fakes import FakeTransport, status_reply

FAST = Timing(watchdog_after=0.05, stale_after=1.0, poll_timeout=0.05, backoff=(0.02, 0.05))


class Server:
    """Scriptable server state behind a FakeTransport."""

    def __init__(self):
        self.status = status_reply()
        self.down = False
        self.execute_times_out = False
        self.running_item = {}

    def handle(self, method, params):
        if self.down:
            return TransportTimeout("no reply")
        if method == "status":
            return dict(self.status)
        if method == "queue_get":
            return {"success": True, "msg": "", "items": [{"name": "count", "item_uid": "a"}],
                    "running_item": self.running_item,
                    "plan_queue_uid": self.status["plan_queue_uid"]}
        if method == "history_get":
            return {"success": True, "msg": "", "plan_history_uid": self.status["plan_history_uid"],
                    "items": [{"name": "count", "item_uid": "x1",
                               "result": {"exit_status": "failed", "msg": "Plan failed: boom",
                                          "traceback": "Traceback..."}}]}
        if method == "plans_allowed":
            return {"success": True, "msg": "", "plans_allowed": {"count": {}},
                    "plans_allowed_uid": self.status["plans_allowed_uid"]}
        if method == "devices_allowed":
            return {"success": True, "msg": "", "devices_allowed": {"det1": {}},
                    "devices_allowed_uid": self.status["devices_allowed_uid"]}
        if method == "lock_info":
            return {"success": True, "msg": "", "lock_info": {"environment": False},
                    "lock_info_uid": self.status["lock_info_uid"]}
        if method == "queue_item_execute":
            if self.execute_times_out:
                return TransportTimeout("no reply")
            if not self.status["worker_environment_exists"]:
                return {"success": False, "msg": "Failed to start execution of the item: "
                        "RE Worker environment does not exist.", "qsize": None, "item": None}
            return {"success": True, "msg": "", "qsize": 0,
                    "item": {**params["item"], "item_uid": "x1"}}
        return {"success": True, "msg": ""}


async def until(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def make_session(server, latency=0.0):
    transport = FakeTransport(server.handle, latency=latency)
    api = REManagerAPI(transport=transport)
    session = Session(api, use_monitor=False, timing=FAST)
    messages = []
    session.message.connect(lambda level, text: messages.append((level, text)))
    return session, transport, messages


def test_connects_fetches_everything_once_then_only_on_uid_change():
    async def scenario():
        server = Server()
        session, transport, _ = make_session(server)
        await session.start()
        await until(lambda: session.connection is Connection.CONNECTED and session.lock_info)
        await until(lambda: session.history and session.plans_allowed and session.devices_allowed)
        await asyncio.sleep(0.2)  # several watchdog polls with unchanged uids
        fetches = [m for m in transport.methods() if m != "status"]
        assert sorted(fetches) == sorted(["queue_get", "history_get", "plans_allowed",
                                          "devices_allowed", "lock_info"])
        server.status = {**server.status, "plan_queue_uid": "q2"}
        await until(lambda: transport.methods().count("queue_get") == 2)
        assert transport.methods().count("history_get") == 1
        await session.stop()
        assert transport.closed

    asyncio.run(scenario())


def test_goes_offline_then_reconnects_and_refetches():
    async def scenario():
        server = Server()
        session, transport, messages = make_session(server)
        states = []
        session.connection_changed.connect(lambda state, detail: states.append(state))
        await session.start()
        await until(lambda: session.connection is Connection.CONNECTED)
        await until(lambda: session.lock_info is not None)
        server.down = True
        await until(lambda: session.connection is Connection.OFFLINE)
        assert any(level == "error" and "Lost contact" in text for level, text in messages)
        n_queue = transport.methods().count("queue_get")
        # A restarted server has new uids; an unchanged uid would be served from the cache.
        server.status = {**server.status, "plan_queue_uid": "q-restarted"}
        server.down = False
        await until(lambda: session.connection is Connection.CONNECTED)
        await until(lambda: transport.methods().count("queue_get") == n_queue + 1)
        assert states[:3] == [Connection.CONNECTED, Connection.OFFLINE, Connection.CONNECTED]
        await session.stop()

    asyncio.run(scenario())


def test_command_failure_reaches_operator_and_one_click_one_request():
    async def scenario():
        server = Server()
        session, transport, messages = make_session(server, latency=0.05)
        item = {"item_type": "plan", "name": "count", "args": [["det1"]]}
        first = session.execute_now(item)
        second = session.execute_now(item)  # a double click while the first is in flight
        results = await asyncio.gather(first, second)
        assert [r.ok for r in results] == [False, False]
        assert transport.methods().count("queue_item_execute") == 1
        errors = [text for level, text in messages if level == "error"]
        assert any("RE Worker environment does not exist." in e for e in errors)
        assert not session.in_flight

    asyncio.run(scenario())


def test_execute_tracked_to_outcome():
    async def scenario():
        server = Server()
        server.status["worker_environment_exists"] = True
        session, transport, messages = make_session(server)
        outcomes = []
        session.tracker.changed.connect(outcomes.append)
        outcome = await session.execute_now({"item_type": "plan", "name": "count"})
        assert outcome.ok and outcome.result["item"]["item_uid"] == "x1"
        await session.start()
        await until(lambda: outcomes and outcomes[-1].finished)
        assert outcomes[-1].state == "failed"
        assert outcomes[-1].msg == "Plan failed: boom"
        assert outcomes[-1].traceback == "Traceback..."
        await session.stop()

    asyncio.run(scenario())


def test_lost_execute_reply_is_reconciled_not_resent():
    async def scenario():
        server = Server()
        server.execute_times_out = True
        server.running_item = {"name": "count", "item_uid": "r1",
                               "properties": {"immediate_execution": True}}
        session, transport, messages = make_session(server)
        outcome = await session.execute_now({"item_type": "plan", "name": "count"})
        assert outcome.timed_out
        assert transport.methods().count("queue_item_execute") == 1
        assert any("did start count" in text for _, text in messages)
        assert session.tracker.last.uid == "r1"

    asyncio.run(scenario())


def test_tracker_ignores_unrelated_history():
    tracker = ExecutionTracker()
    tracker.started({"item_uid": "u1", "name": "count"})
    tracker.on_history([{"item_uid": "other", "result": {"exit_status": "completed"}}])
    assert tracker.last.state == "submitted"
    tracker.on_status({"running_item_uid": "u1"})
    assert tracker.last.state == "running"
    tracker.on_history([{"item_uid": "u1", "result": {"exit_status": "weird"}}])
    assert tracker.last.state == "unknown" and not tracker.active
