"""Qt table models for the plan queue and the plan history.

Both models hold the server's latest snapshot and change only through :mod:`qs_gui.core.itemdiff`
edit scripts, replayed with the matching ``begin*/end*`` calls.  That is what keeps selection,
current index and scroll position stable while other clients edit the queue, and what lets a
10 000-row history grow by one row without a repaint of everything.

Display strings are computed when a row is first painted and then cached (a bounded cache
keyed by the item, so a 100,000-row history costs nothing until it is scrolled through), so
``data()`` is a dict lookup however often the view paints. Loading a snapshot only stores
references. A history snapshot of more than ``HistoryModel.SYNC_LIMIT`` items is applied in
slices from a zero-delay timer (identities, edit script, rows), so the loop never waits long.

After each edit script the rows hold the new snapshot's objects, not the equal ones of the
previous snapshot (else both stay in memory). Replaced snapshots are released in slices from a
zero-delay timer: freeing 100,000 decoded items at once takes ~0.2 s, which would freeze the
window. Performance notes and measurements: docs/performance.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from PyQt5.QtCore import (
    QAbstractTableModel,
    QMimeData,
    QModelIndex,
    QObject,
    Qt,
    QTimer,
    pyqtSignal,
)
from PyQt5.QtGui import QBrush, QColor, QFont

from qs_gui.core import itemdiff as idiff
from qs_gui.core.itemdiff import (
    Reset,
    format_duration,
    format_time,
    history_identities,
    param_summary,
)

__all__ = ["HistoryModel", "ITEM_ROLE", "MIME_ITEM_UIDS", "QueueModel", "SORT_ROLE", "UID_ROLE"]

UID_ROLE = Qt.UserRole + 1  #: the row's ``item_uid``
ITEM_ROLE = Qt.UserRole + 2  #: the row's item dict (as sent by the server)
SORT_ROLE = Qt.UserRole + 3  #: a sortable raw value (numbers for times/durations)
MIME_ITEM_UIDS = "application/x-qsgui-item-uids"

_TOOLTIP_LIMIT = 4096
_RUNNING_KEY = "\x00qsgui-running"  # marks the running item while diffing; never shown


_CELL_CACHE = 4_000  #: rows whose display strings are kept (a screen shows ~50)
_RELEASE_SLICE = 5_000  #: items released per timer tick (~5 ms)
_RELEASE_ABOVE = 2_000  #: smaller lists are simply dropped


class _Graveyard(QObject):
    """Drops big lists of items a slice at a time, so their deallocation never stalls the loop."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lists: list[list] = []
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._step)

    def bury(self, items: list) -> None:
        if len(items) <= _RELEASE_ABOVE:
            return  # cheap enough to free right away (by the caller dropping it)
        self._lists.append(items)
        self._timer.start()

    def _step(self) -> None:
        if not self._lists:
            self._timer.stop()
            return
        victim = self._lists[-1]
        del victim[-_RELEASE_SLICE:]
        if not victim:
            self._lists.pop()

def _json_tooltip(item: Mapping) -> str:
    text = json.dumps(item, indent=2, default=str, ensure_ascii=False)
    return text if len(text) <= _TOOLTIP_LIMIT else text[:_TOOLTIP_LIMIT] + "\n… (truncated)"


class _ItemTableModel(QAbstractTableModel):
    """Row storage and op replay shared by the queue and history tables."""

    COLUMNS: tuple[str, ...] = ()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[dict] = []  # the rows' items, in view order
        self._cells: dict[int, tuple[dict, tuple[str, ...]]] = {}  # id(item) -> (item, cells)
        self._cells_old: dict[int, tuple[dict, tuple[str, ...]]] = {}
        self._loaded = False
        self._key_index: dict[Hashable, int] | None = None
        self._graveyard = _Graveyard(self)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: int, role: int = Qt.DisplayRole) -> Any:
        horizontal = orientation == Qt.Horizontal and 0 <= section < len(self.COLUMNS)
        if role == Qt.DisplayRole and horizontal:
            return self.COLUMNS[section]
        return super().headerData(section, orientation, role)

    def item_at(self, row: int) -> dict | None:
        """The server's item dict shown at ``row`` (None outside the table)."""
        return self._items[row] if 0 <= row < len(self._items) else None

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
            for i, item in enumerate(self._items):
                self._key_index.setdefault(self._key(item), i)
        return self._key_index.get(key)

    def clear(self) -> None:
        """Empty the table with a reset; the next snapshot is treated as a first load.

        Call on reconnect: the new server state is unrelated to what we showed before.
        """
        self._apply([Reset(())])
        self._loaded = False

    def _key(self, item: Mapping) -> Hashable:
        return item.get("item_uid")

    def _make_cells(self, item: dict) -> tuple[str, ...]:
        raise NotImplementedError

    def _cells_of(self, item: dict) -> tuple[str, ...]:
        """The row's display strings: computed on first use, then read from the cache.

        Two generations bound the cache: when the young one is full it becomes the old one
        (and the previous old one is dropped); a hit in the old generation moves the entry
        back. O(1) per call, unlike evicting the first key of a dict that keeps losing its
        first keys (each eviction then scans the deleted slots)."""
        key = id(item)
        hit = self._cells.get(key)
        if hit is not None and hit[0] is item:
            return hit[1]
        hit = self._cells_old.get(key)
        if hit is None or hit[0] is not item:
            hit = (item, self._make_cells(item))
        if len(self._cells) >= _CELL_CACHE // 2:
            self._cells_old, self._cells = self._cells, {}
        self._cells[key] = hit
        return hit[1]

    def _adopt_all(self, items: Sequence[dict]) -> list[dict]:
        """Hook: the objects stored for incoming items (the queue strips its running mark)."""
        return list(items)

    def _adopt(self, item: dict) -> dict:
        return self._adopt_all((item,))[0]

    def _common_data(self, item: dict, role: int) -> Any:
        """Roles both tables answer the same way (JSON tooltip, uid, item)."""
        if role == Qt.ToolTipRole:
            return _json_tooltip(item)  # hovering is rare: not cached
        if role == UID_ROLE:
            return item.get("item_uid")
        return item if role == ITEM_ROLE else None

    def _release(self, items: list) -> None:
        self._graveyard.bury(items)

    def _apply(self, ops: Sequence[idiff.Op]) -> None:
        """Replay an edit script with the Qt notifications that keep persistent indexes valid."""
        root = QModelIndex()
        for op in ops:
            if isinstance(op, idiff.Remove):
                self.beginRemoveRows(root, op.row, op.row + op.count - 1)
                gone = self._items[op.row : op.row + op.count]
                del self._items[op.row : op.row + op.count]
                self._aux_remove(op.row, op.count)
                self._key_index = None  # stale before listeners of the end* signal look rows up
                self.endRemoveRows()
                self._release(gone)
            elif isinstance(op, idiff.Insert):
                new_items = self._adopt_all(op.items)
                self.beginInsertRows(root, op.row, op.row + len(new_items) - 1)
                self._items[op.row : op.row] = new_items
                self._aux_insert(op.row, new_items)
                self._key_index = None
                self.endInsertRows()
            elif isinstance(op, idiff.Move):
                self._move(op.src_row, op.dest_row)
            elif isinstance(op, idiff.Update):
                self._items[op.row] = item = self._adopt(op.item)
                self._aux_update(op.row, item)
                last = self.index(op.row, len(self.COLUMNS) - 1)
                self.dataChanged.emit(self.index(op.row, 0), last)
            elif isinstance(op, idiff.Reset):
                new_items = self._adopt_all(op.items)
                self.beginResetModel()
                old, self._items = self._items, new_items
                self._aux_reset(new_items)
                self._key_index = None
                self.endResetModel()
                self._age_cells()
                self._release(old)
        self._key_index = None

    # Lists kept parallel to the rows by subclasses (the history's identities, search texts).
    def _aux_remove(self, row: int, count: int) -> None:
        pass

    def _aux_insert(self, row: int, items: list[dict]) -> None:
        pass

    def _aux_move(self, src: int, dest: int) -> None:
        pass

    def _aux_update(self, row: int, item: dict) -> None:
        pass

    def _aux_reset(self, items: list[dict]) -> None:
        pass

    def _rebind(self, items: list[dict]) -> None:
        """After an edit script, hold the new snapshot's objects rather than the equal old ones
        the unchanged rows still point to (else both snapshots stay in memory)."""
        old, self._items = self._items, items
        self._key_index = None
        self._age_cells()
        self._release(old)

    def _age_cells(self) -> None:
        """A new snapshot: cached strings of items two snapshots old are dropped, so the cache
        never keeps replaced items alive for long (each reload brings new item objects)."""
        self._cells_old, self._cells = self._cells, {}

    def _move(self, src: int, dest: int) -> None:
        # Qt's destination is the row the moved block lands *before*, counted before removal.
        qt_dest = dest + 1 if dest > src else dest
        root = QModelIndex()
        if self.beginMoveRows(root, src, src, root, qt_dest):
            self._items.insert(dest, self._items.pop(src))
            self._aux_move(src, dest)
            self._key_index = None
            self.endMoveRows()
            return
        # Qt refused (it rejects no-op moves); fall back to remove + insert so we stay in sync.
        self.beginRemoveRows(root, src, src)
        item = self._items.pop(src)
        self._aux_remove(src, 1)
        self._key_index = None
        self.endRemoveRows()
        self.beginInsertRows(root, dest, dest)
        self._items.insert(dest, item)
        self._aux_insert(dest, [item])
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

    #: a snapshot applied in slices is now fully shown (see :meth:`is_loading`)
    loading_finished = pyqtSignal()

    #: snapshots (or shown histories) bigger than this are processed in slices on a timer
    SYNC_LIMIT = 10_000
    CHUNK_ROWS = 2_500  #: rows in the first inserted slice; then sized to take ~12 ms
    CHUNK_MIN, CHUNK_MAX = 500, 20_000
    IDS_CHUNK = 10_000  #: identities computed per slice

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._ids: list[tuple[Any, Any]] = []  # diff identities, parallel to the rows
        self._search: list[str | None] = []  # search texts, parallel to the rows (lazy)
        self._brushes: dict[str, tuple[QBrush, QBrush]] = {}
        self._pending: list[dict] | None = None  # the latest snapshot, not yet shown
        self._chunk_rows = self.CHUNK_ROWS  # adapted to the time a slice takes
        self._ids_hint: list | None = None  # identities of the rows being inserted, if known
        self._job: Any = None  # generator doing the work for ``_pending`` in slices
        self._job_timer = QTimer(self)
        self._job_timer.setInterval(0)
        self._job_timer.timeout.connect(self._job_step)

    def set_history(self, items: Sequence[Mapping]) -> None:
        """Show a new ``history_get`` snapshot: append/trim incrementally, else reset.

        The identities of the shown rows are kept from the previous snapshot, so a reload costs
        one pass over the new items. A big snapshot (or a big history on screen) is processed
        in slices from a zero-delay timer, so the event loop never waits more than ~10 ms:
        :meth:`is_loading` is True until the rows match it. A newer snapshot replaces a pending
        one.
        """
        items = items if isinstance(items, list) else list(items)
        if self._job is None and max(len(items), len(self._items)) <= self.SYNC_LIMIT:
            self._show(items, history_identities(items), sliced=False)
            return
        self._pending = items
        self._job = None  # restarts from the rows shown now (always a consistent state)
        self._job_timer.start()

    def is_loading(self) -> bool:
        """True while a snapshot is being applied in slices."""
        return self._pending is not None or self._job is not None

    def clear(self) -> None:
        self._pending = self._job = None
        self._job_timer.stop()
        super().clear()

    def _job_step(self) -> None:
        deadline = time.perf_counter() + 0.008
        if self._job is None:
            if self._pending is None:
                self._job_timer.stop()
                return
            items, self._pending = self._pending, None
            self._job = self._run(items)
        try:
            while time.perf_counter() < deadline:
                next(self._job)
        except StopIteration:
            self._job = None
            if self._pending is None:
                self._job_timer.stop()
                self.loading_finished.emit()

    def _run(self, items: list[dict]):
        ids: list[tuple[Any, Any]] = []
        for start in range(0, len(items), self.IDS_CHUNK):
            ids.extend(history_identities(items[start : start + self.IDS_CHUNK]))
            yield
        yield from self._show(items, ids, sliced=True)

    def _show(self, items: list[dict], ids: list, *, sliced: bool):
        """Bring the rows to ``items`` (generator when ``sliced``, else done at once)."""
        if self._loaded:
            ops = idiff.diff_history(self._items, items, old_ids=self._ids, new_ids=ids)
        else:
            ops = [Reset(tuple(items))]
        self._loaded = True
        reset_only = len(ops) == 1 and isinstance(ops[0], Reset)
        gen = self._steps(ops, items, ids, sliced=sliced, rebind=not reset_only)
        if sliced:
            return gen
        for _ in gen:
            pass
        return None

    def _steps(self, ops, items, ids, *, sliced: bool, rebind: bool):
        """Apply ``ops``; sliced: big resets and inserts a slice of rows at a time, sized so a
        slice takes ~12 ms (the filter proxy calls Python for every inserted row)."""
        # diff_history's inserts and resets carry new[row:row + k]: their identities are
        # ids[row:row + k], already computed, so _aux_insert/_aux_reset need not redo them.
        for op in ops:
            if isinstance(op, (Reset, idiff.Insert)):
                first = 0 if isinstance(op, Reset) else op.row
                n = len(op.items) if not sliced else self._chunk_rows
                k = 0
                while True:
                    part = op.items[k : k + n]
                    self._ids_hint = ids[first + k : first + k + len(part)]
                    t0 = time.perf_counter()
                    if isinstance(op, Reset) and k == 0:
                        self._apply([Reset(part)])
                    elif part:
                        self._apply([idiff.Insert(first + k, part)])
                    self._ids_hint = None
                    k += len(part)
                    if k >= len(op.items):
                        break
                    if sliced:
                        elapsed = time.perf_counter() - t0
                        if elapsed > 0:
                            n = self._chunk_rows = int(min(max(
                                n * 0.012 / elapsed, self.CHUNK_MIN), self.CHUNK_MAX))
                        yield
            else:
                self._apply([op])
            if sliced:
                yield
        if rebind:
            self._rebind(items)
        self._ids = ids

    # -- rows' parallel lists ---------------------------------------------------------------
    def _aux_remove(self, row: int, count: int) -> None:
        del self._ids[row : row + count]
        del self._search[row : row + count]

    def _aux_insert(self, row: int, items: list[dict]) -> None:
        hint = self._ids_hint
        self._ids[row:row] = hint if hint is not None and len(hint) == len(items) else (
            history_identities(items))
        self._search[row:row] = [None] * len(items)

    def _aux_move(self, src: int, dest: int) -> None:
        self._ids.insert(dest, self._ids.pop(src))
        self._search.insert(dest, self._search.pop(src))

    def _aux_update(self, row: int, item: dict) -> None:
        self._ids[row] = history_identities([item])[0]
        self._search[row] = None

    def _aux_reset(self, items: list[dict]) -> None:
        hint = self._ids_hint
        self._ids = list(hint) if hint is not None and len(hint) == len(items) else (
            history_identities(items))
        self._search = [None] * len(items)

    def row_of_key(self, key: Hashable) -> int | None:
        """Row holding ``key`` (the first one if repeated); O(1) after the first call."""
        if self._key_index is None:
            ids = self._ids
            # reversed, so the first occurrence of a repeated key is the one kept
            self._key_index = dict(zip(reversed(ids), range(len(ids) - 1, -1, -1), strict=True))
        return self._key_index.get(key)

    def search_text(self, row: int) -> str:
        """Lower-cased name, parameters, user and message of ``row``, for filtering; computed
        once per row and kept with it (across reloads, which keep unchanged rows)."""
        text = self._search[row]
        if text is None:
            item = self._items[row]
            msg = _result(item).get("msg")
            parts = (item.get("name"), param_summary(item), item.get("user"), msg)
            text = self._search[row] = "\n".join(str(v or "") for v in parts).casefold()
        return text

    def _key(self, item: Mapping) -> Hashable:
        return (item.get("item_uid"), _result(item).get("time_stop"))

    def exit_status_at(self, row: int) -> str | None:
        """``result.exit_status`` of ``row`` (None if the row or the result is missing)."""
        item = self.item_at(row)
        return _result(item).get("exit_status") if item is not None else None

    def _make_cells(self, item: dict) -> tuple[str, ...]:
        result = _result(item)
        start, stop = result.get("time_start"), result.get("time_stop")
        duration = stop - start if _is_num(start) and _is_num(stop) else None
        msg = str(result.get("msg") or "")
        return (
            f"● {result.get('exit_status') or 'unknown'}",
            str(item.get("name", "")),
            param_summary(item),
            str(item.get("user", "")),
            "",  # "Started" depends on today's date, so it is formatted at paint time
            format_duration(duration),
            msg.splitlines()[0] if msg else "",
        )

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
        item = self._items[index.row()]
        col = index.column()
        result = _result(item)
        if role == Qt.DisplayRole:
            if col == self.STARTED:
                return format_time(result.get("time_start"))
            return self._cells_of(item)[col]
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
            return self._cells_of(item)[col]
        return self._common_data(item, role)


def _result(item: Mapping) -> Mapping:
    result = item.get("result")
    return result if isinstance(result, Mapping) else {}


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
