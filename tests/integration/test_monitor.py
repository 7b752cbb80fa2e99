"""The info-socket monitor (QS_Info status pushes, QS_Console output).

Against the real server: push latency after a state change, console output of a plan. Against a
fake PUB socket: reconnection after the publisher goes away and comes back on the same port (the
real manager cannot be restarted on the same port reliably), and malformed frames.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Callable

import pytest
import zmq
import zmq.asyncio

from qs_gui.client import BPlan, InfoMessage, InfoMonitor, REManagerAPI
from qs_gui.sandbox import Sandbox

from ._support import api, run, wait_in_history, wait_until

PUSH_LATENCY = 0.1  # a status push must arrive within 100 ms of the state change


class Collector:
    """Consumes ``async for message in monitor`` in a task and lets tests wait for a message."""

    def __init__(self, monitor: InfoMonitor):
        self.monitor = monitor
        self.messages: list[InfoMessage] = []
        self._arrived = asyncio.Event()
        self.task = asyncio.ensure_future(self._consume())

    async def _consume(self) -> None:
        async for message in self.monitor:
            self.messages.append(message)
            self._arrived.set()

    async def wait_for(self, predicate: Callable[[InfoMessage], bool], timeout: float,
                       start: int = 0) -> InfoMessage:
        """The first message (from index ``start``) that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        checked = start
        while True:
            for message in self.messages[checked:]:
                if predicate(message):
                    return message
            checked = max(checked, len(self.messages))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching message within {timeout} s "
                                     f"({len(self.messages)} received)")
            self._arrived.clear()
            if len(self.messages) == checked:
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except asyncio.TimeoutError:
                    pass

    async def stop(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


async def _connected_monitor(rm: REManagerAPI, topics: tuple[str, ...]) -> InfoMonitor:
    """Start the SUB and wait for the first QS_Info (periodic, ~1 s) so it is surely joined."""
    monitor = rm.info_monitor(topics=topics)
    monitor.start()
    deadline = time.monotonic() + 5
    while True:
        message = await monitor.next(timeout=max(0.0, deadline - time.monotonic()))
        assert message is not None, "no QS_Info message within 5 s of subscribing"
        if message.status is not None:
            return monitor


# -- real server --------------------------------------------------------------------------------


@pytest.mark.server
def test_status_push_follows_state_change_within_100ms(server_reset: Sandbox) -> None:
    async def body():
        async with api(server_reset) as rm:
            monitor = await _connected_monitor(rm, ("QS_Info",))
            collector = Collector(monitor)
            latencies = []
            try:
                # queue_autostart toggles, then queue edits: each must be pushed at once
                actions = [("queue_autostart_enabled", lambda e=e: rm.queue_autostart(e), e)
                           for e in (True, False, True, False)]
                for n in (1, 2):
                    actions.append(("items_in_queue",
                                    lambda: rm.item_add(BPlan("count", ["det1"])), n))
                for key, action, expected in actions:
                    start = len(collector.messages)
                    t_send = time.monotonic()
                    await action()
                    t_reply = time.monotonic()
                    push = await collector.wait_for(
                        lambda m, key=key, expected=expected, t_send=t_send: m.status is not None
                        and m.received >= t_send and m.status.get(key) == expected, 2.0, start)
                    latencies.append(max(0.0, push.received - t_reply))
            finally:
                await collector.stop()
                await rm.queue_autostart(False)
            print("push latencies (ms):", [round(x * 1000, 2) for x in latencies])
            assert max(latencies) <= PUSH_LATENCY, [f"{x * 1000:.1f} ms" for x in latencies]
            assert monitor.malformed == 0

    run(body(), 60)


@pytest.mark.server
def test_console_output_of_a_plan_arrives(env_open: Sandbox) -> None:
    async def body():
        async with api(env_open) as rm:
            monitor = await _connected_monitor(rm, ("QS_Info", "QS_Console"))
            collector = Collector(monitor)
            try:
                reply = await rm.item_execute(BPlan("count", ["det1"], num=3, delay=0.1))
                await collector.wait_for(
                    lambda m: m.text is not None and "The plan was exited" in m.text, 30)
                text = "".join(m.text for m in collector.messages if m.text is not None)
                assert "Transient Scan ID:" in text
                # three table rows, one per reading (fragments joined into lines)
                rows = [ln for ln in text.splitlines() if re.match(r"^\|\s+[123] \|", ln)]
                assert len(rows) == 3, rows
                assert "Plan state: completed" in text
                entry = await wait_in_history(rm, reply["item"]["item_uid"])
                assert entry["result"]["exit_status"] == "completed"
                # status pushes were interleaved with the console output on the same socket
                states = {m.status["manager_state"] for m in collector.messages if m.status}
                assert "executing_queue" in states
                assert all(isinstance(m.time, float) and m.time > 0 for m in collector.messages)
            finally:
                await collector.stop()

    run(body(), 60)


# -- fake publisher -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_frames(marker: str) -> list[bytes]:
    payload = {"time": time.time(), "msg": {"status": {"manager_state": "idle", "marker": marker}}}
    return [b"QS_Info", json.dumps(payload).encode()]


async def _publish_until(pub: zmq.asyncio.Socket, marker: str, seen: Callable[[], bool],
                         timeout: float = 5.0) -> None:
    """Publish a marked status repeatedly until ``seen()``; PUB drops messages until a
    subscriber has joined, so one send is not enough (the slow-joiner problem)."""
    deadline = time.monotonic() + timeout
    while not seen():
        assert time.monotonic() < deadline, f"{marker!r} not received within {timeout} s"
        await pub.send_multipart(_status_frames(marker))
        await asyncio.sleep(0.02)  # publishing cadence while waiting for the condition


def test_monitor_survives_publisher_restart_on_same_port() -> None:
    async def body():
        port = _free_port()
        address = f"tcp://127.0.0.1:{port}"
        ctx = zmq.asyncio.Context()
        rm = REManagerAPI(zmq_control_addr="tcp://127.0.0.1:1", zmq_info_addr=address)
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        pub.bind(address)
        monitor = rm.info_monitor()
        monitor.start()
        collector = Collector(monitor)

        def seen(marker: str) -> Callable[[], bool]:
            return lambda: any(m.status and m.status.get("marker") == marker
                               for m in collector.messages)

        try:
            await _publish_until(pub, "before", seen("before"))
            pub.close(linger=0)  # the "server" goes away ...
            n_before = len(collector.messages)
            await _wait_publisher_gone(address)
            assert not collector.task.done()

            pub = ctx.socket(zmq.PUB)  # ... and comes back on the same port
            pub.setsockopt(zmq.LINGER, 0)
            await wait_until(lambda: _bind_ok(pub, address), 5, what="re-bind")
            await _publish_until(pub, "after", seen("after"))
            assert not collector.task.done()
            assert len(collector.messages) > n_before
            assert monitor.malformed == 0
            # console messages on the new publisher arrive too
            await pub.send_multipart([b"QS_Console", json.dumps(
                {"time": time.time(), "msg": "hello\n"}).encode()])
            console = await collector.wait_for(lambda m: m.text == "hello\n", 2.0)
            assert console.topic == "QS_Console"
        finally:
            await collector.stop()
            pub.close(linger=0)
            await rm.close()
            ctx.term()
        assert monitor.closed  # closed with the client

    run(body(), 30)


async def _bind_ok(pub: zmq.asyncio.Socket, address: str) -> bool:
    try:
        pub.bind(address)
    except zmq.ZMQError:
        return False
    return True


async def _wait_publisher_gone(address: str) -> None:
    """Wait until nothing accepts TCP connections on ``address`` (the publisher is really gone)."""
    host, port = address.removeprefix("tcp://").rsplit(":", 1)

    async def refused() -> bool:
        try:
            _, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            return True
        writer.close()
        return False

    await wait_until(refused, 5, what="publisher closed")


MALFORMED = [
    [b"QS_Info", b"not json"],  # undecodable payload
    [b"QS_Info"],  # one frame
    [b"QS_Info", b"{}", b"extra"],  # three frames
    [b"QS_Info", b"[1, 2]"],  # JSON, but not an object
    [b"QS_Console", b"\xff\xfe\x00"],  # not UTF-8
]


def test_malformed_frames_are_counted_and_skipped() -> None:
    async def body():
        ctx = zmq.asyncio.Context()
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        rm = REManagerAPI(zmq_control_addr="tcp://127.0.0.1:1",
                          zmq_info_addr=f"tcp://127.0.0.1:{port}")
        monitor = rm.info_monitor()
        monitor.start()
        try:
            # handshake: publish until the subscriber gets one well-formed message
            deadline = time.monotonic() + 5
            while True:
                await pub.send_multipart(_status_frames("hello"))
                message = await monitor.next(timeout=0.05)
                if message is not None:
                    break
                assert time.monotonic() < deadline, "subscriber never joined"
            while await monitor.next(timeout=0.1) is not None:  # drop extra handshake copies
                pass
            assert monitor.malformed == 0
            received0 = monitor.received

            # next(): the malformed ones are skipped, the following good one is returned
            for frames in MALFORMED:
                await pub.send_multipart(frames)
            await pub.send_multipart(_status_frames("after-bad-1"))
            message = await monitor.next(timeout=2.0)
            assert message is not None and message.status["marker"] == "after-bad-1"
            assert monitor.malformed == len(MALFORMED)
            assert monitor.received == received0 + len(MALFORMED) + 1

            # drain(): same accounting for a batched consumer
            for frames in MALFORMED:
                await pub.send_multipart(frames)
            await pub.send_multipart(_status_frames("after-bad-2"))
            drained: list[InfoMessage] = []

            async def got_it() -> bool:
                drained.extend(monitor.drain())
                return any(m.status and m.status.get("marker") == "after-bad-2" for m in drained)

            await wait_until(got_it, 2.0, interval=0.01, what="sentinel via drain()")
            assert [m.status["marker"] for m in drained] == ["after-bad-2"]
            assert monitor.malformed == 2 * len(MALFORMED)

            # async iteration keeps going past malformed messages too
            for frames in MALFORMED:
                await pub.send_multipart(frames)
            await pub.send_multipart([b"QS_Console", json.dumps(
                {"time": 1.5, "msg": "line\n"}).encode()])
            iterator = monitor.__aiter__()
            message = await asyncio.wait_for(iterator.__anext__(), 2.0)
            assert message.text == "line\n" and message.time == 1.5
            assert monitor.malformed == 3 * len(MALFORMED)
            await iterator.aclose()
        finally:
            pub.close(linger=0)
            await rm.close()
            ctx.term()

    run(body(), 30)
