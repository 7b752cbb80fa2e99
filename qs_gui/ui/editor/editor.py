"""``ItemEditor``: the plan/instruction editor of the main window.

Public API (``current_item``, ``current_error``, ``load_item``,
``editing_uid``, ``is_dirty``, ``clear_editing``, ``reset``, ``set_actions``, ``set_plans``,
``set_devices``, ``changed``, ``text_state``/``restore_text_state``) plus ``show_server_error``,
``notify_queue`` and ``save_as_new_requested``.

How it is put together, and why:

* All rules live in :mod:`qs_gui.core.schema` (Qt-free, fuzzed): the widgets report what is on
  screen (``ParamForm.values()``), the core validates and builds the item. Only
  :func:`~qs_gui.core.schema.build_item` makes the item that ``current_item`` returns, and it
  refuses whenever ``validate`` finds a problem: what is sent is never an item with a known error.
* Validation is debounced, but ``current_item``/``current_error`` flush pending work first, so a
  click right after a keystroke never sends the item as it was before that keystroke.
* Three views of one item: the form, the metadata rows and the JSON text. Form edits rewrite
  the JSON; JSON edits are parsed and loaded into the form (an invalid text blocks sending and
  says why). Without a plan spec (plans not loaded yet, unknown plan) the JSON is the editor.
* What the operator typed is sacred: new ``plans_allowed``/``devices_allowed`` never rewrite a
  field, switching plans with unsaved edits asks first (``confirm`` hook, replaceable in tests),
  and ``text_state``/``restore_text_state`` carry the whole editor across reconnects.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QAction,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qs_gui.core.entry import INSTRUCTIONS
from qs_gui.core.schema import (
    DeviceIndex,
    PlanSpec,
    instruction_spec,
    plan_specs,
    server_field_errors,
    values_from_item,
)
from qs_gui.ui.dialogs import confirm

from .banner import EditBanner, ServerErrorBox
from .form import ParamForm
from .json_view import JsonView, item_text
from .meta import MetaEditor
from .picker import PlanPicker
from .state import EditorStateMixin, name_problem
from .style import muted_colour
from .sync import EditorSyncMixin

__all__ = ["JSON_DELAY_MS", "VALIDATION_DELAY_MS", "ItemEditor"]

VALIDATION_DELAY_MS = 120
JSON_DELAY_MS = 300


class ItemEditor(EditorSyncMixin, EditorStateMixin, QWidget):
    """Edit one plan or instruction; see the module docstring."""

    changed = pyqtSignal()  # after every validation run
    save_as_new_requested = pyqtSignal(dict)  # the edited item, to be added as a new item

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("itemEditor")
        self._specs: dict[str, PlanSpec] = {}
        self._plans_known = False
        self._index: DeviceIndex | None = None
        self._spec: PlanSpec | None = None
        self._form: ParamForm | None = None
        self._raw_item: dict[str, Any] | None = None  # JSON-only mode (no spec for the name)
        self._editing_uid: str | None = None
        self._editing_name = ""
        self._loaded_item: dict[str, Any] | None = None
        self._server_item: dict[str, Any] | None = None
        self._server_state = ""
        self._json_error: str | None = None
        self._json_pending = False
        self._json_source = False  # the JSON text was applied: do not rewrite it while typed in
        self._item: dict[str, Any] | None = None
        self._errors: dict[str, str] = {}
        self._draft: dict[str, Any] = {}
        self._server_fields: dict[str, str] = {}
        self._save_action: QAction | None = None
        self._actions: list[QAction] = []
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
        self._show_plan("plan", "")
        self._baseline = self._plan_baseline = self._state()
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
        self.placeholder.setStyleSheet(f"color: {muted_colour(self)}; padding: 8px;")
        self._holder_layout.addWidget(self.placeholder)
        self.scroll = QScrollArea(objectName="formScroll", widgetResizable=True)
        self.scroll.setFrameShape(QScrollArea.NoFrame)
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
        layout.addWidget(self.server_error)
        layout.addWidget(self.edit_buttons)
        layout.addLayout(buttons)

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
        specs = plan_specs(plans_allowed)
        if self._plans_known and specs == self._specs:
            return
        unchanged = self._state() == self._baseline
        self._plans_known = True
        self._specs = specs
        self.picker.set_plans(specs)
        item_type, name = self.picker.current()
        if self._raw_item is not None and self._json_error is None:
            if self._lookup(item_type, name) is not None:
                self._load_clean(item_type, name, self._raw_item)
        elif item_type == "plan" and self._form is not None:
            new = specs.get(name)
            if new is not None and new != self._spec:
                self._rebuild_form(new)
        elif item_type == "plan" and self._form is None and name in specs:
            self._show_plan(item_type, name)
        if unchanged:
            self._baseline = self._plan_baseline = self._state()
        self.picker.show_spec(self._spec)
        self._schedule()

    def set_devices(self, devices_allowed: Mapping[str, Any] | None) -> None:
        """New devices_allowed (None: unknown, keeps the last list; names are checked by it)."""
        index = DeviceIndex.from_allowed(devices_allowed)
        if index is None or index == self._index:
            return
        self._index = index
        if self._form is not None:
            self._form.set_devices(index)
        self._schedule()

    def _lookup(self, item_type: str, name: str) -> PlanSpec | None:
        if item_type == "instruction":
            return instruction_spec(name) if name in INSTRUCTIONS else None
        return self._specs.get(name)

    # ----- the form ----------------------------------------------------------------------------
    def _show_plan(self, item_type: str, name: str, values: dict[str, Any] | None = None,
                   raw: bool = False) -> None:  # fmt: skip
        """Show (item_type, name) in the picker and a fresh form for it (none in JSON mode)."""
        spec = None if raw else self._lookup(item_type, name)
        self._spec = spec
        self.picker.set_current(item_type, name)
        problem = next(iter(name_problem(item_type, name, self._specs, self._plans_known)
                            .values()), "") if name else ""  # no name: the start hint says it
        self.picker.show_spec(spec, "" if raw else problem)
        if self._form is not None:
            self._form.setParent(None)
            self._form.deleteLater()
            self._form = None
        if spec is not None:
            self._form = ParamForm(spec, self._index, sorted(self._specs), self.form_holder)
            self._holder_layout.addWidget(self._form)
            self._form.edited.connect(self._on_edit)
            if values is not None:
                self._form.load(values)
        self.placeholder.setVisible(self._form is None)
        self.placeholder.setText(
            "No form for this item: edit it in the JSON tab." if raw and name
            else "Choose a plan above to fill in its parameters.")
        self.tabs.setTabEnabled(1, item_type == "plan" and not raw)

    def _rebuild_form(self, spec: PlanSpec) -> None:
        """The plan's schema changed on the server: new rows, same values where possible."""
        if self._form is None:
            return
        old = {n: (r.p, r.state()) for n, r in self._form.rows.items()}
        values, _ = self._form.values()
        self._show_plan(*self.picker.current())
        for name, row in (self._form.rows.items() if self._form else ()):
            if name in old and old[name][0] == row.p:
                row.restore(old[name][1])
            elif name in values:
                row.load(True, values[name])

    def _load_clean(self, item_type: str, name: str, clean: dict[str, Any]) -> None:
        spec = self._lookup(item_type, name)
        values = None
        if spec is not None:
            try:
                values = values_from_item(spec, clean)
            except ValueError:
                spec = None
        if spec is None or values is None:
            self._show_plan(item_type, name, raw=True)
            self._raw_item = clean
            self.json.set_text(item_text(clean))
            self.meta.set_value(None)
        else:
            self._raw_item = None
            self._show_plan(item_type, name, values)
            self.meta.set_value(clean.get("meta"))

    def _plan_chosen(self, item_type: str, name: str) -> None:
        old = self.picker.current()
        if self._state() != self._plan_baseline and not self.confirm(
            "Discard changes?",
            f"The form has unsaved changes. Switch to {name or 'another item'} and discard them?",
        ):
            self.picker.set_current(*old)
            return
        self._raw_item = None
        self._clear_json_state()
        self._show_plan(item_type, name)
        self._plan_baseline = self._state()
        self._on_edit()

    # ----- reading -----------------------------------------------------------------------------
    @property
    def form(self) -> ParamForm | None:
        """The parameter form of the current plan (None in JSON-only mode or with no plan)."""
        return self._form

    @property
    def spec(self) -> PlanSpec | None:
        return self._spec

    def item_type(self) -> str:
        return self.picker.current()[0]

    def current_item(self) -> dict[str, Any] | None:
        """The item to send (a copy), or None while anything is invalid."""
        self._flush()
        return copy.deepcopy(self._item)

    def current_error(self) -> str | None:
        """The first problem in plain words (the gates' reason), None when the item is valid."""
        self._flush()
        return next(iter(self._errors.values()), None) if self._item is None else None

    def current_errors(self) -> dict[str, str]:
        self._flush()
        return dict(self._errors)

    def draft_item(self) -> dict[str, Any]:
        """What the form holds as an item, valid or not (what the JSON view shows)."""
        self._flush()
        return copy.deepcopy(self._draft)

    # ----- server feedback ---------------------------------------------------------------------
    def show_server_error(self, msg: str) -> None:
        """Show the server's refusal next to the form (and at the fields it names) until the
        next edit."""
        text = msg if isinstance(msg, str) else str(msg)
        self.server_error.show_message(text)
        names = [p.name for p in self._spec.parameters] if self._spec is not None else []
        self._server_fields = server_field_errors(text, names)
        self._show_errors()

    def _save_as_new(self) -> None:
        item = self.current_item()
        if item is not None:
            self.save_as_new_requested.emit(item)

    def _ask(self, title: str, text: str) -> bool:
        return confirm(self.window(), title, text, destructive=True)
