"""The operator's state (qs_gui.core.operator_state): one kind, words and colour role per status."""

from __future__ import annotations

from typing import Any

import pytest

from qs_gui.core.gates import Connection
from qs_gui.core.operator_state import (
    ROLES,
    WORDS,
    OperatorStateTracker,
    StateKind,
    derive,
    words,
)

IDLE = {"manager_state": "idle", "worker_environment_exists": True, "re_state": "idle",
        "items_in_queue": 3, "running_item_uid": None, "queue_stop_pending": False,
        "pause_pending": False, "lock": {"environment": False, "queue": False}}


def st(**changes: Any) -> dict[str, Any]:
    return {**IDLE, **changes}


RUNNING = st(manager_state="executing_queue", re_state="running", running_item_uid="u1",
             items_in_queue=2)
SCAN = {"item_type": "plan", "name": "scan", "item_uid": "u1"}


def test_every_kind_has_one_role_from_the_fixed_set() -> None:
    assert set(ROLES) == set(StateKind)
    assert set(ROLES.values()) <= {"ok", "busy", "attention", "alarm", "off"}
    assert [k for k, r in ROLES.items() if r == "alarm"] == [StateKind.FAILED]


@pytest.mark.parametrize(("status", "kind", "headline", "role"), [
    (IDLE, StateKind.IDLE, "Idle", "ok"),
    (st(worker_environment_exists=False, re_state=None), StateKind.ENV_CLOSED,
     "Environment closed", "off"),  # never a green "idle" without an environment
    (st(manager_state="initializing"), StateKind.STARTING_UP, "Starting up", "busy"),
    (st(manager_state="closing_environment"), StateKind.ENV_CLOSING, "Closing environment",
     "busy"),
    (st(manager_state="destroying_environment"), StateKind.ENV_CLOSING,
     "Destroying environment", "busy"),
    (st(manager_state="paused", re_state="paused", running_item_uid="u1"), StateKind.PAUSED,
     "Paused — resume, stop, abort or halt", "attention"),
    (st(manager_state="executing_task"), StateKind.RUNNING_TASK, "Running a task", "busy"),
    (st(manager_state="starting_queue"), StateKind.RUNNING_QUEUE, "Starting the queue", "busy"),
])  # fmt: skip
def test_states_in_operator_words(status: dict, kind: StateKind, headline: str,
                                  role: str) -> None:
    s = derive(status)
    assert (s.kind, s.headline, s.role) == (kind, headline, role)
    assert "_" not in s.headline + s.detail  # no raw server enum reaches the operator


def test_connection_comes_first() -> None:
    assert derive(IDLE, connection=Connection.OFFLINE).kind is StateKind.OFFLINE
    assert derive(IDLE, connection=Connection.CONNECTING).headline == "Connecting…"
    assert derive(None).kind is StateKind.STARTING_UP
    stale = derive(RUNNING, connection=Connection.NO_STATUS)  # a stale status is not trusted
    assert (stale.kind, stale.headline) == (StateKind.OFFLINE, "Connected — no status")
    assert derive(IDLE, connection=Connection.OFFLINE, failure="x").kind is StateKind.OFFLINE


def test_a_queue_run_names_the_item_and_what_is_left() -> None:
    s = derive(RUNNING, running_item=SCAN)
    assert (s.kind, s.headline, s.detail) == (StateKind.RUNNING_QUEUE, "Running scan (queue)",
                                              "2 items in the queue after it.")
    assert derive(RUNNING).headline == "Running a plan (queue)"  # running item not read yet
    other = {**SCAN, "item_uid": "older"}  # a stale running item is not trusted for the name
    assert derive(RUNNING, running_item=other).headline == "Running a plan (queue)"


def test_execute_now_is_not_shown_as_the_queue() -> None:
    marked = {**SCAN, "properties": {"immediate_execution": True, "time_start": 1.0}}
    for s in (derive(RUNNING, running_item=marked),
              derive(RUNNING, running_item=SCAN, own_uids={"u1"}),
              derive(RUNNING, own_uids=["u1"])):
        assert s.kind is StateKind.RUNNING_EXECUTE_NOW and s.role == "busy"
        assert s.headline.endswith("(Execute now)") and "queue" not in s.headline
    assert derive(RUNNING, running_item=marked).headline == "Running scan (Execute now)"
    assert derive(RUNNING, running_item=marked).detail == "The queue is not running."


def test_requested_stops_are_attention_not_alarm() -> None:
    s = derive({**RUNNING, "queue_stop_pending": True}, running_item=SCAN)
    assert (s.kind, s.role) == (StateKind.STOPPING, "attention")
    assert s.headline == "Running scan — queue stops after it"
    s = derive({**RUNNING, "pause_pending": True}, running_item=SCAN)
    assert (s.kind, s.headline) == (StateKind.STOPPING, "Pausing scan")
    s = derive({**RUNNING, "pause_pending": True}, own_uids={"u1"}, running_item=SCAN)
    assert s.headline == "Pausing scan (Execute now)"


def test_an_unacknowledged_failure_is_the_alarm_until_cleared() -> None:
    s = derive(IDLE, failure="scan failed: Plan failed: boom")
    assert (s.kind, s.role, s.detail) == (StateKind.FAILED, "alarm",
                                          "scan failed: Plan failed: boom")
    assert derive(IDLE, failure=None).kind is StateKind.IDLE


def test_the_lock_is_a_neutral_flag_beside_the_state() -> None:
    s = derive(st(lock={"environment": True, "queue": True}))
    assert s.kind is StateKind.IDLE and s.role == "ok" and s.locked
    assert s.lock_text == ("Locked: environment and queue (a lock key is needed to change "
                           "them)")
    assert derive(st(lock={"queue": True})).lock_text.startswith("Locked: queue (")
    assert not derive(st(lock="odd")).locked and not derive(IDLE).locked


def test_window_title_starts_with_the_state() -> None:
    s = derive(st(manager_state="paused", lock={"queue": True}))
    assert s.window_title("qs-gui", "localhost:60615") == (
        "Paused — resume, stop, abort or halt · LOCKED — qs-gui — localhost:60615")
    assert derive(IDLE).window_title() == "Idle — qs-gui"


def test_opening_shows_the_elapsed_time() -> None:
    now = [100.0]
    tracker = OperatorStateTracker(clock=lambda: now[0])
    tracker.update(st(worker_environment_exists=False))
    assert tracker.current().kind is StateKind.ENV_CLOSED
    tracker.update(st(manager_state="creating_environment", worker_environment_exists=False))
    now[0] = 112.7
    tracker.update(st(manager_state="creating_environment", worker_environment_exists=True))
    s = tracker.current()
    assert (s.kind, s.headline, s.role) == (StateKind.ENV_OPENING, "Opening environment (12 s)",
                                            "busy")
    assert s.elapsed == pytest.approx(12.7)
    tracker.update(IDLE)
    assert tracker.current().elapsed is None and tracker.current().kind is StateKind.IDLE
    tracker.update(st(manager_state="creating_environment"))  # a new opening starts from 0
    assert tracker.current().elapsed == 0.0
    assert tracker.current(connection=Connection.OFFLINE).kind is StateKind.OFFLINE


def test_words_for_every_server_enum() -> None:
    for value in ("executing_queue", "creating_environment", "starting_queue", "idle"):
        assert "_" not in words(value) and words(value) == WORDS[value]
    assert words("some_new_state") == "Some new state"
    assert words(None) == "—" and words("") == "—"
    assert words("stopped") == "Stopped (requested)"
