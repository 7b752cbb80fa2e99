"""How durations read everywhere in the window: one renderer, so the history's "Duration", the
progress widget's elapsed time and its ETA never disagree on the same number."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any


def count(n: int, noun: str, plural: str | None = None) -> str:
    """"1 item", "3 items": a count with its noun in the right number."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def format_duration(seconds: float | None, *, decimals: int = 1) -> str:
    """``4.2 s`` (``decimals`` places under a minute), ``3 min 05 s``, ``2 h 07 min``,
    ``2 d 01 h``; "" for unknown or negative."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    if round(seconds, decimals) < 60:
        return f"{seconds:.{decimals}f} s"
    total = int(round(seconds))
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    if total < 86400:
        return f"{total // 3600} h {total % 3600 // 60:02d} min"
    return f"{total // 86400} d {total % 86400 // 3600:02d} h"


#: Server enums -> operator words (manager_state, re_state, worker_environment_state, exit_status).
WORDS: dict[str, str] = {
    # manager_state
    "initializing": "Starting up",
    "idle": "Idle",
    "paused": "Paused",
    "creating_environment": "Opening environment",
    "starting_queue": "Starting",
    "executing_queue": "Running",
    "executing_task": "Running a task",
    "closing_environment": "Closing environment",
    "destroying_environment": "Destroying environment",
    # re_state (Run Engine)
    "running": "Running",
    "panicked": "Run Engine panicked",
    # worker_environment_state
    "closed": "Environment closed",
    "reserved": "Reserved",
    "executing_plan": "Running a plan",
    "closing": "Closing",
    # exit_status of a history item
    "completed": "Completed",
    "failed": "Failed",
    "stopped": "Stopped (requested)",
    "aborted": "Aborted",
    "halted": "Halted",
    "unknown": "Outcome unknown",
}


def words(value: Any) -> str:
    """Operator words for a server enum; an unknown one is shown capitalised, never raw."""
    if not isinstance(value, str) or not value:
        return "—"
    return WORDS.get(value) or value.replace("_", " ").capitalize()


def lock_time(info: Mapping[str, Any] | None) -> str | None:
    """When a lock was set, ISO like the rest of the window (the server's ``time_str`` is
    month-first); ``time_str`` only when there is no ``time``."""
    if not isinstance(info, Mapping):
        return None
    stamp = info.get("time")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        try:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))
        except (OverflowError, OSError, ValueError):
            pass
    text = info.get("time_str")
    return text if isinstance(text, str) and text else None
