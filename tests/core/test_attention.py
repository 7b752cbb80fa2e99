"""core/attention.py: one state and one failure alarm from the session's events (no server)."""

from __future__ import annotations

from qs_gui.core.attention import Attention
from qs_gui.core.gates import Connection
from qs_gui.core.operator_state import StateKind
from qs_gui.core.session_state import SessionEvents, SessionState
from qs_gui.core.tracking import ExecutionTracker

SCAN = {"item_type": "plan", "name": "scan", "args": [["det1"], "motor", -1], "kwargs": {"num": 5}}


def status(manager_state: str = "idle", *, running: str | None = None, items: int = 0,
           **extra) -> dict:
    return {"manager_state": manager_state, "worker_environment_exists": True,
            "running_item_uid": running, "items_in_queue": items, "re_state": "idle", **extra}


class Feed:
    def __init__(self) -> None:
        self.state = SessionState(address="test")
        self.state.connection = Connection.CONNECTED
        self.events = SessionEvents()
        self.tracker = ExecutionTracker()
        self.messages: list[tuple[str, str]] = []
        self.events.message.connect(lambda level, text: self.messages.append((level, text)))
        self.attention = Attention(self.state, self.events, self.tracker)
        self.states: list = []
        self.alarms: list = []
        self.attention.changed.connect(self.states.append)
        self.attention.alarm_changed.connect(self.alarms.append)

    def status(self, value: dict) -> None:
        self.state.status = value
        self.events.status_changed.emit(value)

    def queue(self, items: list, running: dict | None = None) -> None:
        self.state.running_item = running or {}
        self.events.queue_changed.emit(items, running or {})


def test_a_failed_queue_item_raises_a_named_alarm_until_acknowledged() -> None:
    f = Feed()
    f.queue([{**SCAN, "item_uid": "next"}], {**SCAN, "item_uid": "ran"})
    f.status(status("executing_queue", running="ran", items=1))
    assert f.attention.current.kind is StateKind.RUNNING_QUEUE
    f.status(status("idle", items=2))  # the failed item went back to the front
    assert f.attention.failure is not None and not f.attention.failure.detail_read
    assert f.attention.current.kind is StateKind.FAILED
    assert f.messages[-1][0] == "error" and "scan" in f.messages[-1][1]
    failed = {**SCAN, "item_uid": "ran",
              "result": {"exit_status": "failed", "msg": "Wrong number of positional arguments",
                         "traceback": "Traceback …", "time_start": 1.0}}
    f.events.history_changed.emit([failed])
    failure = f.attention.failure
    assert failure.detail_read and "Wrong number" in failure.text and failure.traceback
    assert len([m for m in f.messages if m[0] == "error"]) == 2  # fired, then its detail
    f.queue([{**SCAN, "item_uid": "new", "result": failed["result"]},
             {**SCAN, "item_uid": "next"}])
    assert f.attention.failure.requeued_uid == "new"
    assert len([m for m in f.messages if m[0] == "error"]) == 2  # the mark is not a new alarm
    f.attention.acknowledge()
    assert f.attention.failure is None and f.alarms[-1] is None
    assert f.attention.current.kind is StateKind.IDLE


def test_an_execute_now_failure_is_shown_as_failed_but_named_by_the_window() -> None:
    f = Feed()
    f.tracker.started({**SCAN, "item_uid": "mine"})
    f.queue([], {**SCAN, "item_uid": "mine", "properties": {"immediate_execution": True}})
    f.status(status("executing_queue", running="mine"))
    assert f.attention.current.kind is StateKind.RUNNING_EXECUTE_NOW
    f.status(status("idle"))
    f.events.history_changed.emit([{**SCAN, "item_uid": "mine",
                                    "result": {"exit_status": "failed", "msg": "boom"}}])
    f.tracker.on_history([{**SCAN, "item_uid": "mine",
                           "result": {"exit_status": "failed", "msg": "boom"}}])
    assert f.attention.current.kind is StateKind.FAILED
    assert f.attention.failure.title == "Execute now: scan failed"
    assert not f.messages  # the window's execution line names it; no second message here


def test_a_requested_stop_is_not_an_alarm() -> None:
    f = Feed()
    f.queue([{**SCAN, "item_uid": "b"}], {**SCAN, "item_uid": "a"})
    f.status(status("executing_queue", running="a", items=1))
    f.attention.expect("queue_stop")
    f.status(status("executing_queue", running="a", items=1, queue_stop_pending=True))
    assert f.attention.current.kind is StateKind.STOPPING
    f.status(status("idle", items=1))
    f.events.history_changed.emit([{**SCAN, "item_uid": "a",
                                    "result": {"exit_status": "completed"}}])
    assert f.attention.failure is None
    assert f.attention.watch.stop_reason().requested
    assert f.attention.current.kind is StateKind.IDLE


def test_another_clients_quick_execute_now_failure_is_not_a_queue_alarm() -> None:
    """The history has no Execute-now marker and a quick failure is never seen in a queue
    reply: the unchanged queue count tells it apart (the --demo seeds exactly this)."""
    f = Feed()
    f.status(status("idle", items=2))
    f.status(status("executing_queue", running="theirs", items=2))
    f.status(status("idle", items=2))
    f.events.history_changed.emit([{**SCAN, "item_uid": "theirs",
                                    "result": {"exit_status": "failed", "msg": "boom"}}])
    assert f.attention.failure is None and not f.messages
    assert f.attention.current.kind is StateKind.IDLE


def test_an_item_added_and_started_between_two_statuses_still_alarms_once_requeued() -> None:
    """Add + start between two pushes leaves the count unchanged, like an Execute now; the
    requeued copy at the front (an Execute-now item never goes back) decides."""
    f = Feed()
    f.status(status("idle", items=0))
    f.status(status("executing_queue", running="q", items=0))
    f.status(status("idle", items=1))
    assert f.attention.failure is None  # not decided by the count alone
    result = {"exit_status": "failed", "msg": "boom", "time_start": 5.0}
    f.events.history_changed.emit([{**SCAN, "item_uid": "q", "result": result}])
    assert f.attention.failure is None  # the queue has not been read yet
    f.queue([{**SCAN, "item_uid": "q2", "result": result}])
    failure = f.attention.failure
    assert failure is not None and failure.requeued_uid == "q2" and "boom" in failure.text
    assert f.attention.current.kind is StateKind.FAILED
