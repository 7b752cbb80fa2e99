"""REManagerAPI.reply_observers: how long each answered request took (issue 17: the session
learns what reads cost the serial server)."""

from __future__ import annotations

import asyncio
import json

import pytest

from qs_gui.client import REManagerAPI
from qs_gui.client.exceptions import RequestTimeoutError
from qs_gui.client.transport import TransportTimeout
from tests.client.fakes import FakePeer, FakeTransport, status_reply


def test_observers_see_answered_requests_only():
    def handle(method, params):
        return TransportTimeout("no reply") if method == "queue_start" else status_reply()

    async def scenario():
        transport = FakeTransport(handle)
        api = REManagerAPI(transport=transport)
        seen: list[tuple[str, float]] = []
        api.reply_observers.append(lambda method, seconds: seen.append((method, seconds)))
        await api.status(reload=True)
        with pytest.raises(RequestTimeoutError):
            await api.queue_start()
        return seen

    seen = asyncio.run(scenario())
    assert [m for m, _ in seen] == ["status"] and seen[0][1] >= 0


def test_the_transports_exchange_time_excludes_decoding():
    async def scenario():
        transport = FakeTransport(lambda method, params: status_reply(), latency=0.05)
        transport.last_exchange = {"status": 0.0125}  # as the 0MQ transport reports it
        api = REManagerAPI(transport=transport)
        seen: list[float] = []
        api.reply_observers.append(lambda method, seconds: seen.append(seconds))
        await api.status(reload=True)
        return seen

    assert asyncio.run(scenario()) == [0.0125]


def test_zmq_transport_reports_the_exchange_time():
    async def scenario():
        async with FakePeer(lambda request: json.dumps(status_reply()).encode()) as peer:
            api = REManagerAPI(zmq_control_addr=peer.address, timeout_recv=2.0)
            seen: list[tuple[str, float]] = []
            api.reply_observers.append(lambda method, seconds: seen.append((method, seconds)))
            await api.status(reload=True)
            exchange = api.transport.last_exchange["status"]
            await api.close()
            return seen, exchange

    seen, exchange = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert seen == [("status", exchange)] and 0 < exchange < 2.0
