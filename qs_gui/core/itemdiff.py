"""Turn two snapshots of the queue (or history) into a short list of row operations.

The RE Manager only ever hands us whole lists (``queue_get`` / ``history_get``).  Rebuilding a
table from scratch on every change loses selection and scroll position and makes the view
flicker, so the Qt models ask this module for the *edit script* between the previous and the
new snapshot and replay it with the matching ``begin*/end*`` calls.

Operations are applied in the order returned, each one to the list as left by the previous one:

* ``Remove(row, count)``  -- ``del rows[row:row + count]``
* ``Insert(row, items)``  -- ``rows[row:row] = items``
* ``Move(src_row, dest_row)`` -- ``rows.insert(dest_row, rows.pop(src_row))``; ``dest_row`` is the
  item's final index *after* the pop (Qt's ``beginMoveRows`` wants ``dest_row + 1`` when moving
  down; the Qt model does that translation).
* ``Update(row, item)``  -- ``rows[row] = item`` (same uid, different content)
* ``Reset(items)``  -- ``rows[:] = items`` (the diff gave up; the view must reset)

No Qt here on purpose: the algorithm is specified and property-tested as plain Python.
"""

from __future__ import annotations

import json
import math
import time
from bisect import bisect_left
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from itertools import count as _count
from operator import ne
from typing import Any

from ..client.history_entries import HistoryEntry

__all__ = [
    "Insert",
    "Move",
    "Op",
    "Remove",
    "Reset",
    "Update",
    "apply_ops",
    "diff_by_uid",
    "diff_history",
    "format_time",
    "history_identities",
    "param_summary",
]


@dataclass(frozen=True)
class Remove:
    """Delete ``count`` rows starting at ``row``."""

    row: int
    count: int


@dataclass(frozen=True)
class Insert:
    """Insert ``items`` so that the first one ends up at ``row``."""

    row: int
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Move:
    """Move one row; ``dest_row`` is its index after the move (pop, then insert)."""

    src_row: int
    dest_row: int


@dataclass(frozen=True)
class Update:
    """Replace the content of ``row`` (same uid) with ``item``."""

    row: int
    item: Any


@dataclass(frozen=True)
class Reset:
    """Replace everything; emitted when an incremental script would be wrong or unsafe."""

    items: tuple[Any, ...]


Op = Remove | Insert | Move | Update | Reset


def apply_ops(rows: list, ops: Sequence[Op]) -> None:
    """Apply ``ops`` to ``rows`` in place; this is the executable specification of each op."""
    for op in ops:
        if isinstance(op, Remove):
            del rows[op.row : op.row + op.count]
        elif isinstance(op, Insert):
            rows[op.row : op.row] = op.items
        elif isinstance(op, Move):
            rows.insert(op.dest_row, rows.pop(op.src_row))
        elif isinstance(op, Update):
            rows[op.row] = op.item
        elif isinstance(op, Reset):
            rows[:] = op.items
        else:  # pragma: no cover - programming error, not data error
            raise TypeError(f"unknown op {op!r}")


def _uids(items: Sequence[Mapping], key: str) -> list[Hashable] | None:
    """Uid list, or None if any uid is missing/unhashable or repeated (diff is then unsafe)."""
    try:
        try:
            uids = list(map(dict.get, items, repeat(key)))  # plain dicts: C speed
        except TypeError:
            uids = [item.get(key) for item in items]
        unique = set(uids)
    except (AttributeError, TypeError):  # not a mapping, or an unhashable uid
        return None
    if len(unique) != len(uids) or None in unique or "" in unique:
        return None
    return uids


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Group sorted indices into (start, count) runs of consecutive values."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][0] + runs[-1][1] == i:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


def _lis_mask(seq: list[int]) -> list[bool]:
    """Mark one longest strictly increasing subsequence of ``seq`` (patience sort, O(n log n))."""
    tails: list[int] = []  # smallest tail value of an increasing run of each length
    tail_idx: list[int] = []  # index in seq of that tail
    prev = [-1] * len(seq)
    for i, v in enumerate(seq):
        k = bisect_left(tails, v)
        if k == len(tails):
            tails.append(v)
            tail_idx.append(i)
        else:
            tails[k] = v
            tail_idx[k] = i
        prev[i] = tail_idx[k - 1] if k else -1
    mask = [False] * len(seq)
    i = tail_idx[-1] if tail_idx else -1
    while i != -1:
        mask[i] = True
        i = prev[i]
    return mask


class _Fenwick:
    """Prefix counts of occupied slots, so a row index is found in O(log n) after many moves."""

    def __init__(self, size: int) -> None:
        self._tree = [0] * (size + 1)

    def add(self, slot: int, delta: int) -> None:
        i = slot + 1
        while i < len(self._tree):
            self._tree[i] += delta
            i += i & -i

    def before(self, slot: int) -> int:
        """Number of occupied slots strictly before ``slot``."""
        total, i = 0, slot
        while i > 0:
            total += self._tree[i]
            i -= i & -i
        return total


def _moves(kept: list[Hashable], target: list[Hashable], base: int) -> list[Move]:
    """Moves that reorder ``kept`` into ``target`` (same set); rows are offset by ``base``.

    Items on a longest increasing subsequence stay put; every other item is moved once, in
    ascending target order, directly behind its target predecessor.  To know the live row of
    each item without an O(n) ``list.index``, every item gets a slot in one global ordering:
    gap ``g`` (between the g-th and (g+1)-th stationary item) holds first the already-placed
    movers (in target order) and then the not-yet-moved ones (in original order).  A Fenwick
    tree over slot occupancy turns "slots before me" into the row index.
    """
    rank = {uid: i for i, uid in enumerate(target)}
    seq = [rank[uid] for uid in kept]
    stays = _lis_mask(seq)
    n_stay = sum(stays)
    if n_stay == len(kept):
        return []
    # Gap of each mover in the original order, and in the target order.
    orig_gap: dict[Hashable, int] = {}
    g = 0
    for uid, st in zip(kept, stays, strict=True):
        if st:
            g += 1
        else:
            orig_gap[uid] = g
    stay_set = {uid for uid, st in zip(kept, stays, strict=True) if st}
    dest_gap: dict[Hashable, int] = {}
    g = 0
    for uid in target:
        if uid in stay_set:
            g += 1
        else:
            dest_gap[uid] = g
    # Lay out slots gap by gap: [placed movers][unmoved movers] stationary item.
    placed_in_gap: list[list[Hashable]] = [[] for _ in range(n_stay + 1)]
    orig_in_gap: list[list[Hashable]] = [[] for _ in range(n_stay + 1)]
    for uid in target:
        if uid in dest_gap:
            placed_in_gap[dest_gap[uid]].append(uid)
    for uid in kept:
        if uid in orig_gap:
            orig_in_gap[orig_gap[uid]].append(uid)
    dest_slot: dict[Hashable, int] = {}
    orig_slot: dict[Hashable, int] = {}
    stay_slots: list[int] = []
    slot = 0
    for g in range(n_stay + 1):
        for uid in placed_in_gap[g]:
            dest_slot[uid] = slot
            slot += 1
        for uid in orig_in_gap[g]:
            orig_slot[uid] = slot
            slot += 1
        if g < n_stay:
            stay_slots.append(slot)
            slot += 1
    tree = _Fenwick(slot)
    for s in stay_slots:
        tree.add(s, 1)
    for s in orig_slot.values():
        tree.add(s, 1)
    ops: list[Move] = []
    for uid in target:
        if uid not in dest_slot:
            continue
        src = tree.before(orig_slot[uid])
        tree.add(orig_slot[uid], -1)
        dst = tree.before(dest_slot[uid])
        tree.add(dest_slot[uid], 1)
        if src != dst:
            ops.append(Move(base + src, base + dst))
    return ops


def diff_by_uid(old: Sequence[Mapping], new: Sequence[Mapping], key: str = "item_uid") -> list[Op]:
    """Edit script turning ``old`` into ``new``, matching items by their unique ``key``.

    Removes come first (bottom-up, one op per contiguous block), then moves (only items off a
    longest increasing subsequence move), then inserts (top-down, one op per contiguous block),
    then updates for items whose uid stayed but whose content changed.  Duplicate or missing
    uids make matching ambiguous, so the answer is then ``[Reset(new)]``.
    """
    old_uids, new_uids = _uids(old, key), _uids(new, key)
    if old_uids is None or new_uids is None:
        return [Reset(tuple(new))]
    if old_uids == new_uids:
        return [Update(row, new[row]) for row in _changed(old, new)]
    # Trim the common prefix and suffix: single edits then never reach the O(n log n) part.
    n_old, n_new = len(old_uids), len(new_uids)
    shortest = min(n_old, n_new)
    pre = next(compress(_count(), map(ne, old_uids, new_uids)), shortest)
    suf = next(compress(_count(), map(ne, reversed(old_uids), reversed(new_uids))), shortest)
    suf = min(suf, shortest - pre)
    mid_old = old_uids[pre : n_old - suf]
    mid_new = new_uids[pre : n_new - suf]
    ops: list[Op] = []
    last = len(mid_old) - 1
    if len(mid_old) == len(mid_new) and mid_old[0] == mid_new[-1] and mid_old[1:] == mid_new[:-1]:
        ops.append(Move(pre, pre + last))  # one item moved down (fast path, C-speed compare)
    elif len(mid_old) == len(mid_new) and mid_old[-1] == mid_new[0] and mid_old[:-1] == mid_new[1:]:
        ops.append(Move(pre + last, pre))  # one item moved up
    else:
        new_set, old_set = set(mid_new), set(mid_old)
        gone = [i for i, uid in enumerate(mid_old) if uid not in new_set]
        for start, count in reversed(_runs(gone)):
            ops.append(Remove(pre + start, count))
        kept = [uid for uid in mid_old if uid in new_set]
        target = [uid for uid in mid_new if uid in old_set]
        ops.extend(_moves(kept, target, pre))
        added = [i for i, uid in enumerate(mid_new) if uid not in old_set]
        for start, count in _runs(added):
            ops.append(Insert(pre + start, tuple(new[pre + start : pre + start + count])))
    # Content changes, in final row coordinates.
    changed = list(_changed(old[:pre], new[:pre]))
    old_mid = dict(zip(mid_old, old[pre : n_old - suf], strict=True))
    for row in range(pre, n_new - suf):
        before = old_mid.get(new_uids[row])
        if before is not None and before is not new[row] and before != new[row]:
            changed.append(row)
    changed.extend(n_new - suf + i for i in _changed(old[n_old - suf :], new[n_new - suf :]))
    ops.extend(Update(row, new[row]) for row in changed)
    return ops


def _changed(old: Sequence[Any], new: Sequence[Any]) -> Iterator[int]:
    """Indices where two equally long lists differ, compared at C speed."""
    return compress(range(len(new)), map(ne, old, new))


def _history_identity(item: Mapping) -> tuple[Any, Any]:
    """Cheap identity for a history entry: a re-run of the same item differs by ``time_stop``."""
    result = item.get("result")
    stop = result.get("time_stop") if isinstance(result, Mapping) else None
    return (item.get("item_uid"), stop)


def history_identities(items: Sequence[Mapping]) -> list[tuple[Any, Any]]:
    """``(item_uid, result.time_stop)`` of every entry, as :func:`diff_history` compares them.

    For plain dicts (what the client decodes) the work is done by ``map`` over ``dict.get``,
    about 5x faster than a Python loop: 20 ms instead of 100 ms for a 100,000-item history.
    """
    try:
        get = dict.get
        uids = map(get, items, repeat("item_uid"))
        results = list(map(get, items, repeat("result")))
        stops = map(get, results, repeat("time_stop"))
        return list(zip(uids, stops, strict=True))
    except TypeError:  # not all dicts (a Mapping, or a result that is not a dict)
        pass
    if items and type(items[0]) is HistoryEntry:
        try:
            return list(map(HistoryEntry.identity, items))  # compact entries: no decode
        except AttributeError:  # a mixed list
            pass
    return [_history_identity(i) for i in items]


def diff_history(old: Sequence[Mapping], new: Sequence[Mapping], *,
                 old_ids: Sequence[tuple[Any, Any]] | None = None,
                 new_ids: Sequence[tuple[Any, Any]] | None = None) -> list[Op]:
    """Edit script for history: append, trim-from-front (optionally plus append), clear.

    History uids repeat (a failed item is retried with the same uid), so there is no unique key
    to match on.  The server only appends at the end and ``history_clear`` only drops the oldest
    entries, so we look for ``old[t:]`` being a prefix of ``new``; any other shape is a Reset.
    ``old_ids`` / ``new_ids`` are :func:`history_identities` of the two lists, if known.
    """
    if not new:
        return [Remove(0, len(old))] if old else []
    if not old:
        return [Insert(0, tuple(new))]
    ids_old = list(old_ids) if old_ids is not None else history_identities(old)
    ids_new = list(new_ids) if new_ids is not None else history_identities(new)
    if len(ids_old) != len(old) or len(ids_new) != len(new):
        raise ValueError("identities do not match the items")
    if ids_old == ids_new:
        return []
    first = ids_new[0]
    seen: set | None = None
    t = -1
    while True:
        try:
            t = ids_old.index(first, t + 1)  # candidates for the number of trimmed entries
        except ValueError:
            return [Reset(tuple(new))]
        overlap = len(ids_old) - t
        if overlap > len(ids_new) or ids_old[t:] != ids_new[:overlap]:
            continue
        if overlap < len(ids_new):
            if seen is None:
                seen = set(ids_old)
            if not seen.isdisjoint(ids_new[overlap:]):  # a trimmed entry never comes back
                continue
        ops: list[Op] = []
        if t:
            ops.append(Remove(0, t))
        if len(new) > overlap:
            ops.append(Insert(overlap, tuple(new[overlap:])))
        return ops


_ELLIPSIS = "…"


class _Full(Exception):
    """Internal: the summary budget is spent; stops formatting huge args early."""


class _Writer:
    """Accumulates text up to a budget so a 10 000-point list costs no more than a short one."""

    def __init__(self, budget: int) -> None:
        self.parts: list[str] = []
        self.left = budget

    def put(self, text: str) -> None:
        self.parts.append(text)
        self.left -= len(text)
        if self.left < 0:
            raise _Full


def _is_name(value: Any) -> bool:
    """Device/plan names are shown bare; other strings keep their quotes to stay unambiguous."""
    return isinstance(value, str) and value.replace(".", "_").isidentifier()


def _put_value(w: _Writer, value: Any, bare_list: bool = False) -> None:
    if isinstance(value, str):
        w.put(value if _is_name(value) else json.dumps(value, ensure_ascii=False))
    elif isinstance(value, bool) or value is None or isinstance(value, int):
        w.put(str(value))
    elif isinstance(value, float):
        w.put(repr(value) if math.isfinite(value) else str(value))
    elif isinstance(value, Mapping):
        w.put("{")
        for i, (k, v) in enumerate(value.items()):
            w.put(f"{', ' if i else ''}{k}: ")
            _put_value(w, v)
        w.put("}")
    elif isinstance(value, (list, tuple)):
        if not bare_list:
            w.put("[")
        for i, v in enumerate(value):
            if i:
                w.put(", ")
            _put_value(w, v)
        if not bare_list:
            w.put("]")
    else:
        w.put(str(value))


def param_summary(item: Mapping, max_len: int = 200) -> str:
    """One-line ``args · kwargs`` text, e.g. ``det1, det2 · num=3, delay=0.1``.

    A lone list argument (the detector list of ``count``) is shown without brackets because that
    is what an operator scans for; with several positional args brackets keep them apart.
    """
    args = item.get("args") or []
    kwargs = item.get("kwargs") or {}
    w = _Writer(max_len)
    try:
        if not isinstance(args, (list, tuple)):
            args = [args]
        for i, a in enumerate(args):
            if i:
                w.put(", ")
            _put_value(w, a, bare_list=len(args) == 1)
        if isinstance(kwargs, Mapping) and kwargs:
            if args:
                w.put(" · ")
            for i, (k, v) in enumerate(kwargs.items()):
                w.put(f"{', ' if i else ''}{k}=")
                _put_value(w, v)
    except _Full:
        return "".join(w.parts)[: max(max_len - 1, 0)] + _ELLIPSIS
    return "".join(w.parts)


def format_time(ts: float | None, now: float | None = None) -> str:
    """Local wall-clock time: ``HH:MM:SS`` if on today's date, else ``YYYY-MM-DD HH:MM:SS``.

    ``now`` is injectable so tests don't depend on the clock.
    """
    if ts is None or not isinstance(ts, (int, float)) or not math.isfinite(ts):
        return ""
    try:
        local = time.localtime(ts)
    except (OverflowError, OSError, ValueError):
        return ""
    today = time.localtime(time.time() if now is None else now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M:%S", local)
    return time.strftime("%Y-%m-%d %H:%M:%S", local)
