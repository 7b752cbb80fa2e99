"""A client dropped without close() never hangs the interpreter at garbage collection.

Dropped inside a reference cycle, a client is freed by the collector together with its 0MQ
sockets and contexts, in no set order; before each transport and subscriber had a finalizer
(``qs_gui.client.zmq_sockets``), a context finalized before its socket blocked ``gc.collect()``
forever in ``zmq.Context.term()``. Run in a child interpreter, so a regression fails this test
on its timeout instead of freezing the session.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from qs_gui.sandbox import Sandbox

pytestmark = pytest.mark.server

SCRIPT = """
import asyncio, gc, sys
from qs_gui.client import REManagerAPI

async def use(control, info, key):
    rm = REManagerAPI(zmq_control_addr=control, zmq_info_addr=info, zmq_public_key=key or None)
    await rm.status(reload=True)  # one request: a connected REQ socket
    rm.info_monitor().start()  # and a subscriber
    rm.system_info_monitor.enable()
    await rm.system_info_monitor.next_msg(timeout=30)  # status is pushed at least every second
    rm.itself = rm  # a reference cycle: only the collector frees it

asyncio.run(use(*sys.argv[1:4]))
gc.collect()
print("collected", flush=True)
"""


def test_dropping_an_unclosed_client_does_not_hang_gc(sandbox: Sandbox) -> None:
    args = [sandbox.control_addr, sandbox.info_addr, sandbox.public_key or ""]
    try:
        done = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True,
                              text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("gc.collect() hung on an unclosed client")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "collected"
