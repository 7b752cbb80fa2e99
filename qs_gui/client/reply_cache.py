"""Uid-keyed cache of bulk replies (queue, history, plan and device lists).

The RE Manager changes a list's ``*_uid`` whenever the list changes, so a reply stays valid
while the uid in the latest status is the same. Replies are kept as raw bytes: a hit decodes a
fresh copy (faster than deepcopy for a 10,000-item queue, and callers may mutate what they get).
Replies over ``RAW_CACHE_LIMIT`` (a 100,000-item history is ~40 MB) are kept zlib-compressed,
compressed in the low-priority background thread (client/background.py; zlib releases the GIL)
and expanded, when asked for, in a worker thread, so the cache costs a fifth of the memory and
the loop never waits for it. A reply whose items are shared between replies
(``REManagerAPI(reuse_unchanged_items=True)``) is kept decoded: a hit costs a list copy.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .background import LOW_PRIORITY

__all__ = ["RAW_CACHE_LIMIT", "ReplyCache", "item_uid_key"]

#: cached replies larger than this are kept compressed
RAW_CACHE_LIMIT = 4 * 1024 * 1024


def item_uid_key(item: Any) -> Any:
    """Reuse key: the uid (a re-run shares it, but then the equality check fails and the new
    object is kept); the uid string is already in memory, so the index costs no new keys."""
    return item.get("item_uid")


class _Shared:
    """A reply whose items are shared between replies: a hit returns a new top-level dict and
    a new list of the same item objects."""

    __slots__ = ("reply",)

    def __init__(self, reply: Mapping[str, Any]):
        self.reply = reply

    def copy(self) -> dict[str, Any]:
        reply = dict(self.reply)
        reply["items"] = list(reply["items"])
        return reply


class _Compressed:
    """A raw reply, zlib-compressed (built in the background thread, expanded in a worker)."""

    __slots__ = ("data",)

    def __init__(self, raw: bytes):
        self.data = zlib.compress(raw, 1)

    def expand(self) -> bytes:
        return zlib.decompress(self.data)


class ReplyCache:
    """name -> (uid, reply); no tasks: compression runs as a background-thread future."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Any, Any]] = {}

    async def get(self, name: str, uid: Any,
                  decode: Callable[[bytes], Awaitable[Any]]) -> dict[str, Any] | None:
        """The cached reply for ``uid`` (a fresh copy), or None on a miss."""
        entry = self._entries.get(name)
        if entry is None or uid is None or entry[0] != uid:
            return None
        cached = entry[1]
        if isinstance(cached, _Shared):
            return cached.copy()
        if isinstance(cached, _Compressed):
            cached = await asyncio.get_running_loop().run_in_executor(None, cached.expand)
        return await decode(cached)

    def put(self, name: str, uid: Any, reply: Any, raw: bytes, *, shared: bool) -> None:
        """Keep a successful reply; ``shared``: its items are reused objects, keep it decoded."""
        if not (isinstance(reply, Mapping) and reply.get("success") is True):
            return
        if shared and isinstance(reply.get("items"), list):
            self._entries[name] = (uid, _Shared(reply))
            return
        if isinstance(raw, memoryview) and len(raw) <= RAW_CACHE_LIMIT:
            raw = bytes(raw)  # not the transport's frame (kept whole while a view is held)
        entry = (uid, raw)
        self._entries[name] = entry
        if len(raw) > RAW_CACHE_LIMIT:
            self._compress_later(name, entry)

    def drop(self, name: str) -> None:
        """Forget ``name`` (its reply depends on more than the uid, e.g. the lock key)."""
        self._entries.pop(name, None)

    def _compress_later(self, name: str, entry: tuple[Any, bytes]) -> None:
        """Replace a big entry by its compressed form once a worker thread has made it; the
        caller gets its reply at once."""
        future = asyncio.wrap_future(LOW_PRIORITY.submit(_Compressed, entry[1]))

        def store(fut: asyncio.Future) -> None:
            if fut.cancelled() or fut.exception() is not None:
                return
            if self._entries.get(name) is entry:  # not replaced or dropped meanwhile
                self._entries[name] = (entry[0], fut.result())

        future.add_done_callback(store)
