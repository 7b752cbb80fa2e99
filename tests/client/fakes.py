"""Test doubles for the client layer: an injected transport and a local fake 0MQ peer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import zmq
import zmq.asyncio

from qs_gui.client.transport import Codec, TransportTimeout


class FakeTransport:
    """Maps (method, params) to a reply with a handler; records every request. Implements the
    whole ``Transport`` protocol (qs_gui.client.transport)."""

    def __init__(self, handler: Callable[[str, dict], Any], latency: float = 0.0,
                 timeout_recv: float = 2.0):
        self.handler = handler
        self.latency = latency
        self.timeout_recv = timeout_recv
        self.in_flight: tuple[str, float] | None = None  # replies come at once: never pending
        self.requests: list[tuple[str, dict, float | None]] = []
        self.codec = Codec("json")
        self.closed = False

    supports_reuse = False  # replies are decoded whole, like a transport without the cache

    async def request(self, method, params, *, timeout=None, reuse=None):
        self.codec.encode({"method": method, "params": dict(params)})  # same caller-bug checks
        self.requests.append((method, dict(params), timeout))
        if self.latency:
            await asyncio.sleep(self.latency)
        reply = self.handler(method, dict(params))
        if isinstance(reply, Exception):
            raise reply
        raw = json.dumps(reply).encode()
        return json.loads(raw), raw

    def decode(self, raw):
        return json.loads(raw)

    async def decode_async(self, raw, reuse=None):
        return json.loads(raw)

    def close(self):
        self.closed = True

    def methods(self) -> list[str]:
        return [m for m, _, _ in self.requests]


TIMEOUT = TransportTimeout


class FakePeer:
    """A ROUTER socket on loopback that answers REQ clients as each test scripts.

    ``behaviour(request) -> bytes | None``: bytes are sent as the reply; None means stay silent
    (a ROUTER, unlike a REP, may leave a request unanswered and still serve the next one).
    """

    def __init__(self, behaviour: Callable[[dict], bytes | None], port: int | None = None):
        self.behaviour = behaviour
        self.ctx = zmq.asyncio.Context()
        self.received: list[dict] = []
        self._task: asyncio.Task | None = None
        self._sock = self.ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        if port:
            self._sock.bind(f"tcp://127.0.0.1:{port}")
        else:
            port = self._sock.bind_to_random_port("tcp://127.0.0.1")
        self.address = f"tcp://127.0.0.1:{port}"

    async def __aenter__(self) -> FakePeer:
        self._task = asyncio.ensure_future(self._serve())
        return self

    async def _serve(self) -> None:
        while True:
            identity, empty, raw = await self._sock.recv_multipart()
            request = json.loads(raw)
            self.received.append(request)
            reply = self.behaviour(request)
            if reply is not None:
                await self._sock.send_multipart([identity, empty, reply])

    async def __aexit__(self, *exc) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._sock.close(linger=0)
        self.ctx.term()


def status_reply(**overrides: Any) -> dict:
    status = {
        "msg": "RE Manager v0.0.25", "manager_state": "idle", "items_in_queue": 0,
        "items_in_history": 0, "worker_environment_exists": False, "re_state": None,
        "plan_queue_uid": "q1", "plan_history_uid": "h1", "plans_allowed_uid": "p1",
        "devices_allowed_uid": "d1", "lock_info_uid": "l1", "run_list_uid": "r1",
        "plans_existing_uid": "pe1", "devices_existing_uid": "de1",
        "lock": {"environment": False, "queue": False},
    }
    status.update(overrides)
    return status


class LoopbackPub:
    """A PUB bound to a random loopback port, which the subscriber under test connects to (the
    RE Manager's info socket and bluesky's proxy both bind). ``probe()`` gives a message the
    subscriber turns into an item, used to wait out 0MQ's slow-joiner window."""

    def __init__(self, probe: Callable[[], bytes | list[bytes]]) -> None:
        self.probe = probe
        self.ctx = zmq.asyncio.Context()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, 0)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.address = f"tcp://127.0.0.1:{port}"

    async def join(self, sub: Any) -> None:
        """Start ``sub`` and probe until it receives; then empty it and reset its counter."""
        sub.start()
        for _ in range(200):
            await self.send(self.probe())
            if await sub.next(timeout=0.02) is not None:
                await asyncio.sleep(0.02)
                sub.drain()
                sub.received = 0
                return
        raise AssertionError("the subscriber never joined")

    async def send(self, *frames: bytes | list[bytes]) -> None:
        for f in frames:
            if isinstance(f, list):
                await self.sock.send_multipart(f)
            else:
                await self.sock.send(f)

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()
