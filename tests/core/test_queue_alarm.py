"""Why the queue stopped, and the failed-item alarm (qs_gui.core.queue_alarm), from status,
queue and history sequences shaped like RE Manager 0.0.25's (re-manager-protocol.md)."""

from __future__ import annotations

from typing import Any

from qs_gui.core.notify_rules import Kind, NotifyRules
from qs_gui.core.queue_alarm import QueueAlarmWatch

SCAN = {"item_type": "plan", "name": "scan", "args": [["det1"], "motor", -1],
        "kwargs": {"num": 5}}
COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]]}
TB = "Traceback (most recent call last):\n  ...\nValueError: Wrong number of positional arguments"
FAILED = {"exit_status": "failed", "msg": "Plan failed: Wrong number of positional arguments "
          "for 'inner_product'", "traceback": TB, "time_start": 10.0, "time_stop": 11.0}


def status(state: str = "idle", running: str | None = None, items: int = 0,
           **more: Any) -> dict[str, Any]:
    return {"manager_state": state, "running_item_uid": running, "items_in_queue": items,
            "worker_environment_exists": True, "queue_stop_pending": False,
            "plan_queue_mode": {"loop": False, "ignore_failures": False}, **more}


def hist(item: dict, uid: str, result: dict) -> dict[str, Any]:
    return {**item, "item_uid": uid, "result": result}


def run_failing_queue(watch: QueueAlarmWatch, *, history: bool = True) -> None:
    """count (a), scan (b, fails), count (c); Start queue."""
    watch.on_status(status(items=3))
    watch.on_status(status("executing_queue", "a", 2))
    watch.on_queue([{**SCAN, "item_uid": "b"}, {**COUNT, "item_uid": "c"}],
                   {**COUNT, "item_uid": "a"})
    watch.on_status(status("executing_queue", "b", 1))
    watch.on_queue([{**COUNT, "item_uid": "c"}], {**SCAN, "item_uid": "b"})
    watch.on_status(status("idle", None, 2))  # b went back to the front, with a new uid
    if history:
        watch.on_history([hist(COUNT, "a", {"exit_status": "completed", "msg": ""}),
                          hist(SCAN, "b", FAILED)])


def test_a_failed_queue_item_raises_a_named_alarm_with_its_message() -> None:
    watch = QueueAlarmWatch()
    run_failing_queue(watch)
    alarm = watch.alarm
    assert alarm is not None and alarm.detail_read
    assert (alarm.name, alarm.uid, alarm.exit_status, alarm.level) == ("scan", "b", "failed",
                                                                       "error")
    assert alarm.title == "Queue stopped: scan failed"
    assert alarm.text.startswith("Plan failed: Wrong number of positional arguments for "
                                 "'inner_product'. The traceback is in the History.")
    assert alarm.traceback == TB
    assert watch.stop_reason().kind == "failed"  # type: ignore[union-attr]
    assert watch.stop_reason().text == "scan failed"  # type: ignore[union-attr]


def test_the_requeued_item_is_marked_by_its_result() -> None:
    watch = QueueAlarmWatch()
    run_failing_queue(watch)
    assert watch.failed_uid is None  # the queue is not read yet
    requeued = {**SCAN, "item_uid": "b2", "result": FAILED}
    assert watch.on_queue([requeued, {**COUNT, "item_uid": "c"}])
    assert watch.failed_uid == "b2"
    assert not watch.on_queue([requeued])  # already marked


def test_the_alarm_stays_until_acknowledged() -> None:
    watch = QueueAlarmWatch()
    run_failing_queue(watch)
    for s in (status(items=2), status(items=2), status(items=2)):
        watch.on_status(s)
    assert watch.alarm is not None
    watch.acknowledge()
    assert watch.alarm is None and watch.failed_uid is None
    watch.on_history([hist(SCAN, "b", FAILED)])  # the same history again: no new alarm
    assert watch.alarm is None


def test_without_the_history_the_alarm_fires_from_the_status_and_says_so() -> None:
    watch = QueueAlarmWatch()
    run_failing_queue(watch, history=False)
    alarm = watch.alarm
    assert alarm is not None and not alarm.detail_read and alarm.name == "scan"
    assert alarm.title == "Queue stopped: scan did not complete"
    assert "The detail is not read yet" in alarm.text and alarm.level == "error"
    assert watch.on_queue([{**SCAN, "item_uid": "b2"}])  # an equal item at the front
    assert watch.failed_uid == "b2"
    assert watch.on_history([hist(SCAN, "b", FAILED)])  # the detail arrives; the mark stays
    assert watch.alarm.detail_read and watch.failed_uid == "b2"  # type: ignore[union-attr]


def test_a_provisional_alarm_is_withdrawn_when_the_item_completed() -> None:
    watch = QueueAlarmWatch()
    watch.on_status(status("executing_queue", "a", 1))
    assert watch.on_status(status("idle", None, 2))  # +1: another client added an item
    assert watch.alarm is not None
    assert watch.on_history([hist(COUNT, "a", {"exit_status": "completed"})])
    assert watch.alarm is None


def test_loop_mode_counts_say_nothing() -> None:
    watch = QueueAlarmWatch()
    loop = {"plan_queue_mode": {"loop": True, "ignore_failures": False}}
    watch.on_status(status("executing_queue", "a", 1, **loop))
    assert not watch.on_status(status("idle", None, 2, **loop)) and watch.alarm is None


def test_ignore_failures_mode_still_alarms_while_the_queue_goes_on() -> None:
    watch = QueueAlarmWatch()
    watch.on_status(status("executing_queue", "a", 1))
    watch.on_status(status("executing_queue", "c", 0))
    assert watch.on_history([hist(SCAN, "a", FAILED)])
    assert watch.alarm is not None and watch.alarm.name == "scan"


def test_execute_now_items_are_not_queue_items() -> None:
    watch = QueueAlarmWatch()
    watch.note_execute_now("x")
    watch.on_status(status("executing_queue", "x", 2))
    watch.on_status(status("idle", None, 2))
    assert not watch.on_history([hist(SCAN, "x", FAILED)]) and watch.alarm is None
    marked = {**SCAN, "item_uid": "y", "properties": {"immediate_execution": True}}
    watch.on_queue([], marked)  # another client's Execute now, known from the queue reply
    watch.on_status(status("executing_queue", "y", 2))
    assert not watch.on_history([hist(SCAN, "y", FAILED)])


def test_a_requested_stop_is_said_so() -> None:
    watch = QueueAlarmWatch()
    watch.on_status(status("executing_queue", "a", 2))
    watch.on_status(status("executing_queue", "a", 2, queue_stop_pending=True))
    watch.on_status(status("idle", None, 2))
    watch.on_history([hist(COUNT, "a", {"exit_status": "completed"})])
    reason = watch.stop_reason()
    assert reason is not None and (reason.kind, reason.requested) == ("stop_requested", True)
    assert reason.text == "the operator asked the queue to stop" and watch.alarm is None


def test_halt_and_abort_requested_here_or_elsewhere() -> None:
    watch = QueueAlarmWatch()
    watch.expect("re_halt")
    watch.on_status(status("executing_queue", "a", 1))
    watch.on_status(status("paused", "a", 1))
    watch.on_status(status("idle", None, 2))
    watch.on_history([hist(SCAN, "a", {"exit_status": "halted", "msg": ""})])
    alarm = watch.alarm
    assert alarm is not None and alarm.requested and alarm.level == "warning"
    assert alarm.title == "Queue stopped: scan was halted"
    assert "(halted from this client)" in alarm.text
    assert watch.stop_reason().text == "scan was halted (requested here)"  # type: ignore
    watch.acknowledge()
    watch.on_status(status("executing_queue", "b", 1))
    watch.on_status(status("idle", None, 2))
    watch.on_history([hist(SCAN, "b", {"exit_status": "aborted", "msg": ""})])
    assert watch.alarm is not None and not watch.alarm.requested
    assert watch.stop_reason().text == "scan was aborted (not requested here)"  # type: ignore


def test_re_stop_is_a_success_and_not_an_alarm() -> None:
    watch = QueueAlarmWatch()
    watch.expect("re_stop")
    watch.on_status(status("executing_queue", "a", 1))
    watch.on_status(status("paused", "a", 1))
    assert not watch.on_status(status("idle", None, 1))  # not requeued
    watch.on_history([hist(SCAN, "a", {"exit_status": "stopped"})])
    assert watch.alarm is None
    assert watch.stop_reason().text == "scan was stopped as requested"  # type: ignore


def test_a_queue_stop_item_or_another_client() -> None:
    watch = QueueAlarmWatch()
    assert watch.stop_reason() is None
    watch.on_status(status("executing_queue", "a", 3))
    watch.on_status(status("idle", None, 2))
    watch.on_history([hist(COUNT, "a", {"exit_status": "completed"})])
    reason = watch.stop_reason()
    assert reason is not None and reason.kind == "stop_instruction"
    assert reason.text.startswith("count completed; then a queue_stop item")


def test_the_queue_stopped_notice_says_why() -> None:
    now = [0.0]
    watch = QueueAlarmWatch()
    rules = NotifyRules(clock=lambda: now[0], stop_reason=watch.stop_reason)
    for s in (status(items=3), status("executing_queue", "a", 2),
              status("executing_queue", "b", 1), status("idle", None, 2)):
        rules.on_status(s)
        watch.on_status(s)
    watch.on_history([hist(COUNT, "a", {"exit_status": "completed"}), hist(SCAN, "b", FAILED)])
    now[0] = 2.0
    [notice] = rules.poll()
    assert notice.kind is Kind.QUEUE_FINISHED and notice.level == "error"
    assert notice.text == ("The queue stopped with 2 items left; the manager is idle (scan "
                           "failed).")
    plain = NotifyRules(clock=lambda: now[0])  # without a watch: as before
    for s in (status(items=3), status("executing_queue", "a", 2), status("idle", None, 2)):
        plain.on_status(s)
    now[0] = 5.0
    assert "(stopped, failed or halted)" in plain.poll()[0].text


def test_a_stop_requested_as_the_run_starts_counts_and_a_new_run_forgets_it() -> None:
    watch = QueueAlarmWatch()
    watch.on_status(status(items=2))
    watch.on_status(status("executing_queue", "a", 1, queue_stop_pending=True))
    watch.on_status(status("idle", None, 1))
    watch.on_history([hist(COUNT, "a", {"exit_status": "completed"})])
    assert watch.stop_reason().kind == "stop_requested"  # type: ignore[union-attr]
    watch.on_status(status("executing_queue", "b", 0))  # the next Start: a new run
    watch.on_status(status("idle", None, 0))
    watch.on_history([hist(COUNT, "b", {"exit_status": "completed"})])
    assert watch.stop_reason().kind == "stop_instruction"  # type: ignore[union-attr]


def never_seen_failure(watch: QueueAlarmWatch) -> None:
    """The scan fails between two statuses (a push-less server polled every 1.2 s): the
    statuses show the queue at 2 before and after; only the history tells."""
    watch.on_status(status(items=2))
    watch.on_history([hist(COUNT, "old", {"exit_status": "failed", "msg": "long ago"})])
    watch.on_status(status(items=2))
    watch.on_history([hist(COUNT, "old", {"exit_status": "failed", "msg": "long ago"}),
                      hist(SCAN, "b", FAILED)])


def test_a_failure_never_seen_running_alarms_once_its_copy_is_seen_at_the_front() -> None:
    watch = QueueAlarmWatch()
    never_seen_failure(watch)
    assert watch.alarm is None and watch.awaiting_front  # queue item or Execute now?
    requeued = {**SCAN, "item_uid": "b2", "result": FAILED}
    assert watch.on_queue([requeued, {**COUNT, "item_uid": "c"}])
    alarm = watch.alarm
    assert alarm is not None and (alarm.uid, alarm.exit_status, alarm.requeued_uid) == (
        "b", "failed", "b2")
    assert alarm.title == "Queue stopped: scan failed" and not watch.awaiting_front


def test_a_failure_never_seen_running_without_its_copy_is_not_a_queue_alarm() -> None:
    """Another client's Execute now fails quickly: nothing goes back to the queue. An equal
    item at the front without the run's result is not its copy; neither is the history of the
    first read (it happened before this client looked)."""
    watch = QueueAlarmWatch()
    never_seen_failure(watch)
    assert not watch.on_queue([{**SCAN, "item_uid": "q1"}, {**COUNT, "item_uid": "c"}])
    assert watch.alarm is None and watch.awaiting_front
    watch.on_history([hist(SCAN, "b", FAILED),
                      hist(COUNT, "d", {"exit_status": "completed", "msg": ""})])
    assert watch.alarm is None
    assert watch.failed_uid is None


def test_an_execute_now_of_this_client_is_never_pending() -> None:
    watch = QueueAlarmWatch()
    watch.on_history([])
    watch.note_execute_now("b")
    watch.on_history([hist(SCAN, "b", FAILED)])
    assert not watch.awaiting_front and watch.alarm is None
