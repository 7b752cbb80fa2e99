"""The item editor's state, without Qt: what is edited, whether it is valid, saved and in sync.

:class:`~qs_gui.ui.editor.ItemEditor` is a view over one :class:`EditorState`: its widgets
report what is on screen and draw what the state decides. Whatever can be decided without a
widget lives here, so it is unit-tested without a display:

* **The choice**: plan or instruction, its name, and the spec the form is built from. Without a
  spec (plans not loaded yet, an unknown plan, an item the plan's form cannot take) there is no
  form and the item is edited as JSON alone (``raw_item``).
* **Validation**: :meth:`EditorState.validate` turns what the form holds (:class:`FormInput`),
  or the JSON-only item, into ``item`` (only ever from :func:`build_item`, so an item with a
  known problem is never sent), ``errors`` in field order, and ``draft`` (what the JSON view
  shows, valid or not). ``warnings`` are problems the operator may override (a scan motor that
  is not in ``devices_allowed``): they never block ``item``, but ``sendable`` is None and
  ``send_error`` (the gates' reason) names the warning until the operator accepts it
  (``unaccepted_warnings``, ``accept_warnings``, ``revoke_warnings``).
* **JSON sync**: a JSON edit is pending until parsed (:meth:`EditorState.apply_json`); a valid
  text goes into the form, an invalid one is ``json_error`` and blocks sending. While the
  operator's text is in charge it is not rewritten from the form (``json_follows_form``).
* **Dirtiness**: snapshots of the screen (form rows, metadata, and the JSON text when it holds
  edits the form does not) are compared with the one taken after loading or reset. What a form
  row's snapshot holds is the widgets' business: here snapshots are only stored and compared.
* **The edited queue item**: its uid, the item as loaded, and whether the server's copy is
  still that (``edit_state``: "editing", "changed" by someone else, or "vanished").

Debouncing stays in the view, which owns the timers; the state only knows that a JSON text is
pending, so the view can flush before anything reads the item.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .editor_text import parse_item_text
from .item_helpers import clean_item
from .schema import (
    DeviceIndex,
    ItemInvalid,
    PlanSpec,
    build_item,
    draft_item,
    instruction_spec,
    plan_specs,
    server_field_errors,
    validate_meta,
    validate_warnings,
    values_from_item,
)
from .schema import validate as check_values
from .schema.values import INSTRUCTIONS, parse_entry

__all__ = [
    "EDIT_STATES",
    "START_HINT",
    "EditorState",
    "Fill",
    "FormInput",
    "Replan",
    "name_problem",
]

#: Shown (muted) instead of "name: choose a plan" while no name is chosen: that is where every
#: item starts, not a mistake. ``EditorState.error`` still gives the gates their reason.
START_HINT = "Choose a plan or instruction to start"

#: The edited queue item as the server has it: as loaded, changed by someone else, or gone.
EDIT_STATES = ("editing", "changed", "vanished")


def name_problem(item_type: str, name: str, specs: Mapping[str, Any],
                 known: bool) -> dict[str, str]:  # fmt: skip
    """{"name": message} when (item_type, name) cannot be sent, else {}.

    While the plans are not ``known`` any plan name passes: the server will judge it.
    """
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


@dataclass(frozen=True)
class FormInput:
    """What the form and the metadata tab hold, as their widgets read it."""

    values: dict[str, Any] = field(default_factory=dict)  # the parameters that are set
    parse_errors: dict[str, str] = field(default_factory=dict)  # parameter -> why not a value
    meta: Any = None
    meta_error: str | None = None  # "meta: ..." when the metadata text is not a value


@dataclass(frozen=True)
class Fill:
    """What the form shows after the state took a new item."""

    values: dict[str, Any] | None  # None: no form fits; the item is edited as JSON (raw_item)
    meta: Any = None
    redraw: bool = True  # False: the plan did not change, its form stays and takes the values


@dataclass(frozen=True)
class Replan:
    """What new plans mean for the form (:meth:`EditorState.set_plans`).

    ``keep``: nothing to redraw. ``refill``: a JSON-only item now fits a form (``fill``).
    ``rebuild``: the chosen plan's signature changed; new rows, same values where possible.
    ``show``: the chosen plan now exists; a fresh form.
    """

    kind: Literal["keep", "refill", "rebuild", "show"]
    fill: Fill | None = None


class EditorState:
    """The state of one item editor; see the module docstring.

    The view reads the attributes; they change only through the methods, each of which is one
    thing that happened (an item loaded, a JSON edit, new plans, the queue as the server has it).
    """

    def __init__(self) -> None:
        # what the server allows
        self.specs: dict[str, PlanSpec] = {}
        self.plans_known = False  # specs came from the server: plan names are checked
        self.devices: DeviceIndex | None = None  # None: unknown, names are only checked as text
        # the choice
        self.item_type = "plan"
        self.name = ""
        self.json_only = False  # deliberately no form: the item is edited in the JSON text
        self.spec: PlanSpec | None = None  # what the form is built from; None: no form
        self.raw_item: dict[str, Any] | None = None  # the item while it is edited as JSON only
        # the JSON text
        self.json_error: str | None = None  # why the operator's text is not an item
        self.json_pending = False  # the text was edited and is not parsed yet
        self.json_source = False  # the text was applied: not rewritten while the operator is in it
        # validation
        self.item: dict[str, Any] | None = None  # what is sent; None while anything is invalid
        self.errors: dict[str, str] = {}  # field (or "name", "meta", "json") -> plain message
        self.draft: dict[str, Any] = {}  # the item as the form holds it, valid or not
        # problems the operator may override (a scan motor not in devices_allowed): they never
        # block ``item``; the view asks before sending while ``unaccepted_warnings`` is not empty
        self.warnings: dict[str, str] = {}
        self.accepted_warnings: frozenset[str] = frozenset()
        self.server_fields: dict[str, str] = {}  # fields the server's last refusal named
        # the edited queue item
        self.editing_uid: str | None = None
        self.editing_name = ""
        self.loaded_item: dict[str, Any] | None = None  # clean, as loaded (or as last saved)
        self.server_item: dict[str, Any] | None = None  # the server's copy once it changed
        self.server_state = ""  # one of EDIT_STATES while editing
        # dirtiness: screen snapshots after loading/reset, and after the plan was chosen
        self.baseline: dict[str, Any] = {}
        self.plan_baseline: dict[str, Any] = {}

    # ----- plans and devices -------------------------------------------------------------------
    def lookup(self, item_type: str, name: str) -> PlanSpec | None:
        """The spec of (item_type, name); None when unknown (or the plans are not known yet)."""
        if item_type == "instruction":
            return instruction_spec(name) if name in INSTRUCTIONS else None
        return self.specs.get(name)

    def set_plans(self, plans_allowed: Mapping[str, Any] | None) -> Replan | None:
        """New ``plans_allowed``; None when nothing changes (unknown while reconnecting, or the
        same plans). What the operator typed is never rewritten: a JSON-only item moves into a
        form only when it fits one, a changed signature keeps the values."""
        if not isinstance(plans_allowed, Mapping):
            return None
        specs = plan_specs(plans_allowed)
        if self.plans_known and specs == self.specs:
            return None
        self.plans_known = True
        self.specs = specs
        if self.raw_item is not None and self.json_error is None:
            if self.lookup(self.item_type, self.name) is None:
                return Replan("keep")
            return Replan("refill", self._take(self.item_type, self.name, self.raw_item))
        if self.item_type == "plan" and self.spec is not None:
            new = specs.get(self.name)
            if new is not None and new != self.spec:
                self.choose(self.item_type, self.name)
                return Replan("rebuild")
        elif self.item_type == "plan" and self.spec is None and self.name in specs:
            self.choose(self.item_type, self.name)
            return Replan("show")
        return Replan("keep")

    def set_devices(self, devices_allowed: Mapping[str, Any] | None) -> bool:
        """New ``devices_allowed``; False when unknown (the last list stays) or unchanged."""
        index = DeviceIndex.from_allowed(devices_allowed)
        if index is None or index == self.devices:
            return False
        self.devices = index
        return True

    # ----- the choice --------------------------------------------------------------------------
    def choose(self, item_type: str, name: str, *, json_only: bool = False) -> PlanSpec | None:
        """Make (item_type, name) the current choice and return the spec of its form (none when
        ``json_only``). The view draws the form for it."""
        self.item_type = "instruction" if item_type == "instruction" else "plan"
        self.name = name
        self.json_only = json_only
        self.spec = None if json_only else self.lookup(self.item_type, name)
        return self.spec

    def pick(self, item_type: str, name: str) -> None:
        """The operator picked another plan (and agreed to drop any edits): an empty form for
        it, and the form is the source of the item again."""
        self.raw_item = None
        self.clear_json()
        self.choose(item_type, name)

    @property
    def name_hint(self) -> str:
        """Why the chosen name cannot be sent, for under the picker; "" without a name (the
        start hint speaks then) and for a JSON-only item (its JSON error speaks)."""
        if self.json_only or not self.name:
            return ""
        problems = name_problem(self.item_type, self.name, self.specs, self.plans_known)
        return next(iter(problems.values()), "")

    def fit(self, item_type: str, name: str, item: Mapping[str, Any]) -> dict[str, Any] | None:
        """The form values of ``item`` for (item_type, name); None when no form can take it."""
        spec = self.lookup(item_type, name)
        if spec is None:
            return None
        try:
            return values_from_item(spec, item)
        except ValueError:
            return None

    def _take(self, item_type: str, name: str, clean: dict[str, Any]) -> Fill:
        """Make ``clean`` the edited item: in a form when one fits, else as JSON only."""
        values = self.fit(item_type, name, clean)
        if values is None:
            self.choose(item_type, name, json_only=True)
            self.raw_item = clean
            return Fill(None)
        self.raw_item = None
        self.choose(item_type, name)
        return Fill(values, clean.get("meta"))

    # ----- loading -----------------------------------------------------------------------------
    def load(self, item: Mapping[str, Any], *, editing_uid: str | None = None) -> Fill:
        """Take ``item`` (server keys dropped); with ``editing_uid`` it is that queue item, and
        Save will update it. This replaces the operator's work: callers ask first when dirty."""
        clean = clean_item(item if isinstance(item, Mapping) else {})
        item_type = "instruction" if clean.get("item_type") == "instruction" else "plan"
        name = clean.get("name") if isinstance(clean.get("name"), str) else ""
        clean.update(item_type=item_type, name=name)
        self.clear_json()
        self.server_fields = {}
        fill = self._take(item_type, name, clean)
        uid = editing_uid if isinstance(editing_uid, str) and editing_uid else None
        self.editing_uid, self.editing_name = uid, name
        self.loaded_item = clean if uid else None
        self.server_item = None
        self.server_state = "editing" if uid else ""
        return fill

    # ----- the JSON text -----------------------------------------------------------------------
    @property
    def json_holds_edits(self) -> bool:
        """The text holds something the form does not (an error, an unparsed edit, a JSON-only
        item): snapshots, and so dirtiness, include the text."""
        return bool(self.json_error or self.json_pending or self.raw_item is not None)

    @property
    def json_follows_form(self) -> bool:
        """The text is rewritten from the form after each validation (the operator's own text
        is not in charge)."""
        return not (self.json_holds_edits or self.json_source)

    def clear_json(self) -> None:
        """Forget the JSON text's own state: the form (or a loaded item) is the source."""
        self.json_error = None
        self.json_pending = False
        self.json_source = False

    def json_edited(self) -> None:
        """The operator typed in the JSON text: parse it later (debounced)."""
        self.server_fields = {}
        self.json_pending = True

    def form_edited(self) -> bool:
        """The operator edited the form or the metadata: the server's complaint is stale, and
        the form is the source again unless the item is JSON-only. True when the JSON state
        was cleared (the view then drops its pending parse and error line)."""
        self.server_fields = {}
        if self.raw_item is not None:
            return False
        self.clear_json()
        return True

    def apply_json(self, text: str) -> Fill | None:
        """Parse the operator's text. A valid item becomes the edited item (in the form when one
        fits it) and the text stays in charge; an invalid one is kept as ``json_error``, which
        blocks sending, and None is returned."""
        self.json_pending = False
        try:
            item = parse_item_text(text)
            item_type, name = item["item_type"], item["name"]
            spec = self.lookup(item_type, name)
            values = values_from_item(spec, item) if spec is not None else None
        except ValueError as ex:
            self.json_error = str(ex)
            return None
        clean = clean_item(item)
        if values is None:
            self.choose(item_type, name, json_only=True)
            self.raw_item = clean
            fill = Fill(None)
        else:
            redraw = self.spec is None or (item_type, name) != (self.item_type, self.name)
            if redraw:
                self.choose(item_type, name)
            self.raw_item = None
            fill = Fill(values, clean.get("meta"), redraw=redraw)
        self.json_error = None
        self.json_source = True
        return fill

    def leave_json(self) -> bool:
        """The operator left the JSON text: True when it should now show the canonical text of
        the item (it was the operator's valid text until now)."""
        if self.json_source and self.json_error is None:
            self.json_source = False
            return True
        return False

    # ----- validation --------------------------------------------------------------------------
    def validate(self, form: FormInput | None = None) -> None:
        """Check the item: ``form`` is what the form holds (ignored without a spec, where the
        JSON-only item is checked). Sets ``item``, ``errors`` and ``draft``."""
        item_type, name = self.item_type, self.name
        errors: dict[str, str] = {}
        warnings: dict[str, str] = {}
        item: dict[str, Any] | None = None
        draft: dict[str, Any] = {"item_type": item_type, "name": name}
        plans = frozenset(self.specs) if self.plans_known else None
        if self.json_error is not None:
            errors["json"] = f"JSON: {self.json_error}"
        elif self.spec is None:  # JSON-only: no spec to check against
            errors.update(name_problem(item_type, name, self.specs, self.plans_known))
            draft = self.raw_item or draft
            spec = self.lookup(item_type, name)
            if not errors and spec is not None:  # a known plan whose form could not take it
                try:
                    values_from_item(spec, draft)
                    errors["json"] = "JSON: the item does not fit the plan's form"
                except ValueError as ex:
                    errors["json"] = f"JSON: {ex}"
            if not errors:  # plans not known yet: structure only, as the simple entry did
                errors.update(parse_entry(item_type, name, *_texts(draft)).errors)
            if not errors:
                item = copy.deepcopy(draft)
        else:
            spec, form = self.spec, form or FormInput()
            values, parse_errors = form.values, form.parse_errors
            errors.update(name_problem(item_type, name, self.specs, self.plans_known))
            checked = check_values(spec, values, self.devices, plans=plans)
            for key in [*(p.name for p in spec.parameters), *checked, *parse_errors]:
                message = parse_errors.get(key) or checked.get(key)
                if message:
                    errors.setdefault(key, message)
            meta_error = form.meta_error or validate_meta(form.meta)
            if meta_error:
                errors["meta"] = meta_error
            draft = draft_item(spec, values, None if meta_error else form.meta)
            warnings = validate_warnings(spec, values, self.devices)
            if not errors:
                try:
                    item = build_item(spec, values, meta=form.meta, devices=self.devices,
                                      plans=plans)  # fmt: skip
                except ItemInvalid as ex:
                    errors.update(ex.errors)
        self.item, self.errors, self.draft = item, errors, draft
        self.warnings = {k: v for k, v in warnings.items() if k not in errors}

    @property
    def unaccepted_warnings(self) -> list[str]:
        """Warnings the operator has not overridden yet (ask before Add / Execute now)."""
        return [w for w in self.warnings.values() if w not in self.accepted_warnings]

    def accept_warnings(self) -> None:
        """The operator chose to send anyway: the current warnings no longer ask (a new
        warning, e.g. another mistyped motor, asks again)."""
        self.accepted_warnings = self.accepted_warnings | frozenset(self.warnings.values())

    def revoke_warnings(self) -> None:
        """The operator took the override back: the current warnings block sending again."""
        self.accepted_warnings = self.accepted_warnings - frozenset(self.warnings.values())

    @property
    def send_error(self) -> str | None:
        """Why the item cannot be sent now: the first error, else the first warning the
        operator has not accepted; None when it can be sent (the gates' reason)."""
        if self.error is not None or self.item is None:
            return self.error
        waiting = self.unaccepted_warnings
        return f"{waiting[0]} (tick \"Accept warnings\" to send anyway)" if waiting else None

    @property
    def sendable(self) -> dict[str, Any] | None:
        """``item`` once nothing blocks it (no error, no unaccepted warning); else None."""
        return self.item if self.send_error is None else None

    @property
    def error(self) -> str | None:
        """The first problem in plain words (the gates' reason); None when the item is valid."""
        return next(iter(self.errors.values()), None) if self.item is None else None

    def headline(self) -> tuple[str, bool]:
        """(the problem line under the form, whether it is only the start hint)."""
        first = next(iter(self.errors.values()), "")
        hint = set(self.errors) == {"name"} and not self.name
        return (START_HINT if hint else first), hint

    @property
    def meta_count(self) -> int:
        """How many metadata entries the draft carries (for the tab's title)."""
        meta = self.draft.get("meta")
        return len(meta or {}) if isinstance(meta, dict) else int(bool(meta))

    def server_refused(self, message: str) -> dict[str, str]:
        """The server refused the item: the per-field lines of its message, kept until the next
        edit so the form can point at the fields."""
        names = [p.name for p in self.spec.parameters] if self.spec is not None else []
        self.server_fields = server_field_errors(message, names)
        return self.server_fields

    # ----- dirtiness ---------------------------------------------------------------------------
    def snapshot(self, form: Any, meta: Any, json_text: str) -> dict[str, Any]:
        """The screen as plain data, from the widgets' own states (form rows, metadata) and the
        JSON text, which counts only while it holds edits the form does not."""
        return {
            "item_type": self.item_type,
            "name": self.name,
            "form": form,
            "meta": meta,
            "json": json_text if self.json_holds_edits else None,
        }

    def mark_loaded(self, snapshot: dict[str, Any]) -> None:
        """``snapshot`` is the screen as loaded (or reset): nothing is unsaved."""
        self.baseline = self.plan_baseline = snapshot

    def mark_plan(self, snapshot: dict[str, Any]) -> None:
        """``snapshot`` is the screen right after a plan was chosen (or the editor reset)."""
        self.plan_baseline = snapshot

    def is_dirty(self, snapshot: Mapping[str, Any]) -> bool:
        """Anything on screen differs from what was loaded (or from the last reset)."""
        return snapshot != self.baseline

    def plan_dirty(self, snapshot: Mapping[str, Any]) -> bool:
        """Switching plans would drop edits made since this plan was chosen."""
        return snapshot != self.plan_baseline

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Take the choice and the JSON state of a snapshot (reset, reconnect); the view puts its
        widgets back from the same snapshot. A text without form state is a JSON-only item; a
        text beside a form is left pending, to be applied once the view shows it."""
        item_type = "instruction" if snapshot.get("item_type") == "instruction" else "plan"
        name = snapshot.get("name")
        name = name if isinstance(name, str) else ""
        form, text = snapshot.get("form"), snapshot.get("json")
        self.clear_json()
        self.server_fields = {}
        self.raw_item = None
        json_only = form is None and isinstance(text, str)
        self.choose(item_type, name, json_only=json_only)
        if json_only:
            try:
                self.raw_item = parse_item_text(text)
            except ValueError as ex:
                self.json_error = str(ex)
        elif isinstance(text, str):
            self.json_pending = True

    # ----- the edited queue item ---------------------------------------------------------------
    @property
    def edit_state(self) -> str:
        """"" (a new item), "editing", "changed" (on the server since loaded) or "vanished"."""
        return self.server_state if self.editing_uid else ""

    def clear_editing(self) -> None:
        """Leave editing mode: the item stays, but it is a new item now."""
        self.editing_uid, self.editing_name = None, ""
        self.loaded_item = self.server_item = None
        self.server_state = ""

    def notify_queue(self, items: list[Mapping[str, Any]],
                     held: Callable[[], Mapping[str, Any] | None]) -> bool:  # fmt: skip
        """The queue as the server has it: is the edited item still as loaded, changed by
        someone else (kept in ``server_item`` for Reload), or gone? True when that changed.

        ``held`` gives the item the editor holds now; it is called only when the server's copy
        exists (the view flushes pending edits in it). An item equal to it is our own save
        coming back, not a conflict.
        """
        uid = self.editing_uid
        if not uid or not isinstance(items, list):
            return False
        found = next((i for i in items if isinstance(i, Mapping) and i.get("item_uid") == uid),
                     None)  # fmt: skip
        if found is None:
            state = "vanished"
        else:
            server = clean_item(found)
            current = held()
            if server == self.loaded_item:
                state = "editing"
            elif current is not None and server == clean_item(current):
                self.loaded_item, state = server, "editing"  # our own save came back
            else:
                self.server_item, state = dict(found), "changed"
        if state == self.server_state:
            return False
        self.server_state = state
        return True

    # ----- persistence across reconnects -------------------------------------------------------
    def record(self) -> dict[str, Any]:
        """What a screen snapshot lacks to rebuild the editor: the baseline and the edited item."""
        return {
            "baseline": copy.deepcopy(self.baseline),
            "editing_uid": self.editing_uid,
            "editing_name": self.editing_name,
            "loaded_item": copy.deepcopy(self.loaded_item),
            "server_state": self.server_state,
        }

    def restore_record(self, record: Mapping[str, Any], snapshot: dict[str, Any]) -> None:
        """Inverse of :meth:`record`, tolerant of missing or odd values; ``snapshot`` is the
        screen as restored (the baseline when the record has none)."""
        baseline = record.get("baseline")
        self.baseline = dict(baseline) if isinstance(baseline, Mapping) else snapshot
        self.plan_baseline = snapshot
        uid = record.get("editing_uid")
        self.editing_uid = uid if isinstance(uid, str) and uid else None
        name = record.get("editing_name")
        self.editing_name = name if isinstance(name, str) else ""
        loaded = record.get("loaded_item")
        self.loaded_item = clean_item(loaded) if isinstance(loaded, Mapping) else None
        server_state = record.get("server_state")
        self.server_state = (server_state if server_state in EDIT_STATES
                             else "editing") if self.editing_uid else ""  # fmt: skip


def _texts(item: Mapping[str, Any]) -> tuple[str, str, str]:
    """args/kwargs/meta of a raw item as JSON texts (for the structure-only check)."""
    out = []
    for key in ("args", "kwargs", "meta"):
        value = item.get(key)
        out.append("" if value in (None, [], {}) else json.dumps(value, default=repr))
    return out[0], out[1], out[2]
