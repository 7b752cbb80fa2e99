"""Undo of queue edits (qs_gui.core.undo) against a fake Operations that keeps a queue the way
the server does (new uids for added items, before/after anchors, batch moves, item_update)."""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from qs_gui.core.gates import Action
from qs_gui.core.outcome import Outcome, OutcomeKind
from qs_gui.core.undo import UndoStack

_uids = itertools.count(100)


def item(name: str, uid: str, **kwargs: Any) -> dict[str, Any]:
    return {"item_type": "plan", "name": name, "args": [["det1"]], "kwargs": {"num": 3, **kwargs},
            "item_uid": uid, "user": "op", "user_group": "primary"}


class FakeOps:
    """The server's queue semantics, as far as undo uses them."""

    def __init__(self, queue: list[dict[str, Any]]) -> None:
        self.queue = queue
        self.calls: list[tuple] = []
        self.fail_on: set[int] = set()  # call numbers (0-based) refused

    def _index(self, uid: str) -> int:
        return next(i for i, it in enumerate(self.queue) if it["item_uid"] == uid)

    def _refuse(self) -> bool:
        return len(self.calls) - 1 in self.fail_on

    async def add(self, item: Mapping[str, Any], where: Mapping[str, Any] = {"pos": "back"}, *,
                  action: Action = Action.QUEUE_ADD, what: str | None = None,
                  done: str | None = None) -> Outcome:  # fmt: skip
        self.calls.append(("add", dict(item), dict(where), action))
        if self._refuse():
            return Outcome(OutcomeKind.REFUSED, error="refused")
        assert "item_uid" not in item and "result" not in item  # an equal, *new* item
        new = {**copy.deepcopy(dict(item)), "item_uid": f"new-{next(_uids)}"}
        if "before_uid" in where:
            self.queue.insert(self._index(where["before_uid"]), new)
        elif "after_uid" in where:
            self.queue.insert(self._index(where["after_uid"]) + 1, new)
        elif where.get("pos") == "front":
            self.queue.insert(0, new)
        elif isinstance(where.get("pos"), int):
            self.queue.insert(where["pos"], new)
        else:
            self.queue.append(new)
        return Outcome(OutcomeKind.DONE, {"item": new})

    async def move(self, uids: Sequence[str], target: Mapping[str, Any], *,
                   action: Action = Action.QUEUE_MOVE_UP, what: str = "Move") -> Outcome:
        self.calls.append(("move", list(uids), dict(target), action))
        if self._refuse():
            return Outcome(OutcomeKind.REFUSED, error="refused")
        moving = [self.queue.pop(self._index(u)) for u in uids]
        if "before_uid" in target:
            at = self._index(target["before_uid"])
        elif "after_uid" in target:
            at = self._index(target["after_uid"]) + 1
        else:
            at = 0 if target.get("pos_dest") == "front" else len(self.queue)
        self.queue[at:at] = moving
        return Outcome(OutcomeKind.DONE)

    async def update(self, item: Mapping[str, Any], uid: str) -> Outcome:
        self.calls.append(("update", dict(item), uid))
        if self._refuse():
            return Outcome(OutcomeKind.REFUSED, error="refused")
        self.queue[self._index(uid)] = {**copy.deepcopy(dict(item)), "item_uid": uid}
        return Outcome(OutcomeKind.DONE)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def names(queue: list[dict]) -> list[str]:
    return [i["name"] for i in queue]


def fresh() -> list[dict[str, Any]]:
    return [item("count", "a"), item("scan", "b"), item("mv", "c"), item("count2", "d")]


def remove(queue: list[dict], uids: set[str]) -> list[dict]:
    return [i for i in queue if i["item_uid"] not in uids]


# ----- remove --------------------------------------------------------------------------------
def test_undo_a_remove_re_adds_an_equal_item_at_the_same_position() -> None:
    before = fresh()
    stack = UndoStack()
    entry = stack.record_remove(before, ["c"])
    assert entry is not None and entry.done == "Removed mv (position 3)"
    assert entry.undo_text == ("Undone: mv is back at position 3 (the server gave it a new "
                               "uid)")
    assert stack.label() == "Undo remove of mv"
    ops = FakeOps(remove(before, {"c"}))
    result = run(stack.undo(ops, ops.queue))
    assert result.ok and result.message == entry.undo_text and result.announced
    assert names(ops.queue) == ["count", "scan", "mv", "count2"]
    re_added = ops.queue[2]
    assert re_added["item_uid"] != "c"  # the server gives it a new uid
    assert {k: re_added[k] for k in ("name", "args", "kwargs")} == {
        k: before[2][k] for k in ("name", "args", "kwargs")}
    assert ops.calls[0][2] == {"before_uid": "d"} and ops.calls[0][3] is Action.QUEUE_ADD
    assert not stack.can_undo and stack.label() == "Undo"


@pytest.mark.parametrize("uids", [{"a"}, {"d"}, {"a", "b"}, {"b", "d"}, {"a", "c"},
                                  {"a", "b", "c", "d"}])
def test_undo_any_remove_restores_the_order(uids: set[str]) -> None:
    before = fresh()
    stack = UndoStack()
    stack.record_remove(before, sorted(uids))
    ops = FakeOps(remove(before, uids))
    assert run(stack.undo(ops, ops.queue)).ok
    assert names(ops.queue) == names(before)


def test_undo_a_remove_after_someone_else_changed_the_queue() -> None:
    before = fresh()
    stack = UndoStack()
    entry = stack.record_remove(before, ["b"])
    assert entry is not None and "position 2" in entry.undo_text
    now = [item("new", "x"), *remove(before, {"b"})]  # another client added at the front
    ops = FakeOps(now)
    assert run(stack.undo(ops, ops.queue)).ok
    assert names(ops.queue) == ["new", "count", "scan", "mv", "count2"]  # still before mv
    # follower gone too: after the predecessor; both gone: the old index
    stack.record_remove(before, ["b"])
    ops = FakeOps([item("count", "a"), item("count2", "d")])
    run(stack.undo(ops, ops.queue))
    assert ops.calls[0][2] == {"after_uid": "a"}
    stack.record_remove(before, ["b"])
    ops = FakeOps([item("z", "z")])
    run(stack.undo(ops, ops.queue))
    assert ops.calls[0][2] == {"pos": 1}


def test_a_failed_re_add_keeps_only_what_is_still_missing() -> None:
    before = fresh()
    stack = UndoStack()
    entry = stack.record_remove(before, ["a", "b", "c"])
    assert entry is not None and entry.done == "Removed 3 items (count, scan, mv)"
    assert stack.label() == "Undo remove of 3 items"
    ops = FakeOps(remove(before, {"a", "b", "c"}))
    ops.fail_on = {1}
    result = run(stack.undo(ops, ops.queue))
    assert not result.ok and result.message == "Undo stopped: could not put scan back (refused)."
    assert names(ops.queue) == ["count", "count2"]
    left = stack.peek()
    assert left is not None and [p.item["name"] for p in left.placed] == ["scan", "mv"]
    ops.fail_on = set()
    assert run(stack.undo(ops, ops.queue)).ok
    assert names(ops.queue) == names(before)  # no duplicate count


def test_nothing_to_record_or_undo() -> None:
    stack = UndoStack()
    assert stack.record_remove(fresh(), ["nope"]) is None
    assert stack.record_move(fresh(), []) is None
    assert stack.record_edit({"name": "count"}) is None  # no uid
    result = run(stack.undo(FakeOps([]), []))
    assert not result.ok and result.message == "Nothing to undo."


# ----- move ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("uids", "target"), [
    (["a"], {"pos_dest": "back"}),
    (["d"], {"pos_dest": "front"}),
    (["b"], {"before_uid": "a"}),
    (["a", "c"], {"pos_dest": "back"}),
    (["b", "c"], {"after_uid": "d"}),
])  # fmt: skip
def test_undo_a_move_moves_the_items_back(uids: list[str], target: dict) -> None:
    before = fresh()
    ops = FakeOps(copy.deepcopy(before))
    run(ops.move(uids, target))
    assert names(ops.queue) != names(before)
    stack = UndoStack()
    entry = stack.record_move(before, uids)
    assert entry is not None
    result = run(stack.undo(ops, ops.queue))
    assert result.ok and names(ops.queue) == names(before)
    assert [i["item_uid"] for i in ops.queue] == ["a", "b", "c", "d"]  # the same items


def test_move_texts_and_vanished_items() -> None:
    stack = UndoStack()
    entry = stack.record_move(fresh(), ["c"])
    assert entry is not None and entry.done == "Moved mv (was at position 3)"
    assert entry.undo_text == "Undone: mv is back at position 3"
    assert stack.label() == "Undo move of mv"
    result = run(stack.undo(FakeOps([item("x", "x")]), [item("x", "x")]))
    assert not result.ok and "no longer in the queue" in result.message and not stack.can_undo


# ----- edit ----------------------------------------------------------------------------------
def test_undo_an_edit_re_applies_the_previous_version() -> None:
    before = fresh()
    stack = UndoStack()
    entry = stack.record_edit({**before[1], "result": {"exit_status": "failed"}})
    assert entry is not None and entry.done == "Saved scan"
    ops = FakeOps(copy.deepcopy(before))
    ops.queue[1]["kwargs"] = {"num": 99}  # the saved edit
    result = run(stack.undo(ops, ops.queue))
    assert result.ok and result.message == "Undone: scan is back to its version before the edit"
    assert ops.calls[0][0] == "update" and ops.calls[0][2] == "b"
    assert "result" not in ops.calls[0][1] and "item_uid" not in ops.calls[0][1]
    assert ops.queue[1]["name"] == "scan" and ops.queue[1]["kwargs"] == {"num": 3}


def test_an_edit_of_a_vanished_item_cannot_be_undone_and_a_refusal_keeps_the_entry() -> None:
    stack = UndoStack()
    stack.record_edit(item("scan", "b"))
    result = run(stack.undo(FakeOps([]), []))
    assert not result.ok and result.message == ("Cannot undo the edit: scan is no longer in the "
                                                "queue.")
    assert not stack.can_undo
    stack.record_edit(item("scan", "b"))
    ops = FakeOps(fresh())
    ops.fail_on = {0}
    assert not run(stack.undo(ops, ops.queue)).ok and stack.can_undo


# ----- the stack -----------------------------------------------------------------------------
def test_newest_first_and_bounded_depth() -> None:
    stack = UndoStack(depth=2)
    q = fresh()
    stack.record_remove(q, ["a"])
    stack.record_move(q, ["b"])
    stack.record_edit(q[2])
    assert len(stack) == 2 and stack.peek().kind == "edit"  # type: ignore[union-attr]
    assert stack.label() == "Undo edit of mv"
    stack.clear()
    assert not stack.can_undo


def test_drop_forgets_a_failed_edit_and_busy_refuses_a_second_undo() -> None:
    stack = UndoStack()
    q = fresh()
    kept = stack.record_move(q, ["b"])
    failed = stack.record_remove(q, ["a"])
    stack.drop(failed)
    assert stack.peek() is kept
    stack.drop(None)  # nothing recorded: nothing to forget
    stack.busy = True
    result = run(stack.undo(FakeOps(q), q))
    assert not result.ok and "still in progress" in result.message and stack.peek() is kept
