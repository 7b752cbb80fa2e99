"""Checks on what the RE Manager (or an impostor on its port) sends, before a view sees it.

A status field of the wrong type is blanked ("unknown"); a status without a string
``manager_state`` or a bulk reply of the wrong shape is refused with a plain-words reason
(``MalformedReply``), so one broken peer cannot raise inside a Qt slot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..client.exceptions import RequestFailedError
from ..client.history_entries import HistoryEntry

#: status keys and the types a view may rely on (re-manager-protocol.md §3); a value of another
#: type is replaced by None ("unknown") before anyone sees the status
_STR, _INT, _BOOL, _NONE = (str,), (int,), (bool,), (type(None),)
STATUS_TYPES: dict[str, tuple[type, ...]] = {
    "msg": _STR, "time": (str, int, float), "items_in_queue": _INT, "items_in_history": _INT,
    "running_item_uid": _STR + _NONE, "manager_state": _STR, "queue_stop_pending": _BOOL,
    "queue_autostart_enabled": _BOOL, "worker_environment_exists": _BOOL,
    "worker_environment_state": _STR, "worker_background_tasks": _INT,
    "re_state": _STR + _NONE, "ip_kernel_state": _STR + _NONE,
    "ip_kernel_captured": _BOOL + _NONE, "pause_pending": _BOOL, "status_uid": _STR,
    "run_list_uid": _STR, "plan_queue_uid": _STR, "plan_history_uid": _STR,
    "devices_existing_uid": _STR, "plans_existing_uid": _STR, "devices_allowed_uid": _STR,
    "plans_allowed_uid": _STR, "task_results_uid": _STR, "lock_info_uid": _STR,
    "plan_queue_mode": (dict,), "lock": (dict,),
}
_FLAG_DICTS = {"plan_queue_mode": ("loop", "ignore_failures"), "lock": ("environment", "queue")}
MAX_COUNT = 10**9  # item counts beyond this are nonsense (and would overflow timer arithmetic)

class MalformedReply(ValueError):
    """A reply (or pushed status) that does not have the shape the protocol promises."""


def sanitize_status(status: Any) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``status`` safe for every consumer, and what had to be blanked.

    Raises MalformedReply when it is not a status at all (not a mapping, or no string
    ``manager_state``): nothing can be shown from it.
    """
    if not isinstance(status, Mapping):
        raise MalformedReply(f"the status is a {type(status).__name__}, not an object")
    state = status.get("manager_state")
    if not isinstance(state, str):
        raise MalformedReply(f"the status has manager_state = {brief(state)}")
    clean: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in status.items():
        if not isinstance(key, str):
            problems.append(f"key {brief(key)}")
            continue
        types = STATUS_TYPES.get(key)
        if types is not None:
            ok = isinstance(value, types) and not (
                isinstance(value, bool) and bool not in types)
            if ok and isinstance(value, int) and not isinstance(value, bool) and key != "time":
                ok = 0 <= value <= MAX_COUNT
            if ok and isinstance(value, float) and not math.isfinite(value):
                ok = False
            if not ok:
                problems.append(f"{key} = {brief(value)}")
                value = None
            elif key in _FLAG_DICTS:
                flags = {k: v for k, v in value.items() if k in _FLAG_DICTS[key]
                         and isinstance(v, bool)}
                if len(flags) != len(value):
                    problems.append(f"{key} = {brief(value)}")
                value = flags
        clean[key] = value
    return clean, problems


def brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: what the client decodes items into: plain dicts, or compact history entries
_ITEM_TYPES = {dict, HistoryEntry}


def checked_items(reply: Mapping[str, Any], key: str) -> list[dict]:
    """``reply[key]`` if it is a list of items. Decoded JSON holds plain dicts (or compact
    :class:`HistoryEntry` mappings), which one set of types shows at C speed; the per-item
    ABC check (30-40 ms for 100k) runs only otherwise."""
    items = reply.get(key, [])
    if not isinstance(items, list):
        raise MalformedReply(f"'{key}' is not a list of items")
    if not set(map(type, items)) <= _ITEM_TYPES and not all(isinstance(i, Mapping) for i in items):
        raise MalformedReply(f"'{key}' is not a list of items")
    return items


def server_message(ex: RequestFailedError) -> str:
    response = ex.response
    msg = response.get("msg", "") if isinstance(response, Mapping) else str(response)
    return msg or "(the server gave no reason)"


def as_mapping(reply: Any, method: str) -> Mapping[str, Any]:
    if not isinstance(reply, Mapping):
        raise MalformedReply(f"the reply to {method} is a {type(reply).__name__}")
    return reply


def checked_map(reply: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = reply.get(key, {})
    if not isinstance(value, Mapping):
        raise MalformedReply(f"'{key}' is not an object")
    return dict(value)
