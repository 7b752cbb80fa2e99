"""The plan queue as a Qt table model: the running item on top, drag-and-drop moves."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from PyQt5.QtCore import (
    QMimeData,
    QModelIndex,
    Qt,
    pyqtSignal,
)
from PyQt5.QtGui import QBrush, QColor, QFont

from qs_gui.core import itemdiff as idiff
from qs_gui.core.itemdiff import (
    Reset,
    format_time,
    param_summary,
)

from .item_table import (
    _RUNNING_KEY,
    MIME_ITEM_UIDS,
    SORT_ROLE,
    ItemTableModel,
)


class QueueModel(ItemTableModel):
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
        self._running_obj: dict | None = None  # the running item as stored (mark removed)
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
        old, self._snapshot = self._snapshot, snapshot
        self._loaded = True
        self._apply(ops)
        if not (len(ops) == 1 and isinstance(ops[0], Reset)):
            self._rebind(self._adopt_all(snapshot))
        self._release(old)

    def clear(self) -> None:  # see base class
        self._release(self._snapshot)
        self._snapshot = []
        super().clear()

    def _adopt_all(self, items: Sequence[dict]) -> list[dict]:
        # The running mark is only ever on the first item of a snapshot, hence on the first
        # item of any op that carries it (an insert at row 0, an update of row 0, a reset).
        adopted = list(items)
        if adopted and adopted[0].get(_RUNNING_KEY):
            adopted[0] = self._running_obj = {
                k: v for k, v in adopted[0].items() if k != _RUNNING_KEY}
        return adopted

    def _make_cells(self, item: dict) -> tuple[str, ...]:
        return (
            "▶" if item is self._running_obj else "",
            str(item.get("item_type", "")),
            str(item.get("name", "")),
            param_summary(item),
            str(item.get("user", "")),
            str(item.get("user_group", "")),
        )

    @property
    def running_item(self) -> dict | None:
        """The running item shown in row 0, or None when idle."""
        return self.item_at(0) if self.is_running_row(0) else None

    def is_running_row(self, row: int) -> bool:
        """True for the row showing the currently running item."""
        items = self._items
        return 0 <= row < len(items) and items[row] is self._running_obj

    def queue_row(self, row: int) -> int | None:
        """Queue position (0-based, as the server counts) of view ``row``; None if not queued."""
        if not 0 <= row < len(self._items) or self.is_running_row(row):
            return None
        return row - self._offset()

    def row_of(self, uid: str) -> int | None:
        """View row of ``uid`` (the running row included), or None."""
        return self.row_of_key(uid)

    def _offset(self) -> int:
        return 1 if self.is_running_row(0) else 0

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self._items[index.row()]
        col = index.column()
        if role == Qt.DisplayRole or role == SORT_ROLE:
            return self._cells_of(item)[col]
        running = item is self._running_obj
        if role == Qt.ToolTipRole and col == self.MARKER:
            return f"{self._status_text(index.row())}\n\n{self._common_data(item, role)}"
        if role == Qt.FontRole and running:
            return self._bold
        if role == Qt.BackgroundRole and running:
            return self._RUNNING_BRUSH
        if role == Qt.TextAlignmentRole and col == self.MARKER:
            return Qt.AlignCenter
        return self._common_data(item, role)

    def _status_text(self, row: int) -> str:
        pos = self.queue_row(row)
        if pos is not None:
            return f"Queued at position {pos + 1}"
        props = self._items[row].get("properties") or {}
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
        if not self.is_running_row(index.row()):
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
        items = [self._items[r] for r in rows]
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
        if row < 0 or row > len(self._items):
            row = len(self._items)
        try:
            wanted = set(json.loads(bytes(data.data(MIME_ITEM_UIDS)).decode()))
        except (ValueError, TypeError):
            return False
        start = self._offset()
        queued = [item.get("item_uid") for item in self._items[start:]]
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
