"""Building and driving main windows for the reliability scenarios (Pattern A, qasync)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from qs_gui.client import REManagerAPI
from qs_gui.core.gates import Action, Connection
from qs_gui.core.session import Session, Timing
from qs_gui.ui.main_window import MainWindow
from tests.ui.qt_async import until

COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]],
         "kwargs": {"num": 2, "delay": 0.1}}


def make_window(qtbot, control: str, info: str | None = None, *, monitor: bool = False,
                timing: Timing | None = None, user: str = "reliability", **api_kwargs: Any
                ) -> MainWindow:
    api = REManagerAPI(zmq_control_addr=control, zmq_info_addr=info or control,
                       read_only=monitor, **api_kwargs)
    api.user, api.user_group = user, "primary"
    window = MainWindow(Session(api, use_monitor=info is not None, timing=timing),
                        monitor_mode=monitor)
    qtbot.addWidget(window)
    window.show()
    return window


async def started(window: MainWindow, *, plans: bool = True, timeout: float = 10) -> MainWindow:
    await window.session.start()
    await until(lambda: window.session.connection is Connection.CONNECTED, timeout,
                message="connected")
    if plans:
        await until(lambda: window.session.plans_allowed, timeout, message="plans loaded")
    return window


def action(window: MainWindow, name: Action):
    return window.registry[name]


async def trigger(window: MainWindow, name: Action, timeout: float = 15.0) -> None:
    """Trigger an action as a click would, and wait until its request is answered."""
    window.refresh_gates()
    qaction = action(window, name)
    assert qaction.isEnabled(), f"{name.value} disabled: {qaction.toolTip()}"
    qaction.trigger()
    await asyncio.sleep(0)
    await until(lambda: not window.session.in_flight, timeout, message=f"{name.value} answered")


def internal_errors(window: MainWindow) -> list[str]:
    return [m for m in window.messages.messages("error") if "Internal error" in m]


def indicator_text(window: MainWindow) -> str:
    return window.indicator.text()


async def sample_while(seconds: float, every: float, fn) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        fn()
        await asyncio.sleep(every)
