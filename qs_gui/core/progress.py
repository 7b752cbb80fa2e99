"""Progress of a running scan: fraction, ETA or elapsed time, and the text the status bar shows.

Kept apart from the buffers in ``liverun`` so the status-bar widget depends on a small, frozen
value object and can be tested with hand-made instances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def format_duration(seconds: float) -> str:
    """Short, stable text for a duration: '3 s', '2 min 05 s', '1 h 02 min'."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


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
            return f"{self.exit_status} · {seq} · {format_duration(self.elapsed)}"
        if self.num_points and self.eta is not None:
            return f"{seq} · ETA {format_duration(self.eta)}"
        return f"{seq} · {format_duration(self.elapsed)} elapsed"
