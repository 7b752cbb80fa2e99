"""``REManagerAPI.item_execute`` against the real RE Manager: success path and every refusal.

Refusal messages are compared with the server's exact texts (re-manager-protocol.md §8.1).
"""

from __future__ import annotations

import pytest

from qs_gui.client import BInst, BPlan, RequestFailedError
from qs_gui.sandbox import Sandbox

from ._support import (
    EXEC_FAIL,
    api,
    lock_block,
    run,
    server_locked,
    wait_idle,
    wait_in_history,
    wait_status,
    wait_until,
)

pytestmark = pytest.mark.server

DEFAULT_USER = "Queue Server API User"
DEFAULT_GROUP = "primary"
COUNT3 = BPlan("count", ["det1"], num=3, delay=0.1)
LONG = BPlan("count", ["det1"], num=20, delay=0.2)  # runs about 4 s: long enough to act on
SHORT = BPlan("count", ["det1"], num=1)


async def _start_long_plan(rm) -> str:
    """Start LONG via item_execute and wait until the Run Engine runs it; return its uid."""
    reply = await rm.item_execute(LONG)
    uid = reply["item"]["item_uid"]
    await wait_status(rm, lambda s: s["manager_state"] == "executing_queue"
                      and s["running_item_uid"] == uid and s["re_state"] == "running", 15,
                      "plan running")
    return uid


async def _abort(rm) -> None:
    """Cleanup: pause immediately, abort, and wait for idle, whatever state the manager is in."""
    acted: set[str] = set()

    async def step() -> bool:
        st = await rm.status(reload=True)
        state = st["manager_state"]
        if state == "idle":
            return True
        running = state == "executing_queue" and st["re_state"] == "running"
        action = "re_abort" if state == "paused" else "re_pause" if running else None
        if action and action not in acted:
            acted.add(action)
            try:
                await (rm.re_abort() if action == "re_abort" else rm.re_pause("immediate"))
            except RequestFailedError:
                acted.discard(action)  # the state moved on meanwhile: try again on the next poll
        return False

    await wait_until(step, 20, what="cleanup to idle")


# -- success paths ---------------------------------------------------------------------------


def test_plan_runs_once_outside_the_queue(env_open: Sandbox) -> None:
    async def body():
        async with api(env_open) as rm:
            queued = [BPlan("count", ["det2"], num=2), BInst("queue_stop"),
                      BPlan("count", ["det1"])]
            for item in queued:
                await rm.item_add(item)
            before = await rm.queue_get(reload=True)
            status_before = await rm.status(reload=True)
            assert len(before["items"]) == 3 and status_before["items_in_queue"] == 3

            reply = await rm.item_execute(COUNT3)

            assert set(reply) == {"success", "msg", "qsize", "item"}
            assert reply["success"] is True and reply["msg"] == ""
            assert reply["qsize"] == 3  # the unchanged queue size
            item = reply["item"]
            uid = item["item_uid"]
            assert isinstance(uid, str) and uid
            assert uid not in {i["item_uid"] for i in before["items"]}
            assert item["user"] == DEFAULT_USER and item["user_group"] == DEFAULT_GROUP
            assert {k: item[k] for k in ("item_type", "name", "args", "kwargs")} == {
                "item_type": "plan", "name": "count", "args": [["det1"]],
                "kwargs": {"num": 3, "delay": 0.1}}

            entry = await wait_in_history(rm, uid, 30)
            assert entry["result"]["exit_status"] == "completed", entry["result"]
            assert entry["user"] == DEFAULT_USER and entry["user_group"] == DEFAULT_GROUP
            status_after = await wait_idle(rm)
            after = await rm.queue_get(reload=True)
            # Queue untouched: same items, same order, same uids; the executed item is not in it.
            assert after["items"] == before["items"]
            assert after["running_item"] == {}
            assert status_after["items_in_queue"] == status_before["items_in_queue"] == 3
            assert uid not in {i["item_uid"] for i in after["items"]}
            history = await rm.history_get(reload=True)
            assert [h["item_uid"] for h in history["items"]].count(uid) == 1

    run(body())


def test_plan_not_reappended_in_loop_mode(env_open: Sandbox) -> None:
    async def body():
        async with api(env_open) as rm:
            await rm.queue_mode_set(loop=True)
            await rm.item_add(BPlan("count", ["det1"]))
            before = await rm.queue_get(reload=True)
            reply = await rm.item_execute(SHORT)
            uid = reply["item"]["item_uid"]
            entry = await wait_in_history(rm, uid)
            assert entry["result"]["exit_status"] == "completed"
            await wait_idle(rm)
            after = await rm.queue_get(reload=True)
            assert after["items"] == before["items"]
            assert (await rm.status(reload=True))["plan_queue_mode"]["loop"] is True

    run(body())


def test_instruction_is_accepted(env_open: Sandbox) -> None:
    async def body():
        async with api(env_open) as rm:
            await rm.item_add(SHORT)
            before = await rm.queue_get(reload=True)
            reply = await rm.item_execute(BInst("queue_stop"))
            assert reply["success"] is True and reply["msg"] == ""
            assert reply["qsize"] == 1
            assert reply["item"]["item_type"] == "instruction"
            assert reply["item"]["name"] == "queue_stop"
            assert reply["item"]["item_uid"]
            await wait_idle(rm)
            after = await rm.queue_get(reload=True)
            assert after["items"] == before["items"]

    run(body())


def test_dict_item_is_accepted(env_open: Sandbox) -> None:
    async def body():
        async with api(env_open) as rm:
            reply = await rm.item_execute({"item_type": "plan", "name": "count",
                                           "args": [["det1"]], "kwargs": {"num": 1}})
            assert reply["success"] is True
            entry = await wait_in_history(rm, reply["item"]["item_uid"])
            assert entry["result"]["exit_status"] == "completed"

    run(body())


# -- user / user_group ------------------------------------------------------------------------


def test_user_and_group_per_call_override_defaults(env_open: Sandbox) -> None:
    async def body():
        async with api(env_open) as rm:
            rm.user, rm.user_group = "default-carol", "primary"
            reply = await rm.item_execute(SHORT, user="operator-bob", user_group="test_user")
            item = reply["item"]
            assert (item["user"], item["user_group"]) == ("operator-bob", "test_user")
            entry = await wait_in_history(rm, item["item_uid"])
            assert (entry["user"], entry["user_group"]) == ("operator-bob", "test_user")
            assert entry["result"]["exit_status"] == "completed"
            await wait_idle(rm)

            # Not given: the client's (changed) defaults are used ...
            reply = await rm.item_execute(SHORT)
            item = reply["item"]
            assert (item["user"], item["user_group"]) == ("default-carol", "primary")
            entry = await wait_in_history(rm, item["item_uid"])
            assert (entry["user"], entry["user_group"]) == ("default-carol", "primary")
            await wait_idle(rm)

            # ... and only one of them given: the other comes from the defaults.
            reply = await rm.item_execute(SHORT, user_group="test_user")
            assert (reply["item"]["user"], reply["item"]["user_group"]) == (
                "default-carol", "test_user")
            await wait_in_history(rm, reply["item"]["item_uid"])

    run(body())


# -- refusals ---------------------------------------------------------------------------------


def _expect_refusal(rm, item, expected_msg: str | None = None, *, prefix: str | None = None,
                    **kwargs):
    async def go() -> RequestFailedError:
        with pytest.raises(RequestFailedError) as info:
            await rm.item_execute(item, **kwargs)
        ex = info.value
        msg = ex.response["msg"]
        if expected_msg is not None:
            assert msg == expected_msg
        if prefix is not None:
            assert msg.startswith(prefix), msg
        assert str(ex) == f"Request failed: {msg}"
        assert ex.response["success"] is False and ex.response["qsize"] is None
        assert ex.request["method"] == "queue_item_execute"
        return ex

    return go()


def test_refused_when_environment_closed(env_closed: Sandbox) -> None:
    async def body():
        async with api(env_closed) as rm:
            msg = EXEC_FAIL + "RE Worker environment does not exist."
            ex = await _expect_refusal(rm, COUNT3, msg)
            # .request is what was sent; .response is the server's failure reply
            assert ex.request == {"method": "queue_item_execute", "params": {
                "item": COUNT3.to_dict(), "user": DEFAULT_USER, "user_group": DEFAULT_GROUP}}
            assert set(ex.response) == {"success", "msg", "qsize", "item"}
            assert ex.response["item"]["item_uid"]  # validated, then refused: uid assigned
            await _expect_refusal(rm, BInst("queue_stop"), msg)
            st = await rm.status(reload=True)
            assert st["items_in_history"] == 0 and st["items_in_queue"] == 0

    run(body())


def test_refused_when_busy_then_when_paused(env_open: Sandbox) -> None:
    async def body():
        async with api(env_open) as rm:
            try:
                running_uid = await _start_long_plan(rm)
                await _expect_refusal(rm, SHORT, EXEC_FAIL + "RE Manager is busy.")

                await rm.re_pause("immediate")
                st = await wait_status(rm, lambda s: s["manager_state"] == "paused", 15, "paused")
                assert st["running_item_uid"] == running_uid and st["re_state"] == "paused"
                await _expect_refusal(rm, SHORT, EXEC_FAIL + "RE Manager is busy.")
                await rm.re_abort()
                entry = await wait_in_history(rm, running_uid, 15)
                assert entry["result"]["exit_status"] == "aborted"
                st = await wait_idle(rm)
                assert st["items_in_queue"] == 0  # an aborted executed item is not queued
                assert st["items_in_history"] == 1  # the refused requests left no trace
            finally:
                await _abort(rm)

    run(body())


def test_refused_when_queue_is_running(env_open: Sandbox) -> None:
    async def body():
        async with api(env_open) as rm:
            try:
                await rm.item_add(LONG)
                await rm.queue_start()
                await wait_status(rm, lambda s: s["manager_state"] == "executing_queue", 15)
                await _expect_refusal(rm, SHORT, EXEC_FAIL + "RE Manager is busy.")
            finally:
                await rm.queue_stop()
                await _abort(rm)

    run(body())


@pytest.mark.parametrize("env", ["env_open", "env_closed"])
def test_refused_unknown_plan(env: str, request: pytest.FixtureRequest) -> None:
    sb = request.getfixturevalue(env)

    async def body():
        async with api(sb) as rm:
            msg = (EXEC_FAIL + "Plan validation failed: Plan 'no_such_plan' is not in the list of "
                   "allowed plans.\nPlan: {'item_type': 'plan', 'name': 'no_such_plan'}")
            ex = await _expect_refusal(rm, BPlan("no_such_plan"), msg)
            assert ex.response["item"] == {"item_type": "plan", "name": "no_such_plan"}

    run(body())


def test_refused_bad_parameter_type(env_open: Sandbox) -> None:
    async def body():
        async with api(env_open) as rm:
            prefix = (EXEC_FAIL + "Plan validation failed: 1 validation error for Model\nnum\n"
                      "  Input should be a valid integer")
            ex = await _expect_refusal(rm, BPlan("count", ["det1"], num="abc"), prefix=prefix)
            assert "input_value='abc'" in ex.response["msg"]

    run(body())


def test_refused_unknown_user_group(env_open: Sandbox) -> None:
    async def body():
        async with api(env_open) as rm:
            await _expect_refusal(rm, SHORT, EXEC_FAIL + "Unknown user group: 'nogroup'",
                                  user_group="nogroup")
            rm.user_group = "nogroup"  # the same through the default
            await _expect_refusal(rm, SHORT, EXEC_FAIL + "Unknown user group: 'nogroup'")

    run(body())


def test_refused_plan_not_permitted_for_group(env_open: Sandbox) -> None:
    async def body():
        async with api(env_open) as rm:
            msg = (EXEC_FAIL + "Plan validation failed: Plan 'mv' is not in the list of allowed "
                   "plans.\nPlan: {'item_type': 'plan', 'name': 'mv', 'args': ['motor', 1]}")
            await _expect_refusal(rm, BPlan("mv", "motor", 1), msg, user_group="test_user")
            # the same plan is permitted for 'primary' (it passes validation and starts)
            reply = await rm.item_execute(BPlan("mv", "motor", 1))
            entry = await wait_in_history(rm, reply["item"]["item_uid"])
            assert entry["result"]["exit_status"] == "completed"

    run(body())


def test_environment_lock_key_as_argument(env_open: Sandbox) -> None:
    key = "qs-gui-test-key-1"

    async def body():
        async with api(env_open) as rm:
            with server_locked(env_open, key, note="calibration") as info:
                locked_msg = EXEC_FAIL + lock_block(info)
                ex = await _expect_refusal(rm, SHORT, locked_msg)  # no key
                assert "lock_key" not in ex.request["params"]
                assert ex.response["item"] is None
                ex = await _expect_refusal(rm, SHORT, locked_msg, lock_key="wrong-key")
                assert ex.request["params"]["lock_key"] == "wrong-key"
                reply = await rm.item_execute(SHORT, lock_key=key)  # right key
                assert reply["success"] is True
                entry = await wait_in_history(rm, reply["item"]["item_uid"])
                assert entry["result"]["exit_status"] == "completed"
                await wait_idle(rm)

    run(body())


def test_environment_lock_key_via_locked_api(env_open: Sandbox) -> None:
    key = "qs-gui-test-key-2"

    async def body():
        async with api(env_open) as rm:
            with server_locked(env_open, key) as info:
                locked_msg = EXEC_FAIL + lock_block(info)
                assert info["note"] is None and locked_msg.endswith("\nNote: ---")

                rm.lock_key = key  # set, but the locked API is off: no key is sent
                ex = await _expect_refusal(rm, SHORT, locked_msg)
                assert "lock_key" not in ex.request["params"]

                rm.lock_key = "wrong-key"
                rm.enable_locked_api = True
                ex = await _expect_refusal(rm, SHORT, locked_msg)
                assert ex.request["params"]["lock_key"] == "wrong-key"

                # an explicit argument wins over the client's key
                reply = await rm.item_execute(SHORT, lock_key=key)
                await wait_in_history(rm, reply["item"]["item_uid"])
                await wait_idle(rm)

                rm.lock_key = key
                rm.enable_locked_api = True
                reply = await rm.item_execute(SHORT)
                assert reply["success"] is True
                entry = await wait_in_history(rm, reply["item"]["item_uid"])
                assert entry["result"]["exit_status"] == "completed"
                await wait_idle(rm)

                rm.lock_key = None  # clears the key and disables the locked API
                assert rm.enable_locked_api is False
                await _expect_refusal(rm, SHORT, locked_msg)

    run(body())


def test_failure_dict_returned_when_exceptions_disabled(env_closed: Sandbox) -> None:
    async def body():
        async with api(env_closed, request_fail_exceptions=False) as rm:
            reply = await rm.item_execute(COUNT3)
            assert set(reply) == {"success", "msg", "qsize", "item"}
            assert reply["success"] is False and reply["qsize"] is None
            assert reply["msg"] == EXEC_FAIL + "RE Worker environment does not exist."
            reply = await rm.item_execute(BPlan("no_such_plan"))
            assert reply["success"] is False and reply["qsize"] is None
            assert reply["msg"].startswith(
                EXEC_FAIL + "Plan validation failed: Plan 'no_such_plan'")
            # the property switches it back on
            rm.request_fail_exceptions_enabled = True
            with pytest.raises(RequestFailedError):
                await rm.item_execute(COUNT3)

    run(body())
