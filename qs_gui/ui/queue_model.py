"""The plan queue as a Qt table model: the running item on top, drag-and-drop moves.

The item that failed when the queue last ran (the server puts it back at the head) is marked:
a red ✖ in the marker column, a red tint, a tooltip that says Start runs it again, and
``MARK_ROLE`` "alarm" so the red survives selection (:class:`~.item_table.MarkedRowDelegate`).
"""

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
    MARK_ROLE,
    MIME_ITEM_UIDS,
    SORT_ROLE,
    ItemTableModel,
)
from .theme import role_colours, role_text

#: tooltip of the item that failed when the queue ran (it is back at the head of the queue)
FAILED_TIP = "This item failed when the queue ran; Start runs it again"
_TINT_ALPHA = 50


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

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._snapshot: list[Mapping] = []  # what the rows were built from, in diff form
        self._running_obj: dict | None = None  # the running item as stored (mark removed)
        self._failed_uid: str | None = None
        self._bold = QFont()
        self._bold.setBold(True)
        self._theme_changed()

    def _theme_changed(self) -> None:
        """Brushes from the theme's roles: translucent, so they read on light and dark rows."""
        def tint(role: str) -> QBrush:
            colour = QColor(role_colours(role)[0])
            colour.setAlpha(_TINT_ALPHA)
            return QBrush(colour)

        self._running_brush = tint("ok")
        self._failed_brush = tint("alarm")
        self._failed_text = QBrush(role_text("alarm"))

    # -- the item that failed ------------------------------------------------------------------
    def set_failed_uid(self, uid: str | None) -> None:
        """Mark the queued item ``uid`` as the one that failed when the queue ran (None: no
        mark). Only the rows whose mark changes are repainted."""
        if uid == self._failed_uid:
            return
        rows = [self.row_of(u) for u in (self._failed_uid, uid) if u]
        self._failed_uid = uid or None
        last = len(self.COLUMNS) - 1
        for row in rows:
            if row is not None:
                self.dataChanged.emit(self.index(row, 0), self.index(row, last))

    def failed_uid(self) -> str | None:
        return self._failed_uid

    def is_failed_row(self, row: int) -> bool:
        """True for the row of the item marked with :meth:`set_failed_uid` (never the running
        row: once it runs again it is no longer "the item that failed")."""
        uid = self._failed_uid
        return bool(uid) and not self.is_running_row(row) and self.uid_at(row) == uid

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
        failed = bool(self._failed_uid) and self.is_failed_row(index.row())
        if role == Qt.DisplayRole or role == SORT_ROLE:
            if failed and col == self.MARKER:
                return "✖"
            return self._cells_of(item)[col]
        running = item is self._running_obj
        if role == Qt.ToolTipRole and col == self.MARKER:
            return f"{self._status_text(index.row())}\n\n{self._common_data(item, role)}"
        if role == Qt.ToolTipRole and failed:
            return FAILED_TIP
        if role == Qt.FontRole and (running or (failed and col == self.MARKER)):
            return self._bold
        if role == Qt.BackgroundRole and running:
            return self._running_brush
        if failed:
            if role == Qt.BackgroundRole:
                return self._failed_brush
            if role == Qt.ForegroundRole and col in (self.MARKER, self.NAME):
                return self._failed_text
            if role == MARK_ROLE and col in (self.MARKER, self.NAME):
                return "alarm"
        if role == Qt.TextAlignmentRole and col == self.MARKER:
            return Qt.AlignCenter
        return self._common_data(item, role)

    def _status_text(self, row: int) -> str:
        pos = self.queue_row(row)
        if pos is not None:
            text = f"Queued at position {pos + 1}"
            return f"{FAILED_TIP}.\n{text}" if self.is_failed_row(row) else text
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
