"""Tests for qs_gui.core.gates: exhaustive state tables against independent oracles + reasons.

The oracles below are written from PRODUCT.md §2 and re-manager-protocol.md §3.2/§6 (and the
manager.py functions named in gates.py), not by calling helpers of the module under test.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from qs_gui.core.gates import Action, Connection, Gate, GateInputs, Gates, compute_gates

MANAGER_STATES = (
    "initializing",
    "idle",
    "paused",
    "creating_environment",
    "starting_queue",
    "executing_queue",
    "executing_task",
    "closing_environment",
    "destroying_environment",
)
RE_STATES = (None, "idle", "running", "paused")
KERNEL_STATES = (None, "disabled", "idle", "busy")
READ_ONLY = {Action.QUEUE_COPY, Action.HISTORY_EXPORT, Action.HISTORY_LOAD}
RE_CONTINUE = (Action.RE_RESUME, Action.RE_STOP, Action.RE_ABORT, Action.RE_HALT)
EXECUTE = (Action.EXECUTE_NOW, Action.EXECUTE_SELECTED_QUEUE, Action.EXECUTE_SELECTED_HISTORY)
MUTATING = tuple(a for a in Action if a not in READ_ONLY)
QUEUE_LOCKED = (Action.QUEUE_ADD, Action.QUEUE_MODE, Action.QUEUE_PASTE, Action.QUEUE_EDIT,
                Action.QUEUE_CLEAR, Action.HISTORY_CLEAR, Action.QUEUE_ADD_FROM_HISTORY,
                Action.QUEUE_REMOVE, Action.QUEUE_DUPLICATE, Action.QUEUE_MOVE_UP)  # fmt: skip
ALICE = {"user": "alice", "time_str": "11/29/2026 08:36:04", "note": "calibration"}


def make_status(**over: Any) -> dict[str, Any]:
    status: dict[str, Any] = {
        "msg": "RE Manager v0.0.25",
        "items_in_queue": 3,
        "items_in_history": 2,
        "running_item_uid": None,
        "manager_state": "idle",
        "queue_stop_pending": False,
        "queue_autostart_enabled": False,
        "worker_environment_exists": True,
        "worker_environment_state": "idle",
        "re_state": "idle",
        "ip_kernel_state": "disabled",
        "ip_kernel_captured": True,
        "pause_pending": False,
        "plan_queue_mode": {"loop": False, "ignore_failures": False},
        "lock": {"environment": False, "queue": False},
    }
    status.update(over)
    return status


def gates_for(status: dict[str, Any] | None = None, **kw: Any) -> Gates:
    kw.setdefault("connection", Connection.CONNECTED)
    return compute_gates(GateInputs(status=make_status() if status is None else status, **kw))


# ----- oracles: direct transcriptions of the documented rules ---------------------------------
def kernel_free(ks: str | None, kc: bool | None) -> bool:
    """PRODUCT.md: IPython kernel not busy (in kernel mode) — §3.2 condition 4."""
    ipython_mode = ks not in (None, "disabled")
    return not ipython_mode or not (ks != "idle" and not kc)


def oracle_execute(ok: bool, ms: str, env: bool, re: str | None, ks: Any, kc: Any, el: bool,
                   key: bool) -> bool:  # fmt: skip
    return (ok and env and re is not None and ms == "idle" and kernel_free(ks, kc)
            and (not el or key))  # fmt: skip


def oracle_continue(ok: bool, ms: str, env: bool, re: Any, ks: Any, kc: Any, lock_ok: bool) -> bool:
    return ok and ms == "paused" and env and re == "paused" and kernel_free(ks, kc) and lock_ok


def oracle_env_close(ok: bool, ms: str, env: bool, ks: Any, lock_ok: bool) -> bool:
    """manager.py: _stop_re_worker — idle, and in IPython mode the kernel not 'busy'."""
    kernel_busy = ks not in (None, "disabled") and ks == "busy"
    return ok and env and ms == "idle" and not kernel_busy and lock_ok


def check_reasons(gates: Gates) -> None:
    assert len(gates) == len(Action)
    for action, gate in gates.items():
        assert gate.enabled == (gate.reason == ""), (action, gate)


def test_exhaustive_state_table() -> None:
    """Every manager/env/RE/kernel/lock/key/connection/monitor combination (55,296 cases)."""
    count = 0
    for ms, env, re, ks, kc, el, ql, key, conn, monitor in itertools.product(
        MANAGER_STATES, (False, True), RE_STATES, KERNEL_STATES, (None, False, True),
        (False, True), (False, True), (False, True), Connection, (False, True),
    ):  # fmt: skip
        status = make_status(
            manager_state=ms, worker_environment_exists=env, re_state=re, ip_kernel_state=ks,
            ip_kernel_captured=kc, lock={"environment": el, "queue": ql},
        )  # fmt: skip
        inputs = GateInputs(
            connection=conn, status=status, lock_key_set=key, lock_info=ALICE,
            monitor_mode=monitor, queue_selection=(1,), history_selection=1,
        )  # fmt: skip
        g = dict(compute_gates(inputs).items())  # plain dict: fast lookups in this hot loop
        ok = conn is Connection.CONNECTED and not monitor
        env_ok, queue_ok = not el or key, not ql or key
        execute = oracle_execute(ok, ms, env, re, ks, kc, el, key)
        cont = oracle_continue(ok, ms, env, re, ks, kc, env_ok)
        running = ok and env and re == "running" and ms == "executing_queue" and env_ok
        destroy = (env or ms == "creating_environment") and ms != "destroying_environment"
        interrupt = env and ks == "busy" and ms not in (
            "starting_queue", "executing_queue", "executing_task")  # fmt: skip
        want = {
            **dict.fromkeys(EXECUTE, execute),
            **dict.fromkeys(RE_CONTINUE, cont),
            Action.QUEUE_START: execute,  # same checks (_start_plan), queue not empty here
            Action.ENV_OPEN: ok and not env and ms == "idle" and env_ok,
            Action.ENV_CLOSE: oracle_env_close(ok, ms, env, ks, env_ok),
            Action.ENV_DESTROY: ok and destroy and env_ok,
            Action.ENV_UPDATE: ok and env and ms == "idle" and kernel_free(ks, kc) and env_ok,
            Action.RE_PAUSE_DEFERRED: running,
            Action.RE_PAUSE_IMMEDIATE: running,
            Action.QUEUE_STOP: ok and ms in ("executing_queue", "starting_queue") and env_ok,
            Action.QUEUE_STOP_CANCEL: False,  # no stop pending in this table
            Action.KERNEL_INTERRUPT: ok and interrupt and env_ok,
            Action.QUEUE_AUTOSTART: ok and env_ok,
            **dict.fromkeys(QUEUE_LOCKED, ok and queue_ok),
            Action.LOCK: ok,
            Action.UNLOCK: ok and key and (el or ql),
            Action.QUEUE_COPY: conn is Connection.CONNECTED,
        }
        got = {action: g[action].enabled for action in want}
        case = (ms, env, re, ks, kc, el, ql, key, conn, monitor)
        assert got == want, (case, {a: g[a] for a in want if got[a] != want[a]})
        assert len(g) == len(Action), case
        assert not [a for a, gate in g.items() if gate.enabled == bool(gate.reason)], case
        if monitor:
            assert not [a for a in MUTATING if g[a].enabled], case
            if conn is Connection.CONNECTED:
                assert {g[a].reason for a in MUTATING} == {"Monitor mode: read-only"}, case
        count += 1
    assert count == 9 * 2 * 4 * 4 * 3 * 2 * 2 * 2 * 4 * 2


def test_pending_flags_table() -> None:
    """queue_stop / stop_cancel / pause against queue_stop_pending, pause_pending and the lock."""
    for ms, re, stop_pending, pause_pending, env, el, key in itertools.product(
        MANAGER_STATES, RE_STATES, (False, True), (False, True), (False, True), (False, True),
        (False, True),
    ):  # fmt: skip
        status = make_status(
            manager_state=ms, re_state=re, queue_stop_pending=stop_pending,
            pause_pending=pause_pending, worker_environment_exists=env,
            lock={"environment": el, "queue": False},
        )  # fmt: skip
        g = gates_for(status, lock_key_set=key)
        case = (ms, re, stop_pending, pause_pending, env, el, key)
        lock_ok = not el or key
        running_queue = ms in ("executing_queue", "starting_queue")
        assert g[Action.QUEUE_STOP].enabled is (running_queue and not stop_pending and lock_ok)
        assert g[Action.QUEUE_STOP_CANCEL].enabled is (stop_pending and lock_ok), case
        plan_runs = env and ms == "executing_queue" and re == "running" and lock_ok
        assert g[Action.RE_PAUSE_DEFERRED].enabled is (plan_runs and not pause_pending), case
        assert g[Action.RE_PAUSE_IMMEDIATE].enabled is plan_runs, case  # escalates a deferred one
        check_reasons(g)


# ----- reasons ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"worker_environment_exists": False, "re_state": None, "manager_state": "executing_queue"},
         "The worker environment is closed — open it first."),
        ({"worker_environment_exists": False, "manager_state": "creating_environment"},
         "The worker environment is still opening — wait for it."),
        ({"re_state": None, "manager_state": "executing_queue"},
         "There is no Run Engine in the worker environment."),
        ({"manager_state": "executing_queue", "ip_kernel_state": "busy",
          "ip_kernel_captured": False}, "The manager is busy (running)."),
        ({"manager_state": "paused", "re_state": "paused"},
         "A plan is paused — resume, stop, abort or halt it first."),
        ({"ip_kernel_state": "busy", "ip_kernel_captured": False},
         "The IPython kernel is busy with work started outside the queue server."),
    ],
)  # fmt: skip
def test_execute_reason_is_first_failing_condition(over: dict[str, Any], reason: str) -> None:
    g = gates_for(make_status(**over), queue_selection=(0,), history_selection=1)
    for action in EXECUTE:
        assert g[action] == Gate(False, reason)


def test_execute_enabled_in_ipython_mode_when_kernel_captured_or_idle() -> None:
    assert gates_for(make_status(ip_kernel_state="idle", ip_kernel_captured=False))[
        Action.EXECUTE_NOW
    ].enabled
    assert gates_for(make_status(ip_kernel_state="busy", ip_kernel_captured=True))[
        Action.EXECUTE_NOW
    ].enabled


def test_lock_reason_names_who_when_and_note() -> None:
    status = make_status(lock={"environment": True, "queue": False})
    g = gates_for(status, lock_info=ALICE)
    assert g[Action.EXECUTE_NOW].reason == (
        "The environment is locked by alice (11/29/2026 08:36:04): calibration. "
        "Enter the lock key to act."
    )
    assert g[Action.QUEUE_ADD].enabled  # §6: only the environment is locked
    assert gates_for(status, lock_key_set=True)[Action.EXECUTE_NOW].enabled
    assert gates_for(status)[Action.ENV_CLOSE].reason == (
        "The environment is locked. Enter the lock key to act."
    )


def test_queue_lock_blocks_queue_edits_not_execute() -> None:
    status = make_status(lock={"environment": False, "queue": True})
    g = gates_for(status, lock_info={"user": "bob", "time_str": "", "note": None},
                  queue_selection=(1,))  # fmt: skip
    for action in (Action.QUEUE_ADD, Action.QUEUE_REMOVE, Action.QUEUE_CLEAR, Action.QUEUE_MODE,
                   Action.HISTORY_CLEAR, Action.QUEUE_MOVE_UP):  # fmt: skip
        assert g[action].reason == "The queue is locked by bob. Enter the lock key to act."
    assert g[Action.EXECUTE_NOW].enabled and g[Action.QUEUE_START].enabled


def test_lock_is_checked_before_state_as_the_server_does() -> None:
    status = make_status(worker_environment_exists=False, re_state=None,
                         lock={"environment": True, "queue": False})  # fmt: skip
    assert "locked by alice" in gates_for(status, lock_info=ALICE)[Action.EXECUTE_NOW].reason


def test_editor_error_propagates() -> None:
    g = gates_for(editor_error="'num' must be an integer", queue_selection=(0,))
    assert g[Action.EXECUTE_NOW] == Gate(False, "Fix the item first: 'num' must be an integer")
    assert g[Action.QUEUE_ADD] == g[Action.EXECUTE_NOW]
    assert g[Action.EXECUTE_SELECTED_QUEUE].enabled
    assert not gates_for(editor_error="")[Action.EXECUTE_NOW].enabled
    closed = make_status(worker_environment_exists=False, re_state=None)
    assert "'num'" in gates_for(closed, editor_error="'num' bad")[Action.EXECUTE_NOW].reason


def test_selection_counts() -> None:
    g = gates_for(history_selection=0)
    assert g[Action.EXECUTE_SELECTED_QUEUE].reason == "Select a queue item to execute."
    assert g[Action.EXECUTE_SELECTED_HISTORY].reason == "Select a history item to execute."
    assert g[Action.QUEUE_REMOVE].reason == "Select queue items to remove."
    assert not g[Action.QUEUE_ADD_FROM_HISTORY].enabled
    g = gates_for(queue_selection=(0, 2), history_selection=3)
    assert g[Action.EXECUTE_SELECTED_QUEUE].reason == "Select only one queue item to execute."
    assert g[Action.EXECUTE_SELECTED_HISTORY].reason == "Select only one history item to execute."
    assert g[Action.QUEUE_EDIT].reason == "Select only one queue item to edit."
    assert g[Action.QUEUE_DUPLICATE].enabled and g[Action.QUEUE_REMOVE].enabled
    assert g[Action.QUEUE_ADD_FROM_HISTORY].enabled


@pytest.mark.parametrize(
    ("selection", "n", "up", "down"),
    [
        ((0,), 3, False, True),
        ((2,), 3, True, False),
        ((1,), 3, True, True),
        ((0, 1), 3, False, True),
        ((0, 2), 3, True, True),
        ((1, 0), 4, False, True),
        ((0, 1, 2), 3, False, False),
        ((0,), 1, False, False),
        ((5,), 3, False, False),  # stale selection
        ((), 3, False, False),
    ],
)
def test_moves_depend_on_selection(selection: tuple[int, ...], n: int, up: bool, down: bool):
    g = gates_for(make_status(items_in_queue=n), queue_selection=selection)
    assert g[Action.QUEUE_MOVE_UP].enabled is up and g[Action.QUEUE_MOVE_TOP].enabled is up
    assert g[Action.QUEUE_MOVE_DOWN].enabled is down
    assert g[Action.QUEUE_MOVE_BOTTOM].enabled is down
    check_reasons(g)


def test_moves_need_queue_length() -> None:
    status = make_status()
    del status["items_in_queue"]
    g = gates_for(status, queue_selection=(1,))
    assert "queue length is unknown" in g[Action.QUEUE_MOVE_DOWN].reason
    assert g[Action.QUEUE_REMOVE].enabled


def test_in_flight() -> None:
    g = gates_for(in_flight=frozenset({"execute_now"}), queue_selection=(0,), history_selection=1)
    for action in EXECUTE:
        assert g[action] == Gate(False, "Execute now request in progress.")
    g = gates_for(make_status(manager_state="paused", re_state="paused"),
                  in_flight=frozenset({"RE_ABORT", "nonsense"}))  # fmt: skip
    for action in RE_CONTINUE:
        assert g[action].reason == "Abort request in progress."
    g = gates_for(in_flight=frozenset({Action.ENV_UPDATE}))
    assert g[Action.ENV_UPDATE].reason.endswith("in progress.")
    assert g[Action.EXECUTE_NOW].enabled


def test_connection_reasons() -> None:
    for conn, reason in (
        (Connection.OFFLINE, "Not connected to the RE Manager"),
        (Connection.CONNECTING, "Connecting…"),
        (Connection.NO_STATUS, "Connected, waiting for the first status…"),
    ):
        g = compute_gates(GateInputs(connection=conn, status=make_status()))
        assert all(gate == Gate(False, reason) for gate in g.values())
    g = compute_gates(GateInputs(connection=Connection.CONNECTED, status=None))
    assert g[Action.LOCK].reason == "Connected, waiting for the first status…"


def test_monitor_mode_reason_and_read_only_actions() -> None:
    g = gates_for(monitor_mode=True, queue_selection=(0,))
    assert g[Action.EXECUTE_NOW] == Gate(False, "Monitor mode: read-only")
    assert g[Action.QUEUE_COPY].enabled and g[Action.HISTORY_EXPORT].enabled
    assert {a for a in Action if not a.mutating} == READ_ONLY


def test_run_control_reasons() -> None:
    g = gates_for()
    assert g[Action.RE_STOP].reason == "No plan is paused."
    assert g[Action.RE_PAUSE_DEFERRED].reason == "No plan is running."
    assert g[Action.ENV_OPEN].reason == "The worker environment is already open."
    assert g[Action.QUEUE_STOP].reason == "The queue is not running."
    assert g[Action.KERNEL_INTERRUPT].reason == "The manager does not use an IPython kernel."
    assert g[Action.UNLOCK].reason == "Enter the lock key first."
    assert gates_for(lock_key_set=True)[Action.UNLOCK].reason == "Nothing is locked."
    busy = make_status(manager_state="executing_queue", re_state="running")
    assert gates_for(busy)[Action.ENV_CLOSE].reason.startswith("A plan is running")
    assert gates_for(busy)[Action.ENV_OPEN].reason == "The worker environment is already open."
    paused = make_status(manager_state="paused", re_state="paused")
    assert gates_for(paused)[Action.RE_PAUSE_IMMEDIATE].reason == "The plan is already paused."
    assert gates_for(paused)[Action.QUEUE_STOP].reason == "The queue is not running (paused)."
    pending = make_status(manager_state="executing_queue", re_state="running", pause_pending=True)
    assert gates_for(pending)[Action.RE_PAUSE_DEFERRED].reason == "A pause is already pending."
    empty = make_status(items_in_queue=0, items_in_history=0)
    assert gates_for(empty)[Action.QUEUE_START].reason == "The queue is empty."
    assert gates_for(empty)[Action.QUEUE_CLEAR].reason == "The queue is empty."
    assert gates_for(empty)[Action.HISTORY_CLEAR].reason == "The history is empty."
    closed = make_status(worker_environment_exists=False, re_state=None, ip_kernel_state=None)
    assert gates_for(closed)[Action.ENV_CLOSE].reason == "The worker environment is already closed."
    reason = gates_for(closed)[Action.ENV_DESTROY].reason
    assert reason == "There is no worker environment to destroy."
    ipk = make_status(ip_kernel_state="busy", ip_kernel_captured=False)
    assert gates_for(ipk)[Action.KERNEL_INTERRUPT].enabled
    assert gates_for(ipk)[Action.ENV_CLOSE].reason == "The IPython kernel is busy."
    ipk_idle = make_status(ip_kernel_state="idle", ip_kernel_captured=False)
    assert "nothing to interrupt" in gates_for(ipk_idle)[Action.KERNEL_INTERRUPT].reason


ODD_VALUES: tuple[Any, ...] = ("x", 5, -1, None, [], {"a": 1}, True, 1.5)


def test_missing_or_odd_status_keys_never_raise() -> None:
    full = make_status(manager_state="paused", re_state="paused")
    for key in list(full):
        for value in (*ODD_VALUES, "missing"):
            status = dict(full)
            if value == "missing":
                del status[key]
            else:
                status[key] = value
            for key_set in (False, True):
                g = gates_for(status, lock_key_set=key_set, queue_selection=(0,), lock_info=[])
                check_reasons(g)
    g = gates_for({})
    assert "unknown" in g[Action.EXECUTE_NOW].reason
    g = gates_for({"manager_state": "idle", "lock": {"environment": False, "queue": False}})
    assert g[Action.EXECUTE_NOW].reason.startswith("The worker environment state is unknown")
    assert "unknown" in gates_for(make_status(lock=None))[Action.QUEUE_ADD].reason


def test_unknown_kernel_state_disables_execute() -> None:
    status = make_status()
    del status["ip_kernel_state"]
    assert "IPython kernel state is unknown" in gates_for(status)[Action.EXECUTE_NOW].reason


def test_gates_mapping() -> None:
    g = gates_for()
    assert list(g) == list(Action)
    assert g["execute_now"] is g[Action.EXECUTE_NOW]
    assert g.enabled(Action.EXECUTE_NOW) and g.reason("execute_now") == ""
    with pytest.raises(KeyError):
        g["no_such_action"]
    assert g.get("no_such_action") is None


# ----- issue 16: Execute now is not the queue, undo, run phase -------------------------------
def test_stop_queue_is_refused_while_execute_now_runs() -> None:
    running = make_status(manager_state="executing_queue", re_state="running",
                          running_item_uid="x")  # fmt: skip
    assert gates_for(running)[Action.QUEUE_STOP].enabled  # a queue item: the queue can stop
    g = gates_for(running, running_immediate=True)
    assert g[Action.QUEUE_STOP] == Gate(
        False, "Execute now is running, not the queue: use Stop now to pause it.")
    assert g[Action.RE_PAUSE_IMMEDIATE].enabled  # ... which is Stop now
    idle = gates_for(make_status(), running_immediate=True)[Action.QUEUE_STOP]
    assert idle.reason == "The queue is not running."  # the first failing condition
    check_reasons(g)


def test_undo_is_a_queue_edit_that_needs_something_to_undo() -> None:
    g = gates_for()
    assert g[Action.QUEUE_UNDO] == Gate(False, "Nothing to undo.")
    assert gates_for(can_undo=True)[Action.QUEUE_UNDO].enabled
    assert gates_for(can_undo=True, undo_busy=True)[Action.QUEUE_UNDO] == Gate(
        False, "Undo request in progress.")
    locked = make_status(lock={"environment": False, "queue": True})
    assert "queue is locked" in gates_for(locked, can_undo=True)[Action.QUEUE_UNDO].reason
    assert gates_for(locked, can_undo=True, lock_key_set=True)[Action.QUEUE_UNDO].enabled
    assert gates_for(can_undo=True, monitor_mode=True)[Action.QUEUE_UNDO].reason == (
        "Monitor mode: read-only")
    observer = gates_for(can_undo=True, scopes=frozenset({"read:status"}))
    assert "needs write:queue:edit" in observer[Action.QUEUE_UNDO].reason
    assert Action.QUEUE_UNDO.label == "Undo"


@pytest.mark.parametrize(("over", "phase"), [
    ({}, "idle"),
    ({"worker_environment_exists": False, "re_state": None}, "idle"),
    ({"manager_state": "executing_queue", "re_state": "running"}, "running"),
    ({"manager_state": "starting_queue"}, "running"),
    ({"manager_state": "paused", "re_state": "paused"}, "paused"),
    ({"manager_state": "executing_queue", "re_state": "paused"}, "paused"),
    ({"manager_state": 7}, "unknown"),
])  # fmt: skip
def test_run_phase(over: dict[str, Any], phase: str) -> None:
    assert gates_for(make_status(**over)).phase == phase


def test_run_phase_offline_is_unknown() -> None:
    g = compute_gates(GateInputs(connection=Connection.OFFLINE, status=make_status()))
    assert g.phase == "unknown"
