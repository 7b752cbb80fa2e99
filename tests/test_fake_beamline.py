"""The fake beamlines (qs_gui/sandbox/fake_beamline.py) speak what qs-gui's client reads."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

from qs_gui.client import REManagerAPI
from qs_gui.client.exceptions import RequestTimeoutError
from qs_gui.client.monitor import InfoMonitor
from qs_gui.core.replies import sanitize_status
from qs_gui.sandbox.fake_beamline import FakeBeamline, FakeBeamlineHost, FakeBeamlineProcess
from tests.helpers import process_alive, reap, spawn_guarded


async def next_status(monitor: InfoMonitor, timeout: float = 2.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await monitor.next(timeout=max(0.0, deadline - time.monotonic()))
        if message is not None and message.status is not None:
            return message.status
    raise AssertionError("no status push in time")


def test_pushes_status_periodically_and_on_every_change():
    async def scenario():
        async with FakeBeamline("ID01", publish_period=0.2) as fb:
            monitor = InfoMonitor(fb.info_addr, topics=("QS_Info",))
            monitor.start()
            first = await next_status(monitor)
            status, problems = sanitize_status(first)
            assert not problems and status["manager_state"] == "idle"
            assert status["worker_environment_exists"] is True and status["items_in_queue"] == 2
            t1 = time.monotonic()
            await next_status(monitor)
            t2 = time.monotonic()
            assert 0.1 < t2 - t1 < 0.5  # periodic, at the configured period
            fb.publish_period = 10.0  # from now on only changes are pushed
            await next_status(monitor)  # the push that was already due
            pushed = fb.run("scan")
            status = await next_status(monitor)
            assert status["manager_state"] == "executing_queue"
            assert status["running_item_uid"] == fb.running["item_uid"]
            assert time.monotonic() - pushed < 0.5
            monitor.close()

    asyncio.run(scenario())


def test_answers_the_requests_a_tile_makes_and_scripts_a_failure():
    async def scenario():
        async with FakeBeamline("ID02") as fb:
            api = REManagerAPI(zmq_control_addr=fb.control_addr, zmq_info_addr=fb.info_addr)
            try:
                await check(fb, api)
            finally:
                await api.close()

    async def check(fb: FakeBeamline, api: REManagerAPI) -> None:
        status = await api.status(reload=True)
        assert status["manager_state"] == "idle"
        lock = await api.lock_info()
        assert lock["lock_info"]["environment"] is False
        fb.lock("alice", "tuning", queue=False)
        await api.status(reload=True)  # the client reads lock_info again on a new uid
        lock = await api.lock_info()
        assert lock["lock_info"]["user"] == "alice" and lock["lock_info"]["note"] == "tuning"
        fb.run("scan")
        await api.status(reload=True)
        queue = await api.queue_get()
        assert queue["running_item"]["name"] == "scan" and len(queue["items"]) == 1
        uid = queue["running_item"]["item_uid"]
        fb.fail("Plan failed: boom")
        status = await api.status(reload=True)  # new uids: the client's cache reads again
        assert status["items_in_queue"] == 2 and status["items_in_history"] == 1
        assert status["manager_state"] == "idle" and status["running_item_uid"] is None
        history = await api.history_get()
        assert history["items"][-1]["item_uid"] == uid
        assert history["items"][-1]["result"]["exit_status"] == "failed"
        queue = await api.queue_get()
        front = queue["items"][0]
        assert front["name"] == "scan" and front["item_uid"] != uid  # requeued, new uid
        assert fb.requests["history_get"] == 1 and fb.requests["queue_get"] == 2

    asyncio.run(scenario())


def test_silenced_beamline_neither_answers_nor_publishes_then_recovers():
    async def scenario():
        async with FakeBeamline("ID03", publish_period=0.1) as fb:
            api = REManagerAPI(zmq_control_addr=fb.control_addr, zmq_info_addr=fb.info_addr,
                               timeout_recv=0.3)
            monitor = InfoMonitor(fb.info_addr, topics=("QS_Info",))
            monitor.start()
            await next_status(monitor)
            fb.silence()
            monitor.drain()
            try:
                await api.status(reload=True)
                raise AssertionError("a silenced beamline answered")
            except RequestTimeoutError:
                pass
            assert await monitor.next(timeout=0.4) is None  # four periods: no push
            fb.silence(False)
            await next_status(monitor)
            assert (await api.status(reload=True))["manager_state"] == "idle"
            monitor.close()
            await api.close()

    asyncio.run(scenario())


def test_host_runs_many_on_a_background_loop():
    with FakeBeamlineHost(4, publish_period=0.2) as host:
        addresses = host.addresses()
        assert [a["name"] for a in addresses] == ["FB01", "FB02", "FB03", "FB04"]
        assert len({a["control_addr"] for a in addresses}) == 4

        async def check() -> None:
            monitor = InfoMonitor(addresses[2]["info_addr"], topics=("QS_Info",))
            monitor.start()
            await next_status(monitor)
            at = host.call("FB03", "pause")
            assert isinstance(at, float)
            status = await next_status(monitor)
            while status["manager_state"] != "paused":
                status = await next_status(monitor)
            monitor.close()

        asyncio.run(check())
        assert host.beamline(2).status["manager_state"] == "paused"
        assert host.beamline(0).status["manager_state"] == "idle"
    assert host.loop is not None and host.loop.is_closed()


def test_helper_process_takes_commands_and_ends_with_its_stdin():
    proc = spawn_guarded([sys.executable, "-m", "qs_gui.sandbox.fake_beamline", "--count", "3",
                          "--period", "0.5"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        ready = json.loads(proc.stdout.readline())
        names = [b["name"] for b in ready["beamlines"]]
        assert names == ["FB01", "FB02", "FB03"]
        proc.stdin.write(json.dumps({"beamline": "FB02", "do": "run", "args": ["scan"]}) + "\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["ok"] is True
        proc.stdin.write(json.dumps({"beamline": "FB02", "do": "no_such_state"}) + "\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["ok"] is False

        async def check() -> None:
            api = REManagerAPI(zmq_control_addr=ready["beamlines"][1]["control_addr"],
                               zmq_info_addr=ready["beamlines"][1]["info_addr"])
            status = await api.status(reload=True)
            assert status["manager_state"] == "executing_queue"
            await api.close()

        asyncio.run(check())
        proc.stdin.close()  # the parent goes away: the helper ends
        assert proc.wait(timeout=10) == 0
    finally:
        reap(proc)


def test_process_wrapper_for_the_benchmark_ends_its_helper():
    with FakeBeamlineProcess(2, publish_period=0.5) as fakes:
        assert [b["name"] for b in fakes.beamlines] == ["FB01", "FB02"]
        at = fakes.call("FB01", "fail")
        assert abs(time.monotonic() - at) < 5  # the same monotonic clock as this process
        pid = fakes.proc.pid
    assert fakes.proc.returncode == 0
    assert not process_alive(pid)


def test_slow_beamline_answers_late_one_at_a_time():
    async def scenario():
        async with FakeBeamline("ID04") as fb:
            api = REManagerAPI(zmq_control_addr=fb.control_addr, zmq_info_addr=fb.info_addr)
            try:
                fb.slow(0.3)
                t0 = time.monotonic()
                await api.status(reload=True)
                assert time.monotonic() - t0 >= 0.3
                fb.slow(0)
                t0 = time.monotonic()
                await api.status(reload=True)
                assert time.monotonic() - t0 < 0.3
            finally:
                await api.close()

    asyncio.run(scenario())
