"""The history panel: filterable table of executed items plus a detail pane for the current one.

* Passive, like the queue view: the main window's QActions (Execute again, Re-queue, Copy,
  Export…, Clear history…) go into the context menu; this widget reports the selection.
* Filtering is a ``QSortFilterProxyModel`` over the unchanged :class:`HistoryModel`: typing never
  rebuilds 10 000 rows, and the debounced text filter costs one pass per pause, not per key.
* Failures are why anyone opens the history, so the detail pane shows message, traceback and
  run uids as selectable text instead of hover tooltips.
* YAML export uses a small emitter of its own (PyYAML is not a runtime dependency); it only
  handles JSON-shaped data, and the tests check it against PyYAML when that is installed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PyQt5.QtCore import (
    Qt,
    QTimer,
    pyqtSignal,
)
from PyQt5.QtGui import QFont, QFontDatabase, QFontInfo
from PyQt5.QtWidgets import (
    QAction,
    QApplication,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from qs_gui.core.export import export_items, to_yaml
from qs_gui.core.formatting import format_duration
from qs_gui.ui.history_filter import KNOWN_STATUSES, HistoryFilter
from qs_gui.ui.history_model import HistoryModel
from qs_gui.ui.history_notice import HistoryNotice
from qs_gui.ui.item_table import MarkedRowDelegate
from qs_gui.ui.queue_view import ContextActions, configure_item_table, items_to_clipboard_text
from qs_gui.ui.selection import SelectionKeeper
from qs_gui.ui.theme import outcome_role, style_text

__all__ = ["STATUS_FILTERS", "HistoryDetail", "HistoryView", "export_items", "to_yaml"]

STATUS_FILTERS = ("All", *KNOWN_STATUSES, "other")
#: lines of traceback the detail pane makes room for (growing into the table's space), and the
#: fewest it shows before the pane scrolls as a whole
TRACEBACK_LINES, TRACEBACK_MIN_LINES = 15, 6
#: parameter lines shown beside a traceback (the JSON box scrolls); without one it takes the room
PARAMS_LINES_WITH_TRACEBACK = 3


def _full_time(ts: Any) -> str:
    if not isinstance(ts, (int, float)) or isinstance(ts, bool) or not math.isfinite(ts):
        return ""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
    except (OverflowError, OSError, ValueError):
        return ""


def _monospace() -> QFont:
    """Tracebacks and JSON only line up in a fixed-pitch font (offscreen Qt may lack one)."""
    font = QFontDatabase.systemFont(QFontDatabase.FixedFont)
    if not QFontInfo(font).fixedPitch():
        font = QFont("Monospace")
        font.setStyleHint(QFont.TypeWriter)
    return font


def _pretty(value: Any, indent: int = 0, width: int = 64, expand: bool = False) -> str:
    """JSON with a container on one line when it fits: long arg lists stay scannable."""
    flat = json.dumps(value, ensure_ascii=False, default=str)
    fits = len(flat) + indent <= width and not expand
    if fits or not value or not isinstance(value, (dict, list)):
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        parts = [f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {_pretty(v, indent + 2, width)}"
                 for k, v in value.items()]  # fmt: skip
        return "{\n" + ",\n".join(parts) + "\n" + " " * indent + "}"
    parts = [pad + _pretty(v, indent + 2, width) for v in value]
    return "[\n" + ",\n".join(parts) + "\n" + " " * indent + "]"


def _selectable(text: str = "", wrap: bool = False) -> QLabel:
    label = QLabel(text, wordWrap=wrap, textFormat=Qt.PlainText)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label


class HistoryDetail(QWidget):
    """Everything known about one executed item, as selectable text (for copying into a log)."""

    _FIELDS = ("Type", "Status", "User", "Started", "Stopped", "Duration", "Run UIDs", "Scan IDs")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyDetail")
        self.item: dict | None = None
        self._stack = QStackedWidget(self)
        placeholder = QLabel("Select a history item to see its details.", enabled=False)
        placeholder.setAlignment(Qt.AlignCenter)
        self._stack.addWidget(placeholder)
        page = QWidget()
        # Scrolls as a whole: the pane can be made as small as the operator likes (a laptop
        # screen must still show the queue and the history table) without clipping a field.
        page_scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.NoFrame)
        page_scroll.setWidget(page)
        self._stack.addWidget(page_scroll)
        QVBoxLayout(self).addWidget(self._stack)
        self.layout().setContentsMargins(0, 0, 0, 0)

        self.name_label = _selectable()
        font = self.name_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.name_label.setFont(font)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignRight)
        self.fields = {name: _selectable() for name in self._FIELDS}
        for name, label in self.fields.items():
            form.addRow(f"{name}:", label)
        # Free text goes below the form: QFormLayout gives wrapped labels a single line.
        self.fields["Message"] = _selectable(wrap=True)
        self.fields["Metadata"] = _selectable(wrap=True)
        self.fields["Metadata"].setFont(_monospace())
        self.metadata_caption = QLabel("Metadata:")
        left = QWidget()  # scrolls, so a long message or metadata never squeezes the rest
        column = QVBoxLayout(left)
        column.setContentsMargins(4, 4, 4, 4)
        for widget in (self.name_label, QLabel("Message:"), self.fields["Message"],
                       self.metadata_caption, self.fields["Metadata"]):  # fmt: skip
            column.addWidget(widget)
            if widget is self.name_label:
                column.addLayout(form)
        column.addStretch(1)
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.NoFrame)
        scroll.setWidget(left)
        self.params_text = QPlainTextEdit(readOnly=True, objectName="historyParams")
        self.traceback_text = QPlainTextEdit(readOnly=True, objectName="historyTraceback")
        for edit in (self.params_text, self.traceback_text):
            edit.setFont(_monospace())
        self.params_text.setLineWrapMode(QPlainTextEdit.NoWrap)  # JSON reads best unwrapped
        # A traceback is why the pane was opened: it takes the height the pane has beyond a few
        # parameter lines (the view grows the pane for ~TRACEBACK_LINES lines when it can).
        self._line = self.traceback_text.fontMetrics().lineSpacing()
        self.traceback_text.setMinimumHeight(self._line * TRACEBACK_MIN_LINES + 12)
        self.params_text.setMinimumHeight(self._line * 3 + 12)
        self.traceback_label = QLabel("Traceback:")
        right = QVBoxLayout()
        right.setContentsMargins(0, 4, 4, 4)
        # The traceback (when there is one) comes first: in a short pane it is what is in view.
        for widget, stretch in ((self.traceback_label, 0), (self.traceback_text, 4),
                                (QLabel("Parameters:"), 0), (self.params_text, 1)):  # fmt: skip
            right.addWidget(widget, stretch)
        row = QHBoxLayout(page)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(scroll, 2)
        row.addLayout(right, 3)

    def show_item(self, item: Mapping[str, Any] | None) -> None:
        """Show ``item`` (a history entry, or any item with a ``result``); None clears the pane."""
        self.item = dict(item) if item else None
        self._stack.setCurrentIndex(1 if item else 0)
        if not item:
            return
        result = item.get("result") if isinstance(item.get("result"), Mapping) else {}
        status = str(result.get("exit_status") or "unknown")
        start, stop = result.get("time_start"), result.get("time_stop")
        duration = format_duration(stop - start) if _full_time(start) and _full_time(stop) else ""
        user, group = str(item.get("user") or ""), str(item.get("user_group") or "")
        values = {
            "Type": str(item.get("item_type") or ""),
            "Status": status,
            "User": f"{user} ({group})" if group else user,
            "Started": _full_time(start),
            "Stopped": _full_time(stop),
            "Duration": duration,
            "Run UIDs": "\n".join(map(str, result.get("run_uids") or [])) or "—",
            "Scan IDs": ", ".join(map(str, result.get("scan_ids") or [])) or "—",
            "Message": str(result.get("msg") or "").strip() or "—",
            "Metadata": _pretty(item["meta"]) if item.get("meta") else "",
        }
        self.name_label.setText(str(item.get("name") or "(no name)"))
        for name, label in self.fields.items():
            label.setText(values[name])
        self.fields["Metadata"].setVisible(bool(values["Metadata"]))
        self.metadata_caption.setVisible(bool(values["Metadata"]))
        style_text(self.fields["Status"], outcome_role(status), bold=True)
        params = {k: item[k] for k in ("args", "kwargs") if item.get(k)}
        self.params_text.setPlainText(_pretty(params, expand=True) if params else "(none)")
        tb = str(result.get("traceback") or "").rstrip()
        self.traceback_text.setPlainText(tb)
        self.traceback_text.setVisible(bool(tb))
        self.traceback_label.setVisible(bool(tb))
        cap = self._line * PARAMS_LINES_WITH_TRACEBACK + 12 if tb else 16_777_215
        self.params_text.setMaximumHeight(cap)

    def wanted_height(self) -> int:
        """Height at which a traceback shows ~TRACEBACK_LINES lines without scrolling."""
        extra = (TRACEBACK_LINES - TRACEBACK_MIN_LINES) * self._line
        page = self._stack.widget(1)
        return page.widget().minimumSizeHint().height() + extra + 8


class HistoryView(QWidget):
    """Filter row, history table (newest at the bottom) and the detail pane in a splitter."""

    #: The selected rows changed (the detail pane follows the current row by itself).
    selection_changed = pyqtSignal()
    #: Copies of the selected items (without uid/result) that the operator wants queued again.
    requeue_requested = pyqtSignal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = HistoryModel(self)
        self.proxy = HistoryFilter(self)
        self.proxy.setSourceModel(self.model)
        self.model.loading_finished.connect(self.proxy.warm_up)

        self.filter_edit = QLineEdit(placeholderText="Filter by name, parameters, user, message…")
        self.filter_edit.setClearButtonEnabled(True)
        self.status_combo = QComboBox()
        self.status_combo.addItems(STATUS_FILTERS)
        self.count_label = QLabel()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.filter_edit, QLabel("Status:"), self.status_combo, self.count_label):
            row.addWidget(widget, widget is self.filter_edit)

        self.table = QTableView(objectName="historyTable")
        self.table.setModel(self.proxy)
        configure_item_table(self.table)
        self.table.setItemDelegate(MarkedRowDelegate(self.table))  # failed stays red if selected
        self.table.verticalHeader().hide()
        self._set_column_widths()
        self._menu = ContextActions(self.table)
        self._keeper = SelectionKeeper(self.table, self)
        self.detail = HistoryDetail()
        self.splitter = QSplitter(Qt.Vertical, childrenCollapsible=True)
        for i, (widget, stretch) in enumerate(((self.table, 3), (self.detail, 2))):
            self.splitter.addWidget(widget)
            self.splitter.setStretchFactor(i, stretch)
        self.splitter.setCollapsible(0, False)
        # The detail pane opens with the first selected item; until then the table has the room.
        # If the operator closes it by dragging, it stays closed until a double-click.
        self.splitter.setSizes([1, 0])
        self._detail_auto = True
        self.splitter.splitterMoved.connect(self._detail_moved)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        self.notice = HistoryNotice(self)  # why the history shown is not current (if it is not)
        layout.addWidget(self.notice)
        layout.addWidget(self.splitter, 1)

        self._filter_timer = QTimer(self, singleShot=True, interval=150)  # typing pause
        self._filter_timer.timeout.connect(self.apply_filter)
        self.filter_edit.textChanged.connect(self._filter_timer.start)
        self.status_combo.currentIndexChanged.connect(self.apply_filter)
        sel = self.table.selectionModel()
        sel.selectionChanged.connect(self.selection_changed)
        sel.currentChanged.connect(self._show_current)
        self.proxy.modelReset.connect(self.selection_changed)  # after the keeper restored it
        for sig in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset):
            sig.connect(self._update_count)
        self.table.doubleClicked.connect(self._reveal_detail)
        self._update_count()

    def _set_column_widths(self) -> None:
        t = self.table
        hh = t.horizontalHeader()
        # The message takes what is left; parameters keep a readable width (Stretch would
        # squeeze them to a few pixels in a narrow dock) and the table scrolls sideways.
        hh.setStretchLastSection(True)
        em = t.fontMetrics().horizontalAdvance("M")
        text_width = t.fontMetrics().horizontalAdvance
        widths = {HistoryModel.STATUS: text_width("● completed") + 24,
                  HistoryModel.NAME: text_width("grid_scan_checked") + 16,
                  HistoryModel.PARAMS: em * 16,
                  HistoryModel.USER: em * 6,
                  HistoryModel.STARTED: text_width("2026-12-31 23:59:59") + 16,
                  HistoryModel.DURATION: text_width("59 min 59 s") + 16}  # fmt: skip
        for col, width in widths.items():
            t.setColumnWidth(col, width)

    def set_history(self, items: Sequence[Mapping]) -> None:
        """Show a ``history_get`` snapshot; follows the newest row if the operator was there."""
        bar = self.table.verticalScrollBar()
        follow = bar.value() >= bar.maximum() or self.model.rowCount() == 0
        self.model.set_history(items)
        self.proxy.warm_up()
        if follow:
            self.table.scrollToBottom()

    def apply_filter(self) -> None:
        """Apply the filter box and status choice now (typing applies it after a short pause)."""
        self._filter_timer.stop()
        self.proxy.set_filter(self.filter_edit.text(), self.status_combo.currentText())
        self._update_count()

    def set_context_actions(self, actions: Sequence[QAction | None]) -> None:
        """Use exactly ``actions`` (``None`` = separator) in the context menu and as shortcuts."""
        self._menu.set(actions)

    def context_menu(self) -> QMenu:
        """A fresh context menu (the caller owns it)."""
        return self._menu.menu(self)

    def selected_items(self) -> list[dict]:
        """Selected history entries, oldest first."""
        rows = self.table.selectionModel().selectedRows()
        return [
            self.model.item_at(r) for r in sorted(self.proxy.mapToSource(i).row() for i in rows)
        ]

    def selected_count(self) -> int:
        """Number of selected rows (cheaper than ``len(selected_items())`` for gates)."""
        return len(self.table.selectionModel().selectedRows())

    def current_item(self) -> dict | None:
        """The entry at the current index (what the detail pane shows), or None."""
        index = self.proxy.mapToSource(self.table.currentIndex())
        return self.model.item_at(index.row()) if index.isValid() else None

    def request_requeue(self) -> None:
        """Emit :attr:`requeue_requested` with clean copies of the selection (if any)."""
        items = self.selected_items()
        if items:
            self.requeue_requested.emit(json.loads(items_to_clipboard_text(items)))

    def copy_selection(self) -> int:
        """Put the selected entries on the clipboard as JSON items (without uid/result)."""
        items = self.selected_items()
        if items:
            QApplication.clipboard().setText(items_to_clipboard_text(items))
        return len(items)

    def export_dialog(self) -> Path | None:
        """Ask for a file and export the selection, or every shown row if nothing is selected."""
        items = self.selected_items() or [
            self.model.item_at(self.proxy.mapToSource(self.proxy.index(r, 0)).row())
            for r in range(self.proxy.rowCount())
        ]
        name, chosen = QFileDialog.getSaveFileName(
            self, f"Export {len(items)} history items", "history.json",
            "JSON (*.json);;YAML (*.yaml *.yml)",
        )  # fmt: skip
        if not name:
            return None
        path = Path(name)
        if not path.suffix:
            path = path.with_suffix(".yaml" if chosen.startswith("YAML") else ".json")
        try:
            export_items(items, path)
        except (OSError, ValueError) as ex:
            reason = ex.strerror if isinstance(ex, OSError) and ex.strerror else str(ex)
            QMessageBox.warning(self, "Export failed", f"Could not write {path}:\n{reason}")
            return None
        return path

    def _show_current(self, *_: Any) -> None:
        item = self.current_item()
        self.detail.show_item(item)
        if item is not None and self._detail_auto:
            self._reveal_detail()
            if self.detail.traceback_text.isVisibleTo(self.detail):
                self._grow_detail()

    #: table rows kept visible when the detail pane grows for a traceback
    KEEP_TABLE_ROWS = 4

    def _grow_detail(self) -> None:
        """Give the detail pane room for its traceback (about TRACEBACK_LINES lines), taken
        from the table down to KEEP_TABLE_ROWS rows; never shrinks what the operator opened."""
        sizes = self.splitter.sizes()
        total = sum(sizes)
        if total <= 0 or sizes[1] == 0:
            return
        table = self.table
        keep = (table.horizontalHeader().height() + 2 * table.frameWidth()
                + self.KEEP_TABLE_ROWS * table.verticalHeader().defaultSectionSize())
        wanted = self.detail.wanted_height()
        target = min(wanted, total - keep)
        if target > sizes[1]:
            self.splitter.setSizes([total - target, target])
        self.table.scrollTo(self.table.currentIndex())  # the row being read stays in view

    def _detail_moved(self, *_: Any) -> None:
        self._detail_auto = self.splitter.sizes()[1] > 0

    def detail_open(self) -> bool:
        return self.splitter.sizes()[1] > 0

    def _reveal_detail(self, *_: Any) -> None:
        """Double-click only shows the detail (re-opening a collapsed pane); it runs nothing."""
        self._detail_auto = True
        if self.splitter.sizes()[1] == 0:
            self.splitter.setSizes([3, 2])  # proportions: Qt scales them to the space

    def _update_count(self, *_: Any) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        noun = "item" if total == 1 else "items"
        text = f"{total} {noun}" if shown == total else f"{shown} of {total} shown"
        self.count_label.setText(text)
