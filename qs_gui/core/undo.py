"""Undo for queue edits (remove, move, edit), through the same operations as the edits: Qt-free.

Why it is built this way:

* **The server has no undo**, so an undo is a new request that puts things back: a removed item
  is *added* again (an equal item: the server gives it a new uid), moved items are *moved* back,
  an edited item gets its previous version through ``item_update``. Each goes through
  :class:`~qs_gui.core.operations.Operations` and returns its
  :class:`~qs_gui.core.outcome.Outcome`, like any other command (gates, in-flight marking,
  plain-words errors).
* **Positions are anchored to neighbours, not indices**, when the neighbours still exist: other
  clients may have added or removed items since. A removed item goes back *before the item that
  followed it* (or after the one that preceded it); only when both are gone does its old index
  count. The queue as it is now is passed to :meth:`UndoStack.undo` for that.
* **Every entry says what it did and what undoing does**, in plain words for Messages:
  "Removed count (position 3)" / "Undone: count is back at position 3 (the server gave it a new
  uid)". The menu text names the edit: "Undo remove of count".
* **One undo at a time**: ``busy`` is true while an undo's requests are out, so a second Ctrl+Z
  cannot re-add the same item twice (the gates disable Undo meanwhile).
* **A partial undo is not repeated**: when the third of three re-adds fails, the entry keeps
  only the item still missing, so trying again never adds a duplicate.

The stack holds at most ``depth`` entries (oldest dropped). Positions in texts are 1-based, as in
the queue view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .gates import Action
from .item_helpers import clean_item
from .outcome import Outcome, OutcomeKind

__all__ = ["QueueOps", "UndoEntry", "UndoResult", "UndoStack"]


class QueueOps(Protocol):
    """What undo needs from :class:`~qs_gui.core.operations.Operations`."""

    async def add(self, item: Mapping[str, Any], where: Mapping[str, Any] = ..., *,
                  action: Action = ..., what: str | None = ...,
                  done: str | None = ...) -> Outcome: ...  # fmt: skip

    async def move(self, uids: Sequence[str], target: Mapping[str, Any], *,
                   action: Action = ..., what: str = ...) -> Outcome: ...  # fmt: skip

    async def update(self, item: Mapping[str, Any], uid: str) -> Outcome: ...


def _uid(item: Mapping[str, Any]) -> str | None:
    uid = item.get("item_uid")
    return uid if isinstance(uid, str) and uid else None


def _name(item: Mapping[str, Any]) -> str:
    name = item.get("name")
    return name if isinstance(name, str) and name else "item"


def _names(items: Sequence[Mapping[str, Any]]) -> str:
    names = [_name(i) for i in items]
    if len(names) <= 3:
        return ", ".join(names)
    return f"{', '.join(names[:2])} and {len(names) - 2} more"


@dataclass(frozen=True)
class _Placed:
    """An item and where it stood: its index and its neighbours' uids at that time."""

    item: Mapping[str, Any]
    index: int  # 0-based position in the queue before the edit
    before: str | None  # uid of the next item that was not part of the edit
    after: str | None  # uid of the previous item that was not part of the edit


def _placed(queue: Sequence[Mapping[str, Any]], uids: set[str]) -> list[_Placed]:
    out = []
    keep = [_uid(i) for i in queue]
    for index, item in enumerate(queue):
        if keep[index] not in uids:
            continue
        nxt = next((u for u in keep[index + 1:] if u not in uids), None)
        prev = next((u for u in reversed(keep[:index]) if u not in uids), None)
        out.append(_Placed(item, index, nxt, prev))
    return out


def _anchor(p: _Placed, present: set[str], *, moving: bool) -> dict[str, Any]:
    """Where to put ``p`` back: before its old follower, after its old predecessor, or its old
    index (``pos`` for an add; for a move, ``pos_dest`` "front"/"back" are the only indices)."""
    if p.before is not None and p.before in present:
        return {"before_uid": p.before}
    if p.after is not None and p.after in present:
        return {"after_uid": p.after}
    if moving:
        return {"pos_dest": "front" if p.index == 0 else "back"}
    return {"pos": p.index}


@dataclass(frozen=True)
class UndoEntry:
    """One queue edit that can be undone; ``done`` says what happened, ``undo_text`` what
    undoing it does (both for Messages)."""

    kind: str  # "remove" | "move" | "edit"
    done: str
    undo_text: str
    placed: tuple[_Placed, ...] = ()  # remove, move
    previous: Mapping[str, Any] = field(default_factory=dict)  # edit: the version to restore
    uid: str = ""  # edit: the edited item's uid
    what: str = ""  # what was edited, for the menu: "scan" / "3 items"


@dataclass(frozen=True)
class UndoResult:
    """What an undo did: ``message`` for Messages, ``outcome`` of the (last) request sent."""

    ok: bool
    message: str
    outcome: Outcome | None = None
    #: the requests already told the operator (each re-add says where its item is back), so
    #: ``message`` need not be shown again
    announced: bool = False


def _where(index: int) -> str:
    return f"position {index + 1}"


class UndoStack:
    """Queue edits, newest last; :meth:`undo` reverts the newest (see the module docstring)."""

    def __init__(self, depth: int = 50) -> None:
        self.depth = depth
        self._entries: list[UndoEntry] = []
        self.busy = False  # an undo's requests are out

    # -- recording ------------------------------------------------------------------------------
    def _push(self, entry: UndoEntry) -> UndoEntry:
        self._entries.append(entry)
        del self._entries[:-self.depth]
        return entry

    def record_remove(self, queue: Sequence[Mapping[str, Any]],
                      uids: Sequence[str]) -> UndoEntry | None:  # fmt: skip
        """The items ``uids`` were removed from ``queue`` (the queue as it was before)."""
        placed = _placed(queue, set(uids))
        if not placed:
            return None
        items = [p.item for p in placed]
        if len(placed) == 1:
            p = placed[0]
            what = _name(p.item)
            done = f"Removed {what} ({_where(p.index)})"
            undo = f"Undone: {what} is back at {_where(p.index)} (the server gave it a new uid)"
        else:
            what = f"{len(placed)} items"
            done = f"Removed {what} ({_names(items)})"
            undo = (f"Undone: the {len(placed)} removed items are back ({_names(items)}; the "
                    f"server gave them new uids)")
        return self._push(UndoEntry("remove", done, undo, tuple(placed), what=what))

    def record_move(self, queue: Sequence[Mapping[str, Any]],
                    uids: Sequence[str]) -> UndoEntry | None:  # fmt: skip
        """The items ``uids`` were moved; ``queue`` is the queue as it was before the move."""
        placed = _placed(queue, set(uids))
        if not placed:
            return None
        if len(placed) == 1:
            p = placed[0]
            what = _name(p.item)
            done = f"Moved {what} (was at {_where(p.index)})"
            undo = f"Undone: {what} is back at {_where(p.index)}"
        else:
            what = f"{len(placed)} items"
            done = f"Moved {what} ({_names([p.item for p in placed])})"
            undo = f"Undone: the {what} are back where they were"
        return self._push(UndoEntry("move", done, undo, tuple(placed), what=what))

    def record_edit(self, previous: Mapping[str, Any], uid: str | None = None) -> UndoEntry | None:
        """The queue item ``uid`` (default: ``previous``'s) was saved over ``previous``."""
        uid = uid or _uid(previous)
        if not uid:
            return None
        name = _name(previous)
        return self._push(UndoEntry("edit", f"Saved {name}",
                                    f"Undone: {name} is back to its version before the edit",
                                    previous=clean_item(previous), uid=uid,
                                    what=name))  # fmt: skip

    # -- reading --------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._entries)

    def peek(self) -> UndoEntry | None:
        return self._entries[-1] if self._entries else None

    def label(self) -> str:
        """The menu text: "Undo remove of scan" / "Undo move of 3 items" / "Undo" when there is
        nothing to undo."""
        entry = self.peek()
        if entry is None:
            return "Undo"
        return f"Undo {entry.kind} of {entry.what or 'an item'}"

    def drop(self, entry: UndoEntry | None) -> None:
        """Forget ``entry`` (recorded before its request, which then failed: nothing to undo)."""
        if entry is not None and entry in self._entries:
            self._entries.remove(entry)

    def clear(self) -> None:
        """Forget everything (another server, or the queue was cleared)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    # -- undoing --------------------------------------------------------------------------------
    async def undo(self, ops: QueueOps, queue: Sequence[Mapping[str, Any]]) -> UndoResult:
        """Revert the newest entry; ``queue`` is the queue as it is now (for the anchors).

        The entry is dropped when undone (or when there is nothing left to undo); on a failed
        request it stays, reduced to what is still to do, so it can be tried again.
        """
        entry = self.peek()
        if entry is None:
            return UndoResult(False, "Nothing to undo.")
        if self.busy:
            return UndoResult(False, "Undo not sent: the previous undo is still in progress.")
        present = {u for u in (_uid(i) for i in queue) if u}
        self.busy = True
        try:
            if entry.kind == "remove":
                return await self._undo_remove(ops, entry, present)
            if entry.kind == "move":
                return await self._undo_move(ops, entry, present)
            return await self._undo_edit(ops, entry, present)
        finally:
            self.busy = False

    def _replace_top(self, entry: UndoEntry | None) -> None:
        if self._entries:  # cleared meanwhile (the queue was cleared): nothing to replace
            self._entries.pop()
        if entry is not None:
            self._entries.append(entry)

    async def _undo_remove(self, ops: QueueOps, entry: UndoEntry,
                           present: set[str]) -> UndoResult:  # fmt: skip
        outcome: Outcome | None = None
        single = len(entry.placed) == 1
        for done, p in enumerate(entry.placed):
            name = _name(p.item)
            said = (entry.undo_text if single else
                    f"Undone: {name} is back at {_where(p.index)} (new uid)")
            outcome = await ops.add(clean_item(p.item), _anchor(p, present, moving=False),
                                    action=Action.QUEUE_ADD, what=f"Undo: re-add {name}",
                                    done=said + ".")
            if not outcome.ok:
                rest = entry.placed[done:]
                self._replace_top(replace(entry, placed=rest))
                return UndoResult(False, f"Undo stopped: could not put {name} back "
                                         f"({outcome.error or outcome.kind.value}).", outcome)
            # the items re-added so far have new uids we do not know: the next one of the same
            # block still goes before the same follower, which keeps the order
        self._replace_top(None)
        return UndoResult(True, entry.undo_text, outcome, announced=single)

    async def _undo_move(self, ops: QueueOps, entry: UndoEntry,
                         present: set[str]) -> UndoResult:  # fmt: skip
        placed = [p for p in entry.placed if _uid(p.item) in present]
        if not placed:
            self._replace_top(None)
            return UndoResult(False, "Nothing to undo: the moved items are no longer in the "
                                     "queue.")  # fmt: skip
        outcome: Outcome | None = None
        for moved, p in enumerate(placed):  # in the old order: each goes before its old follower
            outcome = await ops.move([_uid(p.item) or ""], _anchor(p, present, moving=True),
                                     action=Action.QUEUE_MOVE_UP,
                                     what=f"Undo: move {_name(p.item)} back")  # fmt: skip
            if not outcome.ok:
                self._replace_top(replace(entry, placed=tuple(placed[moved:])))
                return UndoResult(False, f"Undo stopped: could not move {_name(p.item)} back "
                                         f"({outcome.error or outcome.kind.value}).", outcome)
        self._replace_top(None)
        gone = len(entry.placed) - len(placed)
        note = f" ({gone} of the items are no longer in the queue)" if gone else ""
        return UndoResult(True, entry.undo_text + note, outcome)

    async def _undo_edit(self, ops: QueueOps, entry: UndoEntry,
                         present: set[str]) -> UndoResult:  # fmt: skip
        name = _name(entry.previous)
        if entry.uid not in present:
            self._replace_top(None)
            return UndoResult(False, f"Cannot undo the edit: {name} is no longer in the queue.")
        outcome = await ops.update(entry.previous, entry.uid)
        if outcome.kind is OutcomeKind.DONE:
            self._replace_top(None)
            return UndoResult(True, entry.undo_text, outcome)
        return UndoResult(False, f"Undo failed: {outcome.error or outcome.kind.value}.", outcome)
