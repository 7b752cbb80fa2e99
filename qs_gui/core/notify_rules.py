"""When to tell the operator something happened while they looked elsewhere: Qt-free rules.

Fed with every status snapshot (``on_status``) and every execution-tracker change
(``on_execution``), ``NotifyRules`` returns the notices to show. It decides; ``ui/notifications``
only displays. Four events are worth interrupting someone for:

* **An Execute-now item finished** (this client's items, from the tracker): outcome + message.
* **The queue finished.** The manager passes through ``idle`` between queue items, so "idle"
  alone means nothing; a queue run is announced only once the manager has *stayed* idle for
  ``queue_idle_delay`` (1.5 s) after a run. It says "finished" when the queue is empty and
  "stopped" (with the count left) otherwise, and why when ``stop_reason`` knows (a failure, a
  requested stop, a halt: ``core.queue_alarm``).
* **An unexpected pause**: paused without this client having asked (another client, a suspender,
  the plan itself). The caller says when it requested a pause (``expect_pause``).
* **The environment closed, not at this client's request**: ``worker_environment_exists`` true
  -> false without a close/destroy requested here (``expect_environment_close``). A close that
  passed through ``closing_environment`` / ``destroying_environment`` (or the worker's
  ``closing``) was requested by someone (another client): information, not an alarm. Only a
  disappearance without a close is a warning that the worker may have crashed.

What is a queue run and not an Execute-now item? Both run as ``executing_queue``. A queue run pops
its item, so ``items_in_queue`` drops below the value seen while idle; an executed item never
changes it, and this client's own executions are also known by uid. The clock is injectable, so
the debounce is tested with sequences of statuses and no sleeping; the Qt side calls ``poll`` at
``seconds_until_due``.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["ExecutionLike", "Kind", "Notice", "NotifyRules", "StopReasonLike"]

RUNNING_STATES = frozenset({"starting_queue", "executing_queue"})
_LEVELS = {"completed": "info", "stopped": "warning"}  # every other final state is an error


class Kind(str, enum.Enum):
    ITEM_FINISHED = "item_finished"
    QUEUE_FINISHED = "queue_finished"
    UNEXPECTED_PAUSE = "unexpected_pause"
    ENVIRONMENT_CLOSED = "environment_closed"


@dataclass(frozen=True)
class Notice:
    """One thing to tell the operator; ``level`` is a Messages-log level."""

    kind: Kind
    title: str
    text: str
    level: str  # "info" | "warning" | "error"


class ExecutionLike(Protocol):
    """What the rules read from ``core.tracking.Execution``."""

    uid: str
    name: str
    state: str
    msg: str

    @property
    def finished(self) -> bool: ...


class StopReasonLike(Protocol):
    """What the rules read from ``core.queue_alarm.StopReason``."""

    kind: str
    text: str
    requested: bool


class NotifyRules:
    """Turns status snapshots and execution outcomes into notices (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 queue_idle_delay: float = 1.5, pause_expect_timeout: float = 600.0,
                 close_expect_timeout: float = 120.0, enabled: Iterable[Kind] = tuple(Kind),
                 stop_reason: Callable[[], StopReasonLike | None] | None = None):
        self.clock = clock
        # why the queue stopped, when known (``core.queue_alarm.QueueAlarmWatch.stop_reason``)
        self.stop_reason = stop_reason
        self.queue_idle_delay = queue_idle_delay
        # A requested pause is expected until seen, until the manager settles idle, or this long
        # (a deferred pause waits for the plan's next checkpoint, which can take minutes).
        self.pause_expect_timeout = pause_expect_timeout
        # Closing or destroying takes seconds; a refused request must not mask a crash for long.
        self.close_expect_timeout = close_expect_timeout
        self.enabled = set(enabled)
        self._prev: Mapping[str, Any] | None = None
        self._queue_ran = False
        self._idle_items: int | None = None  # items_in_queue while last seen idle
        self._idle_since: float | None = None
        self._settled = False
        self._pause_expected_at: float | None = None
        self._close_expected_at: float | None = None
        self._closing: str | None = None  # "close"/"destroy" seen since the env was last open
        self._own_uids: deque[str] = deque(maxlen=200)
        self._announced: deque[str] = deque(maxlen=200)

    # -- what this client asked for ---------------------------------------------------------
    def expect_pause(self) -> None:
        """This client sent a pause request: the next pause is not a surprise."""
        self._pause_expected_at = self.clock()

    def expect_environment_close(self) -> None:
        """This client sent environment_close/destroy: the next close is not a surprise."""
        self._close_expected_at = self.clock()

    def _expected(self, since: float | None, timeout: float) -> bool:
        return since is not None and self.clock() - since <= timeout

    # -- inputs -----------------------------------------------------------------------------
    def on_execution(self, execution: ExecutionLike) -> list[Notice]:
        """A tracker change: remember the uid as ours; announce a final state once."""
        uid = execution.uid
        if uid not in self._own_uids:
            self._own_uids.append(uid)
        if not execution.finished or uid in self._announced:
            return []
        self._announced.append(uid)
        state = execution.state
        text = execution.msg.strip() or ("Completed." if state == "completed"
                                         else "The server gave no message.")
        return self._emit([Notice(Kind.ITEM_FINISHED, f"{execution.name}: {state}", text,
                                  _LEVELS.get(state, "error"))])

    def on_status(self, status: Mapping[str, Any]) -> list[Notice]:
        """A status snapshot (push or poll). Returns what to notify now."""
        notices = self.poll()  # a debounce that fell due before this status
        prev, self._prev = self._prev, status
        state = status.get("manager_state")
        items = status.get("items_in_queue")
        items = items if isinstance(items, int) and not isinstance(items, bool) else None

        if state in RUNNING_STATES:
            self._idle_since = None
            if self._is_queue_run(status, items):
                self._queue_ran = True
        elif state == "paused":
            self._idle_since = None
        elif state == "idle":
            self._idle_items = items
            if self._idle_since is None:
                self._idle_since, self._settled = self.clock(), False
        # other states (environment opening/closing) neither start nor cancel the debounce

        if prev is not None:
            notices += self._pause_transition(prev, status)
            notices += self._environment_transition(prev, status)
        self._note_closing(status)
        notices += self.poll()  # a zero delay settles at once
        return notices

    def poll(self) -> list[Notice]:
        """Notices that fell due by the clock alone (the queue-finished debounce)."""
        due = self.seconds_until_due()
        if due is None or due > 0:
            return []
        self._settled = True
        self._pause_expected_at = None  # the run is over; a requested pause never came
        if not self._queue_ran:
            return []
        self._queue_ran = False
        left = self._idle_items
        if left == 0:
            notice = Notice(Kind.QUEUE_FINISHED, "Queue finished",
                            "Every queued item has run; the manager is idle.", "info")
        elif left is None:
            notice = Notice(Kind.QUEUE_FINISHED, "Queue stopped",
                            "The queue is no longer running; the manager is idle.", "warning")
        else:
            plural = "s" if left != 1 else ""
            reason = self.stop_reason() if self.stop_reason is not None else None
            why = reason.text if reason is not None else "stopped, failed or halted"
            level = "warning"
            if reason is not None and reason.kind == "failed":
                level = "error"
            elif reason is not None and reason.requested:
                level = "info"
            notice = Notice(Kind.QUEUE_FINISHED, "Queue stopped",
                            f"The queue stopped with {left} item{plural} left; the manager is "
                            f"idle ({why}).", level)
        return self._emit([notice])

    def seconds_until_due(self) -> float | None:
        """When ``poll`` has something to decide (None: nothing pending)."""
        if self._idle_since is None or self._settled:
            return None
        return max(0.0, self._idle_since + self.queue_idle_delay - self.clock())

    # -- rules ------------------------------------------------------------------------------
    def _is_queue_run(self, status: Mapping[str, Any], items: int | None) -> bool:
        running = status.get("running_item_uid")
        if isinstance(running, str) and running in self._own_uids:
            return False  # this client's Execute now
        if self._idle_items is None or items is None:
            # Joined mid-run: nothing to compare with. An item we did not start is running; a
            # queue run is the likely case, and a wrong guess costs one extra notice.
            return isinstance(running, str) and bool(running)
        return items < self._idle_items

    def _pause_transition(self, prev: Mapping[str, Any], status: Mapping[str, Any]) -> list[Notice]:
        if not (_paused(status) and not _paused(prev)):
            return []
        if self._expected(self._pause_expected_at, self.pause_expect_timeout):
            self._pause_expected_at = None
            return []
        self._pause_expected_at = None
        uid = status.get("running_item_uid")
        which = f" (item {uid[:8]})" if isinstance(uid, str) and uid else ""
        return self._emit([Notice(
            Kind.UNEXPECTED_PAUSE, "Run paused",
            f"The Run Engine paused{which}, not at this client's request: another client, a "
            f"suspender or the plan. Resume, stop, abort or halt from the Run Engine menu.",
            "warning")])

    def _note_closing(self, status: Mapping[str, Any]) -> None:
        """Remember a close in progress until the environment is gone (or stays open)."""
        closing = _closing(status)
        if closing is not None:
            self._closing = closing
        elif status.get("worker_environment_exists") is True:
            self._closing = None  # still open and not closing: a close that did not happen
        elif status.get("worker_environment_exists") is False:
            self._closing = None

    def _environment_transition(self, prev: Mapping[str, Any],
                                status: Mapping[str, Any]) -> list[Notice]:
        if not (prev.get("worker_environment_exists") is True
                and status.get("worker_environment_exists") is False):
            return []
        expected = self._expected(self._close_expected_at, self.close_expect_timeout)
        self._close_expected_at = None
        requested = self._closing or _closing(prev) or _closing(status)
        self._closing = None
        if expected:
            return []
        if requested is not None:
            verb = "destroyed" if requested == "destroy" else "closed"
            return self._emit([Notice(
                Kind.ENVIRONMENT_CLOSED, f"Environment {verb}",
                f"The worker environment was {verb} on request, not from this client (another "
                f"client or a script). Open it again to continue.", "info")])
        return self._emit([Notice(
            Kind.ENVIRONMENT_CLOSED, "Environment gone",
            "The worker environment disappeared without a close request: the worker may have "
            "crashed or been killed. Open it again to continue.", "warning")])

    def _emit(self, notices: list[Notice]) -> list[Notice]:
        return [n for n in notices if n.kind in self.enabled]


def _closing(status: Mapping[str, Any]) -> str | None:
    """"close" / "destroy" while the status shows the environment being closed, else None."""
    state = status.get("manager_state")
    if state == "destroying_environment":
        return "destroy"
    if state == "closing_environment" or status.get("worker_environment_state") == "closing":
        return "close"
    return None


def _paused(status: Mapping[str, Any]) -> bool:
    return status.get("manager_state") == "paused" or status.get("re_state") == "paused"
