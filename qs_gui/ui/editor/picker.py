"""Choosing what to edit: plan or instruction, and its name, searchable, with its description.

The picker only *proposes* a choice (signal ``chosen``); the editor decides, because switching
plans while the form has unsaved edits must be confirmed first, and a refusal puts the picker
back (:meth:`PlanPicker.set_current`). Plans come from ``plans_allowed``; the only instruction is
``queue_stop``.
"""

from __future__ import annotations

from collections.abc import Iterable

from PyQt5.QtCore import QSignalBlocker, QStringListModel, Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from qs_gui.core.schema import PlanSpec
from qs_gui.core.schema.values import INSTRUCTIONS
from qs_gui.ui.theme import style_text

from .style import mono_font

__all__ = ["PlanPicker", "rank_names"]

_TYPES = (("Plan", "plan"), ("Instruction", "instruction"))


def rank_names(names: Iterable[str], text: str) -> list[str]:
    """The names containing ``text`` (any case): the exact name first, then those starting
    with it, then the rest, each group alphabetical. Typing ``scan`` must offer ``scan`` before
    ``adaptive_scan``, ``grid_scan`` and the other names that merely contain it."""
    query = text.strip().lower()
    names = sorted(set(names))
    if not query:
        return names

    def rank(name: str) -> int:
        low = name.lower()
        return 0 if low == query else 1 if low.startswith(query) else 2

    return sorted((n for n in names if query in n.lower()), key=lambda n: (rank(n), n))


def _first_paragraph(text: str, limit: int = 300) -> str:
    first = text.strip().split("\n\n")[0].replace("\n", " ")
    return first if len(first) <= limit else first[: limit - 1] + "…"


class PlanPicker(QWidget):
    """Type combo + searchable name combo (contains-match, case-insensitive) + description."""

    chosen = pyqtSignal(str, str)  # item_type, name: what the operator picked

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("planPicker")
        self._specs: dict[str, PlanSpec] = {}
        self._current = ("plan", "")
        self.type_combo = QComboBox(objectName="itemType")
        for label, value in _TYPES:
            self.type_combo.addItem(label, value)
        self.name_combo = QComboBox(objectName="itemName", editable=True)
        self.name_combo.setInsertPolicy(QComboBox.NoInsert)
        self.name_combo.setMaxVisibleItems(20)
        self.name_combo.lineEdit().setPlaceholderText("Plan name — type to search")
        # the completer lists the ranked matches (rank_names), re-ranked as the operator types;
        # connected before the completer so the list is ranked before it filters
        self._ranked = QStringListModel(self)
        self._all_names: list[str] = []
        self.name_combo.lineEdit().textEdited.connect(self._rank)
        completer = QCompleter(self._ranked, self.name_combo)
        completer.setCaseSensitivity(Qt.CaseInsensitive)
        completer.setFilterMode(Qt.MatchContains)
        completer.setCompletionMode(QCompleter.PopupCompletion)
        completer.setMaxVisibleItems(15)
        self.name_combo.setCompleter(completer)
        self.description = QLabel(objectName="planDescription", wordWrap=True)
        style_text(self.description, "muted")
        self.signature = QLabel(objectName="signatureHint", wordWrap=True)
        self.signature.setFont(mono_font())
        self.signature.setTextInteractionFlags(Qt.TextSelectableByMouse)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.type_combo)
        top.addWidget(self.name_combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.signature)
        layout.addWidget(self.description)
        self.type_combo.activated.connect(self._type_activated)
        # bound methods, not lambdas: PyQt disconnects them when the picker is deleted (a
        # completer popup closing after that would otherwise call into a deleted widget)
        self.name_combo.activated.connect(self._commit)
        completer.activated[str].connect(self._commit)
        self.name_combo.lineEdit().returnPressed.connect(self._commit)
        self.name_combo.lineEdit().editingFinished.connect(self._focus_left)
        self._fill()
        self.show_spec(None)

    # ----- data ----------------------------------------------------------------------------
    def set_plans(self, specs: dict[str, PlanSpec] | None) -> None:
        """New plan list (None keeps the list: names are kept while the server is away)."""
        if specs is None:
            return
        self._specs = dict(specs)
        self._fill()

    def _names(self, item_type: str) -> list[tuple[str, str]]:
        if item_type == "instruction":
            return sorted(INSTRUCTIONS.items())
        return [(n, s.description) for n, s in sorted(self._specs.items())]

    def _rank(self, text: str) -> None:
        self._ranked.setStringList(rank_names(self._all_names, text))

    def _fill(self) -> None:
        names = self._names(self.item_type_shown())
        self._all_names = [n for n, _ in names]
        self._rank(self.name_combo.currentText())
        combo = self.name_combo
        if [combo.itemText(i) for i in range(combo.count())] == [n for n, _ in names]:
            return
        text = combo.currentText()
        with QSignalBlocker(combo), QSignalBlocker(combo.lineEdit()):
            combo.clear()
            for i, (name, description) in enumerate(names):
                combo.addItem(name)
                if description:
                    combo.setItemData(i, _first_paragraph(description), Qt.ToolTipRole)
            combo.setCurrentIndex(-1)
            combo.setEditText(text)

    # ----- current choice ------------------------------------------------------------------
    def item_type_shown(self) -> str:
        return self.type_combo.currentData() or "plan"

    def current(self) -> tuple[str, str]:
        """The accepted (item_type, name)."""
        return self._current

    def set_current(self, item_type: str, name: str) -> None:
        """Show and accept a choice without emitting ``chosen``."""
        item_type = "instruction" if item_type == "instruction" else "plan"
        self._current = (item_type, name)
        with QSignalBlocker(self.type_combo):
            self.type_combo.setCurrentIndex(max(0, self.type_combo.findData(item_type)))
        self._fill()
        with QSignalBlocker(self.name_combo), QSignalBlocker(self.name_combo.lineEdit()):
            self.name_combo.setEditText(name)

    def _type_activated(self, _index: int) -> None:
        item_type = self.item_type_shown()
        self._fill()
        if item_type == "instruction":
            with QSignalBlocker(self.name_combo), QSignalBlocker(self.name_combo.lineEdit()):
                self.name_combo.setEditText("queue_stop")  # the only instruction
        elif self._current[0] == "instruction":
            with QSignalBlocker(self.name_combo), QSignalBlocker(self.name_combo.lineEdit()):
                self.name_combo.setEditText("")
        self._commit()

    def _focus_left(self) -> None:
        """Leaving the box picks a complete name; a half-typed search is put back."""
        text = self.name_combo.currentText().strip()
        if text in [self.name_combo.itemText(i) for i in range(self.name_combo.count())]:
            self._commit()
        elif text != self._current[1]:
            with QSignalBlocker(self.name_combo), QSignalBlocker(self.name_combo.lineEdit()):
                self.name_combo.setEditText(self._current[1])

    def _commit(self, *_args: object) -> None:
        choice = (self.item_type_shown(), self.name_combo.currentText().strip())
        if choice != self._current:
            self.chosen.emit(*choice)

    def choose(self, name: str, item_type: str = "plan") -> None:
        """Pick as the operator would (type the name and press Enter); used by tests."""
        with QSignalBlocker(self.type_combo):
            self.type_combo.setCurrentIndex(max(0, self.type_combo.findData(item_type)))
        self._fill()
        self.name_combo.setEditText(name)
        self._commit()

    def show_spec(self, spec: PlanSpec | None, problem: str = "") -> None:
        """Signature and first paragraph of the description (full text in the tooltip)."""
        if spec is None:
            self.signature.setVisible(False)
            self.description.setText(problem)
            self.description.setVisible(bool(problem))
            return
        self.signature.setText(spec.signature)
        self.signature.setVisible(bool(spec.signature))
        self.description.setText(_first_paragraph(spec.description))
        self.description.setToolTip(spec.description)
        self.description.setVisible(bool(spec.description))
