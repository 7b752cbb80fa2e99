"""Checking one parameter value against its :class:`TypeSpec`, devices and min/max, in plain words.

Why the rules are what they are (they mirror the server so nothing we accept is refused later):

* The server validates with pydantic and then ``_compare_in_out``: an ``int`` parameter refuses
  ``1.0`` (pydantic makes it ``1``, and the comparison then fails), a ``float`` parameter accepts
  ``1``, ``str`` refuses numbers, a ``Sequence[str]`` refuses a bare string. Bools are refused
  where numbers are expected (we are stricter than pydantic's lax mode on purpose: a checkbox
  value in a number field is a mistake).
* Device names are the gap (re-manager-protocol.md §8.4): for ``__READABLE__`` & co the server
  only checks ``str`` and an unknown name fails at run time. So names are checked here against
  ``devices_allowed``, including the readable/movable/flyable flags and dotted component paths
  (``det1.val``), which the worker resolves with ``getattr``.
* Custom lists (``Motors``) are enums on the server: only the listed names pass.
* ``min``/``max`` apply to every number inside the value, as in the server's ``_check_ranges``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .types import TypeSpec, _choices_text, describe

__all__ = ["DeviceIndex", "check_range", "check_value", "json_problem", "range_text"]

_MAX_COMPONENT_DEPTH = 16
_FLAG_KEYS = {"readable": "is_readable", "movable": "is_movable", "flyable": "is_flyable"}


@dataclass(frozen=True)
class DeviceIndex:
    """Every device and component path in ``devices_allowed`` with its flags.

    ``flags[path]`` is the set of "readable"/"movable"/"flyable" that the entry reports;
    ``top`` lists the top-level names in server order (components are listed after their device
    in :meth:`names`).
    """

    flags: dict[str, frozenset[str]] = field(default_factory=dict)
    top: tuple[str, ...] = ()

    @classmethod
    def from_allowed(cls, devices: Mapping[str, Any] | None) -> DeviceIndex | None:
        """None when the device list is not known (names are then only checked to be text)."""
        if not isinstance(devices, Mapping):
            return None
        flags: dict[str, frozenset[str]] = {}

        def walk(prefix: str, entries: Mapping[str, Any], depth: int) -> None:
            for name, entry in entries.items():
                if not isinstance(name, str) or not isinstance(entry, Mapping):
                    continue
                path = f"{prefix}{name}"
                flags[path] = frozenset(f for f, k in _FLAG_KEYS.items() if entry.get(k) is True)
                comps = entry.get("components")
                if isinstance(comps, Mapping) and depth < _MAX_COMPONENT_DEPTH:
                    walk(path + ".", comps, depth + 1)

        walk("", devices, 0)
        top = tuple(n for n, e in devices.items() if isinstance(n, str) and isinstance(e, Mapping))
        return cls(flags, top)

    def names(self, flag: str = "", components: bool = True) -> list[str]:
        """Names having ``flag`` ("" = any device); components follow their parent device."""
        out = []
        for path, fl in self.flags.items():
            if (components or "." not in path) and (not flag or flag in fl):
                out.append(path)
        return out

    def problem(self, name: str, flag: str) -> str | None:
        """Why ``name`` cannot be used as a device with ``flag``, or None."""
        if name not in self.flags:
            return f"unknown device {name!r}"
        if flag and flag not in self.flags[name]:
            return f"{name!r} is not a {flag} device"
        return None


def json_problem(value: Any) -> str | None:
    """Values must survive ``json.dumps`` without NaN/Infinity (what goes on the wire)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as ex:
        text = str(ex).split("\n")[0][:120]
        return "not a valid JSON value" + (f" ({text})" if text else "")
    return None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    return _is_int(v)


def _where(path: str) -> str:
    return f"{path} " if path else ""


def check_value(
    t: TypeSpec,
    value: Any,
    devices: DeviceIndex | None = None,
    plans: frozenset[str] | None = None,
    path: str = "",
    depth: int = 0,
) -> str | None:
    """The first problem with ``value`` for type ``t`` ("must be an integer"), or None.

    ``path`` names the element inside the value ("item 2"), so nested errors say where they are.
    """
    if depth > 64:
        return f"{_where(path)}is nested too deeply"
    kind = t.kind
    if kind in ("any", "unknown"):
        return None
    if kind == "none":
        return None if value is None else f"{_where(path)}must be None"
    if kind == "scalar":
        # a tuple is hashable here but travels as a JSON list, which the server refuses
        ok = not isinstance(value, list | tuple | dict) and json_problem(value) is None
        return None if ok else f"{_where(path)}must be {describe(t)}"
    if kind == "int":
        return None if _is_int(value) else f"{_where(path)}must be {describe(t)}"
    if kind == "float":
        return None if _is_number(value) else f"{_where(path)}must be {describe(t)}"
    if kind == "bool":
        return None if isinstance(value, bool) else f"{_where(path)}must be {describe(t)}"
    if kind in ("str", "callable"):
        return None if isinstance(value, str) else f"{_where(path)}must be {describe(t)}"
    if kind == "plan":
        if not isinstance(value, str):
            return f"{_where(path)}must be {describe(t)}"
        if plans is not None and value not in plans:
            return f"{_where(path)}unknown plan {value!r}"
        return None
    if kind == "literal":
        if any(value == c and type(value) is type(c) for c in t.choices):
            return None
        return f"{_where(path)}{value!r} is not one of {_choices_text(tuple(map(repr, t.choices)))}"
    if kind == "enum":
        if isinstance(value, str) and value in t.choices:
            return None
        if not isinstance(value, str):
            return f"{_where(path)}must be {describe(t)}"
        if not t.choices:
            return f"{_where(path)}{value!r} is not allowed (no {t.name} are available)"
        return f"{_where(path)}{value!r} is not one of {_choices_text(t.choices)}"
    if kind == "device":
        if not isinstance(value, str):
            return f"{_where(path)}must be {describe(t)}"
        problem = devices.problem(value, t.flag) if devices is not None else None
        return f"{_where(path)}{problem}" if problem else None
    if kind in ("list", "tuple"):
        if not isinstance(value, list):
            return f"{_where(path)}must be {describe(t)}"
        if kind == "tuple" and len(value) != len(t.args):
            return f"{_where(path)}must be {describe(t)}"
        for i, v in enumerate(value):
            et = t.args[0] if kind == "list" else t.args[i]
            inner = f"{path}, item {i + 1}" if path else f"item {i + 1}"
            problem = check_value(et, v, devices, plans, inner, depth + 1)
            if problem:
                return _device_first(problem, inner)
        return None
    if kind == "dict":
        if not isinstance(value, dict):
            return f"{_where(path)}must be {describe(t)}"
        key_t, value_t = (t.args + (TypeSpec("any"), TypeSpec("any")))[:2]
        for k, v in value.items():
            if key_t.kind not in ("str", "any", "unknown") and check_value(key_t, k, devices):
                return f"{_where(path)}key {k!r}: must be {describe(key_t)}"
            problem = check_value(value_t, v, devices, plans, f"{path} {k!r}".strip(), depth + 1)
            if problem:
                return problem
        return None
    if kind == "union":
        return _check_union(t, value, devices, plans, path, depth)
    return None


def _device_first(problem: str, inner: str) -> str:
    """Device and choice messages already name the value: drop the "item 2" noise."""
    for tail in ("unknown device", "is not a ", "is not one of", "unknown plan"):
        if tail in problem and problem.startswith(inner + " "):
            return problem[len(inner) + 1 :]
    return problem


def _check_union(
    t: TypeSpec, value: Any, devices: DeviceIndex | None, plans: frozenset[str] | None,
    path: str, depth: int,
) -> str | None:  # fmt: skip
    problems = []
    for option in t.args:
        problem = check_value(option, value, devices, plans, path, depth + 1)
        if problem is None:
            return None
        problems.append((option, problem))
    # The option whose *shape* matches explains best (a string for a device option: "unknown
    # device 'x'"; a list for a list option: which element is wrong).
    for option, problem in problems:
        if _same_shape(option, value):
            return problem
    return f"{_where(path)}must be {describe(t)}"


def _same_shape(t: TypeSpec, value: Any) -> bool:
    if t.kind in ("device", "enum", "plan") or (t.kind == "literal" and isinstance(value, str)):
        return isinstance(value, str)
    if t.kind in ("list", "tuple"):
        return isinstance(value, list) and bool(value)
    if t.kind == "dict":
        return isinstance(value, dict) and bool(value)
    return False


# ----- ranges --------------------------------------------------------------------------------
def _fmt(x: float | int) -> str:
    return repr(x) if isinstance(x, float) and not x.is_integer() else str(int(x))


def range_text(vmin: float | int | None, vmax: float | int | None) -> str:
    """" ≥ 1", " ≤ 10", " between -10 and 10" or ""."""
    if vmin is not None and vmax is not None:
        return f" between {_fmt(vmin)} and {_fmt(vmax)}"
    if vmin is not None:
        return f" ≥ {_fmt(vmin)}"
    if vmax is not None:
        return f" ≤ {_fmt(vmax)}"
    return ""


def _numbers(value: Any, depth: int = 0) -> Iterator[int | float]:
    if isinstance(value, int | float):
        yield value
    elif depth < 64 and isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v, depth + 1)
    elif depth < 64 and isinstance(value, list):
        for v in value:
            yield from _numbers(v, depth + 1)


def check_range(value: Any, vmin: float | int | None, vmax: float | int | None) -> str | None:
    """Every number inside ``value`` within [vmin, vmax] (the server's ``_check_ranges``)."""
    if vmin is None and vmax is None:
        return None
    for x in _numbers(value):
        if vmin is not None and x < vmin:
            return f"{_fmt(x)} is below the minimum {_fmt(vmin)}"
        if vmax is not None and x > vmax:
            return f"{_fmt(x)} is above the maximum {_fmt(vmax)}"
    return None
