"""Busy or gone? Judging a silent RE Manager without crying wolf.

Why: the RE Manager answers requests one at a time and its event loop is blocked while it
serves a large read (a 100,000-item ``history_get`` takes it 3–9 s, its own or another
client's); status pushes stop too while the loop is blocked. A status poll that times out then
says nothing about the address or the CURVE key: the server is busy. But a killed server looks
the same at first, and must still be reported within seconds.

The way out is how long the server *could* plausibly be busy: the predicted cost of the largest
read anyone could be making (``items_in_history`` × the measured per-item cost, see
``core/history_policy``) and the slowest reply seen recently. A silence shorter than that
(:func:`busy_grace`) is "busy", shown as a detail while the indicator stays Connected; longer,
or with nothing large on the server (grace 0: the small servers of the reliability suite), it is
lost contact, as fast as before. With pushes stopped only a read that blocks the loop explains
the silence, and the grace never exceeds :data:`SILENT_CEILING`: the manager's own watchdog
restarts a loop blocked for 5 s, so a longer silence is not a busy server. Pushes arriving
prove the loop runs; then only a reply missing for far longer than the slowest recent one (×3,
up to :data:`PUSHING_CEILING`) is lost contact.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .history_policy import HistoryPolicy

__all__ = ["PUSHING_CEILING", "SILENT_CEILING", "SLOW_OPERATION", "BusyJudge", "ReplyLog",
           "busy_grace", "describe_silence", "describe_wait"]

#: The longest a busy, live manager stays silent: its loop is blocked at most 5 s (its watchdog,
#: ``_heartbeat_timeout = 5``, restarts it then), the last push may precede the block by up to
#: its 1 s push period, and the large reply still has to travel and be read by a loaded client:
#: 6 s had no room for the last two. Measured with a 100k history read by another client: 3.0–3.7
#: s of silence, up to 5.6 s when that client shared the session's (GIL-bound) process.
SILENT_CEILING = 7.0
#: with pushes arriving (the loop runs), the longest wait for a reply before it is lost contact
PUSHING_CEILING = 30.0
#: predicted server work below this cannot explain a silence worth waiting for (seconds)
SLOW_OPERATION = 0.25
#: replies older than this no longer count as "recent" (seconds)
RECENT = 300.0

_WHAT = {"history_get": "history", "queue_get": "queue"}


@dataclass(frozen=True)
class Reply:
    method: str
    seconds: float
    at: float


class ReplyLog:
    """Recent answered requests of this client (method, duration), fed by the API's
    ``reply_observers``: the slowest recent one bounds how long the server may be silent."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, size: int = 32) -> None:
        self.clock = clock
        self._replies: deque[Reply] = deque(maxlen=size)
        self.last_at: float | None = None
        self.count = 0  #: replies recorded so far (tells a caller whether a request was sent)

    def record(self, method: str, seconds: float) -> None:
        now = self.clock()
        self._replies.append(Reply(method, max(0.0, seconds), now))
        self.last_at = now
        self.count += 1

    def slowest(self) -> float:
        """The slowest reply of the last :data:`RECENT` seconds (0 when none)."""
        horizon = self.clock() - RECENT
        return max((r.seconds for r in self._replies if r.at >= horizon), default=0.0)

    def last(self, method: str) -> Reply | None:
        for reply in reversed(self._replies):
            if reply.method == method:
                return reply
        return None


class BusyJudge:
    """What the server could be busy with, from the latest status, the history policy's
    per-item cost and this client's recent replies."""

    def __init__(self, policy: HistoryPolicy, replies: ReplyLog) -> None:
        self.policy = policy
        self.replies = replies

    def expected_block(self, status: Mapping[str, Any] | None) -> float:
        """Predicted server seconds of the largest read anyone could be making now."""
        history, queue = _count(status, "items_in_history"), _count(status, "items_in_queue")
        return max(self.policy.predict(history), self.policy.seconds_per_item * (queue or 0))

    def grace(self, status: Mapping[str, Any] | None, *, pushes_alive: bool) -> float:
        """How long a silence may be a busy server rather than a lost one (0: it cannot)."""
        return busy_grace(self.expected_block(status), self.replies.slowest(),
                          pushes_alive=pushes_alive)

    def silence_text(self, status: Mapping[str, Any] | None, silence: float) -> str:
        items = _count(status, "items_in_history")
        return describe_silence(silence, items, self.policy.predict(items))

    def wait_text(self, status: Mapping[str, Any] | None, method: str, waited: float) -> str:
        key = "items_in_history" if method == "history_get" else "items_in_queue"
        return describe_wait(method, _count(status, key), waited)


def _count(status: Mapping[str, Any] | None, key: str) -> int | None:
    value = (status or {}).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


def busy_grace(expected_block: float, slowest_reply: float, *, pushes_alive: bool) -> float:
    """How long a silence may be explained by a busy server (0: it cannot be).

    Pushes stopped too: only a read that blocks the manager's loop explains it, and the counts
    predict those (``expected_block``, ×2 for a loaded machine). Pushes arriving: the loop runs,
    and a reply may be as slow as the slowest recent one (×3) or such a read.
    """
    slowest = slowest_reply if pushes_alive else 0.0
    if max(expected_block, slowest) < SLOW_OPERATION:
        return 0.0
    ceiling = PUSHING_CEILING if pushes_alive else SILENT_CEILING
    return min(ceiling, max(2.0 * expected_block, 3.0 * slowest))


def describe_wait(method: str, items: int | None, waited: float) -> str:
    """"RE Manager is serving the 100,000-item history (3.4 s so far)"."""
    what = _WHAT.get(method)
    if what and isinstance(items, int) and items > 0:
        subject = f"the {items:,}-item {what}"
    elif what:
        subject = f"the {what}"
    else:
        subject = f"a {method} request"
    return f"RE Manager is serving {subject} ({waited:.1f} s so far)"


def describe_silence(silence: float, items_in_history: int | None,
                     history_cost: float) -> str:
    """The busy detail while the server answers nothing, yet may just be busy."""
    text = (f"RE Manager has not answered for {silence:.1f} s; it answers one request at a "
            f"time and is probably serving a large request (perhaps another client's)")
    if isinstance(items_in_history, int) and history_cost >= SLOW_OPERATION:
        text += (f": reading its {items_in_history:,}-item history takes it about "
                 f"{history_cost:.1f} s")
    return text
