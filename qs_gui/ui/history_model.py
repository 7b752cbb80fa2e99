"""The plan history as a Qt table model; big snapshots are applied in timed slices."""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from PyQt5.QtCore import (
    QModelIndex,
    Qt,
    QTimer,
    pyqtSignal,
)
from PyQt5.QtGui import QBrush, QColor

from qs_gui.core import itemdiff as idiff
from qs_gui.core.formatting import format_duration
from qs_gui.core.history_items import outcome, plain_item
from qs_gui.core.itemdiff import (
    Reset,
    format_time,
    history_identities,
    param_summary,
)

from .item_table import (
    _TOOLTIP_LIMIT,
    ITEM_ROLE,
    MARK_ROLE,
    SORT_ROLE,
    ItemTableModel,
    _is_num,
)
from .theme import outcome_colours, outcome_role, outcome_text

#: "<exit status>\x1f<search text>" for the history filter's regular expression
SEARCH_ROLE = Qt.UserRole + 4
SEARCH_SEPARATOR = "\x1f"

_TINT_ALPHA = 40  #: the status cell's background: the outcome colour, see-through


class HistoryModel(ItemTableModel):
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
            item = plain_item(self._items[row])  # a compact entry: one decode, not four
            msg = _result(item).get("msg")
            parts = (item.get("name"), param_summary(item), item.get("user"), msg)
            text = self._search[row] = "\n".join(str(v or "") for v in parts).casefold()
        return text

    def _key(self, item: Mapping) -> Hashable:
        return (item.get("item_uid"), _result(item).get("time_stop"))

    def exit_status_at(self, row: int) -> str | None:
        """``result.exit_status`` of ``row`` (None if the row or the result is missing)."""
        if not 0 <= row < len(self._items):
            return None
        return _result(self._items[row]).get("exit_status")

    def item_at(self, row: int) -> dict | None:
        """The full item at ``row`` as a plain dict (compact entries are decoded: the caller
        may show, copy, edit or send it)."""
        return plain_item(self._items[row]) if 0 <= row < len(self._items) else None

    def uid_at(self, row: int) -> str | None:
        """``item_uid`` at ``row`` (no decode of the whole entry), or None."""
        return self._items[row].get("item_uid") if 0 <= row < len(self._items) else None

    def _make_cells(self, item: dict) -> tuple[str, ...]:
        plain = plain_item(item)  # computed once per painted row (cached): one decode
        cells = self._table_cells(item, _result(item))
        return (*cells[:self.PARAMS], param_summary(plain), *cells[self.PARAMS + 1:])

    def _table_cells(self, item: Mapping, result: Mapping) -> tuple[str, ...]:
        """The cells from the table's fields (no decode of a compact entry; no parameters)."""
        start, stop = result.get("time_start"), result.get("time_stop")
        duration = stop - start if _is_num(start) and _is_num(stop) else None
        msg = str(result.get("msg") or "")
        return (
            f"● {result.get('exit_status') or 'unknown'}",
            str(item.get("name", "")),
            "",  # the parameters need the whole item (see _make_cells)
            str(item.get("user", "")),
            "",  # "Started" depends on today's date, so it is formatted at paint time
            format_duration(duration),
            msg.splitlines()[0] if msg else "",
        )

    @staticmethod
    def status_colour(exit_status: str | None) -> QColor:
        """Text colour for an ``exit_status`` on the table (theme-aware; grey if unknown)."""
        return outcome_text(exit_status or "unknown")

    def _status_brushes(self, status: str) -> tuple[QBrush, QBrush]:
        if status not in self._brushes:
            fg = self.status_colour(status)
            bg = QColor(outcome_colours(status or "unknown")[0])
            bg.setAlpha(_TINT_ALPHA)
            self._brushes[status] = (QBrush(fg), QBrush(bg))
        return self._brushes[status]

    def _theme_changed(self) -> None:
        self._brushes.clear()

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
        if role == MARK_ROLE and col == self.STATUS:  # a selected failed row keeps its red
            return outcome_role(str(result.get("exit_status") or "unknown"))
        if role == Qt.ToolTipRole and col in (self.MESSAGE, self.STATUS):
            full = _result(plain_item(item))  # the traceback is not a compact field
            text = "\n\n".join(t for t in (full.get("msg"), full.get("traceback")) if t)
            if text:
                return text[:_TOOLTIP_LIMIT]
        if role == SEARCH_ROLE:
            status = result.get("exit_status")
            return (f"{status if isinstance(status, str) else ''}{SEARCH_SEPARATOR}"
                    f"{self.search_text(index.row())}")
        if role == SORT_ROLE:
            if col == self.STARTED:
                return result.get("time_start") or 0.0
            if col == self.DURATION:
                start, stop = result.get("time_start"), result.get("time_stop")
                return stop - start if _is_num(start) and _is_num(stop) else -1.0
            if col != self.PARAMS:  # the same strings as the cells, without a decode
                return self._table_cells(item, result)[col]
            return self._cells_of(item)[col]
        if role in (Qt.ToolTipRole, ITEM_ROLE):
            return self._common_data(plain_item(item), role)
        return self._common_data(item, role)


#: the entry's result as the table reads it (compact entries: without decoding the entry)
_result = outcome
