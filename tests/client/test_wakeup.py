"""client/wakeup.py: a sleep that ends on set() or a timeout and never loses a cancel.

The reason it exists is the cancel test: with ``asyncio.wait_for(event.wait(), 10)`` on Python
3.11 the same sequence returns normally ("went on") and the cancelled task keeps running."""

from __future__ import annotations

import asyncio

import pytest

from qs_gui.client.wakeup import Wakeup


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_set_wakes_every_sleeper_and_a_timeout_says_false() -> None:
    async def scenario():
        wake = Wakeup()
        sleepers = [asyncio.ensure_future(wake.sleep(5)) for _ in range(3)]
        await asyncio.sleep(0)
        wake.set()
        assert await asyncio.gather(*sleepers) == [True, True, True]
        assert await wake.sleep(0.01) is False
        assert await wake.sleep(0) is False

    run(scenario())


def test_a_set_with_nobody_asleep_is_not_remembered() -> None:
    async def scenario():
        wake = Wakeup()
        wake.set()
        assert await wake.sleep(0.01) is False

    run(scenario())


def test_a_cancel_in_the_same_iteration_as_set_is_never_lost() -> None:
    async def scenario():
        wake = Wakeup()

        async def sleeper() -> str:
            await wake.sleep(10)
            return "went on"

        task = asyncio.ensure_future(sleeper())
        await asyncio.sleep(0)
        wake.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not wake._waiters  # nothing left behind

    run(scenario())


def test_no_limit_sleeps_until_set() -> None:
    async def scenario():
        wake = Wakeup()
        task = asyncio.ensure_future(wake.sleep(None))
        await asyncio.sleep(0.02)
        assert not task.done()
        wake.set()
        assert await task is True

    run(scenario())
