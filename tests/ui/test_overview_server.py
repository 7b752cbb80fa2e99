"""Issue 18 against three real RE Managers at once: the overview's tiles in an OverviewWindow.

One server idle (the session sandbox, environment open), one running a long ``count``, one
with the environment closed (two more sandboxes, each its own Redis and ports, for this
module). A failed plan alarms only its own tile, with one notification, until acknowledged; a
killed server's tile goes offline within 2 s while the other two keep updating, and comes back
after a restart; a double-click (or Enter) opens the full window of the right server (the app's
``Rooms``: its own session, on the same loop).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import QSettings, Qt  # noqa: E402

from qs_gui.core.operator_state import StateKind  # noqa: E402
from qs_gui.core.overview import AlarmKind, Overview, zmq_tile_session  # noqa: E402
from qs_gui.core.profiles import AppSettings, Profile  # noqa: E402
from qs_gui.sandbox import Sandbox  # noqa: E402
from qs_gui.ui.notifications import Notifier  # noqa: E402
from qs_gui.ui.overview_tile import headline_words  # noqa: E402
from qs_gui.ui.overview_window import OverviewWindow  # noqa: E402
from qs_gui.ui.profiles_dialog import QSettingsStore  # noqa: E402
from tests.helpers import ensure_env_closed, ensure_env_open, reset_server, wait_status  # noqa: E402

from .qt_async import run, until  # noqa: E402

pytestmark = pytest.mark.server

COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]], "kwargs": {"num": 1}}
#: runs for minutes: the "running" server stays busy through a test
LONG_COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]],
              "kwargs": {"num": 1000, "delay": 0.5}}
#: fails at run time: scan's *args need (motor, start, stop)
BAD_SCAN = {"item_type": "plan", "name": "scan", "args": [["det1"], "motor", -1],
            "kwargs": {"num": 5}}
IDLE, RUNNING, CLOSED = "ID-IDLE", "ID-RUN", "ID-CLOSED"
OFFLINE_WITHIN = 2.0


def add(sb: Sandbox, item: dict) -> None:
    reply = sb.request("queue_item_add", {"item": item, "user": "seed", "user_group": "primary"})
    assert reply["success"], reply


@pytest.fixture(scope="module")
def two_more() -> Iterator[tuple[Sandbox, Sandbox]]:
    """Two more real RE Managers (own Redis and ports) beside the session sandbox."""
    started: list[Sandbox] = []
    try:
        for _ in range(2):
            sb = Sandbox(publish_console=False, open_environment=False)
            started.append(sb)
            sb.start()
        yield started[0], started[1]
    finally:
        for sb in started:
            sb.stop()


@pytest.fixture
def three(env_open: Sandbox, two_more: tuple[Sandbox, Sandbox]) -> Iterator[dict[str, Sandbox]]:
    """{name: sandbox}: idle with the environment open, running a long count, closed."""
    running, closed = two_more
    for sb in (running, closed):
        if not sb.is_running():  # a failed test left it killed
            sb.restart_manager()
        reset_server(sb)
    ensure_env_closed(closed)
    ensure_env_open(running)
    add(running, LONG_COUNT)
    assert running.request("queue_start")["success"]
    wait_status(running, lambda s: s["manager_state"] == "executing_queue"
                and s["running_item_uid"], 30, "the long count running")
    yield {IDLE: env_open, RUNNING: running, CLOSED: closed}
    reset_server(running)


def build(qtbot, servers: dict[str, Sandbox], opened: list[str] | None = None
          ) -> tuple[Overview, OverviewWindow]:  # fmt: skip
    overview = Overview(zmq_tile_session)
    for name, sb in servers.items():
        overview.add(Profile(name, control_addr=sb.control_addr, info_addr=sb.info_addr))
    window = OverviewWindow(overview, open_full=None if opened is None else opened.append)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return overview, window


def shown(window: OverviewWindow, name: str):
    """The state the tile widget shows (the widget's own copy, not the model's)."""
    return window.tile(name).state


async def three_correct(window: OverviewWindow) -> None:
    def right() -> bool:
        idle, busy, closed = (shown(window, n) for n in (IDLE, RUNNING, CLOSED))
        return (idle.state.kind is StateKind.IDLE and idle.environment == "open"
                and busy.state.kind is StateKind.RUNNING_QUEUE and busy.queue == "running"
                and busy.running_name == "count"
                and closed.state.kind is StateKind.ENV_CLOSED and closed.environment == "closed")

    await until(right, 20, message=lambda: {n: (shown(window, n).state.kind,
                                                shown(window, n).running_text)
                                            for n in (IDLE, RUNNING, CLOSED)})


def test_three_servers_three_tiles_and_a_failure_alarms_only_its_tile(qtbot, qloop, three,
                                                                       monkeypatch):
    notified: list = []
    original = Notifier.notify
    monkeypatch.setattr(Notifier, "notify",
                        lambda self, notice: (notified.append(notice), original(self, notice)))
    overview, window = build(qtbot, three)

    async def scenario():
        await overview.start()
        try:
            t0 = time.monotonic()
            await three_correct(window)
            print(f"\nthree correct tiles {time.monotonic() - t0:.2f} s after start")
            for name in (IDLE, RUNNING, CLOSED):
                state = shown(window, name)
                assert state.connection == "connected" and state.alarm is None, (name, state)
                assert window.tile(name).headline.full_text() == headline_words(state)
            assert shown(window, IDLE).queue == "stopped"
            assert shown(window, CLOSED).queue == "stopped"
            assert notified == []
            add(three[IDLE], BAD_SCAN)
            assert three[IDLE].request("queue_start")["success"]
            t1 = time.monotonic()
            await until(lambda: shown(window, IDLE).alarm is not None, 60,
                        message="the failed plan's alarm")
            await until(lambda: shown(window, IDLE).alarm.title
                        == f"{IDLE}: Queue stopped: scan failed", 10,
                        message=lambda: f"the alarm's detail: {shown(window, IDLE).alarm}")
            print(f"failed plan -> alarm with its detail {time.monotonic() - t1:.2f} s")
            alarmed = shown(window, IDLE)
            assert alarmed.alarm.kind is AlarmKind.FAILED and alarmed.role == "alarm"
            assert window.tile(IDLE).alarm_box.isVisible()
            assert "scan failed" in window.tile(IDLE).alarm_label.full_text()
            for name in (RUNNING, CLOSED):  # the others are untouched
                assert shown(window, name).alarm is None and not window.tile(
                    name).alarm_box.isVisible(), name
            assert [n for n, _ in overview.alarms] == [IDLE]
            await asyncio.sleep(1.5)  # more pushes: still one notification
            assert [a.kind for a in notified] == [AlarmKind.FAILED], notified
            assert notified[0].title.startswith(f"{IDLE}: ")
            qtbot.mouseClick(window.tile(IDLE).ack_button, Qt.LeftButton)
            await until(lambda: shown(window, IDLE).alarm is None, 5, message="acknowledged")
            assert shown(window, IDLE).role != "alarm" and overview.alarms == []
            assert not window.tile(IDLE).alarm_box.isVisible()
            assert len(notified) == 1
            assert shown(window, RUNNING).state.kind is StateKind.RUNNING_QUEUE
        finally:
            await overview.stop()

    run(qloop, scenario(), timeout=150)


def test_a_killed_server_goes_offline_others_keep_updating_and_it_comes_back(qtbot, qloop,
                                                                            three):
    overview, window = build(qtbot, three)
    offline_at: list[float] = []
    overview.tile_changed.connect(lambda name, state: name == CLOSED and not offline_at
                                  and state.connection == "offline"
                                  and offline_at.append(time.monotonic()))

    async def reaches(name: str, sb: Sandbox) -> float:
        """Another client adds an item; seconds until the tile shows the new length."""
        before = shown(window, name).queue_length
        t = time.monotonic()
        await asyncio.to_thread(add, sb, COUNT)
        await until(lambda: shown(window, name).queue_length == before + 1, 5,
                    message=f"{name}: queue length {before + 1}")
        return time.monotonic() - t

    async def scenario():
        await overview.start()
        try:
            await three_correct(window)
            killed = time.monotonic()
            await asyncio.to_thread(three[CLOSED].kill_manager)
            await until(lambda: offline_at, 10, message="the killed server's tile offline")
            took = offline_at[0] - killed
            await until(lambda: shown(window, CLOSED).connection == "offline", 1,
                        message="the widget shows offline")
            assert shown(window, CLOSED).alarm.kind is AlarmKind.OFFLINE
            # while it is dead, the other two still follow their servers
            idle_s = await reaches(IDLE, three[IDLE])
            busy_s = await reaches(RUNNING, three[RUNNING])
            assert shown(window, CLOSED).connection == "offline"
            assert shown(window, IDLE).alarm is None and shown(window, RUNNING).alarm is None
            t = time.monotonic()
            await asyncio.to_thread(three[CLOSED].restart_manager)
            await until(lambda: shown(window, CLOSED).connection == "connected"
                        and shown(window, CLOSED).state.kind is StateKind.ENV_CLOSED, 15,
                        message="back after the restart")
            back = time.monotonic() - t
            print(f"\nkill -> offline tile {took:.2f} s; others updated in {idle_s:.2f} / "
                  f"{busy_s:.2f} s; restart -> connected tile {back:.2f} s")
            assert took < OFFLINE_WITHIN, f"offline {took:.2f} s after the kill"
            assert max(idle_s, busy_s) < 2.0, (idle_s, busy_s)
            alarm = shown(window, CLOSED).alarm
            assert alarm.kind is AlarmKind.OFFLINE and alarm.over
            overview.acknowledge(CLOSED)
            await until(lambda: shown(window, CLOSED).alarm is None, 5, message="acknowledged")
        finally:
            await overview.stop()

    run(qloop, scenario(), timeout=150)


@pytest.fixture
def keep_running(qapp) -> Iterator[None]:
    """Closing the last window must not stop the loop before the sessions have stopped."""
    qapp.setQuitOnLastWindowClosed(False)
    yield
    qapp.setQuitOnLastWindowClosed(True)


def test_double_click_opens_the_full_window_of_that_server(qtbot, qloop, three, tmp_path,
                                                           keep_running):
    """The app's Rooms: a double-click on a tile opens a full MainWindow with its own session
    on that tile's server; Enter on another opens that one's; closing them leaves the
    overview running."""
    from qs_gui.app import Rooms
    from qs_gui.ui.main_window import MainWindow

    qsettings = QSettings(str(tmp_path / "qs-gui.ini"), QSettings.IniFormat)
    profiles = [Profile(n, control_addr=sb.control_addr, info_addr=sb.info_addr)
                for n, sb in three.items()]
    rooms = Rooms(qloop, AppSettings(QSettingsStore(qsettings)), qsettings, title="qs-gui",
                  timeout=None, profiles=lambda: profiles)

    async def scenario():
        window = rooms.open_overview()
        try:
            await three_correct(window)
            qtbot.mouseDClick(window.tile(RUNNING), Qt.LeftButton)
            full = rooms.full[RUNNING]
            assert isinstance(full, MainWindow) and full.isVisible()
            assert full.session is not rooms.overview.tile(RUNNING).session
            assert full.session.address == three[RUNNING].control_addr
            running_uid = three[RUNNING].request("status")["running_item_uid"]
            await until(lambda: full.session.status is not None
                        and full.session.status.get("running_item_uid") == running_uid, 10,
                        message="the full window follows the running server")
            window.tile(CLOSED).setFocus()
            qtbot.keyClick(window.tile(CLOSED), Qt.Key_Return)
            other = rooms.full[CLOSED]
            assert other is not full and other.session.address == three[CLOSED].control_addr
            await until(lambda: other.session.status is not None
                        and other.session.status.get("worker_environment_exists") is False, 10,
                        message="the closed server's full window")
            assert set(rooms.full) == {RUNNING, CLOSED}
            full.close()
            other.close()
            await until(lambda: not rooms.full, 10, message="full windows closed")
            await asyncio.to_thread(add, three[IDLE], COUNT)  # the overview still follows
            await until(lambda: shown(window, IDLE).queue_length == 1, 5,
                        message="the overview after the full windows closed")
        finally:
            await rooms.stop()
        assert rooms.overview_window is None and not rooms.full

    run(qloop, scenario(), timeout=90)
