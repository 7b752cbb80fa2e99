"""The queue panel: a passive table over :class:`~qs_gui.ui.item_models.QueueModel`.

Why it is shaped this way:

* It never talks to the server.  The main window owns one ``QAction`` per
  :class:`qs_gui.core.gates.Action` (enabled state, reason tooltip, shortcut) and hands the ones
  that belong in the context menu to :meth:`QueueView.set_context_actions`.  The view only
  reports *what* is selected (:meth:`~QueueView.selected_uids`,
  :meth:`~QueueView.selected_queue_rows`) so the gates can decide, and emits signals for the
  gestures only it can see (double-click / Enter to edit, drag-and-drop to move).
* Rows change only through the model's uid diff, so selection and scroll survive refreshes made
  by other clients; the view adds the two things the model cannot know: which row was at the
  top of the viewport, and whether the *meaning* of the selection (queue positions) changed.
* Copy/paste are pure functions so the parser can be fuzzed without a widget: the clipboard is
  untrusted text, and a bad paste must end in one plain-words ``ValueError``, never in a request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from PyQt5.QtCore import QEvent, QModelIndex, QObject, QPoint, Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QAction,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from qs_gui.core.item_helpers import ITEM_TYPES, items_to_clipboard_text, parse_clipboard_items
from qs_gui.ui.item_models import QueueModel
from qs_gui.ui.item_table import MarkedRowDelegate
from qs_gui.ui.selection import SelectionKeeper
from qs_gui.ui.theme import css, role_colours, theme_manager

__all__ = [
    "ITEM_TYPES",
    "QueueView",
    "items_to_clipboard_text",
    "ContextActions",
    "configure_item_table",
    "parse_clipboard_items",
]

# -- shared by the queue and history panels -----------------------------------------------------
def configure_item_table(table: QTableView) -> None:
    """Whole-row extended selection, read-only cells, compact rows.

    Rows have a fixed height: per-row size hints would cost O(rows) on a 10 000-row model.
    """
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setSelectionMode(QAbstractItemView.ExtendedSelection)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.setShowGrid(False)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    vh = table.verticalHeader()
    vh.setSectionResizeMode(QHeaderView.Fixed)
    vh.setDefaultSectionSize(table.fontMetrics().height() + 8)
    hh = table.horizontalHeader()
    hh.setHighlightSections(False)
    hh.setSectionResizeMode(QHeaderView.Interactive)


class ContextActions:
    """The main window's QActions in a table's context menu, and as its shortcuts.

    The view only places the actions; their enabled state and reasons stay with their owner.
    """

    def __init__(self, table: QTableView) -> None:
        self._table = table
        self.actions: list[QAction | None] = []
        table.setContextMenuPolicy(Qt.CustomContextMenu)
        table.customContextMenuRequested.connect(self._show)

    def set(self, actions: Sequence[QAction | None]) -> None:
        """Use exactly ``actions`` (``None`` = separator); replaces the previous set."""
        for old in self.actions:
            if old is not None:
                self._table.removeAction(old)
        self.actions = list(actions)
        self._table.addActions([a for a in self.actions if a is not None])

    def menu(self, parent: QWidget) -> QMenu:
        """A fresh menu holding the actions (the caller owns it)."""
        menu = QMenu(parent)
        for action in self.actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        return menu

    def _show(self, pos: QPoint) -> None:
        if self.actions:
            menu = self.menu(self._table)
            menu.exec_(self._table.viewport().mapToGlobal(pos))
            menu.deleteLater()


_BADGES = (  # (key, text, colour role (ui/theme.py), tooltip): requested states are amber
    ("locked", "LOCKED", "attention", "The queue is locked: a lock key is needed to change it"),
    ("loop", "LOOP", "busy", "Loop mode: executed items go back to the queue"),
    ("ignore_failures", "IGNORE FAILURES", "attention",
     "The queue keeps running after a failed item"),
    ("autostart", "AUTOSTART", "ok", "The queue starts when items are added"),
    ("stop_pending", "STOP PENDING", "attention",
     "The queue stops after the running item finishes"),
)  # fmt: skip


class QueueView(QWidget):
    """Queue table with a header line (item count, mode badges) and operator-gesture signals."""

    #: The selection (or the queue positions of the selected items) changed.
    selection_changed = pyqtSignal()
    #: Double-click or Enter on a queued row: the item dict to open in the editor.
    edit_requested = pyqtSignal(dict)
    #: Re-emitted from :attr:`QueueModel.move_requested`: (uids, before_uid, after_uid).
    move_requested = pyqtSignal(list, object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = QueueModel(self)
        self._updating = False
        self._last_state: tuple[tuple[str, ...], tuple[int, ...]] = ((), ())

        self.title = QLabel("Queue (0 items)")
        self.title.setObjectName("queueTitle")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.title)
        header.addStretch(1)
        self._badges: dict[str, QLabel] = {}
        for key, text, _role, tip in _BADGES:
            badge = QLabel(text)
            badge.setObjectName(f"queueBadge_{key}")
            badge.setToolTip(tip)
            badge.hide()
            header.addWidget(badge)
            self._badges[key] = badge
        self._colour_badges()
        theme_manager().connect_recolour(self, self._colour_badges)

        self.table = QTableView(self)
        self.table.setObjectName("queueTable")
        self.table.setModel(self.model)
        configure_item_table(self.table)
        self.table.setItemDelegate(MarkedRowDelegate(self.table))  # the failed row stays red
        self._setup_table()
        self._menu = ContextActions(self.table)
        self._keeper = SelectionKeeper(self.table, self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.table)

        self.model.move_requested.connect(self.move_requested)
        self.model.modelReset.connect(self._update_title)  # model.clear() on reconnect
        self.model.modelReset.connect(self._maybe_emit_selection)  # after the keeper restored it
        self.table.selectionModel().selectionChanged.connect(self._maybe_emit_selection)
        self.table.doubleClicked.connect(self._on_double_click)
        self.table.installEventFilter(self)

    def _setup_table(self) -> None:
        t = self.table
        # Drops only request a move; QueueModel has no removeRows, so Qt's post-drop "remove the
        # source rows" is a no-op and rows change only when the server's queue arrives.
        t.setDragDropMode(QAbstractItemView.InternalMove)
        t.setDefaultDropAction(Qt.MoveAction)
        t.setDragDropOverwriteMode(False)
        t.setDropIndicatorShown(True)
        t.verticalHeader().setDefaultAlignment(Qt.AlignRight | Qt.AlignVCenter)
        hh = t.horizontalHeader()
        hh.setSectionResizeMode(QueueModel.PARAMS, QHeaderView.Stretch)
        hh.setSectionResizeMode(QueueModel.MARKER, QHeaderView.Fixed)
        fm = t.fontMetrics()
        widths = {QueueModel.MARKER: fm.horizontalAdvance("▶") + 16,
                  QueueModel.TYPE: fm.horizontalAdvance("instruction") + 20,
                  QueueModel.NAME: fm.horizontalAdvance("M") * 13,
                  QueueModel.USER: fm.horizontalAdvance("M") * 8,
                  QueueModel.GROUP: fm.horizontalAdvance("M") * 8}  # fmt: skip
        for col, width in widths.items():
            t.setColumnWidth(col, width)

    # -- updates from the main window ---------------------------------------------------------
    def set_queue(self, items: Sequence[Mapping], running_item: Mapping | None) -> None:
        """Show a ``queue_get`` snapshot; selection, and the row at the top of the view, stay."""
        anchor = self._top_anchor()
        self._updating = True  # one selection_changed after the whole edit, not one per op
        try:
            self.model.set_queue(items, running_item)
        finally:
            self._updating = False
        if anchor is not None:
            row = self._rows_of([anchor]).get(anchor)
            if row is not None:
                self.table.updateGeometries()  # a reset leaves the scroll range stale
                self.table.scrollTo(self.model.index(row, 0), QAbstractItemView.PositionAtTop)
        self._update_title()  # not per row op: the front item starting to run is only an update
        self._maybe_emit_selection()

    def set_modes(
        self, loop: bool, ignore_failures: bool, autostart: bool, stop_pending: bool
    ) -> None:
        """Show a badge for each queue mode that is on (they change how the queue behaves)."""
        on = {"loop": loop, "ignore_failures": ignore_failures, "autostart": autostart,
              "stop_pending": stop_pending}  # fmt: skip
        for key, value in on.items():
            self._badges[key].setVisible(bool(value))

    def set_locked(self, locked: bool, text: str = "") -> None:
        """The LOCKED badge on the queue's header (the queue lock; the banner says more)."""
        badge = self._badges["locked"]
        badge.setVisible(locked)
        if text:
            badge.setToolTip(text)

    def set_failed_uid(self, uid: str | None) -> None:
        """Mark the queue item the server put back after it failed (None: no mark)."""
        self.model.set_failed_uid(uid)

    def _colour_badges(self) -> None:
        for key, _text, role, _tip in _BADGES:
            bg, fg = role_colours(role)
            self._badges[key].setStyleSheet(
                f"QLabel {{ background: {css(bg)}; color: {css(fg)}; border-radius: 3px;"
                " padding: 1px 6px; font-weight: bold; }")

    def set_context_actions(self, actions: Sequence[QAction | None]) -> None:
        """Use exactly ``actions`` (``None`` = separator) in the context menu and as shortcuts."""
        self._menu.set(actions)

    def context_menu(self) -> QMenu:
        """A fresh context menu (the caller owns it); public so tests can inspect it."""
        return self._menu.menu(self)

    # -- selection ----------------------------------------------------------------------------
    def _selected_rows(self) -> list[int]:
        return sorted(i.row() for i in self.table.selectionModel().selectedRows())

    def selected_uids(self) -> list[str]:
        """Uids of the selected queued items, in queue order (never the running item)."""
        return [self.model.uid_at(r) for r in self._selected_rows() if self._queued(r)]

    def selected_items(self, include_running: bool = False) -> list[dict]:
        """Selected item dicts in queue order; the running item only if asked (e.g. to copy)."""
        rows = self._selected_rows()
        return [self.model.item_at(r) for r in rows if include_running or self._queued(r)]

    def selected_queue_rows(self) -> tuple[int, ...]:
        """0-based queue positions of the selection (what the move/remove gates look at)."""
        rows = (self.model.queue_row(r) for r in self._selected_rows())
        return tuple(p for p in rows if p is not None)

    def select_uids(self, uids: Iterable[str]) -> None:
        """Select exactly these items (unknown uids are ignored) and show the first one."""
        sel = self.table.selectionModel()
        rows = sorted(self._rows_of(uids).values())
        sel.clearSelection()
        for row in rows:
            sel.select(self.model.index(row, 0), sel.Select | sel.Rows)
        if rows:
            first = self.model.index(rows[0], 0)
            sel.setCurrentIndex(first, sel.NoUpdate)
            self.table.scrollTo(first)

    def _queued(self, row: int) -> bool:
        return self.model.queue_row(row) is not None

    def _maybe_emit_selection(self, *_: Any) -> None:
        if self._updating:
            return
        state = (tuple(self.selected_uids()), self.selected_queue_rows())
        if state != self._last_state:
            self._last_state = state
            self.selection_changed.emit()

    # -- gestures ------------------------------------------------------------------------------
    def _on_double_click(self, index: QModelIndex) -> None:
        if index.isValid() and self._queued(index.row()):
            self.edit_requested.emit(self.model.item_at(index.row()))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Enter/Return edits the current queued row (the table would only emit ``activated``)."""
        if (
            obj is self.table
            and event.type() == QEvent.KeyPress
            and event.key() in (Qt.Key_Return, Qt.Key_Enter)
            and not event.modifiers() & ~Qt.KeypadModifier
        ):
            current = self.table.currentIndex()
            if current.isValid() and self._queued(current.row()):
                self.edit_requested.emit(self.model.item_at(current.row()))
                return True
        return super().eventFilter(obj, event)

    def copy_selection(self) -> int:
        """Put the selected items (running item included) on the clipboard as JSON."""
        items = self.selected_items(include_running=True)
        if items:
            QApplication.clipboard().setText(items_to_clipboard_text(items))
        return len(items)

    # -- helpers --------------------------------------------------------------------------------
    def _top_anchor(self) -> str | None:
        """Uid of the top visible row, unless the view is at the top (then new rows show)."""
        if self.table.verticalScrollBar().value() == 0:
            return None
        index = self.table.indexAt(QPoint(1, 1))
        return self.model.uid_at(index.row()) if index.isValid() else None

    def _rows_of(self, uids: Iterable[str]) -> dict[str, int]:
        """View rows of ``uids`` by a scan.

        Deliberately not ``model.row_of``: its lookup cache is only dropped *after* the model's
        reset signals, so a lookup from here would leave a stale cache that misleads the
        SelectionKeeper's restore during the next reset.
        """
        wanted = set(uids)
        found: dict[str, int] = {}
        for row in range(self.model.rowCount()):
            uid = self.model.uid_at(row)
            if uid in wanted:
                found[uid] = row
        return found

    def _update_title(self, *_: Any) -> None:
        n = self.model.rowCount() - (1 if self.model.running_item is not None else 0)
        self.title.setText(f"Queue ({n} item{'' if n == 1 else 's'})")
