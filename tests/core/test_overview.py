"""The overview's Qt-free core: status-only sessions, TileModel, Overview, OverviewLog.

A scripted server behind the fake transport (no sockets): status polls every 50 ms stand in for
pushes, so every step waits on a condition, never on a sleep."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from qs_gui.client import REManagerAPI
from qs_gui.client.transport import TransportTimeout
from qs_gui.core.fetching import RUNNING_READ_LIMIT
from qs_gui.core.gates import Connection
from qs_gui.core.history_policy import HistoryPolicy
from qs_gui.core.operator_state import StateKind
from qs_gui.core.overview import (
    NOT_READ,
    AlarmKind,
    Overview,
    OverviewLog,
    TileModel,
    TileState,
)
from qs_gui.core.profiles import Profile
from qs_gui.core.progress import Progress
from qs_gui.core.session import TILE_FETCH, Session, Timing
from tests.client.fakes import FakeTransport, status_reply

FAST = Timing(watchdog_after=0.05, stale_after=1.0, poll_timeout=0.05, backoff=(0.02, 0.05))


class Beamline:
    """A scriptable RE Manager behind a FakeTransport: status, lock_info, history, queue."""

    def __init__(self) -> None:
        self.status = status_reply(worker_environment_exists=True, items_in_queue=2)
        self.history: list[dict] = []
        self.queue = [{"name": "count", "item_uid": f"q{i}"} for i in range(2)]
        self.running: dict = {}
        self.lock_info: dict = {"environment": False, "queue": False}
        self.down = False
        self._n = 0

    def handle(self, method: str, params: dict) -> Any:
        if self.down:
            return TransportTimeout("no reply")
        s = self.status
        if method == "status":
            return dict(s)
        if method == "lock_info":
            return {"success": True, "msg": "", "lock_info": self.lock_info,
                    "lock_info_uid": s["lock_info_uid"]}
        if method == "history_get":
            return {"success": True, "msg": "", "items": self.history,
                    "plan_history_uid": s["plan_history_uid"]}
        if method == "queue_get":
            return {"success": True, "msg": "", "items": self.queue,
                    "running_item": self.running, "plan_queue_uid": s["plan_queue_uid"]}
        return {"success": False, "msg": f"not here: {method}"}

    def uid(self) -> str:
        self._n += 1
        return f"u{self._n}"

    def update(self, *uids: str, **fields: Any) -> None:
        self.status = {**self.status, **fields, **{k: self.uid() for k in uids},
                       "status_uid": self.uid()}

    def run(self, name: str = "scan") -> str:
        item = {"name": name, "item_uid": self.uid()}
        self.running = item
        self.queue = self.queue[1:]
        self.update("plan_queue_uid", manager_state="executing_queue", re_state="running",
                    running_item_uid=item["item_uid"], items_in_queue=len(self.queue))
        return item["item_uid"]

    def end(self, exit_status: str, msg: str = "") -> None:
        item = dict(self.running)
        self.history = [*self.history, {**item, "result": {"exit_status": exit_status,
                                                           "msg": msg, "traceback": ""}}]
        if exit_status in ("failed", "aborted", "halted"):
            self.queue = [{**item, "item_uid": self.uid()}, *self.queue]
        self.running = {}
        self.update("plan_queue_uid", "plan_history_uid", manager_state="idle",
                    re_state="idle", running_item_uid=None, items_in_queue=len(self.queue),
                    items_in_history=len(self.history))


async def until(predicate, timeout: float = 3.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not met in time"
        await asyncio.sleep(0.01)


def tile_for(server: Beamline, name: str = "ID12", **kwargs: Any):
    transport = FakeTransport(server.handle)
    session = Session(REManagerAPI(transport=transport), use_monitor=False, timing=FAST,
                      fetch=TILE_FETCH)
    tile = TileModel(session, Profile(name, colour="#aa2200"), **kwargs)
    states: list[TileState] = []
    alarms: list = []
    log: list[tuple[str, str]] = []
    tile.changed.connect(states.append)
    tile.notify.connect(alarms.append)
    tile.logged.connect(lambda text, level: log.append((level, text)))
    return tile, session, transport, states, alarms, log


def test_status_only_session_reads_no_queue_plans_or_devices():
    async def scenario():
        server = Beamline()
        tile, session, transport, states, _, _ = tile_for(server)
        await session.start()
        await until(lambda: session.connection is Connection.CONNECTED and session.lock_info)
        await until(lambda: tile.state.state.kind is StateKind.IDLE)
        await until(lambda: transport.methods().count("history_get") == 1)
        for _ in range(5):  # several polls, nothing changes: nothing else is read
            polls = transport.methods().count("status")
            await until(lambda p=polls: transport.methods().count("status") > p)
        assert set(transport.methods()) == {"status", "lock_info", "history_get"}
        state = tile.state
        assert (state.name, state.colour, state.connection) == ("ID12", "#aa2200", "connected")
        assert (state.environment, state.queue, state.queue_length) == ("open", "stopped", 2)
        assert state.running_text == "" and state.alarm is None
        # the running item's name: one queue_get per running item, not per queue change
        server.run("grid_scan")
        await until(lambda: tile.state.running_name == "grid_scan")
        assert tile.state.running_text == "grid_scan"
        assert tile.state.queue == "running" and tile.state.queue_length == 1
        assert "grid_scan" in tile.state.state.headline
        server.update("plan_queue_uid", items_in_queue=1)  # another client edits the queue
        polls = transport.methods().count("status")
        await until(lambda: transport.methods().count("status") > polls + 3)
        assert transport.methods().count("queue_get") == 1
        assert "plans_allowed" not in transport.methods()
        assert "devices_allowed" not in transport.methods()
        await session.stop()

    asyncio.run(scenario())


def test_long_queue_running_name_not_read():
    async def scenario():
        server = Beamline()
        tile, session, transport, _, _, _ = tile_for(server)
        await session.start()
        await until(lambda: tile.state.state.kind is StateKind.IDLE)
        big = int(RUNNING_READ_LIMIT / 25e-6) + 1000  # over the limit at the assumed cost
        server.run("scan")
        server.update(items_in_queue=big)
        await until(lambda: tile.state.running_text == "a plan (name not read)")
        assert session.running_name_skipped and f"{big:,} items" in session.running_name_skipped
        assert "queue_get" not in transport.methods()
        # the document stream names it (and gives progress) when one is configured
        tile.set_progress(Progress("run1", 7, "scan", 5, 10, 3.0, 2.5))
        await until(lambda: tile.state.running_name == "scan")
        assert (tile.state.progress, tile.state.eta) == (0.5, 2.5)
        await session.stop()

    asyncio.run(scenario())


def test_history_withheld_last_outcome_not_read_until_asked():
    async def scenario():
        server = Beamline()
        server.history = [{"name": "count", "item_uid": "h1",
                           "result": {"exit_status": "completed"}}]
        server.update(items_in_history=100_000)  # too costly to read automatically
        tile, session, transport, _, _, _ = tile_for(server)
        await session.start()
        await until(lambda: session.history_withheld is not None)
        await until(lambda: tile.state.outcome.kind == "unread")
        outcome = tile.state.outcome
        assert outcome.text == NOT_READ and outcome.can_read and "100,000" in outcome.reason
        assert "history_get" not in transport.methods()
        session.load_history_now()  # the operator's explicit choice
        await until(lambda: tile.state.outcome.kind == "completed")
        assert tile.state.outcome.text == "count completed" and tile.state.outcome.role == "ok"
        assert transport.methods().count("history_get") == 1
        await session.stop()

    asyncio.run(scenario())


def test_failed_item_alarm_once_notified_logged_and_acknowledged():
    async def scenario():
        server = Beamline()
        tile, session, transport, states, alarms, log = tile_for(server)
        await session.start()
        await until(lambda: tile.state.state.kind is StateKind.IDLE)
        server.run("scan")
        await until(lambda: tile.state.running_name == "scan")
        server.end("failed", "Plan failed: motor out of limits")
        await until(lambda: tile.state.outcome.kind == "failed")
        await until(lambda: tile.state.alarm is not None
                    and "motor out of limits" in tile.state.alarm.text)
        alarm = tile.state.alarm
        assert alarm.kind is AlarmKind.FAILED and alarm.title == "ID12: Queue stopped: scan failed"
        assert tile.state.role == "alarm" and not tile.state.acknowledged
        assert len(alarms) == 1, alarms  # one notification, even once the detail came
        assert alarms[0].level == "error" and alarms[0].title.startswith("ID12: ")
        assert any(level == "error" and "scan" in text for level, text in log)
        assert tile.state.outcome.text == "scan failed: Plan failed: motor out of limits"
        tile.acknowledge()
        await until(lambda: tile.state.alarm is None)
        assert session.alarm is None and tile.state.state.kind is StateKind.IDLE
        assert len(alarms) == 1
        # a later alarm takes the tile's place; acknowledging the tile clears the failure too
        server.run("scan")
        await until(lambda: tile.state.running_name == "scan")
        server.end("failed", "again")
        await until(lambda: tile.state.alarm is not None and "again" in tile.state.alarm.text)
        server.down = True
        await until(lambda: tile.state.alarm.kind is AlarmKind.OFFLINE)
        server.down = False
        await until(lambda: tile.state.connection == "connected")
        assert tile.state.state.kind is StateKind.FAILED
        tile.acknowledge()
        await until(lambda: tile.state.alarm is None)
        assert session.alarm is None and tile.state.state.kind is StateKind.IDLE
        assert len(alarms) == 3
        await session.stop()

    asyncio.run(scenario())


def test_failure_alarm_fires_from_the_status_alone_when_the_history_is_withheld():
    async def scenario():
        server = Beamline()
        server.update(items_in_history=100_000)
        tile, session, transport, _, alarms, _ = tile_for(server)
        await session.start()
        await until(lambda: tile.state.state.kind is StateKind.IDLE)
        server.run("scan")
        await until(lambda: tile.state.running_name == "scan")
        server.end("failed", "boom")
        server.update(items_in_history=100_001)
        await until(lambda: tile.state.alarm is not None)
        assert tile.state.alarm.kind is AlarmKind.FAILED
        assert "scan" in tile.state.alarm.title and "history read" in tile.state.alarm.text
        assert tile.state.outcome.kind == "unread"
        assert "history_get" not in transport.methods() and len(alarms) == 1
        await session.stop()

    asyncio.run(scenario())


def test_a_push_that_changes_nothing_emits_nothing():
    async def scenario():
        server = Beamline()
        clock = [1000.0]
        tile, session, transport, states, _, _ = tile_for(server, clock=lambda: clock[0])
        await session.start()
        await until(lambda: tile.state.state.kind is StateKind.IDLE and session.lock_info)
        await until(lambda: transport.methods().count("history_get") == 1)
        polls = transport.methods().count("status")
        await until(lambda: transport.methods().count("status") > polls + 2)
        emitted = tile.emitted
        for _ in range(10):  # the time and status_uid change on every push; nothing else
            server.status = {**server.status, "time": time.time(),
                             "status_uid": server.uid()}
            polls = transport.methods().count("status")
            await until(lambda p=polls: transport.methods().count("status") > p)
        await asyncio.sleep(0)
        assert tile.emitted == emitted, states[emitted:]
        assert tile.state.changed_at == 1000.0
        clock[0] = 1012.5
        assert tile.seconds_since_change() == 12.5
        server.update(items_in_queue=7)  # a real change: one emission, the time moves
        await until(lambda: tile.state.queue_length == 7)
        assert tile.state.changed_at == 1012.5 and tile.emitted == emitted + 1
        await session.stop()

    asyncio.run(scenario())


def test_unexpected_pause_and_environment_closing_while_running_alarm():
    async def scenario():
        server = Beamline()
        tile, session, _, _, alarms, log = tile_for(server)
        await session.start()
        await until(lambda: tile.state.state.kind is StateKind.IDLE)
        server.run("scan")
        await until(lambda: tile.state.queue == "running")
        server.update(manager_state="paused", re_state="paused")
        await until(lambda: tile.state.alarm is not None)
        assert tile.state.alarm.kind is AlarmKind.PAUSED and tile.state.role == "attention"
        assert tile.state.queue == "paused" and len(alarms) == 1
        tile.acknowledge()  # seen while still paused: it stays, quietly
        await until(lambda: tile.state.acknowledged)
        assert tile.state.alarm is not None and tile.state.role == "attention"  # paused: amber
        server.update(manager_state="executing_queue", re_state="running")
        await until(lambda: tile.state.alarm is None)  # seen and over: gone
        # the environment is destroyed while the queue runs
        server.update(manager_state="destroying_environment",
                      worker_environment_state="closing")
        await until(lambda: tile.state.environment == "closing")
        server.running = {}
        server.update(manager_state="idle", worker_environment_exists=False,
                      worker_environment_state="closed", running_item_uid=None, re_state=None)
        await until(lambda: tile.state.alarm is not None)
        assert tile.state.alarm.kind is AlarmKind.ENV_CLOSED and tile.state.role == "alarm"
        assert "while the queue was running" in tile.state.alarm.text
        assert tile.state.environment == "closed" and len(alarms) == 2
        server.update(worker_environment_exists=True, worker_environment_state="idle")
        await until(lambda: tile.state.alarm.over)  # over, but latched until acknowledged
        assert not tile.state.acknowledged and tile.state.role == "alarm"
        tile.acknowledge()
        await until(lambda: tile.state.alarm is None)
        # a requested close while nothing runs: a log entry, no alarm
        server.update(manager_state="closing_environment", worker_environment_state="closing")
        await until(lambda: tile.state.environment == "closing")
        server.update(manager_state="idle", worker_environment_exists=False,
                      worker_environment_state="closed")
        await until(lambda: tile.state.environment == "closed")
        await until(lambda: any("closed on request" in text for _, text in log))
        assert tile.state.alarm is None and len(alarms) == 2
        await session.stop()

    asyncio.run(scenario())


def test_offline_alarm_then_back():
    async def scenario():
        server = Beamline()
        tile, session, _, _, alarms, log = tile_for(server)
        await session.start()
        await until(lambda: tile.state.connection == "connected")
        server.down = True
        t0 = time.monotonic()
        await until(lambda: tile.state.connection == "offline", timeout=2.0)
        assert time.monotonic() - t0 < 2.0
        assert tile.state.alarm.kind is AlarmKind.OFFLINE and tile.state.role == "alarm"
        assert tile.state.state.kind is StateKind.OFFLINE and tile.state.environment == "unknown"
        assert tile.state.queue == "unknown" and tile.state.queue_length == 2  # the last known
        assert len(alarms) == 1
        server.down = False
        await until(lambda: tile.state.connection == "connected")
        await until(lambda: tile.state.alarm.over)
        assert "Now back at" in tile.state.alarm.text and tile.state.role == "alarm"
        assert any("Back online" in text for _, text in log)
        tile.acknowledge()
        await until(lambda: tile.state.alarm is None)
        await session.stop()

    asyncio.run(scenario())


def test_lock_who_and_note_from_lock_info():
    async def scenario():
        server = Beamline()
        tile, session, transport, _, _, _ = tile_for(server)
        await session.start()
        await until(lambda: tile.state.state.kind is StateKind.IDLE)
        server.lock_info = {"environment": True, "queue": False, "user": "alice",
                            "note": "beam tuning"}
        server.update("lock_info_uid", lock={"environment": True, "queue": False})
        await until(lambda: tile.state.lock_user == "alice")
        assert tile.state.locked and tile.state.lock_note == "beam tuning"
        assert tile.state.lock_text == "Environment locked by alice: beam tuning"
        assert transport.methods().count("lock_info") == 2
        await session.stop()

    asyncio.run(scenario())


def test_overview_layout_alarms_log_and_acknowledge_all():
    async def scenario():
        servers = {n: Beamline() for n in ("A", "B", "C")}
        sessions = {}

        def factory(profile: Profile) -> Session:
            transport = FakeTransport(servers[profile.name].handle)
            sessions[profile.name] = Session(REManagerAPI(transport=transport),
                                             use_monitor=False, timing=FAST, fetch=TILE_FETCH)
            return sessions[profile.name]

        overview = Overview(factory)
        notified = []
        overview.notify.connect(notified.append)
        for name in servers:
            overview.add(Profile(name))
        assert all(s.fetch == TILE_FETCH for s in sessions.values())
        await overview.start()
        await until(lambda: all(t.state.state.kind is StateKind.IDLE
                                for t in overview.tiles.values()))
        servers["B"].down = True
        servers["C"].run("scan")
        await until(lambda: overview.tiles["C"].state.running_name == "scan")
        servers["C"].end("failed", "boom")
        await until(lambda: len(overview.alarms) == 2)
        assert {n for n, _ in overview.alarms} == {"B", "C"}
        assert overview.tiles["A"].state.alarm is None
        assert len(notified) == 2
        beamlines = [e.beamline for e in overview.log]
        assert "B" in beamlines and "C" in beamlines and "A" not in beamlines
        overview.acknowledge_all()
        await until(lambda: not overview.alarms)
        # layout: pinned first, hidden left out, saved and restored as plain data
        overview.set_pinned("C", True)
        overview.set_hidden("A", True)
        assert overview.visible() == ["C", "B"]
        overview.move("B", 0)
        saved = overview.layout()
        assert saved[0] == {"name": "B", "hidden": False, "pinned": False}
        other = Overview(factory)
        other.restore_layout(saved)
        assert other.visible() == ["C", "B"]
        await overview.remove("C")
        assert overview.visible() == ["B"] and "C" not in overview.tiles
        assert sessions["C"].supervisor.running is False
        await overview.stop()

    asyncio.run(scenario())


def test_fetch_categories_are_checked_and_the_queue_names_the_running_item_itself():
    api = REManagerAPI(transport=FakeTransport(Beamline().handle))
    try:
        Session(api, fetch=frozenset({"history", "queues"}))
        raise AssertionError("an unknown category was accepted")
    except ValueError as ex:
        assert "queues" in str(ex)
    full = Session(api)
    assert full.fetch == frozenset({"queue", "history", "plans", "devices", "lock"})
    both = Session(api, fetch=frozenset({"queue", "running"}))
    assert both.fetch == frozenset({"queue"})  # the queue read already names it


def test_overview_log_is_bounded_and_announces_entries():
    log = OverviewLog(max_entries=3)
    seen = []
    log.added.connect(seen.append)
    for i in range(5):
        log.add(float(i), "ID12", f"event {i}", "warning")
    assert [e.text for e in log] == ["event 2", "event 3", "event 4"] and len(log) == 3
    assert len(seen) == 5 and seen[-1].beamline == "ID12" and seen[-1].level == "warning"


def test_running_name_reads_are_spaced_by_the_duty_rule():
    async def scenario():
        server = Beamline()
        transport = FakeTransport(server.handle, latency=0.01)
        session = Session(REManagerAPI(transport=transport), use_monitor=False, timing=FAST,
                          fetch=TILE_FETCH)
        # every read "costs" 10 ms; at a 2 % duty the next may go 0.5 s after the last one
        session.fetcher.running_policy = HistoryPolicy(safety_limit=1.0, duty=0.02)
        tile = TileModel(session, Profile("ID12"))
        await session.start()
        await until(lambda: tile.state.state.kind is StateKind.IDLE)
        server.run("first")
        await until(lambda: tile.state.running_name == "first")
        read_at = time.monotonic()
        server.run("second")
        await until(lambda: tile.state.running_uid == server.running["item_uid"])
        assert tile.state.running_text == "a plan"  # not skipped: read a little later
        await until(lambda: tile.state.running_name == "second", timeout=3.0)
        assert time.monotonic() - read_at >= 0.4
        assert transport.methods().count("queue_get") == 2
        await session.stop()

    asyncio.run(scenario())
