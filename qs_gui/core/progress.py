"""Progress of a running scan: fraction, ETA or elapsed time, and the text the status bar shows.

Kept apart from the buffers in ``liverun``: the status-bar widget depends only on a small,
frozen value object (testable with hand-made instances), and the arithmetic lives in one place.

Clocks: elapsed time and "time since the last event" use the local monotonic clock (the server's
wall clock may be skewed against ours); the event *rate* uses the documents' own timestamps, which
are all from the one RunEngine and unaffected by batching on the way here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .formatting import format_duration


@dataclass(frozen=True)
class Progress:
    """A snapshot of one run's progress (immutable, so widgets can compare snapshots)."""

    run_uid: str
    scan_id: int | None
    plan_name: str
    seq_num: int  # last sequence number seen in the plotted stream (0 before any event)
    num_points: int | None  # from the start document, if the plan declared it
    elapsed: float  # seconds since the start document arrived (until the stop document)
    eta: float | None  # seconds left, estimated from the event rate; None when unknown
    exit_status: str | None = None  # None while the run is open

    @property
    def done(self) -> bool:
        return self.exit_status is not None

    @property
    def fraction(self) -> float | None:
        """seq_num / num_points in [0, 1]; None when num_points is unknown."""
        if not self.num_points or self.num_points <= 0:
            return None
        return min(1.0, max(0.0, self.seq_num / self.num_points))

    @property
    def run_label(self) -> str:
        scan = f"scan {self.scan_id}" if self.scan_id is not None else "run"
        return f"{scan} ({self.plan_name})" if self.plan_name else scan

    def text(self) -> str:
        """'seq 7/10 · ETA 3 s' while running; 'seq 7 · 12 s elapsed' without num_points;
        '<exit status> · seq 10/10 · 4 s' when done."""
        seq = f"seq {self.seq_num}/{self.num_points}" if self.num_points else f"seq {self.seq_num}"
        if self.done:
            return f"{self.exit_status} · {seq} · {_seconds(self.elapsed)}"
        if self.num_points and self.eta is not None:
            return f"{seq} · ETA {_seconds(self.eta)}"
        return f"{seq} · {_seconds(self.elapsed)} elapsed"


def _finite(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _seq(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class ProgressTracker:
    """Follows one run's events and stop; ``snapshot`` turns that into a :class:`Progress`."""

    def __init__(self, uid: str, scan_id: int | None, plan_name: str, num_points: int | None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.uid, self.scan_id, self.plan_name = uid, scan_id, plan_name
        self.num_points = num_points
        self.last_seq = 0
        self.exit_status: str | None = None
        self._clock = clock
        self._t_start = clock()
        self._t_stop: float | None = None
        self._t_last_event: float | None = None
        self._origin: tuple[float, int] | None = None  # (doc time, seq_num) of the first event
        self._last: tuple[float, int] | None = None

    def events(self, count: int, first_seq: Any, first_t: Any, last_seq: Any,
               last_t: Any) -> None:  # fmt: skip
        """``count`` more events arrived; seq_num/time of the first and last of them."""
        self._t_last_event = self._clock()
        seq = _seq(last_seq)
        self.last_seq = max(self.last_seq, seq) if seq is not None else self.last_seq + count
        t1 = _finite(last_t)
        if t1 is None:
            return
        if self._origin is None:
            t0, s0 = _finite(first_t), _seq(first_seq)
            self._origin = (t1 if t0 is None else t0,
                            self.last_seq - count + 1 if s0 is None else s0)  # fmt: skip
        self._last = (t1, self.last_seq)

    def stop(self, exit_status: str) -> None:
        self.exit_status = exit_status
        self._t_stop = self._clock()

    def rate(self) -> float | None:
        """Events per second, from the documents' timestamps (None until two events)."""
        if self._origin is None or self._last is None:
            return None
        dt, dn = self._last[0] - self._origin[0], self._last[1] - self._origin[1]
        return dn / dt if dt > 0 and dn > 0 else None

    def snapshot(self, now: float | None = None) -> Progress:
        now = self._clock() if now is None else now
        end = self._t_stop if self._t_stop is not None else now
        eta = None
        if self.num_points and self.exit_status is None:
            remaining = max(0, self.num_points - self.last_seq)
            rate = self.rate()
            if remaining == 0:
                eta = 0.0
            elif rate:  # counts down between events
                eta = max(0.0, remaining / rate - (now - (self._t_last_event or now)))
        return Progress(run_uid=self.uid, scan_id=self.scan_id, plan_name=self.plan_name,
                        seq_num=self.last_seq, num_points=self.num_points,
                        elapsed=max(0.0, end - self._t_start), eta=eta,
                        exit_status=self.exit_status)  # fmt: skip


def _seconds(seconds: float) -> str:
    """Whole seconds under a minute (the line ticks once a second); "?" when unknown."""
    return format_duration(seconds, decimals=0) or "?"
