"""Plan schema from ``plans_allowed`` -> parameter specs -> validation -> the item to send.

Pure Python (no Qt), so every rule is unit-tested and fuzzed without a display; the editor
widgets in ``qs_gui.ui.editor`` are thin views over it.

The model, and why:

* A form's state is ``values``: a dict ``{parameter name: value}`` holding **only the parameters
  the operator set**. A parameter that is absent uses its default, which is shown in the form
  but never sent, so the plan's own default (possibly changed later on the server, or defined in
  a decorator: ``default_defined_in_decorator``) stays in charge. ``*args`` is a list value,
  ``**kwargs`` a dict value.
* :func:`build_item` is the only way to an item that is sent, and it refuses (raises
  :class:`ItemInvalid`) whenever :func:`validate` reports a problem. **Invariant**: an item
  returned by ``build_item`` has no problem that ``validate`` knows about, and
  ``values_from_item(spec, build_item(spec, values)) == values``. :func:`draft_item` builds the
  same dict without the check, for the JSON view of a form that is still being filled in.
* Layout of the item: required positional parameters go to ``args`` in order, followed by the
  ``*args`` values; every other parameter that is set goes to ``kwargs`` by name
  (``count(["det1"], num=5)``, like ``BPlan("count", ["det1"], num=5)``). Sending optional
  parameters by keyword means an unset default never has to be sent to keep later values in
  place. Only when ``*args`` values follow must every positional parameter be in ``args``; an
  unset one is then filled with its (literal) default.
* Defaults arrive as strings (``"1"``, ``"['det1', 'det2']"``). They are read with
  :func:`qs_gui.core.entry.parse_value` (JSON or a Python literal, never ``eval``); a default
  that is not a literal (``"<function ...>"``) is shown as text and can never be sent.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from .check import DeviceIndex, check_range, check_value, json_problem, range_text
from .items import draft_item, layout, server_field_errors, validate_meta, values_from_item
from .plan_args import ArgsPattern, ArgsRow, args_pattern, args_problem, args_warnings, group_args
from .spec import (
    EXTRA_ARGS,
    EXTRA_KWARGS,
    KEYWORD_ONLY,
    POSITIONAL_ONLY,
    POSITIONAL_OR_KEYWORD,
    VAR_KEYWORD,
    VAR_POSITIONAL,
    ItemInvalid,
    ParamSpec,
    PlanSpec,
    instruction_spec,
    param_spec,
    plan_spec,
    plan_specs,
)
from .types import TypeSpec, describe, parse_annotation, strip_optional

__all__ = [
    "EXTRA_ARGS",
    "EXTRA_KWARGS",
    "KEYWORD_ONLY",
    "POSITIONAL_ONLY",
    "POSITIONAL_OR_KEYWORD",
    "VAR_KEYWORD",
    "VAR_POSITIONAL",
    "ArgsPattern",
    "ArgsRow",
    "DeviceIndex",
    "ItemInvalid",
    "ParamSpec",
    "PlanSpec",
    "TypeSpec",
    "args_pattern",
    "args_problem",
    "args_warnings",
    "build_item",
    "describe",
    "draft_item",
    "group_args",
    "instruction_spec",
    "param_spec",
    "parse_annotation",
    "plan_spec",
    "plan_specs",
    "server_field_errors",
    "strip_optional",
    "validate",
    "validate_meta",
    "values_from_item",
    "validate_warnings",
]


# ----- validation ----------------------------------------------------------------------------
def _index(devices: DeviceIndex | Mapping[str, Any] | None) -> DeviceIndex | None:
    return devices if isinstance(devices, DeviceIndex) else DeviceIndex.from_allowed(devices)


def _check_one(p: ParamSpec, value: Any, devices: DeviceIndex | None,
               plans: frozenset[str] | None, path: str = "") -> str | None:  # fmt: skip
    problem = check_value(p.type, value, devices, plans, path)
    if problem:
        if problem.startswith(("must be ", f"{path} must be ")) and range_text(p.min, p.max):
            return problem + range_text(p.min, p.max)
        return problem
    problem = check_range(value, p.min, p.max)
    if problem:
        return f"{path} {problem}".strip()
    return json_problem(value)


def _check_param(p: ParamSpec, value: Any, devices: DeviceIndex | None,
                 plans: frozenset[str] | None, named: set[str]) -> str | None:  # fmt: skip
    if p.kind == VAR_POSITIONAL:
        if not isinstance(value, list):
            return f"must be a list of {describe(p.type, plural=True)}"
        for i, v in enumerate(value):
            problem = _check_one(p, v, devices, plans, f"item {i + 1}")
            if problem:
                return problem
        return None
    if p.kind == VAR_KEYWORD:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            return "must be a dictionary of keyword values"
        for k, v in value.items():
            if k in named:
                return f"{k!r} is a named parameter: set it in its own field"
            problem = _check_one(p, v, devices, plans, repr(k))
            if problem:
                return problem
        return None
    return _check_one(p, value, devices, plans)


def validate(
    spec: PlanSpec,
    values: Mapping[str, Any],
    devices: DeviceIndex | Mapping[str, Any] | None = None,
    *,
    plans: frozenset[str] | None = None,
) -> dict[str, str]:
    """Problems of ``values`` for ``spec``, in parameter order: ``{parameter: message}``.

    Messages start with the parameter name ("num: must be an integer ≥ 1", "detectors: unknown
    device 'x'"), so the first one is a complete sentence for a status line. Device names are
    checked only when ``devices`` (devices_allowed, or a :class:`DeviceIndex`) is given. The
    groups of a scan-like ``*args`` are checked too (:mod:`.plan_args`); its motor names that
    the annotation's ``| Any`` lets through are only :func:`validate_warnings`, never errors here.
    """
    if not isinstance(values, Mapping):
        return {"values": "values: expected a dictionary of parameter values"}
    index = _index(devices)
    errors: dict[str, str] = {}
    named = {p.name for p in spec.parameters if p.kind in (POSITIONAL_OR_KEYWORD, KEYWORD_ONLY)}
    for p in spec.parameters:
        if p.name not in values:
            if p.required:
                errors[p.name] = f"{p.name}: a value is required"
            continue
        problem = _check_param(p, values[p.name], index, plans, named)
        if problem:
            errors[p.name] = f"{p.name}: {problem}"
    var_pos = spec.of_kind(VAR_POSITIONAL)
    if var_pos is not None and var_pos.name not in errors:
        problem = args_problem(spec, values, var_pos.name)  # (motor, start, stop) groups
        if problem:
            errors[var_pos.name] = problem
    known = {p.name for p in spec.parameters}
    for key in values:
        if key not in known and key not in (EXTRA_ARGS, EXTRA_KWARGS):
            errors[str(key)] = f"{key}: is not a parameter of {spec.name}{_hint(key, named)}"
    if EXTRA_ARGS in values and not _empty(values[EXTRA_ARGS], list):
        count = sum(1 for p in spec.parameters if p.positional)
        errors[EXTRA_ARGS] = (
            f"args: too many positional values; {spec.name} takes at most {count}")
    extra_kwargs = values.get(EXTRA_KWARGS)
    if EXTRA_KWARGS in values and not _empty(extra_kwargs, dict):
        key = next(iter(extra_kwargs), "?") if isinstance(extra_kwargs, dict) else "?"
        why = ("is given twice (in args and kwargs)" if key in known
               else f"is not a parameter of {spec.name}{_hint(key, named)}")  # fmt: skip
        errors[EXTRA_KWARGS] = f"kwargs: {key!r} {why}"
    if spec.item_type == "instruction" and values:
        errors.setdefault("values", f"{spec.name}: instructions take no parameters")
    if not errors:
        _, _, gap = layout(spec, values)
        if gap:
            errors[gap] = f"{gap}: must be set when *args values follow it"
    return errors


def validate_warnings(
    spec: PlanSpec, values: Mapping[str, Any], devices: DeviceIndex | Mapping[str, Any] | None,
) -> dict[str, str]:
    """Problems the operator may override: ``{parameter: message}`` (a motor in a scan's
    ``*args`` that is not in ``devices_allowed``, whatever ``| Any`` says)."""
    if not isinstance(values, Mapping):
        return {}
    return args_warnings(spec, values, _index(devices))


def _empty(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and not value


def _hint(key: Any, names: set[str]) -> str:
    close = difflib.get_close_matches(str(key), sorted(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def build_item(
    spec: PlanSpec,
    values: Mapping[str, Any],
    *,
    meta: Any = None,
    devices: DeviceIndex | Mapping[str, Any] | None = None,
    plans: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The item to send; raises :class:`ItemInvalid` when ``validate`` finds any problem."""
    errors = validate(spec, values, devices, plans=plans)
    meta_problem = validate_meta(meta)
    if meta_problem:
        errors["meta"] = meta_problem
    if errors:
        raise ItemInvalid(errors)
    return draft_item(spec, values, meta)
