"""Keeping the three views of the item in step: form edits, JSON edits, validation.

Split from ``editor.py`` (one concern per module). The flow:

* a form or metadata edit restarts the validation debounce and makes the form the source: the
  JSON text is rewritten from the form after validation;
* a JSON edit restarts the JSON debounce; when it fires the text is parsed
  (:func:`parse_item_text`), a valid item is loaded into the form (switching plans if the JSON
  names another one), an invalid one is reported and blocks sending. While the operator is
  still in the JSON editor its text is not rewritten; leaving it shows the canonical text;
* :meth:`_validate` asks the form what is on screen, runs the core checks, and keeps the item
  (only ever from :func:`build_item`), the errors in field order and the draft for display.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PyQt5.QtCore import QEvent, QObject

from qs_gui.core.entry import parse_entry
from qs_gui.core.schema import (
    ItemInvalid,
    build_item,
    draft_item,
    validate,
    validate_meta,
    values_from_item,
)

from .fields import FieldError
from .json_view import parse_item_text
from .state import clean_item, name_problem
from .style import RED, muted_colour

if TYPE_CHECKING:
    from .editor import ItemEditor

__all__ = ["START_HINT", "EditorSyncMixin"]

#: Shown (muted) instead of "name: choose a plan" while no name is chosen: that is where every
#: item starts, not a mistake. ``current_error()`` still gives the gates their reason.
START_HINT = "Choose a plan or instruction to start"


class EditorSyncMixin:
    """Methods of :class:`~qs_gui.ui.editor.editor.ItemEditor` that keep the views in step."""

    # ----- edits -------------------------------------------------------------------------------
    def _clear_json_state(self: ItemEditor) -> None:
        self._json_timer.stop()
        self._json_error = None
        self._json_pending = False
        self._json_source = False
        self.json.show_error(None)

    def _clear_server_error(self: ItemEditor) -> None:
        self.server_error.clear()
        self._server_fields = {}

    def _on_edit(self: ItemEditor) -> None:
        self._clear_server_error()
        if self._raw_item is None:
            self._clear_json_state()
        self._schedule()

    def _on_json_edit(self: ItemEditor) -> None:
        self._clear_server_error()
        self._json_pending = True
        self._json_timer.start()
        self._schedule()

    def _schedule(self: ItemEditor) -> None:
        self._timer.start()

    def _flush(self: ItemEditor) -> None:
        if self._json_pending:
            self._apply_json()
        elif self._timer.isActive():
            self._validate()

    def eventFilter(self: ItemEditor, watched: QObject,  # noqa: N802 (Qt name)
                    event: QEvent) -> bool:
        if watched is self.json.edit and event.type() == QEvent.FocusOut:
            self._flush()
            if self._json_source and self._json_error is None:
                self._json_source = False  # the operator left the text: show it canonical
                self.json.show_item(self._draft)
        return False

    def _apply_json(self: ItemEditor) -> None:
        """Parse the JSON text; a valid item goes into the form, an invalid one blocks sending."""
        self._json_timer.stop()
        self._json_pending = False
        try:
            item = parse_item_text(self.json.text())
            item_type, name = item["item_type"], item["name"]
            spec = self._lookup(item_type, name)
            values = values_from_item(spec, item) if spec is not None else None
        except ValueError as ex:
            self._json_error = str(ex)
            self.json.show_error(self._json_error)
            self._validate()
            return
        clean = clean_item(item)
        if spec is None or values is None:
            self._show_plan(item_type, name, raw=True)
            self._raw_item = clean
        else:
            if self._form is None or (item_type, name) != self.picker.current():
                self._show_plan(item_type, name)
            if self._form is not None:  # always, as spec is not None
                self._form.load(values)
            self.meta.set_value(clean.get("meta"))
            self._raw_item = None
        self._json_error = None
        self._json_source = True
        self.json.show_error(None)
        self._validate()

    # ----- validation --------------------------------------------------------------------------
    def _validate(self: ItemEditor) -> None:
        self._timer.stop()
        item_type, name = self.picker.current()
        errors: dict[str, str] = {}
        item, draft = None, {"item_type": item_type, "name": name}
        plans = frozenset(self._specs) if self._plans_known else None
        if self._json_error is not None:
            errors["json"] = f"JSON: {self._json_error}"
        elif self._form is None or self._spec is None:  # JSON-only: no spec to check against
            errors.update(name_problem(item_type, name, self._specs, self._plans_known))
            raw = self._raw_item or draft
            draft = raw
            spec = self._lookup(item_type, name)
            if not errors and spec is not None:  # a known plan whose form could not take it
                try:
                    values_from_item(spec, raw)
                    errors["json"] = "JSON: the item does not fit the plan's form"
                except ValueError as ex:
                    errors["json"] = f"JSON: {ex}"
            if not errors:  # plans not known yet: structure only, as the simple entry did
                errors.update(parse_entry(item_type, name, *_texts(raw)).errors)
            if not errors:
                item = copy.deepcopy(raw)
        else:
            values, parse_errors = self._form.values()
            try:
                meta, meta_error = self.meta.value(), None
            except FieldError as ex:
                meta, meta_error = None, f"meta: {ex}"
            errors.update(name_problem(item_type, name, self._specs, self._plans_known))
            checked = validate(self._spec, values, self._index, plans=plans)
            for key in [*self._form.rows, *checked, *parse_errors]:
                message = parse_errors.get(key) or checked.get(key)
                if message:
                    errors.setdefault(key, message)
            meta_error = meta_error or validate_meta(meta)
            if meta_error:
                errors["meta"] = meta_error
            draft = draft_item(self._spec, values, None if meta_error else meta)
            if not errors:
                try:
                    item = build_item(self._spec, values, meta=meta, devices=self._index,
                                      plans=plans)  # fmt: skip
                except ItemInvalid as ex:
                    errors.update(ex.errors)
        self._item, self._errors, self._draft = item, errors, draft
        self._show_errors()
        if not (self._json_error or self._json_pending or self._json_source
                or self._raw_item is not None):  # fmt: skip
            self.json.show_item(draft)
        self.save_as_new_action.setEnabled(item is not None)
        self.changed.emit()

    def _show_errors(self: ItemEditor) -> None:
        errors = self._errors
        if self._form is not None:
            self._form.show_errors({**errors, **self._server_fields})
        self.meta.show_error(errors.get("meta"))
        first = next(iter(errors.values()), "")
        hint = set(errors) == {"name"} and not self.picker.current()[1]
        self.problem.setText(START_HINT if hint else first)
        self.problem.setVisible(bool(first))
        if self.problem.property("hint") != hint:
            self.problem.setProperty("hint", hint)
            self.problem.setStyleSheet(f"color: {muted_colour(self) if hint else RED};")
        meta_count = len(self._draft.get("meta") or {}) if isinstance(
            self._draft.get("meta"), dict) else int(bool(self._draft.get("meta")))
        self.tabs.setTabText(1, f"Metadata ({meta_count})" if meta_count else "Metadata")
        self.tabs.setTabText(2, "JSON ⚠" if self._json_error else "JSON")


def _texts(item: Mapping[str, Any]) -> tuple[str, str, str]:
    """args/kwargs/meta of a raw item as JSON texts (for the structure-only check)."""
    out = []
    for key in ("args", "kwargs", "meta"):
        value = item.get(key)
        out.append("" if value in (None, [], {}) else json.dumps(value, default=repr))
    return out[0], out[1], out[2]
