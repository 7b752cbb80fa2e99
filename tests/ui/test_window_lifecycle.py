"""Closing a window lets go of everything: 20 windows opened and closed on one session and one
loop leave no handler on the session's events and no command task running."""

from __future__ import annotations

import asyncio
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qs_gui.client import REManagerAPI  # noqa: E402
from qs_gui.core.gates import Action, Connection  # noqa: E402
from qs_gui.core.session import Session, Timing  # noqa: E402
from qs_gui.ui.main_window import MainWindow  # noqa: E402
from tests.client.fakes import FakeTransport, status_reply  # noqa: E402

from .qt_async import run, until  # noqa: E402

FAST = Timing(watchdog_after=0.05, stale_after=5.0, poll_timeout=0.2, backoff=(0.02, 0.05))


def handler_count(session: Session) -> int:
    return sum(len(event._handlers) for event in
               [*session.events.all(), session.tracker.changed])  # fmt: skip


@pytest.fixture
def app_stays(qapp):
    """As in the app: closing the last window does not quit Qt (and stop the loop under us)."""
    qapp.setQuitOnLastWindowClosed(False)
    yield qapp
    qapp.setQuitOnLastWindowClosed(True)


def test_twenty_windows_leave_no_handler_or_task(app_stays, qtbot, qloop) -> None:
    status = status_reply()
    started = asyncio.Event()

    def handle(method: str, params: dict):
        if method == "status":
            return dict(status)
        return {"success": True, "msg": "", "items": [], "running_item": {},
                "plans_allowed": {}, "devices_allowed": {}, "lock_info": None}

    transport = FakeTransport(handle, latency=0.0)
    api = REManagerAPI(transport=transport)
    session = Session(api, use_monitor=False, timing=FAST)
    baseline = handler_count(session)

    async def slow_open(*_args, **_kwargs):
        started.set()
        await asyncio.sleep(3600)  # a request the window is still waiting for when it closes

    api.environment_open = slow_open

    async def scenario() -> None:
        await session.start()
        await until(lambda: session.connection is Connection.CONNECTED, 5)
        for n in range(20):
            window = MainWindow(session)
            qtbot.addWidget(window)
            window.show()
            assert handler_count(session) > baseline
            if n % 5 == 0:  # every fifth window closes with a command still in flight
                started.clear()
                window.refresh_gates()
                window.registry[Action.ENV_OPEN].trigger()
                await until(started.is_set, 5, message="environment_open sent")
                assert window.commands.pending() == 1
            window.close()
            await asyncio.sleep(0)  # let the cancellation run
            assert window.commands.pending() == 0, f"window {n}: a command survived"
            assert handler_count(session) == baseline, f"window {n} left handlers behind"
            assert not session.in_flight  # the cancelled command let go of its gate
        await session.stop()

    run(qloop, scenario(), 60)
