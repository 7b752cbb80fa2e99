"""Instrumentation of qs-gui's MainWindow for ``gui_probe.py``: what is observed, not what is done.

``Instrumentation.attach(window)`` (called from the instrumented ``MainWindow.__init__``) adds:

* a 10 ms ``PreciseTimer`` heartbeat (``ticks``; ``stall(t0, t1)`` is the largest gap);
* request counting (wrapping the transport), history fetch timing (sent / received / decoded);
* the signals the scenarios wait on: first painted status, Execute now's enabled state, queue
  rows inserted / removed, model resets, warning and error messages;
* diagnostics, on request: ``--trace-fetch`` (fetch parts, longest JSON slice, GC pauses),
  ``--stall-stacks`` (main thread stack samples while the heartbeat is late), ``--profile-load``.

Qt and qs_gui are imported lazily, once the application is running, as before the split.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
from pathlib import Path

from probe_common import max_gap, note


class Instrumentation:
    """State and wiring; the scenario (``_main``) is supplied by the subclass."""

    def __init__(self, args, *, t_start: float, spawn: float):
        self.args = args
        self.t_start, self.spawn = t_start, spawn
        self.exit_code = 0
        self.window = None
        self.ticks: list[float] = []
        self.gaps: list[tuple[float, float, str]] = []
        self.last_cpu = time.thread_time()
        self.requests: dict[str, int] = {}
        self.action_log: list[tuple[float, bool]] = []
        self.inserted: dict[str, float] = {}
        self.removed_rows = 0
        self.resets = {"queue": 0, "history": 0}
        self.t_status = None
        self.t_loaded = None
        self.failures: list[str] = []

    # -- wiring ---------------------------------------------------------------------------
    def attach(self, window) -> None:
        from PyQt5.QtCore import Qt, QTimer

        from qs_gui.core.gates import Action

        self.window = window
        self.t_window = time.monotonic()
        self.heartbeat = QTimer(window)
        self.heartbeat.setTimerType(Qt.PreciseTimer)
        self.heartbeat.setInterval(10)
        self.heartbeat.timeout.connect(self._tick)
        self.heartbeat.start()
        self.heartbeat_on = True
        self.phase = "load"
        if self.args.stall_stacks:
            self.start_stall_sampler()
        s = window.session
        s.status_changed.connect(self._on_status)
        s.message.connect(self._on_message)
        transport = s._api.transport
        original = transport.request

        async def counting(method, params, **kw):
            self.requests[method] = self.requests.get(method, 0) + 1
            return await original(method, params, **kw)

        transport.request = counting
        self.history_timing: dict[str, float] = {}
        codec = transport.codec
        decode_async = getattr(codec, "decode_async", None)  # absent before the rework

        async def timed_decode(raw, *a, **kw):
            t = time.monotonic()
            result = await decode_async(raw, *a, **kw)
            if isinstance(result, dict) and "plan_history_uid" in result \
                    and "received" not in self.history_timing:
                self.history_timing.update(received=t, decoded=time.monotonic())
            return result

        if decode_async is not None:
            codec.decode_async = timed_decode
        original_hist = transport.request

        async def history_request(method, params, **kw):
            if method == "history_get" and "sent" not in self.history_timing:
                self.history_timing["sent"] = time.monotonic()
            return await original_hist(method, params, **kw)

        transport.request = history_request
        if self.args.trace_fetch:
            self._trace_fetch(window)
        self.execute = window.registry[Action.EXECUTE_NOW]
        self.execute.changed.connect(self._on_action_changed)
        self._enabled = self.execute.isEnabled()
        qm, hm = window.queue_view.model, window.history_view.model
        qm.rowsInserted.connect(self._on_queue_rows)
        qm.rowsRemoved.connect(lambda *a: setattr(self, "removed_rows", self.removed_rows + 1))
        qm.modelReset.connect(lambda: self._count_reset("queue"))
        hm.modelReset.connect(lambda: self._count_reset("history"))
        if self.args.profile_load:
            from pyinstrument import Profiler

            self.profiler = Profiler(interval=0.001, async_mode="disabled")
            self.profiler.start()
        self.task = asyncio.ensure_future(self._main())

    def _trace_fetch(self, window) -> None:
        """Diagnostics: time the parts of each queue/history fetch (printed at the end)."""
        self.traces: list[str] = []
        transport = window.session._api.transport
        codec = transport.codec
        decode_async, request = codec.decode_async, transport.request
        marks: dict[str, float] = {}

        async def timed_decode(raw):
            t = time.monotonic()
            result = await decode_async(raw)
            marks["decode"] = time.monotonic() - t
            marks["recv_at"] = t
            return result

        async def timed_request(method, params, **kw):
            t = time.monotonic()
            result = await request(method, params, **kw)
            if method in ("queue_get", "history_get"):
                marks["method"], marks["t0"], marks["done"] = method, t, time.monotonic()
            return result

        codec.decode_async = timed_decode
        transport.request = timed_request
        from qs_gui.client import jsonstream

        slice_fn = jsonstream._Parser.object_slice
        self.slice_max = [0.0, 0]

        def timed_slice(parser, pos):
            t = time.perf_counter()
            result = slice_fn(parser, pos)
            d = time.perf_counter() - t
            if d > self.slice_max[0]:
                self.slice_max[:] = [d, result[1] - pos]
            return result

        jsonstream._Parser.object_slice = timed_slice
        self.gc_pauses: list[tuple[int, float]] = []
        gc_start = [0.0]

        def on_gc(phase, info):
            if phase == "start":
                gc_start[0] = time.perf_counter()
            else:
                d = time.perf_counter() - gc_start[0]
                if d > 0.005:
                    self.gc_pauses.append((info["generation"], d, info["collected"]))

        gc.callbacks.append(on_gc)
        for name, view in (("queue", window.queue_view), ("history", window.history_view)):
            setter = "set_queue" if name == "queue" else "set_history"
            original = getattr(view, setter)

            def wrapped(*a, _o=original, _n=name):
                t = time.monotonic()
                _o(*a)
                t1 = time.monotonic()
                if marks.get("t0"):
                    self.traces.append(
                        f"{_n}: server+transfer {(marks['recv_at'] - marks['t0']) * 1e3:.0f} ms,"
                        f" decode {marks['decode'] * 1e3:.0f} ms (sliced), after request "
                        f"{(t - marks['done']) * 1e3:.0f} ms, view {(t1 - t) * 1e3:.0f} ms")

            setattr(view, setter, wrapped)

    def _count_reset(self, which: str) -> None:
        self.resets[which] += 1

    def _tick(self) -> None:
        now = time.monotonic()
        if self.args.trace_fetch and self.ticks and now - self.ticks[-1] > 0.04:
            cpu = time.thread_time()
            self.gaps.append((now - self.ticks[-1], cpu - self.last_cpu, self.phase_name()))
        self.ticks.append(now)
        if self.args.trace_fetch:
            self.last_cpu = time.thread_time()

    def phase_name(self) -> str:
        return getattr(self, "phase", "?")

    def start_stall_sampler(self, threshold: float = 0.035) -> None:
        """Diagnostics: a thread that, whenever the heartbeat is late by more than
        ``threshold``, samples the main thread's Python stack every 5 ms (what is blocking)."""
        import collections
        import traceback as tb

        main_id = threading.main_thread().ident
        self.stall_samples = collections.defaultdict(collections.Counter)
        self.phase = "load"

        def run():
            while not self._sampler_stop:
                time.sleep(0.005)
                if not self.ticks or not self.heartbeat_on:
                    continue
                late = time.monotonic() - self.ticks[-1]
                if late > threshold:
                    frame = sys._current_frames().get(main_id)
                    if frame is None:
                        continue
                    stack = tb.extract_stack(frame)[-14:]
                    key = " <- ".join(f"{Path(f.filename).name}:{f.lineno}:{f.name}"
                                      for f in reversed(stack))
                    self.stall_samples[self.phase][key] += 1

        self._sampler_stop = False
        threading.Thread(target=run, daemon=True).start()

    def report_stall_samples(self, top: int = 12) -> None:
        if not getattr(self, "stall_samples", None):
            return
        for phase, samples in self.stall_samples.items():
            note(f"stall samples in {phase} (5 ms each, main thread stack innermost first):")
            for key, n in samples.most_common(top):
                note(f"  {n:4d}  {key}")

    def _on_status(self, status) -> None:
        if self.t_status is None and self.window.status_panel.text("manager") not in ("—", ""):
            self.window.status_panel.repaint()  # painted, not only set
            self.t_status = time.monotonic()

    def _on_message(self, level, text) -> None:
        if level in ("warning", "error"):
            self.failures.append(text)

    def _on_action_changed(self) -> None:
        enabled = self.execute.isEnabled()
        if enabled != self._enabled:
            self._enabled = enabled
            self.action_log.append((time.monotonic(), enabled))

    def _on_queue_rows(self, _parent, first, last) -> None:
        now = time.monotonic()
        model = self.window.queue_view.model
        if last - first > 50:
            return
        for row in range(first, last + 1):
            uid = model.uid_at(row)
            if uid:
                self.inserted.setdefault(uid, now)

    def stall(self, t0: float, t1: float) -> float:
        """Largest gap between heartbeat ticks in [t0, t1] (ms), counting the edges."""
        return max_gap(self.ticks, t0, t1)

    def report_diagnostics(self) -> None:
        """The ``# ...`` notes of the diagnostics options, after the scenario."""
        self.report_stall_samples()
        for line in getattr(self, "traces", []):
            note(f"fetch trace: {line}")
        for gap, cpu, phase in self.gaps:
            note(f"heartbeat gap {gap * 1e3:.0f} ms in {phase}: main thread CPU "
                 f"{cpu * 1e3:.0f} ms of it")
        if hasattr(self, "gc_pauses"):
            note(f"longest json slice {self.slice_max[0] * 1e3:.1f} ms ({self.slice_max[1]} B); "
                 f"gc pauses > 5 ms: {[(g, round(d * 1e3), c) for g, d, c in self.gc_pauses]}")
