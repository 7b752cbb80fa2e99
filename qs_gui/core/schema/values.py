"""Text -> values, never by evaluation; the structure of an item given as texts; plan signatures.

Pure Python (no Qt) so every rule is unit-testable and fuzzable without a display. The editor's
fields and JSON view read what the operator types with :func:`parse_value`.

How text becomes values (the decision, and why):

* Strict JSON is tried first (``json.loads``), because items are JSON on the wire and the JSON
  decoder gives the most precise messages ("line 1, column 7: Expecting ',' delimiter").
* If that fails, the text is read as a *Python literal*: ``ast.parse(mode="eval")`` followed by a
  small whitelist walk over the syntax tree, the same approach as ``ast.literal_eval`` but
  stricter (no sets, bytes, complex numbers or f-strings; dict keys must be strings) and also
  accepting JSON's ``true``/``false``/``null``. That is what gives operators ``True``/``None`` and
  ``'single quotes'`` without ever evaluating anything: a call such as ``__import__('os')`` is a
  syntax-tree node the walk refuses, it is never executed. ``eval`` is not used anywhere.
* Each text is capped at :data:`MAX_FIELD_CHARS` and nesting at :data:`MAX_DEPTH`, and NaN or
  infinite numbers are refused, so whatever is accepted is guaranteed to ``json.dumps``.

:func:`parse_entry` checks only an item's *structure* (type, name, args a list, kwargs and meta
objects): the editor uses it for an item edited as JSON before ``plans_allowed`` is known. Plan
parameters are checked by :mod:`qs_gui.core.schema` once it is.
"""

from __future__ import annotations

import ast
import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FIELDS",
    "INSTRUCTIONS",
    "MAX_DEPTH",
    "MAX_FIELD_CHARS",
    "EntryResult",
    "parse_entry",
    "parse_value",
    "plan_signature_hint",
]

MAX_FIELD_CHARS = 1_000_000  # per field; a real item is a few hundred characters
MAX_DEPTH = 64  # nesting of lists/objects; keeps every walk far from the recursion limit
INSTRUCTIONS: dict[str, str] = {"queue_stop": "Stop the queue after the item before it finishes."}
FIELDS = ("item_type", "name", "args", "kwargs", "meta")  # order of errors in EntryResult

_EXAMPLES = {"args": 'a JSON list, e.g. [["det1"], 3]', "kwargs": 'a JSON object, e.g. {"num": 3}'}
_JSON_NAMES = {"true": True, "false": False, "null": None}


@dataclass(frozen=True)
class EntryResult:
    """``item`` is the dict to send (None whenever ``errors`` is not empty).

    ``errors`` maps a field name (see :data:`FIELDS`) to one message in plain words, ordered by
    field, so the first value is the most useful single line for a status bar or tooltip.
    """

    item: dict[str, Any] | None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def first_error(self) -> str | None:
        return next(iter(self.errors.values()), None)


class _Bad(Exception):
    """A field's text is not a value; args: (message, (line, column) or None, syntax_ok)."""


# ----- text -> value ------------------------------------------------------------------------
def parse_value(text: str) -> Any:
    """Parse one field (JSON, or a Python literal); raise ValueError with a plain message."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as jerr:
        jpos = (jerr.lineno, jerr.colno)
        try:
            return _python_literal(text)
        except _Bad as bad:
            msg, pos, syntax_ok = bad.args
            # A text that is valid Python syntax is "Python-ish": its message is the useful one
            # (e.g. "a function call is not allowed"). Otherwise trust the parser that got further.
            if syntax_ok or (pos is not None and pos > jpos):
                raise ValueError(_at(pos, msg)) from None
            raise ValueError(_at(jpos, jerr.msg)) from None
    except (ValueError, RecursionError, MemoryError) as ex:
        raise ValueError(_short(ex)) from None
    _check_json_value(value, 0)
    return value


def _at(pos: tuple[int, int] | None, msg: str) -> str:
    return f"line {pos[0]}, column {pos[1]}: {msg}" if pos else msg


def _short(ex: BaseException) -> str:
    if isinstance(ex, RecursionError | MemoryError):
        return f"nested more than {MAX_DEPTH} levels deep"
    text = str(ex).split(";")[0]
    return text[:200] or type(ex).__name__


def _check_json_value(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and infinite numbers are not allowed")
    if isinstance(value, list):
        for v in value:
            _check_json_value(v, depth + 1)
    elif isinstance(value, dict):
        for v in value.values():
            _check_json_value(v, depth + 1)


def _python_literal(text: str) -> Any:
    body = text.lstrip()  # Python would take leading indentation for a syntax error
    lead = text[: len(text) - len(body)]
    shift = (lead.count("\n"), len(lead) - lead.rfind("\n") - 1)  # line, column on that line
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences warn; they are harmless
            tree = ast.parse(body, mode="eval")
    except SyntaxError as ex:
        pos = _shifted(ex.lineno, ex.offset or 1, shift) if ex.lineno else None
        raise _Bad((ex.msg or "invalid syntax").split(" (<unknown>")[0], pos, False) from None
    except (ValueError, RecursionError, MemoryError) as ex:
        raise _Bad(_short(ex), None, False) from None
    try:
        return _from_node(tree.body, 0)
    except _Bad as bad:
        msg, pos, syntax_ok = bad.args
        raise _Bad(msg, pos and _shifted(*pos, shift), syntax_ok) from None


def _shifted(line: int, col: int, shift: tuple[int, int]) -> tuple[int, int]:
    """Positions in the original text (the parsed text had its leading blanks removed)."""
    return line + shift[0], col + (shift[1] if line == 1 else 0)


def _node_error(node: ast.AST, what: str) -> _Bad:
    line = getattr(node, "lineno", None)
    pos = (line, getattr(node, "col_offset", 0) + 1) if line else None
    return _Bad(what, pos, True)


def _from_node(node: ast.AST, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise _node_error(node, f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, float) and not math.isfinite(value):
            raise _node_error(node, "NaN and infinite numbers are not allowed")
        if value is None or isinstance(value, str | bool | int | float):
            return value
        raise _node_error(node, f"{type(value).__name__} values are not allowed")
    if isinstance(node, ast.Name):
        if node.id in _JSON_NAMES:
            return _JSON_NAMES[node.id]
        raise _node_error(node, f"unknown name {node.id!r} (put text in quotes)")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = node.operand
        if isinstance(operand, ast.Constant) and type(operand.value) in (int, float):
            value = _from_node(operand, depth + 1)
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.List | ast.Tuple):
        return [_from_node(e, depth + 1) for e in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                raise _node_error(value, "'**' is not allowed")
            k = _from_node(key, depth + 1)
            if not isinstance(k, str):
                raise _node_error(key, "object keys must be strings")
            out[k] = _from_node(value, depth + 1)
        return out
    kind = {ast.Call: "a function call", ast.Set: "a set", ast.JoinedStr: "an f-string"}
    what = kind.get(type(node), "an expression")
    raise _node_error(node, f"{what} is not allowed — only JSON or Python literal values")


# ----- fields -> item ------------------------------------------------------------------------
def _field_value(name: str, text: str, errors: dict[str, str]) -> Any:
    """The value of one field, None when empty; an error is recorded instead of raised."""
    if not isinstance(text, str):
        errors[name] = f"{name}: expected text"
        return None
    if len(text) > MAX_FIELD_CHARS:
        errors[name] = f"{name}: too long ({len(text):,} characters; the limit is 1 MB)"
        return None
    if not text.strip():
        return None
    try:
        value = parse_value(text)
    except ValueError as ex:
        errors[name] = f"{name}: {ex}"
        return None
    want = list if name == "args" else dict
    if not isinstance(value, want):
        expected = _EXAMPLES.get(name)
        errors[name] = (
            f"{name}: expected {expected}" if expected else f"{name}: must be a JSON object"
        )
        return None
    return value


def parse_entry(
    item_type: str,
    name: str,
    args_text: str,
    kwargs_text: str,
    meta_text: str = "",
) -> EntryResult:
    """Check the item's structure and build it; never raises, whatever the text."""
    errors: dict[str, str] = {}
    if item_type not in ("plan", "instruction"):
        errors["item_type"] = "item_type: must be 'plan' or 'instruction'"
    name = name.strip() if isinstance(name, str) else ""
    args = _field_value("args", args_text, errors)
    kwargs = _field_value("kwargs", kwargs_text, errors)
    meta = _field_value("meta", meta_text, errors)
    _check_name(item_type, name, errors)
    if item_type == "instruction":
        for fname, value in (("args", args), ("kwargs", kwargs)):
            if value and fname not in errors:
                errors[fname] = f"{fname}: the queue_stop instruction takes no parameters"
    if errors:
        return EntryResult(None, {f: errors[f] for f in FIELDS if f in errors})
    item: dict[str, Any] = {"item_type": item_type, "name": name}
    for key, value in (("args", args), ("kwargs", kwargs), ("meta", meta)):
        if value:
            item[key] = value
    try:
        json.dumps(item, allow_nan=False)
    except (TypeError, ValueError) as ex:  # cannot happen after the checks above; be certain
        return EntryResult(None, {"args": f"args: not representable as JSON ({_short(ex)})"})
    return EntryResult(item, {})


def _check_name(item_type: str, name: str, errors: dict[str, str]) -> None:
    if item_type == "instruction":
        if name not in INSTRUCTIONS:
            shown = f"{name!r} is not an instruction" if name else "enter an instruction"
            errors["name"] = f"name: {shown} (the only instruction is 'queue_stop')"
        return
    if not name:
        errors["name"] = "name: enter a plan name"
    elif any(c.isspace() for c in name):
        errors["name"] = f"name: {name!r} contains spaces; plan names have none"


def _params(spec: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(name, kind, parameter spec) for each well-formed parameter of a plans_allowed entry."""
    out = []
    params = spec.get("parameters")
    for p in params if isinstance(params, list) else []:
        if isinstance(p, Mapping) and isinstance(p.get("name"), str):
            kind = p.get("kind")
            kind_name = kind.get("name") if isinstance(kind, Mapping) else None
            out.append((p["name"], kind_name if isinstance(kind_name, str) else "", p))
    return out


# ----- hints ------------------------------------------------------------------
def _short_default(text: Any) -> str:
    text = str(text).replace("\n", " ")
    return text if len(text) <= 24 else text[:23] + "…"


def plan_signature_hint(plan_spec: Mapping[str, Any]) -> str:
    """A Python-style signature, e.g. ``count(detectors, num=1, delay=0.0, *, per_shot=None)``.

    Operators know this notation from the bluesky docs; it tells at a glance what is required
    (no ``=``), what goes in args (before ``*``) and what only works as a keyword.
    """
    if not isinstance(plan_spec, Mapping):
        return ""
    parts: list[str] = []
    star_done = False
    params = _params(plan_spec)
    for i, (pname, kind, pspec) in enumerate(params):
        default = f"={_short_default(pspec['default'])}" if "default" in pspec else ""
        if kind == "VAR_POSITIONAL":
            parts.append(f"*{pname}")
            star_done = True
            continue
        if kind == "VAR_KEYWORD":
            parts.append(f"**{pname}")
            continue
        if kind == "KEYWORD_ONLY" and not star_done:
            parts.append("*")
            star_done = True
        parts.append(pname + default)
        nxt = params[i + 1][1] if i + 1 < len(params) else None
        if kind == "POSITIONAL_ONLY" and nxt != "POSITIONAL_ONLY":
            parts.append("/")
    name = plan_spec.get("name")
    return f"{name if isinstance(name, str) else 'plan'}({', '.join(parts)})"
