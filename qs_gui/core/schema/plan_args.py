"""Repeated ``*args`` groups of scan-like plans: labelled rows, arity and motor-name checks.

Why this exists: bluesky's multi-motor plans take their motors as one flat ``*args`` list made
of repeated groups — ``motor, start, stop`` for ``scan``, ``motor, start, stop, num`` for
``grid_scan``, ``motor, [positions]`` for ``list_grid_scan``. The annotation (``__MOVABLE__ |
Any``, or none at all for ``grid_scan``) lets anything through, so the server accepts ``[motor,
-1]`` and a mistyped ``motr`` and the plan fails only at run time ("Wrong number of positional
arguments for 'inner_product'", "'str' object has no attribute 'name'"). Here the group is
known, so the editor can show one row per motor, say which value is missing, and flag a motor
name that is not in ``devices_allowed``.

Where the group comes from, in order:

1. **The parameter's description**, when it spells the group out (bluesky's docstrings do:
   "For one dimension, ``motor, start, stop``", "``motor1, position_list1,``").
2. **A small table of bluesky's well-known signatures** (:data:`KNOWN`), for plans whose profile
   says nothing (``grid_scan`` has neither annotation nor description in the simulated
   profile). The table also holds what a description cannot say: ``scan``'s legacy trailing
   ``num`` and ``grid_scan``'s legacy per-motor ``snake`` flags (bluesky 1.15 still accepts both).

The table is only used for plans from a ``bluesky`` module (or with no module given): a
beamline's own ``scan`` may mean something else. A ``*args`` annotated as a tuple
(``list_scan``: ``tuple[__MOVABLE__ | Any, list[Any]]``) already has its group in the type, which
the server enforces per element; each element is then one row and the type check owns arity.

Unknown motor names are *warnings* (:func:`args_warnings`), not errors: ``devices_allowed`` can
be stale or filtered per user group, so the operator may override. Arity and a value of the
wrong kind in a slot (a name where ``start`` belongs) are errors (:func:`args_problem`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .check import DeviceIndex
from .spec import VAR_POSITIONAL, ParamSpec, PlanSpec

__all__ = [
    "KNOWN",
    "ArgsPattern",
    "ArgsRow",
    "args_pattern",
    "args_problem",
    "args_warnings",
    "group_args",
    "pattern_from_description",
]

#: field name -> what it holds: "motor" (device name), "number", "int", "positions" (a list),
#: "bool"
_KINDS = {"motor": "motor", "num": "int", "snake": "bool", "positions": "positions"}
_ALIASES = {"position_list": "positions", "point": "positions", "points": "positions"}


@dataclass(frozen=True)
class ArgsPattern:
    """One repeated group of a plan's ``*args``.

    ``fields`` name the slots ("motor", "start", "stop"); ``trailing_num``: a final positional
    ``num`` is accepted when the ``num`` keyword is unset (``scan``'s legacy form);
    ``legacy_snake``: groups after the first may carry a trailing ``snake`` flag when
    ``snake_axes`` is unset (``grid_scan``'s legacy form). ``source``: "description", "table"
    or "annotation" (a tuple-typed ``*args``: one element per row).
    """

    fields: tuple[str, ...]
    trailing_num: bool = False
    legacy_snake: bool = False
    source: str = "table"

    def kind(self, field: str) -> str:
        return _KINDS.get(field, "number")

    @property
    def rest(self) -> tuple[str, ...]:
        """The slots after the motor ("start", "stop")."""
        return self.fields[1:]


_SCAN = ArgsPattern(("motor", "start", "stop"), trailing_num=True)
_INNER = ArgsPattern(("motor", "start", "stop"))
_GRID = ArgsPattern(("motor", "start", "stop", "num"), legacy_snake=True)
_LIST = ArgsPattern(("motor", "positions"))

#: bluesky.plans signatures (checked against bluesky 1.15's plans.py), by plan name.
KNOWN: dict[str, ArgsPattern] = {
    "scan": _SCAN,
    "rel_scan": _SCAN,
    "inner_product_scan": _INNER,
    "relative_inner_product_scan": _INNER,
    "grid_scan": _GRID,
    "rel_grid_scan": _GRID,
    "list_scan": _LIST,
    "rel_list_scan": _LIST,
    "list_grid_scan": _LIST,
    "rel_list_grid_scan": _LIST,
}


@dataclass(frozen=True)
class ArgsRow:
    """One motor's group: ``values`` are (field, value) pairs; ``missing`` the unfilled slots."""

    index: int  # 1-based motor number
    values: tuple[tuple[str, Any], ...]
    missing: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """"motor 1: motor, start -1, stop 1" (missing slots named at the end)."""
        parts = [_show(v) if f == "motor" else f"{f} {_show(v)}" for f, v in self.values]
        text = f"motor {self.index}: " + ", ".join(parts)
        return text + (f" (missing {_and(self.missing)})" if self.missing else "")


# ----- where the pattern comes from ----------------------------------------------------------
_TOKEN = re.compile(r"[A-Za-z_]+")


def pattern_from_description(text: str) -> ArgsPattern | None:
    """The group a ``*args`` description spells out ("``motor, start, stop``"), or None.

    Reads the comma-separated names from the first word starting with "motor" up to the next
    motor (the second group) or an ellipsis; ``[point1, point2, ...]`` is one "positions" slot.
    Digits are dropped ("start1" -> "start").
    """
    if not isinstance(text, str):
        return None
    start = re.search(r"\bmotor\w*\s*,", text)
    if start is None:
        return None
    fields: list[str] = []
    in_list = False
    line = text[start.start():].split("\n", 1)[0][:300]  # one group is on one line
    for raw in line.split(","):
        token = raw.strip().strip("`()").strip()
        if in_list:
            in_list = "]" not in token
            continue
        if token.startswith("["):
            fields.append("positions")
            in_list = "]" not in token
            continue
        if not token or token.startswith("..."):
            break
        words = _TOKEN.findall(token)
        if not words:
            break
        name = words[-1] if len(words) > 1 and words[0].lower() == "in" else words[0]
        name = name.rstrip("_").lower()
        if name.startswith("motor") and fields:
            break
        fields.append("motor" if name.startswith("motor") else _ALIASES.get(name, name))
        if len(fields) > 6:
            break
    if len(fields) < 2 or fields[0] != "motor":
        return None
    return ArgsPattern(tuple(fields), source="description")


def _table_applies(spec: PlanSpec) -> bool:
    return not spec.module or spec.module.startswith("bluesky")


def args_pattern(spec: PlanSpec) -> ArgsPattern | None:
    """The repeated group of ``spec``'s ``*args``, or None when it is not known."""
    p = spec.of_kind(VAR_POSITIONAL)
    if p is None:
        return None
    known = KNOWN.get(spec.name) if _table_applies(spec) else None
    if p.type.kind == "tuple" and p.type.args:
        fields = known.fields if known and len(known.fields) == len(p.type.args) else None
        fields = fields or ("motor",) + tuple(f"value {i}" for i in range(1, len(p.type.args)))
        return ArgsPattern(fields, source="annotation")
    described = pattern_from_description(p.description)
    if described is not None:
        if known is not None and known.fields == described.fields:
            return ArgsPattern(described.fields, known.trailing_num, known.legacy_snake,
                               "description")  # fmt: skip
        return described
    return known


# ----- grouping ------------------------------------------------------------------------------
def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 24 else text[:23] + "…"


def _and(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _split(pattern: ArgsPattern, args: list[Any], values: Mapping[str, Any]) -> tuple[
        list[list[tuple[str, Any]]], Any]:  # fmt: skip
    """Groups as (field, value) lists (the last may be short) and the legacy trailing num."""
    n = len(pattern.fields)
    trailing = None
    if pattern.trailing_num and values.get("num") is None and len(args) % n == 1 and args:
        trailing, args = args[-1], args[:-1]
    snake = pattern.legacy_snake and values.get("snake_axes") is None
    if snake and len(args) > n and (len(args) - n) % (n + 1) == 0 and (
            len(args) % n or not _motors_at(args, n)):  # fmt: skip
        groups = [list(zip(pattern.fields, args[:n], strict=True))]
        wide = (*pattern.fields, "snake")
        for i in range(n, len(args), n + 1):
            groups.append(list(zip(wide, args[i:i + n + 1], strict=True)))
        return groups, trailing
    groups = [list(zip(pattern.fields, args[i:i + n], strict=False))
              for i in range(0, len(args), n)]  # fmt: skip
    return groups, trailing


def _motors_at(args: list[Any], n: int) -> bool:
    return all(isinstance(args[i], str) for i in range(0, len(args), n))


def group_args(spec: PlanSpec, values: Mapping[str, Any]) -> list[ArgsRow]:
    """The ``*args`` of ``values`` as labelled rows ([] without a known group or args)."""
    pattern = args_pattern(spec)
    p = spec.of_kind(VAR_POSITIONAL)
    args = values.get(p.name) if p is not None else None
    if pattern is None or not isinstance(args, list) or not args:
        return []
    if pattern.source == "annotation":
        rows = []
        for i, element in enumerate(args, 1):
            parts = element if isinstance(element, list) else [element]
            pairs = tuple(zip(pattern.fields, parts, strict=False))
            rows.append(ArgsRow(i, pairs, pattern.fields[len(pairs):]))
        return rows
    groups, _ = _split(pattern, args, values)
    fields = pattern.fields
    return [ArgsRow(i, tuple(g), fields[len(g):]) for i, g in enumerate(groups, 1)]


# ----- checks --------------------------------------------------------------------------------
def _slot_problem(pattern: ArgsPattern, field: str, value: Any) -> str | None:
    kind = "bool" if field == "snake" else pattern.kind(field)
    if kind == "motor":
        return None if isinstance(value, str) else "a motor name"
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "a whole number"
    if kind == "bool":
        return None if isinstance(value, bool) else "True or False"
    if kind == "positions":
        return None if isinstance(value, list) else "a list of positions"
    return None if _is_number(value) else "a number"


def args_problem(spec: PlanSpec, values: Mapping[str, Any],
                 prefix: str | None = None) -> str | None:
    """What is wrong with the groups of ``spec``'s ``*args`` in plain words, or None.

    "scan: each motor needs start and stop — got motor, -1 (missing stop)" (``prefix`` replaces
    the plan name: ``validate`` starts its messages with the parameter). Only errors that would
    fail at run time are reported; unknown motor names are :func:`args_warnings`.
    """
    pattern = args_pattern(spec)
    p = spec.of_kind(VAR_POSITIONAL)
    args = values.get(p.name) if p is not None else None
    if pattern is None or pattern.source == "annotation" or p is None:
        return None
    name, n = spec.name if prefix is None else prefix, len(pattern.fields)
    if not isinstance(args, list) or not args:
        return f"{name}: add at least one motor ({', '.join(pattern.fields)})"
    groups, trailing = _split(pattern, args, values)
    for i, group in enumerate(groups, 1):
        where = f" (motor {i})" if len(groups) > 1 else ""
        for field, value in group:
            want = _slot_problem(pattern, field, value)
            if want:
                return (f"{name}: the {field} of each motor must be {want} — got "
                        f"{repr(value)[:40]}{where}")  # fmt: skip
        if len(group) < n:
            got = ", ".join(_show(v) for _, v in group)
            return (f"{name}: each motor needs {_and(pattern.rest)} — got {got} "
                    f"(missing {_and(pattern.fields[len(group):])})")  # fmt: skip
    if trailing is not None and not (isinstance(trailing, int) and not isinstance(trailing, bool)
                                     and trailing > 0):  # fmt: skip
        return f"{name}: the last value is taken as num and must be a whole number ≥ 1"
    if pattern.trailing_num and values.get("num") is None and trailing is None:
        return f"{name}: num (the number of points) is required"
    return None


def _motor_values(spec: PlanSpec, values: Mapping[str, Any]) -> list[tuple[int, str]]:
    return [(row.index, v) for row in group_args(spec, values)
            for f, v in row.values if f == "motor" and isinstance(v, str)]  # fmt: skip


def args_warnings(spec: PlanSpec, values: Mapping[str, Any],
                  devices: DeviceIndex | Mapping[str, Any] | None) -> dict[str, str]:
    """``{*args parameter: message}`` for motor names not in ``devices_allowed`` (or not
    movable), whatever the annotation's ``| Any`` allows; {} when devices are unknown.

    A warning, not an error: the operator may know better than a stale device list.
    """
    index = devices if isinstance(devices, DeviceIndex) else DeviceIndex.from_allowed(devices)
    p: ParamSpec | None = spec.of_kind(VAR_POSITIONAL)
    if index is None or p is None:
        return {}
    problems = []
    for _, motor in _motor_values(spec, values):
        problem = index.problem(motor, "movable")
        if problem is None:
            continue
        if motor not in index.flags:
            close = difflib.get_close_matches(motor, index.names("movable"), n=1)
            problem += f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(problem)
    if not problems:
        return {}
    return {p.name: f"{p.name}: {'; '.join(problems)} — the plan will fail unless the server "
                    f"knows {'it' if len(problems) == 1 else 'them'}"}  # fmt: skip
