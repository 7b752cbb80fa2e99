"""How durations read everywhere in the window: one renderer, so the history's "Duration", the
progress widget's elapsed time and its ETA never disagree on the same number."""

from __future__ import annotations

import math


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
