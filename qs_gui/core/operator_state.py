"""One readable state for the banner and the window title, derived from the status: Qt-free.

Why: the server's status is a dozen fields in server words (``executing_queue``,
``creating_environment``, ``queue_stop_pending``), and the operator across the room needs one
answer: *what is the instrument doing, and do I have to act?* :func:`derive` reduces the status,
the connection, the running item and this client's alarms to one :class:`OperatorState`: a
:class:`StateKind`, operator words, and one colour **role** per kind. The UI maps roles to
palette colours; no view picks a colour from a server enum.

The rules, and why:

* **Execute now is not the queue.** Both run as ``executing_queue``; an Execute-now item is told
  by the running item's ``properties.immediate_execution`` (``queue_get``) or by the tracker
  knowing its uid (this client started it). It is shown as such, never as "the queue".
* **Requested states are not alarms.** A queue stop pending or a deferred pause is "attention"
  (amber), as is paused; red ("alarm") is only for a failure the operator has not acknowledged.
* **Closed is not idle.** ``manager_state == "idle"`` without a worker environment is
  ENV_CLOSED ("off"), never a green "Idle".
* **Opening takes time**: ENV_OPENING carries the seconds since it was first seen
  (:class:`OperatorStateTracker` remembers when, with an injectable clock).
* **Locks are a flag, not a state**: a locked idle manager is still idle; ``locked`` and
  ``lock_text`` go beside the state, in neutral words.

:data:`WORDS` is the single table from server enums to operator words.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .formatting import WORDS, words
from .gates import Connection

__all__ = [
    "ROLES",
    "WORDS",
    "OperatorState",
    "OperatorStateTracker",
    "StateKind",
    "derive",
    "is_execute_now",
    "words",
]


class StateKind(str, enum.Enum):
    OFFLINE = "offline"
    STARTING_UP = "starting_up"  # manager initializing, or connected with no status yet
    ENV_CLOSED = "env_closed"
    ENV_OPENING = "env_opening"
    ENV_CLOSING = "env_closing"
    IDLE = "idle"
    RUNNING_QUEUE = "running_queue"
    RUNNING_EXECUTE_NOW = "running_execute_now"
    RUNNING_TASK = "running_task"
    STOPPING = "stopping"  # a queue stop or a deferred pause is pending
    PAUSED = "paused"
    FAILED = "failed"  # an item failed; until the operator acknowledges it


#: One colour role per kind: "ok" (green), "busy" (blue), "attention" (amber), "alarm" (red),
#: "off" (grey). The UI owns the actual colours (palette, dark mode).
ROLES: dict[StateKind, str] = {
    StateKind.OFFLINE: "off",
    StateKind.STARTING_UP: "busy",
    StateKind.ENV_CLOSED: "off",
    StateKind.ENV_OPENING: "busy",
    StateKind.ENV_CLOSING: "busy",
    StateKind.IDLE: "ok",
    StateKind.RUNNING_QUEUE: "busy",
    StateKind.RUNNING_EXECUTE_NOW: "busy",
    StateKind.RUNNING_TASK: "busy",
    StateKind.STOPPING: "attention",
    StateKind.PAUSED: "attention",
    StateKind.FAILED: "alarm",
}

@dataclass(frozen=True)
class OperatorState:
    """What the banner shows. ``headline`` is the large text, ``detail`` the line under it."""

    kind: StateKind
    headline: str
    detail: str = ""
    locked: bool = False
    lock_text: str = ""
    elapsed: float | None = None  # seconds in ENV_OPENING (None otherwise)

    @property
    def role(self) -> str:
        return ROLES[self.kind]

    def window_title(self, app: str = "qs-gui", where: str = "") -> str:
        """"Paused — resume, stop, abort or halt · LOCKED — qs-gui — localhost:60615": the
        state first, so a taskbar entry shows it even when truncated."""
        state = self.headline + (" · LOCKED" if self.locked else "")
        return " — ".join(p for p in (state, app, where) if p)


def _lock(status: Mapping[str, Any]) -> tuple[bool, str]:
    lock = status.get("lock")
    if not isinstance(lock, Mapping):
        return False, ""
    parts = [w for w, k in (("environment", "environment"), ("queue", "queue"))
             if lock.get(k) is True]  # fmt: skip
    if not parts:
        return False, ""
    return True, "Locked: " + " and ".join(parts) + " (a lock key is needed to change them)"


def is_execute_now(status: Mapping[str, Any], running_item: Mapping[str, Any] | None,
                    own_uids: Collection[str]) -> bool:  # fmt: skip
    uid = status.get("running_item_uid")
    if isinstance(uid, str) and uid in own_uids:
        return True
    if isinstance(running_item, Mapping) and running_item.get("item_uid") in (uid, None):
        props = running_item.get("properties")
        return isinstance(props, Mapping) and props.get("immediate_execution") is True
    return False


def _name(running_item: Mapping[str, Any] | None, status: Mapping[str, Any]) -> str:
    if isinstance(running_item, Mapping):
        uid = running_item.get("item_uid")
        name = running_item.get("name")
        if isinstance(name, str) and name and uid in (status.get("running_item_uid"), None):
            return name
    return "a plan"


def _count(n: Any, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def derive(
    status: Mapping[str, Any] | None,
    *,
    connection: Connection = Connection.CONNECTED,
    running_item: Mapping[str, Any] | None = None,
    own_uids: Collection[str] = (),
    failure: str | None = None,
    opening_elapsed: float | None = None,
) -> OperatorState:
    """The operator's state (see the module docstring).

    ``running_item``: the queue's ``running_item`` (for its name and Execute-now marker);
    ``own_uids``: uids this client executed (the tracker's); ``failure``: the unacknowledged
    failure to show ("scan failed: Plan failed: …"), which outranks everything but being
    offline; ``opening_elapsed``: seconds since the environment started opening.
    """
    if connection is Connection.OFFLINE:
        return OperatorState(StateKind.OFFLINE, "Offline", "Not connected to the RE Manager.")
    if connection is Connection.CONNECTING:
        return OperatorState(StateKind.OFFLINE, "Connecting…", "Waiting for the RE Manager.")
    if connection is Connection.NO_STATUS:
        return OperatorState(StateKind.OFFLINE, "Connected — no status",
                             "The RE Manager answers but sends no status; the last one is stale.")
    if not isinstance(status, Mapping):
        return OperatorState(StateKind.STARTING_UP, "Connected — no status yet",
                             "Waiting for the first status.")
    locked, lock_text = _lock(status)

    def state(kind: StateKind, headline: str, detail: str = "",
              elapsed: float | None = None) -> OperatorState:  # fmt: skip
        return OperatorState(kind, headline, detail, locked, lock_text, elapsed)

    m = status.get("manager_state")
    env = status.get("worker_environment_exists") is True
    left = status.get("items_in_queue")
    queued = f"{_count(left, 'item')} in the queue" if isinstance(left, int) else ""
    if failure:  # "<what failed>\n<why>": the first line is the headline
        what, _, why = failure.partition("\n")
        return state(StateKind.FAILED, what if why else "Failed — acknowledge to clear",
                     why or what)
    if m == "initializing":
        return state(StateKind.STARTING_UP, words(m), "The RE Manager is starting.")
    if m == "creating_environment":
        secs = f" ({int(opening_elapsed)} s)" if opening_elapsed is not None else ""
        return state(StateKind.ENV_OPENING, f"Opening environment{secs}",
                     "Loading the startup code; this can take a while.", opening_elapsed)
    if m in ("closing_environment", "destroying_environment"):
        return state(StateKind.ENV_CLOSING, words(m))
    if m == "paused" or status.get("re_state") == "paused":
        return state(StateKind.PAUSED, "Paused — resume, stop, abort or halt",
                     f"{_name(running_item, status)} is paused.")
    if m == "executing_task":
        return state(StateKind.RUNNING_TASK, "Running a task")
    if m in ("executing_queue", "starting_queue"):
        name = _name(running_item, status)
        if is_execute_now(status, running_item, own_uids):
            headline, detail = f"Running {name} (Execute now)", "The queue is not running."
            if status.get("pause_pending") is True:
                return state(StateKind.STOPPING, f"Pausing {name} (Execute now)",
                             "The plan pauses at its next checkpoint.")
            return state(StateKind.RUNNING_EXECUTE_NOW, headline, detail)
        if m == "starting_queue" and not status.get("running_item_uid"):
            return state(StateKind.RUNNING_QUEUE, "Starting the queue", queued)
        if status.get("pause_pending") is True:
            return state(StateKind.STOPPING, f"Pausing {name}",
                         "The plan pauses at its next checkpoint.")
        if status.get("queue_stop_pending") is True:
            return state(StateKind.STOPPING, f"Running {name} — queue stops after it",
                         "Stop requested: the queue stops when this item finishes.")
        return state(StateKind.RUNNING_QUEUE, f"Running {name} (queue)",
                     f"{queued} after it." if queued else "")
    if not env:
        return state(StateKind.ENV_CLOSED, "Environment closed",
                     "Open the environment to run plans.")
    return state(StateKind.IDLE, "Idle", f"Ready; {queued}." if queued else "Ready.")


class OperatorStateTracker:
    """:func:`derive` plus the memory it needs: since when the environment has been opening.

    Feed every status to :meth:`update`; call :meth:`current` again (e.g. once a second) while
    ``kind`` is ENV_OPENING so the elapsed time advances. The clock is injectable for tests.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._status: Mapping[str, Any] | None = None
        self._opening_since: float | None = None

    def update(self, status: Mapping[str, Any] | None) -> None:
        opening = isinstance(status, Mapping) and status.get(
            "manager_state") == "creating_environment"  # fmt: skip
        if not opening:
            self._opening_since = None
        elif self._opening_since is None:
            self._opening_since = self.clock()
        self._status = status

    def current(self, **kwargs: Any) -> OperatorState:
        """The state now; ``kwargs`` as for :func:`derive` (``connection``, ``failure``…)."""
        elapsed = None if self._opening_since is None else self.clock() - self._opening_since
        return derive(self._status, opening_elapsed=elapsed, **kwargs)
