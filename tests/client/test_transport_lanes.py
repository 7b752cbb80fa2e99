"""Two lanes: an urgent request is not held behind a slow bulk request, and waits for it only
as long as the (serial) server itself makes it wait."""

from __future__ import annotations

import asyncio
import json
import time

import zmq
import zmq.asyncio

from qs_gui.client import REManagerAPI

from .fakes import status_reply


class SerialSlowPeer:
    """A ROUTER that serves like the RE Manager's REP socket: one request at a time, in
    arrival order; ``history_get`` takes ``slow`` seconds."""

    def __init__(self, slow: float):
        self.slow = slow
        self.ctx = zmq.asyncio.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.address = f"tcp://127.0.0.1:{port}"
        self.received: list[tuple[str, float]] = []

    async def serve(self) -> None:
        while True:
            ident, empty, raw = await self.sock.recv_multipart()
            method = json.loads(raw)["method"]
            self.received.append((method, time.monotonic()))
            if method == "history_get":
                await asyncio.sleep(self.slow)  # the server is busy: nothing else is served
                reply = {"success": True, "msg": "", "items": [], "plan_history_uid": "h"}
            else:
                reply = status_reply()
            await self.sock.send_multipart([ident, empty, json.dumps(reply).encode()])

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()


def test_urgent_request_is_sent_at_once_and_waits_only_for_the_server():
    async def scenario():
        peer = SerialSlowPeer(slow=1.5)
        server = asyncio.ensure_future(peer.serve())
        api = REManagerAPI(zmq_control_addr=peer.address, timeout_recv=1.0)
        try:
            bulk = asyncio.ensure_future(api.send_request(method="history_get", timeout=5.0))
            await asyncio.sleep(0.2)
            assert api.transport.in_flight[0] == "history_get"
            t0 = time.monotonic()
            # 1.0 s timeout, but the server is busy with our bulk request for 1.3 s more: the
            # wait is the server's, so the deadline is counted from the end of the bulk reply
            urgent = asyncio.ensure_future(api.send_request(method="status"))
            await asyncio.sleep(0.1)
            # already sent (queued in the server), not held behind the bulk request
            assert api.transport._main.in_flight is not None and not bulk.done()
            status = await urgent
            waited = time.monotonic() - t0
            assert status["manager_state"] == "idle"
            assert 1.1 < waited < 2.0, waited
            assert (await bulk)["success"] is True
            assert [m for m, _ in peer.received] == ["history_get", "status"]
            assert api.transport.sockets_created == 2  # a second socket, only when needed
        finally:
            await api.close()
            server.cancel()
            peer.close()

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_urgent_request_still_times_out_when_the_server_is_gone():
    async def scenario():
        peer = SerialSlowPeer(slow=30.0)  # "dead": the bulk request is never answered
        server = asyncio.ensure_future(peer.serve())
        api = REManagerAPI(zmq_control_addr=peer.address, timeout_recv=0.5)
        try:
            bulk = asyncio.ensure_future(api.send_request(method="history_get", timeout=1.0))
            await asyncio.sleep(0.1)
            t0 = time.monotonic()
            try:
                await api.send_request(method="status")
            except api.RequestTimeoutError:
                pass
            else:
                raise AssertionError("no timeout")
            # bounded by the bulk request's own timeout plus the urgent one's
            assert time.monotonic() - t0 < 1.0 + 0.5 + 0.5
            try:
                await bulk
            except api.RequestTimeoutError:
                pass
        finally:
            await api.close()
            server.cancel()
            peer.close()

    asyncio.run(asyncio.wait_for(scenario(), 20))
