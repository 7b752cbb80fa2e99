"""BItem/BPlan/BInst/BFunc follow the reference construction, validation and to_dict rules."""

import pytest

from qs_gui.client import BFunc, BInst, BItem, BPlan

ref_item = pytest.importorskip("bluesky_queueserver_api.item")

CASES = [
    (("plan", "count", ["det1", "det2"]), {"num": 3, "delay": 0.2}),
    (("plan", "count"), {}),
    (("instruction", "queue_stop"), {}),
    (("function", "function_sleep", 2), {}),
]


@pytest.mark.parametrize(("args", "kwargs"), CASES)
def test_bitem_matches_reference(args, kwargs):
    ours = BItem(*args, **kwargs).to_dict()
    theirs = ref_item.BItem(*args, **kwargs).to_dict()
    assert ours == theirs


def test_typed_items_match_reference():
    assert BPlan("count", ["det1"], num=3, delay=0.1).to_dict() == ref_item.BPlan(
        "count", ["det1"], num=3, delay=0.1).to_dict()
    assert BInst("queue_stop").to_dict() == {"item_type": "instruction", "name": "queue_stop"}
    assert BFunc("f", 1).to_dict() == {"item_type": "function", "name": "f", "args": [1]}


def test_copy_from_dict_and_item_validates():
    item = BPlan({"item_type": "plan", "name": "count", "args": [["det1"]], "item_uid": "u1",
                  "meta": [{"a": 1}]})
    assert item.item_uid == "u1"
    assert BItem(item).to_dict() == item.to_dict()
    with pytest.raises(ValueError):
        BPlan({"item_type": "instruction", "name": "queue_stop"})
    with pytest.raises(ValueError):
        BInst(BPlan("count"))
    with pytest.raises(KeyError):
        BPlan({"name": "count"})


@pytest.mark.parametrize("bad", [
    {"item_type": "bogus", "name": "x"},
    {"item_type": "plan", "name": ""},
    {"item_type": "plan", "name": 5},
    {"item_type": "plan", "name": "x", "args": "abc"},
    {"item_type": "plan", "name": "x", "kwargs": [1]},
    {"item_type": "plan", "name": "x", "meta": "m"},
    {"item_type": "plan", "name": "x", "meta": [1]},
    {"item_type": "plan", "name": "x", "item_uid": ""},
])
def test_invalid_dicts_rejected_like_reference(bad):
    with pytest.raises((TypeError, ValueError)) as ours:
        BItem(bad)
    with pytest.raises((TypeError, ValueError)) as theirs:
        ref_item.BItem(bad)
    assert type(ours.value) is type(theirs.value)


def test_missing_name_and_type():
    with pytest.raises(KeyError):
        BItem()
    with pytest.raises(KeyError):
        BItem("plan")


def test_to_dict_is_a_deep_copy_and_drops_empty():
    item = BPlan("count", ["det1"])
    d = item.to_dict()
    d["args"][0].append("det2")
    assert item.args == [["det1"]]
    assert "kwargs" not in d and "meta" not in d
    item.meta = {"sample": "Si"}
    assert item.to_dict()["meta"] == {"sample": "Si"}


def test_reference_items_are_accepted_everywhere():
    """Items built with the reference's classes (or anything with ``to_dict()``) work as ours."""
    import asyncio

    from qs_gui.client import REManagerAPI

    from .fakes import FakeTransport

    theirs = ref_item.BPlan("count", ["det1"], num=3)
    assert BItem(theirs) == BPlan(theirs) == BPlan("count", ["det1"], num=3)
    with pytest.raises(ValueError):
        BInst(theirs)
    item = BPlan("count")
    item.from_dict(theirs)
    assert item.to_dict() == theirs.to_dict()

    class Duck:
        def to_dict(self):
            return {"item_type": "instruction", "name": "queue_stop"}

    transport = FakeTransport(lambda method, params: {"success": True, "msg": ""})
    rm = REManagerAPI(transport=transport)

    async def calls():
        await rm.item_add(theirs)
        await rm.item_add_batch([theirs, Duck(), {"item_type": "plan", "name": "count"}])
        await rm.item_execute(ref_item.BInst("queue_stop"))
        await rm.function_execute(ref_item.BFunc("function_sleep", 1))
        with pytest.raises(TypeError, match="Incorrect item type"):
            await rm.item_add(object())

    asyncio.run(calls())
    sent = [params for _, params, _ in transport.requests]
    assert sent[0]["item"] == theirs.to_dict()
    assert [i["name"] for i in sent[1]["items"]] == ["count", "queue_stop", "count"]
    assert sent[2]["item"] == {"item_type": "instruction", "name": "queue_stop"}
    assert sent[3]["item"] == {"item_type": "function", "name": "function_sleep", "args": [1]}
