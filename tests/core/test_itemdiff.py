"""Property and example tests for the queue/history edit scripts in qs_gui.core.itemdiff."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qs_gui.core.formatting import format_duration
from qs_gui.core.itemdiff import (
    Insert,
    Move,
    Remove,
    Reset,
    Update,
    apply_ops,
    diff_by_uid,
    diff_history,
    format_time,
    history_identities,
    param_summary,
)


def item(uid: str, num: int = 1, **extra) -> dict:
    return {"item_type": "plan", "name": "count", "args": [["det1"]], "kwargs": {"num": num},
            "user": "tester", "user_group": "primary", "item_uid": uid, **extra}  # fmt: skip


def hist(uid: str, stop: float, status: str = "completed") -> dict:
    result = {"exit_status": status, "time_start": stop - 1.0, "time_stop": stop, "msg": ""}
    return {**item(uid), "result": result}


def applied(old: list, ops: list) -> list:
    rows = list(old)
    apply_ops(rows, ops)
    return rows


# -- hypothesis: random old/new queues with unique uids -----------------------------------------

uid_pool = st.lists(st.text("abcdefghij", min_size=1, max_size=3), unique=True, max_size=40)


@st.composite
def queue_pair(draw) -> tuple[list[dict], list[dict]]:
    """Old queue plus a new one built by deleting, permuting, inserting and editing items."""
    uids = draw(uid_pool)
    old = [item(u) for u in uids]
    kept = [u for u in uids if draw(st.booleans()) or draw(st.booleans())]
    kept = draw(st.permutations(kept)) if draw(st.booleans()) else kept
    fresh = [f"n{i}" for i in range(draw(st.integers(0, 6)))]
    new_uids = list(kept)
    for u in fresh:
        new_uids.insert(draw(st.integers(0, len(new_uids))), u)
    changed = set(draw(st.lists(st.sampled_from(new_uids), max_size=5))) if new_uids else set()
    new = [item(u, num=2 if u in changed else 1) for u in new_uids]
    return old, new


@settings(max_examples=400, deadline=None)
@given(queue_pair())
def test_diff_by_uid_transforms_old_into_new(pair):
    old, new = pair
    ops = diff_by_uid(old, new)
    assert applied(old, ops) == new
    assert not any(isinstance(op, Reset) for op in ops)
    # Ops use valid rows for the list as it is at that point.
    rows = list(old)
    for op in ops:
        if isinstance(op, Remove):
            assert op.count >= 1 and op.row + op.count <= len(rows)
        elif isinstance(op, Move):
            assert 0 <= op.src_row < len(rows) and 0 <= op.dest_row < len(rows)
            assert op.src_row != op.dest_row
        elif isinstance(op, Update):
            assert rows[op.row]["item_uid"] == op.item["item_uid"]
        apply_ops(rows, [op])


@settings(max_examples=300, deadline=None)
@given(st.permutations(list(range(30))))
def test_reorder_moves_only_items_off_the_longest_increasing_subsequence(perm):
    old = [item(str(i)) for i in range(30)]
    new = [old[i] for i in perm]
    ops = diff_by_uid(old, new)
    assert all(isinstance(op, Move) for op in ops)
    assert applied(old, ops) == new
    # Minimal: the number of moves is n - LIS(perm).
    tails: list[int] = []
    for v in perm:
        k = next((i for i, t in enumerate(tails) if t >= v), len(tails))
        tails[k : k + 1] = [v]
    assert len(ops) == 30 - len(tails)


# -- single changes give exactly one op ---------------------------------------------------------

BASE = [item(f"u{i}") for i in range(8)]


@pytest.mark.parametrize("pos", [0, 3, 8])
def test_single_insert_is_one_op(pos):
    new = BASE[:pos] + [item("x")] + BASE[pos:]
    assert diff_by_uid(BASE, new) == [Insert(pos, (item("x"),))]


@pytest.mark.parametrize("pos", [0, 4, 7])
def test_single_remove_is_one_op(pos):
    assert diff_by_uid(BASE, BASE[:pos] + BASE[pos + 1 :]) == [Remove(pos, 1)]


def test_contiguous_blocks_are_one_op():
    block = [item("x"), item("y"), item("z")]
    assert diff_by_uid(BASE, BASE[:2] + block + BASE[2:]) == [Insert(2, tuple(block))]
    assert diff_by_uid(BASE, BASE[:2] + BASE[5:]) == [Remove(2, 3)]


@pytest.mark.parametrize("src,dest", [(0, 7), (7, 0), (2, 3), (3, 2), (1, 5), (6, 1)])
def test_single_move_is_one_op_with_final_index(src, dest):
    new = list(BASE)
    new.insert(dest, new.pop(src))
    ops = diff_by_uid(BASE, new)
    assert len(ops) == 1 and isinstance(ops[0], Move)
    assert applied(BASE, ops) == new
    # dest_row is the moved item's final index
    assert new[ops[0].dest_row] == BASE[ops[0].src_row]


def test_single_update_is_one_op():
    new = list(BASE)
    new[5] = item("u5", num=7)
    assert diff_by_uid(BASE, new) == [Update(5, new[5])]


def test_identical_gives_no_ops_even_with_fresh_objects():
    assert diff_by_uid(BASE, [dict(i) for i in BASE]) == []
    assert diff_by_uid([], []) == []


def test_move_plus_update_of_the_moved_item():
    new = [item("u7", num=9)] + BASE[:7]
    ops = diff_by_uid(BASE, new)
    assert ops == [Move(7, 0), Update(0, new[0])]


@pytest.mark.parametrize(
    "old,new",
    [
        ([item("a"), item("a")], [item("a")]),
        ([item("a")], [item("b"), item("b")]),
        ([item("a"), {"name": "count"}], [item("a")]),
        ([item("a")], [{"item_uid": None}]),
        ([item("a")], [{"item_uid": ["unhashable"]}]),
    ],
)
def test_duplicate_or_missing_uids_reset(old, new):
    assert diff_by_uid(old, new) == [Reset(tuple(new))]


def test_custom_key():
    old = [{"id": 1}, {"id": 2}, {"id": 3}]
    ops = diff_by_uid(old, old[::-1], key="id")
    assert len(ops) == 2 and applied(old, ops) == old[::-1]


# -- history -------------------------------------------------------------------------------------

H = [hist(f"h{i}", 100.0 + i) for i in range(6)]


def test_history_append_trim_clear_identical():
    assert diff_history(H, [dict(h) for h in H]) == []
    assert diff_history(H[:4], H) == [Insert(4, tuple(H[4:]))]
    assert diff_history(H, H[3:]) == [Remove(0, 3)]
    fresh = hist("n", 200.0)
    assert diff_history(H, H[2:] + [fresh]) == [Remove(0, 2), Insert(4, (fresh,))]
    assert diff_history(H, []) == [Remove(0, 6)]
    assert diff_history([], H) == [Insert(0, tuple(H))]
    assert diff_history([], []) == []


def test_history_repeated_uid_is_told_apart_by_time_stop():
    rerun = hist("h5", 300.0, "failed")  # the same item run again: same uid, new result
    ops = diff_history(H, H + [rerun])
    assert ops == [Insert(6, (rerun,))]
    assert applied(H, ops) == H + [rerun]


@pytest.mark.parametrize(
    "new",
    [
        H[::-1],  # reordered
        H[:2] + H[3:],  # hole in the middle
        [hist("z", 1.0)],  # cleared and a new item appended before we polled
        H[:5] + [hist("h5", 999.0)],  # last entry changed identity
    ],
)
def test_history_other_shapes_reset(new):
    assert diff_history(H, new) == [Reset(tuple(new))]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 6), st.integers(0, 5), st.integers(0, 6))
def test_history_trim_and_append_roundtrip(start, n_new, size):
    old = H[:size]
    new = old[min(start, size) :] + [hist(f"n{i}", 500.0 + i) for i in range(n_new)]
    ops = diff_history(old, new)
    assert applied(old, ops) == new
    # Only "everything trimmed and something new appended" is indistinguishable from a swap.
    replaced = 0 < size <= start and n_new > 0
    assert any(isinstance(op, Reset) for op in ops) == replaced
    assert len(ops) <= 2


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 6), st.integers(0, 5), st.integers(0, 6), st.booleans())
def test_history_diff_with_known_identities_is_the_same(start, n_new, size, rerun):
    old = H[:size]
    new = old[min(start, size) :] + [hist(f"n{i}", 500.0 + i) for i in range(n_new)]
    if rerun and old:
        new.append(hist(old[0]["item_uid"], 900.0))  # a re-run: repeated uid, new identity
    ids_old, ids_new = history_identities(old), history_identities(new)
    assert diff_history(old, new, old_ids=ids_old, new_ids=ids_new) == diff_history(old, new)


def test_history_identities_fast_path_and_fallback():
    from collections import UserDict

    odd = [UserDict(H[0]), {"item_uid": "x", "result": "not a dict"}, {"item_uid": "y"}]
    assert history_identities(H[:2]) == [("h0", 100.0), ("h1", 101.0)]
    assert history_identities(odd) == [("h0", 100.0), ("x", None), ("y", None)]
    with pytest.raises(ValueError):
        diff_history(H, H[1:], old_ids=[], new_ids=history_identities(H[1:]))


# -- display helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "it,text",
    [
        (
            {"args": [["det1", "det2"]], "kwargs": {"num": 3, "delay": 0.1}},
            "det1, det2 · num=3, delay=0.1",
        ),
        ({"args": [["det1"], "motor", -1, 1, 10]}, "[det1], motor, -1, 1, 10"),
        (
            {"kwargs": {"md": {"note": "two words"}, "flag": True}},
            'md={note: "two words"}, flag=True',
        ),
        ({"item_type": "instruction", "name": "queue_stop"}, ""),
        ({"args": [], "kwargs": {"x": None}}, "x=None"),
        (
            {"args": [["det1"]], "kwargs": {"motor": "sim_bundle_A.mtr"}},
            "det1 · motor=sim_bundle_A.mtr",
        ),
    ],
)
def test_param_summary_examples(it, text):
    assert param_summary(it) == text


def test_param_summary_truncates_huge_args_cheaply():
    text = param_summary({"args": [list(range(10**6))]}, max_len=40)
    assert len(text) == 40 and text.endswith("…") and text.startswith("0, 1, 2")


@pytest.mark.parametrize(
    "secs,text",
    [(None, ""), (-1, ""), (0.25, "0.2 s"), (4.26, "4.3 s"), (65, "1 min 05 s"),
     (7260, "2 h 01 min"), (2 * 86400 + 3600, "2 d 01 h")],
)  # fmt: skip
def test_format_duration(secs, text):
    assert format_duration(secs) == text


def test_format_time_today_vs_other_day():
    now = time.mktime((2025, 6, 15, 18, 0, 0, 0, 0, -1))
    same_day = time.mktime((2025, 6, 15, 9, 5, 7, 0, 0, -1))
    other_day = time.mktime((2025, 6, 14, 23, 59, 1, 0, 0, -1))
    assert format_time(same_day, now=now) == "09:05:07"
    assert format_time(other_day, now=now) == "2025-06-14 23:59:01"
    assert format_time(None) == ""
