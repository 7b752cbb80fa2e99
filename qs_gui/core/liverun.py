"""bluesky documents -> per-run numpy buffers for live plots, progress and CSV export (no Qt).

What is plotted follows the start document's hints, like bluesky's BestEffortCallback:
x is the first scanned motor field of ``hints.dimensions`` that the stream carries, else
``seq_num`` (a running count where an event lacks it); ``x_mode="time"`` plots against the
time since the start instead. y are the hinted fields of the run's detectors (descriptor
``hints``, falling back to ``object_keys``), limited to scalar numeric data keys. Only the stream
the dimensions name (usually "primary") is plotted.

Buffers are preallocated numpy arrays that double when full, so appending is amortised O(1)
and a plot can be handed a view of the filled part without copying. ``LiveRun.revision`` moves
on every change so a timer-paced view can update only the curves whose data changed.

Documents come from the network: ``LiveRuns.feed`` never raises. Unusable documents are counted
(``rejected``), documents of unknown runs (``orphans``) and kinds we do not plot (``ignored``).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .progress import Progress, ProgressTracker

logger = logging.getLogger(__name__)

X_MODES = ("auto", "seq_num", "time")
_NUMERIC_DTYPES = ("number", "integer", "boolean")
_MAX_FALLBACK_FIELDS = 8
_INITIAL_CAPACITY = 64


def _number(value: Any) -> float:
    """A float for plotting; NaN for anything that is not a real number."""
    if isinstance(value, (bool, int, float, np.number, np.bool_)):
        try:
            return float(value)
        except (OverflowError, TypeError, ValueError):
            return math.nan
    return math.nan


def _floats(values: Any, n: int) -> np.ndarray:
    """``n`` floats from an event_page column; NaN where values are missing or not numbers."""
    if isinstance(values, (list, tuple)) and len(values) == n:
        try:
            out = np.asarray(values, dtype=np.float64)
            if out.shape == (n,):
                return out
        except (TypeError, ValueError, OverflowError):
            pass
        return np.fromiter((_number(v) for v in values), dtype=np.float64, count=n)
    return np.full(n, math.nan)


def _scalar_numeric(data_keys: Mapping[str, Any], field: str) -> bool:
    info = data_keys.get(field)
    if not isinstance(info, Mapping) or info.get("dtype") not in _NUMERIC_DTYPES:
        return False
    shape = info.get("shape", [])
    return shape in ([], (), None)


def _str_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


class LiveRun:
    """One run: metadata from its start document and growable arrays per plotted field."""

    def __init__(self, start: Mapping[str, Any], *, x_mode: str = "auto",
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.uid: str = str(start["uid"])
        scan_id = start.get("scan_id")
        self.scan_id: int | None = scan_id if isinstance(scan_id, int) else None
        self.plan_name: str = str(start.get("plan_name") or "")
        num_points = start.get("num_points")
        self.num_points: int | None = (num_points if isinstance(num_points, int)
                                       and not isinstance(num_points, bool) and num_points > 0
                                       else None)  # fmt: skip
        self.start_time: float = _number(start.get("time"))
        self._t0 = self.start_time if math.isfinite(self.start_time) else 0.0  # x = time - _t0
        self.detectors: list[str] = _str_list(start.get("detectors"))
        self.stream, self.motors = self._dimensions(start.get("hints"))
        self.x_mode = x_mode
        self.x_field: str = "time" if x_mode == "time" else "seq_num"
        self.y_fields: list[str] = []
        self.descriptors: set[str] = set()
        self.revision = 0
        self.tracker = ProgressTracker(self.uid, self.scan_id, self.plan_name, self.num_points,
                                       clock)  # fmt: skip
        self._n = 0
        self._bounds = [math.inf, -math.inf, math.inf, -math.inf]  # x0, x1, y0, y1 (finite)
        self._bounds_upto = 0  # rows already folded into _bounds and the x order
        self._x_last = math.nan  # last finite x folded
        self._x_up = self._x_down = True  # x non-decreasing / non-increasing so far
        self._x = np.empty(_INITIAL_CAPACITY)
        self._y: dict[str, np.ndarray] = {}

    @staticmethod
    def _dimensions(hints: Any) -> tuple[str, list[str]]:
        """(plotted stream, motor fields) from ``hints.dimensions`` = [[[fields], stream], ...]."""
        stream, motors = "primary", []
        dims = hints.get("dimensions") if isinstance(hints, Mapping) else None
        for dim in dims if isinstance(dims, (list, tuple)) else []:
            if isinstance(dim, (list, tuple)) and len(dim) == 2:
                if not motors and isinstance(dim[1], str):
                    stream = dim[1]
                motors.extend(f for f in _str_list(dim[0]) if f not in motors)
        return stream, motors

    # -- metadata -------------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """'#12 scan' — how the legend and the file names name the run."""
        scan = f"#{self.scan_id}" if self.scan_id is not None else self.uid[:8]
        return f"{scan} {self.plan_name}".strip()

    @property
    def exit_status(self) -> str | None:
        return self.tracker.exit_status

    @property
    def done(self) -> bool:
        return self.tracker.exit_status is not None

    @property
    def last_seq(self) -> int:
        return self.tracker.last_seq

    @property
    def n(self) -> int:
        """Number of points (events of the plotted stream) buffered."""
        return self._n

    @property
    def x(self) -> np.ndarray:
        """The x values so far: a view, which later appends never change (no copy needed)."""
        return self._x[: self._n]

    def y(self, field: str) -> np.ndarray:
        return self._y[field][: self._n]

    # -- documents ------------------------------------------------------------------------------
    def add_descriptor(self, doc: Mapping[str, Any]) -> bool:
        """Register a descriptor; True if it belongs to the plotted stream."""
        if doc.get("name", "primary") != self.stream:
            return False
        self.descriptors.add(str(doc["uid"]))
        data_keys = doc.get("data_keys")
        data_keys = data_keys if isinstance(data_keys, Mapping) else {}
        if self.x_mode == "auto" and self.x_field == "seq_num":
            motor = next((m for m in self.motors if _scalar_numeric(data_keys, m)), None)
            if motor is not None and self._n == 0:
                self.x_field = motor
        for field in self._pick_y_fields(doc, data_keys):
            if field not in self._y:
                self.y_fields.append(field)
                self._y[field] = np.full(len(self._x), math.nan)
        self.revision += 1
        return True

    def _pick_y_fields(self, doc: Mapping[str, Any], data_keys: Mapping[str, Any]) -> list[str]:
        hints = doc.get("hints")
        hints = hints if isinstance(hints, Mapping) else {}
        object_keys = doc.get("object_keys")
        object_keys = object_keys if isinstance(object_keys, Mapping) else {}
        excluded = {self.x_field, *self.motors}
        objects = self.detectors or [o for o in hints if isinstance(o, str)]

        def usable(fields: Iterable[str]) -> list[str]:
            return [f for f in fields if f not in excluded and _scalar_numeric(data_keys, f)]

        picked: list[str] = []
        for obj in objects:
            hint = hints.get(obj)
            fields = _str_list(hint.get("fields")) if isinstance(hint, Mapping) else None
            if fields is None:  # no hints for this detector: all its fields (BEC does the same)
                fields = _str_list(object_keys.get(obj))
            picked.extend(f for f in usable(fields) if f not in picked)
        if not picked:  # no detector hints at all: any scalar numeric data key, capped
            picked = usable(k for k in data_keys if isinstance(k, str))[:_MAX_FALLBACK_FIELDS]
        return picked

    def _grow(self, extra: int) -> None:
        need = self._n + extra
        if need <= len(self._x):
            return
        cap = len(self._x)
        while cap < need:
            cap *= 2
        x = np.empty(cap)
        x[: self._n] = self._x[: self._n]
        self._x = x
        for field, old in self._y.items():
            new = np.full(cap, math.nan)
            new[: self._n] = old[: self._n]
            self._y[field] = new

    def _x_values(self, data: Mapping[str, Any], seq: Any, t: Any, n: int) -> np.ndarray:
        if self.x_field == "seq_num":
            values = _floats(seq, n)
            if np.isnan(values).any():  # events without seq_num: count them instead
                fill = np.arange(self._n + 1, self._n + n + 1, dtype=np.float64)
                values = np.where(np.isnan(values), fill, values)
            return values
        if self.x_field == "time":
            return _floats(t, n) - self._t0
        return _floats(data.get(self.x_field), n)

    def add_event(self, data: Mapping[str, Any], seq: Any, t: Any) -> None:
        """Append one event (the common case: scalar writes, no temporary arrays)."""
        self._grow(1)
        i = self._n
        if self.x_field == "seq_num":
            x = _number(seq)
            self._x[i] = x if math.isfinite(x) else i + 1
        elif self.x_field == "time":
            self._x[i] = _number(t) - self._t0
        else:
            self._x[i] = _number(data.get(self.x_field))
        for field, arr in self._y.items():
            arr[i] = _number(data.get(field))
        self._n = i + 1
        self.revision += 1
        self.tracker.events(1, seq, t, seq, t)

    def add_events(self, data: Mapping[str, Any], seq: Sequence[Any], t: Sequence[Any],
                   n: int) -> None:  # fmt: skip
        """Append ``n`` events given column-wise (from an event_page)."""
        if n <= 0:
            return
        self._grow(n)
        i, j = self._n, self._n + n
        self._x[i:j] = self._x_values(data, seq, t, n)
        for field, arr in self._y.items():
            arr[i:j] = _floats(data.get(field), n)
        self._n = j
        self.revision += 1
        first_seq, last_seq = (seq[0], seq[-1]) if len(seq) == n else (None, None)
        first_t, last_t = (t[0], t[-1]) if len(t) == n else (None, None)
        self.tracker.events(n, first_seq, first_t, last_seq, last_t)

    def _fold(self) -> None:
        """Fold the rows added since the last call into the bounds and the x order. Lazy, so
        feeding pays nothing and a view reading it every tick pays O(new rows) in numpy."""
        i, j = self._bounds_upto, self._n
        if j <= i:
            return
        self._bounds_upto = j
        b = self._bounds
        for k, column in enumerate([self._x, *self._y.values()]):
            chunk = column[i:j]
            chunk = chunk[np.isfinite(chunk)]
            if chunk.size:
                lo, hi = (0, 1) if k == 0 else (2, 3)
                b[lo], b[hi] = min(b[lo], float(chunk.min())), max(b[hi], float(chunk.max()))
            if k == 0 and chunk.size:
                with np.errstate(over="ignore", invalid="ignore"):  # ±1e308 steps overflow
                    steps = np.diff(chunk if math.isnan(self._x_last) else
                                    np.concatenate(([self._x_last], chunk)))  # fmt: skip
                self._x_up = self._x_up and bool((steps >= 0).all())
                self._x_down = self._x_down and bool((steps <= 0).all())
                self._x_last = float(chunk[-1])

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """(x min, x max, y min, y max) over the finite plotted values; None before any."""
        self._fold()
        x0, x1, y0, y1 = self._bounds
        return (x0, x1, y0, y1) if x0 <= x1 and y0 <= y1 else None

    @property
    def x_order(self) -> str | None:
        """How x runs: "increasing", "decreasing", or None when it goes back and forth (a grid,
        a return sweep). Clipping to the view needs sorted x; decimation needs monotonic x."""
        self._fold()
        return "increasing" if self._x_up else "decreasing" if self._x_down else None

    def add_stop(self, doc: Mapping[str, Any]) -> None:
        status = doc.get("exit_status")
        self.tracker.stop(status if isinstance(status, str) and status else "unknown")
        self.revision += 1

    def progress(self, now: float | None = None) -> Progress:
        return self.tracker.snapshot(now)

    def to_csv(self) -> str:
        """The buffered points as CSV: x column, then one column per y field (NaN -> empty)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([self.x_field, *self.y_fields])
        columns = [self.x, *(self.y(f) for f in self.y_fields)]
        for row in zip(*columns, strict=True):
            writer.writerow(["" if math.isnan(v) else repr(float(v)) for v in row])
        return out.getvalue()

    def write_csv(self, path: str | Path) -> None:
        Path(path).write_text(self.to_csv(), encoding="utf-8")


class LiveRuns:
    """The last ``max_runs`` runs, fed with ``(name, doc)`` pairs in stream order."""

    def __init__(self, max_runs: int = 3, *, x_mode: str = "auto",
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        if x_mode not in X_MODES:
            raise ValueError(f"x_mode must be one of {X_MODES}")
        self._max_runs = max(1, int(max_runs))
        self.x_mode = x_mode
        self._clock = clock
        self._runs: dict[str, LiveRun] = {}  # insertion order = start order
        self._by_descriptor: dict[str, LiveRun] = {}
        self._other_descriptors: dict[str, str] = {}  # descriptor uid -> run uid
        self.revision = 0
        self.rejected = 0
        self.orphans = 0
        self.ignored = 0

    @property
    def max_runs(self) -> int:
        return self._max_runs

    @max_runs.setter
    def max_runs(self, value: int) -> None:
        self._max_runs = max(1, int(value))
        self._evict()

    @property
    def runs(self) -> list[LiveRun]:
        """Oldest first."""
        return list(self._runs.values())

    @property
    def current(self) -> LiveRun | None:
        """The most recently started run."""
        return next(reversed(self._runs.values()), None)

    def get(self, uid: str) -> LiveRun | None:
        return self._runs.get(uid)

    def progress(self, now: float | None = None) -> Progress | None:
        run = self.current
        return run.progress(now) if run is not None else None

    def feed_many(self, documents: Iterable[tuple[str, Any]]) -> None:
        for item in documents:
            try:
                name, doc = item
            except (TypeError, ValueError):
                self.rejected += 1
                continue
            self.feed(name, doc)

    def feed(self, name: Any, doc: Any) -> None:
        """Apply one document. Never raises: unusable documents are counted and skipped."""
        try:
            if not isinstance(doc, Mapping):
                raise TypeError(f"{type(doc).__name__} is not a document")
            handler = self._HANDLERS.get(name) if isinstance(name, str) else None
            if handler is None:
                self.ignored += 1
                return
            handler(self, doc)
        # Network input (even via a trusted proxy) may be any shape; one bad document must not
        # end the live plot, so a defect in a document is counted, logged and skipped.
        except Exception as ex:
            self.rejected += 1
            logger.debug("Skipped a %r document: %s", name, ex)

    def _start(self, doc: Mapping[str, Any]) -> None:
        if not isinstance(doc.get("uid"), str):
            raise ValueError("start without a uid")
        run = LiveRun(doc, x_mode=self.x_mode, clock=self._clock)
        if run.uid in self._runs:  # a repeated start document begins the run afresh
            self._drop(self._runs[run.uid])
        self._runs[run.uid] = run
        self._evict()
        self.revision += 1

    def _descriptor(self, doc: Mapping[str, Any]) -> None:
        run = self._runs.get(doc.get("run_start"))  # type: ignore[arg-type]
        if run is None or not isinstance(doc.get("uid"), str):
            self.orphans += 1
            return
        if run.add_descriptor(doc):
            self._by_descriptor[doc["uid"]] = run
            self.revision += 1
        else:  # a secondary stream (baseline, monitors): its events are not plotted
            self._other_descriptors[doc["uid"]] = run.uid

    def _route(self, doc: Mapping[str, Any]) -> LiveRun | None:
        descriptor = doc.get("descriptor")
        run = self._by_descriptor.get(descriptor) if isinstance(descriptor, str) else None
        if run is None:
            if isinstance(descriptor, str) and descriptor in self._other_descriptors:
                self.ignored += 1
            else:
                self.orphans += 1  # a run that started before we subscribed, or garbage
        return run

    def _event(self, doc: Mapping[str, Any]) -> None:
        run = self._route(doc)
        if run is not None:
            data = doc.get("data")
            run.add_event(data if isinstance(data, Mapping) else {}, doc.get("seq_num"),
                          doc.get("time"))  # fmt: skip
            self.revision += 1

    def _event_page(self, doc: Mapping[str, Any]) -> None:
        run = self._route(doc)
        if run is None:
            return
        seq, t = doc.get("seq_num"), doc.get("time")
        seq = seq if isinstance(seq, (list, tuple)) else []
        t = t if isinstance(t, (list, tuple)) else []
        n = max(len(seq), len(t))
        if n == 0 or (seq and t and len(seq) != len(t)):
            raise ValueError("event_page with inconsistent seq_num/time lengths")
        data = doc.get("data")
        run.add_events(data if isinstance(data, Mapping) else {}, seq, t, n)
        self.revision += 1

    def _stop(self, doc: Mapping[str, Any]) -> None:
        run = self._runs.get(doc.get("run_start"))  # type: ignore[arg-type]
        if run is None:
            self.orphans += 1
            return
        run.add_stop(doc)
        self.revision += 1

    _HANDLERS: dict[str, Callable[[LiveRuns, Mapping[str, Any]], None]] = {
        "start": _start, "descriptor": _descriptor, "event": _event,
        "event_page": _event_page, "stop": _stop,
    }  # fmt: skip

    def _evict(self) -> None:
        """Drop the oldest runs beyond ``max_runs``, finished ones before open ones."""
        while len(self._runs) > self._max_runs:
            victim = next((r for r in self._runs.values() if r.done), None)
            self._drop(victim or next(iter(self._runs.values())))

    def _drop(self, run: LiveRun) -> None:
        del self._runs[run.uid]
        for d in run.descriptors:
            self._by_descriptor.pop(d, None)
        for d in [d for d, uid in self._other_descriptors.items() if uid == run.uid]:
            del self._other_descriptors[d]
        self.revision += 1
