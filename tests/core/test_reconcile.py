"""core/reconcile.py: after a lost reply, what the server's state says happened (pure logic)."""

from __future__ import annotations

import pytest

from qs_gui.core.reconcile import (
    APPLIED,
    NOT_APPLIED,
    RECONCILABLE_METHODS,
    UNKNOWN,
    ServerState,
    Snapshot,
    decide,
    same_content,
)

PLAN = {"item_type": "plan", "name": "count", "args": [["det1"]], "kwargs": {"num": 3}}
USER = {"user": "alice", "user_group": "primary"}


def q(uid: str, **extra) -> dict:
    return {**PLAN, **USER, "item_uid": uid, **extra}


QUEUE = [q("a"), q("b", kwargs={"num": 4}), q("c", kwargs={"num": 5})]
BEFORE = Snapshot(QUEUE, {}, [q("h1", result={"exit_status": "completed"})])


def req(method: str, **params) -> dict:
    return {"method": method, "params": params}


def check(verdict, expected: str) -> None:
    assert verdict.verdict == expected, verdict.message
    assert "NOT sent again" in verdict.message


# -- execute -------------------------------------------------------------------------------
def test_execute_running_is_applied():
    running = {**PLAN, **USER, "item_uid": "new", "properties": {"immediate_execution": True}}
    v = decide(req("queue_item_execute", item=PLAN, **USER), BEFORE,
               ServerState(QUEUE, running, BEFORE.history))
    check(v, APPLIED)
    assert v.item["item_uid"] == "new" and "did start count" in v.message


def test_execute_already_finished_is_applied():
    done = q("new", result={"exit_status": "failed"})
    v = decide(req("queue_item_execute", item=PLAN, **USER), BEFORE,
               ServerState(QUEUE, {}, [*BEFORE.history, done]))
    check(v, APPLIED)
    assert "already finished (failed)" in v.message


def test_execute_not_started():
    v = decide(req("queue_item_execute", item=PLAN, **USER), BEFORE,
               ServerState(QUEUE, {}, BEFORE.history))
    check(v, NOT_APPLIED)


@pytest.mark.parametrize("running", [
    {**PLAN, **USER, "item_uid": "x"},  # a queue item running, not an immediate execution
    {**PLAN, "user": "bob", "item_uid": "x", "properties": {"immediate_execution": True}},
    {**PLAN, **USER, "kwargs": {"num": 99}, "item_uid": "x",
     "properties": {"immediate_execution": True}},
])
def test_execute_someone_elses_run_is_not_ours(running):
    v = decide(req("queue_item_execute", item=PLAN, **USER), BEFORE,
               ServerState(QUEUE, running, BEFORE.history))
    check(v, NOT_APPLIED)


def test_execute_old_history_entry_is_not_ours():
    # h1 was in the history before: an identical item that ran earlier proves nothing
    v = decide(req("queue_item_execute", item=PLAN, **USER), BEFORE,
               ServerState(QUEUE, {}, BEFORE.history))
    assert v.verdict == NOT_APPLIED


def test_execute_without_history_is_unknown():
    v = decide(req("queue_item_execute", item=PLAN, **USER), BEFORE, ServerState(QUEUE, {}, None))
    check(v, UNKNOWN)


# -- add -----------------------------------------------------------------------------------
def test_add_found_in_queue():
    new = {**PLAN, **USER, "kwargs": {"num": 7}, "item_uid": "n"}
    after = ServerState([*QUEUE[:1], new, *QUEUE[1:]], {}, BEFORE.history)
    v = decide(req("queue_item_add", item={**PLAN, "kwargs": {"num": 7}}, after_uid="a", **USER),
               BEFORE, after)
    check(v, APPLIED)
    assert v.item["item_uid"] == "n" and "position 2 of 4" in v.message


def test_add_identical_to_existing_items_needs_a_new_uid():
    v = decide(req("queue_item_add", item=PLAN, pos="back", **USER), BEFORE,
               ServerState(QUEUE, {}, BEFORE.history))
    check(v, NOT_APPLIED)


def test_add_then_started_by_autostart():
    running = q("n")
    v = decide(req("queue_item_add", item=PLAN, **USER), BEFORE,
               ServerState(QUEUE, running, BEFORE.history))
    check(v, APPLIED)
    assert "already started" in v.message


def test_add_tuple_args_match_after_the_wire():
    sent = {**PLAN, "args": (("det1",),)}
    v = decide(req("queue_item_add", item=sent, **USER), BEFORE,
               ServerState([*QUEUE, q("n")], {}, BEFORE.history))
    assert v.verdict == APPLIED


def test_add_batch_all_none_partial():
    items = [{**PLAN, "kwargs": {"num": 10}}, {**PLAN, "kwargs": {"num": 11}}]
    new = [{**i, **USER, "item_uid": f"n{k}"} for k, i in enumerate(items)]
    r = req("queue_item_add_batch", items=items, **USER)
    check(decide(r, BEFORE, ServerState([*QUEUE, *new], {}, [])), APPLIED)
    check(decide(r, BEFORE, ServerState(QUEUE, {}, [])), NOT_APPLIED)
    check(decide(r, BEFORE, ServerState([*QUEUE, new[0]], {}, [])), UNKNOWN)


def test_add_batch_duplicates_need_two_new_items():
    r = req("queue_item_add_batch", items=[PLAN, PLAN], **USER)
    assert decide(r, BEFORE, ServerState([*QUEUE, q("n1")], {}, [])).verdict == UNKNOWN
    assert decide(r, BEFORE, ServerState([*QUEUE, q("n1"), q("n2")], {}, [])).verdict == APPLIED


# -- update ----------------------------------------------------------------------------------
def test_update_saved_unchanged_and_overwritten():
    edited = {**PLAN, "kwargs": {"num": 42}, "item_uid": "b"}
    r = req("queue_item_update", item=edited, **USER)
    saved = [QUEUE[0], {**edited, **USER}, QUEUE[2]]
    check(decide(r, BEFORE, ServerState(saved, {}, [])), APPLIED)
    check(decide(r, BEFORE, ServerState(QUEUE, {}, [])), NOT_APPLIED)
    other = [QUEUE[0], q("b", kwargs={"num": 1}), QUEUE[2]]
    check(decide(r, BEFORE, ServerState(other, {}, [])), UNKNOWN)


def test_update_item_gone():
    r = req("queue_item_update", item={**PLAN, "item_uid": "b"}, **USER)
    v = decide(r, BEFORE, ServerState([QUEUE[0], QUEUE[2]], q("b"), []))
    check(v, UNKNOWN)
    assert "running now" in v.message
    v = decide(r, BEFORE, ServerState([QUEUE[0], QUEUE[2]], {}, []))
    assert "removed from the queue" in v.message


def test_update_replace_gives_a_new_uid():
    edited = {**PLAN, "kwargs": {"num": 42}, "item_uid": "b"}
    r = req("queue_item_update", item=edited, replace=True, **USER)
    replaced = [QUEUE[0], {**edited, **USER, "item_uid": "b2"}, QUEUE[2]]
    check(decide(r, BEFORE, ServerState(replaced, {}, [])), APPLIED)
    check(decide(r, BEFORE, ServerState(QUEUE, {}, [])), NOT_APPLIED)


# -- move ------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, order", [
    ({"uid": "c", "pos_dest": "front"}, "cab"),
    ({"uid": "a", "pos_dest": "back"}, "bca"),
    ({"uid": "c", "before_uid": "b"}, "acb"),
    ({"uid": "a", "after_uid": "b"}, "bac"),
    ({"pos": "back", "pos_dest": "front"}, "cab"),
    ({"uid": "c", "pos_dest": 1}, "acb"),
    ({"uids": ["b", "c"], "pos_dest": "front"}, "bca"),
    ({"uids": ["c", "b"], "before_uid": "a"}, "cba"),
    ({"uids": ["c", "a"], "after_uid": "b", "reorder": True}, "bac"),
])
def test_move(params, order):
    after = ServerState([q(u) for u in order], {}, None)
    method = "queue_item_move_batch" if "uids" in params else "queue_item_move"
    check(decide(req(method, **params), BEFORE, after), APPLIED)
    check(decide(req(method, **params), BEFORE, ServerState(QUEUE, {}, None)), NOT_APPLIED)


def test_move_with_others_reordering_or_vanished_anchor():
    r = req("queue_item_move", uid="c", before_uid="b")
    check(decide(r, BEFORE, ServerState([q("b"), q("a"), q("c")], {}, None)), UNKNOWN)
    v = decide(r, BEFORE, ServerState([q("a"), q("c")], {}, None))
    check(v, UNKNOWN)
    assert "no longer in the queue" in v.message
    check(decide(r, BEFORE, ServerState([q("a"), q("b")], {}, None)), UNKNOWN)


# -- remove ----------------------------------------------------------------------------------
def test_remove():
    r = req("queue_item_remove", uid="b")
    check(decide(r, BEFORE, ServerState([QUEUE[0], QUEUE[2]], {}, [])), APPLIED)
    check(decide(r, BEFORE, ServerState(QUEUE, {}, [])), NOT_APPLIED)
    check(decide(r, BEFORE, ServerState([QUEUE[0], QUEUE[2]], q("b"), [])), UNKNOWN)
    rb = req("queue_item_remove_batch", uids=["a", "c"])
    check(decide(rb, BEFORE, ServerState([QUEUE[1]], {}, [])), APPLIED)
    check(decide(rb, BEFORE, ServerState([QUEUE[0], QUEUE[1]], {}, [])), UNKNOWN)  # a stayed
    check(decide(rb, BEFORE, ServerState(QUEUE, {}, [])), NOT_APPLIED)


# -- robustness ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", sorted(RECONCILABLE_METHODS))
@pytest.mark.parametrize("params", [{}, {"item": None, "uids": None}, {"item": [], "items": "x"},
                                    {"uid": ["x"], "pos": True, "pos_dest": 10**9}])
def test_garbage_requests_never_raise(method, params):
    after = ServerState([{"item_uid": 5}, "junk", q("a")], {"properties": "x"}, ["x", {}])
    v = decide({"method": method, "params": params}, Snapshot(["junk", {}], None, []), after)
    assert v.verdict in (APPLIED, NOT_APPLIED, UNKNOWN) and v.message


def test_unknown_method_is_unknown():
    assert decide(req("queue_clear"), BEFORE, ServerState()).verdict == UNKNOWN


def test_same_content_rules():
    assert same_content(PLAN, {**PLAN, "item_uid": "x", "user": "bob", "result": {}})
    assert same_content({"name": "count"}, {"name": "count", "args": [], "kwargs": {}})
    assert not same_content(PLAN, {**PLAN, "kwargs": {"num": 3.5}})
    assert not same_content(PLAN, None)

