"""QueueModel / HistoryModel: Qt contract, minimal signals, selection survival, drag-and-drop."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PyQt5.QtCore import QMimeData, QModelIndex, QSortFilterProxyModel, Qt  # noqa: E402
from PyQt5.QtTest import QAbstractItemModelTester  # noqa: E402
from PyQt5.QtWidgets import QAbstractItemView, QTableView  # noqa: E402

from qs_gui.ui import queue_model  # noqa: E402
from qs_gui.ui.item_models import (  # noqa: E402
    ITEM_ROLE,
    MIME_ITEM_UIDS,
    UID_ROLE,
    HistoryModel,
    QueueModel,
)
from qs_gui.ui.selection import SelectionKeeper  # noqa: E402
from qs_gui.ui.theme import outcome_text  # noqa: E402


def item(uid: str, num: int = 1, **extra) -> dict:
    return {"item_type": "plan", "name": "count", "args": [["det1", "det2"]],
            "kwargs": {"num": num, "delay": 0.5}, "user": "tester", "user_group": "primary",
            "item_uid": uid, **extra}  # fmt: skip


def running(uid: str, immediate: bool = False) -> dict:
    return item(uid, properties={"immediate_execution": immediate, "time_start": 1795941269.99})


def hist(uid: str, stop: float, status: str = "completed", msg: str = "") -> dict:
    tb = "Traceback (most recent call last): ...\n" if msg else ""
    result = {"exit_status": status, "run_uids": [], "scan_ids": [], "time_start": stop - 5.5,
              "time_stop": stop, "msg": msg, "traceback": tb}  # fmt: skip
    return {**item(uid), "result": result}


Q = [item(f"q{i}") for i in range(6)]
SHARED_FIXTURE = HealthCheck.function_scoped_fixture


class Recorder:
    """Collects the structural signals a view would see."""

    def __init__(self, model) -> None:
        self.events: list[tuple] = []
        model.rowsInserted.connect(lambda p, a, b: self.events.append(("inserted", a, b)))
        model.rowsRemoved.connect(lambda p, a, b: self.events.append(("removed", a, b)))
        model.rowsMoved.connect(lambda p, a, b, d, r: self.events.append(("moved", a, b, r)))
        model.modelReset.connect(lambda: self.events.append(("reset",)))
        model.dataChanged.connect(
            lambda tl, br, roles=(): self.events.append(("changed", tl.row(), br.row()))
        )

    def take(self) -> list[tuple]:
        events, self.events = self.events, []
        return events


@pytest.fixture
def checked(qtbot, qtlog):
    """Attach QAbstractItemModelTester; fail the test if it reported any contract violation."""
    testers = []

    def attach(model):
        mode = QAbstractItemModelTester.FailureReportingMode.Warning
        testers.append(QAbstractItemModelTester(model, mode))
        return model

    yield attach
    failures = [r.message for r in qtlog.records if "FAIL!" in r.message]
    assert not failures, failures


def queue_rows(model: QueueModel) -> list[str]:
    return [model.uid_at(r) for r in range(model.rowCount())]


# -- QueueModel: incremental updates -------------------------------------------------------------


def test_first_load_resets_then_another_client_adds_one_item(checked):
    model = checked(QueueModel())
    rec = Recorder(model)
    model.set_queue(Q, {})
    assert rec.take() == [("reset",)]
    model.set_queue(Q[:3] + [item("other")] + Q[3:], {})
    assert rec.take() == [("inserted", 3, 3)]
    assert model.uid_at(3) == "other" and model.rowCount() == 7


def test_sequence_of_changes_keeps_model_consistent(checked):
    model = checked(QueueModel())
    rec = Recorder(model)
    model.set_queue(Q, {})
    assert rec.take() == [("reset",)]
    steps = [
        (Q[1:], {}, [("removed", 0, 0)]),
        (Q[1:4] + Q[5:], {}, [("removed", 3, 3)]),
        ([Q[3], Q[1], Q[2], Q[5]], {}, [("moved", 2, 2, 0)]),  # q3 to the top
        ([Q[1], Q[2], Q[3], Q[5]], {}, [("moved", 0, 0, 3)]),  # down: Qt dest = final + 1
        ([Q[1], Q[2], item("q3", num=9), Q[5]], {}, [("changed", 2, 2)]),
        ([Q[2], item("q3", num=9), Q[5]], Q[1], [("changed", 0, 0)]),  # q1 starts running
        ([item("q3", num=9), Q[5]], Q[2], [("removed", 0, 0), ("changed", 0, 0)]),  # next one
        ([item("q3", num=9), Q[5]], {}, [("removed", 0, 0)]),  # queue stopped
        ([], {}, [("removed", 0, 1)]),  # cleared
    ]
    for items, run, expected in steps:
        model.set_queue(items, run)
        assert rec.take() == expected
        expected_uids = ([run["item_uid"]] if run else []) + [i["item_uid"] for i in items]
        assert queue_rows(model) == expected_uids
        assert [model.item_at(r) for r in range(model.rowCount())] == ([run] if run else []) + items


def test_move_down_by_one_uses_destination_plus_two(checked):
    model = checked(QueueModel())
    model.set_queue(Q, {})
    seen = []
    model.rowsAboutToBeMoved.connect(lambda p, a, b, d, r: seen.append((a, r)))
    model.set_queue([Q[0], Q[2], Q[1], *Q[3:]], {})
    assert seen in ([(1, 3)], [(2, 1)])  # q1 down (dest = 1 + 2) or q2 up (dest = 1)
    assert queue_rows(model) == ["q0", "q2", "q1", "q3", "q4", "q5"]


def test_duplicate_uids_fall_back_to_reset(checked):
    model = checked(QueueModel())
    rec = Recorder(model)
    model.set_queue(Q, {})
    model.set_queue(Q + [Q[0]], {})
    assert rec.take() == [("reset",), ("reset",)]
    assert model.rowCount() == 7


# The `checked` fixture is deliberately shared by all examples: it only collects testers.
@settings(max_examples=60, deadline=None, suppress_health_check=[SHARED_FIXTURE])
@given(st.lists(st.lists(st.sampled_from([f"u{i}" for i in range(12)]), unique=True), max_size=8))
def test_random_snapshots_match_the_server(checked, snapshots):
    model = checked(QueueModel())
    rec = Recorder(model)
    for k, uids in enumerate(snapshots):
        run = running(uids[0]) if uids and k % 2 else {}
        items = [item(u, num=k % 3) for u in (uids[1:] if run else uids)]
        model.set_queue(items, run)
        assert queue_rows(model) == uids
        assert model.is_running_row(0) == bool(run)
    assert [e for e in rec.take() if e == ("reset",)] == ([("reset",)] if snapshots else [])


def test_display_strings_computed_once_on_first_paint_for_10000_rows(checked, monkeypatch):
    """Loading 10,000 rows computes no summaries (that would stall the first display); a row's
    strings are computed when it is first painted and read from the cache on every later paint;
    a one-row insert computes at most the new row's."""
    model = checked(QueueModel())
    big = [item(f"b{i}", num=i) for i in range(10_000)]
    calls = []
    real = queue_model.param_summary
    monkeypatch.setattr(queue_model, "param_summary",
                        lambda *a, **k: calls.append(a) or real(*a, **k))
    model.set_queue(big, {})
    assert len(calls) <= 10  # the model tester peeks at a few rows; nothing else is computed
    painted = range(0, 10_000, 7)
    for r in painted:
        assert model.data(model.index(r, QueueModel.PARAMS)).startswith("det1, det2 · num=")
    first_paint = len(calls)
    assert first_paint <= 10 + len(painted)
    for r in painted:  # repaint: nothing recomputed
        assert model.data(model.index(r, QueueModel.PARAMS)).startswith("det1, det2 · num=")
    assert len(calls) == first_paint
    rec = Recorder(model)
    model.set_queue(big[:5000] + [item("new")] + big[5000:], {})
    assert rec.take() == [("inserted", 5000, 5000)]
    assert len(calls) - first_paint <= 3  # at most what the model tester peeks at
    assert model.data(model.index(5000, QueueModel.PARAMS)) == "det1, det2 · num=1, delay=0.5"
    assert model.data(model.index(5001, QueueModel.PARAMS)).startswith("det1, det2 · num=5000")
    assert len(calls) - first_paint <= 4


# -- running item --------------------------------------------------------------------------------


def test_running_row_display(checked):
    model = checked(QueueModel())
    model.set_queue(Q[:2], running("r", immediate=True))
    idx = model.index(0, QueueModel.MARKER)
    assert model.data(idx) == "▶" and model.is_running_row(0) and not model.is_running_row(1)
    assert "(executing now)" in model.data(idx, Qt.ToolTipRole)
    assert model.data(model.index(0, QueueModel.NAME), Qt.FontRole).bold()
    assert model.data(model.index(0, QueueModel.NAME), Qt.BackgroundRole) is not None
    assert model.data(model.index(1, QueueModel.NAME), Qt.FontRole) is None
    assert model.data(model.index(1, QueueModel.NAME), Qt.BackgroundRole) is None
    assert [model.queue_row(r) for r in range(3)] == [None, 0, 1]
    assert model.row_of("r") == 0 and model.row_of("q1") == 2 and model.row_of("nope") is None
    assert model.running_item["item_uid"] == "r"
    assert not model.flags(idx) & Qt.ItemIsDragEnabled
    assert model.flags(model.index(1, 0)) & Qt.ItemIsDragEnabled
    assert model.headerData(0, Qt.Vertical) == "" and model.headerData(1, Qt.Vertical) == "1"
    tip = model.data(model.index(1, QueueModel.PARAMS), Qt.ToolTipRole)
    assert json.loads(tip) == Q[0]
    model.set_queue(Q[:2], running("r", immediate=False))
    assert "(executing now)" not in model.data(idx, Qt.ToolTipRole)


def test_running_item_without_queue_change_inserts_row_zero(checked):
    model = checked(QueueModel())
    model.set_queue(Q[:2], {})
    rec = Recorder(model)
    model.set_queue(Q[:2], running("x", immediate=True))  # item_execute from another client
    assert rec.take() == [("inserted", 0, 0)]
    model.set_queue(Q[:2], {})
    assert rec.take() == [("removed", 0, 0)]


def test_parameters_column_text(checked):
    model = checked(QueueModel())
    model.set_queue([item("a", num=3)], {})
    assert model.data(model.index(0, QueueModel.PARAMS)) == "det1, det2 · num=3, delay=0.5"
    assert [model.headerData(c, Qt.Horizontal) for c in range(6)] == list(QueueModel.COLUMNS)


# -- selection -----------------------------------------------------------------------------------


def selected_uids(view: QTableView) -> list[str]:
    return [i.data(UID_ROLE) for i in view.selectionModel().selectedRows()]


@pytest.mark.parametrize("use_proxy", [False, True])
def test_selection_by_uid_survives_changes_and_reset(qtbot, checked, use_proxy):
    model = checked(QueueModel())
    model.set_queue(Q, {})
    view = QTableView()
    qtbot.addWidget(view)
    view.setSelectionBehavior(QAbstractItemView.SelectRows)
    if use_proxy:
        proxy = QSortFilterProxyModel()
        proxy.setSourceModel(model)
        view.setModel(proxy)
    else:
        view.setModel(model)
    keeper = SelectionKeeper(view)
    view.selectRow(model.row_of("q3"))
    assert selected_uids(view) == ["q3"]

    model.set_queue([item("a"), item("b"), *Q], {})  # insertions above
    assert selected_uids(view) == ["q3"]
    model.set_queue([item("a"), Q[1], Q[3], Q[5]], {})  # removal of other rows
    assert selected_uids(view) == ["q3"]
    model.set_queue([Q[3], item("a"), Q[1], Q[5]], {})  # the selected row moves
    assert selected_uids(view) == ["q3"] and view.currentIndex().data(UID_ROLE) == "q3"
    model.set_queue([Q[3], Q[3]], {})  # duplicates -> Reset; keeper re-selects by uid
    model.set_queue([Q[1], Q[3], Q[5]], {})  # back to sane: another Reset
    assert selected_uids(view) == ["q3"] and view.currentIndex().data(UID_ROLE) == "q3"
    model.set_queue([Q[1], Q[5]], running("q3"))  # selected item starts running: same row
    assert selected_uids(view) == ["q3"]

    keeper.detach()
    model.clear()
    model.set_queue(Q, {})
    assert selected_uids(view) == []  # without the keeper a reset loses the selection


# -- drag and drop -------------------------------------------------------------------------------


def drop(model: QueueModel, uids: list[str], row: int, parent: QModelIndex | None = None):
    mime = QMimeData()
    mime.setData(MIME_ITEM_UIDS, json.dumps(uids).encode())
    return model.dropMimeData(mime, Qt.MoveAction, row, 0, parent or QModelIndex())


def test_mime_data_carries_uids_and_json(checked):
    model = checked(QueueModel())
    model.set_queue(Q[:4], running("r"))
    assert MIME_ITEM_UIDS in model.mimeTypes() and model.supportedDropActions() == Qt.MoveAction
    indexes = [model.index(r, c) for r in (3, 0, 1) for c in range(2)]  # running row is skipped
    mime = model.mimeData(indexes)
    assert json.loads(bytes(mime.data(MIME_ITEM_UIDS)).decode()) == ["q0", "q2"]
    assert [i["item_uid"] for i in json.loads(mime.text())] == ["q0", "q2"]
    assert model.mimeData([model.index(0, 0)]) is None


def test_drop_emits_move_requested_without_touching_rows(qtbot, checked):
    model = checked(QueueModel())
    model.set_queue(Q, running("r"))
    rec = Recorder(model)
    before = queue_rows(model)
    with qtbot.waitSignal(model.move_requested) as blocker:
        assert drop(model, ["q4", "q1"], 2)  # view row 2 = between q0 and q1
    assert blocker.args == [["q1", "q4"], "q2", "q0"]  # q1 is dragged, so the anchor is q2
    assert queue_rows(model) == before and rec.take() == []

    with qtbot.waitSignal(model.move_requested) as blocker:
        assert drop(model, ["q0"], -1)  # onto the empty area: to the end
    assert blocker.args == [["q0"], None, "q5"]
    with qtbot.waitSignal(model.move_requested) as blocker:
        assert drop(model, ["q5"], -1, model.index(1, 2))  # onto q0 itself: before it
    assert blocker.args == [["q5"], "q0", None]

    with qtbot.assertNotEmitted(model.move_requested):
        assert not drop(model, ["q3"], 0)  # above the running item
        assert not drop(model, ["r"], 3)  # the running item cannot be dragged
        assert not drop(model, [q["item_uid"] for q in Q], 3)  # nothing left to anchor to
        assert not model.dropMimeData(QMimeData(), Qt.MoveAction, 2, 0, QModelIndex())
    assert not model.canDropMimeData(QMimeData(), Qt.CopyAction, 2, 0, QModelIndex())
    assert queue_rows(model) == before and rec.take() == []


# -- HistoryModel --------------------------------------------------------------------------------

H = [hist("h0", 1000.0), hist("h1", 1010.0, "failed", "Plan failed: boom\nsecond line"),
     hist("h2", 1020.0, "stopped"), hist("h3", 1030.0, "aborted"),
     hist("h4", 1040.0, "halted"), hist("h5", 1050.0, "weird")]  # fmt: skip


def test_history_colouring_and_columns(checked):
    model = checked(HistoryModel())
    model.set_history(H)
    fg = [model.data(model.index(r, 0), Qt.ForegroundRole).color() for r in range(6)]
    assert fg[0] == outcome_text("completed") and fg[1] == outcome_text("failed")
    assert fg[2] == fg[3] == fg[4] == outcome_text("stopped") and fg[5] == outcome_text("unknown")
    assert len({fg[0].name(), fg[1].name(), fg[2].name(), fg[5].name()}) == 4
    assert model.data(model.index(1, 0), Qt.BackgroundRole).color().alpha() < 255
    assert [model.data(model.index(r, 0)) for r in (0, 1)] == ["● completed", "● failed"]
    assert model.data(model.index(1, HistoryModel.MESSAGE)) == "Plan failed: boom"
    assert "Traceback" in model.data(model.index(1, HistoryModel.MESSAGE), Qt.ToolTipRole)
    assert model.data(model.index(0, HistoryModel.DURATION)) == "5.5 s"
    assert model.data(model.index(0, HistoryModel.STARTED)) != ""
    assert model.data(model.index(0, HistoryModel.PARAMS)) == "det1, det2 · num=1, delay=0.5"
    assert model.item_at(5)["item_uid"] == "h5" and model.item_at(6) is None
    assert model.exit_status_at(1) == "failed" and model.data(model.index(2, 1), ITEM_ROLE) == H[2]


def test_history_incremental_append_trim_and_repeated_uid(qtbot, checked):
    model = checked(HistoryModel())
    rec = Recorder(model)
    model.set_history(H[:3])
    assert rec.take() == [("reset",)]
    rerun = hist("h1", 2000.0)  # the same item retried: repeated uid, new result
    model.set_history(H[:3] + [rerun])
    assert rec.take() == [("inserted", 3, 3)]
    assert model.row_of_key(("h1", 2000.0)) == 3 and model.row_of_key(("h1", 1010.0)) == 1
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    SelectionKeeper(view)
    view.selectRow(3)
    model.set_history(H[2:3] + [rerun])  # history_clear(size=2)
    assert rec.take() == [("removed", 0, 1)]
    assert [i.row() for i in view.selectionModel().selectedRows()] == [1]
    model.set_history([H[0], rerun])  # unrelated shape -> reset; keeper restores by key
    assert rec.take() == [("reset",)]
    assert [i.row() for i in view.selectionModel().selectedRows()] == [1]
    model.set_history([])
    assert rec.take() == [("removed", 0, 1)]


# -- big histories: sliced loading, memory, search texts ------------------------------------------


@pytest.fixture
def small_slices(monkeypatch):
    monkeypatch.setattr(HistoryModel, "SYNC_LIMIT", 10)
    for name in ("CHUNK_ROWS", "CHUNK_MIN", "CHUNK_MAX"):
        monkeypatch.setattr(HistoryModel, name, 7)
    monkeypatch.setattr(HistoryModel, "IDS_CHUNK", 5)


def history_keys(model: HistoryModel) -> list[tuple]:
    return [model.key_at(r) for r in range(model.rowCount())]


def test_big_history_is_shown_in_slices_without_blocking(qtbot, checked, small_slices):
    model = checked(HistoryModel())
    rec = Recorder(model)
    big = [hist(f"b{i}", 1000.0 + i) for i in range(50)]
    model.set_history(big)
    assert model.is_loading() and model.rowCount() == 0  # nothing done synchronously
    qtbot.waitUntil(lambda: not model.is_loading())
    assert [model.item_at(r) for r in range(50)] == big
    events = rec.take()
    assert events[0] == ("reset",) and all(e[0] == "inserted" for e in events[1:])
    assert max(e[2] - e[1] + 1 for e in events[1:]) <= 7
    # reload: oldest trimmed, two appended -> row operations, no reset; new objects adopted
    fresh = [dict(i) for i in big[1:]] + [hist("n1", 5000.0), hist("n2", 5001.0)]
    model.set_history(fresh)
    qtbot.waitUntil(lambda: not model.is_loading())
    assert rec.take() == [("removed", 0, 0), ("inserted", 49, 50)]
    assert all(model.item_at(r) is fresh[r] for r in range(51))
    assert model.row_of_key(("n2", 5001.0)) == 50 and model.row_of_key(("b1", 1001.0)) == 0


def test_newer_snapshot_replaces_a_pending_one(qtbot, checked, small_slices):
    model = checked(HistoryModel())
    first = [hist(f"a{i}", 1000.0 + i) for i in range(40)]
    second = first[10:] + [hist("z", 9999.0)]
    model.set_history(first)
    model._job_step()  # part of the first one is applied
    model.set_history(second)
    qtbot.waitUntil(lambda: not model.is_loading())
    assert history_keys(model) == [(i["item_uid"], i["result"]["time_stop"]) for i in second]
    model.clear()
    assert model.rowCount() == 0 and not model.is_loading()


def test_search_text_follows_rows(checked):
    model = checked(HistoryModel())
    model.set_history(H[:3])
    assert model.search_text(1) == (
        "count\ndet1, det2 · num=1, delay=0.5\ntester\nplan failed: boom\nsecond line")
    model.set_history(H[1:4])  # trim one, append one: the cached text moves with its row
    assert model.search_text(0).startswith("count\n") and model.search_text(0).endswith("line")
    assert model.search_text(2) == "count\ndet1, det2 · num=1, delay=0.5\ntester\n"


def test_unchanged_queue_rows_hold_the_new_snapshot_objects(checked):
    model = checked(QueueModel())
    model.set_queue(Q, {})
    fresh = [dict(i) for i in Q] + [item("x")]
    model.set_queue(fresh, {})
    assert all(model.item_at(r) is fresh[r] for r in range(7))  # old copies can be freed
