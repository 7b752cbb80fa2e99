"""Shared test data and hypothesis strategies for the plan schema (no Qt; holds no tests).

``sim_plans()`` / ``sim_devices()`` are real replies of RE Manager 0.0.25 (sim profile, group
"primary"), captured into ``tests/data/`` with ``Sandbox(open_environment=True)``.
``valid_values(spec, index)`` draws form values that the *server* must accept, built from the
parameter's annotation independently of ``qs_gui.core.schema.check``.
"""

from __future__ import annotations

import json
import string
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from qs_gui.core.schema import (
    VAR_KEYWORD,
    VAR_POSITIONAL,
    ArgsPattern,
    DeviceIndex,
    ParamSpec,
    PlanSpec,
    TypeSpec,
    args_pattern,
    plan_specs,
)

DATA = Path(__file__).resolve().parents[1] / "data"


@cache
def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def sim_plans() -> dict[str, Any]:
    return _load("sim_plans_allowed.json")["plans_allowed"]


def sim_devices() -> dict[str, Any]:
    return _load("sim_devices_allowed.json")["devices_allowed"]


@cache
def sim_specs() -> dict[str, PlanSpec]:
    return plan_specs(sim_plans())


@cache
def sim_index() -> DeviceIndex:
    index = DeviceIndex.from_allowed(sim_devices())
    assert index is not None
    return index


def _device_tree(devices: dict, prefix: str = "") -> dict[str, dict]:
    """path -> entry, walked here (not with DeviceIndex) so the tests check it independently."""
    out = {}
    for name, entry in devices.items():
        out[prefix + name] = entry
        out.update(_device_tree(entry.get("components") or {}, f"{prefix}{name}."))
    return out


def devices_with(flag: str) -> list[str]:
    key = {"readable": "is_readable", "movable": "is_movable", "flyable": "is_flyable"}.get(flag)
    return sorted(p for p, e in _device_tree(sim_devices()).items() if key is None or e.get(key))


SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=64), SAFE_TEXT,
)  # fmt: skip
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SAFE_TEXT, inner, max_size=3),
    max_leaves=8,
)


def _numbers(kind: str, lo: Any, hi: Any) -> st.SearchStrategy:
    ints = st.integers(int(lo) if lo is not None else -10**9, int(hi) if hi is not None else 10**9)
    if kind == "int":
        return ints
    floats = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return floats | ints


def for_type(t: TypeSpec, p: ParamSpec | None = None) -> st.SearchStrategy:
    """Values of type ``t`` that the server accepts (numbers within p.min/p.max)."""
    lo, hi = (p.min, p.max) if p is not None else (None, None)
    k = t.kind
    if k in ("int", "float"):
        return _numbers(k, lo, hi)
    if k == "bool":
        return st.booleans()
    if k in ("str", "callable"):
        return SAFE_TEXT
    if k == "none":
        return st.none()
    if k in ("literal", "enum"):
        return st.sampled_from(t.choices)
    if k == "device":
        return st.sampled_from(devices_with(t.flag))
    if k == "plan":
        return st.sampled_from(sorted(sim_plans()))
    if k == "list":
        return st.lists(for_type(t.args[0], p), max_size=4)
    if k == "tuple":
        return st.tuples(*(for_type(a, p) for a in t.args)).map(list)
    if k == "dict":
        return st.dictionaries(SAFE_TEXT, for_type(t.args[1], p), max_size=3)
    if k == "union":
        return st.one_of(*(for_type(a, p) for a in t.args))
    if k == "scalar":
        return JSON_SCALARS
    if k == "unknown":
        return SAFE_TEXT
    if lo is not None or hi is not None:  # Any with a range: numbers only
        return _numbers("float", lo, hi)
    return JSON_VALUES


_IDENT = st.text(string.ascii_lowercase + "_", min_size=1, max_size=8)


@st.composite
def valid_values(draw: st.DrawFn, spec: PlanSpec) -> dict[str, Any]:
    """Form values (only parameters that are set) that make a valid item for ``spec``."""
    named = {p.name for p in spec.parameters}
    values: dict[str, Any] = {}
    for p in spec.parameters:
        if p.kind == VAR_POSITIONAL:
            pattern = args_pattern(spec)
            if pattern is not None:  # (motor, start, stop…) groups, motors that exist
                groups = draw(st.lists(_group(pattern), min_size=1, max_size=3))
                # an annotated *args (list_scan) takes the groups as lists; else flat
                values[p.name] = (groups if pattern.source == "annotation" else
                                  [v for g in groups for v in g])
                continue
            items = draw(st.lists(for_type(p.type, p), max_size=4))
            if items:
                values[p.name] = items
        elif p.kind == VAR_KEYWORD:
            keys = _IDENT.filter(lambda k: k not in named)
            extra = draw(st.dictionaries(keys, for_type(p.type, p), max_size=3))
            if extra:
                values[p.name] = extra
        elif p.required or draw(st.booleans()):
            values[p.name] = draw(for_type(p.type, p))
    pattern = args_pattern(spec)
    if pattern is not None and pattern.trailing_num and values.get("num") is None:
        values["num"] = draw(st.integers(1, 100))  # scan needs num (or a trailing one)
    return values


def _group(pattern: ArgsPattern) -> st.SearchStrategy:
    """One (motor, start, stop…) group of a scan-like ``*args``, as bluesky needs it."""
    slots = {"motor": st.sampled_from(devices_with("movable")), "int": st.integers(1, 100),
             "positions": st.lists(_numbers("float", -100, 100), min_size=1, max_size=4)}
    return st.tuples(*(slots.get(pattern.kind(f), _numbers("float", -100, 100))
                       for f in pattern.fields)).map(list)
