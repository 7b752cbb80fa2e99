"""core.schema: specs from the real sim profile, annotation parsing, validation, item building.

The server's own validator (``bluesky_queueserver``'s ``validate_plan``, the function RE Manager
runs on ``queue_item_add``) is used as an oracle: every item ``build_item`` returns must pass it,
and device names must be in ``devices_allowed`` (the server does not check those, §8.4).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qs_gui.core.schema import (
    EXTRA_ARGS,
    EXTRA_KWARGS,
    KEYWORD_ONLY,
    POSITIONAL_OR_KEYWORD,
    VAR_KEYWORD,
    VAR_POSITIONAL,
    DeviceIndex,
    ItemInvalid,
    TypeSpec,
    build_item,
    describe,
    draft_item,
    instruction_spec,
    parse_annotation,
    plan_spec,
    server_field_errors,
    strip_optional,
    validate,
    validate_meta,
    values_from_item,
)
from qs_gui.core.schema.values import parse_value

from .schema_support import (
    JSON_VALUES,
    devices_with,
    sim_devices,
    sim_index,
    sim_plans,
    sim_specs,
    valid_values,
)

profile_ops = pytest.importorskip("bluesky_queueserver.manager.profile_ops")
PLAN_NAMES = sorted(sim_plans())


def server_accepts(item: dict[str, Any]) -> tuple[bool, str]:
    """RE Manager's own plan validation (what queue_item_add runs), on a JSON round trip."""
    wire = json.loads(json.dumps(item, allow_nan=False))
    return profile_ops.validate_plan(wire, allowed_plans=sim_plans(),
                                     allowed_devices=sim_devices())  # fmt: skip


def strict_equal(a: Any, b: Any) -> bool:
    """== that also compares types (True != 1, 1 != 1.0), recursively."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


# ----- specs from the real profile ---------------------------------------------------------
def test_snapshot_is_the_real_profile() -> None:
    assert len(sim_plans()) == 35 and len(sim_devices()) == 43  # re-manager-protocol.md §5.2


@pytest.mark.parametrize("name", PLAN_NAMES)
def test_every_sim_plan_builds_a_spec(name: str) -> None:
    raw = sim_plans()[name]
    spec = plan_spec(raw, name)
    assert spec.name == name and spec.item_type == "plan"
    assert [p.name for p in spec.parameters] == [p["name"] for p in raw.get("parameters", [])]
    for p, r in zip(spec.parameters, raw.get("parameters", []), strict=True):
        assert p.kind.upper().replace("-", "_") == r["kind"]["name"]
        assert p.required == ("default" not in r and p.kind not in (VAR_POSITIONAL, VAR_KEYWORD))
        assert p.type.kind != "unknown", (name, p.name, p.type_text)
        if "default" in r:
            assert p.default_is_literal, (name, p.name, r["default"])
        describe(p.type)  # never raises
    assert spec.signature.startswith(f"{name}(")


def test_count_spec_details() -> None:
    count = sim_specs()["count"]
    detectors, num, delay, per_shot, md = count.parameters
    assert detectors.required and detectors.type == TypeSpec(
        "list", (TypeSpec("device", flag="readable"),))
    assert not num.required and num.default == 1 and num.type.optional
    assert strip_optional(num.type) == (TypeSpec("int"), True)
    assert delay.default == 0.0 and describe(delay.type) == "a number or a list of numbers"
    assert per_shot.kind == KEYWORD_ONLY and per_shot.type.kind == "any"
    assert per_shot.default is None
    assert md.kind == KEYWORD_ONLY and describe(md.type) == "a dictionary or None"


def test_move_then_count_custom_lists_ranges_and_decorator_default() -> None:
    motors, detectors, positions = sim_specs()["move_then_count"].parameters
    assert motors.type == TypeSpec("list", (TypeSpec(
        "enum", choices=("motor1", "motor2"), flag="devices", name="Motors"),))
    assert detectors.default == ["det1", "det2"] and detectors.default_in_decorator
    assert (positions.min, positions.max, positions.step) == (-10, 10, 0.01)
    assert describe(motors.type) == "a list of values of motor1, motor2"


def test_variadic_kinds() -> None:
    mv = sim_specs()["mv"]
    assert [p.kind for p in mv.parameters] == [
        VAR_POSITIONAL, KEYWORD_ONLY, KEYWORD_ONLY, VAR_KEYWORD]
    assert not any(p.required for p in mv.parameters)


def test_instruction_spec() -> None:
    spec = instruction_spec()
    assert spec.item_type == "instruction" and spec.parameters == ()
    assert build_item(spec, {}) == {"item_type": "instruction", "name": "queue_stop"}
    assert validate(spec, {"x": 1})


def test_malformed_entries_never_raise() -> None:
    spec = plan_spec({"parameters": [None, {"name": 3}, {"name": "a", "kind": "odd",
                                                         "annotation": [1], "min": "x"},
                                     {"name": "a"}]}, "odd")  # fmt: skip
    assert [p.name for p in spec.parameters] == ["a"]
    a = spec.parameters[0]
    assert a.kind == POSITIONAL_OR_KEYWORD and a.type.kind == "any" and a.min is None
    default = plan_spec({"parameters": [{"name": "f", "default": "<function f at 0x1>",
                                         "kind": {"name": "KEYWORD_ONLY"}}]}).parameters[0]
    assert default.has_default and not default.default_is_literal and not default.required


# ----- annotation parsing ------------------------------------------------------------------
INT, FLOAT, STR, NONE, ANY = (TypeSpec(k) for k in ("int", "float", "str", "none", "any"))
READABLE = TypeSpec("device", flag="readable")
TABLE = [
    ("int", INT),
    ("builtins.float", FLOAT),
    ("int | None", TypeSpec("union", (INT, NONE))),
    ("typing.Optional[int]", TypeSpec("union", (INT, NONE))),
    ("typing.Union[int, str, None]", TypeSpec("union", (INT, STR, NONE))),
    ("typing.Optional[typing.Union[int, str]]", TypeSpec("union", (INT, STR, NONE))),
    ("collections.abc.Sequence[__READABLE__]", TypeSpec("list", (READABLE,))),
    ("typing.List[float]", TypeSpec("list", (FLOAT,))),
    ("list[str]", TypeSpec("list", (STR,))),
    ("typing.Iterable", TypeSpec("list", (ANY,))),
    ("tuple[int, ...]", TypeSpec("list", (INT,))),
    ("tuple[int, str]", TypeSpec("tuple", (INT, STR))),
    ("dict[str, typing.Any]", TypeSpec("dict", (STR, ANY))),
    ("typing.Dict", TypeSpec("dict", (STR, ANY))),
    ("typing.Any", ANY),
    ("typing.Literal['a', \"b\", 3, None]", TypeSpec("literal", choices=("a", "b", 3, None))),
    ("__MOVABLE__", TypeSpec("device", flag="movable")),
    ("__FLYABLE__", TypeSpec("device", flag="flyable")),
    ("__DEVICE__", TypeSpec("device")),
    ("__PLAN__", TypeSpec("plan", name="__PLAN__")),
    ("__CALLABLE__", TypeSpec("callable")),
    ("collections.abc.Hashable", TypeSpec("scalar", name="collections.abc.Hashable")),
    ("numpy.ndarray[int]", TypeSpec("unknown", (INT,), name="numpy.ndarray")),
    ("int |", TypeSpec("unknown", name="int |")),
    ("list[int", TypeSpec("unknown", name="list[int")),
    ("__import__('os')", TypeSpec("unknown", name="__import__('os')")),
]


@pytest.mark.parametrize(("text", "expected"), TABLE)
def test_annotation_table(text: str, expected: TypeSpec) -> None:
    assert parse_annotation({"type": text}) == expected


def test_custom_lists_win_over_builtin_markers() -> None:
    t = parse_annotation({"type": "typing.List[__READABLE__]",
                          "devices": {"__READABLE__": ["det1"]}})  # fmt: skip
    assert t == TypeSpec("list", (TypeSpec("enum", choices=("det1",), flag="devices",
                                           name="__READABLE__"),))  # fmt: skip
    e = parse_annotation({"type": "Modes", "enums": {"Modes": ["fast", "slow"]}})
    assert e.kind == "enum" and e.flag == "enums" and e.choices == ("fast", "slow")
    assert parse_annotation(None) == ANY and parse_annotation({"type": ""}) == ANY


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.from_regex(r"[\w.\[\], |'\"]{0,60}", fullmatch=True))
def test_annotation_parser_never_raises(text: str) -> None:
    t = parse_annotation({"type": text, "devices": {"D": ["a"]}})
    assert isinstance(t, TypeSpec)
    describe(t)
    describe(t, plural=True)


def test_deep_nesting_degrades_to_unknown() -> None:
    text = "list[" * 200 + "int" + "]" * 200
    assert parse_annotation({"type": text}).kind == "unknown"


# ----- defaults are not sent ---------------------------------------------------------------
def test_defaults_not_sent() -> None:
    count = sim_specs()["count"]
    assert build_item(count, {"detectors": ["det1"]}) == {
        "item_type": "plan", "name": "count", "args": [["det1"]]}
    assert build_item(count, {"detectors": ["det1"], "num": 1}) == {
        "item_type": "plan", "name": "count", "args": [["det1"]], "kwargs": {"num": 1}}
    mtc = sim_specs()["move_then_count"]
    item = build_item(mtc, {"motors": ["motor1"], "positions": [1.5]}, devices=sim_devices())
    assert item == {"item_type": "plan", "name": "move_then_count", "args": [["motor1"]],
                    "kwargs": {"positions": [1.5]}}  # the decorator's detectors: not sent
    assert server_accepts(item) == (True, "")


def test_var_positional_forces_positional_layout() -> None:
    scan = sim_specs()["scan"]
    values = {"detectors": ["det1"], "args": ["motor", -1, 1], "num": 5}
    item = build_item(scan, values, devices=sim_devices())
    assert item["args"] == [["det1"], "motor", -1, 1] and item["kwargs"] == {"num": 5}
    assert values_from_item(scan, item) == values


def test_gap_before_var_positional() -> None:
    spec = plan_spec({"name": "f", "parameters": [
        {"name": "a", "kind": {"name": "POSITIONAL_OR_KEYWORD"}},
        {"name": "b", "kind": {"name": "POSITIONAL_OR_KEYWORD"}, "default": "2"},
        {"name": "c", "kind": {"name": "POSITIONAL_OR_KEYWORD"}, "default": "<object>"},
        {"name": "rest", "kind": {"name": "VAR_POSITIONAL"}}]})  # fmt: skip
    assert build_item(spec, {"a": 1, "c": 3, "rest": [9]})["args"] == [1, 2, 3, 9]
    assert validate(spec, {"a": 1, "rest": [9]}) == {
        "c": "c: must be set when *args values follow it"}
    with pytest.raises(ItemInvalid):
        build_item(spec, {"a": 1, "rest": [9]})


# ----- validation messages -----------------------------------------------------------------
MESSAGES = [
    ("count", {}, {"detectors": "detectors: a value is required"}),
    ("count", {"detectors": ["x"]}, {"detectors": "detectors: unknown device 'x'"}),
    ("count", {"detectors": "det1"}, {"detectors": "detectors: must be a list of readable "
                                                   "devices"}),
    ("count", {"detectors": ["det1"], "num": 1.0}, {"num": "num: must be an integer or None"}),
    ("count", {"detectors": ["det1"], "num": True}, {"num": "num: must be an integer or None"}),
    ("count", {"detectors": ["det1"], "delay": [1, "a"]},
     {"delay": "delay: item 2 must be a number"}),
    ("count", {"detectors": ["det1"], "nmu": 3},
     {"nmu": "nmu: is not a parameter of count (did you mean 'num'?)"}),
    ("move_then_count", {"motors": ["motor3"]},
     {"motors": "motors: 'motor3' is not one of motor1, motor2"}),
    ("move_then_count", {"motors": ["motor1"], "positions": [12]},
     {"positions": "positions: 12 is above the maximum 10"}),
    ("move_then_count", {"motors": ["motor1"], "positions": "a"},
     {"positions": "positions: must be a list of numbers between -10 and 10"}),
    # device | Any: a warning (validate_warnings), never an error
    ("scan", {"detectors": ["det1"], "args": ["det2", 1, 2], "num": 3}, {}),
    ("fly", {"flyers": ["det1"]}, {"flyers": "flyers: 'det1' is not a flyable device"}),
    ("fly", {"flyers": ["flyer1", "trivial_flyer"]}, {}),
    ("tweak", {"detector": "motor1.velocity", "target_field": "x", "motor": "det1", "step": 1},
     {"motor": "motor: 'det1' is not a movable device"}),
    ("adaptive_scan", {"detectors": ["det1"], "target_field": 3, "motor": "motor",
                       "start": 0, "stop": 1, "min_step": 0.1, "max_step": 1,
                       "target_delta": 0.1, "backstep": "yes"},
     {"target_field": "target_field: must be text", "backstep": "backstep: must be true or "
                                                                 "false"}),
    ("mv", {"args": ["motor", 1], "kwargs": {"group": 1}},
     {"kwargs": "kwargs: 'group' is a named parameter: set it in its own field"}),
    ("count", {"detectors": ["det1"], EXTRA_ARGS: [1]},
     {EXTRA_ARGS: "args: too many positional values; count takes at most 3"}),
    ("count", {"detectors": ["det1"], EXTRA_KWARGS: {"x": 1}},
     {EXTRA_KWARGS: "kwargs: 'x' is not a parameter of count"}),
    ("count", {"detectors": ["det1"], "delay": math.nan},
     {"delay": "delay: must be a number or a list of numbers"}),
    ("count", {"detectors": ["det1"], "md": {"a": math.inf}},
     {"md": "md: not a valid JSON value (Out of range float values are not JSON compliant)"}),
]


@pytest.mark.parametrize(("plan", "values", "errors"), MESSAGES)
def test_validation_messages(plan: str, values: dict, errors: dict) -> None:
    assert validate(sim_specs()[plan], values, sim_devices()) == errors


def test_devices_unknown_means_names_not_checked() -> None:
    count = sim_specs()["count"]
    assert validate(count, {"detectors": ["no_such_det"]}) == {}
    assert validate(count, {"detectors": ["no_such_det"]}, {}) == {
        "detectors": "detectors: unknown device 'no_such_det'"}


def test_meta() -> None:
    assert validate_meta(None) is None and validate_meta({"a": [1]}) is None
    assert validate_meta([{"a": 1}, {}]) is None
    assert validate_meta("x") == "meta: must be a dictionary (or a list of dictionaries)"
    assert validate_meta([1]) == "meta: must be a dictionary (or a list of dictionaries)"
    with pytest.raises(ItemInvalid) as info:
        build_item(sim_specs()["null"], {}, meta=[1])
    assert info.value.errors == {"meta": "meta: must be a dictionary (or a list of dictionaries)"}
    item = build_item(sim_specs()["null"], {}, meta={"sample": "Si"})
    assert item == {"item_type": "plan", "name": "null", "meta": {"sample": "Si"}}


# ----- devices -----------------------------------------------------------------------------
def test_device_index_flags_and_components() -> None:
    index = sim_index()
    assert set(index.names("flyable")) == {"custom_test_flyer", "flyer1", "flyer2",
                                           "new_trivial_flyer", "trivial_flyer"}
    assert "det1" in index.names("readable") and "det1" not in index.names("movable")
    assert "det1.val" in index.names("movable")  # components carry their own flags
    assert "sim_bundle_A.mtrs.x.velocity" in index.names("movable")
    assert "det1.val" not in index.names("readable", components=False)
    assert index.names("readable", components=False)[:3] == ["ab_det", "bool_sig",
                                                             "custom_test_device"]
    for flag in ("readable", "movable", "flyable", ""):
        assert sorted(index.names(flag)) == devices_with(flag)
    assert index.problem("det1.nope", "") == "unknown device 'det1.nope'"
    assert DeviceIndex.from_allowed(None) is None
    assert DeviceIndex.from_allowed({"x": 1, 2: {}, "ok": {"components": "bad"}}).names() == ["ok"]


# ----- items <-> values --------------------------------------------------------------------
def test_values_from_item_binds_like_python() -> None:
    count, mv = sim_specs()["count"], sim_specs()["mv"]
    item = {"item_type": "plan", "name": "count", "args": [["det1"], 5],
            "kwargs": {"delay": 1}}  # fmt: skip
    assert values_from_item(count, item) == {"detectors": ["det1"], "num": 5, "delay": 1}
    twice = {"args": [["det1"], 5], "kwargs": {"num": 6, "zzz": 1}}
    assert values_from_item(count, twice) == {"detectors": ["det1"], "num": 5,
                                              EXTRA_KWARGS: {"num": 6, "zzz": 1}}
    assert "kwargs: 'num' is given twice" in validate(count, values_from_item(count, twice))[
        EXTRA_KWARGS]
    assert values_from_item(count, {"args": [[], 1, 2, 3]})[EXTRA_ARGS] == [3]
    assert values_from_item(mv, {"args": ["m", 1], "kwargs": {"args": 1, "timeout": 2}}) == {
        "args": ["m", 1], "timeout": 2, "kwargs": {"args": 1}}
    for bad in ({"args": "x"}, {"kwargs": [1]}):
        with pytest.raises(ValueError):
            values_from_item(count, bad)
    assert values_from_item(count, {"args": None, "kwargs": None}) == {}


def _device_names_known(spec: Any, item: dict) -> bool:
    """Independent check of §8.4: device-only parameters name devices that exist."""
    tree = set(devices_with(""))
    values = values_from_item(spec, item)

    def strings(v: Any) -> list[str]:
        if isinstance(v, str):
            return [v]
        if isinstance(v, list):
            return [s for x in v for s in strings(x)]
        return []

    markers = ("__READABLE__", "__MOVABLE__", "__FLYABLE__", "__DEVICE__")
    for p in spec.parameters:
        device_only = any(m in p.type_text for m in markers) and "Any" not in p.type_text
        if device_only and p.name in values and not all(
                s in tree for s in strings(values[p.name])):  # fmt: skip
            return False
    return True


@pytest.mark.parametrize("name", PLAN_NAMES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_form_item_form_identity_and_server_accepts(name: str, data: st.DataObject) -> None:
    """For valid values of every sim plan: validate is clean, build_item's item is accepted by
    the server's own validator, and values_from_item gives the same values back (strictly)."""
    spec = sim_specs()[name]
    values = data.draw(valid_values(spec))
    assert validate(spec, values, sim_index(), plans=frozenset(sim_plans())) == {}
    item = build_item(spec, values, devices=sim_index())
    ok, msg = server_accepts(item)
    assert ok, msg
    assert strict_equal(values_from_item(spec, item), values)
    assert strict_equal(values_from_item(spec, json.loads(json.dumps(item))), values)


WILD = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.sampled_from(["det1", "motor", "motor1", "det1.val", "flyer1", "x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3)
    | st.tuples(inner) | st.builds(set, st.lists(st.integers(), max_size=2)),
    max_leaves=6,
)


@settings(max_examples=600, deadline=None)
@given(name=st.sampled_from(PLAN_NAMES), data=st.data())
def test_invariant_never_an_invalid_item(name: str, data: st.DataObject) -> None:
    """Invariant: whatever the values, nothing escapes, and either ``validate`` reports a
    problem and ``build_item`` refuses, or ``build_item`` returns an item that is JSON, that the
    server's validator accepts, whose device names exist, and that reads back to the values."""
    spec = sim_specs()[name]
    keys = [p.name for p in spec.parameters] + ["nope", EXTRA_ARGS, EXTRA_KWARGS]
    values = data.draw(valid_values(spec))  # start valid, then break it (or not)
    for _ in range(data.draw(st.integers(0, 2))):
        key = data.draw(st.sampled_from(keys))
        if data.draw(st.booleans()):
            values.pop(key, None)
        else:
            values[key] = data.draw(WILD | JSON_VALUES)
    meta = data.draw(st.none() | st.dictionaries(st.text(max_size=3), JSON_VALUES) | WILD)
    errors = validate(spec, values, sim_devices())
    draft_item(spec, values, meta)  # never raises either
    try:
        item = build_item(spec, values, meta=meta, devices=sim_devices())
    except ItemInvalid as ex:
        assert ex.errors and (errors or "meta" in ex.errors)
        assert all(isinstance(m, str) and m for m in ex.errors.values())
        return
    assert errors == {}
    json.dumps(item, allow_nan=False)
    ok, msg = server_accepts(item)
    assert ok, msg
    assert _device_names_known(spec, item)
    empty = {p.name for p in spec.parameters if p.variadic} | {EXTRA_ARGS, EXTRA_KWARGS}
    assert values_from_item(spec, item) == {  # empty *args / **kwargs are the same as unset
        k: v for k, v in values.items() if not (k in empty and v in ([], {}))}


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(PLAN_NAMES), data=st.data())
def test_invariant_with_typed_text(name: str, data: st.DataObject) -> None:
    """The same invariant for values that come from text typed into literal fields (parsed with
    entry.parse_value, never eval): unparsable text never reaches build_item as a value."""
    spec = sim_specs()[name]
    values = data.draw(valid_values(spec))
    texts = st.text(max_size=30) | st.sampled_from(
        ["1", "1.0", "-1e3", "None", "null", "True", "'det1'", '["det1"]', "[1, 2]", "{'a': 1}",
         "nan", "1e999", "__import__('os')", "det1", "[", "{1: 2}"])
    for p in spec.parameters:
        if data.draw(st.booleans()):
            try:
                values[p.name] = parse_value(data.draw(texts))
            except ValueError:
                values.pop(p.name, None)
    try:
        item = build_item(spec, values, devices=sim_index())
    except ItemInvalid as ex:
        assert validate(spec, values, sim_index()) == ex.errors
        return
    ok, msg = server_accepts(item)
    assert ok, msg
    assert _device_names_known(spec, item)


# ----- server messages ---------------------------------------------------------------------
def test_server_field_errors_from_real_messages() -> None:
    num = ("Plan validation failed: 1 validation error for Model\nnum\n  Input should be a valid "
           "integer, unable to parse string as an integer [type=int_parsing, input_value='abc', "
           "input_type=str]\n    For further information visit https://errors.pydantic.dev")
    assert server_field_errors(num, ["detectors", "num"]) == {
        "num": "num: server says: Input should be a valid integer, unable to parse string as an "
               "integer"}
    ok, motors = server_accepts({"item_type": "plan", "name": "move_then_count",
                                 "args": [["motor3"]]})  # fmt: skip
    assert not ok
    assert server_field_errors(motors, ["motors"]) == {
        "motors": "motors: server says (item 1): Input should be 'motor1' or 'motor2'"}
    missing = "Plan validation failed: missing a required argument: 'detectors'\nPlan: {...}"
    assert server_field_errors(missing, ["detectors"]) == {
        "detectors": "detectors: server says: a value is required"}
    assert server_field_errors(None, ["x"]) == {}  # type: ignore[arg-type]
