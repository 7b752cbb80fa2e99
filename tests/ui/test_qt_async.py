"""The test harness's own promise (tests/ui/qt_async.py): what a coroutine leaves scheduled runs
inside the loop before ``run`` returns, never later from a bare Qt event processing."""

from __future__ import annotations

import asyncio

from .qt_async import run


def test_callbacks_a_coroutine_leaves_run_inside_the_loop(qapp, qloop) -> None:
    ran: list[asyncio.AbstractEventLoop] = []

    async def leaves_a_callback() -> None:
        asyncio.get_running_loop().call_soon(lambda: ran.append(asyncio.get_running_loop()))

    run(qloop, leaves_a_callback())
    assert ran == [qloop]
    qapp.processEvents()  # what pytest-qt's teardown does: nothing is left to run outside
    assert ran == [qloop]
