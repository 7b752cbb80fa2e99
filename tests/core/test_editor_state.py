"""EditorState (Qt-free): the item editor's choice, validation, JSON sync, dirtiness and queue
item tracking, driven as the view drives it but without a display.

``shown`` plays a faithful form: it reports back exactly the values the state asked the form to
show, which is what the real widgets do until the operator edits them.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from qs_gui.core.editor_state import (
    START_HINT,
    EditorState,
    Fill,
    FormInput,
    name_problem,
)
from qs_gui.core.editor_text import item_text, parse_item_text
from tests.core.schema_support import sim_devices, sim_plans, sim_specs

COUNT = {"item_type": "plan", "name": "count", "args": [["det1", "det2"]],
         "kwargs": {"num": 5, "delay": 0.5}}  # fmt: skip
QUEUED = {**COUNT, "item_uid": "uid-1", "user": "ab", "user_group": "primary",
          "meta": {"sample": "Si"}}  # fmt: skip


def ready(*, devices: bool = True) -> EditorState:
    state = EditorState()
    assert state.set_plans(sim_plans()) is not None
    if devices:
        assert state.set_devices(sim_devices())
    return state


def shown(fill: Fill | None) -> FormInput:
    assert fill is not None and fill.values is not None
    return FormInput(copy.deepcopy(fill.values), {}, copy.deepcopy(fill.meta))


def snap(state: EditorState, form: Any = "rows", meta: Any = None, text: str = "{}") -> dict:
    return state.snapshot(form, meta, text)


# ----- names ---------------------------------------------------------------------------------
def test_name_problem_in_plain_words() -> None:
    specs = sim_specs()
    assert name_problem("instruction", "queue_stop", specs, True) == {}
    assert "the only instruction is 'queue_stop'" in name_problem("instruction", "x", {}, True)[
        "name"]
    assert name_problem("instruction", "", {}, True) == {
        "name": "name: choose an instruction (the only instruction is 'queue_stop')"}
    assert name_problem("plan", "", specs, True) == {"name": "name: choose a plan"}
    assert name_problem("plan", "cuont", specs, True) == {
        "name": "name: 'cuont' is not an allowed plan (did you mean 'count'?)"}
    assert name_problem("plan", "zzz", specs, False) == {}  # not known yet: the server judges


def test_a_fresh_state_asks_for_a_plan_with_the_start_hint() -> None:
    state = EditorState()
    state.validate()
    assert state.item is None and state.error == "name: choose a plan"
    assert state.headline() == (START_HINT, True)
    assert state.edit_state == "" and state.spec is None and not state.json_only
    state.choose("plan", "nope")
    state.validate()
    assert state.item is not None  # plans unknown: any name passes the structure check
    ready_state = ready()
    ready_state.choose("plan", "nope")
    ready_state.validate()
    assert ready_state.headline() == (ready_state.error, False)
    assert ready_state.name_hint == "name: 'nope' is not an allowed plan"  # under the picker


# ----- loading -------------------------------------------------------------------------------
def test_load_a_queue_item_into_the_form() -> None:
    state = ready()
    fill = state.load(QUEUED, editing_uid="uid-1")
    assert fill.values == {"detectors": ["det1", "det2"], "num": 5, "delay": 0.5}
    assert fill.meta == {"sample": "Si"} and fill.redraw
    assert state.spec == sim_specs()["count"] and state.raw_item is None
    assert (state.item_type, state.name, state.json_only) == ("plan", "count", False)
    assert state.editing_uid == "uid-1" and state.editing_name == "count"
    assert state.edit_state == "editing"
    assert state.loaded_item == {**COUNT, "meta": {"sample": "Si"}}  # no uid, user, group
    state.validate(shown(fill))
    assert state.item == {**COUNT, "meta": {"sample": "Si"}} and state.error is None
    assert state.errors == {} and state.meta_count == 1
    assert state.draft == state.item


def test_load_without_uid_is_a_new_item_and_odd_input_is_tolerated() -> None:
    state = ready()
    state.load(COUNT, editing_uid="")
    assert state.editing_uid is None and state.edit_state == "" and state.loaded_item is None
    fill = state.load("not an item")  # type: ignore[arg-type]
    assert fill == Fill(None) and state.raw_item == {"item_type": "plan", "name": ""}
    state.validate()
    assert state.error == "name: choose a plan"
    fill = state.load({"item_type": "instruction", "name": "queue_stop", "item_uid": "u"})
    assert fill.values == {} and state.spec is not None and state.item_type == "instruction"
    state.validate(shown(fill))
    assert state.item == {"item_type": "instruction", "name": "queue_stop"}


def test_an_unknown_plan_is_edited_as_json_only() -> None:
    state = ready()
    fill = state.load({"item_type": "plan", "name": "cuont", "kwargs": {"num": 1}})
    assert fill.values is None and state.json_only and state.spec is None
    assert state.raw_item == {"item_type": "plan", "name": "cuont", "kwargs": {"num": 1}}
    assert state.name_hint == ""  # the problem line speaks instead
    state.validate()
    assert state.item is None and "did you mean 'count'" in state.error
    assert state.draft == state.raw_item
    assert state.json_holds_edits and not state.json_follows_form


def test_an_item_the_form_cannot_take_stays_json_and_says_why() -> None:
    state = ready()
    fill = state.load({"item_type": "plan", "name": "count", "args": "det1"})
    assert fill.values is None and state.json_only
    state.validate()
    assert state.errors == {"json": "JSON: args: must be a list"} and state.item is None


def test_before_the_plans_arrive_the_json_is_the_editor_then_the_form_takes_over() -> None:
    state = EditorState()
    fill = state.load(COUNT)
    assert fill.values is None and state.raw_item == COUNT
    state.validate()
    assert state.item == COUNT  # structure only while the plans are unknown
    replan = state.set_plans(sim_plans())
    assert replan is not None and replan.kind == "refill" and replan.fill is not None
    assert replan.fill.values == {"detectors": ["det1", "det2"], "num": 5, "delay": 0.5}
    assert state.raw_item is None and state.spec == sim_specs()["count"]
    assert not state.json_only and not state.json_holds_edits
    state.validate(shown(replan.fill))
    assert state.item == COUNT


# ----- plans and devices ---------------------------------------------------------------------
def test_set_plans_ignores_unknown_and_unchanged_plans() -> None:
    state = EditorState()
    assert state.set_plans(None) is None and not state.plans_known
    assert state.set_plans(sim_plans()).kind == "keep"  # type: ignore[union-attr]
    assert state.set_plans(sim_plans()) is None
    assert state.set_plans("odd") is None  # type: ignore[arg-type]


def test_new_plans_rebuild_or_show_the_chosen_plans_form() -> None:
    state = ready()
    state.pick("plan", "count")
    plans = copy.deepcopy(sim_plans())
    plans["count"]["description"] = "Count, described anew."
    replan = state.set_plans(plans)
    assert replan is not None and replan.kind == "rebuild"
    assert state.spec is not None and state.spec.description == "Count, described anew."
    del plans["count"]
    assert state.set_plans(plans).kind == "keep"  # type: ignore[union-attr]
    assert state.spec is not None  # the form stays; the name problem says it is gone
    state.validate(FormInput({"detectors": ["det1"]}))
    assert state.errors == {"name": "name: 'count' is not an allowed plan"}
    state = EditorState()
    state.pick("plan", "count")
    assert state.spec is None
    replan = state.set_plans(sim_plans())
    assert replan is not None and replan.kind == "show" and state.spec == sim_specs()["count"]


def test_a_json_only_item_of_an_unknown_plan_stays_json_when_plans_change() -> None:
    state = ready()
    state.load({"item_type": "plan", "name": "custom", "args": [1]})
    plans = copy.deepcopy(sim_plans())
    plans.pop("mv")
    assert state.set_plans(plans).kind == "keep"  # type: ignore[union-attr]
    assert state.json_only and state.raw_item == {"item_type": "plan", "name": "custom",
                                                  "args": [1]}


def test_devices_are_checked_once_known() -> None:
    state = ready(devices=False)
    fill = state.load({"item_type": "plan", "name": "count", "args": [["nonexistent"]]})
    state.validate(shown(fill))
    assert state.item is not None  # devices unknown: names are only checked as text
    assert state.set_devices(sim_devices()) and not state.set_devices(sim_devices())
    assert not state.set_devices(None) and state.devices is not None
    state.validate(shown(fill))
    assert state.item is None and state.error.startswith("detectors: ")


# ----- validation ----------------------------------------------------------------------------
def test_errors_follow_the_form_order_and_block_the_item() -> None:
    state = ready()
    state.pick("plan", "count")
    state.validate(FormInput({"delay": 0.5}, {"num": "num: not a whole number"}))
    assert list(state.errors) == ["detectors", "num"]
    assert state.error == state.errors["detectors"] and state.item is None
    assert state.headline() == (state.errors["detectors"], False)
    assert state.draft == {"item_type": "plan", "name": "count", "kwargs": {"delay": 0.5}}


def test_metadata_problems_are_reported_and_kept_out_of_the_draft() -> None:
    state = ready()
    state.pick("plan", "count")
    ok = {"detectors": ["det1"]}
    state.validate(FormInput(ok, meta=None, meta_error="meta: not a value"))
    assert state.errors == {"meta": "meta: not a value"} and "meta" not in state.draft
    state.validate(FormInput(ok, meta=5))
    assert state.errors["meta"].startswith("meta: must be a dictionary")
    state.validate(FormInput(ok, meta=[{"a": 1}, {"b": 2}]))
    assert state.item is not None and state.item["meta"] == [{"a": 1}, {"b": 2}]
    assert state.meta_count == 1  # a list counts as one entry
    state.validate(FormInput(ok, meta={"a": 1, "b": 2}))
    assert state.meta_count == 2


def test_the_server_refusal_points_at_fields_until_the_next_edit() -> None:
    state = ready()
    state.pick("plan", "count")
    message = ("Plan validation failed: 1 validation error for Model\nnum\n  Input should be a "
               "valid integer [type=int_parsing]")
    assert state.server_refused(message) == {
        "num": "num: server says: Input should be a valid integer"}
    assert state.form_edited() and state.server_fields == {}
    state.server_refused(message)
    state.json_edited()
    assert state.server_fields == {}
    state.choose("plan", "", json_only=True)
    assert state.server_refused(message) == {}  # no form: no fields to point at


# ----- the JSON text -------------------------------------------------------------------------
def test_a_json_edit_is_pending_until_parsed_and_then_in_charge() -> None:
    state = ready()
    fill = state.load(COUNT)
    state.validate(shown(fill))
    assert state.json_follows_form and not state.json_holds_edits
    state.json_edited()
    assert state.json_pending and state.json_holds_edits and not state.json_follows_form
    fill = state.apply_json(item_text({**COUNT, "kwargs": {"num": 7}}))
    assert fill is not None and not fill.redraw  # same plan: the form stays, takes the values
    assert fill.values == {"detectors": ["det1", "det2"], "num": 7}
    assert not state.json_pending and state.json_source and state.json_error is None
    assert not state.json_holds_edits and not state.json_follows_form  # operator's text stays
    state.validate(shown(fill))
    assert state.item == {**COUNT, "kwargs": {"num": 7}}
    assert state.leave_json() and state.json_follows_form  # left the text: canonical again
    assert not state.leave_json()


def test_json_naming_another_plan_switches_the_form() -> None:
    state = ready()
    state.load(COUNT)
    fill = state.apply_json('{"item_type": "plan", "name": "mv", "args": ["motor1", 1]}')
    assert fill is not None and fill.redraw and state.name == "mv"
    assert state.spec == sim_specs()["mv"]
    state.validate(shown(fill))
    assert state.item == {"item_type": "plan", "name": "mv", "args": ["motor1", 1]}
    fill = state.apply_json('{"item_type": "plan", "name": "my_plan", "args": [1]}')
    assert fill == Fill(None) and state.json_only and state.raw_item is not None
    assert not state.form_edited()  # JSON-only: a metadata edit does not make the form source
    assert state.json_source


def test_invalid_json_blocks_sending_and_says_why() -> None:
    state = ready()
    fill = state.load(COUNT)
    state.json_edited()
    assert state.apply_json('{"item_type": "plan", "name": "count", "oops": 1}') is None
    assert state.json_error.startswith("unexpected key 'oops'")
    assert state.name == "count" and state.spec is not None  # the choice is kept
    state.validate(shown(fill))
    assert state.item is None and state.error == f"JSON: {state.json_error}"
    assert state.json_holds_edits and not state.leave_json()
    assert state.headline() == (state.error, False)
    assert state.form_edited()  # a form edit makes the form the source again
    assert state.json_error is None and not state.json_holds_edits
    state.validate(shown(fill))
    assert state.item == COUNT


# ----- dirtiness -----------------------------------------------------------------------------
def test_dirty_compares_snapshots_with_what_was_loaded() -> None:
    state = ready()
    state.load(COUNT)
    loaded = snap(state)
    assert loaded == {"item_type": "plan", "name": "count", "form": "rows", "meta": None,
                      "json": None}  # the text counts only while it holds edits
    state.mark_loaded(loaded)
    assert not state.is_dirty(snap(state)) and not state.plan_dirty(snap(state))
    assert state.is_dirty(snap(state, form="edited"))
    state.json_edited()
    assert snap(state)["json"] == "{}" and state.is_dirty(snap(state))
    state.pick("plan", "mv")
    state.mark_plan(snap(state, form="mv rows"))
    assert state.is_dirty(snap(state, form="mv rows"))  # still not what was loaded
    assert not state.plan_dirty(snap(state, form="mv rows"))


def test_restore_takes_the_choice_and_json_state_of_a_snapshot() -> None:
    state = ready()
    state.restore({"item_type": "plan", "name": "count", "form": {"rows": {}}, "json": None})
    assert state.spec == sim_specs()["count"] and not state.json_holds_edits
    state.restore({"item_type": "plan", "name": "count", "form": {"rows": {}},
                   "json": "{half typed"})  # fmt: skip
    assert state.json_pending  # beside a form: applied once the view shows it
    assert state.apply_json("{half typed") is None and state.json_error
    text = item_text({"item_type": "plan", "name": "custom", "args": [1]})
    state.restore({"item_type": "plan", "name": "custom", "form": None, "json": text})
    assert state.json_only and state.raw_item == {"item_type": "plan", "name": "custom",
                                                  "args": [1]}
    assert state.json_error is None
    state.restore({"item_type": "plan", "name": "x", "form": None, "json": "nonsense"})
    assert state.json_only and state.raw_item is None and state.json_error
    state.restore({"item_type": 3, "name": None})  # odd values: an empty plan
    assert (state.item_type, state.name, state.spec, state.json_error) == ("plan", "", None,
                                                                           None)


# ----- the edited queue item -----------------------------------------------------------------
def _editing() -> EditorState:
    state = ready()
    fill = state.load(QUEUED, editing_uid="uid-1")
    state.validate(shown(fill))
    return state


def test_the_edited_item_changed_elsewhere_then_vanished() -> None:
    state = _editing()
    held_calls = []

    def held() -> dict | None:
        held_calls.append(1)
        return state.item

    assert not state.notify_queue([QUEUED], held) and state.edit_state == "editing"
    other = {**QUEUED, "kwargs": {"num": 99}}
    assert state.notify_queue([{"item_uid": "x"}, other], held)
    assert state.edit_state == "changed" and state.server_item == other
    assert not state.notify_queue([other], held)  # no news
    assert state.notify_queue([QUEUED], held) and state.edit_state == "editing"
    calls = len(held_calls)
    assert state.notify_queue([], held) and state.edit_state == "vanished"
    assert len(held_calls) == calls  # gone: the held item is not needed (no flush)
    assert not state.notify_queue("odd", held)  # type: ignore[arg-type]


def test_our_own_save_coming_back_is_not_a_conflict() -> None:
    state = _editing()
    saved = {**QUEUED, "kwargs": {"num": 8}}
    state.validate(FormInput({"detectors": ["det1", "det2"], "num": 8}, {}, {"sample": "Si"}))
    assert not state.notify_queue([saved], lambda: state.item)
    assert state.edit_state == "editing" and state.loaded_item == {
        "item_type": "plan", "name": "count", "args": [["det1", "det2"]], "kwargs": {"num": 8},
        "meta": {"sample": "Si"}}


def test_not_editing_ignores_the_queue_and_clear_editing_forgets_the_item() -> None:
    state = ready()
    state.load(COUNT)
    assert not state.notify_queue([], lambda: pytest.fail("not needed"))
    state = _editing()
    state.notify_queue([{**QUEUED, "kwargs": {}}], lambda: None)
    assert state.edit_state == "changed"
    state.clear_editing()
    assert (state.editing_uid, state.editing_name, state.loaded_item, state.server_item,
            state.edit_state) == (None, "", None, None, "")  # fmt: skip
    assert state.name == "count"  # the item itself stays


# ----- persistence ---------------------------------------------------------------------------
def test_record_round_trips_and_tolerates_odd_values() -> None:
    state = _editing()
    state.mark_loaded(snap(state))
    state.notify_queue([], lambda: None)
    record = state.record()
    assert record["server_state"] == "vanished" and record["editing_uid"] == "uid-1"
    again = ready()
    again.restore_record(record, {"now": 1})
    assert again.baseline == state.baseline and again.plan_baseline == {"now": 1}
    assert again.record() == record and again.edit_state == "vanished"
    odd = EditorState()
    odd.restore_record({"editing_uid": "u", "server_state": "weird", "loaded_item": QUEUED,
                        "baseline": 3}, {"now": 2})  # fmt: skip
    assert odd.edit_state == "editing" and odd.baseline == {"now": 2}
    assert odd.loaded_item == {**COUNT, "meta": {"sample": "Si"}}
    odd.restore_record({"editing_uid": 5, "server_state": "changed", "editing_name": 7}, {})
    assert (odd.editing_uid, odd.editing_name, odd.server_state) == (None, "", "")


# ----- the JSON text of an item --------------------------------------------------------------
def test_item_text_round_trips_and_keeps_odd_characters() -> None:
    item = {"item_type": "plan", "name": "count", "args": [["det1"]],
            "kwargs": {"num": 5}, "meta": {"note": "a\u00a0b\u2028c\U000e0001"}}  # fmt: skip
    text = item_text(item)
    assert "\\u00a0" in text and "\\u2028" in text and "\u00a0" not in text
    assert "\\udb40\\udc01" in text  # beyond the BMP: a surrogate pair, as JSON writes it
    assert parse_item_text(text) == item
    positions = list(range(20))
    text = item_text({"item_type": "plan", "name": "p", "args": [positions]})
    assert "\n      0, 1, 2, 3," in text and "\n      17, 18, 19\n" in text  # lines filled
    assert item_text({"x": float("nan")})  # an invalid draft still shows


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("[1]", "an item is a JSON object"),
    ('{"item_type": "plan", "name": "c", "uid": 1}', "unexpected key 'uid'"),
    ('{"item_type": "thing", "name": "c"}', "item_type must be"),
    ('{"item_type": "plan", "name": " "}', "name must be"),
    ('{"item_type": "plan", "name": "c", "args": {}}', "args must be a list"),
    ('{"item_type": "plan", "name": "c", "kwargs": []}', "kwargs must be an object"),
    ("x" * 1_100_000, "too long"),
])  # fmt: skip
def test_parse_item_text_explains_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_item_text(text)
