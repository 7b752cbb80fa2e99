"""Transport faults against a local fake 0MQ peer (silence, malformed replies, caller bugs)."""

import asyncio
import json
import time

import pytest
import zmq

from qs_gui.client import (
    ClientClosedError,
    ReadOnlyError,
    REManagerAPI,
    RequestFailedError,
    RequestTimeoutError,
)

from .fakes import FakePeer, status_reply


def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_silent_peer_times_out_then_next_request_works():
    calls = {"n": 0}

    def behaviour(request):
        calls["n"] += 1
        return None if calls["n"] == 1 else json.dumps(status_reply()).encode()

    async def scenario():
        async with FakePeer(behaviour) as peer:
            rm = REManagerAPI(zmq_control_addr=peer.address, timeout_recv=0.3)
            t0 = time.monotonic()
            with pytest.raises(RequestTimeoutError) as err:
                await rm.status()
            elapsed = time.monotonic() - t0
            assert 0.25 <= elapsed < 1.0, elapsed
            assert err.value.request == {"method": "status", "params": None}
            assert str(err.value).startswith("Request timeout:")
            assert isinstance(err.value, TimeoutError)
            created = rm.transport.sockets_created
            status = await rm.status()
            assert status["manager_state"] == "idle"
            assert rm.transport.sockets_created == created + 1  # a fresh REQ socket
            await rm.close()

    run(scenario())


def test_dead_address_times_out_within_timeout():
    async def scenario():
        ctx = zmq.Context()
        s = ctx.socket(zmq.REP)
        port = s.bind_to_random_port("tcp://127.0.0.1")
        s.close(linger=0)
        ctx.term()
        rm = REManagerAPI(zmq_control_addr=f"tcp://127.0.0.1:{port}", timeout_recv=0.2)
        for _ in range(3):  # repeated failures never wedge the socket state machine
            t0 = time.monotonic()
            with pytest.raises(RequestTimeoutError):
                await rm.item_execute({"item_type": "plan", "name": "count"})
            assert time.monotonic() - t0 < 0.8
        await rm.close()

    run(scenario())


def test_malformed_reply_is_a_communication_error_and_client_recovers():
    replies = [b"not json", json.dumps(status_reply()).encode()]

    async def scenario():
        async with FakePeer(lambda r: replies.pop(0)) as peer:
            rm = REManagerAPI(zmq_control_addr=peer.address, timeout_recv=1)
            with pytest.raises(RequestTimeoutError, match="malformed reply"):
                await rm.status()
            assert (await rm.status(reload=True))["manager_state"] == "idle"
            await rm.close()

    run(scenario())


def test_non_serialisable_params_raise_type_error_and_send_nothing():
    async def scenario():
        async with FakePeer(lambda r: json.dumps({"success": True, "msg": ""}).encode()) as peer:
            rm = REManagerAPI(zmq_control_addr=peer.address, timeout_recv=1)
            with pytest.raises(TypeError, match="not serialisable"):
                await rm.item_add({"item_type": "plan", "name": "count", "args": [object()]})
            for bad in (float("inf"), float("-inf"), float("nan")):  # not JSON; inf reaches plans
                with pytest.raises(ValueError, match="NaN or infinite"):
                    await rm.item_execute({"item_type": "plan", "name": "count",
                                           "kwargs": {"delay": bad}})
            assert peer.received == []
            # Caller-side validation, as the reference client does.
            with pytest.raises(TypeError):
                await rm.item_execute("count")
            with pytest.raises(ValueError):
                await rm.queue_clear(lock_key=123)
            reply = await rm.queue_clear()
            assert reply == {"success": True, "msg": ""}
            await rm.close()

    run(scenario())


def test_failure_reply_raises_or_returns_per_setting():
    failure = {"success": False, "msg": "RE Manager is busy.", "qsize": None, "item": None}

    async def scenario():
        async with FakePeer(lambda r: json.dumps(failure).encode()) as peer:
            rm = REManagerAPI(zmq_control_addr=peer.address)
            with pytest.raises(RequestFailedError) as err:
                await rm.item_execute({"item_type": "plan", "name": "count"})
            assert str(err.value) == "Request failed: RE Manager is busy."
            assert err.value.response == failure
            assert err.value.request["method"] == "queue_item_execute"
            rm.request_fail_exceptions_enabled = False
            assert await rm.item_execute({"item_type": "plan", "name": "count"}) == failure
            await rm.close()

    run(scenario())


def test_read_only_client_refuses_mutations_before_sending():
    async def scenario():
        async with FakePeer(lambda r: json.dumps(status_reply()).encode()) as peer:
            rm = REManagerAPI(zmq_control_addr=peer.address, read_only=True)
            for call in (rm.item_execute({"item_type": "plan", "name": "count"}),
                         rm.queue_start(), rm.environment_open(), rm.re_abort(),
                         rm.send_request(method="manager_stop")):
                with pytest.raises(ReadOnlyError):
                    await call
            assert peer.received == []
            await rm.status()
            assert [r["method"] for r in peer.received] == ["status"]
            await rm.close()

    run(scenario())


def test_curve_key_validated_at_construction():
    with pytest.raises(ValueError, match="z85"):
        REManagerAPI(zmq_public_key="short")
    public, _ = zmq.curve_keypair()
    REManagerAPI(zmq_public_key=public.decode())


def test_constructible_without_loop_and_closed_client_refuses():
    rm = REManagerAPI(zmq_control_addr="tcp://127.0.0.1:9")  # no running loop here

    async def scenario():
        await rm.close()
        with pytest.raises(ClientClosedError):
            await rm.status()

    run(scenario())


def test_oversized_reply_to_a_small_request_is_refused_unread():
    """A status is ~1.5 KB: megabytes in reply to it are refused without decoding (a 50 MB one
    decoded on the loop stalled the GUI ~150 ms); bulk replies of that size are normal."""
    big = json.dumps({"success": True, "msg": "", "items": ["z" * 100] * 30_000,
                      "manager_state": "idle"}).encode()
    assert len(big) > 2**20

    async def scenario():
        async with FakePeer(lambda r: big) as peer:
            rm = REManagerAPI(zmq_control_addr=peer.address, timeout_recv=2)
            with pytest.raises(RequestTimeoutError, match="where a few KB are expected"):
                await rm.status()
            # same size, a method whose replies scale: decoded
            reply = await rm.send_request(method="queue_get")
            assert len(reply["items"]) == 30_000
            # ... parsed from the frame's own buffer: no copy of megabytes with the loop blocked
            _, raw = await rm._transport.request("queue_get", {})
            assert isinstance(raw, memoryview) and raw.nbytes == len(big)
            assert len(peer.received) == 3  # one each: nothing re-sent
            await rm.close()

    run(scenario())


def test_transports_implement_the_whole_protocol() -> None:
    """Every member of the Transport protocol exists on the 0MQ transport and the test fake,
    so nothing in the API or the session needs to probe a transport with getattr."""
    from qs_gui.client.transport import Transport, ZMQTransport
    from tests.client.fakes import FakeTransport

    members = {name for name in vars(Transport) if not name.startswith("_")}
    members |= set(Transport.__annotations__)
    assert {"request", "decode", "decode_async", "close", "in_flight", "closed",
            "timeout_recv", "supports_reuse"} <= members
    zmq_transport = ZMQTransport("tcp://127.0.0.1:1")
    fake = FakeTransport(lambda method, params: {"success": True})
    try:
        for transport in (zmq_transport, fake):
            missing = [m for m in members if not hasattr(transport, m)]
            assert not missing, (type(transport).__name__, missing)
    finally:
        zmq_transport.close()
