"""The monitor's recent history: the newest items first, outcome in operator words and colour.

A model of its own rather than the main window's HistoryModel: a wall shows the newest dozen
items, so it keeps only ``limit`` of them and moves rows by edit (new ones inserted on top, the
oldest removed at the bottom), never resetting on the usual change, an appended item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PyQt5.QtCore import QAbstractTableModel, QModelIndex, Qt
from PyQt5.QtGui import QColor, QFont

from ..core.itemdiff import format_time, param_summary
from ..core.operator_state import words
from .theme import outcome_text, role_colours

__all__ = ["RECENT_HISTORY", "RecentHistoryModel"]

RECENT_HISTORY = 50  #: history rows kept (a wall shows a dozen; the rest is never scrolled to)

_OUTCOME_SYMBOL = {"completed": "✔", "failed": "✖", "stopped": "■", "aborted": "■",
                   "halted": "■", "unknown": "?"}


class RecentHistoryModel(QAbstractTableModel):
    """The newest ``limit`` history items, newest first; outcome in words and colour.

    Rows move by edit, not reset: when items are appended to the history (the usual change),
    the new ones are inserted on top and the oldest removed at the bottom.
    """

    COLUMNS = ("Outcome", "Name", "Parameters", "Finished", "Message")
    OUTCOME, NAME, PARAMS, FINISHED, MESSAGE = range(5)

    def __init__(self, parent: Any = None, *, limit: int = RECENT_HISTORY) -> None:
        super().__init__(parent)
        self.limit = limit
        self._items: list[Mapping] = []
        self._keys: list[tuple] = []
        self._bold = QFont()
        self._bold.setBold(True)

    def set_history(self, items: Sequence[Mapping]) -> None:
        recent = list(items[-self.limit:])[::-1] if self.limit else []
        keys = [_history_key(item) for item in recent]
        old = self._keys
        if keys == old:
            if recent != self._items:  # same rows, changed content (rare): repaint them
                self._items = recent
                self._changed()
            return
        n = len(keys)
        added = next((k for k in range(1, n + 1) if old and keys[k:] == old[:n - k]), None)
        if added is None:  # not "new ones on top": cleared, or rewritten elsewhere
            self.beginResetModel()
            self._items, self._keys = recent, keys
            self.endResetModel()
            return
        self.beginInsertRows(QModelIndex(), 0, added - 1)
        self._items = recent[:added] + self._items
        self._keys = keys[:added] + self._keys
        self.endInsertRows()
        if len(self._items) > len(keys):
            self.beginRemoveRows(QModelIndex(), len(keys), len(self._items) - 1)
            del self._items[len(keys):], self._keys[len(keys):]
            self.endRemoveRows()
        self._items = recent  # the equal rows now hold the new snapshot's objects
        self._changed()

    def _changed(self) -> None:
        if self._items:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._items) - 1, len(self.COLUMNS) - 1))

    def item_at(self, row: int) -> Mapping | None:
        return self._items[row] if 0 <= row < len(self._items) else None

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: int, role: int = Qt.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        result = _result(item)
        status = result.get("exit_status")
        col = index.column()
        if role == Qt.DisplayRole:
            if col == self.OUTCOME:
                key = status if isinstance(status, str) else "unknown"
                return f"{_OUTCOME_SYMBOL.get(key, '?')} {words(key)}"
            if col == self.NAME:
                return str(item.get("name", ""))
            if col == self.PARAMS:
                return param_summary(item, 80)
            if col == self.FINISHED:
                return format_time(result.get("time_stop"))
            msg = str(result.get("msg") or "")
            return msg.splitlines()[0] if msg else ""
        if role == Qt.ForegroundRole and col == self.OUTCOME:
            return outcome_text(status if isinstance(status, str) else None)
        if role == Qt.BackgroundRole and status == "failed":
            tint = QColor(role_colours("alarm")[0])
            tint.setAlpha(50)
            return tint
        if role == Qt.FontRole and col in (self.OUTCOME, self.NAME):
            return self._bold
        if role == Qt.ToolTipRole and col == self.MESSAGE:
            return str(result.get("msg") or "") or None
        return None


def _result(item: Mapping) -> Mapping:
    result = item.get("result")
    return result if isinstance(result, Mapping) else {}


def _history_key(item: Mapping) -> tuple:
    return item.get("item_uid"), _result(item).get("time_stop")
