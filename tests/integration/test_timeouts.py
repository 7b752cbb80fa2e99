"""Request timeouts: a silent peer, a dead address, and recovery on the same client afterwards.

A REQ socket is unusable after a missed reply; the client must recreate it, raise
RequestTimeoutError within its timeout, and serve the next request normally.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from qs_gui.client import REManagerAPI, RequestTimeoutError
from qs_gui.sandbox import Sandbox
from tests.client.fakes import FakePeer
from tests.helpers import manager_stopped

from ._support import api, run

pytestmark = pytest.mark.server

TIMEOUT = 0.5
EARLY = 0.02  # a timeout must not fire noticeably before it is due
LATE = 0.4  # scheduling slack on a loaded 2-core machine


def _assert_on_time(elapsed: float, timeout: float = TIMEOUT) -> None:
    assert timeout - EARLY <= elapsed <= timeout + LATE, f"timed out after {elapsed:.3f} s"


def _dead_address() -> str:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


def test_silent_peer_then_real_server_on_the_same_client(sandbox: Sandbox) -> None:
    """The peer swallows the first request and proxies every later one to the real server."""
    seen: list[str] = []

    def behaviour(request: dict) -> bytes | None:
        seen.append(request["method"])
        if len(seen) == 1:
            return None  # silent
        return json.dumps(sandbox.request(request["method"], request["params"])).encode()

    async def body():
        async with FakePeer(behaviour) as peer:
            rm = REManagerAPI(zmq_control_addr=peer.address, timeout_recv=TIMEOUT)
            try:
                t0 = time.monotonic()
                with pytest.raises(RequestTimeoutError) as info:
                    await rm.status(reload=True)
                _assert_on_time(time.monotonic() - t0)
                assert info.value.request["method"] == "status"
                assert str(info.value).startswith("Request timeout: ")
                assert isinstance(info.value, TimeoutError)
                sockets_after_timeout = rm.transport.sockets_created

                status = await rm.status(reload=True)
                assert status["msg"] == "RE Manager v0.0.25"
                assert status["manager_state"] == sandbox.request("status")["manager_state"]
                queue = await rm.queue_get(reload=True)
                assert queue["success"] is True and isinstance(queue["items"], list)
                # the stuck REQ socket was replaced, and only once
                assert rm.transport.sockets_created == sockets_after_timeout + 1 == 2
                assert seen == ["status", "status", "status", "queue_get"]
            finally:
                await rm.close()

    run(body(), 30)


def test_late_reply_is_not_taken_for_the_next_request(sandbox: Sandbox) -> None:
    """A request times out while the real server is frozen (SIGSTOP, so the reply is surely
    late, whatever the machine's load); it answers once thawed, and that late reply must be
    dropped with the old socket, not delivered as the reply to the next request."""

    async def body():
        async with api(sandbox, timeout_recv=2.0) as rm:
            for per_call in (0, 0.2, 0):
                with manager_stopped(sandbox):
                    t0 = time.monotonic()
                    with pytest.raises(RequestTimeoutError) as info:
                        await rm.send_request(method="plans_allowed",
                                              params={"user_group": "primary"}, timeout=per_call)
                    assert time.monotonic() - t0 < per_call + LATE
                assert info.value.request == {"method": "plans_allowed",
                                              "params": {"user_group": "primary"}}
                status = await rm.status(reload=True)  # the thawed server answers both
                assert status["msg"] == "RE Manager v0.0.25" and "plans_allowed" not in status
                history = await rm.send_request(method="history_get")
                assert set(history) == {"success", "msg", "items", "plan_history_uid"}
            reply = await rm.send_request(method="plans_allowed", params={"user_group": "primary"})
            assert "count" in reply["plans_allowed"]

    run(body(), 30)


def test_dead_address_times_out_within_the_timeout() -> None:
    async def body():
        rm = REManagerAPI(zmq_control_addr=_dead_address(), timeout_recv=TIMEOUT)
        try:
            for method in ("status", "queue_get", "item_execute"):
                t0 = time.monotonic()
                with pytest.raises(RequestTimeoutError):
                    if method == "status":
                        await rm.status(reload=True)
                    elif method == "queue_get":
                        await rm.send_request(method="queue_get")
                    else:
                        await rm.item_execute({"item_type": "plan", "name": "count"})
                _assert_on_time(time.monotonic() - t0)
            # every failure replaced the socket (a second send on a stuck REQ would raise EFSM)
            assert rm.transport.sockets_created == 3
            t0 = time.monotonic()
            with pytest.raises(RequestTimeoutError):
                await rm.send_request(method="status", timeout=0.2)
            _assert_on_time(time.monotonic() - t0, 0.2)
        finally:
            await rm.close()

    run(body(), 30)


def test_dead_address_then_server_appears(sandbox: Sandbox) -> None:
    """After timeouts on a silent address the same client object works once a peer answers:
    here the peer is bound to the previously dead address and proxies to the real server."""
    address = _dead_address()

    async def body():
        rm = REManagerAPI(zmq_control_addr=address, timeout_recv=TIMEOUT)
        try:
            with pytest.raises(RequestTimeoutError):
                await rm.status(reload=True)
            peer = FakePeer(
                lambda r: json.dumps(sandbox.request(r["method"], r["params"])).encode(),
                port=int(address.rsplit(":", 1)[1]))
            async with peer:
                status = await rm.status(reload=True)
                assert status["msg"] == "RE Manager v0.0.25"
        finally:
            await rm.close()

    run(body(), 30)
