"""Plan specs: one ``plans_allowed`` entry -> :class:`PlanSpec` with :class:`ParamSpec` rows.

Building a spec never raises: a malformed parameter is skipped, an unknown annotation becomes a
free literal (see :mod:`qs_gui.core.editor_types`), a default that is not a literal is kept as
text and marked unsendable. Defaults are read with :func:`qs_gui.core.entry.parse_value` (JSON or
a Python literal), never ``eval``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .types import TypeSpec, parse_annotation
from .values import INSTRUCTIONS, parse_value, plan_signature_hint

__all__ = [
    "EXTRA_ARGS",
    "EXTRA_KWARGS",
    "KEYWORD_ONLY",
    "POSITIONAL_ONLY",
    "POSITIONAL_OR_KEYWORD",
    "VAR_KEYWORD",
    "VAR_POSITIONAL",
    "ItemInvalid",
    "ParamSpec",
    "PlanSpec",
    "instruction_spec",
    "param_spec",
    "plan_spec",
    "plan_specs",
]

POSITIONAL_ONLY = "positional-only"
POSITIONAL_OR_KEYWORD = "positional-or-keyword"
VAR_POSITIONAL = "var-positional"
KEYWORD_ONLY = "keyword-only"
VAR_KEYWORD = "var-keyword"
_KIND_NAMES = {
    "POSITIONAL_ONLY": POSITIONAL_ONLY, "POSITIONAL_OR_KEYWORD": POSITIONAL_OR_KEYWORD,
    "VAR_POSITIONAL": VAR_POSITIONAL, "KEYWORD_ONLY": KEYWORD_ONLY, "VAR_KEYWORD": VAR_KEYWORD,
}  # fmt: skip
_KIND_VALUES = dict(enumerate(_KIND_NAMES.values()))
_POSITIONAL = (POSITIONAL_ONLY, POSITIONAL_OR_KEYWORD)
_VARIADIC = (VAR_POSITIONAL, VAR_KEYWORD)

#: Keys of ``values`` for what an item carried that the signature has no place for (positional
#: values beyond the last parameter; unknown keywords). Not identifiers, so never a parameter
#: name. They keep a loaded item intact (nothing is silently dropped) and are always an error.
EXTRA_ARGS = "*args beyond the signature"
EXTRA_KWARGS = "**unknown keywords"


class ItemInvalid(ValueError):
    """``build_item`` refused: ``errors`` maps a parameter (or "meta") to a plain message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values()), "invalid item"))
        self.errors = errors


@dataclass(frozen=True)
class ParamSpec:
    """One plan parameter, as the form needs it.

    ``default`` is the parsed default when ``default_is_literal``; ``default_text`` is the
    server's string, shown as is. ``min``/``max``/``step`` are numbers (None when absent).
    """

    name: str
    kind: str
    required: bool
    type: TypeSpec
    type_text: str = ""
    description: str = ""
    has_default: bool = False
    default: Any = None
    default_text: str = ""
    default_is_literal: bool = False
    default_in_decorator: bool = False
    min: int | float | None = None
    max: int | float | None = None
    step: int | float | None = None

    @property
    def positional(self) -> bool:
        return self.kind in _POSITIONAL

    @property
    def variadic(self) -> bool:
        return self.kind in _VARIADIC


@dataclass(frozen=True)
class PlanSpec:
    """A plan (or instruction) and its parameters in signature order."""

    name: str
    description: str = ""
    parameters: tuple[ParamSpec, ...] = ()
    item_type: str = "plan"
    module: str = ""
    signature: str = field(default="", compare=False)

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.parameters if p.name == name), None)

    def of_kind(self, kind: str) -> ParamSpec | None:
        return next((p for p in self.parameters if p.kind == kind), None)


# ----- building specs ------------------------------------------------------------------------
def _number(value: Any) -> int | float | None:
    """min/max/step: strings like "-10" or "0.01" (the server's ``_convert_str_to_number``)."""
    if isinstance(value, bool):
        return None
    try:
        x = float(value) if isinstance(value, str | int | float) else None
    except (ValueError, OverflowError):
        return None
    if x is None or not math.isfinite(x):
        return None
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def _kind(raw: Any) -> str:
    if isinstance(raw, Mapping):
        name, value = raw.get("name"), raw.get("value")
        if isinstance(name, str) and name in _KIND_NAMES:
            return _KIND_NAMES[name]
        if isinstance(value, int) and value in _KIND_VALUES:
            return _KIND_VALUES[value]
    return POSITIONAL_OR_KEYWORD


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def param_spec(raw: Mapping[str, Any]) -> ParamSpec | None:
    """The spec of one ``parameters`` entry, or None when it has no name; never raises."""
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        return None
    kind = _kind(raw.get("kind"))
    annotation = raw.get("annotation")
    type_text = annotation.get("type") if isinstance(annotation, Mapping) else None
    has_default = "default" in raw and kind not in _VARIADIC
    default_text = str(raw.get("default")) if has_default else ""
    default, literal = None, False
    if has_default:
        try:
            default, literal = parse_value(default_text), True
        except ValueError:
            pass
    return ParamSpec(
        name=name,
        kind=kind,
        required=kind not in _VARIADIC and not has_default,
        type=parse_annotation(annotation),
        type_text=type_text if isinstance(type_text, str) else "",
        description=_text(raw.get("description")).strip(),
        has_default=has_default,
        default=default,
        default_text=default_text,
        default_is_literal=literal,
        default_in_decorator=raw.get("default_defined_in_decorator") is True,
        min=_number(raw.get("min")),
        max=_number(raw.get("max")),
        step=_number(raw.get("step")),
    )


def plan_spec(entry: Mapping[str, Any], name: str | None = None) -> PlanSpec:
    """The spec of one ``plans_allowed`` entry; malformed parts are skipped, never raised."""
    entry = entry if isinstance(entry, Mapping) else {}
    raw_params = entry.get("parameters")
    params: list[ParamSpec] = []
    seen: set[str] = set()
    for raw in raw_params if isinstance(raw_params, list) else ():
        p = param_spec(raw) if isinstance(raw, Mapping) else None
        if p is not None and p.name not in seen:
            seen.add(p.name)
            params.append(p)
    plan_name = name if isinstance(name, str) else _text(entry.get("name"))
    return PlanSpec(
        name=plan_name,
        description=_text(entry.get("description")).strip(),
        parameters=tuple(params),
        module=_text(entry.get("module")),
        signature=plan_signature_hint({**entry, "name": plan_name}),
    )


def plan_specs(plans_allowed: Mapping[str, Any] | None) -> dict[str, PlanSpec]:
    """Specs of every plan in a ``plans_allowed`` dict (keyed like it), sorted by name."""
    if not isinstance(plans_allowed, Mapping):
        return {}
    return {
        n: plan_spec(e, n) for n, e in sorted(plans_allowed.items(), key=lambda kv: str(kv[0]))
        if isinstance(n, str) and isinstance(e, Mapping)
    }  # fmt: skip


def instruction_spec(name: str = "queue_stop") -> PlanSpec:
    """Instructions take no parameters (the only one today is ``queue_stop``)."""
    return PlanSpec(name, INSTRUCTIONS.get(name, ""), (), "instruction", signature=name)
