"""CURVE-encrypted control socket: a client with the server's public key works; a plain client or
one with a wrong key gets no reply (the server drops the handshake), i.e. RequestTimeoutError."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import zmq

from qs_gui.client import BPlan, REManagerAPI, RequestTimeoutError
from qs_gui.sandbox import Sandbox

from ._support import api, run

pytestmark = pytest.mark.server

TIMEOUT = 0.5


@pytest.fixture(scope="module")
def curve_sandbox() -> Iterator[Sandbox]:
    public, secret = zmq.curve_keypair()
    sb = Sandbox(private_key=secret.decode("ascii"), publish_console=False)
    try:
        sb.start()
        assert sb.public_key == public.decode("ascii")
        yield sb
    finally:
        sb.stop()


def test_client_with_server_key_is_answered(curve_sandbox: Sandbox) -> None:
    async def body():
        async with api(curve_sandbox, zmq_public_key=curve_sandbox.public_key) as rm:
            status = await rm.status(reload=True)
            assert status["msg"] == "RE Manager v0.0.25"
            n0 = status["items_in_queue"]
            reply = await rm.item_add(BPlan("count", ["det1"], num=1))
            assert reply["success"] is True and reply["qsize"] == n0 + 1
            queue = await rm.queue_get(reload=True)
            assert reply["item"]["item_uid"] in [i["item_uid"] for i in queue["items"]]
            await rm.item_remove(uid=reply["item"]["item_uid"])

    run(body(), 30)


def test_key_from_environment_variable(curve_sandbox: Sandbox,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QSERVER_ZMQ_PUBLIC_KEY", curve_sandbox.public_key)

    async def body():
        rm = REManagerAPI(zmq_control_addr=curve_sandbox.control_addr, timeout_recv=2.0)
        try:
            assert (await rm.status(reload=True))["msg"] == "RE Manager v0.0.25"
        finally:
            await rm.close()

    run(body(), 30)


@pytest.mark.parametrize("key", ["none", "wrong"])
def test_plain_or_wrong_key_times_out(curve_sandbox: Sandbox, key: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QSERVER_ZMQ_PUBLIC_KEY", raising=False)
    server_key = None if key == "none" else zmq.curve_keypair()[0].decode("ascii")

    async def body():
        rm = REManagerAPI(zmq_control_addr=curve_sandbox.control_addr, timeout_recv=TIMEOUT,
                          zmq_public_key=server_key)
        try:
            for _ in range(2):  # and again on the recreated socket
                t0 = time.monotonic()
                with pytest.raises(RequestTimeoutError):
                    await rm.status(reload=True)
                elapsed = time.monotonic() - t0
                assert TIMEOUT - 0.02 <= elapsed <= TIMEOUT + 0.4, elapsed
        finally:
            await rm.close()
        # the server itself is fine: a keyed client is still answered
        async with api(curve_sandbox, zmq_public_key=curve_sandbox.public_key) as good:
            assert (await good.status(reload=True))["msg"] == "RE Manager v0.0.25"

    run(body(), 30)


@pytest.mark.parametrize("bad", ["short", "," * 40, "0" * 39 + "\u00e9"])
def test_invalid_key_rejected_at_construction(bad: str) -> None:
    with pytest.raises(ValueError, match="40 byte z85"):
        REManagerAPI(zmq_control_addr="tcp://127.0.0.1:1", zmq_public_key=bad)
