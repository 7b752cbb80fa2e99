"""From form values to the item that is sent, and back (see :mod:`qs_gui.core.schema`).

Split from ``schema.py`` to keep each module to one concern: specs and validation there, item
layout here. The layout rule (why it is what it is) is in ``schema``'s module docstring.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from .check import json_problem
from .spec import (
    EXTRA_ARGS,
    EXTRA_KWARGS,
    KEYWORD_ONLY,
    POSITIONAL_ONLY,
    POSITIONAL_OR_KEYWORD,
    VAR_KEYWORD,
    VAR_POSITIONAL,
    PlanSpec,
)

__all__ = [
    "draft_item",
    "layout",
    "server_field_errors",
    "validate_meta",
    "values_from_item",
]


def validate_meta(meta: Any) -> str | None:
    """``meta`` must be a dictionary or a list of dictionaries (the server's rule)."""
    if meta is None:
        return None
    if isinstance(meta, dict) or (
        isinstance(meta, list) and all(isinstance(m, dict) for m in meta)
    ):
        problem = json_problem(meta)
        return f"meta: {problem}" if problem else None
    return "meta: must be a dictionary (or a list of dictionaries)"


# ----- item building -------------------------------------------------------------------------
def layout(spec: PlanSpec, values: Mapping[str, Any]) -> tuple[list, dict, str | None]:
    """(args, kwargs, first positional parameter that blocks the args, or None)."""
    positional = [p for p in spec.parameters if p.positional]
    var_pos = spec.of_kind(VAR_POSITIONAL)
    var_kw = spec.of_kind(VAR_KEYWORD)
    var_values = values.get(var_pos.name) if var_pos is not None else None
    extra_args = values.get(EXTRA_ARGS)
    tail = (var_values if isinstance(var_values, list) else []) + (
        extra_args if isinstance(extra_args, list) else [])
    need = len(positional) if tail else 0
    for i, p in enumerate(positional):
        if p.name in values and (p.required or p.kind == POSITIONAL_ONLY):
            need = max(need, i + 1)
    args: list[Any] = []
    gap = None
    for p in positional[:need]:
        if p.name in values:
            args.append(values[p.name])
        elif p.default_is_literal:
            args.append(p.default)
        else:
            gap = gap or p.name
            args.append(None)
    args.extend(tail)
    in_args = {p.name for p in positional[:need]}
    kwargs: dict[str, Any] = {}
    for p in spec.parameters:
        if p.name in values and p.name not in in_args and not p.variadic:
            kwargs[p.name] = values[p.name]
    for extra in (values.get(var_kw.name) if var_kw else None, values.get(EXTRA_KWARGS)):
        if isinstance(extra, dict):
            kwargs.update(extra)
    return args, kwargs, gap


def draft_item(spec: PlanSpec, values: Mapping[str, Any], meta: Any = None) -> dict[str, Any]:
    """The item these values make, valid or not (for display); never raises."""
    item: dict[str, Any] = {"item_type": spec.item_type, "name": spec.name}
    if spec.item_type == "plan" and isinstance(values, Mapping):
        args, kwargs, _ = layout(spec, values)
        if args:
            item["args"] = copy.deepcopy(args)
        if kwargs:
            item["kwargs"] = copy.deepcopy(kwargs)
    if meta is not None and meta != {} and meta != []:
        item["meta"] = copy.deepcopy(meta)
    return item


def values_from_item(spec: PlanSpec, item: Mapping[str, Any]) -> dict[str, Any]:
    """The form values of an item: the inverse of :func:`build_item` / :func:`draft_item`.

    Binds ``args``/``kwargs`` to the parameters the way Python binds a call. What has no place
    (too many positional values, unknown keywords, a keyword given twice) is kept under
    :data:`EXTRA_ARGS` / :data:`EXTRA_KWARGS`, so nothing is lost and ``validate`` reports it.
    Raises ValueError when ``args`` is not a list or ``kwargs`` not a dictionary.
    """
    args = item.get("args", [])
    kwargs = item.get("kwargs", {})
    args = [] if args is None else args
    kwargs = {} if kwargs is None else kwargs
    if not isinstance(args, list):
        raise ValueError("args: must be a list")
    if not isinstance(kwargs, dict):
        raise ValueError("kwargs: must be a dictionary")
    values: dict[str, Any] = {}
    positional = [p for p in spec.parameters if p.positional]
    var_pos, var_kw = spec.of_kind(VAR_POSITIONAL), spec.of_kind(VAR_KEYWORD)
    for i, v in enumerate(copy.deepcopy(args)):
        if i < len(positional):
            values[positional[i].name] = v
        else:
            key = var_pos.name if var_pos is not None else EXTRA_ARGS
            values.setdefault(key, []).append(v)
    by_name = {p.name: p for p in spec.parameters}
    for k, v in copy.deepcopy(kwargs).items():
        p = by_name.get(k)
        if p is not None and p.kind in (POSITIONAL_OR_KEYWORD, KEYWORD_ONLY):
            target = EXTRA_KWARGS if k in values else None  # also given in args: twice
            if target is None:
                values[k] = v
                continue
        elif var_kw is not None:  # unknown names, positional-only and *args/**kwargs names
            values.setdefault(var_kw.name, {})[k] = v
            continue
        values.setdefault(EXTRA_KWARGS, {})[k] = v
    return values


_PYDANTIC_LOC = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+)*)$")


def server_field_errors(message: str, names: list[str]) -> dict[str, str]:
    """Per-parameter lines of a server refusal, so the form can point at the field.

    The server's pydantic messages list each problem as a location line (``num`` or
    ``motors.0``) followed by an indented explanation (re-manager-protocol.md §8.1). Anything
    else (a missing argument, an unknown plan) stays in the general message only.
    """
    out: dict[str, str] = {}
    if not isinstance(message, str):
        return out
    lines = message.splitlines()
    for i, line in enumerate(lines[:-1]):
        m = _PYDANTIC_LOC.match(line.strip())
        if m and m.group(1) in names and lines[i + 1].startswith("  "):
            where = m.group(2).lstrip(".")
            text = lines[i + 1].strip().split(" [type=")[0]
            item = f" (item {int(where.split('.')[0]) + 1})" if where[:1].isdigit() else ""
            out.setdefault(m.group(1), f"{m.group(1)}: server says{item}: {text}")
    for name in names:
        if f"missing a required argument: '{name}'" in message:
            out.setdefault(name, f"{name}: server says: a value is required")
        if f"key='{name}'" in message:
            out.setdefault(name, f"{name}: server says: wrong type or out of range")
    return out
