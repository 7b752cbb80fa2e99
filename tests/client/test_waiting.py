"""wait_for_* and WaitMonitor: the reference's timeout and cancel semantics, polled from the
wait itself (an injected fake transport stands in for the server)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from qs_gui.client import REManagerAPI, RequestTimeoutError, WaitMonitor
from qs_gui.client.exceptions import RequestParameterError, WaitCancelError, WaitTimeoutError
from qs_gui.client.waiting import pick_completed_tasks

from .fakes import TIMEOUT, FakeTransport, status_reply

reference = pytest.importorskip("bluesky_queueserver_api")

PERIOD = 0.02  # status_polling_period


def run(coro, timeout: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def client(states, **extra):
    """A client whose n-th status request gets ``states[n]`` (the last one repeats); a state
    that is an exception is raised instead."""
    seen = {"n": 0}

    def handler(method, params):
        if method == "status":
            state = states[min(seen["n"], len(states) - 1)]
            seen["n"] += 1
            if isinstance(state, Exception):
                return state
            return status_reply(manager_state=state, **extra)
        return extra.get(method, {"success": True, "msg": ""})

    transport = FakeTransport(handler)
    return REManagerAPI(transport=transport, status_polling_period=PERIOD), transport, seen


def test_returns_once_the_condition_holds():
    async def scenario():
        rm, transport, seen = client(["executing_queue", "executing_queue", "paused"])
        await rm.wait_for_idle_or_paused(timeout=5)
        assert seen["n"] == 3 and set(transport.methods()) == {"status"}
        rm, _, seen = client(["idle"])
        await rm.wait_for_idle(timeout=0)  # checked at once, not after one polling period
        assert seen["n"] == 1

    run(scenario())


def test_lost_status_replies_are_polled_through_until_the_timeout():
    async def scenario():
        rm, _, seen = client([TIMEOUT("no reply (timeout occurred)")])
        t0 = time.monotonic()
        with pytest.raises(WaitTimeoutError, match="Timeout while waiting for condition"):
            await rm.wait_for_idle(timeout=0.3)
        assert 0.3 <= time.monotonic() - t0 < 1.0 and seen["n"] > 3
        rm, _, _ = client([TIMEOUT("lost"), TIMEOUT("lost"), "idle"])
        await rm.wait_for_idle(timeout=5)  # a server that comes back ends the wait

    run(scenario())


def test_the_status_read_at_the_deadline_is_still_judged():
    """As the reference (which judges the first status loaded after the deadline): a condition
    that holds in the status read at the deadline ends the wait without WaitTimeoutError."""

    async def scenario():
        timeout = 0.2
        t0 = time.monotonic()

        def handler(method, params):
            late = time.monotonic() - t0 >= timeout
            return status_reply(manager_state="paused" if late else "executing_queue")

        rm = REManagerAPI(transport=FakeTransport(handler, latency=0.005),
                          status_polling_period=PERIOD)
        await rm.wait_for_idle_or_paused(timeout=timeout)
        assert time.monotonic() - t0 < timeout + 2 * PERIOD + 0.5

    run(scenario())


@pytest.mark.parametrize("make_monitor", [WaitMonitor, reference.WaitMonitor],
                         ids=["ours", "reference"])
def test_cancel_ends_the_wait_and_progress_is_reported(make_monitor):
    async def scenario():
        monitor = make_monitor()
        rm, _, seen = client(["executing_queue"])
        task = asyncio.ensure_future(rm.wait_for_idle(timeout=30, monitor=monitor))
        while seen["n"] < 3:  # the wait is polling
            await asyncio.sleep(0)
        assert monitor.timeout == 30 and 0 <= monitor.time_elapsed < 30
        assert abs(monitor.time_start - time.time()) < 5 and not monitor.is_cancelled
        monitor.cancel()
        with pytest.raises(WaitCancelError, match="Wait for condition was cancelled"):
            await task
        assert monitor.is_cancelled

    run(scenario())


def test_cancel_from_another_thread_wakes_a_long_poll():
    async def scenario():
        rm, _, _ = client(["executing_queue"])
        rm._status_polling_period = 60.0  # only the cancel can end the pause between polls
        monitor = WaitMonitor()
        started = threading.Event()
        monitor.add_cancel_callback(started.set)  # proves the callbacks run once, too

        thread = threading.Thread(target=monitor.cancel)
        checked = {"polls": 0}

        def never(status):
            checked["polls"] += 1
            return False

        task = asyncio.ensure_future(rm.wait_for_condition(never, monitor=monitor))
        while not checked["polls"]:  # the first status has been checked ...
            await asyncio.sleep(0)
        for _ in range(10):  # ... and the wait has gone into its 60 s pause
            await asyncio.sleep(0)
        t0 = time.monotonic()
        thread.start()
        with pytest.raises(WaitCancelError):
            await task
        thread.join()
        assert time.monotonic() - t0 < 5 and started.is_set()

    run(scenario())


def test_set_timeout_during_the_wait_takes_effect():
    async def scenario():
        rm, _, seen = client(["executing_queue"])
        monitor = WaitMonitor()
        task = asyncio.ensure_future(rm.wait_for_idle(timeout=600, monitor=monitor))
        while seen["n"] < 2:
            await asyncio.sleep(0)
        monitor.set_timeout(0.1)
        with pytest.raises(WaitTimeoutError):
            await task
        assert monitor.time_elapsed < 5

    run(scenario())


def test_wait_for_completed_task_waits_for_task_results_uid():
    async def scenario():
        results = iter(["r1", "r1", "r2", "r3"])
        statuses = iter([
            {"success": True, "msg": "", "task_uid": "t", "status": "running", "result": None},
            {"success": True, "msg": "", "task_uid": "t", "status": "running", "result": None},
            {"success": True, "msg": "", "task_uid": "t", "status": "completed", "result": None},
        ])
        requests = []

        def handler(method, params):
            requests.append(method)
            if method == "status":
                return status_reply(task_results_uid=next(results, "r3"))
            return next(statuses)

        rm = REManagerAPI(transport=FakeTransport(handler), status_polling_period=PERIOD)
        monitor = WaitMonitor()
        assert await rm.wait_for_completed_task("t", monitor=monitor, timeout=10) == {
            "t": "completed"}
        # task_status is asked at the start and after each change of task_results_uid only
        assert requests == ["status", "task_status", "status", "status", "task_status",
                            "status", "task_status"]
        assert monitor.timeout == 10 and not monitor.is_cancelled

    run(scenario())


def test_wait_for_completed_task_arguments_and_lost_server():
    async def scenario():
        rm, _, _ = client([TIMEOUT("no reply (timeout occurred)")])
        with pytest.raises(RequestParameterError, match="non-empty string"):
            await rm.wait_for_completed_task("")
        with pytest.raises(RequestParameterError, match="non-empty list"):
            await rm.wait_for_completed_task([])
        with pytest.raises(RequestTimeoutError, match="timeout occurred"):
            await rm.wait_for_completed_task("t")

    run(scenario())


def test_pick_completed_tasks():
    reply = {"task_uid": ["a", "b", "c"],
             "status": {"a": "completed", "b": "not_found", "c": "running"}}
    assert pick_completed_tasks(reply, treat_not_found_as_completed=True) == {
        "a": "completed", "b": "not_found"}
    assert pick_completed_tasks(reply, treat_not_found_as_completed=False) == {"a": "completed"}
    single = {"task_uid": "a", "status": "running"}
    assert pick_completed_tasks(single, treat_not_found_as_completed=True) == {}
