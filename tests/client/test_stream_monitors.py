"""console_monitor / system_info_monitor against a local PUB that binds, like the RE Manager's."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest

from qs_gui.client import REManagerAPI, RequestTimeoutError
from qs_gui.client.monitor import CONSOLE_TOPIC, STATUS_TOPIC, InfoMonitor
from qs_gui.client.stream_monitors import ConsoleMonitor, StreamMonitor, SystemInfoMonitor

from .fakes import LoopbackPub

POLL = 0.05  # reader poll timeout: how long a disabled reader lingers


def run(coro, timeout: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def console(text: str) -> list[bytes]:
    return [CONSOLE_TOPIC.encode(), json.dumps({"time": 1.5, "msg": text}).encode()]


def status(n: int) -> list[bytes]:
    body = {"time": 2.5, "msg": {"status": {"manager_state": "idle", "n": n}}}
    return [STATUS_TOPIC.encode(), json.dumps(body).encode()]


async def join(pub: LoopbackPub, monitor: StreamMonitor, probe: list[bytes],
               last: list[bytes]) -> None:
    """Enable ``monitor``, probe until it receives (0MQ's slow joiner), read up to ``last``
    (probes still in flight end before it), then empty the buffers."""
    monitor.enable()
    for _ in range(200):
        await pub.send(probe)
        try:
            await monitor.next_msg(timeout=0.02)
            break
        except RequestTimeoutError:
            continue
    else:
        raise AssertionError("the monitor never joined")
    await pub.send(last)
    last_msg = json.loads(last[1])["msg"]
    while (await monitor.next_msg(timeout=2))["msg"] != last_msg:
        pass
    monitor.clear()


async def until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Until ``predicate()`` (or an awaitable it returns) is true."""
    deadline = time.monotonic() + timeout
    while not await _value(predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)  # polling interval of a condition wait


async def _value(value: object) -> object:
    return await value if asyncio.iscoroutine(value) else value


@pytest.fixture
def pub():
    pub = LoopbackPub(lambda: console("probe"))
    yield pub
    pub.close()


def make_console(pub: LoopbackPub, **kwargs) -> ConsoleMonitor:
    return ConsoleMonitor(source=lambda: InfoMonitor(pub.address, topics=(CONSOLE_TOPIC,)),
                          poll_timeout=POLL, **kwargs)


async def join_console(pub: LoopbackPub, monitor: ConsoleMonitor) -> None:
    await join(pub, monitor, console("probe"), console("last probe"))


def test_console_messages_buffered_and_rendered(pub) -> None:
    async def scenario() -> None:
        monitor = make_console(pub)
        try:
            await join_console(pub, monitor)
            uid = monitor.text_uid
            await pub.send(console("one\ntwo"), console("\rTWO\n"))
            first = await monitor.next_msg(timeout=2)
            second = await monitor.next_msg(timeout=2)
            assert first == {"time": 1.5, "msg": "one\ntwo"} and second["msg"] == "\rTWO\n"
            assert await monitor.text() == "one\nTWO" and monitor.text_uid != uid
            assert await monitor.text(1) == "TWO"
        finally:
            monitor.close()

    run(scenario())


def test_next_msg_raises_when_nothing_comes(pub) -> None:
    async def scenario() -> None:
        monitor = make_console(pub)
        try:
            monitor.enable()
            t0 = time.monotonic()
            with pytest.raises(RequestTimeoutError, match="No message was received"):
                await monitor.next_msg()
            assert time.monotonic() - t0 < 0.1
            with pytest.raises(RequestTimeoutError):
                await monitor.next_msg(timeout=0.2)
            assert time.monotonic() - t0 >= 0.2
        finally:
            monitor.close()

    run(scenario())


def test_quick_reenable_keeps_the_buffer_a_later_one_empties_it(pub) -> None:
    async def scenario() -> None:
        monitor = make_console(pub)
        try:
            monitor.enable()
            monitor._msg_queue.put_nowait({"time": 0, "msg": "kept"})
            monitor.disable()
            assert monitor.enabled is False
            monitor.enable()  # the reader has not ended yet: it carries on
            assert (await monitor.next_msg())["msg"] == "kept"
            monitor._msg_queue.put_nowait({"time": 0, "msg": "dropped"})
            await monitor.disable_wait(timeout=2)
            monitor.enable()  # a new reader: buffers start empty
            with pytest.raises(RequestTimeoutError):
                await monitor.next_msg()
        finally:
            monitor.close()

    run(scenario())


def test_full_buffer_drops_messages_but_not_the_text(pub) -> None:
    async def scenario() -> None:
        monitor = make_console(pub, max_msgs=1)
        try:
            await join_console(pub, monitor)
            await pub.send(console("a\n"), console("b\n"), console("c\n"))
            await until(lambda: monitor._text.text() == "a\nb\nc")
            assert (await monitor.next_msg())["msg"] == "a\n"
            with pytest.raises(RequestTimeoutError):
                await monitor.next_msg()
        finally:
            monitor.close()

    run(scenario())


def test_zero_limits_keep_nothing(pub) -> None:
    async def scenario() -> None:
        monitor = make_console(pub, max_msgs=0, max_lines=0)
        try:
            monitor.enable()
            subscriber = monitor._subscriber

            async def received() -> bool:  # nothing is buffered: watch the reader's socket
                await pub.send(console("x\n"))
                return bool(subscriber.received)

            await until(received)
            with pytest.raises(RequestTimeoutError):
                await monitor.next_msg()
            assert await monitor.text() == ""
        finally:
            monitor.close()

    run(scenario())


def test_system_info_monitor_delivers_status_pushes() -> None:
    async def scenario() -> None:
        pub = LoopbackPub(lambda: status(-1))
        monitor = SystemInfoMonitor(
            source=lambda: InfoMonitor(pub.address, topics=(STATUS_TOPIC,)), poll_timeout=POLL)
        try:
            await join(pub, monitor, status(-1), status(-2))
            await pub.send(status(7))
            message = await monitor.next_msg(timeout=2)
            assert message == {"time": 2.5, "msg": {"status": {"manager_state": "idle", "n": 7}}}
        finally:
            monitor.close()
            pub.close()

    run(scenario())


def test_close_ends_the_reader_and_releases_the_socket(pub) -> None:
    async def scenario() -> None:
        monitor = make_console(pub)
        monitor.enable()
        task, subscriber = monitor._task, monitor._subscriber
        monitor.close()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert subscriber.closed and monitor.enabled is False

    run(scenario())


def test_unused_monitors_start_nothing() -> None:
    async def scenario() -> None:
        rm = REManagerAPI(zmq_control_addr="tcp://127.0.0.1:9", zmq_info_addr="tcp://127.0.0.1:9")
        assert rm._console_monitor is None and rm._system_info_monitor is None
        monitors = (rm.console_monitor, rm.system_info_monitor)
        assert rm.console_monitor is monitors[0]  # created once, on first use
        assert all(m._task is None and m._subscriber is None and not m.enabled
                   for m in monitors)
        rm.console_monitor.enable()
        task = rm.console_monitor._task
        await rm.close()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())
