"""Repeated ``*args`` groups of scan-like plans (qs_gui.core.schema.plan_args), on the real
sim profile: where the group comes from, labelled rows, arity errors and motor-name warnings."""

from __future__ import annotations

from typing import Any

import pytest

from qs_gui.core.editor_state import EditorState, FormInput
from qs_gui.core.schema import (
    ArgsPattern,
    PlanSpec,
    args_pattern,
    args_problem,
    args_warnings,
    group_args,
    plan_spec,
    validate,
    validate_warnings,
)
from qs_gui.core.schema.plan_args import pattern_from_description
from tests.core.schema_support import sim_devices, sim_plans, sim_specs


def spec(name: str) -> PlanSpec:
    return sim_specs()[name]


def scan(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return {"detectors": ["det1"], "args": list(args), **kwargs}


# ----- where the group comes from ------------------------------------------------------------
@pytest.mark.parametrize(("name", "fields", "source"), [
    ("scan", ("motor", "start", "stop"), "description"),
    ("rel_scan", ("motor", "start", "stop"), "description"),
    ("inner_product_scan", ("motor", "start", "stop"), "table"),  # no description in the profile
    ("relative_inner_product_scan", ("motor", "start", "stop"), "table"),
    ("grid_scan", ("motor", "start", "stop", "num"), "table"),  # no annotation, no description
    ("rel_grid_scan", ("motor", "start", "stop", "num"), "table"),
    ("rel_list_scan", ("motor", "positions"), "description"),
    ("list_grid_scan", ("motor", "positions"), "description"),
    ("rel_list_grid_scan", ("motor", "positions"), "description"),
    ("list_scan", ("motor", "positions"), "annotation"),  # tuple[...]: one element per row
])  # fmt: skip
def test_the_group_of_every_scan_like_sim_plan(name: str, fields: tuple, source: str) -> None:
    pattern = args_pattern(spec(name))
    assert pattern is not None and (pattern.fields, pattern.source) == (fields, source)


def test_plans_without_a_group() -> None:
    assert args_pattern(spec("count")) is None  # no *args
    assert args_pattern(spec("mv")) is None  # *args, but no group known


def test_legacy_forms_come_from_the_table() -> None:
    assert args_pattern(spec("scan")).trailing_num  # type: ignore[union-attr]
    assert args_pattern(spec("grid_scan")).legacy_snake  # type: ignore[union-attr]
    assert not args_pattern(spec("inner_product_scan")).trailing_num  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "fields"), [
    ("For one dimension, ``motor, start, stop``.\nIn general: motor1, start1, stop1, ...",
     ("motor", "start", "stop")),
    ("patterned like (``motor1, start1, stop1, num1,``\n``motor2, ...``)",
     ("motor", "start", "stop", "num")),
    ("``motor, [point1, point2, ....]``.", ("motor", "positions")),
    ("motor1, position_list1, motor2, position_list2", ("motor", "positions")),
])  # fmt: skip
def test_pattern_from_description(text: str, fields: tuple) -> None:
    pattern = pattern_from_description(text)
    assert pattern is not None and pattern.fields == fields


@pytest.mark.parametrize("text", ["", "any values", "motor", "start, stop, motor", None])
def test_a_description_without_a_group(text: Any) -> None:
    assert pattern_from_description(text) is None


def test_a_non_bluesky_plan_named_scan_is_not_guessed_from_the_table() -> None:
    entry = {"name": "grid_scan", "module": "beamline.plans",
             "parameters": [{"name": "args", "kind": {"name": "VAR_POSITIONAL", "value": 2}}]}
    assert args_pattern(plan_spec(entry)) is None
    entry["module"] = "bluesky.plans"
    assert args_pattern(plan_spec(entry)) == ArgsPattern(("motor", "start", "stop", "num"),
                                                          legacy_snake=True)


def test_a_described_group_of_an_unknown_plan() -> None:
    entry = {"name": "my_scan", "module": "beamline.plans", "parameters": [
        {"name": "args", "kind": {"name": "VAR_POSITIONAL", "value": 2},
         "description": "motor1, start1, stop1, step1, motor2, ..."}]}
    s = plan_spec(entry)
    assert args_pattern(s).fields == ("motor", "start", "stop", "step")  # type: ignore[union-attr]
    assert args_problem(s, {"args": ["m", 1, 2]}) == (
        "my_scan: each motor needs start, stop and step — got m, 1, 2 (missing step)")


# ----- rows ----------------------------------------------------------------------------------
def test_rows_are_labelled_per_motor() -> None:
    rows = group_args(spec("scan"), scan("motor1", -1, 1, "motor2", 0, 2.5, num=5))
    assert [r.label for r in rows] == ["motor 1: motor1, start -1, stop 1",
                                       "motor 2: motor2, start 0, stop 2.5"]
    rows = group_args(spec("scan"), scan("motor", -1, num=5))
    assert rows[0].missing == ("stop",)
    assert rows[0].label == "motor 1: motor, start -1 (missing stop)"
    assert group_args(spec("scan"), scan("motor", -1, 1, 5))[0].values == (
        ("motor", "motor"), ("start", -1), ("stop", 1))  # the trailing num is not a row
    assert group_args(spec("count"), {"detectors": ["det1"]}) == []
    assert group_args(spec("scan"), {"args": "odd"}) == []


def test_grid_rows_with_and_without_legacy_snake_flags() -> None:
    new = group_args(spec("grid_scan"), scan("motor1", -1, 1, 3, "motor2", -2, 2, 5))
    assert [r.label for r in new] == ["motor 1: motor1, start -1, stop 1, num 3",
                                      "motor 2: motor2, start -2, stop 2, num 5"]
    old = group_args(spec("grid_scan"), scan("motor1", -1, 1, 3, "motor2", -2, 2, 5, True))
    assert old[1].label == "motor 2: motor2, start -2, stop 2, num 5, snake True"
    # snake_axes given: the legacy form is not taken, the extra value is a missing group
    assert args_problem(spec("grid_scan"), scan("motor1", -1, 1, 3, "motor2", -2, 2, 5, True,
                                                snake_axes=False)) is not None


def test_list_scan_rows_are_its_tuple_elements() -> None:
    rows = group_args(spec("list_scan"), scan(["motor", [1, 2]], ["motor1"]))
    assert rows[0].label == "motor 1: motor, positions [1, 2]"
    assert rows[1].missing == ("positions",)


# ----- arity and kinds: errors ---------------------------------------------------------------
@pytest.mark.parametrize(("name", "values", "problem"), [
    ("scan", scan("motor", -1, 1, num=5), None),
    ("scan", scan("motor", -1, 1, 5), None),  # legacy trailing num
    ("scan", scan("motor", -1, num=5),
     "scan: each motor needs start and stop — got motor, -1 (missing stop)"),
    ("scan", scan("motor", -1, 1, "motor1", 2, num=5),
     "scan: each motor needs start and stop — got motor1, 2 (missing stop)"),
    ("scan", scan("motor", -1, 1), "scan: num (the number of points) is required"),
    ("scan", scan("motor", -1, 1, 2.5), "scan: the last value is taken as num and must be a "
                                        "whole number ≥ 1"),
    ("scan", scan("motor", "x", 1, num=5),
     "scan: the start of each motor must be a number — got 'x'"),
    ("scan", scan(-1, 1, "motor", num=5),
     "scan: the motor of each motor must be a motor name — got -1"),
    ("scan", scan(num=5), "scan: add at least one motor (motor, start, stop)"),
    ("scan", {"detectors": ["det1"], "num": 5}, "scan: add at least one motor (motor, start, "
                                                "stop)"),
    ("rel_scan", scan("motor", 1, True, num=5),
     "rel_scan: the stop of each motor must be a number — got True"),
    ("inner_product_scan", {"detectors": ["det1"], "num": 5, "args": ["motor", -1]},
     "inner_product_scan: each motor needs start and stop — got motor, -1 (missing stop)"),
    ("grid_scan", scan("motor1", -1, 1), "grid_scan: each motor needs start, stop and num — got "
                                         "motor1, -1, 1 (missing num)"),
    ("grid_scan", scan("motor1", -1, 1, 2.5),
     "grid_scan: the num of each motor must be a whole number — got 2.5"),
    ("grid_scan", scan("motor1", -1, 1, 3, "motor2", -2, 2, 5, "yes"),
     "grid_scan: the snake of each motor must be True or False — got 'yes' (motor 2)"),
    ("rel_list_scan", scan("motor", [1, 2], "motor1"),
     "rel_list_scan: each motor needs positions — got motor1 (missing positions)"),
    ("list_grid_scan", scan("motor", 3), "list_grid_scan: the positions of each motor must be a "
                                         "list of positions — got 3"),
    ("list_scan", scan("motor", [1, 2]), None),  # tuple-typed: the type check owns it
    ("count", {"detectors": ["det1"]}, None),
])  # fmt: skip
def test_args_problem(name: str, values: dict, problem: str | None) -> None:
    assert args_problem(spec(name), values) == problem


def test_validate_reports_a_missing_stop_under_args() -> None:
    errors = validate(spec("scan"), scan("motor", -1, num=5), sim_devices())
    assert errors == {"args": "args: each motor needs start and stop — got motor, -1 "
                              "(missing stop)"}
    assert validate(spec("scan"), scan("motor", -1, 1, num=5), sim_devices()) == {}


# ----- motor names: warnings -----------------------------------------------------------------
def test_an_unknown_motor_is_a_warning_whatever_the_annotation() -> None:
    values = scan("motr", -1, 1, num=5)
    assert validate(spec("scan"), values, sim_devices()) == {}  # __MOVABLE__ | Any passes
    assert validate_warnings(spec("scan"), values, sim_devices()) == {
        "args": "args: unknown device 'motr' (did you mean 'motor'?) — the plan will fail "
                "unless the server knows it"}
    warned = args_warnings(spec("scan"), scan("motor", -1, 1, "det1", 0, 1, num=5),
                           sim_devices())
    assert warned["args"].startswith("args: 'det1' is not a movable device")
    assert args_warnings(spec("scan"), scan("motor", -1, 1, num=5), sim_devices()) == {}
    assert args_warnings(spec("scan"), values, None) == {}  # devices unknown: nothing to say
    assert args_warnings(spec("count"), {"detectors": ["x"]}, sim_devices()) == {}
    grid = scan("motor1", -1, 1, 3, "motro2", -2, 2, 5)
    assert "'motro2'" in validate_warnings(spec("grid_scan"), grid, sim_devices())["args"]


# ----- the editor ----------------------------------------------------------------------------
def editor() -> EditorState:
    state = EditorState()
    state.set_plans(sim_plans())
    state.set_devices(sim_devices())
    state.pick("plan", "scan")
    return state


def test_the_editor_blocks_a_missing_stop() -> None:
    state = editor()
    state.validate(FormInput(scan("motor", -1, num=5)))
    assert state.item is None
    assert state.error == ("args: each motor needs start and stop — got motor, -1 "
                           "(missing stop)")
    assert state.warnings == {}


def test_the_editor_warns_about_motr_and_the_operator_can_override() -> None:
    state = editor()
    state.validate(FormInput(scan("motr", -1, 1, num=5)))
    assert state.item is not None and state.error is None  # a warning never blocks the item
    assert state.unaccepted_warnings == [state.warnings["args"]]
    assert "unknown device 'motr'" in state.warnings["args"]
    state.accept_warnings()
    state.validate(FormInput(scan("motr", -1, 1, num=5)))
    assert state.warnings and state.unaccepted_warnings == []  # overridden: no more asking
    state.validate(FormInput(scan("motr", -1, 1, "motro", 0, 1, num=5)))
    assert len(state.unaccepted_warnings) == 1  # a different warning asks again
    state.validate(FormInput(scan("motor", -1, 1, num=5)))
    assert state.warnings == {} and state.unaccepted_warnings == []


def test_an_error_hides_the_warning_of_the_same_field() -> None:
    state = editor()
    state.validate(FormInput(scan("motr", -1, num=5)))
    assert state.item is None and "missing stop" in state.errors["args"]
    assert state.warnings == {}


def test_send_error_waits_for_the_warning_to_be_accepted() -> None:
    state = editor()
    state.validate(FormInput(scan("motr", -1, 1, num=5)))
    assert state.item is not None and state.sendable is None
    assert state.send_error == (state.warnings["args"] + ' (tick "Accept warnings" to send '
                                "anyway)")  # fmt: skip
    state.accept_warnings()
    assert state.send_error is None and state.sendable == state.item
    state.revoke_warnings()
    assert state.sendable is None and state.unaccepted_warnings
    state.validate(FormInput(scan("motor", -1, num=5)))  # an error speaks first
    assert state.send_error == state.error and "missing stop" in state.send_error
