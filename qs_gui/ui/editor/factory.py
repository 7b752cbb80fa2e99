"""Which editor a parameter gets, from its parsed annotation (:class:`TypeSpec`).

The rule is "the most specific widget that can show every valid value exactly"; anything else
(unions, tuples, dicts with typed keys, unknown types) gets the literal field, which can show any
value. ``X | None`` is handled by the row (an explicit None toggle), not here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qs_gui.core.schema import DeviceIndex, ParamSpec, TypeSpec

from .choices import BoolField, ChoiceField, NameField
from .fields import INT32, Field, FloatField, IntField, LiteralField, TextField
from .lists import DeviceListField, KeyValueField, ListField

__all__ = ["device_names", "has_names", "make_field"]

_ROW_KINDS = ("int", "float", "str", "bool", "literal", "device", "plan")


def has_names(t: TypeSpec) -> bool:
    """True when the type may hold device/plan names (bare words are then taken as text)."""
    return t.kind in ("device", "enum", "plan", "callable") or any(has_names(a) for a in t.args)


def device_names(flag: str) -> Callable[[DeviceIndex | None], list[str]]:
    def names(index: DeviceIndex | None) -> list[str]:
        if index is None:
            return []
        top = index.names(flag, components=False)
        return top + [n for n in index.names(flag) if "." in n]  # devices first, then parts

    return names


def _name_source(t: TypeSpec, plans: Sequence[str]) -> Callable[[Any], list[str]]:
    if t.kind == "device":
        return device_names(t.flag)
    if t.kind == "plan":
        return lambda _index: list(plans)
    if t.kind == "union":  # e.g. __MOVABLE__ | typing.Any: offer the devices of the first option
        for a in t.args:
            if a.kind in ("device", "enum", "plan"):
                return _name_source(a, plans)
    if t.kind == "enum":
        return lambda _index: list(t.choices)
    return lambda _index: []


def make_field(
    t: TypeSpec,
    p: ParamSpec | None = None,
    *,
    required: bool = False,
    plans: Sequence[str] = (),
    untyped: bool = False,
) -> Field:
    """A new editor for values of type ``t`` (``p`` gives min/max/step; ``required`` forbids an
    empty list; ``untyped`` marks a parameter without annotation, whose strings the server
    converts to devices, so bare names are accepted)."""
    vmin, vmax, step = (p.min, p.max, p.step) if p is not None else (None, None, None)
    kind = t.kind
    if kind == "int" and _int_bounds_ok(vmin, vmax):
        return IntField(_int_or_none(vmin), _int_or_none(vmax), step)
    if kind == "float":
        return FloatField(vmin, vmax, step)
    if kind == "bool":
        return BoolField()
    if kind == "str":
        return TextField()
    if kind in ("literal", "enum") and t.choices:
        return ChoiceField(t.choices)
    if kind == "device":
        return NameField(device_names(t.flag), f"a {t.flag} device" if t.flag else "a device")
    if kind == "plan":
        return NameField(lambda _index: list(plans), "a plan")
    if kind == "list" and t.args:
        element = t.args[0]
        if element.kind == "device":
            return DeviceListField(device_names(element.flag), required)
        if element.kind == "enum" and element.choices:
            return DeviceListField(lambda _index: list(element.choices), required)
        if element.kind in _ROW_KINDS:
            return ListField(lambda: make_field(element, p, plans=plans), required)
    if kind == "dict" and (not t.args or t.args[0].kind in ("str", "any")):
        return KeyValueField(bare_words=untyped or has_names(t))
    bare = untyped or has_names(t)
    hint = "a device name or a value (JSON / Python literal)" if has_names(t) else ""
    return LiteralField(bare_words=bare, placeholder=hint, names_for=_name_source(t, plans))


def _int_bounds_ok(vmin: Any, vmax: Any) -> bool:
    return all(v is None or -INT32 <= v <= INT32 for v in (vmin, vmax))


def _int_or_none(v: Any) -> int | None:
    if v is None:
        return None
    return int(v) if float(v).is_integer() else None
