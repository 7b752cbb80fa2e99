"""ItemEditor (offscreen, no server): scan-like ``*args`` as labelled motor rows, arity errors
per row, unknown motors as warnings to accept, tab order, plan search ranking, and the editor
being clean after its item was sent. Real-server checks are in ``test_editor_server.py``."""

from __future__ import annotations

import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QApplication, QDockWidget, QMainWindow, QWidget
from pytestqt.qtbot import QtBot

from qs_gui.ui.editor import ItemEditor
from qs_gui.ui.editor.choices import NameField
from qs_gui.ui.editor.fields import FloatField, IntField, LiteralField
from qs_gui.ui.editor.groups import ArgsGroupsField
from qs_gui.ui.editor.picker import rank_names
from tests.core.schema_support import sim_devices, sim_plans

from .editor_support import SCREENSHOTS, Answers, actions, make_editor, type_into

SCAN = {"item_type": "plan", "name": "scan", "args": [["det1"], "motor", -1, 1],
        "kwargs": {"num": 5}}  # fmt: skip


@pytest.fixture
def editor(qtbot: QtBot) -> ItemEditor:
    return make_editor(qtbot)


def args_of(editor: ItemEditor) -> ArgsGroupsField:
    field = editor.form.rows["args"].typed
    assert isinstance(field, ArgsGroupsField)
    return field


def fill(qtbot: QtBot, field: ArgsGroupsField, r: int, *values: str) -> None:
    for cell, text in zip(field.rows[r].cells, values, strict=False):
        type_into(qtbot, cell, text)


def scan_editor(qtbot: QtBot, editor: ItemEditor) -> ArgsGroupsField:
    editor.picker.choose("scan")
    editor.form.rows["detectors"].typed.check("det1")
    type_into(qtbot, editor.form.rows["num"].typed, "5")
    return args_of(editor)


# ----- rows ----------------------------------------------------------------------------------
def test_scan_args_are_labelled_rows(editor: ItemEditor, qtbot: QtBot) -> None:
    field = scan_editor(qtbot, editor)
    assert [h.text() for h in field.headers] == ["<b>Motor</b>", "<b>Start</b>", "<b>Stop</b>"]
    assert len(field.rows) == 1 and field.rows[0].label.text() == "Row 1"
    motor, start, stop = field.rows[0].cells
    assert isinstance(motor, NameField) and isinstance(start, FloatField)
    assert isinstance(stop, FloatField)
    assert "motor" in [motor.combo.itemText(i) for i in range(motor.combo.count())]
    assert "det1" not in [motor.combo.itemText(i) for i in range(motor.combo.count())]
    assert editor.current_error() == "args: add at least one motor (motor, start, stop)"
    fill(qtbot, field, 0, "motor", "-1", "1")
    assert editor.current_item() == SCAN
    qtbot.mouseClick(field.add_button, Qt.LeftButton)
    assert [r.label.text() for r in field.rows] == ["Row 1", "Row 2"]
    assert QApplication.focusWidget() in (field.rows[1].cells[0].combo, None)  # offscreen
    assert editor.current_error() == "args: Row 2 is empty: fill it in or remove it (−)"
    fill(qtbot, field, 1, "motor1", "0", "2.5")
    assert editor.current_item()["args"] == [["det1"], "motor", -1, 1, "motor1", 0, 2.5]
    qtbot.mouseClick(field.rows[0].remove, Qt.LeftButton)
    assert [r.label.text() for r in field.rows] == ["Row 1"]
    assert editor.current_item()["args"] == [["det1"], "motor1", 0, 2.5]


def test_a_missing_value_is_an_error_in_its_row(editor: ItemEditor, qtbot: QtBot) -> None:
    field = scan_editor(qtbot, editor)
    fill(qtbot, field, 0, "motor", "-1")
    assert editor.current_item() is None
    assert editor.current_error() == "args: Row 1: stop is missing"
    assert editor.form.rows["args"].error.text() == "args: Row 1: stop is missing"
    assert [c.property("mark") for c in field.rows[0].cells] == ["", "", "error"]
    field.add_row()
    fill(qtbot, field, 0, "motor", "-1", "1")
    fill(qtbot, field, 1, "motor1")
    assert editor.current_error() == "args: Row 2: start and stop are missing"
    assert [c.property("mark") for c in field.rows[1].cells] == ["", "error", "error"]


def test_keyboard_adds_and_removes_rows(editor: ItemEditor, qtbot: QtBot) -> None:
    field = scan_editor(qtbot, editor)
    fill(qtbot, field, 0, "motor", "-1", "1")
    spin = field.rows[0].cells[2].spin
    qtbot.keyClick(spin, Qt.Key_Insert, Qt.AltModifier)
    assert len(field.rows) == 2
    qtbot.keyClick(field.rows[1].cells[0].combo, Qt.Key_Delete, Qt.AltModifier)
    assert len(field.rows) == 1 and editor.current_item() == SCAN
    for button in (field.add_button, field.rows[0].remove):
        assert button.focusPolicy() & Qt.TabFocus  # reachable with Tab too


def test_a_loaded_item_the_rows_cannot_show_stays_a_literal(editor: ItemEditor) -> None:
    editor.load_item({**SCAN, "args": [["det1"], "motor", -1]})  # the missing stop
    row = editor.form.rows["args"]
    assert row.literal_mode and row.literal.state() == '["motor", -1]'
    assert editor.current_item() is None
    assert editor.current_error() == ("args: each motor needs start and stop — got motor, -1 "
                                      "(missing stop)")
    editor.load_item({**SCAN, "args": [["det1"], "motor", -1, 1, 5], "kwargs": {}})  # legacy num
    assert editor.form.rows["args"].literal_mode
    assert editor.current_item()["args"] == [["det1"], "motor", -1, 1, 5]
    editor.load_item({**SCAN, "args": [["det1"], "motor", -1, 1, "motor1", 0, 2]})
    assert not editor.form.rows["args"].literal_mode and len(args_of(editor).rows) == 2
    assert not editor.is_dirty()


@pytest.mark.parametrize(("name", "columns", "item_args", "kinds"), [
    ("grid_scan", ["Motor", "Start", "Stop", "Points"], ["motor1", -1, 1, 3, "motor2", 0, 2, 5],
     (NameField, FloatField, FloatField, IntField)),
    ("rel_list_scan", ["Motor", "Positions"], ["motor", [1, 2, 3]], (NameField, LiteralField)),
    ("list_scan", ["Motor", "Positions"], [["motor", [1, 2]], ["motor1", [3, 4]]],
     (NameField, LiteralField)),  # tuple-typed: one [motor, positions] element per row
])  # fmt: skip
def test_other_scan_like_plans(editor: ItemEditor, name: str, columns: list[str],
                               item_args: list, kinds: tuple) -> None:  # fmt: skip
    item = {"item_type": "plan", "name": name, "args": [["det1"], *item_args]}
    editor.load_item(item)
    field = args_of(editor)
    assert [h.text()[3:-4] for h in field.headers] == columns
    assert tuple(type(c) for c in field.rows[0].cells) == kinds
    assert not editor.form.rows["args"].literal_mode
    assert editor.current_item() == item


def test_rows_survive_a_reconnect(editor: ItemEditor, qtbot: QtBot) -> None:
    field = scan_editor(qtbot, editor)
    field.add_row()
    fill(qtbot, field, 0, "motor", "-1", "1")
    fill(qtbot, field, 1, "motor1", "2")
    state = editor.text_state()
    other = make_editor(qtbot)
    other.restore_text_state(state)
    assert args_of(other).state() == [["motor", "-1", "1"], ["motor1", "2", ""]]
    assert other.current_error() == "args: Row 2: stop is missing"


# ----- warnings ------------------------------------------------------------------------------
def test_an_unknown_motor_waits_for_accept(editor: ItemEditor, qtbot: QtBot) -> None:
    field = scan_editor(qtbot, editor)
    fill(qtbot, field, 0, "motr", "-1", "1")
    assert editor.current_item() is None  # not sendable until accepted
    error = editor.current_error()
    assert error.startswith("args: unknown device 'motr' (did you mean 'motor'?)")
    assert error.endswith('(tick "Accept warnings" to send anyway)')
    assert not editor.warning_box.isHidden() and "motr" in editor.warning_label.text()
    assert not editor.accept_warnings_box.isChecked()
    assert editor.form.rows["args"].error.text().startswith("⚠ args: unknown device 'motr'")
    assert field.rows[0].cells[0].property("mark") == "warning"
    assert editor.problem.isHidden()  # no error: the warning speaks
    assert not editor.save_as_new_action.isEnabled()
    editor.accept_warnings_box.click()
    assert editor.current_error() is None
    assert editor.current_item() == {**SCAN, "args": [["det1"], "motr", -1, 1]}
    editor.accept_warnings_box.click()  # taken back
    assert editor.current_item() is None
    editor.accept_warnings_box.click()
    fill(qtbot, field, 0, "motro")  # another unknown name asks again
    assert editor.current_item() is None and not editor.accept_warnings_box.isChecked()
    fill(qtbot, field, 0, "motor")
    assert editor.current_item() == SCAN and editor.warning_box.isHidden()


def test_the_gates_get_the_warning_as_the_reason(editor: ItemEditor, qtbot: QtBot) -> None:
    reasons = []
    editor.changed.connect(lambda: reasons.append(editor.current_error()))
    field = scan_editor(qtbot, editor)
    fill(qtbot, field, 0, "motr", "-1", "1")
    editor.current_error()
    assert "Accept warnings" in reasons[-1]


# ----- keyboard ------------------------------------------------------------------------------
def test_tab_order_picker_fields_then_buttons(qtbot: QtBot) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    editor = ItemEditor()
    editor.confirm = Answers(True)
    editor.set_plans(sim_plans())
    editor.set_devices(sim_devices())
    acts = actions(window)
    editor.set_actions(acts["execute_now"], acts["add"], acts["save"], acts["reset"])
    dock = QDockWidget("Item", window)
    dock.setWidget(editor)
    window.addDockWidget(Qt.LeftDockWidgetArea, dock)
    window.resize(600, 1000)
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    editor.picker.choose("scan")
    field = args_of(editor)
    stops = editor.focus_stops()
    form_stops = editor.form.focus_widgets()
    assert stops[:2] == [editor.picker.type_combo, editor.picker.name_combo]
    assert stops[2:2 + len(form_stops)] == form_stops
    after = stops[2 + len(form_stops):]
    assert after[:3] == [editor.accept_warnings_box, editor.add_button, editor.execute_button]
    detectors = editor.form.rows["detectors"].typed
    row = field.rows[0]
    shown = [w for w in form_stops if w.isVisible()]  # Qt skips the hidden ones itself
    assert shown[:6] == [detectors.filter, detectors.components, detectors.list,
                              row.cells[0].combo, row.cells[1].spin, row.cells[2].spin]
    assert all(not (w.focusPolicy() & Qt.TabFocus) for r in editor.form.rows.values()
               for w in (r.none_button, r.mode_button))  # fmt: skip
    # Tab really walks that chain (hidden widgets skipped): from the last field to Add
    num = editor.form.rows["num"].typed.spin
    editor.form.rows["md"].set_box.setFocus()
    qtbot.waitUntil(lambda: editor.form.rows["md"].set_box.hasFocus())
    seen = []
    for _ in range(12):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key_Tab)
        seen.append(QApplication.focusWidget())
        if seen[-1] is editor.add_button:
            break
    assert seen[-1] is editor.add_button, [w.objectName() for w in seen]
    assert editor.accept_warnings_box not in seen  # hidden: no stop
    assert editor.reset_button.focusPolicy() & Qt.TabFocus
    # a row added later is chained in place, not at the end of the window
    qtbot.mouseClick(field.add_button, Qt.LeftButton)
    stop1 = field.rows[0].cells[2].spin
    stop1.setFocus()
    qtbot.waitUntil(stop1.hasFocus)
    qtbot.keyClick(stop1, Qt.Key_Tab)
    assert QApplication.focusWidget() is field.rows[0].remove
    qtbot.keyClick(field.rows[0].remove, Qt.Key_Tab)
    assert QApplication.focusWidget() is field.rows[1].cells[0].combo
    assert num not in seen[:1]


def test_ctrl_s_reaches_the_save_action(qtbot: QtBot) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    acts = actions(window)
    acts["save"].setShortcut("Ctrl+S")
    window.menuBar().addMenu("Queue").addAction(acts["save"])
    editor = ItemEditor()
    editor.set_plans(sim_plans())
    editor.set_devices(sim_devices())
    window.setCentralWidget(editor)
    editor.set_actions(acts["execute_now"], acts["add"], acts["save"], acts["reset"])
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    editor.load_item(SCAN, editing_uid="u1")
    fired = []
    acts["save"].triggered.connect(lambda: fired.append("save"))
    for widget in (args_of(editor).rows[0].cells[1].spin, args_of(editor).rows[0].cells[0].combo,
                   editor.form.rows["detectors"].typed.filter, editor.json.edit):
        if widget is editor.json.edit:
            editor.tabs.setCurrentWidget(editor.json)
        widget.setFocus()
        qtbot.waitUntil(widget.hasFocus)
        qtbot.keyClick(widget, Qt.Key_S, Qt.ControlModifier)
    assert fired == ["save"] * 4


# ----- plan search ---------------------------------------------------------------------------
def test_rank_names_exact_then_prefix_then_the_rest() -> None:
    names = ["adaptive_scan", "grid_scan", "scan_nd", "scan", "rel_scan", "count", "Scan2"]
    assert rank_names(names, "scan") == ["scan", "Scan2", "scan_nd", "adaptive_scan",
                                         "grid_scan", "rel_scan"]  # fmt: skip
    assert rank_names(names, "  ") == sorted(names)
    assert rank_names(names, "zzz") == []


def test_the_completer_lists_the_exact_name_first(editor: ItemEditor, qtbot: QtBot) -> None:
    line = editor.picker.name_combo.lineEdit()
    line.setFocus()
    qtbot.keyClicks(line, "count")
    completer = editor.picker.name_combo.completer()
    shown = [completer.completionModel().index(i, 0).data()
             for i in range(completer.completionCount())]  # fmt: skip
    assert shown[0] == "count" and len(shown) > 1
    assert all("count" in n for n in shown)


# ----- clean after sending -------------------------------------------------------------------
def test_no_discard_question_after_the_item_was_sent(editor: ItemEditor, qtbot: QtBot) -> None:
    field = scan_editor(qtbot, editor)
    fill(qtbot, field, 0, "motor", "-1", "1")
    assert editor.is_dirty()
    item = editor.current_item()  # what Execute now / Add sends
    editor.mark_sent()  # the server took it
    assert not editor.is_dirty()
    editor.confirm = answers = Answers(False)
    editor.picker.choose("count")
    assert answers.asked == [] and editor.picker.current() == ("plan", "count")
    # typed on after the click: the sent item is not what the editor holds, still unsaved
    editor.load_item(item)
    type_into(qtbot, editor.form.rows["num"].typed, "7")
    editor.mark_sent(item)
    assert editor.is_dirty()


# ----- screenshots ---------------------------------------------------------------------------
def test_screenshots_of_the_rows(qtbot: QtBot) -> None:
    editor = make_editor(qtbot, height=700)
    acts = actions(editor)
    editor.set_actions(acts["execute_now"], acts["add"], acts["save"], acts["reset"])
    SCREENSHOTS.mkdir(exist_ok=True)
    editor.load_item({**SCAN, "args": [["det1"], "motor", -1, 1, "motor1", 0, 2.5]})
    qtbot.wait(30)
    assert editor.grab().save(str(SCREENSHOTS / "editor_scan_rows.png"))
    fill(qtbot, args_of(editor), 1, "motor1", "0", "")
    editor.current_item()
    qtbot.wait(30)
    assert editor.grab().save(str(SCREENSHOTS / "editor_scan_rows_error.png"))
    fill(qtbot, args_of(editor), 1, "motr", "0", "2.5")
    editor.current_item()
    qtbot.wait(30)
    assert editor.grab().save(str(SCREENSHOTS / "editor_scan_rows_warning.png"))


# ----- theme ---------------------------------------------------------------------------------
def test_error_and_warning_colours_follow_the_theme(qtbot: QtBot) -> None:
    """Dark palette: every editor colour is the theme's dark variant and reads on its background
    (the light red "#c62828" was ~3:1 on dark); a switch re-colours widgets already built."""
    from PyQt5.QtGui import QPalette

    from qs_gui.ui.theme import contrast, css, role_text, theme_manager

    manager = theme_manager()
    manager.set_mode("light")
    try:
        editor = make_editor(qtbot)
        editor.load_item({**SCAN, "args": [["det1"], "motr", -1, 1, "motor1", 0, 2.5]},
                         editing_uid="5c004697-aaaa")  # fmt: skip
        fill(qtbot, args_of(editor), 1, "motor1", "0", "")
        editor.current_item()
        editor.show_server_error("nope")
        row = editor.form.rows["args"]
        cell = args_of(editor).rows[0].cells[0]
        light_tint = cell.focusProxy().palette().color(QPalette.Base)
        assert css(role_text("alarm", False)) in row.error.styleSheet()
        manager.set_mode("dark")
        alarm, attention = css(role_text("alarm", True)), css(role_text("attention", True))
        assert alarm in row.error.styleSheet() and attention in editor.warning_label.styleSheet()
        assert alarm in editor.form.rows["detectors"].label.text()  # the required star
        assert alarm in editor.findChild(QWidget, "serverErrorBox").styleSheet()
        assert cell.property("mark") == "warning"
        tint = cell.focusProxy().palette().color(QPalette.Base)
        assert tint != light_tint and tint.lightness() < 90  # re-tinted from the dark Base
        assert contrast(QApplication.palette().color(QPalette.Text), tint) >= 4.5
        base = QApplication.palette().color(QPalette.Base)
        start = args_of(editor).rows[1].cells[1].focusProxy()  # tinted while loading, then not
        assert start.lineEdit().palette().color(QPalette.Base) == base  # the text box too
        stop = args_of(editor).rows[1].cells[2].focusProxy()
        assert stop.lineEdit().palette().color(QPalette.Base) not in (base, light_tint)
        banner = editor.banner.styleSheet().lower()
        assert editor.banner.state == "editing" and "#fff3cd" not in banner
        window_text = QApplication.palette().color(QPalette.WindowText).name()
        assert window_text in banner
        for widget in [editor, *editor.findChildren(QWidget)]:
            assert "#c62828" not in widget.styleSheet().lower(), widget.objectName()
    finally:
        manager.set_mode("system")
