"""Which actions are enabled right now, and why not: the single place that decides.

Pure Python, no Qt, no I/O, nothing cached: ``compute_gates(GateInputs) -> Gates`` (Action -> Gate).
Each rule mirrors what RE Manager 0.0.25 accepts; the comments name the function of
``bluesky_queueserver/manager/manager.py`` (or ``worker.py``) it was derived from. Checks run in
the server's order, so the reason is the first failing condition: connection, monitor mode, request
in flight, lock key (``_validate_lock_key`` comes first in every handler), item or selection, state.
A missing or oddly typed status key never raises: that state is "unknown" and disables the action.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, ItemsView, Iterator, Mapping, ValuesView
from dataclasses import dataclass
from typing import Any

from .formatting import lock_time, words


class Connection(enum.Enum):
    OFFLINE = "offline"
    CONNECTING = "connecting"
    NO_STATUS = "no_status"  # control socket answers but no status yet / status stale
    CONNECTED = "connected"


class Action(str, enum.Enum):
    EXECUTE_NOW = "execute_now"
    EXECUTE_SELECTED_QUEUE = "execute_selected_queue"
    EXECUTE_SELECTED_HISTORY = "execute_selected_history"
    QUEUE_ADD = "queue_add"
    QUEUE_ADD_FROM_HISTORY = "queue_add_from_history"
    QUEUE_EDIT = "queue_edit"
    ITEM_SAVE = "item_save"  # the editor's Save: item_update of the edited queue item
    QUEUE_DUPLICATE = "queue_duplicate"
    QUEUE_REMOVE = "queue_remove"
    QUEUE_MOVE_UP = "queue_move_up"
    QUEUE_MOVE_TOP = "queue_move_top"
    QUEUE_MOVE_DOWN = "queue_move_down"
    QUEUE_MOVE_BOTTOM = "queue_move_bottom"
    QUEUE_PASTE = "queue_paste"
    QUEUE_COPY = "queue_copy"  # read-only: copy selected items as JSON
    QUEUE_CLEAR = "queue_clear"
    QUEUE_UNDO = "queue_undo"  # undo the newest queue edit of this window (core/undo.py)
    QUEUE_START = "queue_start"
    QUEUE_STOP = "queue_stop"
    QUEUE_STOP_CANCEL = "queue_stop_cancel"
    QUEUE_AUTOSTART = "queue_autostart"
    QUEUE_MODE = "queue_mode"
    HISTORY_CLEAR = "history_clear"
    HISTORY_EXPORT = "history_export"  # read-only: export history as JSON/YAML
    HISTORY_LOAD = "history_load"  # read-only: read the history now, whatever it costs the server
    ENV_OPEN = "env_open"
    ENV_CLOSE = "env_close"
    ENV_DESTROY = "env_destroy"
    ENV_UPDATE = "env_update"
    RE_PAUSE_DEFERRED = "re_pause_deferred"
    RE_PAUSE_IMMEDIATE = "re_pause_immediate"
    RE_RESUME = "re_resume"
    RE_STOP = "re_stop"
    RE_ABORT = "re_abort"
    RE_HALT = "re_halt"
    KERNEL_INTERRUPT = "kernel_interrupt"
    LOCK = "lock"
    UNLOCK = "unlock"

    @property
    def mutating(self) -> bool:
        """True when the action changes the server (always disabled in monitor mode)."""
        return self not in READ_ONLY_ACTIONS

    @property
    def label(self) -> str:
        if self is Action.ITEM_SAVE:
            return "Save"
        if self is Action.QUEUE_UNDO:
            return "Undo"
        name = self.value.removeprefix("re_").replace("env_", "environment ").replace("_", " ")
        return "Execute now" if name.startswith("execute") else name.capitalize()


READ_ONLY_ACTIONS: frozenset[Action] = frozenset({Action.QUEUE_COPY, Action.HISTORY_EXPORT,
                                                  Action.HISTORY_LOAD})
MUTATING_ACTIONS: frozenset[Action] = frozenset(a for a in Action if a not in READ_ONLY_ACTIONS)

# Actions that must not be sent while another one of the same group is in flight.
_IN_FLIGHT_GROUPS: tuple[frozenset[Action], ...] = (
    frozenset({Action.EXECUTE_NOW, Action.EXECUTE_SELECTED_QUEUE, Action.EXECUTE_SELECTED_HISTORY}),
    frozenset({Action.RE_RESUME, Action.RE_STOP, Action.RE_ABORT, Action.RE_HALT}),
    frozenset({Action.ENV_OPEN, Action.ENV_CLOSE}),
    frozenset({Action.LOCK, Action.UNLOCK}),
    frozenset({Action.QUEUE_EDIT, Action.ITEM_SAVE}),
)


@dataclass(frozen=True)
class GateInputs:
    connection: Connection
    status: Mapping[str, Any] | None  # RE Manager status dict (re-manager-protocol.md §3)
    lock_key_set: bool = False  # the operator holds a lock key (sent with requests)
    lock_info: Mapping[str, Any] | None = None  # from lock_info: user, time_str, note
    monitor_mode: bool = False  # read-only client: every mutating action disabled
    in_flight: frozenset[str] = frozenset()  # Action values (or names) with a request in flight
    queue_selection: tuple[int, ...] = ()  # 0-based queue positions, running item excluded
    history_selection: int = 0  # number of selected history rows
    editor_error: str | None = None  # None when the editor holds a valid item
    editing: bool = False  # the editor holds a queue item loaded with Edit (Save applies)
    edit_vanished: bool = False  # … and that item is no longer in the queue
    #: the scopes of the logged-in HTTP user (core/access.py); None over 0MQ (no identity)
    scopes: frozenset[str] | None = None
    #: the running item was started with Execute now, not by the queue (the rule is
    #: core/operator_state: the item's ``properties.immediate_execution`` or a uid we executed)
    running_immediate: bool = False
    can_undo: bool = False  # this window's undo stack holds a queue edit to undo
    undo_busy: bool = False  # an undo is being sent (a second one could duplicate an item)


@dataclass(frozen=True)
class Gate:
    enabled: bool
    reason: str = ""  # "" when enabled; one plain sentence for operators otherwise


class Phase(str, enum.Enum):
    """What the Run Engine is doing, as far as the run controls care (the Stop control shows
    "Stop now" or the paused choices from it)."""

    UNKNOWN = "unknown"  # offline, no status
    IDLE = "idle"  # nothing to stop
    RUNNING = "running"  # a plan runs (queue item or Execute now)
    PAUSED = "paused"  # resume / stop / abort / halt are the choices


def run_phase(status: Mapping[str, Any] | None) -> Phase:
    """The :class:`Phase` of a status (manager.py: a paused plan is manager_state 'paused')."""
    if not isinstance(status, Mapping):
        return Phase.UNKNOWN
    m = status.get("manager_state")
    if m == "paused" or (m == "executing_queue" and status.get("re_state") == "paused"):
        return Phase.PAUSED
    if m in ("executing_queue", "starting_queue"):
        return Phase.RUNNING
    return Phase.IDLE if isinstance(m, str) else Phase.UNKNOWN


class Gates(Mapping[Action, Gate]):
    """Immutable mapping Action -> Gate covering every Action; ``phase`` is the run phase of
    the same snapshot."""

    __slots__ = ("_gates", "phase")

    def __init__(self, gates: dict[Action, Gate], phase: Phase = Phase.UNKNOWN):
        self._gates = gates
        self.phase = phase

    def __getitem__(self, action: Action | str) -> Gate:
        gate = self._gates.get(action)  # type: ignore[call-overload]
        if gate is not None:
            return gate
        try:
            return self._gates[Action(action)]
        except ValueError:
            raise KeyError(action) from None

    def items(self) -> ItemsView[Action, Gate]:
        return self._gates.items()

    def values(self) -> ValuesView[Gate]:
        return self._gates.values()

    def __iter__(self) -> Iterator[Action]:
        return iter(self._gates)

    def __len__(self) -> int:
        return len(self._gates)

    def enabled(self, action: Action | str) -> bool:
        return self[action].enabled

    def reason(self, action: Action | str) -> str:
        return self[action].reason

    def __repr__(self) -> str:
        return f"Gates({ {a.value: g.reason for a, g in self._gates.items() if not g.enabled}!r})"


NOT_CONNECTED = "Not connected to the RE Manager"
CONNECTING = "Connecting…"
NO_STATUS = "Connected, waiting for the first status…"
MONITOR_MODE = "Monitor mode: read-only"
ENV_CLOSED = "The worker environment is closed — open it first."
ENV_OPENING = "The worker environment is still opening — wait for it."
NO_RE = "There is no Run Engine in the worker environment."
PLAN_PAUSED = "A plan is paused — resume, stop, abort or halt it first."
KERNEL_BUSY = "The IPython kernel is busy with work started outside the queue server."

_SIMPLE_REASONS = {Connection.OFFLINE: NOT_CONNECTED, Connection.CONNECTING: CONNECTING}
_ENABLED = Gate(True, "")


@functools.lru_cache(maxsize=512)
def _off(reason: str) -> Gate:
    return Gate(False, reason)


_UNKNOWN: Any = object()  # status key missing or of an unexpected type


class _No(Exception):
    """Raised by a check; args[0] is the reason of the first failing condition."""


def _need(ok: bool, reason: str) -> None:
    if not ok:
        raise _No(reason)


def _get(status: Mapping[str, Any], key: str, types: tuple[type, ...]) -> Any:
    value = status.get(key, _UNKNOWN)
    if isinstance(value, types) and (bool in types or not isinstance(value, bool)):
        return value
    return _UNKNOWN


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


class _Ctx:
    """The inputs decoded once; the checks raise _No(reason) on the first failing condition."""

    def __init__(self, inputs: GateInputs, status: Mapping[str, Any]):
        self.i = inputs
        none = type(None)
        self.mstate = _get(status, "manager_state", (str,))
        self.env_raw = _get(status, "worker_environment_exists", (bool,))
        self.re_raw = _get(status, "re_state", (str, none))
        self.kstate = _get(status, "ip_kernel_state", (str, none))
        # manager.py: _is_ipkernel_external_task tests `not ip_kernel_captured`: null is False
        self.kcaptured = _get(status, "ip_kernel_captured", (bool, none))
        self.stop_pending = _get(status, "queue_stop_pending", (bool,))
        self.pause_pending = _get(status, "pause_pending", (bool,))
        self.n_queue = _get(status, "items_in_queue", (int,))
        self.n_history = _get(status, "items_in_history", (int,))
        lock = status.get("lock")
        lock = lock if isinstance(lock, Mapping) else {}
        self.env_locked = _get(lock, "environment", (bool,))
        self.queue_locked = _get(lock, "queue", (bool,))

    @staticmethod
    def known(value: Any, what: str) -> Any:
        if value is _UNKNOWN:
            raise _No(f"The {what} is unknown (the server did not report it).")
        return value

    @property
    def m(self) -> str:
        return self.known(self.mstate, "manager state")

    @property
    def re(self) -> str | None:
        return self.known(self.re_raw, "Run Engine state")

    @property
    def ipython(self) -> bool:
        """IPython mode: ip_kernel_state is 'disabled' in Python mode, null without a worker."""
        state = self.known(self.kstate, "IPython kernel state")
        return state is not None and state != "disabled"

    # ----- building blocks -------------------------------------------------------------------
    def env_exists(self) -> None:
        if not self.known(self.env_raw, "worker environment state"):
            raise _No(ENV_OPENING if self.mstate == "creating_environment" else ENV_CLOSED)

    def has_re(self) -> None:
        self.env_exists()
        _need(self.re is not None, NO_RE)

    def idle(self) -> None:
        m = self.m
        if m != "idle":
            raise _No(PLAN_PAUSED if m == "paused" else
                      f"The manager is busy ({words(m).lower()}).")

    def not_external(self) -> None:
        # manager.py: _is_ipkernel_external_task (IPython mode, kernel not idle, not captured)
        if self.ipython and self.kstate != "idle":
            _need(bool(self.known(self.kcaptured, "IPython kernel state")), KERNEL_BUSY)

    def can_start(self) -> None:
        # manager.py: _start_single_plan and _start_plan (same checks, in this order)
        self.has_re()
        self.idle()
        self.not_external()

    def lock(self, scope: str) -> None:
        # manager.py: _validate_lock_key(check_environment=True | check_queue=True). Without a lock
        # any key is accepted, so a key held by the operator always passes this client-side check.
        if self.i.lock_key_set:
            return
        locked = self.env_locked if scope == _ENV else self.queue_locked
        if locked is _UNKNOWN:
            raise _No("The lock state is unknown — enter the lock key to act.")
        if locked:
            info = self.i.lock_info if isinstance(self.i.lock_info, Mapping) else {}
            who, note = _text(info.get("user")), _text(info.get("note"))
            when = lock_time(info) or ""
            text = f"The {scope} is locked" + (f" by {who}" if who else "")
            text += (f" ({when})" if when else "") + (f": {note.rstrip('.')}" if note else "")
            raise _No(text + ". Enter the lock key to act.")

    def editor(self) -> None:
        err = self.i.editor_error
        if err is not None:
            err = _text(err)
            raise _No(f"Fix the item first: {err}" if err else "The item is not valid.")

    def save(self) -> None:
        # manager.py: _queue_item_update_handler -> lock key, item (validated), uid in queue
        _need(self.i.editing, "Load a queue item into the editor (Edit) to save it.")
        _need(not self.i.edit_vanished, "The edited item is no longer in the queue (removed or "
              "started elsewhere): use Add to queue to keep your changes.")
        self.editor()

    def rows(self, verb: str, *, one: bool = False, history: bool = False) -> None:
        n = self.i.history_selection if history else len(self.i.queue_selection)
        where = "history" if history else "queue"
        _need(n > 0, f"Select {'a ' if one else ''}{where} item{'' if one else 's'} to {verb}.")
        _need(n == 1 or not one, f"Select only one {where} item to {verb}.")

    def move(self, up: bool) -> None:
        self.rows("move")
        n = self.known(self.n_queue, "queue length")
        sel = sorted(set(self.i.queue_selection))
        _need(sel[0] >= 0 and sel[-1] < n, "The selection is out of date — the queue has changed.")
        if up:
            _need(sel != list(range(len(sel))), "The selection is already at the top.")
        else:
            _need(sel != list(range(n - len(sel), n)), "The selection is already at the bottom.")

    def non_empty(self, history: bool = False) -> None:
        what = "history" if history else "queue"
        count = self.n_history if history else self.n_queue
        _need(self.known(count, f"{what} length") > 0, f"The {what} is empty.")

    # ----- run control ------------------------------------------------------------------------
    def env_open(self) -> None:
        # manager.py: _start_re_worker
        exists = self.known(self.env_raw, "worker environment state")
        _need(not exists, "The worker environment is already open.")
        _need(self.m != "creating_environment", "The worker environment is already being opened.")
        self.idle()

    def env_close(self) -> None:
        # manager.py: _stop_re_worker (its kernel check: IPython mode and ip_kernel_state == busy)
        try:
            self.env_exists()
        except _No as no:
            closed = no.args[0] == ENV_CLOSED
            raise _No("The worker environment is already closed.") if closed else no
        m = self.m
        _need(m != "closing_environment", "The worker environment is already closing.")
        running = m in ("executing_queue", "starting_queue")
        _need(not running, "A plan is running — wait for it or stop it first.")
        _need(m != "executing_task", "A task is running in the worker environment.")
        self.idle()
        _need(not (self.ipython and self.kstate == "busy"), "The IPython kernel is busy.")

    def env_destroy(self) -> None:
        # manager.py: _kill_re_worker accepts whenever the environment exists or is being created.
        # Deliberately stricter: not a second time while destroying_environment.
        destroying = self.mstate == "destroying_environment"
        _need(not destroying, "The worker environment is already being destroyed.")
        if self.env_raw is not True and self.mstate != "creating_environment":
            self.known(self.env_raw, "worker environment state")
            _need(self.m == "creating_environment", "There is no worker environment to destroy.")

    def env_update(self) -> None:
        # manager.py: _environment_upload_script(run_in_background=False) via environment_update
        self.env_exists()
        self.idle()
        self.not_external()

    def queue_start(self) -> None:
        # manager.py: _start_plan; an empty queue is accepted but then does nothing
        self.can_start()
        self.non_empty()

    def queue_stop(self) -> None:
        # manager.py: _queue_stop_activate (a second stop is accepted but does nothing)
        m = self.m
        if m not in ("executing_queue", "starting_queue"):
            raise _No("The queue is not running" + ("." if m == "idle" else
                                                    f" ({words(m).lower()})."))
        # Execute now also runs as executing_queue, but stopping "the queue" would only take
        # effect after the queue's next item: it does not stop what is running.
        _need(not self.i.running_immediate, "Execute now is running, not the queue: use Stop "
                                            "now to pause it.")
        pending = self.known(self.stop_pending, "queue stop state")
        _need(not pending, "A queue stop is already pending.")

    def queue_stop_cancel(self) -> None:
        # manager.py: _queue_stop_deactivate always succeeds; it only matters with a stop pending
        _need(self.known(self.stop_pending, "queue stop state"), "No queue stop is pending.")

    def pause(self, deferred: bool) -> None:
        # manager.py: _pause_run_engine; worker.py: _command_pause_plan_handler needs re_state
        # 'running' (manager_state is not checked: we also require executing_queue). A second
        # deferred pause is a no-op; an immediate one escalates a pending deferred pause
        # (RunEngine._request_pause_coro), then re_state is 'pausing' and further pauses fail.
        self.has_re()
        m = self.m
        _need(m != "paused", "The plan is already paused.")
        _need(m == "executing_queue", "No plan is running.")
        _need(self.re == "running", f"The Run Engine is not running ({self.re}).")
        if deferred:
            _need(not self.known(self.pause_pending, "pause state"), "A pause is already pending.")

    def continue_plan(self) -> None:
        # manager.py: _continue_run_engine (manager paused, kernel, environment, RE exists) and
        # worker.py: _command_continue_plan_handler (re_state must be 'paused')
        _need(self.m == "paused", "No plan is paused.")
        self.not_external()
        self.has_re()
        _need(self.re == "paused", f"The Run Engine is not paused ({self.re}).")

    def kernel_interrupt(self) -> None:
        # manager.py: _kernel_interrupt_send(interrupt_task=False, interrupt_plan=False). The mode
        # is only visible with an environment. Interrupting an idle kernel does nothing: disabled.
        self.env_exists()
        _need(self.ipython, "The manager does not use an IPython kernel.")
        m = self.m
        _need(m not in ("starting_queue", "executing_queue"), "A plan is running — pause it.")
        _need(m != "executing_task", "A task started by the manager is running.")
        _need(self.kstate == "busy", f"The IPython kernel is {self.kstate} — nothing to interrupt.")

    def undo(self) -> None:
        # core/undo.py: the undo sends queue edits (add, move, item_update) checked like any edit
        _need(not self.i.undo_busy, "Undo request in progress.")
        _need(self.i.can_undo, "Nothing to undo.")

    def unlock(self) -> None:
        # manager.py: _unlock_handler needs the key; unlocking an unlocked manager does nothing
        _need(self.i.lock_key_set, "Enter the lock key first.")
        _need(self.env_locked is not False or self.queue_locked is not False, "Nothing is locked.")


_ENV, _QUEUE = "environment", "queue"
_Check = Callable[[_Ctx], None]

# Action -> (lock checked by the server or None, remaining checks in the server's order).
# Queue edits (manager.py: _queue_item_add/_add_batch/_update/_remove*/_move*/_queue_clear,
# _queue_mode_set, _history_clear) check the queue lock only and are accepted in every state.
_RULES: dict[Action, tuple[str | None, _Check]] = {
    # manager.py: _queue_item_execute_handler -> lock key, item, _start_single_plan
    Action.EXECUTE_NOW: (_ENV, lambda c: (c.editor(), c.can_start())),
    Action.EXECUTE_SELECTED_QUEUE: (_ENV, lambda c: (c.rows("execute", one=True), c.can_start())),
    Action.EXECUTE_SELECTED_HISTORY: (
        _ENV,
        lambda c: (c.rows("execute", one=True, history=True), c.can_start()),
    ),
    Action.QUEUE_ADD: (_QUEUE, _Ctx.editor),
    Action.QUEUE_ADD_FROM_HISTORY: (_QUEUE, lambda c: c.rows("add to the queue", history=True)),
    Action.QUEUE_EDIT: (_QUEUE, lambda c: c.rows("edit", one=True)),
    Action.ITEM_SAVE: (_QUEUE, _Ctx.save),
    Action.QUEUE_DUPLICATE: (_QUEUE, lambda c: c.rows("duplicate")),
    Action.QUEUE_REMOVE: (_QUEUE, lambda c: c.rows("remove")),
    Action.QUEUE_MOVE_UP: (_QUEUE, lambda c: c.move(up=True)),
    Action.QUEUE_MOVE_TOP: (_QUEUE, lambda c: c.move(up=True)),
    Action.QUEUE_MOVE_DOWN: (_QUEUE, lambda c: c.move(up=False)),
    Action.QUEUE_MOVE_BOTTOM: (_QUEUE, lambda c: c.move(up=False)),
    Action.QUEUE_PASTE: (_QUEUE, lambda c: None),
    Action.QUEUE_COPY: (None, lambda c: c.rows("copy")),
    Action.QUEUE_CLEAR: (_QUEUE, lambda c: c.non_empty()),  # empty: accepted, does nothing
    Action.QUEUE_UNDO: (_QUEUE, _Ctx.undo),
    Action.QUEUE_START: (_ENV, _Ctx.queue_start),
    Action.QUEUE_STOP: (_ENV, _Ctx.queue_stop),
    Action.QUEUE_STOP_CANCEL: (_ENV, _Ctx.queue_stop_cancel),
    Action.QUEUE_AUTOSTART: (_ENV, lambda c: None),  # manager.py: _queue_autostart_handler
    Action.QUEUE_MODE: (_QUEUE, lambda c: None),
    Action.HISTORY_CLEAR: (_QUEUE, lambda c: c.non_empty(history=True)),
    Action.HISTORY_EXPORT: (None, lambda c: c.non_empty(history=True)),
    # manager.py: _history_get_handler (no lock, any state); the fetcher reads it once
    Action.HISTORY_LOAD: (None, lambda c: c.non_empty(history=True)),
    Action.ENV_OPEN: (_ENV, _Ctx.env_open),
    Action.ENV_CLOSE: (_ENV, _Ctx.env_close),
    Action.ENV_DESTROY: (_ENV, _Ctx.env_destroy),
    Action.ENV_UPDATE: (_ENV, _Ctx.env_update),
    Action.RE_PAUSE_DEFERRED: (_ENV, lambda c: c.pause(deferred=True)),
    Action.RE_PAUSE_IMMEDIATE: (_ENV, lambda c: c.pause(deferred=False)),
    Action.RE_RESUME: (_ENV, _Ctx.continue_plan),
    Action.RE_STOP: (_ENV, _Ctx.continue_plan),
    Action.RE_ABORT: (_ENV, _Ctx.continue_plan),
    Action.RE_HALT: (_ENV, _Ctx.continue_plan),
    Action.KERNEL_INTERRUPT: (_ENV, _Ctx.kernel_interrupt),
    Action.LOCK: (None, lambda c: None),  # manager.py: _lock_handler (key entered with it)
    Action.UNLOCK: (None, _Ctx.unlock),
}


# bluesky-httpserver 0.0.14: the scope each route requires (routers/core_api.py), and what it
# lets an operator do, for the reason shown when the account lacks it.
_EXECUTE = ("write:execute", "execute plans")
_EDIT = ("write:queue:edit", "edit the queue")
_QUEUE_CONTROL = ("write:queue:control", "control the queue")
_MANAGER = ("write:manager:control", "open or close the worker environment")
_PLAN = ("write:plan:control", "pause, resume or stop plans")
ACTION_SCOPES: dict[Action, tuple[str, str]] = {
    Action.EXECUTE_NOW: _EXECUTE, Action.EXECUTE_SELECTED_QUEUE: _EXECUTE,
    Action.EXECUTE_SELECTED_HISTORY: _EXECUTE,
    **dict.fromkeys((Action.QUEUE_ADD, Action.QUEUE_ADD_FROM_HISTORY, Action.QUEUE_EDIT,
                     Action.ITEM_SAVE, Action.QUEUE_DUPLICATE, Action.QUEUE_REMOVE,
                     Action.QUEUE_MOVE_UP, Action.QUEUE_MOVE_TOP, Action.QUEUE_MOVE_DOWN,
                     Action.QUEUE_MOVE_BOTTOM, Action.QUEUE_PASTE, Action.QUEUE_CLEAR,
                     Action.QUEUE_UNDO), _EDIT),
    **dict.fromkeys((Action.QUEUE_START, Action.QUEUE_STOP, Action.QUEUE_STOP_CANCEL,
                     Action.QUEUE_AUTOSTART, Action.QUEUE_MODE, Action.ENV_UPDATE,
                     Action.KERNEL_INTERRUPT), _QUEUE_CONTROL),
    Action.HISTORY_CLEAR: ("write:history:edit", "clear the history"),
    **dict.fromkeys((Action.ENV_OPEN, Action.ENV_CLOSE, Action.ENV_DESTROY), _MANAGER),
    **dict.fromkeys((Action.RE_PAUSE_DEFERRED, Action.RE_PAUSE_IMMEDIATE, Action.RE_RESUME,
                     Action.RE_STOP, Action.RE_ABORT, Action.RE_HALT), _PLAN),
    **dict.fromkeys((Action.LOCK, Action.UNLOCK), ("write:lock", "lock the RE Manager")),
}


def scope_reason(action: Action, scopes: frozenset[str]) -> str | None:
    """Why the account may not do ``action`` (None when it may)."""
    needed = ACTION_SCOPES.get(action)
    if needed is None or needed[0] in scopes:
        return None
    return f"Your account may not {needed[1]}: needs {needed[0]}."


def _busy_reasons(in_flight: frozenset[str]) -> dict[Action, str]:
    busy: dict[Action, str] = {}
    for item in in_flight:
        if isinstance(item, str) and item in Action.__members__:
            item = Action[item]
        try:
            action = Action(item)
        except ValueError:
            continue
        group = next((g for g in _IN_FLIGHT_GROUPS if action in g), frozenset({action}))
        for other in group:
            busy.setdefault(other, f"{action.label} request in progress.")
    return busy


def compute_gates(inputs: GateInputs) -> Gates:
    """Return the Gate of every Action for this snapshot of inputs."""
    status = inputs.status
    if inputs.connection is not Connection.CONNECTED or not isinstance(status, Mapping):
        off = _off(_SIMPLE_REASONS.get(inputs.connection, NO_STATUS))
        return Gates(dict.fromkeys(_RULES, off))

    ctx = _Ctx(inputs, status)
    busy = _busy_reasons(inputs.in_flight) if inputs.in_flight else {}
    monitor_off = _off(MONITOR_MODE)
    locks = {None: _ENABLED, _ENV: _run(ctx.lock, _ENV), _QUEUE: _run(ctx.lock, _QUEUE)}
    gates: dict[Action, Gate] = {}
    for action, (scope, check) in _RULES.items():
        denied = None if inputs.scopes is None else scope_reason(action, inputs.scopes)
        if inputs.monitor_mode and action not in READ_ONLY_ACTIONS:
            gates[action] = monitor_off
        elif denied:
            gates[action] = _off(denied)
        elif action in busy:
            gates[action] = _off(busy[action])
        else:
            gate = locks[scope]
            gates[action] = _run(check, ctx) if gate.enabled else gate
    return Gates(gates, run_phase(status))


def _run(check: Callable[..., Any], *args: Any) -> Gate:
    try:
        check(*args)
    except _No as no:
        return _off(no.args[0])
    return _ENABLED
