"""Monitors and waits over HTTP (single-user gateway): the console monitor (polling
``console_output_update``), the system-info monitor and ``info_monitor()`` (WebSockets),
``wait_for_idle`` (status polling), and ``close()`` leaving nothing running."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from qs_gui.client import WaitMonitor
from qs_gui.client.http import REManagerAPI
from qs_gui.client.monitor import CONSOLE_TOPIC, STATUS_TOPIC
from qs_gui.sandbox import Sandbox
from tests.client.http.support import RequestLog, run, wait_until
from tests.helpers import ensure_env_open

pytestmark = pytest.mark.server


def plan(num: int, delay: float) -> dict:
    return {"item_type": "plan", "name": "count", "args": [["det1"]],
            "kwargs": {"num": num, "delay": delay}}


@pytest.fixture
def http_env_open(http_reset: Sandbox) -> Iterator[Sandbox]:
    ensure_env_open(http_reset)
    yield http_reset


def client(sb: Sandbox, **kwargs) -> tuple[REManagerAPI, RequestLog]:
    api = REManagerAPI(http_server_uri=sb.http_uri, **kwargs)
    api.set_authorization_key(api_key=sb.http_api_key)
    return api, RequestLog().attach(api.transport.client())


def other_tasks() -> set[asyncio.Task]:
    return asyncio.all_tasks() - {asyncio.current_task()}


def test_console_monitor_gets_the_output_of_a_plan(http_env_open: Sandbox):
    sb = http_env_open

    async def scenario():
        api, log = client(sb, console_monitor_poll_period=0.1)
        try:
            monitor = api.console_monitor
            monitor.enable()
            # the poll starts from the gateway's current position: output before it is not
            # delivered, so wait for the first answer before starting the plan
            await wait_until(lambda: ("/api/console_output_update", 200) in log.answered, 10,
                             "the first console poll")
            reply = await api.item_execute(plan(2, 0.2))

            async def text() -> str:
                return await monitor.text()

            deadline = time.monotonic() + 30
            while "The plan was exited. Plan state: completed" not in await text():
                assert time.monotonic() < deadline, await text()
                await asyncio.sleep(0.05)
            messages = []
            while True:
                try:
                    messages.append(await monitor.next_msg())
                except api.RequestTimeoutError:
                    break
            polls = {s.path for s in log.sent if s.path.startswith("/api/console")}
            return reply["item"]["item_uid"], await text(), messages, polls, monitor.enabled
        finally:
            await api.close()

    item_uid, text, messages, polls, enabled = run(scenario())
    assert enabled
    assert f"item_uid': '{item_uid}'" in text or item_uid in text
    assert "|   seq_num |       time |       det1 |" in text
    assert "Run was closed" in text
    assert messages and all(set(m) == {"time", "msg"} for m in messages)
    assert all(isinstance(m["msg"], str) and m["time"] > 0 for m in messages)
    assert polls == {"/api/console_output_update"}


def test_system_info_monitor_gets_status_pushes(http_reset: Sandbox):
    sb = http_reset

    async def scenario():
        api, log = client(sb)
        try:
            monitor = api.system_info_monitor
            monitor.enable()
            first = await monitor.next_msg(timeout=5)
            await api.queue_autostart(False)  # any change is published at once
            second = await monitor.next_msg(timeout=5)
            await monitor.disable_wait(timeout=5)
            return first, second, monitor.enabled
        finally:
            await api.close()

    first, second, enabled = run(scenario())
    for message in (first, second):
        assert set(message) == {"time", "msg"} and message["time"] > 0
        assert message["msg"]["status"]["manager_state"] == "idle"
    assert second["time"] >= first["time"]
    assert not enabled


def test_wait_for_idle_polls_the_status(http_env_open: Sandbox):
    sb = http_env_open

    async def scenario():
        api, log = client(sb, status_polling_period=0.2)
        try:
            await api.item_execute(plan(3, 0.3))
            mark = log.mark()
            monitor = WaitMonitor()
            t0 = time.monotonic()
            await api.wait_for_idle(timeout=30, monitor=monitor)
            elapsed = time.monotonic() - t0
            status = await api.status()
            return log.paths_since(mark), elapsed, status, monitor.time_elapsed
        finally:
            await api.close()

    paths, elapsed, status, waited = run(scenario())
    assert status["manager_state"] == "idle" and status["items_in_history"] == 1
    assert set(paths) == {"GET /api/status"}
    assert 2 <= len(paths) <= elapsed / 0.2 + 3
    assert waited > 0


def test_close_leaves_no_task_running(http_reset: Sandbox):
    sb = http_reset

    async def scenario():
        before = other_tasks()  # the loop's own (run() waits in one)
        api, log = client(sb, console_monitor_poll_period=0.1)
        api.console_monitor.enable()
        api.system_info_monitor.enable()
        feed = api.info_monitor()
        feed.start()
        await api.system_info_monitor.next_msg(timeout=5)
        got = await feed.next(timeout=5)
        assert got is not None and got.topic in (STATUS_TOPIC, CONSOLE_TOPIC), feed.error
        await wait_until(lambda: feed.connected == 2, 10, "both WebSockets of the feed")
        running = len(other_tasks() - before)
        await api.close()
        await wait_until(lambda: not other_tasks() - before, 10,
                         lambda: f"every task of the client to end: {other_tasks() - before}")
        with pytest.raises(api.RequestTimeoutError):
            await api.system_info_monitor.next_msg()
        return running, api.console_monitor.enabled, feed.closed

    running, console_enabled, feed_closed = run(scenario())
    assert running >= 3  # console poll, system-info reader, two feed readers (+ websockets')
    assert not console_enabled and feed_closed


def test_a_status_push_saves_the_status_request(http_reset: Sandbox):
    """Ours only (the reference has no ``update_status``): a pushed status younger than the
    expiry stands in for ``GET /api/status``, so a getter costs one request at most."""
    sb = http_reset

    async def scenario():
        api, log = client(sb, status_expiration_period=5)
        try:
            feed = api.info_monitor(topics=(STATUS_TOPIC,))
            feed.start()
            pushed = await feed.next(timeout=5)
            assert pushed is not None, feed.error
            api.update_status(pushed.msg["status"])
            mark = log.mark()
            queue = await api.queue_get()
            again = await api.queue_get()
            return queue, again, log.paths_since(mark)
        finally:
            await api.close()

    queue, again, paths = run(scenario())
    assert queue == again and queue["items"] == []
    assert paths == ["GET /api/queue/get"]


def test_a_push_newer_than_the_gateways_cache_never_yields_a_stale_list(http_reset: Sandbox):
    """The gateway answers ``queue_get`` from its own cache, checked against a status up to
    0.4 s old: right after a push announced a new queue, it can still serve the old list.
    Ours asks again (after the gateway's status cache expired) rather than return it."""
    sb = http_reset

    async def scenario():
        api, log = client(sb, status_expiration_period=5)
        try:
            await api.queue_get(reload=True)  # the gateway now caches status and list
            added = await asyncio.to_thread(sb.request, "queue_item_add", {
                "item": plan(1, 0.1), "user": "behind the gateway", "user_group": "primary"})
            assert added["success"], added
            # what a status push would say now (read over 0MQ, behind the gateway's back)
            api.update_status(await asyncio.to_thread(sb.request, "status"))
            mark = log.mark()
            queue = await api.queue_get()
            return added["item"]["item_uid"], queue, log.paths_since(mark)
        finally:
            await api.close()

    item_uid, queue, paths = run(scenario())
    assert [item["item_uid"] for item in queue["items"]] == [item_uid]
    # one request when the gateway's status cache had expired already, else the stale reply
    # and one more after 0.45 s
    assert paths in (["GET /api/queue/get"], ["GET /api/queue/get"] * 2), paths
