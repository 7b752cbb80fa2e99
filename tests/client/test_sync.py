"""The blocking face (``qs_gui.client.sync.REManagerAPI``) against the real RE Manager.

The face has no request code of its own: what is checked here is the proxying (the reference's
threaded API offered under the same names, blocking calls, monitors, exceptions), the thread
safety (two threads at once, a wait cancelled from another thread) and the shutdown (no thread
left, no task destroyed pending, nothing hanging at interpreter exit).
"""

from __future__ import annotations

import gc
import inspect
import logging
import subprocess
import sys
import threading
import time

import pytest

from qs_gui.client import ClientClosedError
from qs_gui.client import api as async_api
from qs_gui.client.sync import BPlan, REManagerAPI, WaitMonitor, protocol_class
from qs_gui.sandbox import Sandbox
from tests.helpers import reset_server

reference = pytest.importorskip("bluesky_queueserver_api")
from bluesky_queueserver_api.console_monitor import ConsoleMonitor_ZMQ_Threads  # noqa: E402
from bluesky_queueserver_api.system_info_monitor import SystemInfoMonitor_ZMQ_Threads  # noqa: E402
from bluesky_queueserver_api.zmq import REManagerAPI as ReferenceThreadsAPI  # noqa: E402

#: deliberately absent: qs-gui never writes a lock key to disk (tests/reference/conftest.py)
NOT_OFFERED = {"default_lock_key_path", "get_default_lock_key", "set_default_lock_key"}


def public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def client(sb: Sandbox, **kwargs) -> REManagerAPI:
    return REManagerAPI(zmq_control_addr=sb.control_addr, zmq_info_addr=sb.info_addr,
                        zmq_public_key=sb.public_key, **kwargs)


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "qs-gui REManagerAPI loop"]


# -- the face itself (no server) -------------------------------------------------------------

def test_offers_the_reference_threaded_api_as_blocking_calls():
    assert public(ReferenceThreadsAPI) - public(REManagerAPI) == NOT_OFFERED
    for name in public(REManagerAPI):
        member = inspect.getattr_static(REManagerAPI, name)
        assert not inspect.iscoroutinefunction(member), name
        ours = inspect.getattr_static(async_api.REManagerAPI, name)
        if inspect.iscoroutinefunction(ours) and name != "close":  # as the async one
            assert inspect.signature(member) == inspect.signature(ours), name
            assert member.__doc__ == ours.__doc__, name
    assert REManagerAPI.RequestFailedError is async_api.RequestFailedError
    assert REManagerAPI.Protocols is async_api.Protocols
    assert "item_execute" in dir(REManagerAPI)


def test_monitors_offer_the_reference_threaded_monitors():
    with REManagerAPI(zmq_control_addr="tcp://127.0.0.1:9", zmq_info_addr="tcp://127.0.0.1:9",
                      ) as RM:
        assert public(ConsoleMonitor_ZMQ_Threads) <= public(RM.console_monitor)
        assert public(SystemInfoMonitor_ZMQ_Threads) <= public(RM.system_info_monitor)
        assert RM.console_monitor is RM.console_monitor
        assert RM.protocol is RM.Protocols.ZMQ
        with pytest.raises(RM.RequestTimeoutError):
            RM.console_monitor.next_msg()  # nothing buffered: no wait
        RM.console_monitor.text_max_lines = 5  # a setter, run in the loop thread
        assert RM.console_monitor.text_max_lines == 5
        assert RM.console_monitor.text() == ""


# -- against the server ------------------------------------------------------------------------

@pytest.mark.server
def test_status_and_item_add(server_reset: Sandbox):
    with client(server_reset) as RM:
        status = RM.status()
        assert status["manager_state"] == "idle" and status["items_in_queue"] == 0
        reply = RM.item_add(BPlan("count", ["det1"], num=1))
        assert reply["success"] is True and reply["qsize"] == 1
        assert RM.status(reload=True)["items_in_queue"] == 1
        queue = RM.queue_get()
        assert [item["item_uid"] for item in queue["items"]] == [reply["item"]["item_uid"]]


@pytest.mark.server
def test_documented_example_runs_as_written(env_open: Sandbox, monkeypatch):
    """``RM = REManagerAPI(); RM.item_execute(BPlan("count", ["det1"], num=10, delay=1))``:
    the server's address comes from the environment, as for the reference client."""
    monkeypatch.setenv("QSERVER_ZMQ_CONTROL_ADDRESS", env_open.control_addr)
    monkeypatch.setenv("QSERVER_ZMQ_INFO_ADDRESS", env_open.info_addr)
    if env_open.public_key:
        monkeypatch.setenv("QSERVER_ZMQ_PUBLIC_KEY", env_open.public_key)

    RM = REManagerAPI()
    reply = RM.item_execute(BPlan("count", ["det1"], num=10, delay=1))
    assert reply["success"] is True
    RM.wait_for_idle(timeout=60)
    history = RM.history_get()["items"]
    assert [h["item_uid"] for h in history] == [reply["item"]["item_uid"]]
    assert history[0]["result"]["exit_status"] == "completed"
    RM.close()


@pytest.mark.server
def test_request_failed_error_carries_the_servers_message(server_reset: Sandbox):
    expected = "Failed to get an item: Item with UID 'no-such-uid' is not in the queue."
    with client(server_reset) as RM:
        with pytest.raises(RM.RequestFailedError) as info:
            RM.item_get(uid="no-such-uid")
        assert str(info.value) == f"Request failed: {expected}"
        assert info.value.response["msg"] == expected
        RM.request_fail_exceptions_enabled = False
        assert RM.item_get(uid="no-such-uid")["msg"] == expected


@pytest.mark.server
def test_console_monitor_next_msg_with_timeout(env_open: Sandbox):
    with client(env_open) as RM:
        monitor = RM.console_monitor
        monitor.enable()
        assert monitor.enabled is True
        with pytest.raises(RM.RequestTimeoutError):
            monitor.next_msg(timeout=0.2)  # blocks for the timeout, then gives up
        RM.script_upload("print('sync face marker')")
        deadline = time.monotonic() + 30
        while "sync face marker" not in monitor.next_msg(timeout=5)["msg"]:
            assert time.monotonic() < deadline, "the console line never came"
        assert "sync face marker" in monitor.text()
        monitor.disable_wait(timeout=5)
        assert monitor.enabled is False


@pytest.mark.server
def test_wait_for_idle_cancelled_from_another_thread(env_open: Sandbox):
    class Started(WaitMonitor):
        """Tells the other thread when the wait has started."""

        def __init__(self) -> None:
            super().__init__()
            self.started = threading.Event()

        def set_timeout(self, timeout: float) -> None:
            super().set_timeout(timeout)
            self.started.set()

    # The waiting client polls every 30 s: a cancel seen only at the next poll would show.
    with client(env_open) as RM, client(env_open, status_polling_period=30) as slow:
        RM.item_execute(BPlan("count", ["det1"], num=60, delay=1))
        # re_state too: "executing_queue" comes before the Run Engine runs, and the pause at
        # the end is refused until it does ("can be paused only in 'running' state")
        RM.wait_for_condition(lambda s: s["manager_state"] == "executing_queue"
                              and s["re_state"] == "running", timeout=30)
        monitor = Started()
        cancelled_at: list[float] = []

        def cancel() -> None:
            assert monitor.started.wait(30)
            cancelled_at.append(time.monotonic())
            monitor.cancel()

        canceller = threading.Thread(target=cancel)
        canceller.start()
        with pytest.raises(slow.WaitCancelError):
            slow.wait_for_idle(timeout=120, monitor=monitor)
        ended = time.monotonic()
        canceller.join()
        assert ended - cancelled_at[0] < 2.0
        assert RM.status(reload=True)["manager_state"] == "executing_queue"  # still running
        RM.re_pause("immediate")
        RM.wait_for_idle_or_paused(timeout=30)
        RM.re_abort()
        RM.wait_for_idle(timeout=30)


@pytest.mark.server
def test_two_threads_at_once(server_reset: Sandbox):
    per_thread = 10
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    with client(server_reset) as RM:

        def work(name: str) -> None:
            try:
                barrier.wait(10)
                for i in range(per_thread):
                    RM.item_add(BPlan("count", ["det1"], num=1, md={"who": name, "i": i}))
                    RM.status(reload=True)
            except BaseException as ex:  # reported by the main thread
                errors.append(ex)

        threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        items = RM.queue_get(reload=True)["items"]
        for name in ("a", "b"):  # each thread's items in its own order
            mine = [it["kwargs"]["md"]["i"] for it in items if it["kwargs"]["md"]["who"] == name]
            assert mine == list(range(per_thread))


@pytest.mark.server
def test_a_condition_that_calls_the_client_fails_instead_of_hanging(server_reset: Sandbox):
    with client(server_reset) as RM, pytest.raises(RuntimeError, match="own loop thread"):
        RM.wait_for_condition(lambda status: RM.status() is None, timeout=10)


@pytest.mark.server
def test_close_leaves_no_thread_and_no_pending_task(sandbox: Sandbox, caplog):
    caplog.set_level(logging.DEBUG, logger="asyncio")
    before = loop_threads()
    RM = client(sandbox)
    RM.status()
    RM.console_monitor.enable()
    RM.system_info_monitor.enable()
    RM.system_info_monitor.next_msg(timeout=30)  # status pushes come every second
    thread = RM._loop.thread
    assert thread.is_alive()
    RM.close()
    assert not thread.is_alive() and loop_threads() == before
    RM.close()  # idempotent
    with pytest.raises(ClientClosedError):
        RM.status()
    assert RM.protocol is RM.Protocols.ZMQ  # plain attributes still answer

    dropped = client(sandbox)  # never closed: collected
    dropped.console_monitor.enable()
    thread = dropped._loop.thread
    del dropped
    gc.collect()
    thread.join(15)
    assert not thread.is_alive()
    assert not [r for r in caplog.records if "destroyed" in r.getMessage()]


SCRIPT = """
import sys
from qs_gui.client.sync import REManagerAPI
RM = REManagerAPI(zmq_control_addr=sys.argv[1], zmq_info_addr=sys.argv[2],
                  zmq_public_key=sys.argv[3] or None)
RM.status()
RM.console_monitor.enable()
RM.system_info_monitor.enable()
RM.system_info_monitor.next_msg(timeout=30)
print("done", flush=True)
"""


@pytest.mark.server
def test_an_open_client_does_not_hold_up_interpreter_exit(sandbox: Sandbox):
    args = [sandbox.control_addr, sandbox.info_addr, sandbox.public_key or ""]
    done = subprocess.run([sys.executable, "-X", "dev", "-c", SCRIPT, *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"
    assert done.stderr == ""  # no "Task was destroyed", no unclosed-socket warnings


@pytest.mark.server
def test_http_face_chosen_by_the_server_uri(http_sandbox: Sandbox):
    """``http_server_uri=`` makes the face HTTP: bluesky-httpserver's methods and class
    attributes, the same blocking calls and monitors."""
    reset_server(http_sandbox)
    before = loop_threads()
    with REManagerAPI(http_server_uri=http_sandbox.http_uri) as RM:
        assert RM.protocol is RM.Protocols.HTTP and isinstance(RM, REManagerAPI)
        assert type(RM) is protocol_class("HTTP")
        with pytest.raises(RM.HTTPClientError, match="401"):
            RM.status()
        RM.set_authorization_key(api_key=http_sandbox.http_api_key)  # a plain method
        assert RM.auth_method is RM.AuthorizationMethods.API_KEY
        assert RM.status(reload=True)["items_in_queue"] == 0
        assert RM.item_add(BPlan("count", ["det1"], num=1))["qsize"] == 1
        with pytest.raises(RM.RequestFailedError, match="not in the queue"):
            RM.item_get(uid="no-such-uid")
        assert "whoami" in dir(RM) and "zmq_control_addr" not in dir(RM)
        RM.system_info_monitor.enable()
        assert "manager_state" in RM.system_info_monitor.next_msg(timeout=30)["msg"]["status"]
    assert loop_threads() == before
    reset_server(http_sandbox)
