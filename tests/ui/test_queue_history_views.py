"""QueueView / HistoryView: clipboard parsing, selection, gestures, filtering, detail, export."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PyQt5.QtCore import QModelIndex, Qt  # noqa: E402
from PyQt5.QtWidgets import QAction, QApplication, QFileDialog, QMessageBox  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from qs_gui.ui.history_model import SEARCH_ROLE  # noqa: E402
from qs_gui.ui.history_view import HistoryView, export_items, to_yaml  # noqa: E402
from qs_gui.ui.item_models import UID_ROLE  # noqa: E402
from qs_gui.ui.item_table import MARK_ROLE, MarkedRowDelegate  # noqa: E402
from qs_gui.ui.queue_model import FAILED_TIP  # noqa: E402
from qs_gui.ui.queue_view import (  # noqa: E402
    ITEM_TYPES,
    QueueView,
    items_to_clipboard_text,
    parse_clipboard_items,
)
from qs_gui.ui.theme import role_colours, role_text  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
T0 = 1795941269.0
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/opt/bluesky/lib/python3.11/site-packages/bluesky/run_engine.py", line 1542,'
    " in _run\n    msg = self._plan_stack[-1].send(resp)\n"
    '  File "/opt/profile/startup/05-plans.py", line 88, in grid_scan_checked\n'
    '    raise ValueError(f"motor {motor.name} is outside its limits: {pos}")\n'
    "ValueError: motor sample_x is outside its limits: 12.5\n"
)


def plan(uid: str, name: str = "count", args=None, kwargs=None, **extra) -> dict:
    return {"item_type": "plan", "name": name, "args": [["det1", "det2"]] if args is None else args,
            "kwargs": {"num": 5} if kwargs is None else kwargs, "user": "alice",
            "user_group": "primary", "item_uid": uid, **extra}  # fmt: skip


def hist(uid: str, i: int, status: str = "completed", msg: str = "", tb: str = "", **kw) -> dict:
    result = {"exit_status": status, "run_uids": [f"run-{uid}"] if status != "failed" else [],
              "scan_ids": [i], "time_start": T0 + 60 * i, "time_stop": T0 + 60 * i + 42.5,
              "msg": msg, "traceback": tb}  # fmt: skip
    return {**plan(uid, **kw), "result": result}


Q = [plan(f"q{i}") for i in range(6)]


# -- clipboard ------------------------------------------------------------------------------------
def test_clipboard_round_trip_strips_server_keys() -> None:
    items = [
        plan("a", meta={"sample": "Fe2O3"}, properties={"time_start": 1.0}, result={"x": 1}),
        {"item_type": "instruction", "name": "queue_stop", "item_uid": "b"},
        {"item_type": "function", "name": "sleep_fn", "args": [1.5], "meta": [{"a": 1}]},
    ]
    text = items_to_clipboard_text(items)
    assert "item_uid" not in text and "result" not in text and "properties" not in text
    assert "\n  " in text  # pretty
    back = parse_clipboard_items(text)
    keep = ("item_type", "name", "args", "kwargs", "meta")
    assert back == [{k: v for k, v in it.items() if k in keep} for it in items]
    assert parse_clipboard_items(json.dumps(items[1])) == [back[1]] and "user" not in back[0]


BAD = [
    ("", "holds no text"),
    ("   \n", "holds no text"),
    ("{not json", "does not hold JSON items"),
    ('{"item_type": "plan", "name": "count", "args": [NaN]}', "NaN is not a valid JSON number"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("42", "Expected a JSON object or a list"),
    ('"count"', "Expected a JSON object or a list"),
    ("null", "Expected a JSON object or a list"),
    ("[]", "empty list"),
    ('[{"item_type": "plan", "name": "a"}, 3]', "Item 2: must be a JSON object, not a number"),
    ('{"name": "count"}', "Item 1: 'item_type' must be one of plan, instruction, function"),
    ('{"item_type": "Plan", "name": "count"}', "'item_type' must be one of"),
    ('{"item_type": "plan"}', "Item 1: 'name' must be a non-empty string"),
    ('[{"item_type":"plan","name":"a"},{"item_type":"plan","name":""}]',
     "Item 2: 'name' must be a non-empty string"),
    ('{"item_type": "plan", "name": "  "}', "'name' must be a non-empty string"),
    ('{"item_type": "plan", "name": 7}', "'name' must be a non-empty string"),
    ('{"item_type": "plan", "name": "c", "args": {"a": 1}}', "'args' must be a list, not an obj"),
    ('{"item_type": "plan", "name": "c", "kwargs": [1]}', "'kwargs' must be an object, not a list"),
    ('{"item_type": "plan", "name": "c", "meta": "x"}', "'meta' must be an object or a list"),
    ('{"item_type": "plan", "name": "c", "meta": [1]}', "'meta' given as a list must hold only"),
    ('{"item_type": "plan", "name": "c", "kwarg": {}}', "unknown key 'kwarg'"),
    ("__import__('os').system('true')", "does not hold JSON items"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_parse_clipboard_errors_are_plain_value_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_clipboard_items(text)
    assert message in str(info.value)
    assert type(info.value) is ValueError  # not a JSONDecodeError leaking its jargon


def _valid(item: dict) -> bool:
    return (
        set(item) <= {"item_type", "name", "args", "kwargs", "meta"}
        and item["item_type"] in ITEM_TYPES
        and isinstance(item["name"], str)
        and bool(item["name"].strip())
        and isinstance(item.get("args", []), list)
        and isinstance(item.get("kwargs", {}), dict)
        and isinstance(item.get("meta", {}), (dict, list))
    )


def _check_parse(text: str) -> None:
    try:
        items = parse_clipboard_items(text)
    except ValueError:
        return
    assert items and all(_valid(i) for i in items)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=10,
)
ITEMISH = st.fixed_dictionaries(
    {},
    optional={"item_type": st.sampled_from([*ITEM_TYPES, "x"]) | JSON,
              "name": st.sampled_from(["count", "", " "]) | JSON, "args": JSON, "kwargs": JSON,
              "meta": JSON, "item_uid": JSON, "result": JSON, "user": JSON, "extra": JSON},
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_arbitrary_text_only_raises_value_error(text: str) -> None:
    _check_parse(text)


@settings(max_examples=300, deadline=None)
@given(ITEMISH | st.lists(ITEMISH, max_size=3) | JSON)
def test_parse_item_shaped_json_never_returns_invalid_items(data) -> None:
    _check_parse(json.dumps(data))


# -- queue view -----------------------------------------------------------------------------------
@pytest.fixture
def queue(qtbot: QtBot) -> QueueView:
    view = QueueView()
    qtbot.addWidget(view)
    view.resize(800, 300)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_selection_kept_by_uid_across_queue_changes(queue: QueueView, qtbot: QtBot) -> None:
    queue.set_queue(Q, None)
    queue.select_uids(["q2", "q4"])
    assert queue.selected_uids() == ["q2", "q4"] and queue.selected_queue_rows() == (2, 4)
    # Another client inserts at the front and removes q3: positions change, so the gates must hear.
    with qtbot.waitSignal(queue.selection_changed, timeout=100):
        queue.set_queue([plan("new"), *Q[:3], *Q[4:]], None)
    assert queue.selected_uids() == ["q2", "q4"] and queue.selected_queue_rows() == (3, 4)
    assert queue.title.text() == "Queue (6 items)"
    # The front item starts running (a row update, not a removal): the count still follows.
    queue.set_queue([*Q[:3], *Q[4:]], plan("new"))
    assert queue.title.text() == "Queue (5 items)"
    # Reorder + the first item starts running.
    queue.set_queue([Q[4], Q[2], Q[5]], Q[1])
    assert queue.selected_uids() == ["q4", "q2"] and queue.selected_queue_rows() == (0, 1)
    # A diff that gives up (an item without uid) resets the model; the keeper restores by uid.
    queue.select_uids(["q5"])
    resets: list[int] = []
    queue.model.modelReset.connect(lambda: resets.append(1))
    with qtbot.waitSignal(queue.selection_changed, timeout=100):  # q5 moved to position 0
        queue.set_queue([Q[5], Q[0], {"item_type": "plan", "name": "count"}], None)
    assert resets and queue.selected_uids() == ["q5"] and queue.selected_queue_rows() == (0,)


def test_selected_queue_rows_exclude_running_row(queue: QueueView) -> None:
    running = plan("run", name="grid_scan")
    queue.set_queue(Q[:3], running)
    queue.table.selectAll()
    assert queue.selected_queue_rows() == (0, 1, 2)
    assert queue.selected_uids() == ["q0", "q1", "q2"]
    assert [i["item_uid"] for i in queue.selected_items()] == ["q0", "q1", "q2"]
    assert queue.selected_items(include_running=True)[0]["item_uid"] == "run"
    assert queue.title.text() == "Queue (3 items)"
    queue.select_uids(["run"])
    assert queue.selected_queue_rows() == () and queue.selected_uids() == []
    assert queue.copy_selection() == 1
    assert parse_clipboard_items(QApplication.clipboard().text())[0]["name"] == "grid_scan"


def test_context_menu_contains_exactly_the_given_actions(queue: QueueView) -> None:
    execute, edit, remove = (QAction(t, queue) for t in ("Execute now", "Edit", "Remove"))
    queue.set_context_actions([execute, edit, None, remove])
    acts = queue.context_menu().actions()
    assert [a.text() if not a.isSeparator() else "-" for a in acts] == [
        "Execute now", "Edit", "-", "Remove"]  # fmt: skip
    assert acts[0] is execute and remove in queue.table.actions()
    queue.set_context_actions([edit])
    assert queue.context_menu().actions() == [edit] and remove not in queue.table.actions()


def test_drop_re_emits_move_requested_and_rows_stay(queue: QueueView, qtbot: QtBot) -> None:
    queue.set_queue(Q, None)
    model = queue.model
    mime = model.mimeData([model.index(1, 0), model.index(3, 0)])
    with qtbot.waitSignal(queue.move_requested, timeout=100) as blocker:
        assert model.dropMimeData(mime, Qt.MoveAction, 5, 0, QModelIndex())
    assert blocker.args == [["q1", "q3"], "q5", "q4"]
    assert [model.uid_at(r) for r in range(6)] == [q["item_uid"] for q in Q]  # server decides


def test_edit_requested_on_double_click_and_enter(queue: QueueView, qtbot: QtBot) -> None:
    queue.set_queue(Q[:3], plan("run"))
    table = queue.table
    got: list[dict] = []
    queue.edit_requested.connect(got.append)

    def double_click(row: int) -> None:  # Qt ignores a double-click without the press before it
        pos = table.visualRect(queue.model.index(row, 2)).center()
        qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=pos)
        qtbot.mouseDClick(table.viewport(), Qt.LeftButton, pos=pos)

    double_click(2)
    assert [g["item_uid"] for g in got] == ["q1"]
    table.setCurrentIndex(queue.model.index(3, 0))
    qtbot.keyClick(table, Qt.Key_Return)
    assert [g["item_uid"] for g in got] == ["q1", "q2"]
    table.setCurrentIndex(queue.model.index(0, 0))  # the running row is not editable
    qtbot.keyClick(table, Qt.Key_Return)
    qtbot.mouseDClick(
        table.viewport(), Qt.LeftButton, pos=table.visualRect(table.currentIndex()).center()
    )
    assert len(got) == 2


def test_mode_badges_and_scroll_anchor(queue: QueueView) -> None:
    queue.set_modes(loop=True, ignore_failures=False, autostart=True, stop_pending=False)
    shown = [k for k, b in queue._badges.items() if b.isVisible()]
    assert shown == ["loop", "autostart"]
    queue.set_modes(False, True, False, True)
    assert [k for k, b in queue._badges.items() if b.isVisible()] == [
        "ignore_failures",
        "stop_pending",
    ]
    many = [plan(f"m{i}") for i in range(300)]
    queue.set_queue(many, None)
    queue.table.updateGeometries()  # what the event loop would do before the operator scrolls
    queue.table.scrollTo(queue.model.index(150, 0), queue.table.PositionAtTop)
    top = queue.model.uid_at(queue.table.rowAt(1))
    queue.set_queue([plan(f"x{i}") for i in range(7)] + many, None)
    assert queue.model.uid_at(queue.table.rowAt(1)) == top
    queue.table.scrollToTop()  # at the top, new items at the front stay visible
    queue.set_queue([plan("front"), *many], None)
    assert queue.model.uid_at(queue.table.rowAt(1)) == "front"


# -- history view ---------------------------------------------------------------------------------
def history_items() -> list[dict]:
    return [
        hist("h0", 0, kwargs={"num": 10}),
        hist("h1", 1, "failed", "ValueError: motor sample_x is outside its limits: 12.5",
             TRACEBACK, name="grid_scan_checked", args=["det1", "sample_x", -5, 12.5, 20]),
        hist("h2", 2, "stopped", "Plan was stopped by the operator (re_stop)", name="scan",
             args=[["det1"], "motor", 0, 10, 11], user="bob"),
        hist("h3", 3, "aborted", "RE was aborted", name="rel_scan",
             args=[["det2"], "motor", -1, 1, 5]),
        hist("h4", 4, "completed", name="mv", args=["motor", 3.0], kwargs={}),
        hist("h5", 5, "unknown_status", name="count"),
    ]  # fmt: skip


@pytest.fixture
def history(qtbot: QtBot) -> HistoryView:
    view = HistoryView()
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    qtbot.waitExposed(view)
    return view


def shown_uids(view: HistoryView) -> list[str]:
    p = view.proxy
    return [p.index(r, 0).data(UID_ROLE) for r in range(p.rowCount())]


def test_history_filter_by_text_and_status(history: HistoryView) -> None:
    history.set_history(history_items())
    cases = [("GRID", ["h1"]), ("sample_x", ["h1"]), ("bob", ["h2"]), ("aborted", ["h3"]),
             ("num=10", ["h0"]), ("", [f"h{i}" for i in range(6)])]  # fmt: skip
    for text, expected in cases:
        history.filter_edit.setText(text)
        history.apply_filter()
        assert shown_uids(history) == expected, text
    history.filter_edit.setText("")
    for status, expected in [("failed", ["h1"]), ("completed", ["h0", "h4"]), ("other", ["h5"])]:
        history.status_combo.setCurrentText(status)
        assert shown_uids(history) == expected
    history.status_combo.setCurrentText("All")
    history.filter_edit.setText("mv")
    history.apply_filter()
    assert shown_uids(history) == ["h4"] and history.count_label.text() == "1 of 6 shown"


def test_filtering_10000_rows_does_not_touch_the_source(history: HistoryView, qtbot: QtBot) -> None:
    items = [hist(f"u{i}", i, "failed" if i % 97 == 0 else "completed", name=f"plan{i % 50}")
             for i in range(10_000)]  # fmt: skip
    history.set_history(items)
    events: list[str] = []
    for name in ("modelReset", "rowsInserted", "rowsRemoved", "dataChanged"):
        getattr(history.model, name).connect(lambda *a, n=name: events.append(n))
    t0 = time.perf_counter()
    history.filter_edit.setText("plan7")  # debounced: nothing happens per keystroke
    assert history.proxy.rowCount() == 10_000
    qtbot.waitUntil(lambda: history.proxy.rowCount() == 200, timeout=2000)
    history.status_combo.setCurrentText("failed")
    elapsed = time.perf_counter() - t0
    assert events == [] and elapsed < 2.0
    p = history.proxy
    rows = [p.mapToSource(p.index(r, 0)).row() for r in range(p.rowCount())]
    assert rows and {history.model.exit_status_at(r) for r in rows} == {"failed"}


def test_no_filter_asks_the_model_nothing_per_row(history: HistoryView) -> None:
    """With no filter, Qt accepts rows without calling Python (a 100k first load saved ~0.25 s);
    with one, each row's search value is read (and rows inserted later are filtered too)."""
    calls = []
    real = type(history.model).data

    def counting(model, index, role=Qt.DisplayRole):
        if role == SEARCH_ROLE:
            calls.append(index.row())
        return real(model, index, role)

    type(history.model).data = counting
    try:
        history.set_history([hist(f"u{i}", i, name=f"plan{i % 10}") for i in range(2000)])
        assert history.proxy.rowCount() == 2000 and calls == []
        history.filter_edit.setText("plan3")
        history.apply_filter()
        assert history.proxy.rowCount() == 200 and len(calls) >= 2000
        history.set_history([hist(f"u{i}", i, name=f"plan{i % 10}") for i in range(2001)])
        assert history.proxy.rowCount() == 200  # u2000 is plan0
        history.filter_edit.setText("")
        history.status_combo.setCurrentText("All")
        history.apply_filter()
        calls.clear()
        history.set_history([hist(f"u{i}", i, name=f"plan{i % 10}") for i in range(2100)])
        assert history.proxy.rowCount() == 2100 and calls == []
    finally:
        type(history.model).data = real


@pytest.mark.parametrize("text", ["a+b", "(x", "[", "\\", "num=1.5", "*", "?", "^$", "ü", "ß"])
def test_filter_text_is_literal(history: HistoryView, text: str) -> None:
    """Regex metacharacters typed into the filter are matched literally."""
    history.set_history([hist("lit", 1, name="plan", msg=f"x {text} y"), hist("other", 2)])
    history.filter_edit.setText(text)
    history.apply_filter()
    assert shown_uids(history) == ["lit"]


def test_history_selection_autoscroll_and_requeue(history: HistoryView, qtbot: QtBot) -> None:
    many = [hist(f"u{i}", i) for i in range(100)]
    history.set_history(many)
    bar = history.table.verticalScrollBar()
    assert bar.value() == bar.maximum() > 0  # newest visible at first load
    history.set_history([*many, hist("u100", 100)])
    assert bar.value() == bar.maximum()  # followed the newest row
    history.table.selectRow(history.proxy.rowCount() - 2)
    history.table.scrollToTop()
    history.set_history([*many, hist("u100", 100), hist("u101", 101)])
    assert bar.value() == 0  # scrolled up: left alone
    assert [i["item_uid"] for i in history.selected_items()] == ["u99"]
    assert history.selected_count() == 1 and history.current_item()["item_uid"] == "u99"
    with qtbot.waitSignal(history.requeue_requested, timeout=100) as blocker:
        history.request_requeue()
    assert blocker.args[0] == [
        {k: v for k, v in many[99].items() if k not in ("item_uid", "result")}
    ]
    assert history.copy_selection() == 1
    assert parse_clipboard_items(QApplication.clipboard().text())[0]["name"] == "count"
    act = QAction("Re-queue", history)
    history.set_context_actions([act, None])
    assert [a.isSeparator() for a in history.context_menu().actions()] == [False, True]


def test_detail_shows_traceback_only_when_there_is_one(history: HistoryView) -> None:
    history.set_history(history_items())
    detail = history.detail
    history.table.selectRow(1)
    assert detail.name_label.text() == "grid_scan_checked"
    assert detail.fields["Status"].text() == "failed"
    assert role_text("alarm").name() in detail.fields["Status"].styleSheet()  # theme's red
    lines = detail.traceback_text.fontMetrics().lineSpacing()
    assert detail.traceback_text.minimumHeight() >= 6 * lines  # never squeezed to a few lines
    assert detail.wanted_height() >= 15 * lines  # the view grows the pane for ~15 lines
    assert detail.traceback_text.isVisible() and "ValueError" in detail.traceback_text.toPlainText()
    assert '"sample_x"' in detail.params_text.toPlainText()
    history.table.selectRow(0)
    assert not detail.traceback_text.isVisible() and not detail.traceback_label.isVisible()
    assert detail.fields["Run UIDs"].text() == "run-h0" and detail.fields["Scan IDs"].text() == "0"
    detail.show_item({**plan("x", meta={"sample": "Si"}), "result": {"exit_status": "halted"}})
    assert detail.fields["Metadata"].isVisible() and "Si" in detail.fields["Metadata"].text()
    detail.show_item(None)
    assert detail.item is None


def _cell_pixel(table, row: int, column: int):
    """Colour of a cell near its left edge (clear of the text), as painted."""
    rect = table.visualRect(table.model().index(row, column))
    image = table.viewport().grab().toImage()
    return image.pixelColor(rect.left() + 2, rect.center().y())


def test_selected_failed_history_row_keeps_its_red(history: HistoryView, qtbot: QtBot) -> None:
    history.set_history(history_items())
    history.table.selectRow(1)  # the failed one
    qtbot.wait(10)
    alarm_bg, _ = role_colours("alarm")
    assert history.proxy.index(1, 0).data(MARK_ROLE) == "alarm"
    assert _cell_pixel(history.table, 1, 0) == alarm_bg  # red, not the selection blue
    assert _cell_pixel(history.table, 1, 1) != alarm_bg  # the rest of the row: normal selection
    history.table.selectRow(0)
    qtbot.wait(10)
    assert _cell_pixel(history.table, 1, 0) != alarm_bg  # unselected: the see-through tint


def test_queue_marks_the_item_that_failed(queue: QueueView, qtbot: QtBot) -> None:
    model = queue.model
    model.set_queue(Q, None)
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, *_: changed.append((a.row(), b.row())))
    model.set_failed_uid("q2")
    assert changed == [(2, 2)]  # only the affected row is repainted
    assert model.index(2, model.MARKER).data() == "✖" and model.index(1, model.MARKER).data() == ""
    assert model.index(2, model.NAME).data(Qt.ToolTipRole) == FAILED_TIP
    assert FAILED_TIP in model.index(2, model.MARKER).data(Qt.ToolTipRole)
    assert model.index(2, model.NAME).data(Qt.ForegroundRole).color() == role_text("alarm")
    changed.clear()
    model.set_failed_uid("q4")
    assert sorted(changed) == [(2, 2), (4, 4)] and model.index(2, model.MARKER).data() == ""
    model.set_failed_uid("q4")
    assert len(changed) == 2  # no change: no repaint
    queue.table.setItemDelegate(MarkedRowDelegate(queue.table))  # QueueView may install it too
    queue.table.selectRow(4)
    qtbot.wait(10)
    assert _cell_pixel(queue.table, 4, model.NAME) == role_colours("alarm")[0]
    model.set_queue(Q[5:], Q[4])  # it runs again: the running row is not "the item that failed"
    assert model.is_running_row(0) and not model.is_failed_row(0)
    model.set_failed_uid(None)
    assert model.failed_uid() is None


def test_detail_grows_for_a_traceback_but_keeps_table_rows(history: HistoryView,
                                                           qtbot: QtBot) -> None:  # fmt: skip
    history.resize(1000, 700)
    history.set_history(history_items())
    history.table.selectRow(0)  # no traceback: the usual 3:2 split
    qtbot.wait(10)
    before = history.splitter.sizes()[1]
    history.table.selectRow(1)  # the failed one
    qtbot.wait(10)
    table_h, detail_h = history.splitter.sizes()
    assert detail_h > before
    tb = history.detail.traceback_text
    assert tb.height() >= 14 * tb.fontMetrics().lineSpacing()  # ~15 lines when there is room
    rows = history.table.verticalHeader().defaultSectionSize()
    assert table_h >= history.KEEP_TABLE_ROWS * rows  # the table still shows a few rows
    history.table.selectRow(0)
    qtbot.wait(10)
    assert history.splitter.sizes()[1] == detail_h  # never shrunk behind the operator's back


def test_export_round_trip_json_and_yaml(tmp_path: Path) -> None:
    items = history_items()
    export_items(items, tmp_path / "h.json")
    assert json.loads((tmp_path / "h.json").read_text("utf-8")) == items
    yaml = pytest.importorskip("yaml")
    for name in ("h.yaml", "h.YML"):
        export_items(items, tmp_path / name)
        assert yaml.safe_load((tmp_path / name).read_text("utf-8")) == items
    assert "traceback: |\n" in (tmp_path / "h.yaml").read_text("utf-8")  # readable block
    with pytest.raises(ValueError, match="use .json, .yaml or .yml"):
        export_items(items, tmp_path / "h.txt")


YAML_TEXT = st.text(alphabet=st.sampled_from(list(" \t\n\r:#-|>'\"{}[]&*!yYnN0.e\x85\u2028\ufeff")))
YAML_DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | YAML_TEXT,
    lambda c: (
        st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5) | YAML_TEXT, c, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAML_DATA)
def test_yaml_emitter_round_trips_with_pyyaml(data) -> None:
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(to_yaml(data)) == data


def test_export_dialog_writes_selection_or_shown_rows(
    history: HistoryView, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history.set_history(history_items())
    target = tmp_path / "out"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "YAML (*.yaml *.yml)")
    )
    history.status_combo.setCurrentText("completed")
    assert history.export_dialog() == tmp_path / "out.yaml"
    assert (tmp_path / "out.yaml").read_text("utf-8").count("- item_type: plan") == 2
    history.table.selectRow(0)
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "x.json"), "")
    )
    history.export_dialog()
    assert [i["item_uid"] for i in json.loads((tmp_path / "x.json").read_text())] == ["h0"]
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    bad = tmp_path / "missing-dir" / "x.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(bad), ""))
    assert history.export_dialog() is None
    assert warnings and "Could not write" in warnings[0] and "No such file" in warnings[0]


# -- screenshots ----------------------------------------------------------------------------------
def test_screenshots(qtbot: QtBot) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    queue = QueueView()
    qtbot.addWidget(queue)
    queue.resize(960, 340)
    items = [
        plan("a1", "count", [["det1", "det2"]], {"num": 10, "delay": 0.5}),
        plan("a2", "scan", [["det1"], "motor", -1, 1, 21], {}, user="bob", user_group="admin"),
        plan("a3", "rel_grid_scan", [["det4"], "motor1", -2, 2, 11, "motor2", -1, 1, 5],
             {"snake_axes": True}),
        {"item_type": "instruction", "name": "queue_stop", "item_uid": "a4", "user": "alice",
         "user_group": "primary"},
        plan("a5", "mv", ["sample_x", 12.5], {}),
        plan("a6", "count", [["det1"]],
             {"num": 100, "md": {"sample": "Fe2O3 pellet", "operator": "A. Lee"}}),
        plan("a7", "list_scan", [["det2"], "motor", [0.1, 0.2, 0.35, 0.5, 0.8]], {}),
        plan("a8", "adaptive_scan", [["det1"], "det1", "motor", 0, 5, 0.1, 1.0, 0.05, True], {}),
    ]  # fmt: skip
    running = plan("r0", "grid_scan", [["det1", "det2"], "motor1", 0, 10, 11, "motor2", 0, 5, 6],
                   {}, properties={"immediate_execution": False, "time_start": T0})  # fmt: skip
    queue.set_queue(items, running)
    queue.set_modes(loop=False, ignore_failures=True, autostart=True, stop_pending=True)
    queue.select_uids(["a2", "a3"])
    queue.show()
    qtbot.waitExposed(queue)
    qtbot.wait(50)
    assert queue.grab().save(str(SCREENSHOTS / "queue_view.png"))

    history = HistoryView()
    qtbot.addWidget(history)
    history.resize(1100, 640)
    history.set_history(history_items()[:5])
    history.show()
    qtbot.waitExposed(history)
    history.table.selectRow(1)
    qtbot.wait(50)  # let posted layout requests (height-for-width of wrapped labels) run
    assert history.detail.traceback_text.isVisible()
    assert history.grab().save(str(SCREENSHOTS / "history_view.png"))
