"""Differential tests: qs-gui's client vs the reference client (bluesky-queueserver-api 0.0.13).

Part A: both clients talk to a local recording REP socket; for the same call they must put
identical requests on the wire and return identical results (or raise the same exception).
Part B: both clients talk to the same REAL RE Manager; results must agree (volatile fields such as
uids and times normalised; exceptions compared by type name and ``str()``).

The reference client must be constructed inside a running loop (it starts background tasks) and
must be closed with ``await ref.close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import zmq
import zmq.asyncio
from bluesky_queueserver_api import BFunc as RefBFunc
from bluesky_queueserver_api import BInst as RefBInst
from bluesky_queueserver_api import BPlan as RefBPlan
from bluesky_queueserver_api.zmq.aio import REManagerAPI as RefAPI

from qs_gui.client import BFunc, BInst, BPlan, REManagerAPI
from qs_gui.sandbox import Sandbox

from ._support import (
    EXEC_FAIL,
    lock_block,
    run,
    server_locked,
    wait_idle,
    wait_in_history,
    wait_status,
)

pytestmark = pytest.mark.server

# ================================================================================================
# Part A: requests on the wire (local recording REP socket)
# ================================================================================================

FIXED_UID_KEYS = ("plan_queue_uid", "plan_history_uid", "plans_allowed_uid", "devices_allowed_uid",
                  "plans_existing_uid", "devices_existing_uid", "run_list_uid", "lock_info_uid",
                  "task_results_uid")

LOCK_INFO = {"environment": True, "queue": False, "user": "alice", "time": 1795941364.109,
             "time_str": "11/29/2026 08:36:04", "note": "n", "emergency_lock_key_is_set": False}


class Recorder:
    """A REP socket that records each decoded request and answers like a (very simple) server.

    Its data uids change only on ``bump()``, and list replies carry the same uids as ``status``,
    as on the real server, so both clients' uid-driven caches behave as they would in real use.
    """

    def __init__(self) -> None:
        self.ctx = zmq.asyncio.Context()
        self.sock = self.ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.address = f"tcp://127.0.0.1:{port}"
        self.requests: list[dict] = []
        self.generation = 0
        self._task = asyncio.ensure_future(self._serve())

    def bump(self) -> None:
        self.generation += 1

    def uid(self, key: str) -> str:
        return f"{key}-{self.generation}"

    def take(self) -> list[dict]:
        out, self.requests = self.requests, []
        return out

    async def _serve(self) -> None:
        while True:
            raw = await self.sock.recv()
            request = json.loads(raw)
            self.requests.append(request)
            await self.sock.send(json.dumps(self.reply(request)).encode())

    def reply(self, request: dict) -> Any:
        method, params = request.get("method"), request.get("params") or {}
        ok = {"success": True, "msg": ""}
        uid = self.uid
        if method == "status":
            status = {"msg": "RE Manager v0.0.25", "manager_state": "idle", "items_in_queue": 1,
                      "items_in_history": 1, "running_item_uid": None,
                      "worker_environment_exists": True, "re_state": "idle",
                      "lock": {"environment": False, "queue": False},
                      "plan_queue_mode": {"loop": False, "ignore_failures": False},
                      "status_uid": uid("status_uid")}
            status.update({k: uid(k) for k in FIXED_UID_KEYS})
            return status
        item = {"item_type": "plan", "name": "count", "args": [["det1"]], "item_uid": "i-1",
                "user": "u", "user_group": "primary"}
        if method == "queue_get":
            return {**ok, "items": [item], "running_item": {}, "plan_queue_uid": uid(
                "plan_queue_uid")}
        if method == "history_get":
            return {**ok, "items": [{**item, "result": {"exit_status": "completed"}}],
                    "plan_history_uid": uid("plan_history_uid")}
        if method in ("plans_allowed", "devices_allowed", "plans_existing", "devices_existing"):
            group = params.get("user_group", "-")
            return {**ok, method: {f"{method}-{group}": {"name": "x"}},
                    f"{method}_uid": uid(f"{method}_uid")}
        if method == "re_runs":
            return {**ok, "run_list": [{"uid": "r1", "is_open": True},
                                       {"uid": "r2", "is_open": False}],
                    "run_list_uid": uid("run_list_uid")}
        if method in ("lock", "lock_info", "unlock"):
            return {**ok, "lock_info": LOCK_INFO, "lock_info_uid": uid("lock_info_uid")}
        if method == "task_status":
            return {**ok, "task_uid": params.get("task_uid"), "status": "completed"}
        if method in ("queue_item_execute", "queue_item_add"):
            sent = params.get("item", {})
            if sent.get("name") == "refuse_me":
                return {"success": False, "msg": EXEC_FAIL + "RE Manager is busy.",
                        "qsize": None, "item": sent}
            return {**ok, "qsize": 1, "item": {**sent, "item_uid": "new-uid",
                                               "user": params.get("user"),
                                               "user_group": params.get("user_group")}}
        return ok

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.sock.close(linger=0)
        self.ctx.term()


# Each spec: (id, call(client, is_ref) -> awaitable). ``is_ref`` selects the client's own item
# classes, so that BItem conversion is part of what is compared.
def _item(is_ref: bool, cls: str, *args, **kwargs):
    ours = {"plan": BPlan, "inst": BInst, "func": BFunc}[cls]
    ref = {"plan": RefBPlan, "inst": RefBInst, "func": RefBFunc}[cls]
    return (ref if is_ref else ours)(*args, **kwargs)


def P(r: bool):
    return _item(r, "plan", "count", ["det1", "det2"], num=3, delay=1)


ITEM_DICT = {"item_type": "plan", "name": "count", "args": [["det1"]], "kwargs": {}}
UPDATED = {"item_type": "plan", "name": "count", "args": [["det2"]], "item_uid": "u-upd"}
SCRIPT = "def f():\n    return 1\n"

SPECS: list[tuple[str, Callable[[Any, bool], Any]]] = [
    ("status_reload", lambda c, r: c.status(reload=True)),
    ("ping", lambda c, r: c.ping(reload=True)),
    ("config_get", lambda c, r: c.config_get()),
    # item_execute
    ("item_execute_bplan", lambda c, r: c.item_execute(P(r))),
    ("item_execute_dict", lambda c, r: c.item_execute(dict(ITEM_DICT))),
    ("item_execute_user_group_key", lambda c, r: c.item_execute(
        _item(r, "plan", "count", ["det1"]), user="bob", user_group="admin", lock_key="k1")),
    ("item_execute_user_only", lambda c, r: c.item_execute(P(r), user="bob")),
    ("item_execute_binst", lambda c, r: c.item_execute(_item(r, "inst", "queue_stop"))),
    ("item_execute_meta", lambda c, r: c.item_execute(
        {"item_type": "plan", "name": "count", "args": [["det1"]], "meta": {"sample": "Si"}})),
    ("item_execute_refused", lambda c, r: c.item_execute(_item(r, "plan", "refuse_me"))),
    ("item_execute_bad_type", lambda c, r: c.item_execute(5)),
    ("item_execute_empty_key", lambda c, r: c.item_execute(P(r), lock_key="")),
    # item_add & co
    ("item_add", lambda c, r: c.item_add(P(r))),
    ("item_add_pos_front", lambda c, r: c.item_add(P(r), pos="front")),
    ("item_add_pos_int", lambda c, r: c.item_add(P(r), pos=2)),
    ("item_add_before_uid", lambda c, r: c.item_add(P(r), before_uid="u-1")),
    ("item_add_after_uid_user", lambda c, r: c.item_add(
        P(r), after_uid="u-2", user="eve", user_group="test_user", lock_key="k2")),
    ("item_add_batch", lambda c, r: c.item_add_batch(
        [P(r), _item(r, "inst", "queue_stop"), dict(ITEM_DICT)])),
    ("item_add_batch_after_uid", lambda c, r: c.item_add_batch([P(r)], after_uid="u-3")),
    ("item_add_batch_pos", lambda c, r: c.item_add_batch([P(r), P(r)], pos="front")),
    ("item_update", lambda c, r: c.item_update(dict(UPDATED))),
    ("item_update_replace", lambda c, r: c.item_update(dict(UPDATED), replace=True, user="x")),
    ("item_get", lambda c, r: c.item_get()),
    ("item_get_pos", lambda c, r: c.item_get(pos=1)),
    ("item_get_uid", lambda c, r: c.item_get(uid="u-1")),
    ("item_remove", lambda c, r: c.item_remove()),
    ("item_remove_uid", lambda c, r: c.item_remove(uid="u-1")),
    ("item_remove_pos_key", lambda c, r: c.item_remove(pos="front", lock_key="k3")),
    ("item_remove_batch", lambda c, r: c.item_remove_batch(uids=["u-1", "u-2"])),
    ("item_remove_batch_ignore", lambda c, r: c.item_remove_batch(uids=["u-1"],
                                                                   ignore_missing=False)),
    ("item_move_pos", lambda c, r: c.item_move(pos=1, pos_dest="front")),
    ("item_move_uid_pos", lambda c, r: c.item_move(uid="u-1", pos_dest=3)),
    ("item_move_before", lambda c, r: c.item_move(uid="u-1", before_uid="u-2")),
    ("item_move_after", lambda c, r: c.item_move(uid="u-1", after_uid="u-2")),
    ("item_move_batch_pos", lambda c, r: c.item_move_batch(uids=["u-1", "u-2"],
                                                           pos_dest="back")),
    ("item_move_batch_before", lambda c, r: c.item_move_batch(uids=["u-1"], before_uid="u-3")),
    ("item_move_batch_after_reorder", lambda c, r: c.item_move_batch(
        uids=["u-2", "u-1"], after_uid="u-3", reorder=True)),
    # queue
    ("queue_get", lambda c, r: c.queue_get()),
    ("queue_get_reload", lambda c, r: c.queue_get(reload=True)),
    ("queue_start", lambda c, r: c.queue_start()),
    ("queue_stop", lambda c, r: c.queue_stop()),
    ("queue_stop_cancel", lambda c, r: c.queue_stop_cancel()),
    ("queue_clear", lambda c, r: c.queue_clear()),
    ("queue_clear_key", lambda c, r: c.queue_clear(lock_key="k4")),
    ("queue_autostart_on", lambda c, r: c.queue_autostart(True)),
    ("queue_autostart_off", lambda c, r: c.queue_autostart(False)),
    ("queue_mode_set_loop", lambda c, r: c.queue_mode_set(loop=True)),
    ("queue_mode_set_default", lambda c, r: c.queue_mode_set(mode="default")),
    ("queue_mode_set_both_key", lambda c, r: c.queue_mode_set(
        loop=True, ignore_failures=False, lock_key="k5")),
    # history
    ("history_get", lambda c, r: c.history_get()),
    ("history_clear", lambda c, r: c.history_clear()),
    ("history_clear_size", lambda c, r: c.history_clear(size=2)),
    ("history_clear_uid", lambda c, r: c.history_clear(item_uid="u-9")),
    # environment and scripts
    ("environment_open", lambda c, r: c.environment_open()),
    ("environment_close", lambda c, r: c.environment_close()),
    ("environment_destroy", lambda c, r: c.environment_destroy(lock_key="k6")),
    ("environment_update", lambda c, r: c.environment_update()),
    ("environment_update_bg", lambda c, r: c.environment_update(run_in_background=True)),
    ("script_upload", lambda c, r: c.script_upload(SCRIPT)),
    ("script_upload_all", lambda c, r: c.script_upload(
        SCRIPT, update_lists=False, update_re=True, run_in_background=True)),
    ("function_execute", lambda c, r: c.function_execute(_item(r, "func", "function_sleep", 1))),
    ("function_execute_all", lambda c, r: c.function_execute(
        _item(r, "func", "function_sleep", 1), run_in_background=True, user="u",
        user_group="g")),
    ("task_status", lambda c, r: c.task_status("t-1")),
    ("task_status_list", lambda c, r: c.task_status(("t-1", "t-2"))),
    ("task_status_bad", lambda c, r: c.task_status(5)),
    ("task_result", lambda c, r: c.task_result("t-1")),
    # run engine
    ("re_pause", lambda c, r: c.re_pause()),
    ("re_pause_immediate", lambda c, r: c.re_pause("immediate")),
    ("re_pause_deferred_key", lambda c, r: c.re_pause("deferred", lock_key="k7")),
    ("re_resume", lambda c, r: c.re_resume()),
    ("re_stop", lambda c, r: c.re_stop()),
    ("re_abort", lambda c, r: c.re_abort()),
    ("re_halt", lambda c, r: c.re_halt()),
    ("re_runs", lambda c, r: c.re_runs()),
    ("re_runs_open", lambda c, r: c.re_runs("open", reload=True)),
    ("re_runs_closed", lambda c, r: c.re_runs("closed", reload=True)),
    ("re_runs_bad_option", lambda c, r: c.re_runs("bogus")),
    ("kernel_interrupt", lambda c, r: c.kernel_interrupt()),
    ("kernel_interrupt_all", lambda c, r: c.kernel_interrupt(interrupt_task=True,
                                                             interrupt_plan=False)),
    # locking
    ("lock_explicit", lambda c, r: c.lock("kx", environment=True, note="n", user="alice")),
    ("lock_default_key", lambda c, r: c.lock(environment=True, queue=True)),
    ("lock_environment_note", lambda c, r: c.lock_environment("kx", note="calibration")),
    ("lock_queue", lambda c, r: c.lock_queue("kx")),
    ("lock_all_note_user", lambda c, r: c.lock_all("kx", note="n", user="bob")),
    ("lock_bad_note", lambda c, r: c.lock("kx", environment=True, note=5)),
    ("unlock_explicit", lambda c, r: c.unlock("kx")),
    ("unlock_default_key", lambda c, r: c.unlock()),
    ("lock_info", lambda c, r: c.lock_info()),
    ("lock_info_key", lambda c, r: c.lock_info(lock_key="kx")),
    # plans, devices, permissions
    ("plans_allowed", lambda c, r: c.plans_allowed()),
    ("plans_allowed_group", lambda c, r: c.plans_allowed(user_group="test_user")),
    ("devices_allowed", lambda c, r: c.devices_allowed()),
    ("devices_allowed_group", lambda c, r: c.devices_allowed(user_group="root", reload=True)),
    ("plans_existing", lambda c, r: c.plans_existing()),
    ("devices_existing", lambda c, r: c.devices_existing()),
    ("permissions_get", lambda c, r: c.permissions_get()),
    ("permissions_reload", lambda c, r: c.permissions_reload()),
    ("permissions_reload_all", lambda c, r: c.permissions_reload(
        restore_plans_devices=True, restore_permissions=False)),
    ("permissions_set", lambda c, r: c.permissions_set({"user_groups": {"root": {}}})),
    # raw send_request
    ("send_request", lambda c, r: c.send_request(method="re_metadata")),
    ("send_request_params", lambda c, r: c.send_request(method="manager_stop",
                                                         params={"option": "safe_off"})),
]

KEY = "K-differential"

# Client configurations applied identically to both clients before each spec.
MODES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "key_set_locked_api_off": {"lock_key": KEY},
    "locked_api_on": {"lock_key": KEY, "enable_locked_api": True},
    "other_user_and_group": {"user": "alice", "user_group": "test_user", "lock_key": KEY,
                             "enable_locked_api": True},
    "no_fail_exceptions": {"request_fail_exceptions_enabled": False},
}


def _configure(client: Any, mode: dict[str, Any]) -> None:
    for name in ("user", "user_group", "lock_key", "enable_locked_api",
                 "request_fail_exceptions_enabled"):
        if name in mode:
            setattr(client, name, mode[name])


def _normalise_uids(value: Any) -> Any:
    """Replace uid values (the recorder's change between calls) by a placeholder."""
    if isinstance(value, dict):
        return {k: "<uid>" if k.endswith("_uid") and isinstance(v, str)
                else _normalise_uids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_uids(v) for v in value]
    return value


async def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", result)`` or ``("raised", (type name, str, request, response))``."""
    try:
        return "ok", _normalise_uids(await call())
    except Exception as ex:  # compared across clients, whatever it is
        return "raised", (type(ex).__name__, str(ex), getattr(ex, "request", None),
                          getattr(ex, "response", None))


@contextlib.asynccontextmanager
async def _both(control_addr: str, info_addr: str = "tcp://127.0.0.1:9", **kwargs: Any,
                ) -> AsyncIterator[tuple[REManagerAPI, RefAPI]]:
    ours = REManagerAPI(zmq_control_addr=control_addr, zmq_info_addr=info_addr, **kwargs)
    ref = RefAPI(zmq_control_addr=control_addr, zmq_info_addr=info_addr, **kwargs)
    try:
        yield ours, ref
    finally:
        await ours.close()
        await close_reference_client(ref)


async def close_reference_client(ref: RefAPI) -> None:
    """``await ref.close()``, then release the 0MQ contexts the reference client leaves open.

    Its constructor creates three ``zmq.asyncio.Context`` objects (control REQ, console monitor
    SUB, system-info monitor SUB); ``close()`` closes only the REQ socket and terminates none of
    them (client-api-semantics.md §12.4). Left to the garbage collector, such a context can be
    finalised before its still-open SUB socket, and ``Context.__del__`` then blocks forever in
    ``term()``: this hung a whole pytest session at exit. Destroying them here with linger 0
    closes the sockets first.
    """
    await ref.close()
    sockets = [getattr(ref._client, "_zmq_socket", None)]
    for monitor in (ref._console_monitor, ref._system_info_monitor):
        sockets.append(getattr(getattr(monitor, "_rco", None), "_socket", None))
    contexts = {sock.context for sock in sockets if sock is not None}
    contexts.add(ref._client._ctx)
    for ctx in contexts:
        ctx.destroy(linger=0)


@pytest.mark.parametrize("spec_id, call", SPECS, ids=[s[0] for s in SPECS])
def test_same_request_on_the_wire(spec_id: str, call: Callable[[Any, bool], Any]) -> None:
    async def body():
        recorder = Recorder()
        # status_expiration_period=0: every call reads a fresh status, so what is sent does not
        # depend on how long ago the previous status was fetched.
        try:
            async with _both(recorder.address, timeout_recv=2.0,
                             status_expiration_period=0) as (ours, ref):
                mismatches = []
                for mode_name, mode in MODES.items():
                    results = {}
                    for name, client, is_ref in (("qs-gui", ours, False), ("ref", ref, True)):
                        _configure(client, mode)
                        recorder.bump()  # the server "changed": cached lists must be re-read
                        recorder.take()
                        outcome = await _outcome(lambda c=client, r=is_ref: call(c, r))
                        results[name] = (outcome, recorder.take())
                    (ours_out, ours_wire), (ref_out, ref_wire) = results["qs-gui"], results["ref"]
                    if ours_wire != ref_wire:
                        mismatches.append(f"[{mode_name}] wire:\n  qs-gui {ours_wire}\n"
                                          f"  ref    {ref_wire}")
                    if ours_out != ref_out:
                        mismatches.append(f"[{mode_name}] outcome:\n  qs-gui {ours_out}\n"
                                          f"  ref    {ref_out}")
                    if ours_out[0] == "ok":
                        # a call that succeeded must have sent its request
                        assert ours_wire, f"[{mode_name}] nothing was sent"
                assert not mismatches, "\n".join(mismatches)
        finally:
            await recorder.close()

    run(body(), 60)


def test_wire_capture_matches_documented_examples() -> None:
    """The requests quoted in client-api-semantics.md §3, byte-for-byte after decoding."""

    async def body():
        recorder = Recorder()
        try:
            async with _both(recorder.address, status_expiration_period=0) as (ours, ref):
                for client, cls in ((ours, BPlan), (ref, RefBPlan)):
                    await client.item_execute(cls("count", ["det1", "det2"], num=3, delay=1))
                    await client.item_execute(cls("count", ["det1"]), user="bob",
                                              user_group="admin", lock_key="k1")
                    await client.lock("abc", environment=True, user="alice", note="n")
                    await client.environment_open()
                    await client.queue_mode_set(loop=True)
                    sent = [r for r in recorder.take() if r["method"] != "status"]
                    assert sent == [
                        {"method": "queue_item_execute", "params": {
                            "item": {"item_type": "plan", "name": "count",
                                     "args": [["det1", "det2"]], "kwargs": {"num": 3, "delay": 1}},
                            "user": "Queue Server API User", "user_group": "primary"}},
                        {"method": "queue_item_execute", "params": {
                            "item": {"item_type": "plan", "name": "count", "args": [["det1"]]},
                            "user": "bob", "user_group": "admin", "lock_key": "k1"}},
                        {"method": "lock", "params": {"environment": True, "lock_key": "abc",
                                                      "user": "alice", "note": "n"}},
                        {"method": "environment_open", "params": {}},
                        {"method": "queue_mode_set", "params": {"mode": {"loop": True}}},
                    ], type(client).__module__
        finally:
            await recorder.close()

    run(body(), 30)


@pytest.mark.parametrize("name", ["queue_get", "history_get", "plans_allowed", "devices_allowed",
                                  "plans_existing", "devices_existing", "re_runs", "lock_info"])
def test_uid_driven_cache_sends_the_same(name: str) -> None:
    """With unchanged uids neither client re-downloads; after a change both do."""

    async def body():
        recorder = Recorder()
        try:
            async with _both(recorder.address, status_expiration_period=0) as (ours, ref):
                for label, client in (("qs-gui", ours), ("ref", ref)):
                    recorder.bump()
                    first = await getattr(client, name)()
                    assert [r["method"] for r in recorder.take()] == ["status", name], label
                    second = await getattr(client, name)()  # same uids: served from the cache
                    assert [r["method"] for r in recorder.take()] == ["status"], label
                    assert second == first, label
                    recorder.bump()
                    await getattr(client, name)()
                    assert [r["method"] for r in recorder.take()] == ["status", name], label
        finally:
            await recorder.close()

    run(body(), 30)


def test_timeouts_raise_the_same_exception_type() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        dead = f"tcp://127.0.0.1:{s.getsockname()[1]}"

    async def body():
        async with _both(dead, timeout_recv=0.3) as (ours, ref):
            caught = {}
            for label, client in (("qs-gui", ours), ("ref", ref)):
                t0 = time.monotonic()
                with pytest.raises(TimeoutError) as info:
                    await client.item_execute({"item_type": "plan", "name": "count"})
                caught[label] = (info.value, time.monotonic() - t0)
            (o, o_dt), (r, _) = caught["qs-gui"], caught["ref"]
            assert type(o).__name__ == type(r).__name__ == "RequestTimeoutError"
            assert [c.__name__ for c in type(o).__mro__[1:]] == [
                c.__name__ for c in type(r).__mro__[1:]]
            assert str(o).startswith("Request timeout: ") and str(r).startswith(
                "Request timeout: ")
            assert o.request == r.request
            assert o_dt <= 0.3 + 0.4  # the reference needs up to timeout + 1 s here

    run(body(), 30)


# ================================================================================================
# Part B: the same REAL server, both clients
# ================================================================================================

VOLATILE = {"item_uid", "status_uid", "time", "time_start", "time_stop", "run_uids", "scan_ids",
            "plan_queue_uid", "plan_history_uid", "lock_info_uid", "run_list_uid",
            "task_results_uid"}


def _strip(value: Any) -> Any:
    """Drop volatile fields (uids, times) recursively."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


async def _raised(coro) -> tuple[str, str, Any]:
    try:
        result = await coro
    except Exception as ex:
        return type(ex).__name__, str(ex), _strip(copy.deepcopy(getattr(ex, "response", None)))
    raise AssertionError(f"expected an exception, got {result!r}")


def _real(sb: Sandbox, **kwargs: Any):
    return _both(sb.control_addr, sb.info_addr, **kwargs)


def test_real_read_only_calls_agree(env_open: Sandbox) -> None:
    async def body():
        async with _real(env_open) as (ours, ref):
            s_ours, s_ref = await ours.status(reload=True), await ref.status(reload=True)
            assert set(s_ours) == set(s_ref) and len(s_ours) == 27
            assert _strip(s_ours) == _strip(s_ref)
            assert s_ours["msg"] == "RE Manager v0.0.25" and s_ours["worker_environment_exists"]

            for name, kwargs in (("plans_allowed", {}),
                                 ("plans_allowed", {"user_group": "test_user"}),
                                 ("devices_allowed", {}),
                                 ("devices_allowed", {"user_group": "test_user"}),
                                 ("plans_existing", {}), ("devices_existing", {}),
                                 ("queue_get", {}), ("history_get", {}), ("re_runs", {}),
                                 ("lock_info", {}), ("lock_info", {"lock_key": "any-key"})):
                a = await getattr(ours, name)(**kwargs)
                b = await getattr(ref, name)(**kwargs)
                assert a == b, f"{name}({kwargs}) differs"
                assert a["success"] is True
            for name in ("permissions_get", "config_get"):
                assert await getattr(ours, name)() == await getattr(ref, name)()
            plans = await ours.plans_allowed()
            assert "count" in plans["plans_allowed"]
            assert len((await ours.plans_allowed(user_group="test_user"))["plans_allowed"]) < len(
                plans["plans_allowed"])

    run(body(), 60)


def test_real_queue_editing_agrees(env_open: Sandbox) -> None:
    async def body():
        async with _real(env_open) as (ours, ref):
            a = await ours.item_add(BPlan("count", ["det1"], num=2))
            b = await ref.item_add(RefBPlan("count", ["det1"], num=2))
            assert set(a) == set(b) == {"success", "msg", "qsize", "item"}
            assert (a["qsize"], b["qsize"]) == (1, 2)
            assert _strip(a["item"]) == _strip(b["item"])
            assert a["item"]["item_uid"] != b["item"]["item_uid"]

            q_ours, q_ref = await ours.queue_get(), await ref.queue_get()
            assert q_ours == q_ref
            assert [i["item_uid"] for i in q_ours["items"]] == [a["item"]["item_uid"],
                                                               b["item"]["item_uid"]]
            for kwargs in ({"pos": "back"}, {"pos": 0}, {"uid": a["item"]["item_uid"]}):
                assert await ours.item_get(**kwargs) == await ref.item_get(**kwargs)

            batch_ours = await ours.item_add_batch([BPlan("count", ["det2"])], pos="front")
            batch_ref = await ref.item_add_batch([RefBPlan("count", ["det2"])], pos="front")
            assert _strip(batch_ours) == {**_strip(batch_ref), "qsize": batch_ours["qsize"]}
            assert batch_ref["qsize"] == batch_ours["qsize"] + 1

            # moves and removals by each client leave the same queue visible to both
            await ours.item_move(pos="front", pos_dest="back")
            await ref.item_move(uid=a["item"]["item_uid"], before_uid=b["item"]["item_uid"])
            assert await ours.queue_get() == await ref.queue_get()
            r_ours = await ours.item_remove(uid=b["item"]["item_uid"])
            r_ref = await ref.item_remove(uid=a["item"]["item_uid"])
            assert set(r_ours) == set(r_ref) and r_ours["qsize"] == r_ref["qsize"] + 1
            assert await ours.queue_get() == await ref.queue_get()
            assert await ours.queue_mode_set(loop=True) == await ref.queue_mode_set(loop=False)

    run(body(), 60)


def test_real_failures_agree(env_open: Sandbox) -> None:
    async def body():
        async with _real(env_open) as (ours, ref):
            cases = [
                (lambda c, P: c.item_add(P("no_such_plan")), "Failed to add an item: Plan "
                 "validation failed: Plan 'no_such_plan' is not in the list of allowed plans."),
                (lambda c, P: c.item_add(P("count", ["det1"]), before_uid="no-such-uid"),
                 "Failed to add an item: Plan with UID 'no-such-uid' is not in the queue."),
                (lambda c, P: c.item_execute(P("no_such_plan")),
                 EXEC_FAIL + "Plan validation failed: Plan 'no_such_plan'"),
                (lambda c, P: c.item_execute(P("count", ["det1"], num="abc")),
                 EXEC_FAIL + "Plan validation failed: 1 validation error for Model\nnum\n"),
                (lambda c, P: c.item_execute(P("count", ["det1"]), user_group="nogroup"),
                 EXEC_FAIL + "Unknown user group: 'nogroup'"),
                (lambda c, P: c.plans_allowed(user_group="nobody"), "Unknown user group: 'nobody'"),
                (lambda c, P: c.history_clear(size=2, item_uid="x"),
                 "Error: Parameters 'size' and 'item_uid' are mutually exclusive."),
                (lambda c, P: c.re_resume(), "RE Manager is not paused: current state is 'idle'"),
                (lambda c, P: c.item_remove(uid="no-such-uid"),
                 "Failed to remove an item: Plan with UID 'no-such-uid' is not in the queue."),
                (lambda c, P: c.queue_mode_set(bogus=True), "Failed to set queue mode: "
                 "Unsupported plan queue mode parameter 'bogus'"),
            ]
            for call, expected in cases:
                o = await _raised(call(ours, BPlan))
                r = await _raised(call(ref, RefBPlan))
                assert o == r
                assert o[0] == "RequestFailedError"
                assert o[1].startswith("Request failed: " + expected), o[1]

            ours.request_fail_exceptions_enabled = False
            ref.request_fail_exceptions_enabled = False
            a = await ours.item_execute(BPlan("no_such_plan"))
            b = await ref.item_execute(RefBPlan("no_such_plan"))
            assert a == b and a["success"] is False and a["qsize"] is None

    run(body(), 60)


def test_real_history_after_plans_agrees(env_open: Sandbox) -> None:
    async def body():
        async with _real(env_open) as (ours, ref):
            a = await ours.item_execute(BPlan("count", ["det1"], num=2, delay=0.05))
            entry_a = await wait_in_history(ours, a["item"]["item_uid"])
            await wait_idle(ours)
            b = await ref.item_execute(RefBPlan("count", ["det1"], num=2, delay=0.05))
            b_uid = b["item"]["item_uid"]
            assert set(a) == set(b) and _strip(a) == _strip(b)
            entry_b = await wait_in_history(ours, b_uid)
            await wait_idle(ours)
            h_ours, h_ref = await ours.history_get(), await ref.history_get()
            assert h_ours == h_ref
            assert [h["item_uid"] for h in h_ours["items"]] == [a["item"]["item_uid"], b_uid]
            assert entry_a["result"]["exit_status"] == entry_b["result"]["exit_status"] == (
                "completed")
            assert _strip(entry_a) == _strip(entry_b)
            assert await ours.re_runs() == await ref.re_runs()
            cleared = [await c.history_clear(size=1) for c in (ours, ref)]
            assert cleared[0] == cleared[1] == {"success": True, "msg": ""}
            assert (await ref.history_get())["items"] == (await ours.history_get())["items"]

    run(body(), 60)


def test_real_busy_refusal_agrees(env_open: Sandbox) -> None:
    async def body():
        async with _real(env_open) as (ours, ref):
            try:
                reply = await ours.item_execute(BPlan("count", ["det1"], num=20, delay=0.2))
                await wait_status(ours, lambda s: s["running_item_uid"] == reply["item"]["item_uid"]
                                  and s["re_state"] == "running", 15)
                o = await _raised(ours.item_execute(BPlan("count", ["det1"])))
                r = await _raised(ref.item_execute(RefBPlan("count", ["det1"])))
                assert o[:2] == r[:2] == ("RequestFailedError",
                                          "Request failed: " + EXEC_FAIL + "RE Manager is busy.")
                assert o[2] == r[2]
                o = await _raised(ours.environment_close())
                r = await _raised(ref.environment_close())
                assert o == r and o[1] == "Request failed: Queue execution is in progress."
                s_ours, s_ref = await ours.status(reload=True), await ref.status(reload=True)
                assert s_ours["running_item_uid"] == s_ref["running_item_uid"]
                assert await ours.queue_get(reload=True) == await ref.queue_get(reload=True)
            finally:
                await ours.re_pause("immediate")
                await wait_status(ours, lambda s: s["manager_state"] == "paused", 15)
                await ours.re_abort()
                await wait_idle(ours)

    run(body(), 60)


def test_real_lock_agrees(env_open: Sandbox) -> None:
    key = "K-real-differential"

    async def body():
        async with _real(env_open) as (ours, ref):
            with server_locked(env_open, key, environment=True, queue=True, note="beam") as info:
                a, b = await ours.lock_info(), await ref.lock_info()
                assert a == b and a["lock_info"]["note"] == "beam"
                assert a["lock_info"]["environment"] is True
                a, b = await ours.lock_info(lock_key=key), await ref.lock_info(lock_key=key)
                assert a == b and a["success"] is True
                o = await _raised(ours.lock_info(lock_key="wrong"))
                r = await _raised(ref.lock_info(lock_key="wrong"))
                assert o == r
                assert o[1] == "Request failed: Error: " + lock_block(info)
                o = await _raised(ours.item_execute(BPlan("count", ["det1"])))
                r = await _raised(ref.item_execute(RefBPlan("count", ["det1"])))
                assert o == r and o[1] == "Request failed: " + EXEC_FAIL + lock_block(info)
                o = await _raised(ours.item_add(BPlan("count", ["det1"])))
                r = await _raised(ref.item_add(RefBPlan("count", ["det1"])))
                assert o == r and o[1] == "Request failed: Failed to add an item: " + lock_block(
                    info)
                for client in (ours, ref):
                    client.lock_key = key
                    client.enable_locked_api = True
                a = await ours.item_add(BPlan("count", ["det1"]))
                b = await ref.item_add(RefBPlan("count", ["det1"]))
                assert _strip(a["item"]) == _strip(b["item"]) and b["qsize"] == a["qsize"] + 1
                assert await ours.queue_clear() == await ref.queue_clear()

    run(body(), 60)
