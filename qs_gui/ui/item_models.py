"""Qt table models for the plan queue and the plan history.

Both models hold the server's latest snapshot and change only through :mod:`qs_gui.core.itemdiff`
edit scripts, replayed with the matching ``begin*/end*`` calls.  That is what keeps selection,
current index and scroll position stable while other clients edit the queue, and what lets a
10 000-row history grow by one row without a repaint of everything.

Display strings are computed once per row when the row enters the model (or is updated), so
``data()`` is a tuple lookup no matter how often the view paints.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from PyQt5.QtCore import QAbstractTableModel, QMimeData, QModelIndex, Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QColor, QFont

from qs_gui.core import itemdiff as idiff
from qs_gui.core.itemdiff import Reset, format_duration, format_time, param_summary

__all__ = ["HistoryModel", "ITEM_ROLE", "MIME_ITEM_UIDS", "QueueModel", "SORT_ROLE", "UID_ROLE"]

UID_ROLE = Qt.UserRole + 1  #: the row's ``item_uid``
ITEM_ROLE = Qt.UserRole + 2  #: the row's item dict (as sent by the server)
SORT_ROLE = Qt.UserRole + 3  #: a sortable raw value (numbers for times/durations)
MIME_ITEM_UIDS = "application/x-qsgui-item-uids"

_TOOLTIP_LIMIT = 4096
_RUNNING_KEY = "\x00qsgui-running"  # marks the running item while diffing; never shown


class _Row:
    """One table row: the item plus its pre-rendered cells (computed once, read on every paint)."""

    __slots__ = ("item", "cells", "running", "tip")

    def __init__(self, item: dict, cells: tuple[str, ...], running: bool = False) -> None:
        self.item = item
        self.cells = cells
        self.running = running
        self.tip: str | None = None  # JSON tooltip, rendered lazily: hovering is rare


def _json_tooltip(item: Mapping) -> str:
    text = json.dumps(item, indent=2, default=str, ensure_ascii=False)
    return text if len(text) <= _TOOLTIP_LIMIT else text[:_TOOLTIP_LIMIT] + "\n… (truncated)"


class _ItemTableModel(QAbstractTableModel):
    """Row storage and op replay shared by the queue and history tables."""

    COLUMNS: tuple[str, ...] = ()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._loaded = False
        self._key_index: dict[Hashable, int] | None = None

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: int, role: int = Qt.DisplayRole) -> Any:
        horizontal = orientation == Qt.Horizontal and 0 <= section < len(self.COLUMNS)
        if role == Qt.DisplayRole and horizontal:
            return self.COLUMNS[section]
        return super().headerData(section, orientation, role)

    def item_at(self, row: int) -> dict | None:
        """The server's item dict shown at ``row`` (None outside the table)."""
        return self._rows[row].item if 0 <= row < len(self._rows) else None

    def uid_at(self, row: int) -> str | None:
        """``item_uid`` at ``row``, or None."""
        item = self.item_at(row)
        return item.get("item_uid") if item is not None else None

    def key_at(self, row: int) -> Hashable | None:
        """Identity used to find a row again after a reset (see SelectionKeeper)."""
        item = self.item_at(row)
        return self._key(item) if item is not None else None

    def row_of_key(self, key: Hashable) -> int | None:
        """Row holding ``key`` (O(1) after the first call following a change)."""
        if self._key_index is None:
            self._key_index = {}
            for i, r in enumerate(self._rows):
                self._key_index.setdefault(self._key(r.item), i)
        return self._key_index.get(key)

    def clear(self) -> None:
        """Empty the table with a reset; the next snapshot is treated as a first load.

        Call on reconnect: the new server state is unrelated to what we showed before.
        """
        self._apply([Reset(())])
        self._loaded = False

    def _key(self, item: Mapping) -> Hashable:
        return item.get("item_uid")

    def _make_row(self, item: dict) -> _Row:
        raise NotImplementedError

    def _common_data(self, row: _Row, role: int) -> Any:
        """Roles both tables answer the same way (JSON tooltip, uid, item)."""
        if role == Qt.ToolTipRole:
            if row.tip is None:
                row.tip = _json_tooltip(row.item)
            return row.tip
        if role == UID_ROLE:
            return row.item.get("item_uid")
        return row.item if role == ITEM_ROLE else None

    def _apply(self, ops: Sequence[idiff.Op]) -> None:
        """Replay an edit script with the Qt notifications that keep persistent indexes valid."""
        root = QModelIndex()
        for op in ops:
            if isinstance(op, idiff.Remove):
                self.beginRemoveRows(root, op.row, op.row + op.count - 1)
                del self._rows[op.row : op.row + op.count]
                self._key_index = None  # stale before listeners of the end* signal look rows up
                self.endRemoveRows()
            elif isinstance(op, idiff.Insert):
                new_rows = [self._make_row(item) for item in op.items]
                self.beginInsertRows(root, op.row, op.row + len(new_rows) - 1)
                self._rows[op.row : op.row] = new_rows
                self._key_index = None
                self.endInsertRows()
            elif isinstance(op, idiff.Move):
                self._move(op.src_row, op.dest_row)
            elif isinstance(op, idiff.Update):
                self._rows[op.row] = self._make_row(op.item)
                last = self.index(op.row, len(self.COLUMNS) - 1)
                self.dataChanged.emit(self.index(op.row, 0), last)
            elif isinstance(op, idiff.Reset):
                new_rows = [self._make_row(item) for item in op.items]
                self.beginResetModel()
                self._rows = new_rows
                self._key_index = None
                self.endResetModel()
        self._key_index = None

    def _move(self, src: int, dest: int) -> None:
        # Qt's destination is the row the moved block lands *before*, counted before removal.
        qt_dest = dest + 1 if dest > src else dest
        root = QModelIndex()
        if self.beginMoveRows(root, src, src, root, qt_dest):
            self._rows.insert(dest, self._rows.pop(src))
            self._key_index = None
            self.endMoveRows()
            return
        # Qt refused (it rejects no-op moves); fall back to remove + insert so we stay in sync.
        self.beginRemoveRows(root, src, src)
        row = self._rows.pop(src)
        self._key_index = None
        self.endRemoveRows()
        self.beginInsertRows(root, dest, dest)
        self._rows.insert(dest, row)
        self._key_index = None
        self.endInsertRows()


class QueueModel(_ItemTableModel):
    """The running item (row 0, if any) followed by the queued items, keyed by ``item_uid``.

    Drag-and-drop never reorders locally: a drop emits :attr:`move_requested` and the rows move
    only when the server's next ``queue_get`` arrives, so the table cannot drift from the server.
    """

    COLUMNS = ("", "Type", "Name", "Parameters", "User", "Group")
    MARKER, TYPE, NAME, PARAMS, USER, GROUP = range(6)

    #: (uids to move, in queue order; uid to place them before or None; uid to place them after
    #: or None).  Both neighbours are given, excluding the dragged items themselves, so the
    #: receiver can use ``before_uid`` (or ``after_uid`` when dropping at the end).
    move_requested = pyqtSignal(list, object, object)

    _RUNNING_BRUSH = QBrush(QColor(46, 160, 67, 60))  # translucent: readable on dark themes too

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._snapshot: list[Mapping] = []  # what the rows were built from, in diff form
        self._bold = QFont()
        self._bold.setBold(True)

    def set_queue(self, items: Sequence[Mapping], running_item: Mapping | None) -> None:
        """Show a new ``queue_get`` snapshot, changing only the rows that differ.

        The running item is diffed as row 0 of the same list, so when the queue starts the front
        item stays on its row (and keeps its selection) and just turns into the running row.
        """
        snapshot = list(items)
        if running_item:
            snapshot.insert(0, {**running_item, _RUNNING_KEY: True})
        ops = (
            idiff.diff_by_uid(self._snapshot, snapshot)
            if self._loaded
            else [Reset(tuple(snapshot))]
        )
        self._snapshot = snapshot
        self._loaded = True
        self._apply(ops)

    def clear(self) -> None:  # see base class
        self._snapshot = []
        super().clear()

    def _make_row(self, item: dict) -> _Row:
        running = bool(item.get(_RUNNING_KEY))
        if running:
            item = {k: v for k, v in item.items() if k != _RUNNING_KEY}
        cells = (
            "▶" if running else "",
            str(item.get("item_type", "")),
            str(item.get("name", "")),
            param_summary(item),
            str(item.get("user", "")),
            str(item.get("user_group", "")),
        )
        return _Row(item, cells, running)

    @property
    def running_item(self) -> dict | None:
        """The running item shown in row 0, or None when idle."""
        return self.item_at(0) if self.is_running_row(0) else None

    def is_running_row(self, row: int) -> bool:
        """True for the row showing the currently running item."""
        return 0 <= row < len(self._rows) and self._rows[row].running

    def queue_row(self, row: int) -> int | None:
        """Queue position (0-based, as the server counts) of view ``row``; None if not queued."""
        if not 0 <= row < len(self._rows) or self._rows[row].running:
            return None
        return row - self._offset()

    def row_of(self, uid: str) -> int | None:
        """View row of ``uid`` (the running row included), or None."""
        return self.row_of_key(uid)

    def _offset(self) -> int:
        return 1 if self._rows and self._rows[0].running else 0

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.DisplayRole:
            return row.cells[col]
        if role == Qt.ToolTipRole and col == self.MARKER:
            return f"{self._status_text(index.row())}\n\n{self._common_data(row, role)}"
        if role == Qt.FontRole and row.running:
            return self._bold
        if role == Qt.BackgroundRole and row.running:
            return self._RUNNING_BRUSH
        if role == Qt.TextAlignmentRole and col == self.MARKER:
            return Qt.AlignCenter
        if role == SORT_ROLE:
            return row.cells[col]
        return self._common_data(row, role)

    def _status_text(self, row: int) -> str:
        pos = self.queue_row(row)
        if pos is not None:
            return f"Queued at position {pos + 1}"
        props = self._rows[row].item.get("properties") or {}
        text = "Running"
        if props.get("immediate_execution"):
            text += " (executing now)"
        started = format_time(props.get("time_start"))
        return f"{text}, started {started}" if started else text

    def headerData(self, section: int, orientation: int, role: int = Qt.DisplayRole) -> Any:
        if role == Qt.DisplayRole and orientation == Qt.Vertical:
            pos = self.queue_row(section)
            return "" if pos is None else str(pos + 1)
        return super().headerData(section, orientation, role)

    def flags(self, index: QModelIndex) -> Qt.ItemFlags:
        if not index.isValid():
            return Qt.ItemIsDropEnabled  # drops land *between* rows (or at the end)
        flags = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        if not self._rows[index.row()].running:
            flags |= Qt.ItemIsDragEnabled
        return flags

    def supportedDropActions(self) -> Qt.DropActions:
        return Qt.MoveAction

    def supportedDragActions(self) -> Qt.DropActions:
        return Qt.MoveAction | Qt.CopyAction  # copy: drop the JSON into an editor or chat

    def mimeTypes(self) -> list[str]:
        return [MIME_ITEM_UIDS, "text/plain"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData | None:
        """Selected queued items (never the running one): uids for us, JSON text for others."""
        rows = sorted({i.row() for i in indexes if i.isValid()} - {0 if self._offset() else -1})
        if not rows:
            return None
        items = [self._rows[r].item for r in rows]
        mime = QMimeData()
        uids = [item.get("item_uid") for item in items]
        mime.setData(MIME_ITEM_UIDS, json.dumps(uids).encode())
        mime.setText(json.dumps(items, indent=2, default=str, ensure_ascii=False))
        return mime

    def canDropMimeData(
        self, data: QMimeData, action: int, row: int, column: int, parent: QModelIndex
    ) -> bool:
        if action != Qt.MoveAction or data is None or not data.hasFormat(MIME_ITEM_UIDS):
            return False
        if parent.isValid():
            row = parent.row()  # dropped onto an item: place before it
        return not (row == 0 and self._offset())  # nothing may go above the running item

    def dropMimeData(
        self, data: QMimeData, action: int, row: int, column: int, parent: QModelIndex
    ) -> bool:
        """Translate a drop into a ``move_requested`` signal; the rows themselves stay put."""
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        if parent.isValid():
            row = parent.row()
        if row < 0 or row > len(self._rows):
            row = len(self._rows)
        try:
            wanted = set(json.loads(bytes(data.data(MIME_ITEM_UIDS)).decode()))
        except (ValueError, TypeError):
            return False
        start = self._offset()
        queued = [r.item.get("item_uid") for r in self._rows[start:]]
        uids = [u for u in queued if u in wanted]
        if not uids:
            return False
        pos = row - start
        before = next((u for u in queued[pos:] if u not in wanted), None)
        after = next((u for u in reversed(queued[:pos]) if u not in wanted), None)
        if before is None and after is None:
            return False  # every queued item was dragged: nothing to move relative to
        self.move_requested.emit(uids, before, after)
        return True


_AMBER = QColor(230, 140, 0)
_STATUS_COLOURS = {"completed": QColor(46, 125, 50), "failed": QColor(198, 40, 40)}
_STATUS_COLOURS.update(stopped=_AMBER, aborted=_AMBER, halted=_AMBER)


class HistoryModel(_ItemTableModel):
    """Executed items in server order (newest at the bottom), keyed by (uid, time_stop).

    History uids repeat when an item is re-run, so rows are matched by position plus a cheap
    identity (see :func:`qs_gui.core.itemdiff.diff_history`) rather than by uid alone.
    """

    COLUMNS = ("Status", "Name", "Parameters", "User", "Started", "Duration", "Message")
    STATUS, NAME, PARAMS, USER, STARTED, DURATION, MESSAGE = range(7)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[Mapping] = []
        self._brushes: dict[str, tuple[QBrush, QBrush]] = {}

    def set_history(self, items: Sequence[Mapping]) -> None:
        """Show a new ``history_get`` snapshot: append/trim incrementally, else reset."""
        new = list(items)
        ops = idiff.diff_history(self._items, new) if self._loaded else [Reset(tuple(new))]
        self._items = new
        self._loaded = True
        self._apply(ops)

    def clear(self) -> None:
        self._items = []
        super().clear()

    def _key(self, item: Mapping) -> Hashable:
        return (item.get("item_uid"), _result(item).get("time_stop"))

    def exit_status_at(self, row: int) -> str | None:
        """``result.exit_status`` of ``row`` (None if the row or the result is missing)."""
        item = self.item_at(row)
        return _result(item).get("exit_status") if item is not None else None

    def _make_row(self, item: dict) -> _Row:
        result = _result(item)
        start, stop = result.get("time_start"), result.get("time_stop")
        duration = stop - start if _is_num(start) and _is_num(stop) else None
        msg = str(result.get("msg") or "")
        cells = (
            f"● {result.get('exit_status') or 'unknown'}",
            str(item.get("name", "")),
            param_summary(item),
            str(item.get("user", "")),
            "",  # "Started" depends on today's date, so it is formatted at paint time
            format_duration(duration),
            msg.splitlines()[0] if msg else "",
        )
        return _Row(item, cells)

    @staticmethod
    def status_colour(exit_status: str | None) -> QColor:
        """Colour for an ``exit_status`` (grey for anything not recognised)."""
        return QColor(_STATUS_COLOURS.get(exit_status or "", QColor(128, 128, 128)))

    def _status_brushes(self, status: str) -> tuple[QBrush, QBrush]:
        if status not in self._brushes:
            fg = self.status_colour(status)
            bg = QColor(fg)
            bg.setAlpha(40)
            self._brushes[status] = (QBrush(fg), QBrush(bg))
        return self._brushes[status]

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = index.column()
        result = _result(row.item)
        if role == Qt.DisplayRole:
            if col == self.STARTED:
                return format_time(result.get("time_start"))
            return row.cells[col]
        if role in (Qt.ForegroundRole, Qt.BackgroundRole) and col == self.STATUS:
            fg, bg = self._status_brushes(str(result.get("exit_status") or ""))
            return fg if role == Qt.ForegroundRole else bg
        if role == Qt.ToolTipRole and col in (self.MESSAGE, self.STATUS):
            text = "\n\n".join(t for t in (result.get("msg"), result.get("traceback")) if t)
            if text:
                return text[:_TOOLTIP_LIMIT]
        if role == SORT_ROLE:
            if col == self.STARTED:
                return result.get("time_start") or 0.0
            if col == self.DURATION:
                start, stop = result.get("time_start"), result.get("time_stop")
                return stop - start if _is_num(start) and _is_num(stop) else -1.0
            return row.cells[col]
        return self._common_data(row, role)


def _result(item: Mapping) -> Mapping:
    result = item.get("result")
    return result if isinstance(result, Mapping) else {}


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
