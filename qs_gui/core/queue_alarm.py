"""Why the queue stopped, and an alarm for a failed queue item that stays until acknowledged.

Why: an unattended queue failure used to end as an amber toast "Queue stopped … (stopped,
failed or halted)" that vanished, while the failed item went back to the head of the queue
unmarked and a second Start ran it again. A failure seen only in the queue deserves what an
Execute-now failure gets: red, named, its message and traceback, visible until acknowledged, and
the requeued item marked.

How it is told, from what the client already receives (Qt-free; fed by the session):

* **Which items are queue items.** Every ``running_item_uid`` seen in a status is a queue item
  unless this client executed it (:meth:`QueueAlarmWatch.note_execute_now`, the tracker's uids),
  the queue's ``running_item`` carries ``properties.immediate_execution``, or it started without
  the queue giving up an item (``items_in_queue`` unchanged from the status before: another
  client's Execute now, too quick to be seen in a queue reply; the history has no marker).
* **The verdict comes from the history** (:meth:`on_history`): the entry with that uid has
  ``result.exit_status`` ``completed`` / ``stopped`` (re_stop: a success, not requeued) /
  ``failed`` / ``aborted`` / ``halted`` and, for a failure, ``msg`` and ``traceback``. A failed
  item raises the alarm even when the queue goes on (``ignore_failures`` mode).
* **Without the history** (too large to read automatically, or not read yet) the status alone
  still tells that the item went back: the server pushes a failed, aborted or halted item back to
  the front (re-manager-protocol.md, "Queue behaviour"), so ``items_in_queue`` is one more than
  while it ran. Then the alarm fires at once and says the detail is not read yet; the history,
  once read, fills in (or withdraws it, if the item in fact completed). Loop mode re-appends
  every item, so the count says nothing there and only the history decides. While the history
  is withheld (:meth:`QueueAlarmWatch.history_withheld`), the alarm says that its detail waits
  for a history read the operator must allow.
* **An item never seen running** (it failed within a status period, or the server publishes no
  status and a poll missed it) is judged by its history entry alone: a new entry (not in the
  first history read) that failed, aborted or halted is a queue item only when its copy, with the
  same ``result``, is back at the front; :attr:`QueueAlarmWatch.awaiting_front` asks a
  status-only session to read the queue for it.
* **The requeued item has a new uid** (``set_new_item_uuid`` in the server's
  ``_set_processed_item_as_stopped``) but carries the history's ``result``; it is recognised in
  the queue (:meth:`on_queue`) by that result, or by being an equal item at the front.
* **Requested or not.** A stop the operator asked for (``queue_stop_pending`` seen, or
  :meth:`expect` told of a queue_stop / re_stop / re_abort / re_halt sent from here) is said so;
  an abort or halt nobody here asked for is said to come from elsewhere.

:meth:`stop_reason` gives the words for the "Queue stopped" notice of ``notify_rules``
(``NotifyRules(stop_reason=watch.stop_reason)``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .item_helpers import clean_item

__all__ = ["QueueAlarm", "QueueAlarmWatch", "StopReason"]

_RUNNING = ("executing_queue", "starting_queue")
_REQUEUED = ("failed", "aborted", "halted")
_REQUESTS = ("queue_stop", "re_stop", "re_abort", "re_halt")


@dataclass(frozen=True)
class StopReason:
    """Why the last queue run ended: ``kind`` is "finished", "stop_requested", "plan_stopped",
    "failed", "aborted", "halted", "stop_instruction" or "unknown"; ``text`` in plain words."""

    kind: str
    text: str
    requested: bool = False  # the operator (this client) asked for it


@dataclass(frozen=True)
class QueueAlarm:
    """A queue item that did not complete, until :meth:`QueueAlarmWatch.acknowledge`.

    ``exit_status`` is "" while the history is not read (``detail_read`` False).
    ``requeued_uid`` is the uid of the item the server put back at the front, once seen.
    """

    name: str
    uid: str  # the uid it ran with (the history entry's)
    exit_status: str = ""
    msg: str = ""
    traceback: str = ""
    detail_read: bool = False
    requested: bool = False  # an abort/halt sent from this client
    requeued_uid: str | None = None
    item: Mapping[str, Any] | None = None  # the item as it ran, when known
    waits_for: str = ""  # why the history is not read automatically ("" when it is)

    @property
    def level(self) -> str:
        """"error" for a failure (or an unread verdict), "warning" for a requested abort/halt."""
        return "warning" if self.requested else "error"

    @property
    def title(self) -> str:
        what = {"failed": "failed", "aborted": "was aborted", "halted": "was halted"}.get(
            self.exit_status, "did not complete")  # fmt: skip
        return f"Queue stopped: {self.name} {what}"

    @property
    def text(self) -> str:
        if not self.detail_read:
            text = (f"{self.name} went back to the front of the queue (failed, aborted or "
                    f"halted). ")
            if self.waits_for:
                return text + (f"The detail waits for a history read you must allow "
                               f"({self.waits_for}).")
            return text + "The detail is not read yet: the history has not been loaded."
        first = self.msg.strip().splitlines()[0] if self.msg.strip() else ""
        why = first or "The server gave no message."
        why += "" if why.endswith((".", "!", "?")) else "."
        tail = " The traceback is in the History." if self.traceback.strip() else ""
        back = " It is back at the front of the queue, marked as failed; Start runs it again."
        if self.exit_status == "failed":
            return why + tail + back
        who = "from this client" if self.requested else "not from this client"
        return f"{why[:-1]} ({self.exit_status} {who}).{back}"


class QueueAlarmWatch:
    """Fed with statuses, history and queue updates; keeps the unacknowledged alarm."""

    def __init__(self, search_depth: int = 200) -> None:
        self.search_depth = search_depth
        self.alarm: QueueAlarm | None = None
        self.last_stop: StopReason | None = None
        self._own: deque[str] = deque(maxlen=200)  # Execute-now uids
        self._queue_uids: deque[str] = deque(maxlen=200)  # uids seen running as queue items
        self._judged: deque[str] = deque(maxlen=200)  # history verdicts already taken
        self._items: dict[str, Mapping[str, Any]] = {}  # uid -> item as it ran
        self._running: str | None = None
        self._count_while_running: int | None = None
        self._requested: set[str] = set()
        self._prev_state: Any = None
        self._last_count: int | None = None  # items_in_queue in the previous status
        self._uncertain: deque[str] = deque(maxlen=200)  # maybe Execute now (see on_status)
        self._front: list[Mapping[str, Any]] = []  # the first queued items of the last reply
        self._pending: dict[str, Mapping[str, Any]] = {}  # uncertain uid -> its history entry
        self._withheld = ""  # why the history is not read automatically
        self._history_read = False  # a first history read was taken as the baseline
        self._old: set[str] = set()  # uids of the newest entries of that first read
        self._unseen: set[str] = set()  # pending uids never seen running: need their copy

    # -- what this client did -------------------------------------------------------------------
    def note_execute_now(self, uid: str) -> None:
        """``uid`` was started with Execute now here: it is not a queue item."""
        if uid not in self._own:
            self._own.append(uid)

    def expect(self, request: str) -> None:
        """This client sent ``request`` ("queue_stop", "re_stop", "re_abort", "re_halt")."""
        if request in _REQUESTS:
            self._requested.add(request)

    def history_withheld(self, reason: str | None) -> bool:
        """The history is (reason) or is again (None) read automatically; True when the alarm's
        words changed."""
        self._withheld = reason or ""
        alarm = self.alarm
        if alarm is None or alarm.detail_read or alarm.waits_for == self._withheld:
            return False
        self.alarm = replace(alarm, waits_for=self._withheld)
        return True

    def acknowledge(self) -> None:
        """The operator saw the alarm: it stops being shown (the history keeps the record)."""
        self.alarm = None

    @property
    def failed_uid(self) -> str | None:
        """The queue item to mark as the one that failed (None until it is seen)."""
        return self.alarm.requeued_uid if self.alarm is not None else None

    # -- inputs ---------------------------------------------------------------------------------
    def on_status(self, status: Mapping[str, Any]) -> bool:
        """A status snapshot; True when the alarm changed (a new one fired)."""
        state = status.get("manager_state")
        running = status.get("running_item_uid")
        count = status.get("items_in_queue")
        count = count if isinstance(count, int) and not isinstance(count, bool) else None
        changed = False
        before, self._last_count = self._last_count, count
        if isinstance(running, str) and running and running not in self._own and \
                running != self._running and before is not None and count == before:
            # The queue gives up its front item when it starts one; an Execute-now item (this
            # client's or another's) leaves the count as it was — as does an item added and
            # started between two statuses. Uncertain: only a requeued copy makes it an alarm.
            self._uncertain.append(running)
        if isinstance(running, str) and running and running not in self._own:
            if running != self._running:
                self._running = running
                if running not in self._queue_uids:
                    self._queue_uids.append(running)
                    self.last_stop = None  # a new item runs: the last reason is stale
                    if self._prev_state not in _RUNNING:  # a new run: an old stop request is
                        self._requested.discard("queue_stop")  # spent
            self._count_while_running = count
        elif self._running is not None and state != "paused":
            changed = self._item_ended(status, count)
        if status.get("queue_stop_pending") is True:
            self._requested.add("queue_stop")
        self._prev_state = state
        return changed

    def _item_ended(self, status: Mapping[str, Any], count: int | None) -> bool:
        """The queue item that ran is no longer running: did it go back to the queue?"""
        uid, before = self._running or "", self._count_while_running
        self._running, self._count_while_running = None, None
        mode = status.get("plan_queue_mode")
        loop = isinstance(mode, Mapping) and mode.get("loop") is True
        if loop or uid in self._uncertain or uid in self._judged or count is None \
                or before is None or count != before + 1:
            return False
        item = self._items.get(uid)
        requested = bool(self._requested & {"re_abort", "re_halt"})
        self.alarm = QueueAlarm(_name(item), uid, requested=requested, item=item,
                                waits_for=self._withheld)
        self.last_stop = StopReason("unknown", f"{_name(item)} did not complete and went back to "
                                               f"the queue (history not read yet)")  # fmt: skip
        return True

    def on_queue(self, items: Sequence[Mapping[str, Any]],
                 running_item: Mapping[str, Any] | None = None) -> bool:  # fmt: skip
        """A queue reply: remembers the running item's content (and whether it is an
        Execute-now item); marks the requeued failed item. True when the mark changed."""
        if isinstance(running_item, Mapping):
            uid = running_item.get("item_uid")
            if isinstance(uid, str) and uid:
                props = running_item.get("properties")
                if isinstance(props, Mapping) and props.get("immediate_execution") is True:
                    self.note_execute_now(uid)
                else:
                    self._items[uid] = dict(running_item)
                    while len(self._items) > 200:
                        del self._items[next(iter(self._items))]
        self._front = [dict(i) for i in items[:5]]
        changed = self._confirm_uncertain()
        alarm = self.alarm
        if alarm is None or alarm.requeued_uid is not None:
            return changed
        found = _find_requeued(alarm, items)
        if found is None:
            return False
        self.alarm = replace(alarm, requeued_uid=found)
        return True

    def on_history(self, items: Sequence[Mapping[str, Any]]) -> bool:
        """History items (the newest last); True when the alarm changed."""
        changed = False
        recent = items[-self.search_depth:]
        if not self._history_read:
            self._history_read = True
            self._old = {e.get("item_uid") for e in recent if isinstance(e, Mapping)}
        for entry in recent:
            uid = entry.get("item_uid")
            if not isinstance(uid, str) or uid in self._judged:
                continue
            if uid not in self._queue_uids:
                self._note_unseen(uid, entry)
                continue
            if uid in self._uncertain:
                self._pending[uid] = entry  # decided by the queue: requeued or not
                continue
            self._judged.append(uid)
            changed = self._verdict(uid, entry) or changed
        return self._confirm_uncertain() or changed

    def _note_unseen(self, uid: str, entry: Mapping[str, Any]) -> None:
        """A new history entry this watch never saw running (nor started here): pending until
        the queue shows whether its copy went back to the front."""
        if uid in self._old or uid in self._own or uid in self._pending:
            return
        result = entry.get("result")
        if isinstance(result, Mapping) and result.get("exit_status") in _REQUEUED:
            self._pending[uid] = entry
            self._unseen.add(uid)

    @property
    def awaiting_front(self) -> bool:
        """A failed item never seen running waits for a queue read to tell whether it was a
        queue item (its copy back at the front) or another client's Execute now."""
        return bool(self._unseen & self._pending.keys())

    def _confirm_uncertain(self) -> bool:
        """An uncertain item that failed is a queue item when its copy is back at the front
        (an Execute-now item never goes back to the queue)."""
        changed = False
        for uid, entry in list(self._pending.items()):
            result = entry.get("result")
            status = result.get("exit_status") if isinstance(result, Mapping) else None
            if status not in _REQUEUED:
                del self._pending[uid]
                continue
            probe = QueueAlarm(_name(entry), uid, item=entry)
            found = _find_requeued(probe, self._front, strict=uid in self._unseen)
            if found is None:
                continue
            del self._pending[uid]
            self._unseen.discard(uid)
            self._judged.append(uid)
            if self._verdict(uid, entry):
                self.alarm = replace(self.alarm, requeued_uid=found)
                changed = True
        while len(self._pending) > 20:
            self._unseen.discard(next(iter(self._pending)))
            del self._pending[next(iter(self._pending))]
        self._unseen &= self._pending.keys()
        return changed

    def _verdict(self, uid: str, entry: Mapping[str, Any]) -> bool:
        result = entry.get("result")
        result = result if isinstance(result, Mapping) else {}
        status = result.get("exit_status")
        name = _name(entry)
        requested = bool({"aborted": "re_abort", "halted": "re_halt", "stopped": "re_stop"}.get(
            str(status)) in self._requested)  # fmt: skip
        if status in _REQUEUED:
            previous = self.alarm if self.alarm is not None and self.alarm.uid == uid else None
            self.alarm = QueueAlarm(
                name, uid, str(status), str(result.get("msg") or ""),
                str(result.get("traceback") or ""), True, requested and status != "failed",
                previous.requeued_uid if previous else None, dict(entry))
            self._requested -= {"re_abort", "re_halt"}
            text = {"failed": f"{name} failed", "aborted": f"{name} was aborted",
                    "halted": f"{name} was halted"}[str(status)]  # fmt: skip
            if status != "failed":
                text += " (requested here)" if requested else " (not requested here)"
            self.last_stop = StopReason(str(status), text, requested)
            return True
        withdrawn = self.alarm is not None and self.alarm.uid == uid  # it completed after all
        if withdrawn:
            self.alarm = None
        if status == "stopped":
            self._requested.discard("re_stop")
            self.last_stop = StopReason("plan_stopped", f"{name} was stopped"
                                        + (" as requested" if requested else ""), requested)
        elif "queue_stop" in self._requested:
            self.last_stop = StopReason("stop_requested", "the operator asked the queue to stop",
                                        True)  # fmt: skip
        else:
            self.last_stop = StopReason("finished", f"{name} completed")
        return withdrawn

    def stop_reason(self) -> StopReason | None:
        """Why the last queue run stopped, as far as known (for the "Queue stopped" notice):
        None when nothing is known; "finished" when the last item completed without a stop
        request (a queue_stop item, or another client's stop)."""
        reason = self.last_stop
        if reason is not None and reason.kind == "finished":
            return StopReason("stop_instruction", f"{reason.text}; then a queue_stop item or "
                                                  f"another client stopped the queue")  # fmt: skip
        return reason


def _name(item: Mapping[str, Any] | None) -> str:
    name = item.get("name") if isinstance(item, Mapping) else None
    return name if isinstance(name, str) and name else "the queue item"


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return clean_item(a) == clean_item(b)


def _find_requeued(alarm: QueueAlarm, items: Sequence[Mapping[str, Any]], *,
                   strict: bool = False) -> str | None:  # fmt: skip
    """The requeued copy: at the front (other clients may have added before it since), with
    the failed run's ``result``, or an equal item when the result is not known (``strict``:
    only with the same ``result``, for an item never seen running)."""
    for queued in items[:5]:
        uid = queued.get("item_uid")
        if not isinstance(uid, str) or uid == alarm.uid:
            continue
        result = queued.get("result")
        ran = alarm.item.get("result") if isinstance(alarm.item, Mapping) else None
        if isinstance(result, Mapping) and isinstance(ran, Mapping):
            if result.get("time_start") == ran.get("time_start") and _same(queued, alarm.item):
                return uid
        elif strict:
            continue
        elif isinstance(result, Mapping) and result.get("exit_status") in _REQUEUED:
            if alarm.item is None or _same(queued, alarm.item):
                return uid
        elif alarm.item is not None and _same(queued, alarm.item):
            return uid
    return None
