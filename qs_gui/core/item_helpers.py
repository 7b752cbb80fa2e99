"""Plain item helpers shared by the editor, the queue, the history and the commands: which keys
an operator may submit, a clean copy of an item for re-submission, and items as clipboard text.

The clipboard text is JSON only (never evaluated): what a pasted copy becomes is a *new* item,
never a second claim on the original's uid.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ITEM_KEYS", "ITEM_TYPES", "SERVER_KEYS", "clean_item", "items_to_clipboard_text",
           "parse_clipboard_items"]

#: Keys the server assigns; meaningless (or harmful) in an item that is about to be submitted.
SERVER_KEYS = ("item_uid", "result", "user", "user_group", "properties")
#: Keys an operator may submit (re-manager-protocol §5.1).
ITEM_KEYS = ("item_type", "name", "args", "kwargs", "meta")


def clean_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A copy fit to send as a new item: the item's own keys only (no uid, result, user,
    properties), deep-copied, empty parts dropped."""
    return {k: copy.deepcopy(item[k]) for k in ITEM_KEYS
            if k in item and item[k] is not None and item[k] != [] and item[k] != {}}


ITEM_TYPES = ("plan", "instruction", "function")
_COPY_DROP = ("item_uid", "result", "properties")  # user/group stay: they tell readers who added it


def items_to_clipboard_text(items: Iterable[Mapping[str, Any]]) -> str:
    """Pretty JSON list of ``items`` without the server's bookkeeping (uid, result, properties).

    The text is meant for humans and for :func:`parse_clipboard_items`, so a pasted copy becomes
    a *new* item rather than a second claim on the original's uid.
    """
    clean = [{k: v for k, v in item.items() if k not in _COPY_DROP} for item in items]
    return json.dumps(clean, indent=2, ensure_ascii=False, default=str)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


class _NotFinite(ValueError):
    pass


def _finite_float(text: str) -> float:
    """``1e999`` is valid JSON syntax but becomes inf, which must never reach a plan."""
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(f"The clipboard holds the number {text[:40]}, which is too large to "
                         f"send.")
    return value


def parse_clipboard_items(text: str) -> list[dict[str, Any]]:
    """Items from clipboard text: a JSON object or a non-empty list of objects.

    Returns clean dicts holding only ``item_type``, ``name`` and the optional ``args``,
    ``kwargs``, ``meta``; server-assigned keys (uid, result, user, group, properties) are dropped
    because the server assigns them anew.  Anything else raises ``ValueError`` with a message an
    operator can act on.  JSON only: the text is never evaluated.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("The clipboard holds no text to paste.")
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except _NotFinite:
        raise
    except RecursionError:
        raise ValueError("The clipboard text is nested too deeply to be a queue item.")
    except ValueError as ex:  # JSONDecodeError is a ValueError
        detail = getattr(ex, "msg", None)
        where = f" (line {ex.lineno}, column {ex.colno})" if hasattr(ex, "lineno") else ""
        raise ValueError(f"The clipboard does not hold JSON items: {detail or ex}{where}.")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ValueError("Expected a JSON object or a list of objects (queue items).")
    if not data:
        raise ValueError("The clipboard holds an empty list: there is nothing to paste.")
    return [_clean_item(raw, n) for n, raw in enumerate(data, start=1)]


def _clean_item(raw: Any, n: int) -> dict[str, Any]:
    where = f"Item {n}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a JSON object, not {_json_kind(raw)}")
    if raw.get("item_type") not in ITEM_TYPES:
        raise ValueError(f"{where}: 'item_type' must be one of {', '.join(ITEM_TYPES)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: 'name' must be a non-empty string")
    checks = {"args": (list,), "kwargs": (dict,), "meta": (dict, list)}
    for key, types in checks.items():
        if key in raw and not isinstance(raw[key], types):
            kinds = " or ".join("a list" if t is list else "an object" for t in types)
            raise ValueError(f"{where}: '{key}' must be {kinds}, not {_json_kind(raw[key])}")
    meta = raw.get("meta")
    if isinstance(meta, list) and not all(isinstance(m, dict) for m in meta):
        raise ValueError(f"{where}: 'meta' given as a list must hold only objects")
    unknown = sorted(k for k in raw if k not in ITEM_KEYS and k not in SERVER_KEYS)
    if unknown:
        allowed = ", ".join(ITEM_KEYS)
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (allowed: {allowed})")
    return {k: raw[k] for k in ITEM_KEYS if k in raw}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), "a value")
