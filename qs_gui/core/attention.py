"""What needs the operator's attention: the one readable state and the unacknowledged failure.

Why one part: the banner, the window title, the monitor display and the Messages log must agree
on what the instrument is doing and on whether something failed. This part listens to the
session's events (status, queue, history, connection, executions), keeps an
:class:`~qs_gui.core.operator_state.OperatorStateTracker` and a
:class:`~qs_gui.core.queue_alarm.QueueAlarmWatch`, and announces:

* ``changed(OperatorState)`` whenever what the banner shows changes;
* ``alarm_changed(Failure | None)`` when a failure is raised, filled in or acknowledged;
* an ERROR (or, for an abort/halt asked for here, a WARNING) in the session's Messages, naming
  the item, once per failure and once more when the history brings its detail.

A failure, whether of a queue item nobody watched or of this client's Execute now, stays until
:meth:`Attention.acknowledge`; the history keeps the record. Qt-free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .events import Event
from .operator_state import OperatorState, OperatorStateTracker
from .queue_alarm import QueueAlarm, QueueAlarmWatch
from .session_state import SessionEvents, SessionState
from .tracking import Execution, ExecutionTracker

__all__ = ["Attention", "Failure"]

_FAILED = {"failed": "failed", "aborted": "was aborted", "halted": "was halted"}


@dataclass(frozen=True)
class Failure:
    """One unacknowledged failure, queue item or Execute now, in the words the views show."""

    name: str
    uid: str
    title: str  # "Queue stopped: scan failed" / "Execute now: scan failed"
    text: str  # the message, what happened to the item, where the traceback is
    level: str = "error"  # "warning" for an abort/halt this client asked for
    detail_read: bool = True
    traceback: str = ""
    requeued_uid: str | None = None  # the queue item the server put back (queue failures)
    item: Mapping[str, Any] | None = None
    queue_item: bool = True  # False for this client's Execute now

    @property
    def banner_text(self) -> str:
        """The banner's headline (the title) and, on the next line, what happened."""
        return f"{self.title}\n{self.text.strip() or 'The server gave no message.'}"


def _from_alarm(alarm: QueueAlarm) -> Failure:
    return Failure(alarm.name, alarm.uid, alarm.title, alarm.text, alarm.level,
                   alarm.detail_read, alarm.traceback, alarm.requeued_uid, alarm.item)


def _from_execution(execution: Execution) -> Failure:
    first = execution.msg.strip().splitlines()[0] if execution.msg.strip() else ""
    tail = " The traceback is in the History." if execution.traceback.strip() else ""
    first = first or "The server gave no message."
    text = first + ("" if first.endswith((".", "!", "?")) else ".") + tail
    return Failure(execution.name, execution.uid,
                   f"Execute now: {execution.name} {_FAILED[execution.state]}", text,
                   traceback=execution.traceback, item=execution.item, queue_item=False)


class Attention:
    """Derives the operator state and the failure alarm from the session's events."""

    def __init__(self, state: SessionState, events: SessionEvents, tracker: ExecutionTracker,
                 *, clock: Callable[[], float] | None = None) -> None:
        self._state = state
        self._events = events
        self._tracker = tracker
        self.states = OperatorStateTracker(clock) if clock else OperatorStateTracker()
        self.watch = QueueAlarmWatch()
        self.changed = Event("operator_state_changed")  #: (OperatorState)
        self.alarm_changed = Event("alarm_changed")  #: (Failure | None)
        #: () a failed item never seen running waits for a queue read (its copy at the front?)
        self.queue_wanted = Event("queue_wanted")
        self.failure: Failure | None = None
        self.current: OperatorState = self._derive()
        self._announced: tuple[str, bool] | None = None
        events.status_changed.connect(self._on_status)
        events.queue_changed.connect(self._on_queue)
        events.history_changed.connect(self._on_history)
        events.history_policy_changed.connect(self._on_history_policy)
        events.connection_changed.connect(lambda *_: self.refresh())
        tracker.changed.connect(self._on_execution)

    # -- what the operator does -----------------------------------------------------------------
    def acknowledge(self) -> None:
        """The operator saw the failure: the banner and the queue mark clear."""
        if self.failure is None:
            return
        self.watch.acknowledge()
        self.failure = None
        self._announced = None
        self.alarm_changed.emit(None)
        self.refresh()

    def expect(self, request: str) -> None:
        """This client is sending ``request`` (queue_stop, re_stop, re_abort, re_halt)."""
        self.watch.expect(request)

    def refresh(self) -> None:
        """Derive the state again (also called once a second while the environment opens)."""
        state = self._derive()
        if state != self.current:
            self.current = state
            self.changed.emit(state)

    # -- inputs -----------------------------------------------------------------------------
    def _derive(self) -> OperatorState:
        own = [e.uid for e in self._tracker.active]
        failure = self.failure.banner_text if self.failure is not None else None
        return self.states.current(connection=self._state.connection,
                                   running_item=self._state.running_item or None,
                                   own_uids=own, failure=failure)

    def _on_status(self, status: Mapping[str, Any]) -> None:
        self.states.update(status)
        for execution in self._tracker.active:
            self.watch.note_execute_now(execution.uid)
        if self.watch.on_status(status):
            self._take_alarm()
        self.refresh()

    def _on_queue(self, items: Sequence[Mapping[str, Any]],
                  running_item: Mapping[str, Any] | None = None) -> None:
        if self.watch.on_queue(items, running_item):
            self._take_alarm()
        self.refresh()

    def _on_history(self, items: Sequence[Mapping[str, Any]]) -> None:
        if self.watch.on_history(items):
            self._take_alarm()
        if self.watch.awaiting_front:
            self.queue_wanted.emit()

    def _on_history_policy(self) -> None:
        """The history is withheld (or read again): an unread alarm says what it waits for."""
        if self.watch.history_withheld(self._state.history_withheld):
            self._take_alarm()

    def _on_execution(self, execution: Execution) -> None:
        self.watch.note_execute_now(execution.uid)
        if execution.state in _FAILED:
            self._raise(_from_execution(execution), announce=False)  # the window names it
        self.refresh()

    def _take_alarm(self) -> None:
        alarm = self.watch.alarm
        if alarm is None:  # withdrawn: the history says the item completed after all
            if self.failure is not None and self.failure.queue_item:
                self.failure = None
                self._announced = None
                self.alarm_changed.emit(None)
                self.refresh()
            return
        self._raise(_from_alarm(alarm), announce=True)

    def _raise(self, failure: Failure, *, announce: bool) -> None:
        self.failure = failure
        key = (failure.uid, failure.detail_read)
        if announce and key != self._announced:
            self._announced = key
            self._events.message.emit(failure.level, f"{failure.title}. {failure.text}")
        self.alarm_changed.emit(failure)
        self.refresh()
