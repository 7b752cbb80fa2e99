"""What the views need of history entries, whichever form the session holds them in.

The session's history is a list of plain dicts or of compact
:class:`~qs_gui.client.history_entries.HistoryEntry` mappings (the table's fields decoded, the
rest decoded on demand). The views read the table's fields through :func:`outcome` and take
:func:`plain_item` before they show, copy, re-run or export an entry; the UI reaches the client's
type only through this module (the layers' rule)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..client.history_entries import HistoryEntry, Outcome, plain_item

__all__ = ["HistoryEntry", "is_compact", "outcome", "plain_item"]

_EMPTY: Mapping[str, Any] = {}


def is_compact(item: Any) -> bool:
    """True for a compact entry (its non-table fields cost a decode per access)."""
    return type(item) is HistoryEntry


def outcome(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """The entry's ``result`` for the table: exit_status, time_start, time_stop and msg are
    there (without a decode for compact entries); other keys only in a plain item's result."""
    if type(item) is HistoryEntry:
        result: Outcome | None = item.result
        return result if result is not None else _EMPTY
    result = item.get("result")
    return result if isinstance(result, Mapping) else _EMPTY
