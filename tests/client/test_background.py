"""client/background.py: the one low-priority thread for background compression."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from qs_gui.client.background import LOW_PRIORITY, LowPriorityThread


def test_jobs_run_in_order_in_one_thread_and_errors_reach_the_caller() -> None:
    worker = LowPriorityThread("test-background")
    seen: list[tuple[int, str]] = []
    futures = [worker.submit(lambda n=n: seen.append((n, threading.current_thread().name)) or n)
               for n in range(5)]
    assert [f.result(5) for f in futures] == list(range(5))
    assert seen == [(n, "test-background") for n in range(5)]
    failing = worker.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(5)
    assert worker.submit(lambda: "still running").result(5) == "still running"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness: Linux")
def test_the_thread_runs_at_a_lower_priority_than_the_process() -> None:
    worker = LowPriorityThread("test-nice")
    nice = worker.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    assert nice.result(5) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + LowPriorityThread.NICE)


def test_an_awaited_job_resolves_on_the_loop() -> None:
    async def scenario():
        return await asyncio.wrap_future(LOW_PRIORITY.submit(sum, [1, 2, 3]))

    assert asyncio.run(scenario()) == 6
