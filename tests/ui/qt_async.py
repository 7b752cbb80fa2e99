"""pytest-qt + qasync plumbing (Pattern A): a fresh qasync loop per test, driven by the test.

Never call qtbot.wait* inside a coroutine on the loop (it nests Qt event loops); await ``until``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest


async def until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01,
                message: str | Callable[[], str] = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout} s waiting for: {text}")
        await asyncio.sleep(interval)


def run(loop: asyncio.AbstractEventLoop, coro: Any, timeout: float = 60.0) -> Any:
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


@pytest.fixture
def qloop(qapp, qtbot):
    """A qasync loop for one test; torn down before pytest-qt deletes the widgets."""
    import qasync

    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    errors: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
    asyncio.set_event_loop(None)
    assert not errors, errors
