"""parse_value / parse_entry (an item's structure) / plan_signature_hint, no Qt."""

from __future__ import annotations

import builtins
import json
import math
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qs_gui.core.schema.values import (
    MAX_FIELD_CHARS,
    EntryResult,
    parse_entry,
    parse_value,
    plan_signature_hint,
)

# `count` exactly as re-manager-protocol.md §5.2 shows it (plans_allowed, group "primary").
COUNT = json.loads(
    r"""{"description": "Take one or more readings from detectors.", "module": "bluesky.plans", "name": "count",
 "parameters": [
  {"annotation": {"type": "collections.abc.Sequence[__READABLE__]"}, "convert_device_names": true, "description": "list of 'readable' objects", "kind": {"name": "POSITIONAL_OR_KEYWORD", "value": 1}, "name": "detectors"},
  {"annotation": {"type": "int | None"}, "default": "1", "description": "number of readings to take; default is 1\n\nIf None, …", "kind": {"name": "POSITIONAL_OR_KEYWORD", "value": 1}, "name": "num"},
  {"annotation": {"type": "float | collections.abc.Iterable[float]"}, "default": "0.0", "description": "Time delay in seconds between successive readings; …", "kind": {"name": "POSITIONAL_OR_KEYWORD", "value": 1}, "name": "delay"},
  {"default": "None", "description": "hook for customizing action of inner loop …", "kind": {"name": "KEYWORD_ONLY", "value": 3}, "name": "per_shot"},
  {"annotation": {"type": "dict[str, typing.Any] | None"}, "default": "None", "description": "metadata", "kind": {"name": "KEYWORD_ONLY", "value": 3}, "name": "md"}],
 "properties": {"is_generator": true}}"""  # noqa: E501
)


def _param(name: str, kind: str, annotation: str | None = None, **extra: Any) -> dict:
    values = {"POSITIONAL_ONLY": 0, "POSITIONAL_OR_KEYWORD": 1, "VAR_POSITIONAL": 2}
    values |= {"KEYWORD_ONLY": 3, "VAR_KEYWORD": 4}
    p: dict[str, Any] = {"name": name, "kind": {"name": kind, "value": values[kind]}, **extra}
    if annotation:
        p["annotation"] = {"type": annotation}
    return p


# `scan` and `mv` as the sim profile's plans_allowed reports them (descriptions trimmed).
SCAN = {
    "name": "scan",
    "description": "Scan over one multi-motor trajectory.",
    "parameters": [
        _param("detectors", "POSITIONAL_OR_KEYWORD", "collections.abc.Sequence[__READABLE__]"),
        _param("args", "VAR_POSITIONAL", "__MOVABLE__ | typing.Any"),
        _param("num", "KEYWORD_ONLY", "int | None", default="None"),
        _param("per_step", "KEYWORD_ONLY", default="None"),
        _param("md", "KEYWORD_ONLY", "dict[str, typing.Any] | None", default="None"),
    ],
}
MV = {
    "name": "mv",
    "description": "Move one or more devices to a setpoint. Wait for all to complete.",
    "parameters": [
        _param("args", "VAR_POSITIONAL", "__MOVABLE__ | typing.Any"),
        _param("group", "KEYWORD_ONLY", "collections.abc.Hashable | None", default="None"),
        _param("timeout", "KEYWORD_ONLY", "float | None", default="None"),
        _param("kwargs", "VAR_KEYWORD"),
    ],
}
def plan(args: str = "", kwargs: str = "", meta: str = "", name: str = "count") -> EntryResult:
    return parse_entry("plan", name, args, kwargs, meta)


# ----- valid items -------------------------------------------------------------------------
def test_count_positional_and_keyword() -> None:
    r = plan('[["det1", "det2"]]', '{"num": 5, "delay": 0.5}')
    assert r.errors == {} and r.first_error is None
    assert r.item == {
        "item_type": "plan",
        "name": "count",
        "args": [["det1", "det2"]],
        "kwargs": {"num": 5, "delay": 0.5},
    }
    assert plan('[["det1"], 3, 0.1]').item["args"] == [["det1"], 3, 0.1]
    assert plan("", '{"detectors": ["det1"]}').item == {
        "item_type": "plan",
        "name": "count",
        "kwargs": {"detectors": ["det1"]},
    }


def test_empty_fields_are_omitted_and_meta_kept() -> None:
    assert plan('[["det1"]]', "  ", "\n").item == {
        "item_type": "plan",
        "name": "count",
        "args": [["det1"]],
    }
    r = plan('[["det1"]]', "{}", '{"sample": "Si"}')
    assert r.item == {
        "item_type": "plan",
        "name": "count",
        "args": [["det1"]],
        "meta": {"sample": "Si"},
    }


def test_scan_with_var_positional_and_keyword_only() -> None:
    r = plan('[["det1"], "motor", -1, 1]', '{"num": 11}', name="scan")
    assert r.errors == {}
    assert r.item["args"] == [["det1"], "motor", -1, 1] and r.item["kwargs"] == {"num": 11}


def test_mv_accepts_any_keyword_through_var_keyword() -> None:
    r = plan('["motor1", 5, "motor2", -2.5]', '{"timeout": 10, "wait": true}', name="mv")
    assert r.errors == {} and r.item["kwargs"] == {"timeout": 10, "wait": True}


def test_instruction_queue_stop() -> None:
    r = parse_entry("instruction", "queue_stop", "", "", "")
    assert r.item == {"item_type": "instruction", "name": "queue_stop"}


def test_without_plans_allowed_any_plan_name_is_accepted() -> None:
    r = parse_entry("plan", " my_plan ", "[1]", "", "")
    assert r.item == {"item_type": "plan", "name": "my_plan", "args": [1]}


# ----- errors ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"args": '{"a": 1}'}, {"args": 'args: expected a JSON list, e.g. [["det1"], 3]'}),
        ({"args": '"det1"'}, {"args": 'args: expected a JSON list, e.g. [["det1"], 3]'}),
        ({"args": '[["det1"]]', "kwargs": '{"num" 7}'},
         {"kwargs": "kwargs: line 1, column 8: Expecting ':' delimiter"}),
        ({"args": '[["det1"]]', "kwargs": '{"num": 3 "delay": 1}'},
         {"kwargs": "kwargs: line 1, column 11: Expecting ',' delimiter"}),
        ({"args": '[["det1"]]', "kwargs": "[3]"},
         {"kwargs": 'kwargs: expected a JSON object, e.g. {"num": 3}'}),
        ({"args": '[["det1"]]', "kwargs": "{1: 3}"},
         {"kwargs": "kwargs: line 1, column 2: object keys must be strings"}),
        ({"args": '[["det1"]]', "meta": "[1]"}, {"meta": "meta: must be a JSON object"}),
        ({"args": '[["det1"]]', "meta": '"x"'}, {"meta": "meta: must be a JSON object"}),
        ({"name": "  "}, {"name": "name: enter a plan name"}),
        ({"name": "my plan"}, {"name": "name: 'my plan' contains spaces; plan names have none"}),
    ],
)  # fmt: skip
def test_error_messages(fields: dict[str, str], expected: dict[str, str]) -> None:
    r = plan(**fields)
    assert r.item is None
    assert r.errors == expected
    assert r.first_error == next(iter(expected.values()))


def test_errors_are_ordered_by_field_and_item_is_none() -> None:
    r = parse_entry("plan", "my plan", "[", "{", "1")
    assert list(r.errors) == ["name", "args", "kwargs", "meta"]
    assert r.first_error == r.errors["name"] and r.item is None


def test_instruction_errors() -> None:
    r = parse_entry("instruction", "count", "", "", "")
    assert r.errors == {
        "name": "name: 'count' is not an instruction (the only instruction is 'queue_stop')"
    }
    r = parse_entry("instruction", "queue_stop", "[1]", '{"a": 1}', "")
    assert r.errors == {
        "args": "args: the queue_stop instruction takes no parameters",
        "kwargs": "kwargs: the queue_stop instruction takes no parameters",
    }
    assert parse_entry("function", "f", "", "", "").errors["item_type"].startswith("item_type:")


# ----- literal conveniences and safety ------------------------------------------------------
def test_python_literal_conveniences() -> None:
    r = plan("[('det1', 'det2'), 3,]", "{'delay': 0.5, 'md': {'ok': True, 'x': None, 'y': False}}")
    assert r.errors == {}
    assert r.item["args"] == [["det1", "det2"], 3]
    assert r.item["kwargs"] == {"delay": 0.5, "md": {"ok": True, "x": None, "y": False}}
    assert parse_value("[true, null, False, -1.5, +2]") == [True, None, False, -1.5, 2]
    assert parse_value("  \n  ['a']") == ["a"]  # leading indentation is not a syntax error


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('x')",
        "[__import__('os').system('x')]",
        "().__class__",
        "open('/etc/passwd')",
        "[lambda: 1]",
        "[1 + 1]",
        "{1, 2}",
        "[b'x']",
        "[1j]",
        "[f'{1}']",
        "[...]",
        "{**{'a': 1}}",
    ],
)
def test_no_evaluation(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    monkeypatch.setattr(builtins, "eval", lambda *a, **k: calls.append(a))
    r = plan(text)
    assert r.item is None and r.errors["args"].startswith("args: ")
    assert calls == []


def test_function_call_message_names_the_position() -> None:
    r = plan("__import__('os').system('x')")
    assert r.errors == {
        "args": "args: line 1, column 1: a function call is not allowed — only JSON or Python "
        "literal values"
    }


@pytest.mark.parametrize(
    "text", ["[NaN]", "[Infinity]", "[-Infinity]", "[1e999]", "[float('nan')]"]
)
def test_non_finite_numbers_are_refused(text: str) -> None:
    assert plan(text).item is None


def test_size_and_depth_limits() -> None:
    big = "[" + " " * MAX_FIELD_CHARS + "]"
    assert plan(big).errors == {
        "args": f"args: too long ({len(big):,} characters; the limit is 1 MB)"
    }
    assert plan("[" * 100_000 + "]" * 100_000).item is None
    assert plan("[" * 150 + "]" * 150).item is None  # valid JSON, but too deep
    assert plan("[" + "1" * 5000 + "]").item is None  # beyond Python's int digit limit


def test_unicode_and_multiline() -> None:
    r = plan('[\n  ["det1"]\n]', "", '{"sample": "Sí — 試料"}')
    assert r.item["meta"] == {"sample": "Sí — 試料"}
    assert plan('[\n  ["det1"],\n  3 4\n]').errors["args"].startswith("args: line 3, column")


# ----- item -> texts, signature -------------------------------------------------------------
def test_plan_signature_hint() -> None:
    assert (
        plan_signature_hint(COUNT)
        == "count(detectors, num=1, delay=0.0, *, per_shot=None, md=None)"
    )
    assert plan_signature_hint(SCAN) == "scan(detectors, *args, num=None, per_step=None, md=None)"
    assert plan_signature_hint(MV) == "mv(*args, group=None, timeout=None, **kwargs)"
    spec = {
        "name": "p",
        "parameters": [
            _param("a", "POSITIONAL_ONLY"),
            _param("b", "POSITIONAL_OR_KEYWORD", default="'x' * 40"),
        ],
    }
    assert plan_signature_hint(spec) == "p(a, /, b='x' * 40)"
    spec["parameters"][1]["default"] = "[" + "1, " * 30 + "]"
    assert plan_signature_hint(spec).endswith("…)")
    assert plan_signature_hint({"parameters": "junk"}) == "plan()"


# ----- properties ---------------------------------------------------------------------------
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
    max_leaves=20,
)  # fmt: skip
_TEXT = st.one_of(
    st.text(),
    st.text(alphabet="[]{}()\"',:.-+ 0123456789eE\nTrueFalsNnlx_ijb"),
    _JSON.map(json.dumps),
    _JSON.map(repr),
)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


@settings(max_examples=300, deadline=None)
@given(
    item_type=st.sampled_from(["plan", "instruction", "x"]),
    name=st.one_of(st.text(), st.sampled_from(["count", "scan", "mv", "queue_stop"])),
    args=_TEXT,
    kwargs=_TEXT,
    meta=_TEXT,
)
def test_any_text_never_raises(
    item_type: str, name: str, args: str, kwargs: str, meta: str
) -> None:
    r = parse_entry(item_type, name, args, kwargs, meta)
    assert isinstance(r.errors, dict) and all(isinstance(v, str) and v for v in r.errors.values())
    assert (r.item is None) == bool(r.errors)
    if r.item is not None:
        assert isinstance(r.item, dict)
        json.dumps(r.item, allow_nan=False)
        assert r.item["item_type"] == item_type and r.item["name"] == name.strip()


@settings(max_examples=200, deadline=None)
@given(value=_JSON)
def test_json_and_python_spellings_parse_to_the_same_value(value: Any) -> None:
    assert _equal(parse_value(json.dumps(value)), value)
    assert _equal(parse_value(repr(value)), value)


@settings(max_examples=100, deadline=None)
@given(plans=st.dictionaries(st.sampled_from(["count", "p"]), _JSON, max_size=2))
def test_malformed_plans_never_break_the_signature_hint(plans: Any) -> None:
    for spec in plans.values():
        assert isinstance(plan_signature_hint(spec), str)
