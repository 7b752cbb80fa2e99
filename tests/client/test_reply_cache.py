"""client/reply_cache.py: a large cached reply is compressed in the background and read back
whole; a small one is kept as it is."""

from __future__ import annotations

import asyncio
import json
import time

from qs_gui.client import reply_cache
from qs_gui.client.reply_cache import RAW_CACHE_LIMIT, ReplyCache


async def _decode(raw: bytes) -> dict:
    return json.loads(raw)


def test_a_large_reply_is_compressed_in_the_background_and_read_back_whole() -> None:
    items = [{"item_uid": f"uid-{n}", "name": "count", "args": [["det1"]]} for n in range(70000)]
    reply = {"success": True, "msg": "", "items": items}
    raw = json.dumps(reply).encode()
    assert len(raw) > RAW_CACHE_LIMIT

    async def scenario():
        cache = ReplyCache()
        cache.put("history_get", "u1", reply, raw, shared=False)
        deadline = time.monotonic() + 10
        while not isinstance(cache._entries["history_get"][1], reply_cache._Compressed):
            assert time.monotonic() < deadline, "never compressed"
            await asyncio.sleep(0.01)  # poll interval of a condition wait
        assert len(cache._entries["history_get"][1].data) < len(raw) / 3
        assert await cache.get("history_get", "u1", _decode) == reply
        assert await cache.get("history_get", "u2", _decode) is None

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_a_small_reply_stays_raw() -> None:
    reply = {"success": True, "msg": "", "items": []}
    raw = json.dumps(reply).encode()

    async def scenario():
        cache = ReplyCache()
        cache.put("queue_get", "u1", reply, memoryview(raw), shared=False)
        assert cache._entries["queue_get"][1] == raw
        assert type(cache._entries["queue_get"][1]) is bytes
        assert await cache.get("queue_get", "u1", _decode) == reply

    asyncio.run(scenario())
