"""ItemEditor (offscreen, no server): forms for every sim plan, JSON sync, banners, keyboard,
state, fuzzing. Real-server round trips are in ``test_editor_server.py``."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QDockWidget, QMainWindow
from pytestqt.qtbot import QtBot

from qs_gui.core.editor_state import START_HINT
from qs_gui.core.schema import values_from_item
from qs_gui.ui.editor import ItemEditor
from qs_gui.ui.editor.fields import FloatField, IntField
from qs_gui.ui.editor.lists import DeviceListField
from qs_gui.ui.theme import css, role_text
from tests.core.schema_support import (
    sim_devices,
    sim_plans,
    sim_specs,
)

from .editor_support import (
    SCREENSHOTS,
    Answers,
    actions,
    make_editor,
    type_into,
)

PLAN_NAMES = sorted(sim_plans())
COUNT = {"item_type": "plan", "name": "count", "args": [["det1", "det2"]],
         "kwargs": {"num": 5, "delay": 0.5}}  # fmt: skip


@pytest.fixture
def editor(qtbot: QtBot) -> ItemEditor:
    return make_editor(qtbot)


def _shown(widget: Any) -> bool:
    return not widget.isHidden()


# ----- forms -------------------------------------------------------------------------------
def test_every_sim_plan_builds_a_form(editor: ItemEditor, qtbot: QtBot) -> None:
    slowest = 0.0
    for name in PLAN_NAMES:
        t0 = time.perf_counter()
        editor.picker.choose(name)
        slowest = max(slowest, time.perf_counter() - t0)
        form = editor.form
        assert form is not None and editor.spec == sim_specs()[name]
        assert list(form.rows) == [p.name for p in sim_specs()[name].parameters]
        error = editor.current_error()
        required = [p.name for p in sim_specs()[name].parameters if p.required]
        assert (error is None) == (not required), (name, error)
        if required:
            assert error.startswith(f"{required[0]}: "), (name, error)
            label = form.rows[required[0]].label
            assert "<b>" in label.text() and "*" in label.text()
        for row in form.rows.values():
            assert row.label.toolTip().startswith(f"<b>{row.p.name}</b>")
    print(f"slowest form: {slowest * 1000:.0f} ms")
    assert slowest < 0.5


def test_typed_widgets_for_count(editor: ItemEditor) -> None:
    editor.picker.choose("count")
    rows = editor.form.rows
    assert isinstance(rows["detectors"].typed, DeviceListField)
    assert isinstance(rows["num"].typed, IntField) and _shown(rows["num"].none_button)
    assert rows["delay"].typed is rows["delay"].literal  # float | list of floats: a literal
    detectors = rows["detectors"].typed
    assert "det1" in detectors._allowed and "motor1" in detectors._allowed  # readable
    assert "flyer1" not in detectors._allowed and "det1.val" in detectors._allowed
    assert detectors.list.findItems("det1.val", Qt.MatchExactly)[0].isHidden()  # components
    detectors.components.setChecked(True)
    assert not detectors.list.findItems("det1.val", Qt.MatchExactly)[0].isHidden()
    editor.picker.choose("fly")
    flyers = editor.form.rows["flyers"].typed
    assert sorted(flyers._allowed) == ["custom_test_flyer", "flyer1", "flyer2",
                                       "new_trivial_flyer", "trivial_flyer"]


def test_defaults_shown_not_sent_and_set_box(editor: ItemEditor, qtbot: QtBot) -> None:
    editor.picker.choose("count")
    rows = editor.form.rows
    rows["detectors"].typed.check("det1")
    num = rows["num"]
    assert not num.set_box.isChecked() and num.typed.spin.lineEdit().text() == "1"
    assert num.typed.spin.lineEdit().font().italic()  # greyed italics: only the default
    assert editor.current_item() == {"item_type": "plan", "name": "count", "args": [["det1"]]}
    type_into(qtbot, num.typed, "7")
    assert num.set_box.isChecked() and not num.typed.spin.lineEdit().font().italic()
    assert editor.current_item()["kwargs"] == {"num": 7}
    qtbot.mouseClick(num.set_box, Qt.LeftButton)  # untick: back to the default, not sent
    assert num.typed.spin.lineEdit().text() == "1" and "kwargs" not in editor.current_item()
    qtbot.mouseClick(num.none_button, Qt.LeftButton)
    assert editor.current_item()["kwargs"] == {"num": None}
    md = rows["md"]  # default None on display: typing a value overrides it directly
    assert md.none_button.isChecked() and md.typed.isEnabled() and not md.set_box.isChecked()
    qtbot.mouseClick(md.typed.add_button, Qt.LeftButton)
    key, value, _ = md.typed.rows[0]
    qtbot.keyClicks(key, "sample")
    qtbot.keyClicks(value.edit, "'Si'")
    assert md.set_box.isChecked() and not md.none_button.isChecked()
    assert editor.current_item()["kwargs"] == {"num": None, "md": {"sample": "Si"}}


def test_float_accepts_scientific_and_min_max(editor: ItemEditor, qtbot: QtBot) -> None:
    editor.picker.choose("move_then_count")
    rows = editor.form.rows
    rows["motors"].typed.check("motor2")
    positions = rows["positions"]
    qtbot.mouseClick(positions.mode_button, Qt.LeftButton)  # default None: literal -> rows
    assert not positions.literal_mode
    qtbot.mouseClick(positions.typed.add_button, Qt.LeftButton)
    cell = positions.typed.rows[0]
    assert isinstance(cell, FloatField) and cell.spin.maximum() == 10
    type_into(qtbot, cell, "2.5e-1")
    assert editor.current_item()["kwargs"] == {"positions": [0.25]}
    type_into(qtbot, cell, "12")
    assert editor.current_error() == "positions: item 1: must be a number between -10 and 10"
    assert editor.current_item() is None
    assert positions.error.text() == editor.current_error() and _shown(positions.error)


def test_int_refuses_group_separators(editor: ItemEditor, qtbot: QtBot) -> None:
    """QSpinBox takes "1,2" as acceptable in the C locale (group separator); found by the
    typing fuzz test: it must be an inline error, never an exception or a sent value."""
    editor.picker.choose("count")
    editor.form.rows["detectors"].typed.check("det1")
    num = editor.form.rows["num"].typed
    assert isinstance(num, IntField)
    for text in ("1,2", "1 000", "0x10", "3.0"):
        num.spin.lineEdit().setText(text)
        num.spin.lineEdit().textEdited.emit(text)
        assert editor.current_item() is None, text
        assert editor.current_error().startswith("num: must be an integer"), (
            text, editor.current_error())
    type_into(qtbot, num, "12")
    assert editor.current_item()["kwargs"]["num"] == 12


def test_unknown_loaded_values_fall_back_to_literals(editor: ItemEditor) -> None:
    item = {"item_type": "plan", "name": "count", "args": [["det1", "nope"], 2.5],
            "kwargs": {"delay": [1, 2], "zzz": 1}}  # fmt: skip
    editor.load_item(item)
    rows = editor.form.rows
    assert rows["num"].literal_mode and rows["num"].literal.state() == "2.5"
    assert rows["detectors"].typed.value() == ["det1", "nope"]  # shown in red, not dropped
    assert _shown(editor.form.extras["**unknown keywords"])
    assert editor.current_error() == "detectors: unknown device 'nope'"
    spec = sim_specs()["count"]  # same values; num moves to kwargs (optional: by keyword)
    assert values_from_item(spec, editor.draft_item()) == values_from_item(spec, item)


# ----- JSON view ---------------------------------------------------------------------------
def test_json_view_two_way_sync(editor: ItemEditor, qtbot: QtBot) -> None:
    editor.picker.choose("count")
    editor.form.rows["detectors"].typed.check("det2")
    editor.current_item()
    assert json.loads(editor.json.text()) == {"item_type": "plan", "name": "count",
                                              "args": [["det2"]]}  # fmt: skip
    editor.tabs.setCurrentWidget(editor.json)
    editor.json.edit.setPlainText('{"item_type": "plan", "name": "count", "args": [["det1"]],'
                                  ' "kwargs": {"num": 4}, "meta": {"sample": "Si"}}')
    item = editor.current_item()  # flushes the debounced JSON parse
    assert item["kwargs"] == {"num": 4} and item["meta"] == {"sample": "Si"}
    assert editor.form.rows["num"].typed.spin.lineEdit().text() == "4"
    assert editor.form.rows["detectors"].typed.value() == ["det1"]
    assert editor.meta.value() == {"sample": "Si"} and "Metadata (1)" in editor.tabs.tabText(1)
    editor.json.edit.setPlainText('{"item_type": "plan", "name": "count", "args": [["det1"]')
    assert editor.current_item() is None
    assert editor.current_error().startswith("JSON: line 1, column")
    assert _shown(editor.json.error) and editor.tabs.tabText(2) == "JSON ⚠"
    editor.form.rows["detectors"].typed.check("det3")  # a form edit wins: JSON rewritten
    assert editor.current_error() is None and not _shown(editor.json.error)
    assert json.loads(editor.json.text())["args"] == [["det1", "det3"]]


def test_json_switches_plan_and_refuses_bad_items(editor: ItemEditor) -> None:
    editor.picker.choose("count")
    editor.json.edit.setPlainText('{"item_type": "plan", "name": "mv", "args": ["motor", 1]}')
    assert editor.current_item() == {"item_type": "plan", "name": "mv", "args": ["motor", 1]}
    assert editor.picker.current() == ("plan", "mv") and editor.form.spec.name == "mv"
    for text, error in (
        ('{"item_type": "plan", "name": "count", "item_uid": "x"}',
         "JSON: unexpected key 'item_uid'; an item has only item_type, name, args, kwargs, meta"),
        ("[1]", 'JSON: an item is a JSON object: {"item_type": …, "name": …}'),
        ('{"item_type": "plan", "name": "count", "args": 3}', "JSON: args must be a list"),
        ('{"item_type": "plan", "name": "cuont"}',
         "name: 'cuont' is not an allowed plan (did you mean 'count'?)"),
    ):
        editor.json.edit.setPlainText(text)
        assert editor.current_item() is None and editor.current_error() == error


# ----- server feedback, banners, dirty ------------------------------------------------------
def test_server_error_shown_and_cleared(editor: ItemEditor, qtbot: QtBot) -> None:
    editor.load_item(COUNT)
    msg = ("Failed to add an item: Plan validation failed: 1 validation error for Model\nnum\n"
           "  Input should be a valid integer [type=int_parsing]\n")
    editor.show_server_error(msg)
    assert _shown(editor.server_error) and editor.server_error.message() == msg
    assert editor.form.rows["num"].error.text() == (
        "num: server says: Input should be a valid integer")
    type_into(qtbot, editor.form.rows["num"].typed, "6")
    editor.current_item()
    assert not _shown(editor.server_error) and not _shown(editor.form.rows["num"].error)


def test_editing_banner_changed_and_vanished(editor: ItemEditor, qtbot: QtBot) -> None:
    acts = actions(editor)
    editor.set_actions(acts["execute_now"], acts["add"], acts["save"], acts["reset"])
    uid = "5c004697-b476-4f13-93b7-2778fa653c59"
    editor.load_item({**COUNT, "item_uid": uid, "user": "x"}, editing_uid=uid)
    assert editor.banner.text() == "Editing queue item <b>count</b> (5c004697)"
    assert _shown(editor.save_button) and _shown(editor.save_as_new_button)
    editor.notify_queue([{**COUNT, "item_uid": uid, "user": "y"}])  # same item
    assert editor.edit_state == "editing" and not _shown(editor.banner.reload_button)
    changed = {**COUNT, "kwargs": {"num": 9}, "item_uid": uid}
    editor.notify_queue([changed])
    assert editor.edit_state == "changed" and _shown(editor.banner.reload_button)
    assert "changed on the server since you loaded it" in editor.banner.text()
    type_into(qtbot, editor.form.rows["num"].typed, "3")  # dirty: Reload asks first
    editor.confirm = answers = Answers(False)
    qtbot.mouseClick(editor.banner.reload_button, Qt.LeftButton)
    assert answers.asked and editor.current_item()["kwargs"]["num"] == 3
    answers.reply = True
    qtbot.mouseClick(editor.banner.reload_button, Qt.LeftButton)
    assert editor.current_item()["kwargs"] == {"num": 9} and editor.edit_state == "editing"
    editor.notify_queue([])
    assert editor.edit_state == "vanished" and not _shown(editor.save_button)
    assert ("This item is no longer in the queue; Save is unavailable — use Add to queue or "
            "Save as new") in editor.banner.text()
    with qtbot.waitSignal(editor.save_as_new_requested) as sig:
        qtbot.mouseClick(editor.save_as_new_button, Qt.LeftButton)
    assert sig.args[0] == {**COUNT, "kwargs": {"num": 9}}
    editor.clear_editing()
    assert not _shown(editor.banner) and not _shown(editor.save_button)


def test_own_save_coming_back_is_not_a_conflict(editor: ItemEditor, qtbot: QtBot) -> None:
    editor.load_item({**COUNT, "item_uid": "u1"}, editing_uid="u1")
    type_into(qtbot, editor.form.rows["num"].typed, "8")
    saved = editor.current_item()
    editor.notify_queue([{**saved, "item_uid": "u1"}])
    assert editor.edit_state == "editing"


def test_switching_plans_with_unsaved_edits_asks(editor: ItemEditor, qtbot: QtBot) -> None:
    editor.picker.choose("count")
    editor.picker.choose("scan")  # nothing typed: no question
    assert editor.confirm.asked == [] and editor.picker.current() == ("plan", "scan")
    editor.form.rows["detectors"].typed.check("det1")
    editor.confirm = answers = Answers(False)
    editor.picker.choose("count")
    assert len(answers.asked) == 1 and editor.picker.current() == ("plan", "scan")
    assert editor.picker.name_combo.currentText() == "scan"
    assert editor.form.rows["detectors"].typed.value() == ["det1"]
    answers.reply = True
    editor.picker.choose("count")
    assert editor.picker.current() == ("plan", "count") and editor.form.spec.name == "count"


def test_picker_search_commit_and_revert(editor: ItemEditor, qtbot: QtBot) -> None:
    editor.picker.choose("count")
    line = editor.picker.name_combo.lineEdit()
    line.selectAll()
    qtbot.keyClicks(line, "scan_")
    editor.picker._focus_left()  # focus leaves with a half-typed search: put back
    assert line.text() == "count" and editor.picker.current() == ("plan", "count")
    line.selectAll()
    qtbot.keyClicks(line, "grid_scan")
    qtbot.keyClick(line, Qt.Key_Return)
    assert editor.picker.current() == ("plan", "grid_scan") and editor.spec.name == "grid_scan"
    line.selectAll()
    qtbot.keyClicks(line, "nope")
    qtbot.keyClick(line, Qt.Key_Return)  # Enter on an unknown name: said so, no form
    assert editor.form is None
    assert editor.current_error() == "name: 'nope' is not an allowed plan"
    tips = {editor.picker.name_combo.itemText(i): editor.picker.name_combo.itemData(
        i, Qt.ToolTipRole) for i in range(editor.picker.name_combo.count())}  # fmt: skip
    assert tips["count"] == "Take one or more readings from detectors."


def test_empty_editor_shows_a_hint_not_an_error(editor: ItemEditor, qtbot: QtBot) -> None:
    """No name yet is where every item starts: a muted hint; the gates still get the reason."""
    red = f"color: {css(role_text('alarm'))};"

    def shown() -> tuple[str, bool]:
        editor.current_error()  # runs the debounced validation
        return editor.problem.text(), editor.problem.styleSheet() == red

    assert shown() == (START_HINT, False) and _shown(editor.problem)
    assert css(role_text("alarm")) not in editor.problem.styleSheet().lower()
    assert editor.current_error() == "name: choose a plan" and editor.current_item() is None
    editor.picker.choose("nope")  # a real error after interaction: red
    assert shown() == ("name: 'nope' is not an allowed plan", True)
    editor.picker.choose("count")
    assert shown()[0].startswith("detectors: ") and shown()[1]
    editor.picker.choose("")  # back to no plan: the hint again
    assert shown() == (START_HINT, False)
    assert editor.current_error() == "name: choose a plan"
    editor.json.edit.setPlainText("{not json")  # a JSON error with no name stays red
    assert shown()[0].startswith("JSON: ") and shown()[1]
    bare = make_editor(qtbot, plans=False)  # before the plans arrive: no error text either
    assert bare.current_error() == "name: choose a plan" and bare.problem.text() == START_HINT
    assert bare.picker.description.isHidden()


def test_dirty_reset_and_instruction(editor: ItemEditor, qtbot: QtBot) -> None:
    editor.load_item(COUNT)
    assert not editor.is_dirty()
    type_into(qtbot, editor.form.rows["num"].typed, "12")
    assert editor.is_dirty()
    editor.reset()
    assert not editor.is_dirty() and editor.current_item() == COUNT
    editor.picker.type_combo.setCurrentIndex(1)
    editor.picker.type_combo.activated.emit(1)
    assert editor.current_item() == {"item_type": "instruction", "name": "queue_stop"}
    assert editor.form.empty.text() == "Instructions take no parameters."
    assert not editor.tabs.isTabEnabled(1)


def test_metadata_rows_and_literal(editor: ItemEditor, qtbot: QtBot) -> None:
    editor.load_item(COUNT)
    meta = editor.meta
    editor.tabs.setCurrentWidget(meta)
    key, value, _ = meta.rows.add_row()
    qtbot.keyClicks(key, "sample")
    qtbot.keyClicks(value.edit, "'Si'")
    assert editor.current_item()["meta"] == {"sample": "Si"}
    value.edit.clear()
    qtbot.keyClicks(value.edit, "[1,")
    assert editor.current_item() is None
    assert editor.current_error().startswith("meta: 'sample': line 1")
    assert not meta.error.isHidden()
    editor.load_item({**COUNT, "meta": [{"a": 1}, {"b": 2}]})  # a list: shown as a literal
    assert meta.mode.isChecked() and editor.current_item()["meta"] == [{"a": 1}, {"b": 2}]
    qtbot.mouseClick(meta.mode, Qt.LeftButton)  # rows cannot show a list: stays a literal
    assert meta.mode.isChecked() and "only be edited as a literal" in meta.error.text()
    editor.load_item({**COUNT, "meta": {"x": [1, 2]}})
    qtbot.mouseClick(meta.mode, Qt.LeftButton)
    assert meta.literal.state() == '{"x": [1, 2]}'
    qtbot.mouseClick(meta.mode, Qt.LeftButton)
    assert not meta.mode.isChecked() and editor.current_item()["meta"] == {"x": [1, 2]}


# ----- keyboard ----------------------------------------------------------------------------
@pytest.mark.parametrize("floating", [False, True])
def test_shortcuts_work_inside_the_form(qtbot: QtBot, floating: bool) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    acts = actions(window)
    for action in acts.values():
        window.menuBar().addMenu("Queue").addAction(action)  # as the main window does
    editor = ItemEditor()
    editor.set_plans(sim_plans())
    editor.set_devices(sim_devices())
    dock = QDockWidget("Item", window)
    dock.setWidget(editor)
    window.addDockWidget(Qt.LeftDockWidgetArea, dock)
    editor.set_actions(acts["execute_now"], acts["add"], acts["save"], acts["reset"])
    window.show()
    dock.setFloating(floating)
    editor.load_item(COUNT)
    spin = editor.form.rows["num"].typed.spin
    target = dock if floating else window
    target.activateWindow()
    qtbot.waitActive(target)
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    fired = []
    acts["execute_now"].triggered.connect(lambda: fired.append("execute"))
    acts["add"].triggered.connect(lambda: fired.append("add"))
    qtbot.keyClick(spin.lineEdit(), Qt.Key_Return, Qt.ControlModifier)
    qtbot.keyClick(spin.lineEdit(), Qt.Key_Return, Qt.ControlModifier | Qt.ShiftModifier)
    editor.json.edit.setFocus()
    qtbot.keyClick(editor.json.edit, Qt.Key_Return, Qt.ControlModifier)
    assert fired == ["execute", "add", "execute"]
    assert "\n" not in editor.json.text().splitlines()[-1]  # Ctrl+Enter typed no newline


# ----- state across reconnects -------------------------------------------------------------
def test_text_state_round_trip_and_plans_refresh(qtbot: QtBot, editor: ItemEditor) -> None:
    editor.load_item({**COUNT, "meta": {"a": 1}}, editing_uid="u1")
    type_into(qtbot, editor.form.rows["num"].typed, "")  # unfinished: empty required number
    state = editor.text_state()
    editor.set_plans(None)
    editor.set_devices(None)
    editor.set_plans(json.loads(json.dumps(sim_plans())))  # same content, new objects
    assert editor.text_state() == state
    other = make_editor(qtbot)
    other.restore_text_state(state)
    assert other.text_state() == state and other.is_dirty() and other.editing_uid == "u1"
    assert other.current_error() == editor.current_error() == "num: enter an integer"
    other.restore_text_state({"name": 3, "form": "junk", "baseline": 5})  # tolerated
    blank = make_editor(qtbot, plans=False)  # before the plan list arrives: JSON mode
    blank.load_item(COUNT)
    assert blank.form is None and blank.current_item() == COUNT
    blank.set_plans(sim_plans())
    assert blank.form is not None and blank.current_item() == COUNT and not blank.is_dirty()


def test_malformed_loaded_item_is_shown_as_json_and_blocked(editor: ItemEditor) -> None:
    bad = {"item_type": "plan", "name": "count", "args": "det1"}
    editor.load_item(bad)
    assert editor.form is None and json.loads(editor.json.text()) == bad
    assert editor.current_item() is None
    assert editor.current_error() == "JSON: args: must be a list"
    editor.json.edit.setPlainText('{"item_type": "plan", "name": "count", "args": [["det1"]]}')
    assert editor.current_item() == {"item_type": "plan", "name": "count", "args": [["det1"]]}
    assert editor.form is not None


def test_changed_plan_schema_keeps_values(editor: ItemEditor) -> None:
    editor.load_item(COUNT)
    plans = json.loads(json.dumps(sim_plans()))
    plans["count"]["parameters"][1]["max"] = "3"  # the server now limits num
    editor.set_plans(plans)
    assert editor.form.rows["num"].literal_mode  # 5 no longer fits the spin box: kept as is
    assert editor.current_error() == "num: 5 is above the maximum 3"
    del plans["count"]
    editor.set_plans(plans)
    assert editor.current_error() == "name: 'count' is not an allowed plan"


# ----- screenshots -------------------------------------------------------------------------
def _shot(editor: ItemEditor, qtbot: QtBot, name: str) -> None:
    qtbot.wait(30)
    SCREENSHOTS.mkdir(exist_ok=True)
    assert editor.grab().save(str(SCREENSHOTS / f"editor_{name}.png"))


def test_screenshots(qtbot: QtBot) -> None:
    editor = make_editor(qtbot, height=760)
    acts = actions(editor)
    editor.set_actions(acts["execute_now"], acts["add"], acts["save"], acts["reset"])
    editor.load_item({**COUNT, "meta": {"sample": "Si"}}, editing_uid="5c004697-b476-4f13")
    _shot(editor, qtbot, "count")
    editor.clear_editing()
    editor.load_item({"item_type": "plan", "name": "scan",
                      "args": [["det1", "det2"], "motor", -1, 1], "kwargs": {"num": 11}})
    _shot(editor, qtbot, "scan")
    editor.load_item({"item_type": "plan", "name": "mv", "args": ["motor1", 2.5],
                      "kwargs": {"timeout": 10}})  # fmt: skip
    _shot(editor, qtbot, "mv")
    editor.load_item({"item_type": "plan", "name": "move_then_count",
                      "args": [["motor2", "motor1"]], "kwargs": {"positions": [12, -3.5]}})
    assert editor.current_error() == "positions: 12 is above the maximum 10"
    _shot(editor, qtbot, "move_then_count")
    editor.load_item({"item_type": "plan", "name": "list_scan",
                      "args": [["det1"], ["motor", [1, 2, 3]]]})  # fmt: skip
    editor.tabs.setCurrentWidget(editor.json)
    editor.show_server_error("Failed to add an item: Plan validation failed: example refusal")
    _shot(editor, qtbot, "list_scan_json")
