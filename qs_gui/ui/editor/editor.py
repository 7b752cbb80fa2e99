"""``ItemEditor``: the plan/instruction editor of the main window, a view over an
:class:`~qs_gui.core.editor_state.EditorState`.

Public API (``current_item``, ``current_error``, ``current_errors``, ``draft_item``,
``load_item``, ``editing_uid``, ``edit_state``, ``is_dirty``, ``clear_editing``, ``reset``,
``set_actions``, ``set_plans``, ``set_devices``, ``changed``, ``text_state``/
``restore_text_state``) plus ``show_server_error``, ``notify_queue``,
``save_as_new_requested``, ``mark_sent`` (the server took the item: nothing unsaved),
``focus_stops`` and ``focus_first_field`` (keyboard order).

How it is put together, and why:

* The state (the choice and its spec, validation, the JSON text's state, dirtiness, the edited
  queue item) is the Qt-free :class:`EditorState` in ``self.state``, tested without a display.
  This class owns the widgets: they report what is on screen (``ParamForm.values()``, the
  widgets' ``state()`` snapshots) and draw what the state decides. All rules live in
  :mod:`qs_gui.core.schema`; only :func:`~qs_gui.core.schema.build_item` makes the item that
  ``current_item`` returns, so what is sent is never an item with a known error.
* Validation and JSON parsing are debounced (the timers are here), but ``current_item``/
  ``current_error`` flush pending work first, so a click right after a keystroke never sends
  the item as it was before that keystroke.
* Three views of one item: the form, the metadata rows and the JSON text. Form edits rewrite
  the JSON; JSON edits are parsed and loaded into the form (an invalid text blocks sending and
  says why). While the operator is still in the JSON editor its text is not rewritten; leaving
  it shows the canonical text. Without a plan spec (plans not loaded yet, unknown plan) the
  JSON is the editor.
* Warnings (a scan motor not in ``devices_allowed``) never block the item in the state, but
  ``current_item`` is None and ``current_error`` says why until the operator ticks "Accept
  warnings" beside them, so the window's gates disable Add / Execute now with that reason.
* Keyboard: Tab follows the reading order (picker → fields → Add / Execute now), computed when
  Tab is pressed (:meth:`ItemEditor.focusNextPrevChild`); Enter on a plan name goes on to its
  first field; the None / ``{}`` toggles are mouse-only (the JSON tab edits any value).
* What the operator typed is sacred: new ``plans_allowed``/``devices_allowed`` never rewrite a
  field, switching plans with unsaved edits asks first (``confirm`` hook, replaceable in tests),
  and ``text_state``/``restore_text_state`` carry the whole editor across reconnects.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from PyQt5.QtCore import QEvent, QObject, QSignalBlocker, Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QAction,
    QApplication,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qs_gui.core.editor_state import EditorState, Fill, FormInput
from qs_gui.core.editor_text import item_text
from qs_gui.core.item_helpers import clean_item
from qs_gui.core.schema import PlanSpec
from qs_gui.ui.dialogs import confirm
from qs_gui.ui.theme import style_text

from .banner import EditBanner, ServerErrorBox
from .fields import FieldError
from .focus import tab_stops
from .form import ParamForm
from .json_view import JsonView
from .meta import MetaEditor
from .picker import PlanPicker

__all__ = ["JSON_DELAY_MS", "VALIDATION_DELAY_MS", "ItemEditor"]

VALIDATION_DELAY_MS = 120
JSON_DELAY_MS = 300


class ItemEditor(QWidget):
    """Edit one plan or instruction; see the module docstring."""

    changed = pyqtSignal()  # after every validation run
    save_as_new_requested = pyqtSignal(dict)  # the edited item, to be added as a new item

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("itemEditor")
        #: Everything but the widgets: the choice, validation, JSON sync, dirtiness, queue item.
        self.state = EditorState()
        self._form: ParamForm | None = None
        self._save_action: QAction | None = None
        self._actions: list[QAction] = []
        self._handed: dict[str, Any] | None = None  # the item current_item() last gave out
        #: ``confirm(title, question) -> bool``; tests replace it to answer.
        self.confirm: Callable[[str, str], bool] = self._ask
        self._timer = QTimer(self, singleShot=True, interval=VALIDATION_DELAY_MS)
        self._timer.timeout.connect(self._validate)
        self._json_timer = QTimer(self, singleShot=True, interval=JSON_DELAY_MS)
        self._json_timer.timeout.connect(self._apply_json)
        self._build()
        self._own_reset = QAction("Reset", self, toolTip="Restore the item as it was loaded")
        self._own_reset.triggered.connect(self.reset)
        self.save_as_new_action = QAction("Save as new", self, objectName="action_save_as_new")
        self.save_as_new_action.setToolTip(
            "Add the edited item to the queue as a new item; the original stays as it is")
        self.save_as_new_action.triggered.connect(self._save_as_new)
        self.set_actions(None, None, None, None)
        self._show_plan()
        self.state.mark_loaded(self._snapshot())
        self._validate()

    # ----- construction ------------------------------------------------------------------------
    def _build(self) -> None:
        self.banner = EditBanner(self)
        self.banner.reload_requested.connect(self._reload)
        self.picker = PlanPicker(self)
        self.picker.chosen.connect(self._plan_chosen)
        self.form_holder = QWidget(objectName="formHolder")
        self._holder_layout = QVBoxLayout(self.form_holder)
        self._holder_layout.setContentsMargins(0, 0, 0, 0)
        self.placeholder = QLabel("Choose a plan above to fill in its parameters.",
                                  objectName="formPlaceholder", wordWrap=True)
        style_text(self.placeholder, "muted", extra="padding: 8px;")
        self._holder_layout.addWidget(self.placeholder)
        self.scroll = QScrollArea(objectName="formScroll", widgetResizable=True)
        self.scroll.setFrameShape(QScrollArea.NoFrame)
        self.scroll.setFocusPolicy(Qt.NoFocus)  # a container: Tab goes to the fields in it
        self.scroll.setWidget(self.form_holder)
        self.meta = MetaEditor(self)
        self.meta.edited.connect(self._on_edit)
        self.json = JsonView(self)
        self.json.text_edited.connect(self._on_json_edit)
        self.json.edit.installEventFilter(self)
        self.tabs = QTabWidget(objectName="editorTabs")
        self.tabs.addTab(self.scroll, "Parameters")
        self.tabs.addTab(self.meta, "Metadata")
        self.tabs.addTab(self.json, "JSON")
        self.problem = QLabel(objectName="problemLabel", wordWrap=True, visible=False)
        self.problem.setTextInteractionFlags(Qt.TextSelectableByMouse)
        # overridable warnings (a scan motor not in devices_allowed): said, and sending waits
        # until the operator ticks the box
        self.warning_box = QWidget(objectName="warningBox", visible=False)
        self.warning_label = QLabel(objectName="warningLabel", wordWrap=True)
        self.warning_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        style_text(self.warning_label, "attention", bold=True)
        self.accept_warnings_box = QCheckBox("Accept warnings: send anyway",
                                             objectName="acceptWarnings")  # fmt: skip
        self.accept_warnings_box.setToolTip(
            "The server may know a device the allowed-devices list does not show; tick to "
            "enable Add to queue / Execute now for this item as it is")
        self.accept_warnings_box.toggled.connect(self._accept_toggled)
        warning_layout = QVBoxLayout(self.warning_box)
        warning_layout.setContentsMargins(0, 0, 0, 0)
        warning_layout.setSpacing(1)
        warning_layout.addWidget(self.warning_label)
        warning_layout.addWidget(self.accept_warnings_box)
        self.server_error = ServerErrorBox(self)
        self.add_button = self._button("addToQueueButton")
        self.execute_button = self._button("executeNowButton")
        self.save_button = self._button("saveButton")
        self.save_as_new_button = self._button("saveAsNewButton")
        self.reset_button = self._button("resetButton")
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.execute_button)
        buttons.addStretch(1)
        buttons.addWidget(self.reset_button)
        self.edit_buttons = QWidget(objectName="editButtons")  # a second row: fits 520 px
        row2 = QHBoxLayout(self.edit_buttons)
        row2.setContentsMargins(0, 0, 0, 0)
        row2.addWidget(self.save_button)
        row2.addWidget(self.save_as_new_button)
        row2.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.banner)
        layout.addWidget(self.picker)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.problem)
        layout.addWidget(self.warning_box)
        layout.addWidget(self.server_error)
        layout.addWidget(self.edit_buttons)
        layout.addLayout(buttons)
        self.picker.name_combo.lineEdit().returnPressed.connect(self._enter_in_picker)

    def _button(self, name: str) -> QToolButton:
        button = QToolButton(self, objectName=name)
        button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        return button

    def set_actions(self, execute_now: QAction | None, add: QAction | None,
                    save: QAction | None = None, reset: QAction | None = None) -> None:
        """Buttons follow these actions (enabled state, text, tooltip); None hides a button.

        The actions are also added to this widget, so their shortcuts (Ctrl+Enter, Ctrl+Shift+
        Enter) work while the focus is anywhere in the form, even in a floating dock. Without a
        ``reset`` action the widget uses its own, which calls :meth:`reset`.
        """
        for action in self._actions:
            self.removeAction(action)
        self._save_action = save
        chosen = (execute_now, add, save, self.save_as_new_action, reset or self._own_reset)
        buttons = (self.execute_button, self.add_button, self.save_button,
                   self.save_as_new_button, self.reset_button)
        for button, action in zip(buttons, chosen, strict=True):
            old = button.defaultAction()
            if old is not None and old is not action:
                button.removeAction(old)
            if action is not None:
                button.setDefaultAction(action)
            button.setVisible(action is not None)
        self._actions = [a for a in (execute_now, add, save) if a is not None]
        for action in self._actions:
            self.addAction(action)
        self._update_editing()

    # ----- plans and devices -------------------------------------------------------------------
    def set_plans(self, plans_allowed: Mapping[str, Any] | None) -> None:
        """New plans_allowed. None (unknown, e.g. while reconnecting) keeps everything as is."""
        if not isinstance(plans_allowed, Mapping):
            return
        unchanged = not self.is_dirty()  # judged before the new plans can refit the item
        replan = self.state.set_plans(plans_allowed)
        if replan is None:
            return
        self.picker.set_plans(self.state.specs)
        if replan.kind == "refill" and replan.fill is not None:
            self._show_fill(replan.fill)
        elif replan.kind == "rebuild":
            self._rebuild_form()
        elif replan.kind == "show":
            self._show_plan()
        if unchanged:
            self.state.mark_loaded(self._snapshot())
        self.picker.show_spec(self.state.spec)
        self._schedule()

    def set_devices(self, devices_allowed: Mapping[str, Any] | None) -> None:
        """New devices_allowed (None: unknown, keeps the last list; names are checked by it)."""
        if not self.state.set_devices(devices_allowed):
            return
        if self._form is not None:
            self._form.set_devices(self.state.devices)
        self._schedule()

    # ----- drawing the state's choice ----------------------------------------------------------
    def _show_plan(self, values: dict[str, Any] | None = None) -> None:
        """Show the state's choice in the picker and a fresh form for it (none in JSON mode)."""
        s = self.state
        self.picker.set_current(s.item_type, s.name)
        self.picker.show_spec(s.spec, s.name_hint)
        if self._form is not None:
            self._form.setParent(None)
            self._form.deleteLater()
            self._form = None
        if s.spec is not None:
            self._form = ParamForm(s.spec, s.devices, sorted(s.specs), self.form_holder)
            self._holder_layout.addWidget(self._form)
            self._form.show()  # now, not queued by the layout: Enter may focus it at once
            self._form.edited.connect(self._on_edit)
            if values is not None:
                self._form.load(values)
        self.placeholder.setVisible(self._form is None)
        self.placeholder.setText(
            "No form for this item: edit it in the JSON tab." if s.json_only and s.name
            else "Choose a plan above to fill in its parameters.")
        self.tabs.setTabEnabled(1, s.item_type == "plan" and not s.json_only)

    def _show_fill(self, fill: Fill) -> None:
        """Draw an item the state took whole (loaded, or refitted by new plans)."""
        self._show_plan(fill.values)
        if fill.values is None:
            self.json.set_text(item_text(self.state.raw_item or {}))
            self.meta.set_value(None)
        else:
            self.meta.set_value(fill.meta)

    def _rebuild_form(self) -> None:
        """The plan's schema changed on the server: new rows, same values where possible."""
        if self._form is None:
            self._show_plan()
            return
        old = {n: (r.p, r.state()) for n, r in self._form.rows.items()}
        values, _ = self._form.values()
        self._show_plan()
        for name, row in (self._form.rows.items() if self._form else ()):
            if name in old and old[name][0] == row.p:
                row.restore(old[name][1])
            elif name in values:
                row.load(True, values[name])

    def _plan_chosen(self, item_type: str, name: str) -> None:
        old = self.picker.current()
        if self.state.plan_dirty(self._snapshot()) and not self.confirm(
            "Discard changes?",
            f"The form has unsaved changes. Switch to {name or 'another item'} and discard them?",
        ):
            self.picker.set_current(*old)
            return
        self.state.pick(item_type, name)
        self._clear_json_view()
        self._show_plan()
        self.state.mark_plan(self._snapshot())
        self._on_edit()

    # ----- edits and the JSON text -------------------------------------------------------------
    def _clear_json_view(self) -> None:
        self._json_timer.stop()
        self.json.show_error(None)

    def _on_edit(self) -> None:
        self.server_error.clear()
        if self.state.form_edited():
            self._clear_json_view()
        self._schedule()

    def _on_json_edit(self) -> None:
        self.server_error.clear()
        self.state.json_edited()
        self._json_timer.start()
        self._schedule()

    def _schedule(self) -> None:
        self._timer.start()

    def _flush(self) -> None:
        """Run pending work now (a JSON text to parse, a validation), so what is read is what
        the operator sees."""
        if self.state.json_pending:
            self._apply_json()
        elif self._timer.isActive():
            self._validate()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if watched is self.json.edit and event.type() == QEvent.FocusOut:
            self._flush()
            if self.state.leave_json():  # the operator left the text: show it canonical
                self.json.show_item(self.state.draft)
        return False

    def _apply_json(self) -> None:
        """Parse the JSON text; a valid item goes into the form, an invalid one blocks sending."""
        self._json_timer.stop()
        fill = self.state.apply_json(self.json.text())
        if fill is None:
            self.json.show_error(self.state.json_error)
        else:
            if fill.redraw:
                self._show_plan()
            if fill.values is not None:
                if self._form is not None:  # always, as the state found a spec
                    self._form.load(fill.values)
                self.meta.set_value(fill.meta)
            self.json.show_error(None)
        self._validate()

    # ----- validation --------------------------------------------------------------------------
    def _form_input(self) -> FormInput | None:
        """What the form and metadata tab hold (None without a form: the state checks the
        JSON-only item)."""
        if self._form is None:
            return None
        values, parse_errors = self._form.values()
        try:
            meta, meta_error = self.meta.value(), None
        except FieldError as ex:
            meta, meta_error = None, f"meta: {ex}"
        return FormInput(values, parse_errors, meta, meta_error)

    def _validate(self) -> None:
        self._timer.stop()
        self.state.validate(self._form_input())
        self._show_errors()
        if self.state.json_follows_form:
            self.json.show_item(self.state.draft)
        self.save_as_new_action.setEnabled(self.state.send_error is None)
        self.changed.emit()

    def _show_errors(self) -> None:
        s = self.state
        if self._form is not None:
            self._form.show_errors({**s.errors, **s.server_fields}, s.warnings)
        self._show_warnings()
        self.meta.show_error(s.errors.get("meta"))
        text, hint = s.headline()
        self.problem.setText(text)
        self.problem.setVisible(bool(text))
        if self.problem.property("hint") != hint:
            self.problem.setProperty("hint", hint)
            style_text(self.problem, "muted" if hint else "alarm")
        count = s.meta_count
        self.tabs.setTabText(1, f"Metadata ({count})" if count else "Metadata")
        self.tabs.setTabText(2, "JSON ⚠" if s.json_error else "JSON")

    # ----- reading -----------------------------------------------------------------------------
    @property
    def form(self) -> ParamForm | None:
        """The parameter form of the current plan (None in JSON-only mode or with no plan)."""
        return self._form

    @property
    def spec(self) -> PlanSpec | None:
        return self.state.spec

    def item_type(self) -> str:
        return self.state.item_type

    def current_item(self) -> dict[str, Any] | None:
        """The item to send (a copy), or None while anything is invalid or a warning is not
        accepted yet."""
        self._flush()
        item = self.state.sendable
        self._handed = clean_item(item) if item is not None else None
        return copy.deepcopy(item)

    def current_error(self) -> str | None:
        """Why the item cannot be sent, in plain words (the gates' reason): the first problem,
        or a warning not accepted yet; None when it can be sent."""
        self._flush()
        return self.state.send_error

    def mark_sent(self, item: Mapping[str, Any] | None = None) -> None:
        """The server took the editor's item (added, executed or saved): if the editor still
        holds it (``item``, default: what :meth:`current_item` last gave), nothing is unsaved
        any more, so switching plans or loading another item does not ask to discard it."""
        self._flush()
        sent = self._handed if item is None else clean_item(item)
        if sent is not None and self.state.item is not None and clean_item(
                self.state.item) == sent:  # fmt: skip
            self.state.mark_loaded(self._snapshot())

    def current_errors(self) -> dict[str, str]:
        self._flush()
        return dict(self.state.errors)

    def draft_item(self) -> dict[str, Any]:
        """What the form holds as an item, valid or not (what the JSON view shows)."""
        self._flush()
        return copy.deepcopy(self.state.draft)

    # ----- what is edited ----------------------------------------------------------------------
    @property
    def editing_uid(self) -> str | None:
        return self.state.editing_uid

    @property
    def edit_state(self) -> str:
        """"" (new item), "editing", "changed" (on the server since loaded) or "vanished"."""
        return self.state.edit_state

    def load_item(self, item: Mapping[str, Any], *, editing_uid: str | None = None) -> None:
        """Show ``item``; with ``editing_uid``, Save updates that queue item. Callers ask first
        when :meth:`is_dirty` (this replaces the operator's work)."""
        fill = self.state.load(item, editing_uid=editing_uid)
        self._clear_json_view()
        self.server_error.clear()
        self._show_fill(fill)
        self._update_editing()
        self.state.mark_loaded(self._snapshot())
        self._validate()

    def clear_editing(self) -> None:
        """Leave editing mode (the form stays; Save hides)."""
        self.state.clear_editing()
        self._update_editing()

    def _update_editing(self) -> None:
        s = self.state
        editing = s.editing_uid is not None
        self.banner.set_state(s.edit_state, s.editing_name, s.editing_uid or "")
        self.save_button.setVisible(editing and self._save_action is not None
                                    and s.server_state != "vanished")  # fmt: skip
        self.save_as_new_button.setVisible(editing)
        self.edit_buttons.setVisible(editing)

    def notify_queue(self, items: list[Mapping[str, Any]]) -> None:
        """The current queue: flags the edited item as changed elsewhere or gone."""
        if self.state.notify_queue(items, self._held_item):
            self._update_editing()

    def _held_item(self) -> dict[str, Any] | None:
        self._flush()
        return self.state.item

    def _reload(self) -> None:
        item, uid = self.state.server_item, self.state.editing_uid
        if item is None or not uid:
            return
        if self.is_dirty() and not self.confirm(
                "Discard changes?", "Reload the item from the server and discard your changes?"):
            return
        self.load_item(item, editing_uid=uid)

    # ----- dirty / reset -----------------------------------------------------------------------
    def _snapshot(self) -> dict[str, Any]:
        return self.state.snapshot(self._form.state() if self._form is not None else None,
                                   self.meta.state(), self.json.text())  # fmt: skip

    def is_dirty(self) -> bool:
        """True when anything differs from what was loaded (or from the last reset)."""
        return self.state.is_dirty(self._snapshot())

    def reset(self) -> None:
        """Restore the editor as it was loaded (empty when nothing was loaded)."""
        self._restore(self.state.baseline)
        self.state.mark_plan(self._snapshot())
        self._validate()

    def _restore(self, snapshot: Mapping[str, Any]) -> None:
        """Put the screen back as ``snapshot`` has it (see :meth:`EditorState.restore`)."""
        self.state.restore(snapshot)
        self._clear_json_view()
        self.server_error.clear()
        self._show_plan()
        form = snapshot.get("form")
        if self._form is not None and isinstance(form, Mapping):
            self._form.restore(dict(form))
        self.meta.restore(snapshot.get("meta"))
        text = snapshot.get("json")
        if isinstance(text, str):
            self.json.set_text(text)
            if self.state.json_error is not None:
                self.json.show_error(self.state.json_error)
            elif self.state.json_pending:
                self._apply_json()

    # ----- persistence across reconnects -------------------------------------------------------
    def text_state(self) -> dict[str, Any]:
        """Everything needed to rebuild the editor exactly as the operator left it."""
        self._flush()
        return {**self._snapshot(), **self.state.record()}

    def restore_text_state(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`text_state`; tolerant of missing or odd values."""
        if not isinstance(state, Mapping):
            return
        self._restore(state)
        self.state.restore_record(state, self._snapshot())
        self._update_editing()
        self._validate()

    # ----- server feedback ---------------------------------------------------------------------
    def show_server_error(self, msg: str) -> None:
        """Show the server's refusal next to the form (and at the fields it names) until the
        next edit."""
        text = msg if isinstance(msg, str) else str(msg)
        self.server_error.show_message(text)
        self.state.server_refused(text)
        self._show_errors()

    def _save_as_new(self) -> None:
        item = self.current_item()
        if item is not None:
            self.save_as_new_requested.emit(item)

    # ----- warnings ------------------------------------------------------------------------------
    def _show_warnings(self) -> None:
        s = self.state
        warnings = list(s.warnings.values())
        self.warning_box.setVisible(bool(warnings))
        if not warnings:
            return
        self.warning_label.setText("⚠ " + "\n⚠ ".join(warnings))
        accepted = not s.unaccepted_warnings
        if self.accept_warnings_box.isChecked() != accepted:
            with QSignalBlocker(self.accept_warnings_box):
                self.accept_warnings_box.setChecked(accepted)

    def _accept_toggled(self, on: bool) -> None:
        if on:
            self.state.accept_warnings()
        else:
            self.state.revoke_warnings()
        self._validate()

    # ----- keyboard ----------------------------------------------------------------------------
    def focus_stops(self) -> list[QWidget]:
        """The editor's tab stops in order: plan picker, the form's fields as they read, the
        warning override, Add / Execute now (and Save, Reset), then the tabs and their pages."""
        stops: list[QWidget] = [self.picker.type_combo, self.picker.name_combo]
        if self._form is not None:
            stops += self._form.focus_widgets()
        stops += [self.accept_warnings_box, self.add_button, self.execute_button,
                  self.save_button, self.save_as_new_button, self.reset_button,
                  self.banner.reload_button, self.tabs.tabBar()]  # fmt: skip
        stops += tab_stops(self.meta) + tab_stops(self.json)
        return stops

    def focusNextPrevChild(self, forward: bool) -> bool:  # noqa: N802 (Qt name)
        """Tab / Shift+Tab inside the editor follow :meth:`focus_stops` (reading order), not
        Qt's creation-order chain; from the last (first) stop they leave the editor.

        Why not ``setTabOrder``: the form is rebuilt per plan and rows come and go, and
        re-linking Qt's chain around composite widgets (editable combo boxes, spin boxes) can
        cut other panes out of it. Computing the next stop when Tab is pressed cannot."""
        focus = QApplication.focusWidget()
        stops = [w for w in self.focus_stops() if w.isVisible() and w.isEnabled()]
        here = next((i for i, w in enumerate(stops)
                     if focus is not None and (w is focus or w.isAncestorOf(focus))), None)
        if here is None:
            return super().focusNextPrevChild(forward)
        step = 1 if forward else -1
        if 0 <= here + step < len(stops):
            stops[here + step].setFocus(Qt.TabFocusReason if forward else Qt.BacktabFocusReason)
            return True
        return self._leave(stops[here], forward)

    def _leave(self, edge: QWidget, forward: bool) -> bool:
        """Focus the first tab stop outside the editor after (before) ``edge``."""
        w = edge
        for _ in range(2000):  # the window's whole chain at most
            w = w.nextInFocusChain() if forward else w.previousInFocusChain()
            if w is edge:
                break
            if (not self.isAncestorOf(w) and w is not self and w.isVisible() and w.isEnabled()
                    and w.focusProxy() is None and w.focusPolicy() & Qt.TabFocus):  # fmt: skip
                w.setFocus(Qt.TabFocusReason if forward else Qt.BacktabFocusReason)
                return True
        return super().focusNextPrevChild(forward)

    def focus_first_field(self) -> None:
        """Put the keyboard in the first field of the form (the picker without a form)."""
        stops = self._form.focus_widgets() if self._form is not None else []
        target = next((w for w in stops if w.isVisibleTo(self) and w.isEnabled()),
                      self.picker.name_combo)  # fmt: skip
        self.tabs.setCurrentWidget(self.scroll)
        target.setFocus(Qt.TabFocusReason)
        self.scroll.ensureWidgetVisible(target)

    def _enter_in_picker(self) -> None:
        """Enter on a plan name: the plan is chosen (the picker did that), go to its fields."""
        if self._form is not None and self.picker.current()[1] == (
                self.picker.name_combo.currentText().strip()):  # fmt: skip
            # after the completer has finished with this Enter (moving the focus from inside
            # its key handling leaves its popup grabbing the next popup's keys)
            QTimer.singleShot(0, self.focus_first_field)

    def _ask(self, title: str, text: str) -> bool:
        return confirm(self.window(), title, text, destructive=True)
