"""loads_async: the same result (or error) as json.loads, without long blocking steps."""

from __future__ import annotations

import asyncio
import gc
import json
import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qs_gui.client import jsonstream
from qs_gui.client.jsonstream import loads_async

FIXTURE = HealthCheck.function_scoped_fixture  # the fixture only sets constants


@pytest.fixture
def tiny_slices(monkeypatch):
    """Stream even small documents, a few elements per slice, to exercise every boundary."""
    monkeypatch.setattr(jsonstream, "SMALL", 0)
    monkeypatch.setattr(jsonstream, "SHARE_ABOVE", 0)
    monkeypatch.setattr(jsonstream, "_FIRST_SLICE", 1)
    monkeypatch.setattr(jsonstream, "_MIN_SLICE", 1)
    monkeypatch.setattr(jsonstream, "_MAX_SLICE", 200)


def decode(data, **kw):
    return asyncio.run(loads_async(data, **kw))


def same(a, b) -> bool:
    """Equality that treats NaN as equal to NaN (json round-trips it)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


TRICKY = ['}, {', '}]', '"}, {"', '\\"}, {', "]}", "\u00e9\u4e2d\U0001f600", "\\u0000", "",
          '{"items": [', "\ud800", "x" * 300]
leaf = (st.none() | st.booleans() | st.integers(-10**20, 10**20)
        | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(TRICKY) | st.text())
values = st.recursive(leaf, lambda kids: st.lists(kids, max_size=4)
                      | st.dictionaries(st.text(max_size=5) | st.sampled_from(TRICKY), kids,
                                        max_size=4), max_leaves=30)
elements = st.dictionaries(st.text(max_size=6) | st.sampled_from(TRICKY), values, max_size=5)
arrays = st.lists(elements | values, max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[FIXTURE])
@given(st.dictionaries(st.sampled_from(["items", "msg", "x", "}, {", "running_item"]),
                       arrays | values, max_size=4),
       st.sampled_from([None, 0, 2]), st.booleans())
def test_same_as_json_loads(tiny_slices, doc, indent, compact):
    separators = (",", ":") if compact else None
    text = json.dumps(doc, indent=indent, separators=separators)
    assert same(decode(text.encode()), json.loads(text))
    # a 0MQ frame's buffer is parsed in place, with the same result
    assert same(decode(memoryview(text.encode())), json.loads(text))


@settings(max_examples=200, deadline=None, suppress_health_check=[FIXTURE])
@given(st.binary(max_size=60) | st.text(max_size=60).map(str.encode),
       st.sampled_from([b'{"items": [', b'{"a": 1, "items": [{"x": 1}, ', b"", b"{"]))
def test_malformed_input_raises_like_json_loads(tiny_slices, garbage, prefix):
    data = prefix + garbage
    try:
        expected = json.loads(data)
    except (ValueError, UnicodeDecodeError) as ex:
        with pytest.raises(type(ex) if isinstance(ex, UnicodeDecodeError) else ValueError):
            decode(data)
        with pytest.raises(type(ex) if isinstance(ex, UnicodeDecodeError) else ValueError):
            decode(memoryview(data))
    else:
        assert same(decode(data), expected)
        assert same(decode(memoryview(data)), expected)


def history_reply(n: int) -> bytes:
    rng = random.Random(n)
    items = [{"item_type": "plan", "name": "count", "args": [["det1", "det2"]],
              "kwargs": {"num": rng.randint(1, 9), "md": {"note": '"}, {"trap": 1}'}},
              "user": "u", "user_group": "primary", "item_uid": f"uid-{i}",
              "result": {"exit_status": "completed", "time_stop": rng.random(), "msg": "",
                         "traceback": ""}} for i in range(n)]
    return json.dumps({"success": True, "msg": "", "items": items,
                       "plan_history_uid": "h"}).encode()


def test_large_reply_is_decoded_in_slices_with_pauses(monkeypatch):
    monkeypatch.setattr(jsonstream, "SHARE_ABOVE", 1024 * 1024)
    raw = history_reply(20_000)
    pauses = []

    async def pause():
        pauses.append(1)
        await asyncio.sleep(0)

    result = decode(raw, budget=0.001, pause=pause)
    assert result == json.loads(raw)
    assert len(pauses) >= 5
    # repeated short strings share one object per value, like json.loads shares keys
    items = result["items"]
    assert items[0]["user_group"] is items[-1]["user_group"]


def test_freeze_moves_the_result_out_of_the_collectors_view():
    raw = history_reply(2_000)
    gc.unfreeze()
    try:
        before = gc.get_freeze_count()
        result = decode(raw, freeze=True)
        assert gc.get_freeze_count() > before
        assert gc.isenabled()
        assert result == json.loads(raw)
    finally:
        gc.unfreeze()


def test_gc_is_enabled_again_after_a_failure():
    with pytest.raises(ValueError):
        decode(b'{"items": [' + b'{"a": 1}, ' * 50_000 + b"oops")
    assert gc.isenabled()


def test_non_object_documents_and_small_replies():
    for text in ["[1, 2, 3]", '"x"', "3", "null", '{"items": []}', '{}', ' {"a": [1, {"b": 2}]} ']:
        assert decode(text.encode()) == json.loads(text)


def test_reuse_hands_back_equal_items_of_the_previous_reply(tiny_slices):
    from qs_gui.client.jsonstream import Reuse

    def reply(items):
        return json.dumps({"success": True, "items": items, "plan_history_uid": "u"}).encode()

    def entry(uid, stop, msg=""):
        return {"item_uid": uid, "name": "count", "result": {"time_stop": stop, "msg": msg}}

    reuse = Reuse(lambda i: (i.get("item_uid"), i["result"]["time_stop"]))
    first = decode(reply([entry("a", 1.0), entry("b", 2.0), entry("c", 3.0)]), reuse=reuse)
    assert reuse.reused == 0
    # a trimmed, b unchanged, c changed content (same key), d new
    second_items = [entry("b", 2.0), entry("c", 3.0, "edited"), entry("d", 4.0)]
    second = decode(reply(second_items), reuse=reuse)
    assert second == json.loads(reply(second_items))
    assert second["items"][0] is first["items"][1]  # unchanged: the previous object
    assert second["items"][1] is not first["items"][2]  # changed content: a new object
    assert reuse.reused == 1
    with pytest.raises(ValueError):  # a failed decode leaves the index alone
        decode(reply(second_items)[:-5], reuse=reuse)
    third = decode(reply(second_items), reuse=reuse)
    assert all(a is b for a, b in zip(third["items"], second["items"], strict=True))


def test_api_reuses_history_items_only_when_asked():
    from qs_gui.client import REManagerAPI

    from .fakes import FakePeer, status_reply

    history = [{"item_uid": f"h{i}", "result": {"time_stop": float(i)}} for i in range(3)]
    n = {"status": 0}

    def behaviour(request):
        if request["method"] == "status":
            n["status"] += 1  # a new history uid every time: every history_get is fetched
            return json.dumps(status_reply(plan_history_uid=f"h{n['status']}")).encode()
        return json.dumps({"success": True, "msg": "", "items": history,
                           "plan_history_uid": "x"}).encode()

    async def scenario(reuse):
        async with FakePeer(behaviour) as peer:
            api = REManagerAPI(zmq_control_addr=peer.address, reuse_unchanged_items=reuse)
            try:
                a = await api.history_get(reload=True)
                b = await api.history_get(reload=True)
            finally:
                await api.close()
            return all(x is y for x, y in zip(a["items"], b["items"], strict=True)), a == b

    assert asyncio.run(scenario(True)) == (True, True)
    assert asyncio.run(scenario(False)) == (False, True)


def test_cache_hit_with_reuse_shares_items_without_decoding():
    from qs_gui.client import REManagerAPI

    from .fakes import FakePeer, status_reply

    history = [{"item_uid": f"h{i}", "result": {"time_stop": float(i)}} for i in range(3)]
    methods = []

    def behaviour(request):
        methods.append(request["method"])
        if request["method"] == "status":
            return json.dumps(status_reply(plan_history_uid="same")).encode()
        return json.dumps({"success": True, "msg": "", "items": history,
                           "plan_history_uid": "same"}).encode()

    async def scenario():
        async with FakePeer(behaviour) as peer:
            api = REManagerAPI(zmq_control_addr=peer.address, reuse_unchanged_items=True)
            try:
                a = await api.history_get(reload=True)
                b = await api.history_get(reload=True)  # same uid: served from the cache
            finally:
                await api.close()
        assert methods.count("history_get") == 1
        assert a == b and a is not b and a["items"] is not b["items"]
        assert all(x is y for x, y in zip(a["items"], b["items"], strict=True))

    asyncio.run(scenario())
