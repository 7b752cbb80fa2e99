"""History entries held compactly: the table's fields decoded, the rest kept as the reply's bytes.

A 100,000-item ``history_get`` reply is ~40 MB of JSON; decoded into dicts it is ~150 MB and
takes the standard library ~0.5-1.3 s. The GUI needs only a few fields of each entry to show
the table (uid, name, type, user, and the result's exit status, times and message); the rest
(parameters, traceback, run uids, ...) is needed for the few entries an operator opens, copies,
re-runs or exports. So each element of the reply's ``items`` array becomes a
:class:`HistoryEntry`: a msgspec ``Struct`` (no ``__dict__``, not tracked by the cyclic GC)
holding those fields plus where its own JSON text is, decoded on demand by
:meth:`HistoryEntry.to_dict`. msgspec decodes the typed fields of 100k entries in ~0.1 s
(``json.loads`` of the same reply: ~0.5 s idle, 1.3 s on the loaded benchmark machine).

The JSON text is ~40 % of what a 100k history costs (40 MB), and is read only for the rows an
operator looks at. So the entries of one decoded slice share a :class:`Block` of the slice's
text, which the low-priority background thread (client/background.py) then compresses (zlib
level 1: ~5x on history JSON, ~3 ms per 512 KB block with the GIL released); an entry's text is
found again by its ``slot`` in the block, and the last few blocks read are kept expanded, so
painting or searching neighbouring rows costs one expansion per block, not per row.

A ``HistoryEntry`` is a read-only :class:`~collections.abc.Mapping` of the full item (``get``,
``[]``, ``in``, iteration decode the JSON when the key is not a compact field), so code written
for dicts keeps working; code that serialises an item (re-execute, copy, export) takes
:func:`plain_item` first. The public ``history_get`` still returns plain dicts; the compact
form is opt-in (``REManagerAPI.history_get_compact``), for the GUI session.
"""

from __future__ import annotations

import json
import threading
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from .background import LOW_PRIORITY

__all__ = ["COMPACT_KEYS", "Block", "EntryDecoder", "HistoryEntry", "Outcome", "plain_item"]

#: top-level item keys held decoded in a :class:`HistoryEntry`
COMPACT_KEYS = ("item_uid", "name", "item_type", "user")
_MISSING = object()
_MEMO_LIMIT = 10_000  #: distinct strings shared in one decode before the memo starts again
_EXPANDED_BLOCKS = 4  #: blocks kept split into their elements (~0.6 MB each)
#: a slice whose entries are mostly reused ones gives its few new entries copies of their text
#: instead of a block (the slice's text is then freed at once)
_BLOCK_MIN_SHARE = 0.5


class _Zipped:
    """A block's text, compressed (a type of its own: one attribute swap makes it visible)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data


class Block:
    """The JSON text of one decoded slice (``[e0, e1, ...]``), shared by the entries decoded
    from it and compressed once decoded (:meth:`compress`, from a worker thread).

    Compressing also notes each element's length and CRC-32, so a reload can tell an unchanged
    entry (same uid, same table fields, same length and CRC of its text) without expanding the
    block; before that the texts themselves are compared."""

    __slots__ = ("_text", "_sums")

    def __init__(self, text: bytes):
        self._text: bytes | _Zipped = text
        self._sums: array | None = None  # (length, crc32) of each element, once compressed

    @property
    def compressed(self) -> bool:
        return type(self._text) is _Zipped

    @property
    def nbytes(self) -> int:
        """Bytes held: the compressed size once compressed."""
        text = self._text
        return len(text.data) if type(text) is _Zipped else len(text)

    def compress(self) -> None:
        """Swap the text for its compressed form (thread-safe: readers see one or the other)."""
        text = self._text
        if type(text) is not bytes:
            return
        sums = array("L")
        for element in _RAWS.decode(text):
            sums.append(len(element))
            sums.append(zlib.crc32(element))
        self._sums = sums  # first: a reader that sees the compressed text has the sums
        self._text = _Zipped(zlib.compress(text, 1))

    def element(self, slot: int) -> msgspec.Raw:
        """Element ``slot``'s JSON text."""
        with _EXPANDED_LOCK:
            elements = _EXPANDED.get(self)
            if elements is not None:
                _EXPANDED.move_to_end(self)
                return elements[slot]
        text = self._text
        elements = _RAWS.decode(zlib.decompress(text.data) if type(text) is _Zipped else text)
        with _EXPANDED_LOCK:
            _EXPANDED[self] = elements
            while len(_EXPANDED) > _EXPANDED_BLOCKS:
                _EXPANDED.popitem(last=False)
        return elements[slot]


#: the blocks read last, split into their elements (sessions in other threads share it)
_EXPANDED: OrderedDict[Block, list] = OrderedDict()
_EXPANDED_LOCK = threading.Lock()


def _compress(blocks: list[Block]) -> None:
    for block in blocks:
        block.compress()


class Outcome(msgspec.Struct, gc=False):
    """The table's part of an entry's ``result`` (a read-only Mapping of these four keys)."""

    exit_status: Any = None
    time_start: Any = None
    time_stop: Any = None
    msg: Any = None

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, None) if key in Outcome.__struct_fields__ else None
        return default if value is None else value


class HistoryEntry(msgspec.Struct, gc=False):
    """One history entry: the table's fields, and the entry's JSON for everything else.

    Equal entries have equal JSON. Read-only by contract (entries are shared between the
    session, the tracker and the views)."""

    item_uid: Any = None
    name: Any = None
    item_type: Any = None
    user: Any = None
    result: Outcome | None = None
    #: where the entry's JSON text is: a :class:`Block` (with ``slot``) or a ``msgspec.Raw`` of
    #: its own. The odd names are never keys of the server's items.
    raw: Any = msgspec.field(default=None, name="\u2063qs_gui.raw")
    slot: int = msgspec.field(default=-1, name="\u2063qs_gui.slot")

    # -- the full item, decoded on demand -----------------------------------------------------
    def span(self) -> msgspec.Raw | None:
        """The entry's JSON text as a ``msgspec.Raw`` (None for an entry made without it)."""
        raw = self.raw
        return raw.element(self.slot) if type(raw) is Block else raw

    def json(self) -> bytes:
        """The entry's JSON text, as the server sent it."""
        span = self.span()
        return b"" if span is None else bytes(span)

    def to_dict(self) -> dict[str, Any]:
        """The full item as the server sent it (a new dict on every call)."""
        span = self.span()
        if span is None:
            return {}
        try:
            return _DICT.decode(span)
        except msgspec.DecodeError:  # NaN/Infinity literals: json accepts them
            return json.loads(bytes(span))

    # -- read-only Mapping --------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        if key in COMPACT_KEYS:
            value = getattr(self, key)
            if value is not None:
                return value
        return self.to_dict().get(key, default)

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        if key in COMPACT_KEYS and getattr(self, key) is not None:  # type: ignore[arg-type]
            return True
        return key in self.to_dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def keys(self):  # noqa: ANN201 - dict views
        return self.to_dict().keys()

    def values(self):  # noqa: ANN201
        return self.to_dict().values()

    def items(self):  # noqa: ANN201
        return self.to_dict().items()

    def identity(self) -> tuple[Any, Any]:
        """``(item_uid, result.time_stop)``: how the history diff matches entries."""
        result = self.result
        return self.item_uid, (result.time_stop if result is not None else None)


Mapping.register(HistoryEntry)
Mapping.register(Outcome)

_DICT = msgspec.json.Decoder()
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_ENTRIES = msgspec.json.Decoder(list[HistoryEntry])
_ENCODE = msgspec.json.Encoder()


def plain_item(item: Any) -> Any:
    """A plain dict for a :class:`HistoryEntry` (to serialise, copy or edit); anything else
    unchanged."""
    return item.to_dict() if type(item) is HistoryEntry else item


def _unchanged(previous: HistoryEntry, entry: HistoryEntry, span: msgspec.Raw | None) -> bool:
    """True if ``entry`` (whose text is ``span``) is ``previous`` read again: the same text, or,
    for a compressed ``previous``, the same table fields and the same length and CRC of the
    text (inline: it runs for every entry of a reload)."""
    if span is None:
        return False
    raw = previous.raw
    if type(raw) is not Block:
        return raw == span
    sums = raw._sums
    if sums is None:
        return raw.element(previous.slot) == span
    at = 2 * previous.slot
    return (sums[at] == len(span) and sums[at + 1] == _crc32(span)
            and previous.result == entry.result and previous.name == entry.name)


_crc32 = zlib.crc32


class EntryDecoder:
    """Decodes the ``items`` array of a history reply into :class:`HistoryEntry` objects.

    Passed where a transport accepts a decode hint (``reuse=``); :func:`.jsonstream.loads_async`
    then hands it each slice of the array (``"[" + elements + "]"``) instead of ``json.loads``.
    An entry equal to one of the previous successful decode (same uid and JSON text; once that
    entry's block is compressed: same uid, table fields, text length and CRC-32) is handed
    back as that object, slice by slice: a reload holds one snapshot plus a slice, not two, and
    what the views cache per entry object stays valid. The new entries' blocks are compressed
    by a worker thread once the decode has succeeded."""

    def __init__(self) -> None:
        self._index: dict[Any, HistoryEntry] = {}  # uid -> entry, of the last decode
        self._new: dict[Any, HistoryEntry] | None = None  # the same, of this decode
        self._reused = 0
        self.reused = 0  #: entries handed back by the last decode (observable by tests)
        self._memo: dict[str, str] = {}  # one object per repeated short string
        self._blocks: list[Block] = []  # this decode's blocks, compressed when it succeeds

    def begin(self) -> None:
        """A decode starts (its index is kept only if it succeeds: :meth:`commit`)."""
        self._new, self._reused = {}, 0
        self._memo = {}
        self._blocks = []

    def commit(self) -> None:
        """The decode succeeded: its entries are the ones to reuse next time, and its blocks
        are compressed by the background thread (zlib releases the GIL)."""
        if self._new is not None:
            self._index, self.reused = self._new, self._reused
        self._new = None
        blocks, self._blocks = self._blocks, []
        if blocks:
            LOW_PRIORITY.submit(_compress, blocks)

    def _reuse(self, entries: list, spans: list | None = None) -> list:
        """Hand back equal entries of the last decode; the others share their repeated short
        strings (name, type, user, exit status: ~20 MB of a 100k history otherwise)."""
        new = self._new
        if new is None:
            return entries
        old, memo = self._index, self._memo
        for i, entry in enumerate(entries):
            if type(entry) is not HistoryEntry:
                continue
            key = entry.item_uid
            try:
                previous = old.get(key)
            except TypeError:  # an unhashable uid: not reused
                previous = None
            if previous is not None and _unchanged(
                    previous, entry, spans[i] if spans is not None else entry.span()):
                entries[i] = entry = previous
                self._reused += 1
            else:
                if type(entry.name) is str:
                    entry.name = memo.setdefault(entry.name, entry.name)
                if type(entry.item_type) is str:
                    entry.item_type = memo.setdefault(entry.item_type, entry.item_type)
                if type(entry.user) is str:
                    entry.user = memo.setdefault(entry.user, entry.user)
                result = entry.result
                if result is not None and type(result.exit_status) is str:
                    result.exit_status = memo.setdefault(result.exit_status, result.exit_status)
            try:
                new.setdefault(key, entry)
            except TypeError:
                pass
        if len(memo) > _MEMO_LIMIT:  # not a short repeated vocabulary after all
            memo.clear()
        return entries

    def slice(self, buf: bytes) -> list:
        """The elements of the JSON array ``buf`` as entries (ValueError if it is not one)."""
        try:
            spans = _RAWS.decode(buf)
        except msgspec.DecodeError as ex:
            raise ValueError(str(ex)) from None
        try:
            entries = _ENTRIES.decode(buf)
        except msgspec.ValidationError:  # an element of another shape: one at a time
            return self._reuse([self.element(r) for r in spans])
        except msgspec.DecodeError as ex:
            raise ValueError(str(ex)) from None
        block = Block(buf)
        for slot, entry in enumerate(entries):
            entry.raw, entry.slot = block, slot
        entries = self._reuse(entries, spans)
        fresh = [slot for slot, entry in enumerate(entries) if entry.raw is block]
        if len(fresh) >= _BLOCK_MIN_SHARE * len(entries):
            self._blocks.append(block)
        else:  # mostly reused: the few new ones keep a copy of their own text
            for slot in fresh:
                entry = entries[slot]
                entry.raw, entry.slot = msgspec.Raw(bytes(spans[slot])), -1
        return entries

    def element(self, raw: Any) -> Any:
        """One element: an entry if it is an object of the expected shape, else the decoded
        value as json would give it (the session then reports a malformed reply)."""
        try:
            entry = msgspec.json.decode(raw, type=HistoryEntry)
        except msgspec.ValidationError:
            return json.loads(bytes(raw))
        except msgspec.DecodeError:  # NaN/Infinity literals: json accepts them
            return self.from_value(json.loads(bytes(raw)))
        entry.raw = msgspec.Raw(bytes(raw))  # not a view of the whole slice
        return entry

    def from_value(self, value: Any) -> Any:
        """An entry for an element already decoded by json (small replies, fallbacks)."""
        if not isinstance(value, dict):
            return value
        try:
            entry = msgspec.convert(value, HistoryEntry)
        except msgspec.ValidationError:
            return value
        entry.raw = msgspec.Raw(json.dumps(value).encode())  # json keeps NaN as NaN
        return entry

    def convert(self, items: list) -> list:
        """Entries for a list of decoded elements."""
        return self._reuse([self.from_value(v) for v in items])
