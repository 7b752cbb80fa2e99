"""Compact history entries: the table's fields decoded, the full item on demand, equal to json."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qs_gui.client import jsonstream
from qs_gui.client.history_entries import Block, EntryDecoder, HistoryEntry, plain_item
from qs_gui.client.jsonstream import loads_async
from qs_gui.core.itemdiff import history_identities
from qs_gui.core.replies import checked_items
from qs_gui.sandbox.seeding import history_entry


def decode(data: bytes):
    return asyncio.run(loads_async(data, freeze=True, reuse=EntryDecoder()))


def reply(items) -> bytes:
    return json.dumps({"success": True, "msg": "", "items": items,
                       "plan_history_uid": "u1"}).encode()


@pytest.fixture
def tiny_slices(monkeypatch):
    """Stream even small documents, a few elements per slice, to exercise every boundary."""
    monkeypatch.setattr(jsonstream, "SMALL", 0)
    monkeypatch.setattr(jsonstream, "_FIRST_SLICE", 1)
    monkeypatch.setattr(jsonstream, "_MIN_SLICE", 1)
    monkeypatch.setattr(jsonstream, "_MAX_SLICE", 300)


def sample(n: int) -> list[dict]:
    rng = random.Random(7)
    return [history_entry(rng, i, 1.7e9) for i in range(n)]


@pytest.mark.parametrize("n", [0, 1, 3, 2000])  # 2000: ~800 KB, streamed in slices
def test_entries_hold_the_table_fields_and_decode_to_the_server_items(n):
    items = sample(n)
    got = decode(reply(items))
    assert got["plan_history_uid"] == "u1" and got["success"] is True
    entries = got["items"]
    assert len(entries) == n and all(type(e) is HistoryEntry for e in entries)
    assert [plain_item(e) for e in entries] == items
    for e, item in zip(entries, items, strict=True):
        assert (e.item_uid, e.name, e.user) == (item["item_uid"], item["name"], item["user"])
        assert (e.result.exit_status, e.result.time_stop) == (
            item["result"]["exit_status"], item["result"]["time_stop"])
    assert history_identities(entries) == history_identities(items)
    assert checked_items(got, "items") is entries


def test_an_entry_reads_as_a_mapping_of_the_full_item():
    item = sample(60)[53]  # a failed one: message and traceback
    entry = decode(reply([item]))["items"][0]
    assert isinstance(entry, Mapping)
    assert entry["name"] == item["name"] and entry.get("result") == item["result"]
    assert entry.get("args") == item["args"] and entry.get("nope", 5) == 5
    assert "kwargs" in entry and "nope" not in entry
    with pytest.raises(KeyError):
        entry["nope"]
    assert dict(entry) == item and list(entry) == list(item) and len(entry) == len(item)
    assert entry.result.get("msg") == item["result"]["msg"] and entry.result.get("x") is None
    entry.to_dict()["name"] = "changed"  # a new dict each time: the entry is not changed
    assert entry.to_dict() == item


def test_odd_elements_are_decoded_as_json_does(tiny_slices):
    """An element that is not an object, a result that is not one, a missing uid, NaN, and
    strings full of element separators: what json gives, entries where they fit."""
    items = [
        {"item_uid": "a", "name": "x", "result": [1, 2]},
        7,
        {"name": "no uid", "kwargs": {"s": "}, {\"item_uid\": \"fake\"}, {"}},
        {"item_uid": "n", "result": {"time_stop": float("nan"), "exit_status": "completed"}},
        None,
        {"item_uid": "b", "result": None},
    ]
    data = reply(items)
    got = decode(data)["items"]
    expected = json.loads(data)["items"]
    assert len(got) == len(expected)
    plain = [plain_item(e) for e in got]
    assert json.dumps(plain) == json.dumps(expected)  # NaN compares unequal to itself
    assert type(got[1]) is int and got[4] is None
    assert type(got[2]) is HistoryEntry and got[2].get("item_uid") is None
    assert got[5].result is None and got[5].get("result") is None


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries(
    {"item_uid": st.text(max_size=5), "name": st.text(max_size=8)},
    optional={"result": st.fixed_dictionaries(
        {}, optional={"exit_status": st.text(max_size=6), "msg": st.text(max_size=12),
                      "time_stop": st.floats(allow_nan=False, allow_infinity=False)}),
        "args": st.lists(st.text(alphabet="{},[]\" a", max_size=6), max_size=3)}),
    max_size=12))
def test_entries_equal_json_for_any_items(tiny_slices, items):
    data = reply(items)
    got = decode(data)["items"]
    assert [plain_item(e) for e in got] == json.loads(data)["items"]
    assert history_identities(got) == history_identities(json.loads(data)["items"])


def test_malformed_reply_raises_like_json():
    with pytest.raises(ValueError):
        decode(reply(sample(3))[:-20])


def test_a_reload_hands_back_the_unchanged_entries(tiny_slices):
    """Equal entries of the previous read are reused (one snapshot in memory, view caches
    valid); changed and new ones are new objects; a failed decode does not replace the index."""
    decoder = EntryDecoder()
    items = sample(30)

    def read(data: bytes) -> list:
        return asyncio.run(loads_async(data, reuse=decoder))["items"]

    first = read(reply(items))
    changed = [dict(i) for i in items[5:]] + [sample(31)[30]]
    changed[0] = {**changed[0], "name": "other"}
    with pytest.raises(ValueError):
        read(reply(changed)[:-30])
    second = read(reply(changed))
    assert [plain_item(e) for e in second] == changed
    assert all(a is b for a, b in zip(second[1:25], first[6:30], strict=True))
    assert second[0] is not first[5] and second[0].name == "other"
    assert decoder.reused == 24



def test_json_is_the_servers_text_of_the_entry():
    items = sample(3)
    entries = decode(reply(items))["items"]
    assert [e.json() for e in entries] == [json.dumps(i).encode() for i in items]


def blocks_of(entries) -> set:
    return {e.raw for e in entries if type(e.raw) is Block}


def test_the_entries_text_is_compressed_by_a_worker_thread_after_the_decode():
    """The JSON text (~40 % of a 100k history's memory) is kept zlib-compressed in blocks of
    a slice each; the items read back the same, from the compressed blocks."""
    items = sample(3000)  # ~1.2 MB: several 512 KB slices
    data = reply(items)

    async def scenario():
        entries = (await loads_async(data, reuse=EntryDecoder()))["items"]
        blocks = blocks_of(entries)
        deadline = asyncio.get_running_loop().time() + 10
        while not all(b.compressed for b in blocks):
            assert asyncio.get_running_loop().time() < deadline, "blocks never compressed"
            await asyncio.sleep(0.01)
        return entries, blocks

    entries, blocks = asyncio.run(scenario())
    assert len(blocks) >= 2 and all(e.raw in blocks for e in entries)
    assert sum(b.nbytes for b in blocks) < len(data) / 3
    assert [plain_item(e) for e in entries] == items
    assert [e.json() for e in entries] == [json.dumps(i).encode() for i in items]


def test_a_mostly_reused_slice_keeps_no_block_for_its_few_new_entries():
    """A reload (one more entry) frees its slices at once: the new entry keeps a copy of its
    own text, not the 512 KB slice it came in."""
    decoder = EntryDecoder()
    items = sample(2001)

    def read(data: bytes) -> list:
        return asyncio.run(loads_async(data, reuse=decoder))["items"]

    first = read(reply(items[:2000]))
    second = read(reply(items))
    assert decoder.reused == 2000 and all(a is b for a, b in zip(second, first, strict=False))
    new = second[-1]
    assert type(new.raw) is not Block and new.json() == json.dumps(items[-1]).encode()
    assert blocks_of(second) == blocks_of(first)  # no slice of the reload was kept
