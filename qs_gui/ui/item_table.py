"""Row storage shared by the queue and history table models (``queue_model``, ``history_model``).

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

Colours come from :mod:`qs_gui.ui.theme`: a row's colour role is answered as ``MARK_ROLE`` and
:class:`MarkedRowDelegate` keeps it on a selected row (the selection colour would hide a red
"failed"); on a theme change the models drop their cached brushes and repaint.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from PyQt5.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    Qt,
    QTimer,
)
from PyQt5.QtGui import QPalette
from PyQt5.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from qs_gui.core import itemdiff as idiff
from qs_gui.core.itemdiff import (
    Reset,
)

from .theme import role_colours, theme_manager

__all__ = ["ITEM_ROLE", "MARK_ROLE", "MIME_ITEM_UIDS", "SORT_ROLE", "UID_ROLE", "ItemTableModel",
           "MarkedRowDelegate"]

UID_ROLE = Qt.UserRole + 1  #: the row's ``item_uid``
ITEM_ROLE = Qt.UserRole + 2  #: the row's item dict (as sent by the server)
SORT_ROLE = Qt.UserRole + 3  #: a sortable raw value (numbers for times/durations)
#: a cell's colour role ("alarm", "ok", …; theme.ROLES) that must survive selection, or None
MARK_ROLE = Qt.UserRole + 5
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


class ItemTableModel(QAbstractTableModel):
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
        theme_manager().connect_recolour(self, self.recolour)

    def recolour(self) -> None:
        """The theme changed: drop cached brushes and repaint every row (no row is rebuilt)."""
        self._theme_changed()
        if self._items and self.COLUMNS:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._items) - 1, len(self.COLUMNS) - 1),
                                  [Qt.ForegroundRole, Qt.BackgroundRole])  # fmt: skip

    def _theme_changed(self) -> None:
        """Hook: forget colours computed for the previous theme."""

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


class MarkedRowDelegate(QStyledItemDelegate):
    """Keeps a cell's colour role visible on a selected row.

    Qt paints a selected cell in the palette's Highlight colours and drops the model's
    foreground, so a selected "failed" row would lose its red. For a cell with ``MARK_ROLE``
    the selection is drawn in that role's (background, foreground) pair instead (WCAG >= 4.5 in
    light and dark), so the failed cell stays red, and readable, while selected.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)

    def initStyleOption(self, option: QStyleOptionViewItem, index: Any) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        role = index.data(MARK_ROLE)
        if role and option.state & QStyle.State_Selected:
            bg, fg = role_colours(str(role))
            for group in (QPalette.Active, QPalette.Inactive):
                option.palette.setColor(group, QPalette.Highlight, bg)
                option.palette.setColor(group, QPalette.HighlightedText, fg)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
