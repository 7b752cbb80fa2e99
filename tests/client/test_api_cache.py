"""uid-driven caching, status coalescing and bulk timeouts, through an injected fake transport."""

import asyncio

import pytest

from qs_gui.client import REManagerAPI

from .fakes import FakeTransport, status_reply


def make(handler=None, latency=0.0, **kwargs):
    state = {"status": status_reply(items_in_queue=10_000, items_in_history=100_000)}

    def default(method, params):
        if method == "status":
            return dict(state["status"])
        if method == "queue_get":
            return {"success": True, "msg": "", "items": [{"name": "count", "item_uid": "a"}],
                    "running_item": {}, "plan_queue_uid": state["status"]["plan_queue_uid"]}
        if method == "history_get":
            return {"success": True, "msg": "", "items": [],
                    "plan_history_uid": state["status"]["plan_history_uid"]}
        if method == "plans_allowed":
            return {"success": True, "msg": "", "plans_allowed": {"count": {}},
                    "plans_allowed_uid": state["status"]["plans_allowed_uid"]}
        return {"success": True, "msg": ""}

    transport = FakeTransport(handler or default, latency=latency)
    return REManagerAPI(transport=transport, **kwargs), transport, state


def test_queue_refetched_only_when_uid_changes():
    async def scenario():
        rm, t, state = make()
        first = await rm.queue_get()
        first["items"].append("mutated by caller")
        second = await rm.queue_get(reload=True)
        assert second["items"] == [{"name": "count", "item_uid": "a"}]  # fresh copy
        assert t.methods() == ["status", "queue_get", "status"]
        state["status"]["plan_queue_uid"] = "q2"
        await rm.queue_get(reload=True)
        assert t.methods()[-2:] == ["status", "queue_get"]

    asyncio.run(scenario())


def test_pushed_status_saves_round_trips():
    async def scenario():
        rm, t, _ = make()
        rm.update_status(status_reply(plan_queue_uid="q9"))
        await rm.queue_get()
        await rm.queue_get()
        assert t.methods() == ["queue_get"]

    asyncio.run(scenario())


def test_bulk_timeout_scales_with_counts():
    async def scenario():
        rm, t, _ = make(timeout_recv=2.0)
        await rm.history_get(reload=True)
        timeouts = {m: to for m, _, to in t.requests}
        assert timeouts["history_get"] == pytest.approx(2.0 + 100_000 * 2e-4)
        await rm.queue_get()
        timeouts = {m: to for m, _, to in t.requests}
        assert timeouts["queue_get"] == pytest.approx(2.0 + 10_000 * 2e-4)

    asyncio.run(scenario())


def test_concurrent_status_calls_coalesce():
    async def scenario():
        rm, t, _ = make(latency=0.01)
        results = await asyncio.gather(*(rm.status(reload=True) for _ in range(5)))
        assert all(r["manager_state"] == "idle" for r in results)
        assert t.methods().count("status") <= 2

    asyncio.run(scenario())


def test_mutations_expire_the_status_cache():
    async def scenario():
        rm, t, _ = make()
        await rm.status()
        await rm.status()
        assert t.methods() == ["status"]
        await rm.item_execute({"item_type": "plan", "name": "count"})
        await rm.status()
        assert t.methods() == ["status", "queue_item_execute", "status"]

    asyncio.run(scenario())


def test_plans_allowed_cached_per_group():
    async def scenario():
        rm, t, _ = make()
        await rm.plans_allowed()
        await rm.plans_allowed()
        await rm.plans_allowed(user_group="test_user")
        sent = [(m, p) for m, p, _ in t.requests if m == "plans_allowed"]
        assert sent == [("plans_allowed", {"user_group": "primary"}),
                        ("plans_allowed", {"user_group": "test_user"})]

    asyncio.run(scenario())


def test_no_background_tasks_are_created():
    async def scenario():
        before = set(asyncio.all_tasks())
        rm, _, _ = make()
        await rm.status()
        assert set(asyncio.all_tasks()) == before
        await rm.close()

    asyncio.run(scenario())


def test_lock_key_rules():
    rm, _, _ = make()
    with pytest.raises(RuntimeError):
        rm.enable_locked_api = True
    rm.lock_key = "k1"
    rm.enable_locked_api = True
    assert rm._prepare_item_execute(item={"item_type": "plan", "name": "c"}, user=None,
                                    user_group=None, lock_key=None)["lock_key"] == "k1"
    rm.lock_key = None
    assert rm.enable_locked_api is False
    with pytest.raises(ValueError):
        rm.lock_key = ""
