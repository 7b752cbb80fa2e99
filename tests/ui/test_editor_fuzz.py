"""ItemEditor property tests (offscreen): form -> JSON -> form identity for every sim plan, and
random typing/pasting/clicking never yields an item that would be sent while invalid."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from qs_gui.core.schema import build_item, validate, values_from_item
from qs_gui.ui.editor import ItemEditor
from qs_gui.ui.editor.fields import FloatField, IntField
from qs_gui.ui.editor.lists import DeviceListField
from tests.core.schema_support import sim_index, sim_plans, sim_specs, valid_values
from tests.core.test_schema import server_accepts, strict_equal

from .editor_support import Answers, make_editor

PLAN_NAMES = sorted(sim_plans())


_EDITORS: dict[int, ItemEditor] = {}


def _shared_editor(qtbot: QtBot) -> ItemEditor:
    """Hypothesis runs many examples per test: reuse one editor per test function."""
    key = id(qtbot)
    if key not in _EDITORS:
        _EDITORS.clear()
        _EDITORS[key] = make_editor(qtbot)
    return _EDITORS[key]


@pytest.mark.parametrize("name", PLAN_NAMES)
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_form_json_form_identity(qtbot: QtBot, name: str, data: st.DataObject) -> None:
    """values -> item -> form -> JSON text -> (typed back into the JSON view) -> form: same
    values, same item, same widget state."""
    editor = _shared_editor(qtbot)
    spec = sim_specs()[name]
    values = data.draw(valid_values(spec))
    item = build_item(spec, values, devices=sim_index())
    editor.load_item(item)
    assert strict_equal(editor.current_item(), item), editor.current_errors()
    state = editor.form.state()
    assert json.loads(editor.json.text()) == item
    editor.json.edit.setPlainText(editor.json.text() + " ")  # an operator edit of the JSON
    assert strict_equal(editor.current_item(), item)
    assert editor.form.state() == state
    assert strict_equal(values_from_item(spec, editor.current_item()), values)


# ----- fuzzing -----------------------------------------------------------------------------
FUZZ_PLANS = ["count", "scan", "mv", "move_then_count", "list_scan", "adaptive_scan", "fly",
              "grid_scan", "tweak", "marked_up_count"]
# QTest types printable ASCII only (anything else trips an assertion in Qt); the rest is pasted.
TYPABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
TEXT = st.text(TYPABLE, max_size=12) | st.sampled_from(
    ["1", "-1e3", "1e400", "nan", "None", "det1", "'det1'", "[1, 2]", "{'a': 1}", "[[", "motor",
     '{"item_type": "plan", "name": "count", "args": [["det1"]]}', "True", "0x10", "1_0"])
PASTED = st.text(max_size=20) | TEXT | st.sampled_from(["é", "\x00", "\u2028", "\xa0", "😀"])


def _targets(editor: ItemEditor) -> list[Any]:
    out: list[Any] = [editor.json.edit]
    for row in editor.form.rows.values():
        for field in (row.typed, row.literal):
            if isinstance(field, IntField | FloatField):
                out.append(field.spin.lineEdit())
            elif hasattr(field, "edit"):
                out.append(field.edit)
            elif hasattr(field, "combo") and field.combo.isEditable():
                out.append(field.combo.lineEdit())
            elif isinstance(field, DeviceListField):
                out.append(field.filter)
        out.extend([row.none_button, row.mode_button] + ([row.set_box] if row.set_box else []))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(plan=st.sampled_from(FUZZ_PLANS), data=st.data())
def test_fuzz_typing_never_sends_an_invalid_item(qtbot: QtBot, plan: str,
                                                 data: st.DataObject) -> None:  # fmt: skip
    """Invariant: after any typing/clicking, either current_error() names a problem and
    current_item() is None, or current_item() is an item that validate() accepts, the server's
    own validator accepts, and that is exactly what the JSON view shows."""
    editor = _shared_editor(qtbot)
    editor.confirm = Answers(True)
    editor.picker.choose(plan)
    for _ in range(data.draw(st.integers(1, 6))):
        targets = _targets(editor)
        target = data.draw(st.sampled_from(targets))
        pickers = [r.typed for r in editor.form.rows.values()
                   if isinstance(r.typed, DeviceListField) and r.typed._allowed]
        if pickers and data.draw(st.booleans()):  # tick or untick a device, as with the mouse
            picker = data.draw(st.sampled_from(pickers))
            name = data.draw(st.sampled_from(picker._allowed[:8]))
            picker.check(name, name not in picker.state())
        elif hasattr(target, "isCheckable") and target.isCheckable():
            qtbot.mouseClick(target, Qt.LeftButton)
        elif hasattr(target, "setPlainText"):
            target.setPlainText(data.draw(TEXT))
        elif data.draw(st.booleans()):
            target.selectAll()
            qtbot.keyClicks(target, data.draw(TEXT))
            if data.draw(st.booleans()):
                qtbot.keyClick(target, Qt.Key_Return)
        else:  # paste anything, control characters included
            QApplication.clipboard().setText(data.draw(PASTED))
            target.selectAll()
            qtbot.keyClick(target, Qt.Key_V, Qt.ControlModifier)
    error, item = editor.current_error(), editor.current_item()
    assert (error is None) == (item is not None), (error, item)
    event("sendable item" if item is not None else "blocked")
    if item is None:
        return
    spec = sim_specs().get(item["name"])
    if item["item_type"] == "plan":
        assert validate(spec, values_from_item(spec, item), sim_index()) == {}
        ok, msg = server_accepts(item)
        assert ok, msg
    editor.json.edit.clearFocus()
    assert json.loads(editor.json.text()) == item
