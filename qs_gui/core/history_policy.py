"""When to read the history: protect the serial RE Manager from full reads it cannot afford.

Why: ``history_get`` takes no range in RE Manager 0.0.25, so every ``plan_history_uid`` change
costs a full read, and the manager's event loop is blocked while it serves one (its items are
``json.loads``-ed one by one, then the reply is dumped whole). Measured here: 2.8–9.2 s per
100,000 items on a loaded 2-core machine (35–50 µs/item in docs/performance.md, 21–65 µs/item
for the 2.1–6.5 s in PRODUCT.md). The manager's watchdog (``start_manager.py``,
``_heartbeat_timeout = 5``) kills and restarts the manager when its loop is blocked for 5 s.

The policy predicts a read's server cost as ``items_in_history`` × the per-item cost measured on
earlier reads (an EWMA of reply time / items, from reads of at least :data:`MIN_ITEMS` items so
the fixed round trip does not inflate it). Before any read it assumes
:data:`DEFAULT_SECONDS_PER_ITEM` (60 µs: above the typical measurement, within the worst
one), and decides:

* **read**: cheap reads refresh on every uid change, as before;
* **wait**: costly reads are coalesced so this client keeps the server busy with history reads
  at most :data:`DUTY` (5 %) of wall time: a read costing *c* s is issued at most once per
  *c* / 0.05 s (five consoles together: ≤ 25 %);
* **withhold**: a read predicted above :data:`SAFETY_LIMIT` is never issued automatically; only
  :meth:`HistoryPolicy.load_now` (the operator's explicit choice) lets one through. Such a read
  teaches the per-item cost but does not hold back the automatic reads after it (after
  ``history_clear`` keeps the newest N, the small history shows at once).

Qt-free, with an injectable clock; the Fetcher asks it before each history read.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .formatting import format_duration

__all__ = ["DEFAULT_SECONDS_PER_ITEM", "DUTY", "Decision", "HistoryPolicy", "SAFETY_LIMIT",
           "Staleness", "Verdict", "staleness_text"]

#: assumed server cost per history item before any read was measured (seconds)
DEFAULT_SECONDS_PER_ITEM = 60e-6
#: the RE Manager's watchdog restarts a manager whose loop is blocked this long (seconds)
MANAGER_WATCHDOG = 5.0
#: Never read automatically when the predicted cost is above this (seconds). The prediction can
#: be off by ×2 on a loaded machine (the same 100k read took 2.8–9.2 s), and 2 × 2.0 s still
#: leaves a second under the manager's 5 s watchdog; other clients' reads add to the server's
#: load too, so the limit is well under half of it.
SAFETY_LIMIT = 2.0
#: the fraction of wall time this client may keep the server busy with history reads
DUTY = 0.05
#: reads smaller than this do not update the per-item estimate (the round trip dominates them)
MIN_ITEMS = 1000
#: weight of the newest measurement in the per-item EWMA
EWMA_WEIGHT = 0.3


class Verdict(str, enum.Enum):
    READ = "read"  #: read now
    WAIT = "wait"  #: read after ``Decision.delay`` seconds (coalesced)
    WITHHOLD = "withhold"  #: not read automatically; the operator may choose Load now


@dataclass(frozen=True)
class Decision:
    """What to do about the history now; ``reason`` in plain words (empty for READ)."""

    verdict: Verdict
    delay: float = 0.0
    reason: str = ""
    predicted: float = 0.0  #: predicted server seconds for the read


@dataclass(frozen=True)
class Staleness:
    """How far the shown history is behind the server."""

    changes_unread: int  #: plan_history_uid changes seen since the shown history was read
    since_read: float | None  #: seconds since the shown history was read (None: never read)
    items_on_server: int | None  #: items_in_history in the latest status

    @property
    def current(self) -> bool:
        return self.changes_unread == 0 and self.since_read is not None


def staleness_text(staleness: Staleness) -> str:
    """How old the shown history is, for the operator: "Not read yet." / "Shown as read 4 min
    12 s ago; it changed 3 times since." """
    if staleness.since_read is None:
        return "Not read yet: none of it is shown."
    text = f"Shown as read {format_duration(staleness.since_read, decimals=0)} ago"
    n = staleness.changes_unread
    if n:
        text += f"; it changed {'once' if n == 1 else f'{n:,} times'} since"
    return text + "."


class HistoryPolicy:
    """Decides when the history may be read (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 seconds_per_item: float = DEFAULT_SECONDS_PER_ITEM,
                 safety_limit: float = SAFETY_LIMIT, duty: float = DUTY) -> None:
        self.clock = clock
        self.seconds_per_item = seconds_per_item
        self.measured = False  #: the per-item cost comes from a read, not the default
        self.safety_limit = safety_limit
        self.duty = duty
        self._last_read_start: float | None = None
        self._last_cost = 0.0  # server seconds the last read took
        self._last_read_done: float | None = None
        self._shown_uid: Any = None
        self._server_uid: Any = None
        self._uids_unread: set[Any] = set()
        self._items: int | None = None
        self._allow_once = False
        self._chosen = False  # the read in progress was the operator's choice

    # -- prediction -------------------------------------------------------------------------
    def predict(self, items: int | None) -> float:
        """Predicted server seconds for reading ``items`` history items."""
        return max(0, items or 0) * self.seconds_per_item

    def record_read(self, items: int, seconds: float, *, started: float | None = None) -> None:
        """A read of ``items`` items took ``seconds`` (send to the reply's arrival over 0MQ;
        to the decoded reply elsewhere: an upper bound, so the estimate errs on the safe
        side)."""
        if items >= MIN_ITEMS and seconds > 0:
            sample = seconds / items
            self.seconds_per_item = sample if not self.measured else (
                EWMA_WEIGHT * sample + (1 - EWMA_WEIGHT) * self.seconds_per_item)
            self.measured = True
        self._last_read_done = self.clock()
        if self._chosen:  # the operator's read does not hold back the automatic ones
            self._chosen = False
            return
        self._last_cost = max(0.0, seconds)
        self._last_read_start = started if started is not None else self.clock() - seconds

    # -- what the server has ----------------------------------------------------------------
    def note_status(self, uid: Any, items: int | None) -> None:
        """The latest status's ``plan_history_uid`` and ``items_in_history``."""
        self._items = items
        if uid != self._server_uid:
            self._server_uid = uid
            if uid != self._shown_uid:
                self._uids_unread.add(uid)

    def shown(self, uid: Any) -> None:
        """The history with ``uid`` is now shown."""
        self._shown_uid = uid
        self._uids_unread.discard(uid)
        if uid == self._server_uid:
            self._uids_unread.clear()

    def reset(self) -> None:
        """A reconnect: the server may have restarted; nothing shown is known to be current."""
        self._shown_uid = None
        self._server_uid = None
        self._uids_unread.clear()

    @property
    def staleness(self) -> Staleness:
        done = self._last_read_done
        return Staleness(len(self._uids_unread),
                         None if done is None else self.clock() - done, self._items)

    # -- decisions --------------------------------------------------------------------------
    def load_now(self) -> None:
        """The operator chose to read the history now, whatever it costs: the next
        :meth:`decide` says READ once."""
        self._allow_once = True

    def decide(self, items: int | None = None) -> Decision:
        """May the history (``items`` items; default: the latest status's count) be read now?"""
        items = self._items if items is None else items
        cost = self.predict(items)
        if self._allow_once:
            return Decision(Verdict.READ, predicted=cost)
        if cost > self.safety_limit:
            return Decision(Verdict.WITHHOLD, predicted=cost, reason=self.withhold_reason(items))
        last = self._last_read_start
        interval = max(cost, self._last_cost) / self.duty
        wait = 0.0 if last is None else last + interval - self.clock()
        if wait > 0:
            return Decision(Verdict.WAIT, delay=wait, predicted=cost, reason=(
                f"the history has {_items(items)}; each read costs the RE Manager about "
                f"{_seconds(cost)}, so it is read at most every {_seconds(interval)} "
                f"(next in {_seconds(wait)})"))
        return Decision(Verdict.READ, predicted=cost)

    def too_costly(self, items: int | None = None) -> bool:
        """A read of ``items`` (default: the latest status's count) is never made without the
        operator's choice: not even to check what became of a request whose reply was lost."""
        return self.predict(self._items if items is None else items) > self.safety_limit

    def started(self) -> None:
        """A read was sent: a Load now permission is used up."""
        self._chosen, self._allow_once = self._allow_once, False

    def withhold_reason(self, items: int | None) -> str:
        cost = self.predict(items)
        return (f"the history has {_items(items or 0)}; reading it blocks the RE Manager for "
                f"about {_seconds(cost)}, and its watchdog restarts it after "
                f"{MANAGER_WATCHDOG:g} s")


def _items(n: int) -> str:
    return f"{n:,} item" if n == 1 else f"{n:,} items"


def _seconds(value: float) -> str:
    if value >= 10:
        return f"{value:.0f} s"
    if value >= 1:
        return f"{value:.1f} s".replace(".0 s", " s")
    return f"{value:.2f} s"
