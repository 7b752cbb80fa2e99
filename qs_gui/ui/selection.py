"""Keep a table's selection across model resets by remembering row identities.

Incremental row operations (insert/remove/move) keep Qt's persistent selection by themselves;
only ``beginResetModel`` (first load, reconnect, or a diff that gave up) wipes it.  The keeper
notes the identities of the selected rows just before a reset and selects the same items again
afterwards.  Identities come from the source model's ``key_at(row)`` / ``row_of_key(key)``
(``item_uid`` for the queue, ``(uid, time_stop)`` for history, whose uids can repeat).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from PyQt5.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
)
from PyQt5.QtWidgets import QAbstractItemView

__all__ = ["SelectionKeeper"]


class SelectionKeeper(QObject):
    """Restore the selected (and current) rows of ``view`` by identity after a model reset.

    ``view.model()`` may be the item model itself or a chain of proxies over it (for sorting);
    the keeper maps through the chain.  Call :meth:`detach` before the view or model goes away.
    """

    def __init__(self, view: QAbstractItemView, parent: QObject | None = None) -> None:
        super().__init__(parent if parent is not None else view)
        self._view = view
        self._model: QAbstractItemModel = view.model()
        self._source = self._source_of(self._model)
        self._selected: list[Hashable] = []
        self._current: Hashable | None = None
        # Connected after the view's own selection model, so on modelReset the selection model
        # has already cleared itself when _restore runs.
        self._model.modelAboutToBeReset.connect(self._remember)
        self._model.modelReset.connect(self._restore)

    @staticmethod
    def _source_of(model: QAbstractItemModel) -> Any:
        while isinstance(model, QAbstractProxyModel):
            model = model.sourceModel()
        if not (hasattr(model, "key_at") and hasattr(model, "row_of_key")):
            raise TypeError(f"{type(model).__name__} has no key_at/row_of_key")
        return model

    def detach(self) -> None:
        """Disconnect from the model (explicitly, so no callback hits a dead view)."""
        self._model.modelAboutToBeReset.disconnect(self._remember)
        self._model.modelReset.disconnect(self._restore)

    # -- index mapping through proxies ----------------------------------------------------------
    def _to_source(self, index: QModelIndex) -> QModelIndex:
        model = self._model
        while isinstance(model, QAbstractProxyModel):
            index = model.mapToSource(index)
            model = model.sourceModel()
        return index

    def _from_source(self, index: QModelIndex) -> QModelIndex:
        chain = []
        model = self._model
        while isinstance(model, QAbstractProxyModel):
            chain.append(model)
            model = model.sourceModel()
        for proxy in reversed(chain):
            index = proxy.mapFromSource(index)
        return index

    def _key(self, index: QModelIndex) -> Hashable | None:
        src = self._to_source(index)
        return self._source.key_at(src.row()) if src.isValid() else None

    def _index(self, key: Hashable) -> QModelIndex:
        row = self._source.row_of_key(key)
        if row is None:
            return QModelIndex()
        return self._from_source(self._source.index(row, 0))

    # -- slots -----------------------------------------------------------------------------------
    def _remember(self) -> None:
        sel = self._view.selectionModel()
        if sel is None:
            return
        keys = (self._key(i) for i in sel.selectedRows())
        self._selected = [k for k in keys if k is not None]
        self._current = self._key(sel.currentIndex()) if sel.currentIndex().isValid() else None

    def _restore(self) -> None:
        sel = self._view.selectionModel()
        if sel is None:
            return
        selection = QItemSelection()
        for key in self._selected:
            index = self._index(key)
            if index.isValid():
                selection.select(index, index)
        flags = QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows
        if not selection.isEmpty():
            sel.select(selection, flags)
        if self._current is not None:
            current = self._index(self._current)
            if current.isValid():
                sel.setCurrentIndex(current, QItemSelectionModel.NoUpdate)
        self._selected, self._current = [], None
