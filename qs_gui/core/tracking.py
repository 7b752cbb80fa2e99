"""Follow an item started with Execute now until its outcome is in the history.

The reply to ``item_execute`` only means "started"; the operator wants to know how it ended. The
returned ``item_uid`` is watched in the status (``running_item_uid``) and then in the history,
whose last entries are searched from the end (new entries are appended there).

When the item stops running, the status alone says "ended" at once; the outcome comes with the
next history read. If the history is too large to be read automatically (``core/history_policy``)
the execution says so (``awaiting``): the result waits for a read the operator must allow.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .events import Event

FINAL_STATES = ("completed", "failed", "stopped", "aborted", "halted", "unknown")


@dataclass(frozen=True)
class Execution:
    """What is known about one executed item."""

    uid: str
    name: str
    state: str = "submitted"  # submitted -> running -> completed/failed/stopped/aborted/halted
    msg: str = ""
    traceback: str = ""
    item: Mapping[str, Any] = field(default_factory=dict)
    submitted_at: float = 0.0
    #: "ended" but the history holding the result is not read automatically: why (else "")
    awaiting: str = ""

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def ended(self) -> bool:
        """No longer running: finished, or ended with the result still to be read."""
        return self.state == "ended" or self.finished

    @property
    def waiting_text(self) -> str:
        """Plain words for an ended execution whose result is not read yet ("" otherwise)."""
        if self.state != "ended":
            return ""
        if self.awaiting:
            return (f"{self.name} finished; the result waits for a history read you must "
                    f"allow ({self.awaiting}).")
        return f"{self.name} finished; reading its result from the history."


class ExecutionTracker:
    """Tracks executions by uid; emits ``changed(Execution)`` on every state change."""

    def __init__(self, search_depth: int = 200):
        self._active: dict[str, Execution] = {}
        self._search_depth = search_depth
        self._withheld = ""  # why the history is not read automatically ("" when it is)
        self.last: Execution | None = None
        self.changed = Event("execution_changed")

    @property
    def active(self) -> list[Execution]:
        return list(self._active.values())

    def started(self, item: Mapping[str, Any]) -> Execution | None:
        uid = item.get("item_uid")
        if not isinstance(uid, str) or not uid:
            return None
        execution = Execution(uid=uid, name=str(item.get("name", "")), item=dict(item),
                              submitted_at=time.time())
        self._active[uid] = execution
        self._set(execution)
        return execution

    def _set(self, execution: Execution) -> None:
        self.last = execution
        if execution.finished:
            self._active.pop(execution.uid, None)
        else:
            self._active[execution.uid] = execution
        self.changed.emit(execution)

    def on_status(self, status: Mapping[str, Any]) -> None:
        running = status.get("running_item_uid")
        execution = self._active.get(running) if isinstance(running, str) else None
        if execution is not None and execution.state in ("submitted", "ended"):
            self._set(replace(execution, state="running", awaiting=""))
        if "running_item_uid" not in status:
            return  # a status that does not say what runs says nothing about an end
        for execution in list(self._active.values()):
            if execution.state == "running" and execution.uid != running:
                self._set(replace(execution, state="ended", awaiting=self._withheld))

    def history_withheld(self, reason: str | None) -> None:
        """The history is (reason) or is again (None) read automatically."""
        self._withheld = reason or ""
        for execution in list(self._active.values()):
            if execution.state == "ended" and execution.awaiting != self._withheld:
                self._set(replace(execution, awaiting=self._withheld))

    def on_history(self, items: Sequence[Mapping[str, Any]]) -> None:
        if not self._active:
            return
        for entry in reversed(items[-self._search_depth:]):
            uid = entry.get("item_uid")
            execution = self._active.get(uid) if isinstance(uid, str) else None
            if execution is None:
                continue
            result = entry.get("result") or {}
            state = result.get("exit_status") if isinstance(result, Mapping) else None
            if state not in FINAL_STATES:
                state = "unknown"
            self._set(replace(execution, state=state, msg=str(result.get("msg") or ""),
                              traceback=str(result.get("traceback") or ""), item=dict(entry)))
            if not self._active:
                return
