"""LiveRuns / LiveRun / Progress with synthetic document streams (no Qt, no server)."""

from __future__ import annotations

import csv
import io
import math
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qs_gui.core.formatting import format_duration
from qs_gui.core.liverun import LiveRuns
from qs_gui.core.progress import Progress

T0 = 1_700_000_000.0


class Clock:
    """A settable clock for elapsed/ETA arithmetic."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def start(uid: str = "r1", *, motors: tuple[str, ...] | None = ("motor",), detectors=("det1",),
          num_points: int | None = 10, scan_id: int = 7, plan_name: str = "scan",
          stream: str = "primary") -> dict[str, Any]:  # fmt: skip
    doc: dict[str, Any] = {"uid": uid, "time": T0, "scan_id": scan_id, "plan_name": plan_name,
                           "detectors": list(detectors)}  # fmt: skip
    if motors is not None:
        doc["hints"] = {"dimensions": [[list(motors), stream]]}
    if num_points is not None:
        doc["num_points"] = num_points
    return doc


def descriptor(run: str = "r1", uid: str = "d1", *, name: str = "primary",
               fields: dict[str, dict] | None = None, hints: dict | None = None,
               object_keys: dict | None = None) -> dict[str, Any]:  # fmt: skip
    number = {"dtype": "number", "shape": [], "source": "SIM"}
    fields = fields or {"det1": number, "det2": number, "motor": number,
                        "motor_setpoint": number}  # fmt: skip
    return {"uid": uid, "run_start": run, "name": name, "time": T0, "data_keys": fields,
            "hints": hints if hints is not None else {"det1": {"fields": ["det1"]},
                                                      "det2": {"fields": ["det2"]},
                                                      "motor": {"fields": ["motor"]}},
            "object_keys": object_keys or {"det1": ["det1"], "det2": ["det2"],
                                           "motor": ["motor", "motor_setpoint"]}}  # fmt: skip


def event(seq: int, data: dict[str, Any], *, desc: str = "d1", t: float | None = None) -> dict:
    return {"uid": f"e{seq}", "descriptor": desc, "seq_num": seq,
            "time": T0 + seq if t is None else t, "data": data, "timestamps": {}}  # fmt: skip


def stop(run: str = "r1", status: str = "success") -> dict[str, Any]:
    return {"uid": f"s-{run}", "run_start": run, "exit_status": status, "time": T0 + 99}


def scan_docs(n: int = 10, run: str = "r1", desc: str = "d1", **kw: Any) -> list[tuple]:
    xs = np.linspace(-1, 1, n)
    docs = [("start", start(run, num_points=n, **kw)), ("descriptor", descriptor(run, desc))]
    docs += [("event", event(i + 1, {"motor": x, "motor_setpoint": x, "det1": 5 * x, "det2": -x},
                             desc=desc)) for i, x in enumerate(xs)]  # fmt: skip
    return docs + [("stop", stop(run))]


# -- hints -> what is plotted ----------------------------------------------------------------------
def test_scan_plots_hinted_detectors_against_the_motor() -> None:
    runs = LiveRuns()
    runs.feed_many(scan_docs(10, detectors=("det1", "det2")))
    run = runs.current
    assert run is not None
    assert (run.uid, run.scan_id, run.plan_name, run.num_points) == ("r1", 7, "scan", 10)
    assert run.x_field == "motor"
    assert run.y_fields == ["det1", "det2"]  # motor_setpoint is not hinted
    np.testing.assert_allclose(run.x, np.linspace(-1, 1, 10))
    np.testing.assert_allclose(run.y("det1"), 5 * np.linspace(-1, 1, 10))
    assert run.exit_status == "success" and run.done
    assert (runs.rejected, runs.orphans) == (0, 0)


def test_only_the_runs_detectors_are_y_and_unhinted_detectors_fall_back_to_object_keys() -> None:
    runs = LiveRuns()
    runs.feed("start", start(detectors=("det2",)))
    runs.feed("descriptor", descriptor(hints={"motor": {"fields": ["motor"]}}))
    assert runs.current.y_fields == ["det2"]  # from object_keys, det1 is not a detector here


def test_non_scalar_or_non_numeric_fields_are_not_plotted() -> None:
    runs = LiveRuns()
    runs.feed("start", start(detectors=("cam", "name", "det1")))
    fields = {"motor": {"dtype": "number", "shape": []},
              "cam_image": {"dtype": "array", "shape": [512, 512]},
              "name": {"dtype": "string", "shape": []},
              "det1": {"dtype": "integer", "shape": []}}  # fmt: skip
    runs.feed("descriptor", descriptor(fields=fields, hints={"cam": {"fields": ["cam_image"]}},
                                       object_keys={"name": ["name"], "det1": ["det1"]}))
    assert runs.current.y_fields == ["det1"]


def test_count_without_motor_uses_seq_num_and_time_mode_uses_relative_time() -> None:
    docs = [("start", start(motors=("time",), num_points=3)), ("descriptor", descriptor()),
            *[("event", event(i, {"det1": float(i)})) for i in (1, 2, 3)]]  # fmt: skip
    by_seq = LiveRuns()
    by_seq.feed_many(docs)
    assert by_seq.current.x_field == "seq_num"
    np.testing.assert_array_equal(by_seq.current.x, [1, 2, 3])
    by_time = LiveRuns(x_mode="time")
    by_time.feed_many(docs)
    assert by_time.current.x_field == "time"
    np.testing.assert_allclose(by_time.current.x, [1, 2, 3])  # event.time - start.time


def test_secondary_streams_are_ignored_not_mixed_in() -> None:
    runs = LiveRuns()
    runs.feed("start", start())
    runs.feed("descriptor", descriptor(uid="base", name="baseline"))
    runs.feed("descriptor", descriptor())
    runs.feed("event", event(1, {"motor": 9.0, "det1": 9.0}, desc="base"))
    runs.feed("event", event(1, {"motor": 1.0, "det1": 2.0}))
    assert runs.current.n == 1 and runs.ignored == 1 and runs.orphans == 0


def test_missing_values_are_nan_and_an_unknown_descriptor_is_an_orphan() -> None:
    runs = LiveRuns()
    runs.feed_many([("start", start(detectors=("det1", "det2"))), ("descriptor", descriptor())])
    runs.feed("event", event(1, {"motor": 0.5, "det1": "high", "det2": None}))
    runs.feed("event", event(2, {"motor": 0.6, "det1": 1, "det2": True}, desc="nope"))
    run = runs.current
    assert run.n == 1 and math.isnan(run.y("det1")[0]) and math.isnan(run.y("det2")[0])
    assert runs.orphans == 1


# -- event_page, growth, bursts ----------------------------------------------------------------
def test_event_page_is_unpacked_like_events() -> None:
    n = 300
    xs = np.linspace(0, 3, n)
    page = {"descriptor": "d1", "seq_num": list(range(1, n + 1)),
            "time": [T0 + i * 0.001 for i in range(n)], "uid": [f"e{i}" for i in range(n)],
            "data": {"motor": xs.tolist(), "det1": (xs ** 2).tolist(),
                     "det2": [None] * n}, "timestamps": {}}  # fmt: skip
    runs = LiveRuns()
    runs.feed_many([("start", start(num_points=n, detectors=("det1", "det2"))),
                    ("descriptor", descriptor()), ("event_page", page)])  # fmt: skip
    run = runs.current
    assert run.n == n and run.last_seq == n
    np.testing.assert_allclose(run.x, xs)
    np.testing.assert_allclose(run.y("det1"), xs**2)
    assert np.isnan(run.y("det2")).all()
    runs.feed("event_page", {**page, "seq_num": [1, 2], "time": [1.0]})  # inconsistent
    assert runs.rejected == 1 and run.n == n


def test_1khz_burst_fills_doubling_buffers_fast() -> None:
    n = 1000
    clock = Clock()
    runs = LiveRuns(clock=clock)
    runs.feed_many([("start", start(num_points=2 * n)), ("descriptor", descriptor())])
    docs = [("event", event(i, {"motor": i * 0.001, "det1": float(i)}, t=T0 + i * 0.001))
            for i in range(1, n + 1)]  # fmt: skip
    t0 = time.perf_counter()
    runs.feed_many(docs)
    elapsed = time.perf_counter() - t0
    run = runs.current
    assert run.n == n and len(run.x) == n
    np.testing.assert_allclose(run.y("det1"), np.arange(1, n + 1))
    assert run._x.size >= n and run._x.size & (run._x.size - 1) == 0  # a power-of-two capacity
    assert elapsed < 0.5, f"1000 events took {elapsed:.3f} s"  # ~10 µs each in practice
    assert run.tracker.rate() == pytest.approx(1000, rel=1e-6)
    p = run.progress(clock.now)
    assert p.fraction == pytest.approx(0.5)
    assert p.eta == pytest.approx(1.0, rel=1e-3)  # 1000 points left at 1 kHz


def test_views_handed_out_stay_valid_after_growth() -> None:
    runs = LiveRuns()
    runs.feed_many(scan_docs(3))
    view = runs.current.y("det1")
    before = view.copy()
    runs.feed_many([("event", event(i, {"motor": 0.0, "det1": 1.0})) for i in range(4, 500)])
    np.testing.assert_array_equal(view, before)


@pytest.mark.parametrize("xs, order", [
    ([1, 2, 2, 3], "increasing"), ([3, 2, 1], "decreasing"), ([0, 1, 0, 1], None),
    ([1, None, 2, "x", 3], "increasing"), ([5], "increasing"),
    ([-1.7e308, 1.7e308, 0.0], None)])  # fmt: skip
def test_x_order_and_bounds_are_folded_incrementally(xs: list, order: str | None) -> None:
    runs = LiveRuns()
    runs.feed_many([("start", start()), ("descriptor", descriptor())])
    for i, x in enumerate(xs[:2], 1):  # read in between: the fold continues across calls
        runs.feed("event", event(i, {"motor": x, "det1": 1.0}))
    runs.current.bounds  # noqa: B018 (a read folds the rows so far)
    for i, x in enumerate(xs[2:], 3):
        runs.feed("event", event(i, {"motor": x, "det1": 2.0}))
    run = runs.current
    assert run.x_order == order
    finite = [x for x in xs if isinstance(x, (int, float))]
    assert run.bounds == (min(finite), max(finite), 1.0, 2.0 if len(xs) > 2 else 1.0)


# -- progress -------------------------------------------------------------------------------------
def test_progress_fraction_eta_and_elapsed() -> None:
    clock = Clock(100.0)
    runs = LiveRuns(clock=clock)
    runs.feed_many([("start", start(num_points=10)), ("descriptor", descriptor())])
    p = runs.progress()
    assert (p.seq_num, p.fraction, p.eta) == (0, 0.0, None)
    assert p.text() == "seq 0/10 · 0 s elapsed"
    for i in range(1, 8):  # one event every 0.5 s (document time)
        clock.now += 0.5
        runs.feed("event", event(i, {"motor": 0.0, "det1": 1.0}, t=T0 + 0.5 * i))
    p = runs.progress()
    assert p.seq_num == 7 and p.fraction == pytest.approx(0.7)
    assert p.eta == pytest.approx(1.5)
    assert p.text() == "seq 7/10 · ETA 2 s"
    clock.now += 1.0  # no event for a second: the ETA counts down
    assert runs.progress().eta == pytest.approx(0.5)
    runs.feed("stop", stop(status="abort"))
    clock.now += 30
    p = runs.progress()
    assert p.done and p.exit_status == "abort" and p.elapsed == pytest.approx(4.5)
    assert p.text() == "abort · seq 7/10 · 4 s"


def test_progress_without_num_points_shows_elapsed() -> None:
    clock = Clock()
    runs = LiveRuns(clock=clock)
    runs.feed_many([("start", start(num_points=None)), ("descriptor", descriptor()),
                    ("event", event(1, {"det1": 1.0}))])  # fmt: skip
    clock.now += 75
    p = runs.progress()
    assert p.fraction is None and p.eta is None
    assert p.text() == "seq 1 · 1 min 15 s elapsed"


@pytest.mark.parametrize("seconds, text", [(0.4, "0 s"), (59.4, "59 s"), (59.6, "1 min 00 s"),
                                           (61, "1 min 01 s"), (7322, "2 h 02 min"), (-1, ""),
                                           (math.inf, "")])  # fmt: skip
def test_format_duration_in_whole_seconds(seconds: float, text: str) -> None:
    assert format_duration(seconds, decimals=0) == text


def test_progress_fraction_is_clamped() -> None:
    p = Progress("u", 1, "scan", seq_num=12, num_points=10, elapsed=1, eta=0)
    assert p.fraction == 1.0 and p.run_label == "scan 1 (scan)"


# -- runs kept, nesting, export ------------------------------------------------------------------
def test_last_n_runs_are_kept_and_max_runs_can_shrink() -> None:
    runs = LiveRuns(max_runs=2)
    for k in range(4):
        runs.feed_many(scan_docs(3, run=f"r{k}", desc=f"d{k}", scan_id=k))
    assert [r.uid for r in runs.runs] == ["r2", "r3"]
    runs.feed("event", event(9, {"motor": 1.0}, desc="d0"))  # an evicted run's descriptor
    assert runs.orphans == 1
    runs.max_runs = 1
    assert [r.uid for r in runs.runs] == ["r3"]


def test_nested_runs_are_routed_by_descriptor() -> None:
    runs = LiveRuns()
    runs.feed_many([("start", start("outer")), ("descriptor", descriptor("outer", "do")),
                    ("event", event(1, {"motor": 0.0, "det1": 1.0}, desc="do")),
                    ("start", start("inner")), ("descriptor", descriptor("inner", "di")),
                    ("event", event(1, {"motor": 5.0, "det1": 2.0}, desc="di")),
                    ("event", event(2, {"motor": 0.1, "det1": 3.0}, desc="do")),
                    ("stop", stop("inner"))])  # fmt: skip
    outer, inner = runs.runs
    assert outer.y("det1").tolist() == [1.0, 3.0] and inner.y("det1").tolist() == [2.0]
    assert runs.current is inner and inner.done and not outer.done


def test_csv_export_has_x_then_fields() -> None:
    runs = LiveRuns()
    runs.feed_many(scan_docs(3, detectors=("det1", "det2")))
    runs.feed("event", event(4, {"motor": 2.0, "det1": None, "det2": 1.5}))
    rows = list(csv.reader(io.StringIO(runs.current.to_csv())))
    assert rows[0] == ["motor", "det1", "det2"]
    assert rows[1] == ["-1.0", "-5.0", "1.0"]
    assert rows[-1] == ["2.0", "", "1.5"]
    assert len(rows) == 5


# -- robustness -----------------------------------------------------------------------------------
GARBAGE = [("start", {}), ("start", {"uid": 5}), ("start", None), ("descriptor", []),
           ("event", {"descriptor": ["x"]}), ("event_page", {"descriptor": "d1", "seq_num": 3}),
           ("stop", {"run_start": {}}), (None, {}), ("bogus", {"uid": "x"}), "notapair", 42]


def test_garbage_documents_are_counted_not_raised() -> None:
    runs = LiveRuns()
    runs.feed_many(scan_docs(3))
    runs.feed_many(GARBAGE)  # type: ignore[arg-type]
    assert runs.current.n == 3
    assert runs.rejected + runs.orphans + runs.ignored >= len(GARBAGE) - 1


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c,
                                                                         max_size=5),
                     max_leaves=8)  # fmt: skip
_doc = st.one_of(_json, st.fixed_dictionaries(
    {"uid": st.sampled_from(["r1", "d1", "x"]), "run_start": st.sampled_from(["r1", "x", 3]),
     "descriptor": st.sampled_from(["d1", "x", None]), "name": st.sampled_from(["primary", 1]),
     "seq_num": _json, "time": _json, "data": _json, "hints": _json, "data_keys": _json,
     "num_points": _json, "exit_status": _json}))  # fmt: skip
_name = st.sampled_from(["start", "descriptor", "event", "event_page", "stop", "datum", "x"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_name, _doc), max_size=25))
def test_random_documents_never_raise(docs: list[tuple[str, Any]]) -> None:
    runs = LiveRuns(max_runs=2)
    runs.feed_many(scan_docs(2))
    runs.feed_many(docs)
    for run in runs.runs:
        assert len(run.x) == run.n
        for field in run.y_fields:
            assert len(run.y(field)) == run.n
        run.to_csv()
        run.progress()
