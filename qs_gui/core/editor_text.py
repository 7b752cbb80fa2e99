"""An item as the editor's JSON text, and back: a readable dump and a strict parse.

The JSON tab shows exactly what will be sent, so the text must survive a round trip through a
text widget (odd characters are ``\\u``-escaped) and stay readable (a scan's positions on one
line, not one number per line). Parsing is strict and explains itself: a text that is not an
item blocks sending, and the operator is told why in plain words. Values are read with
:func:`qs_gui.core.schema.values.parse_value` (JSON or a Python literal), never ``eval``.
"""

from __future__ import annotations

import json
from typing import Any

from .item_helpers import ITEM_KEYS
from .schema.values import MAX_FIELD_CHARS, parse_value

__all__ = ["item_text", "parse_item_text"]


def _escape_odd(text: str) -> str:
    """\\u-escape characters a text editor would not keep exactly (no-break spaces become
    spaces, line separators break lines, invisible ones vanish). They only occur inside JSON
    strings, where the escape means the same character."""
    out = []
    for ch in text:
        if ch in " \n" or (ch.isprintable() and not ch.isspace()):
            out.append(ch)
        elif ord(ch) > 0xFFFF:
            high, low = divmod(ord(ch) - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
        else:
            out.append(f"\\u{ord(ch):04x}")
    return "".join(out)


_WIDTH = 64


def _dump(value: Any, level: int, force: bool = False) -> str:
    """One line when it fits, else one entry per line (nested values again one line if they
    fit): a scan's positions stay on one line instead of one number per line."""
    one = json.dumps(value, ensure_ascii=False, allow_nan=False, default=repr)
    if not isinstance(value, list | dict) or not value or (
            not force and len(one) + 2 * level <= _WIDTH):  # fmt: skip
        return one
    pad, end = "  " * (level + 1), "  " * level
    if isinstance(value, dict):
        parts = [f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {_dump(v, level + 1)}"
                 for k, v in value.items()]  # fmt: skip
        return "{\n" + ",\n".join(parts) + "\n" + end + "}"
    if all(not isinstance(v, list | dict) for v in value):  # numbers/names: fill the lines
        pieces = [json.dumps(v, ensure_ascii=False, allow_nan=False) for v in value]
        lines: list[list[str]] = [[]]
        for piece in pieces:
            used = len(pad) + sum(len(p) + 2 for p in lines[-1]) + len(piece)
            if lines[-1] and used > _WIDTH:
                lines.append([])
            lines[-1].append(piece)
        body = ",\n".join(pad + ", ".join(line) for line in lines)
        return "[\n" + body + "\n" + end + "]"
    return "[\n" + ",\n".join(pad + _dump(v, level + 1) for v in value) + "\n" + end + "]"


def item_text(item: dict[str, Any]) -> str:
    """Readable JSON of an item: one key per line, short values on one line."""
    try:
        text = _dump(item, 0, force=True)
    except (ValueError, RecursionError):  # NaN/inf (only in an invalid draft) or too deep
        text = json.dumps(item, indent=2, ensure_ascii=False, default=repr)
    return _escape_odd(text)


def parse_item_text(text: str) -> dict[str, Any]:
    """The item in ``text``; ValueError with a plain message when it is not one."""
    if len(text) > MAX_FIELD_CHARS:
        raise ValueError("the text is too long (the limit is 1 MB)")
    if not text.strip():
        raise ValueError('empty: write an item, e.g. {"item_type": "plan", "name": "count"}')
    value = parse_value(text)
    if not isinstance(value, dict):
        raise ValueError("an item is a JSON object: {\"item_type\": …, \"name\": …}")
    unknown = [k for k in value if k not in ITEM_KEYS]
    if unknown:
        raise ValueError(f"unexpected key {unknown[0]!r}; an item has only "
                         + ", ".join(ITEM_KEYS))
    if value.get("item_type") not in ("plan", "instruction"):
        raise ValueError("item_type must be \"plan\" or \"instruction\"")
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be the plan's name (text)")
    for key, kind, what in (("args", list, "a list"), ("kwargs", dict, "an object")):
        if key in value and value[key] is not None and not isinstance(value[key], kind):
            raise ValueError(f"{key} must be {what}")
    return value
