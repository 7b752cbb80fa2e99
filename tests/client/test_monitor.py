"""InfoMonitor against a local PUB that binds, like the RE Manager's info socket (no server)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import zmq
import zmq.asyncio

from qs_gui.client.monitor import CONSOLE_TOPIC, STATUS_TOPIC, InfoMessage, InfoMonitor

from .fakes import LoopbackPub


def run(coro, timeout: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def status(n: int) -> list[bytes]:
    body = {"time": time.time(), "msg": {"status": {"manager_state": "idle", "n": n}}}
    return [STATUS_TOPIC.encode(), json.dumps(body).encode()]


def console(text: str) -> list[bytes]:
    return [CONSOLE_TOPIC.encode(), json.dumps({"time": 1.0, "msg": text}).encode()]


def publisher() -> LoopbackPub:
    return LoopbackPub(lambda: status(-1))


def test_status_and_console_are_decoded() -> None:
    async def scenario() -> None:
        pub, monitor = publisher(), None
        try:
            monitor = InfoMonitor(pub.address)
            await pub.join(monitor)
            await pub.sock.send_multipart(status(1))
            await pub.sock.send_multipart(console("hello\n"))
            first = await monitor.next(timeout=2)
            second = await monitor.next(timeout=2)
            assert isinstance(first, InfoMessage) and first.status["n"] == 1
            assert second.text == "hello\n" and second.status is None
            assert (monitor.received, monitor.malformed, monitor.oversized) == (2, 0, 0)
        finally:
            if monitor is not None:
                monitor.close()
            pub.close()

    run(scenario())


def test_garbage_is_counted_and_skipped() -> None:
    async def scenario() -> None:
        pub = publisher()
        monitor = InfoMonitor(pub.address)
        try:
            await pub.join(monitor)
            for frames in ([b"QS_Info"], [b"QS_Info", b"\xff{"], [b"QS_Info", b"[1]"], status(7)):
                await pub.sock.send_multipart(frames)
            message = await monitor.next(timeout=2)
            assert message.status["n"] == 7
            assert (monitor.received, monitor.malformed) == (4, 3)
        finally:
            monitor.close()
            pub.close()

    run(scenario())


@pytest.mark.parametrize("size_mib", [2, 50])
def test_status_pushes_continue_after_an_oversized_message(size_mib: int) -> None:
    """One console message over ``max_bytes`` (2 MiB) or over the old 16 MiB ZMQ_MAXMSGSIZE
    (50 MiB) is skipped and counted; the status pushes published after it still arrive.

    With ZMQ_MAXMSGSIZE set, libzmq 4.3.5 closed the connection to the binding PUB for good and
    none of the later pushes arrived (see qs_gui/client/subscriber.py)."""

    async def scenario() -> None:
        pub = publisher()
        monitor = InfoMonitor(pub.address)
        try:
            await pub.join(monitor)
            huge = json.dumps({"time": 0.0, "msg": "y" * (size_mib << 20)}).encode()
            await pub.sock.send_multipart([CONSOLE_TOPIC.encode(), huge])
            del huge
            seen: list[int] = []
            deadline = time.monotonic() + 5.0
            for n in range(200):  # published at 100 Hz, like a busy status stream
                await pub.sock.send_multipart(status(n))
                message = await monitor.next(timeout=0.01)
                if message is not None and message.status is not None:
                    seen.append(message.status["n"])
                if len(seen) >= 20 or time.monotonic() > deadline:
                    break
            seen += [m.status["n"] for m in monitor.drain() if m.status is not None]
            assert len(seen) >= 20, f"only {len(seen)} status pushes after the big message"
            assert seen[0] == 0 and seen == sorted(seen)
            assert monitor.oversized == 1 and monitor.malformed == 0
        finally:
            monitor.close()
            pub.close()

    run(scenario())


def test_max_message_size_is_off_by_default() -> None:
    async def scenario() -> None:
        monitor = InfoMonitor("tcp://127.0.0.1:9")
        try:
            monitor.start()
            assert monitor._socket.getsockopt(zmq.MAXMSGSIZE) == -1  # libzmq's "no limit"
        finally:
            monitor.close()

    run(scenario())


def test_drain_budget_and_close() -> None:
    async def scenario() -> None:
        pub = publisher()
        monitor = InfoMonitor(pub.address)
        try:
            await pub.join(monitor)
            for n in range(500):
                await pub.sock.send_multipart(status(n))
            await asyncio.sleep(0.2)
            first = monitor.drain(budget=0.0)  # stops after the first 32 reads
            assert len(first) == 32 and monitor.backlog
            rest = monitor.drain()
            assert [m.status["n"] for m in first + rest] == list(range(500))
        finally:
            monitor.close()
            pub.close()
        assert monitor.closed and monitor.drain() == [] and await monitor.next(0.1) is None
        with pytest.raises(zmq.ZMQError):
            monitor.start()

    run(scenario())
