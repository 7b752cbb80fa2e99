"""pytest-qt + qasync plumbing (Pattern A): a fresh qasync loop per test, driven by the test.

Never call qtbot.wait* inside a coroutine on the loop (it nests Qt event loops); await ``until``.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Any

import pytest
import zmq.asyncio


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
    try:
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))
    finally:
        loop.run_until_complete(_settle())


async def _settle() -> None:
    """Let the callbacks the coroutine left scheduled run now, inside the loop. qasync queues
    them as Qt timers, and pytest-qt's teardown processes Qt events with no asyncio loop
    running: a WebSocket connect cancelled as a session stopped then ran its
    ``connection_made`` outside the loop ("no running event loop", seen once in CI)."""
    for _ in range(3):
        await asyncio.sleep(0)


#: zmq.asyncio contexts created while a qloop runs. A context that a test leaves open (a session
#: not stopped on a failure path) would otherwise be destroyed by the garbage collector after its
#: loop is closed; closing its asyncio sockets then, and terminating it, once blocked a whole run
#: at exit (zmq Context.__del__ -> term() during pytest's terminal summary).
_ASYNC_CONTEXTS: weakref.WeakSet = weakref.WeakSet()
_context_init = zmq.asyncio.Context.__init__


def _tracked_init(self, *args: Any, **kwargs: Any) -> None:
    _context_init(self, *args, **kwargs)
    if not getattr(self, "_shadow", False):
        _ASYNC_CONTEXTS.add(self)


zmq.asyncio.Context.__init__ = _tracked_init


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
    for ctx in list(_ASYNC_CONTEXTS):  # while the loop can still unregister their sockets
        if not ctx.closed:
            ctx.destroy(linger=0)
    _ASYNC_CONTEXTS.clear()
    loop.close()
    asyncio.set_event_loop(None)
    assert not errors, errors
