"""The editor's state machinery: loading, dirtiness, reset, queue-item tracking, persistence.

Split from ``editor.py`` (one concern per module): this mixin holds what concerns *which* item
is edited and whether the operator's work is saved, not how the form is drawn.

* ``is_dirty`` compares everything on screen (form rows, metadata, pending JSON) with the state
  right after ``load_item``/``reset``; the main window asks before replacing a dirty editor.
* ``notify_queue`` follows the edited queue item: if the server's copy differs from what was
  loaded, another client changed it (banner + Reload); if it is gone, Save is unavailable. An
  item equal to what the editor now holds is our own save coming back, not a conflict.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from qs_gui.core.entry import INSTRUCTIONS

from .json_view import ITEM_KEYS, parse_item_text

if TYPE_CHECKING:
    from .editor import ItemEditor

__all__ = ["EditorStateMixin", "clean_item", "name_problem"]


def clean_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """The item's own keys only (no uid, user, result…), deep-copied; empty parts dropped."""
    return {k: copy.deepcopy(item[k]) for k in ITEM_KEYS
            if k in item and item[k] is not None and item[k] != [] and item[k] != {}}


def name_problem(item_type: str, name: str, specs: Mapping[str, Any],
                 known: bool) -> dict[str, str]:  # fmt: skip
    """{"name": message} when (item_type, name) cannot be sent, else {}."""
    if item_type == "instruction":
        if name in INSTRUCTIONS:
            return {}
        shown = f"{name!r} is not an instruction" if name else "choose an instruction"
        return {"name": f"name: {shown} (the only instruction is 'queue_stop')"}
    if not name:
        return {"name": "name: choose a plan"}
    if known and name not in specs:
        close = difflib.get_close_matches(name, list(specs), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return {"name": f"name: {name!r} is not an allowed plan{hint}"}
    return {}


class EditorStateMixin:
    """Methods of :class:`~qs_gui.ui.editor.editor.ItemEditor` about the edited item's state."""

    # ----- what is edited ----------------------------------------------------------------------
    @property
    def editing_uid(self: ItemEditor) -> str | None:
        return self._editing_uid

    @property
    def edit_state(self: ItemEditor) -> str:
        """"" (new item), "editing", "changed" (on the server since loaded) or "vanished"."""
        return self._server_state if self._editing_uid else ""

    def load_item(self: ItemEditor, item: Mapping[str, Any], *,
                  editing_uid: str | None = None) -> None:  # fmt: skip
        """Show ``item``; with ``editing_uid``, Save updates that queue item. Callers ask first
        when :meth:`is_dirty` (this replaces the operator's work)."""
        clean = clean_item(item if isinstance(item, Mapping) else {})
        item_type = "instruction" if clean.get("item_type") == "instruction" else "plan"
        name = clean.get("name") if isinstance(clean.get("name"), str) else ""
        clean.update(item_type=item_type, name=name)
        self._clear_json_state()
        self._clear_server_error()
        self._load_clean(item_type, name, clean)
        uid = editing_uid if isinstance(editing_uid, str) and editing_uid else None
        self._editing_uid, self._editing_name = uid, name
        self._loaded_item = clean if uid else None
        self._server_item = None
        self._server_state = "editing" if uid else ""
        self._update_editing()
        self._baseline = self._plan_baseline = self._state()
        self._validate()

    def clear_editing(self: ItemEditor) -> None:
        """Leave editing mode (the form stays; Save hides)."""
        self._editing_uid, self._editing_name = None, ""
        self._loaded_item = self._server_item = None
        self._server_state = ""
        self._update_editing()

    def _update_editing(self: ItemEditor) -> None:
        editing = self._editing_uid is not None
        self.banner.set_state(self._server_state if editing else "", self._editing_name,
                              self._editing_uid or "")  # fmt: skip
        self.save_button.setVisible(editing and self._save_action is not None
                                    and self._server_state != "vanished")  # fmt: skip
        self.save_as_new_button.setVisible(editing)
        self.edit_buttons.setVisible(editing)

    # ----- dirty / reset -----------------------------------------------------------------------
    def _state(self: ItemEditor) -> dict[str, Any]:
        item_type, name = self.picker.current()
        json_is_source = bool(self._json_error or self._json_pending
                              or self._raw_item is not None)  # fmt: skip
        return {
            "item_type": item_type,
            "name": name,
            "form": self._form.state() if self._form is not None else None,
            "meta": self.meta.state(),
            "json": self.json.text() if json_is_source else None,
        }

    def is_dirty(self: ItemEditor) -> bool:
        """True when anything differs from what was loaded (or from the last reset)."""
        return self._state() != self._baseline

    def reset(self: ItemEditor) -> None:
        """Restore the editor as it was loaded (empty when nothing was loaded)."""
        self._restore_state(self._baseline)
        self._plan_baseline = self._state()
        self._validate()

    def _restore_state(self: ItemEditor, state: Mapping[str, Any]) -> None:
        item_type = "instruction" if state.get("item_type") == "instruction" else "plan"
        name = state.get("name") if isinstance(state.get("name"), str) else ""
        form, text = state.get("form"), state.get("json")
        self._clear_json_state()
        self._clear_server_error()
        self._raw_item = None
        raw = form is None and isinstance(text, str)
        self._show_plan(item_type, name, raw=raw)
        if self._form is not None and isinstance(form, Mapping):
            self._form.restore(dict(form))
        self.meta.restore(state.get("meta"))
        if isinstance(text, str):
            self.json.set_text(text)
            if raw:
                try:
                    self._raw_item = parse_item_text(text)
                except ValueError as ex:
                    self._json_error = str(ex)
                    self.json.show_error(self._json_error)
            else:
                self._json_pending = True
                self._apply_json()

    # ----- persistence across reconnects -------------------------------------------------------
    def text_state(self: ItemEditor) -> dict[str, Any]:
        """Everything needed to rebuild the editor exactly as the operator left it."""
        self._flush()
        return {
            **self._state(),
            "baseline": copy.deepcopy(self._baseline),
            "editing_uid": self._editing_uid,
            "editing_name": self._editing_name,
            "loaded_item": copy.deepcopy(self._loaded_item),
            "server_state": self._server_state,
        }

    def restore_text_state(self: ItemEditor, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`text_state`; tolerant of missing or odd values."""
        if not isinstance(state, Mapping):
            return
        self._restore_state(state)
        baseline = state.get("baseline")
        self._baseline = dict(baseline) if isinstance(baseline, Mapping) else self._state()
        self._plan_baseline = self._state()
        uid = state.get("editing_uid")
        self._editing_uid = uid if isinstance(uid, str) and uid else None
        name = state.get("editing_name")
        self._editing_name = name if isinstance(name, str) else ""
        loaded = state.get("loaded_item")
        self._loaded_item = clean_item(loaded) if isinstance(loaded, Mapping) else None
        server_state = state.get("server_state")
        self._server_state = (server_state if server_state in ("editing", "changed", "vanished")
                              else "editing") if self._editing_uid else ""  # fmt: skip
        self._update_editing()
        self._validate()

    # ----- the queue as the server has it ------------------------------------------------------
    def notify_queue(self: ItemEditor, items: list[Mapping[str, Any]]) -> None:
        """The current queue: flags the edited item as changed elsewhere or gone."""
        uid = self._editing_uid
        if not uid or not isinstance(items, list):
            return
        found = next((i for i in items if isinstance(i, Mapping) and i.get("item_uid") == uid),
                     None)  # fmt: skip
        if found is None:
            state = "vanished"
        else:
            server = clean_item(found)
            self._flush()
            if server == self._loaded_item:
                state = "editing"
            elif self._item is not None and server == clean_item(self._item):
                self._loaded_item, state = server, "editing"  # our own save came back
            else:
                self._server_item, state = dict(found), "changed"
        if state != self._server_state:
            self._server_state = state
            self._update_editing()

    def _reload(self: ItemEditor) -> None:
        if self._server_item is None or not self._editing_uid:
            return
        if self.is_dirty() and not self.confirm(
                "Discard changes?", "Reload the item from the server and discard your changes?"):
            return
        self.load_item(self._server_item, editing_uid=self._editing_uid)
