"""Parameter annotation strings from ``plans_allowed`` -> a small tree of :class:`TypeSpec`.

Why a hand-written parser: the server sends annotations as *Python source text*
(``"int | None"``, ``"collections.abc.Sequence[__READABLE__]"``, ``"typing.List[Motors]"``) and
evaluates them itself with ``eval``. A client must never do that, so this module tokenises the text
and walks it with a tiny recursive-descent parser that only knows type syntax (names, ``[...]``,
``|``, literals). Whatever it does not recognise becomes an ``unknown`` node that the editor shows
as a free literal field: an odd annotation degrades the form, it never crashes it.

Custom types from the annotation dict (``"devices": {"Motors": ["motor1", "motor2"]}``, and the
same for ``plans`` and ``enums``) become ``enum`` nodes carrying their allowed names, exactly as
the server turns them into ``enum.Enum`` classes. The built-in device/plan markers
(``__READABLE__``, ``__MOVABLE__``, ``__FLYABLE__``, ``__DEVICE__``, ``__PLAN__``, ...) become
``device``/``plan``/``callable`` nodes, unless a custom list of the same name overrides them (the
server's rule, ``_find_and_replace_built_in_types``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEVICE_FLAGS",
    "MAX_TYPE_CHARS",
    "TypeSpec",
    "describe",
    "parse_annotation",
    "strip_optional",
]

MAX_TYPE_CHARS = 4000  # real annotations are < 100 characters; longer text is not parsed
_MAX_DEPTH = 32

#: built-in marker -> device flag ("" = any device); see re-manager-protocol.md §8.4
DEVICE_FLAGS = {
    "__READABLE__": "readable",
    "__MOVABLE__": "movable",
    "__FLYABLE__": "flyable",
    "__DEVICE__": "",
}
_SCALARS = {
    "int": "int", "builtins.int": "int",
    "float": "float", "builtins.float": "float",
    "bool": "bool", "builtins.bool": "bool",
    "str": "str", "builtins.str": "str",
    "None": "none", "NoneType": "none", "types.NoneType": "none",
    "typing.Any": "any", "Any": "any", "object": "any", "builtins.object": "any",
}  # fmt: skip
_LISTS = {
    "list", "List", "typing.List", "builtins.list",
    "collections.abc.Sequence", "typing.Sequence", "Sequence",
    "collections.abc.MutableSequence", "typing.MutableSequence",
    "collections.abc.Iterable", "typing.Iterable", "Iterable",
    "collections.abc.Collection", "typing.Collection",
    "set", "typing.Set", "frozenset", "typing.FrozenSet",
    "collections.abc.Set", "typing.AbstractSet",
}  # fmt: skip
_TUPLES = {"tuple", "typing.Tuple", "Tuple", "builtins.tuple"}
_DICTS = {
    "dict", "typing.Dict", "Dict", "builtins.dict",
    "collections.abc.Mapping", "typing.Mapping", "Mapping",
    "collections.abc.MutableMapping", "typing.MutableMapping",
}  # fmt: skip
_HASHABLE = {"collections.abc.Hashable", "typing.Hashable", "Hashable"}
_UNIONS = {"typing.Union", "Union"}
_OPTIONALS = {"typing.Optional", "Optional"}
_LITERALS = {"typing.Literal", "Literal", "typing_extensions.Literal"}
_TOKEN = re.compile(
    r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
    r"|(?P<ellipsis>\.\.\.)"
    r"|(?P<punct>[\[\],|]))"
)


@dataclass(frozen=True)
class TypeSpec:
    """One node of a parsed annotation.

    ``kind`` is one of: ``any`` (typing.Any or no annotation), ``unknown`` (not understood;
    ``name`` keeps the text), ``none``, ``int``, ``float``, ``bool``, ``str``, ``list`` (one
    element type in ``args``; also Sequence/Iterable/set and ``tuple[X, ...]``), ``tuple``
    (fixed element types), ``dict`` (key, value), ``union`` (options), ``literal`` (``choices``),
    ``device`` (``flag``: readable/movable/flyable or "" for any device), ``enum`` (a custom
    list: ``name`` e.g. "Motors", ``flag`` the group: devices/plans/enums, ``choices`` the names),
    ``plan`` (``__PLAN__``, a plan name), ``callable`` (``__CALLABLE__``, an expression text)
    and ``scalar`` (``Hashable``: a number, text, bool or None, not a list or dict).
    """

    kind: str
    args: tuple[TypeSpec, ...] = ()
    choices: tuple[Any, ...] = ()
    flag: str = ""
    name: str = ""

    @property
    def optional(self) -> bool:
        """True when None is an accepted value (``X | None``, ``Optional[X]``, Any)."""
        if self.kind in ("none", "any", "unknown"):
            return True
        return self.kind == "union" and any(a.optional for a in self.args)


ANY = TypeSpec("any")
NONE = TypeSpec("none")


def strip_optional(t: TypeSpec) -> tuple[TypeSpec, bool]:
    """(the type without its ``None`` option, whether None was an option).

    ``int | None`` -> (int, True); ``A | B | None`` -> (A | B, True); ``int`` -> (int, False).
    The form shows the None option as an explicit toggle beside the typed widget.
    """
    if t.kind != "union":
        return t, False
    rest = tuple(a for a in t.args if a.kind != "none")
    if len(rest) == len(t.args):
        return t, False
    if not rest:
        return NONE, True
    return (rest[0] if len(rest) == 1 else TypeSpec("union", rest)), True


class _Unparsable(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _Unparsable(text)
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse_annotation(annotation: Any) -> TypeSpec:
    """The :class:`TypeSpec` of a parameter's ``annotation`` entry (a dict, or None); never raises.

    A missing annotation means ``typing.Any`` (the server's rule). Text that cannot be parsed
    gives ``unknown`` with the original text in ``name``.
    """
    if not isinstance(annotation, Mapping):
        return ANY
    text = annotation.get("type")
    if not isinstance(text, str) or not text.strip():
        return ANY
    custom: dict[str, tuple[str, tuple[str, ...]]] = {}
    for group in ("devices", "plans", "enums"):
        lists = annotation.get(group)
        for tname, names in (lists.items() if isinstance(lists, Mapping) else ()):
            if isinstance(tname, str) and isinstance(names, list | tuple):
                custom[tname] = (group, tuple(n for n in names if isinstance(n, str)))
    if len(text) > MAX_TYPE_CHARS:
        return TypeSpec("unknown", name=text[:200])
    try:
        parser = _Parser(_tokens(text), custom)
        node = parser.union(0)
        if parser.pos != len(parser.toks):
            raise _Unparsable(text)
        return node
    except (_Unparsable, RecursionError):
        return TypeSpec("unknown", name=text)


class _Parser:
    def __init__(self, toks: list[tuple[str, str]], custom: dict[str, tuple[str, tuple]]):
        self.toks = toks
        self.pos = 0
        self.custom = custom

    def peek(self) -> tuple[str, str]:
        return self.toks[self.pos] if self.pos < len(self.toks) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok[0] == "end" or (value is not None and tok[1] != value):
            raise _Unparsable(value or "")
        self.pos += 1
        return tok

    def union(self, depth: int) -> TypeSpec:
        if depth > _MAX_DEPTH:
            raise _Unparsable("too deep")
        options = [self.term(depth)]
        while self.peek() == ("punct", "|"):
            self.take("|")
            options.append(self.term(depth))
        return _union(options)

    def params(self, depth: int) -> list[TypeSpec]:
        self.take("[")
        out: list[TypeSpec] = []
        while self.peek() != ("punct", "]"):
            out.append(self.union(depth + 1))
            if self.peek() == ("punct", ","):
                self.take(",")
            elif self.peek() != ("punct", "]"):
                raise _Unparsable("expected , or ]")
        self.take("]")
        return out

    def term(self, depth: int) -> TypeSpec:
        kind, value = self.take()
        if kind == "str":
            return TypeSpec("literal", choices=(_unquote(value),))
        if kind == "num":
            return TypeSpec("literal", choices=(_number(value),))
        if kind == "ellipsis":
            return TypeSpec("unknown", name="...")
        if kind == "punct" and value == "[":  # Callable[[A, B], R]: the argument list
            self.pos -= 1
            return TypeSpec("unknown", args=tuple(self.params(depth)), name="[...]")
        if kind != "name":
            raise _Unparsable(value)
        if self.peek() == ("punct", "[") and value in _LITERALS:
            return self.literal(depth)
        args = self.params(depth) if self.peek() == ("punct", "[") else None
        return self.named(value, args)

    def literal(self, depth: int) -> TypeSpec:
        self.take("[")
        values: list[Any] = []
        while self.peek() != ("punct", "]"):
            kind, value = self.take()
            if kind == "str":
                values.append(_unquote(value))
            elif kind == "num":
                values.append(_number(value))
            elif kind == "name" and value in ("True", "False", "None"):
                values.append({"True": True, "False": False, "None": None}[value])
            else:
                raise _Unparsable(value)
            if self.peek() == ("punct", ","):
                self.take(",")
        self.take("]")
        return TypeSpec("literal", choices=tuple(values))

    def named(self, name: str, args: list[TypeSpec] | None) -> TypeSpec:
        if name in self.custom:  # a custom list wins over built-in markers of the same name
            group, names = self.custom[name]
            return TypeSpec("enum", choices=names, flag=group, name=name)
        if name in DEVICE_FLAGS:
            return TypeSpec("device", flag=DEVICE_FLAGS[name])
        if name in ("__PLAN__", "__PLAN_OR_DEVICE__"):
            return TypeSpec("plan", name=name)
        if name == "__CALLABLE__":
            return TypeSpec("callable")
        if name in _SCALARS and args is None:
            return NONE if _SCALARS[name] == "none" else TypeSpec(_SCALARS[name])
        if name in _HASHABLE and not args:
            return TypeSpec("scalar", name=name)
        if name in _UNIONS and args:
            return _union(args)
        if name in _OPTIONALS and args and len(args) == 1:
            return _union([args[0], NONE])
        if name in _LISTS:
            return TypeSpec("list", (args[0] if args else ANY,))
        if name in _TUPLES:
            if not args:
                return TypeSpec("list", (ANY,))
            if len(args) == 2 and args[1] == TypeSpec("unknown", name="..."):
                return TypeSpec("list", (args[0],))
            return TypeSpec("tuple", tuple(args))
        if name in _DICTS:
            key, value = (args + [ANY, ANY])[:2] if args else (TypeSpec("str"), ANY)
            return TypeSpec("dict", (key, value))
        return TypeSpec("unknown", tuple(args or ()), name=name)


def _union(options: list[TypeSpec]) -> TypeSpec:
    flat: list[TypeSpec] = []
    for o in options:
        for a in o.args if o.kind == "union" else (o,):
            if a not in flat:
                flat.append(a)
    return flat[0] if len(flat) == 1 else TypeSpec("union", tuple(flat))


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


# ----- plain-words descriptions -------------------------------------------------------------
_SINGULAR = {
    "any": "any value", "none": "None", "int": "an integer", "float": "a number",
    "bool": "true or false", "str": "text", "dict": "a dictionary", "plan": "a plan name",
    "callable": "an expression (text)", "scalar": "a number, text, true/false or None",
}  # fmt: skip
_PLURAL = {
    "any": "values", "none": "Nones", "int": "integers", "float": "numbers", "bool": "true/false",
    "str": "texts", "dict": "dictionaries", "plan": "plan names", "callable": "expressions",
    "scalar": "numbers, texts, true/false or None",
}  # fmt: skip


def _choices_text(choices: tuple[Any, ...], limit: int = 8) -> str:
    shown = ", ".join(c if isinstance(c, str) else repr(c) for c in choices[:limit])
    return shown + (f", … ({len(choices)} in all)" if len(choices) > limit else "")


def describe(t: TypeSpec, plural: bool = False) -> str:
    """What the type accepts, for messages: "an integer", "a list of readable devices"."""
    table = _PLURAL if plural else _SINGULAR
    if t.kind in table:
        return table[t.kind]
    if t.kind == "unknown":
        return "values" if plural else f"a value ({t.name})" if t.name else "a value"
    if t.kind == "device":
        what = f"{t.flag} device" if t.flag else "device"
        return f"{what}s" if plural else f"the name of a {what}"
    if t.kind in ("enum", "literal"):
        quoted = tuple(repr(c) for c in t.choices) if t.kind == "literal" else t.choices
        return f"{'values' if plural else 'one'} of {_choices_text(quoted)}" if t.choices else (
            "values" if plural else "a value (no choices are allowed)")
    if t.kind == "list":
        inner = describe(t.args[0], plural=True) if t.args else "values"
        return f"lists of {inner}" if plural else f"a list of {inner}"
    if t.kind == "tuple":
        inner = ", ".join(describe(a) for a in t.args)
        return f"lists of {len(t.args)} values" if plural else (
            f"a list of {len(t.args)} values ({inner})")
    if t.kind == "union":
        inner, optional = strip_optional(t)
        if optional and inner.kind != "union":
            return f"{describe(inner, plural)} or None"
        return " or ".join(describe(a, plural) for a in t.args)
    return "values" if plural else "a value"
