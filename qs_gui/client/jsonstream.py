"""Decode a multi-megabyte JSON reply without blocking the event loop.

``json.loads`` of a 100,000-item ``history_get`` reply (~40 MB) holds the GIL for 0.6 s (2 s
when the cyclic garbage collector runs during it), so a thread does not help and the window
would freeze. :func:`loads_async` produces exactly what ``json.loads`` produces, but parses the
big arrays of the top-level object (``items``) in slices of elements, each slice sized to take
about ``budget`` seconds, and yields to the loop between slices.

How a slice is found without parsing twice: a candidate end is the next ``}`` followed by ``,``
or ``]`` (the end of an object element). ``json.loads(b"[" + data[start:end] + b"]")`` succeeds
only if the candidate is a real element boundary: a cut inside a string leaves it unterminated
and a cut inside a nested value leaves brackets unbalanced, and both make the slice invalid. A
failed candidate is skipped; after a few failures in a row (an element larger than a slice, or
strings full of ``}, {``) one element is parsed on its own with ``raw_decode`` over a growing
window. Parsing a slice with one ``json.loads`` call also lets the C scanner share the key
strings within the slice (``raw_decode`` per element would create new key strings per item).

Garbage collection: decoding creates ~6 container objects per item, and every full collection
traverses all live containers (0.6 s with a 100k history in memory). While a bulk reply is
decoded, automatic collection is paused, and with ``freeze=True`` the decoded objects (with
everything else alive at that moment) are moved to the permanent generation (``gc.freeze``), so
later collections never scan them again. JSON data has no reference cycles, so the frozen
snapshot is still freed by reference counting when it is replaced.

In replies above :data:`SHARE_ABOVE`, repeated short strings (``"plan"``, plan names, users,
exit statuses) are made to share one object per value, which saves ~15% of the memory of a
decoded 100,000-item history (~30 MB).
"""

from __future__ import annotations

import asyncio
import codecs
import gc
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

__all__ = ["SHARE_ABOVE", "SMALL", "BulkGC", "ItemDecoder", "Reuse", "loads_async"]

#: replies up to this size are decoded in one ``json.loads`` call (~1-2 ms)
SMALL = 128 * 1024
#: replies above this size get their repeated short strings shared (see the module doc): it
#: costs ~1 us per item, worth it for a 100,000-item history, not for a 10,000-item queue
SHARE_ABOVE = 8 * 1024 * 1024

_WS = b" \t\n\r"
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_LITERAL = re.compile(rb"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|"
                      rb"-?Infinity")
#: ``}`` then ``,`` and the next object element's ``{`` (not consumed), or ``}`` then ``]``
_BOUNDARY = re.compile(rb"\}[ \t\n\r]*(?:,(?=[ \t\n\r]*\{)|(\]))")
_ARRAY_END = re.compile(rb"\}[ \t\n\r]*(\])")
_AFTER_ELEMENT = re.compile(rb"[ \t\n\r]*(?:,|(\]))")
_MAX_FAILS = 6
_FIRST_SLICE = 64 * 1024  # bytes in the first slice; later ones are sized by the budget
_MIN_SLICE, _MAX_SLICE = 16 * 1024, 8 * 1024 * 1024
#: with an ItemDecoder a slice is ~4x faster than json.loads: a time measured short on a busy
#: machine must not make the next slice huge (512 KB: ~3 ms idle)
_MAX_ITEMS_SLICE = 512 * 1024
#: item keys whose short string values repeat across items (shared, see module doc)
_SHARED_KEYS = ("item_type", "name", "user", "user_group")
_SHARED_RESULT_KEYS = ("exit_status", "msg")


class ItemDecoder(Protocol):
    """Makes the elements of a reply's top-level ``items`` array (see ``loads_async``)."""

    def slice(self, buf: bytes) -> list:
        """The elements of the JSON array ``buf``; ValueError if it is not one."""

    def from_value(self, value: Any) -> Any:
        """The element for one value already decoded by ``json``."""

    def convert(self, items: list) -> list:
        """The elements for a list already decoded by ``json``."""

    def begin(self) -> None:
        """A decode starts."""

    def commit(self) -> None:
        """That decode succeeded."""


class Reuse:
    """Hand back the previous reply's item objects for incoming items equal to them.

    A 100,000-item history re-fetched because one entry was added is 99,999 entries the
    client already holds. With a ``Reuse`` passed to :func:`loads_async`, each element of the
    top-level ``items`` array whose ``key`` matches an element of the previous (successfully
    decoded) reply and compares equal (``==``) to it is replaced by that previous object, slice
    by slice. The new copies are freed at once, so a reload needs memory for one snapshot plus
    a slice instead of two snapshots, and everything keyed by item identity downstream (caches
    of display strings, search texts) stays valid. The price is aliasing: replies share item
    objects, so they must be treated as read-only.
    """

    def __init__(self, key: Callable[[Any], Any]):
        self.key = key
        self.index: dict[Any, Any] = {}
        self.reused = 0  # items handed back by the last decode (observable by tests)

    def start(self) -> _ReuseRun:
        return _ReuseRun(self)


class _ReuseRun:
    """One decode's use of a :class:`Reuse`: committed only if the decode succeeds."""

    def __init__(self, owner: Reuse):
        self.owner = owner
        self.old = owner.index
        self.new: dict[Any, Any] = {}
        self.reused = 0

    def apply(self, items: list) -> None:
        old, new, key = self.old, self.new, self.owner.key
        for i, item in enumerate(items):
            try:
                k = key(item)
                previous = old.get(k)
            except Exception:  # noqa: BLE001 - an odd item is simply not reused
                continue
            if previous is not None and previous is not item and previous == item:
                items[i] = item = previous
                self.reused += 1
            new.setdefault(k, item)

    def commit(self) -> None:
        self.owner.index = self.new
        self.owner.reused = self.reused


class BulkGC:
    """Pause automatic garbage collection while a bulk reply is decoded (re-entrant)."""

    _depth = 0
    _was_enabled = False

    def __init__(self, freeze: bool = False):
        self.freeze = freeze

    def __enter__(self) -> BulkGC:
        cls = type(self)
        if cls._depth == 0:
            cls._was_enabled = gc.isenabled()
            gc.disable()
        cls._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        cls = type(self)
        cls._depth -= 1
        if cls._depth == 0:
            if self.freeze and exc[0] is None:
                gc.freeze()
            if cls._was_enabled:
                gc.enable()


def _skip_ws(data: bytes, pos: int) -> int:
    n = len(data)
    while pos < n and data[pos] in _WS:
        pos += 1
    return pos


def _loads_whole(data: bytes | memoryview) -> Any:
    """``json.loads`` of all of ``data`` (which takes no memoryview)."""
    return json.loads(data if isinstance(data, bytes) else bytes(data))


def _decode_str(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")


class _Parser:
    def __init__(self, data: bytes | memoryview, budget: float, pause: Callable[[], Awaitable[Any]],
                 share: bool = True, reuse: _ReuseRun | None = None,
                 items: ItemDecoder | None = None):
        self.data = data
        self.sharing = share and items is None
        self.reuse = reuse
        self.items = items  # decodes the top-level "items" array's slices, if given
        self.key: str | None = None  # the top-level key whose value is being decoded
        self.budget = budget
        self.pause = pause
        self.slice = _FIRST_SLICE  # adapted to take ~budget per json.loads call
        self.t_slice = time.perf_counter()
        self.memo: dict[str, str] = {}

    async def maybe_pause(self) -> None:
        if time.perf_counter() - self.t_slice >= self.budget:
            await self.pause()
            self.t_slice = time.perf_counter()

    def value_at(self, pos: int) -> tuple[Any, int]:
        """Decode one (small) value starting at ``pos``; return it and the end offset."""
        data = self.data
        m = _LITERAL.match(data, pos)
        if m and data[pos:pos + 1] not in (b"{", b"[", b'"'):
            return json.loads(m.group()), m.end()
        window = 64 * 1024
        decoder = json.JSONDecoder()
        while True:
            chunk = data[pos:pos + window]
            text, used = codecs.utf_8_decode(chunk, "surrogatepass", pos + window >= len(data))
            try:
                value, end = decoder.raw_decode(text)
            except json.JSONDecodeError:
                if pos + window >= len(data):
                    raise
                window *= 4  # truncated by the window: widen it
                continue
            return value, pos + len(text[:end].encode("utf-8", "surrogatepass"))

    def share(self, items: list) -> None:
        if not self.sharing:
            return
        memo = self.memo
        for item in items:
            if type(item) is not dict:
                continue
            for key in _SHARED_KEYS:
                v = item.get(key)
                if type(v) is str and len(v) <= 64:
                    item[key] = memo.setdefault(v, v)
            result = item.get("result")
            if type(result) is dict:
                for key in _SHARED_RESULT_KEYS:
                    v = result.get(key)
                    if type(v) is str and len(v) <= 128:
                        result[key] = memo.setdefault(v, v)

    async def array_at(self, pos: int, reuse: _ReuseRun | None = None) -> tuple[list, int]:
        """Decode the array whose ``[`` is at ``pos``, a slice of elements at a time."""
        data = self.data
        out: list = []
        pos = _skip_ws(data, pos + 1)
        if data[pos:pos + 1] == b"]":
            return out, pos + 1
        while True:
            if data[pos:pos + 1] == b"{":
                part, pos, closed = self.object_slice(pos)
            else:  # not an object: one element on its own
                element, end = self.value_at(pos)
                part = [element]
                m = _AFTER_ELEMENT.match(data, end)
                if m is None:
                    raise json.JSONDecodeError("expected ',' or ']'", "", end)
                pos, closed = m.end(), m.group(1) == b"]"
            if reuse is not None:
                reuse.apply(part)
            self.share(part)
            out.extend(part)
            if closed:
                return out, pos
            await self.maybe_pause()

    def object_slice(self, pos: int) -> tuple[list, int, bool]:
        """Parse the object elements from ``pos`` (at a ``{``) up to a boundary about one slice
        further; return them, the offset after the separator, and whether the array ended."""
        data = self.data
        candidates = self._candidates(pos)
        for _ in range(_MAX_FAILS):
            m = next(candidates, None)
            if m is None:
                break
            end = m.start() + 1
            t0 = time.perf_counter()
            try:
                buf = b"[" + data[pos:end] + b"]"
                part = (self.items.slice(buf) if self.items is not None and self.key == "items"
                        else json.loads(buf))
            except ValueError:
                continue  # not an element boundary after all
            elapsed = time.perf_counter() - t0
            if elapsed > 0:  # aim the next slice at the budget (within sane bounds)
                want = int((end - pos) * self.budget / elapsed * 0.8)
                self.slice = min(max(want, _MIN_SLICE),
                                 _MAX_SLICE if self.items is None else _MAX_ITEMS_SLICE)
            closed = m.group(1) is not None
            return part, (m.end() if closed else _skip_ws(data, m.end())), closed
        # An element bigger than the slice, or strings full of "}, {": one element alone.
        element, end = self.value_at(pos)
        if self.items is not None and self.key == "items":
            element = self.items.from_value(element)
        m = _AFTER_ELEMENT.match(data, end)
        if m is None:
            raise json.JSONDecodeError("expected ',' or ']'", "", end)
        return [element], _skip_ws(data, m.end()), m.group(1) == b"]"

    def _candidates(self, pos: int):
        """Likely element ends: the first ``}, {`` after one slice, then the first ``}]``
        (the array may end sooner), then later ``}, {``."""
        data = self.data
        target = min(pos + self.slice, len(data))
        m = _BOUNDARY.search(data, target)
        if m is not None:
            yield m
        tail = _ARRAY_END.search(data, pos)
        if tail is not None and (m is None or tail.start() < m.start()):
            yield tail
            while True:
                tail = _ARRAY_END.search(data, tail.start() + 1)
                if tail is None or (m is not None and tail.start() > m.start()):
                    break
                yield tail
        while m is not None:
            m = _BOUNDARY.search(data, m.start() + 1)
            if m is not None:
                yield m

    async def document(self) -> Any:
        data = self.data
        pos = _skip_ws(data, 0)
        if data[pos:pos + 1] != b"{":
            return _loads_whole(data)  # not an object: nothing to stream
        result: dict[str, Any] = {}
        pos = _skip_ws(data, pos + 1)
        if data[pos:pos + 1] == b"}":
            end = pos + 1
        else:
            while True:
                m = _STRING.match(data, pos)
                if m is None:
                    raise json.JSONDecodeError("expected a key", "", pos)
                key = json.loads(m.group())
                pos = _skip_ws(data, m.end())
                if data[pos:pos + 1] != b":":
                    raise json.JSONDecodeError("expected ':'", "", pos)
                pos = _skip_ws(data, pos + 1)
                self.key = key
                if data[pos:pos + 1] == b"[":
                    reuse = self.reuse if key == "items" else None
                    value, pos = await self.array_at(pos, reuse)
                else:
                    value, pos = self.value_at(pos)
                result[key] = value
                pos = _skip_ws(data, pos)
                c = data[pos:pos + 1]
                if c == b"}":
                    end = pos + 1
                    break
                if c != b",":
                    raise json.JSONDecodeError("expected ',' or '}'", "", pos)
                pos = _skip_ws(data, pos + 1)
                await self.maybe_pause()
        if _skip_ws(data, end) != len(data):
            raise json.JSONDecodeError("Extra data", "", end)
        return result


async def _sleep0() -> None:
    await asyncio.sleep(0)


async def loads_async(data: bytes | bytearray | memoryview | str, *, budget: float = 0.008,
                      pause: Callable[[], Awaitable[Any]] | None = None,
                      freeze: bool = False, reuse: Reuse | ItemDecoder | None = None) -> Any:
    """``json.loads(data)``, decoded in slices of about ``budget`` seconds with
    ``await pause()`` (default: ``asyncio.sleep(0)``) between them.

    Raises ``ValueError`` (``json.JSONDecodeError``) for malformed input, like ``json.loads``.
    With ``freeze=True`` the result is moved out of the garbage collector's view when done
    (see the module documentation); with a :class:`Reuse`, elements of a top-level ``items``
    array equal to those of the previous reply are that reply's objects; with an
    :class:`ItemDecoder`, that array's elements are what it makes of them (e.g. compact
    history entries) instead of dicts.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    elif isinstance(data, memoryview):  # e.g. a 0MQ frame's buffer: parsed without a copy
        data = data if data.format == "B" and data.contiguous else memoryview(bytes(data))
    elif not isinstance(data, bytes):
        data = bytes(data)
    items = reuse if reuse is not None and not isinstance(reuse, Reuse) else None
    run = reuse.start() if isinstance(reuse, Reuse) else None
    if items is not None:
        items.begin()
    with BulkGC(freeze=freeze and len(data) > SMALL):
        result = await _decode(data, budget, pause, run, items)
        if run is not None:
            run.commit()
        if items is not None:
            items.commit()
        return result


async def _decode(data: bytes | memoryview, budget: float,
                  pause: Callable[[], Awaitable[Any]] | None, run: _ReuseRun | None,
                  decoder: ItemDecoder | None = None) -> Any:
    def plain() -> Any:
        result = _loads_whole(data)
        items = result.get("items") if isinstance(result, dict) else None
        if decoder is not None and isinstance(items, list):
            decoder.begin()  # the streamed slices (if any) are discarded
            result["items"] = decoder.convert(items)
        elif run is not None and isinstance(items, list):
            run.new.clear()
            run.reused = 0
            run.apply(items)
        return result

    if len(data) <= SMALL:
        return plain()
    if data[:3] == codecs.BOM_UTF8 or (len(data) > 1 and (data[0] == 0 or data[1] == 0)):
        return plain()  # BOM or UTF-16/32: rare; let json handle the encoding
    parser = _Parser(data, budget, pause or _sleep0, share=len(data) > SHARE_ABOVE, reuse=run,
                     items=decoder)
    try:
        return await parser.document()
    except (ValueError, IndexError):
        # Malformed somewhere: json.loads gives the canonical error (or, if the streaming
        # parser was wrong about something it accepts, the canonical result).
        return plain()
