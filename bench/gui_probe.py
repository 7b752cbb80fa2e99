#!/usr/bin/env python
"""qs-gui probe (a subprocess of bench_gui.py): the real entry point, instrumented.

Runs ``qs_gui.app.main([--control-addr ..., --info-addr ...])`` with ``MainWindow`` replaced by
a subclass that adds measurements, so start-up, wiring and shutdown are exactly the product's.
Everything is measured inside the process, on its qasync loop, with a 10 ms PreciseTimer
heartbeat; "another client" is a thread with its own blocking REQ socket. Prints
``metric value unit`` lines (and ``# ...`` notes) on stdout.

Phases (each optional): load (start-up, first display, stall, RSS), item changes by another
client, status push -> Execute now QAction latency (lock/unlock by another key), idle CPU, and
history reloads with urgent requests sent while the bulk fetch is in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

T_START = time.monotonic()
SPAWN = float(os.environ.get("BENCH_SPAWN_T", T_START))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import zmq  # noqa: E402

COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]], "kwargs": {"num": 1}}
OTHER_KEY = "bench-other-client"


def out(metric: str, value: float, unit: str) -> None:
    print(f"{metric} {value:.6g} {unit}", flush=True)


def note(text: str) -> None:
    print(f"# {text}", flush=True)


def pct(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def rss_mb() -> tuple[float, float]:
    rss = hwm = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


class OtherClient:
    """Another client of the same server: blocking REQ socket, used from a worker thread."""

    def __init__(self, address: str):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(address)

    def request(self, method: str, params: dict | None = None,
                timeout: float = 60.0) -> tuple[dict, float, float]:
        t_send = time.monotonic()
        self.sock.send(json.dumps({"method": method, "params": params or {}}).encode())
        if not self.sock.poll(int(timeout * 1000)):
            raise TimeoutError(method)
        reply = json.loads(self.sock.recv())
        return reply, t_send, time.monotonic()

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()


def in_thread(fn, *args):
    """Run ``fn`` in a thread; await its result without blocking the loop."""
    loop = asyncio.get_event_loop()
    fut = loop.create_future()

    def run():
        try:
            res = fn(*args)
        except BaseException as ex:  # noqa: BLE001
            loop.call_soon_threadsafe(lambda e=ex: fut.done() or fut.set_exception(e))
        else:
            loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(res))

    threading.Thread(target=run, daemon=True).start()
    return fut


class Probe:
    def __init__(self, args):
        self.args = args
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
        transport = s.api.transport
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
        transport = window.session.api.transport
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
        ticks = [t for t in self.ticks if t0 <= t <= t1]
        if not ticks:
            return (t1 - t0) * 1e3
        edges = [t0, *ticks, t1]
        return max(b - a for a, b in zip(edges, edges[1:], strict=False)) * 1e3

    # -- scenario -------------------------------------------------------------------------
    async def _main(self) -> None:
        try:
            await self._scenario()
        except Exception:  # noqa: BLE001
            note("probe failed:\n" + traceback.format_exc())
            print(traceback.format_exc(), file=sys.stderr)
            self.exit_code = 1
        finally:
            self.window.close()

    async def _until(self, predicate, timeout: float, what: str) -> float:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.002)
        return time.monotonic()

    async def _scenario(self) -> None:
        a = self.args
        w = self.window
        qm, hm = w.queue_view.model, w.history_view.model
        t_loop = time.monotonic()
        # -- start-up and first display ------------------------------------------------------
        await self._until(lambda: self.t_status is not None, 30, "first status")
        out("startup.status_painted_from_spawn", (self.t_status - SPAWN) * 1e3, "ms")
        out("startup.status_painted_from_window", (self.t_status - self.t_window) * 1e3, "ms")
        out("startup.window_created_from_spawn", (self.t_window - SPAWN) * 1e3, "ms")
        note(f"interpreter start -> probe main: {(T_START - SPAWN) * 1e3:.0f} ms")

        def loaded() -> bool:
            return (qm.rowCount() == a.expect_queue + (1 if qm.running_item else 0)
                    and hm.rowCount() == a.expect_history)

        self.t_loaded = await self._until(loaded, a.load_timeout, "queue and history rows")
        await asyncio.sleep(0)
        out("load.first_display_from_window", (self.t_loaded - self.t_window) * 1e3, "ms")
        out("load.first_display_from_spawn", (self.t_loaded - SPAWN) * 1e3, "ms")
        h = self.history_timing
        if {"sent", "received", "decoded"} <= set(h):
            out("load.history_get_server", (h["received"] - h["sent"]) * 1e3, "ms")
            out("load.history_decode", (h["decoded"] - h["received"]) * 1e3, "ms")
            out("load.history_reply_to_rows", (self.t_loaded - h["received"]) * 1e3, "ms")
        await asyncio.sleep(a.settle)
        t_end = time.monotonic()
        if a.profile_load:
            self.profiler.stop()
            Path(a.profile_load).write_text(
                self.profiler.output_text(unicode=False, color=False, show_all=False))
            note(f"load profile written to {a.profile_load}")
        out("load.stall_max", self.stall(t_loop, self.t_loaded), "ms")
        out("load.stall_max_incl_settle", self.stall(t_loop, t_end), "ms")
        gc.collect()
        rss, hwm = rss_mb()
        out("load.rss", rss, "MB")
        out("load.rss_peak", hwm, "MB")
        out("load.queue_rows", qm.rowCount(), "rows")
        out("load.history_rows", hm.rowCount(), "rows")
        out("load.model_resets_queue", self.resets["queue"], "count")
        out("load.model_resets_history", self.resets["history"], "count")
        out("load.failures", len(self.failures), "count")
        for text in self.failures:
            note(f"message: {text}")
        other = OtherClient(a.control_addr)
        try:
            if a.item_changes:
                self.phase = "item_changes"
                await self._item_changes(other, a.item_changes)
            if a.toggles:
                self.phase = "toggles"
                await self._toggles(other, a.toggles)
            if a.reloads:
                self.phase = "reloads"
                await self._reloads(other, a.reloads)
            if a.idle:
                self.phase = "idle"
                await self._idle(a.idle)
            if a.profile_reload:
                await self._profile_reload(other)
        finally:
            other.close()
        self.report_stall_samples()
        for line in getattr(self, "traces", []):
            note(f"fetch trace: {line}")
        for gap, cpu, phase in self.gaps:
            note(f"heartbeat gap {gap * 1e3:.0f} ms in {phase}: main thread CPU "
                 f"{cpu * 1e3:.0f} ms of it")
        if hasattr(self, "gc_pauses"):
            note(f"longest json slice {self.slice_max[0] * 1e3:.1f} ms ({self.slice_max[1]} B); "
                 f"gc pauses > 5 ms: {[(g, round(d * 1e3), c) for g, d, c in self.gc_pauses]}")
        rss, hwm = rss_mb()
        out("end.rss", rss, "MB")
        out("end.rss_peak", hwm, "MB")

    async def _item_changes(self, other: OtherClient, n: int) -> None:
        resets0 = self.resets["queue"]
        latencies, removes, windows = [], [], []
        for i in range(n):
            pos = "front" if i % 2 else "back"
            params = {"item": {**COUNT, "kwargs": {"num": i + 2}}, "pos": pos,
                      "user": "other", "user_group": "primary"}
            reply, t_send, t_reply = await in_thread(other.request, "queue_item_add", params)
            uid = reply["item"]["item_uid"]
            t_seen = await self._until(lambda u=uid: u in self.inserted, 10, "added row")
            latencies.append(t_seen - t_reply)
            windows.append((t_send, t_seen + 0.05))
            await asyncio.sleep(0.2)
            r0 = self.removed_rows
            reply, t_send, t_reply = await in_thread(
                other.request, "queue_item_remove", {"uid": uid})
            t_gone = await self._until(lambda r=r0: self.removed_rows > r, 10, "removed row")
            removes.append(t_gone - t_reply)
            windows.append((t_send, t_gone + 0.05))
            await asyncio.sleep(0.2)
        stalls = [self.stall(t0, t1) for t0, t1 in windows]  # all windows are in the past
        out("item_change.add_latency_p50", pct(latencies, 0.5) * 1e3, "ms")
        out("item_change.add_latency_max", max(latencies) * 1e3, "ms")
        out("item_change.remove_latency_p50", pct(removes, 0.5) * 1e3, "ms")
        out("item_change.remove_latency_max", max(removes) * 1e3, "ms")
        out("item_change.stall_max", max(stalls), "ms")
        out("item_change.model_resets", self.resets["queue"] - resets0, "count")
        out("item_change.n", n, "adds+removes")

    async def _toggles(self, other: OtherClient, n: int) -> None:
        self.window.entry.load_item(COUNT, editing_uid=None)
        self.window.refresh_gates()
        await self._until(lambda: self.execute.isEnabled(), 15, "Execute now enabled")
        from_reply, from_send, stalls = [], [], []
        for i in range(n):
            locking = i % 2 == 0
            method = "lock" if locking else "unlock"
            params = {"lock_key": OTHER_KEY}
            if locking:
                params.update(environment=True, note="bench", user="other")
            want = not locking
            mark = len(self.action_log)
            reply, t_send, t_reply = await in_thread(other.request, method, params)
            if not reply.get("success"):
                raise RuntimeError(f"{method}: {reply.get('msg')}")

            def flipped(m=mark, want=want):
                return any(s == want for _, s in self.action_log[m:])

            await self._until(flipped, 5, f"Execute now {'enabled' if want else 'disabled'}")
            t_flip = next(t for t, s in self.action_log[mark:] if s == want)
            from_reply.append(t_flip - t_reply)
            from_send.append(t_flip - t_send)
            stalls.append(self.stall(t_send, t_flip))
            await asyncio.sleep(0.1 + (i % 5) * 0.03)
        out("push_gate.from_reply_p50", pct(from_reply, 0.5) * 1e3, "ms")
        out("push_gate.from_reply_p95", pct(from_reply, 0.95) * 1e3, "ms")
        out("push_gate.from_send_p50", pct(from_send, 0.5) * 1e3, "ms")
        out("push_gate.from_send_p95", pct(from_send, 0.95) * 1e3, "ms")
        out("push_gate.from_send_max", max(from_send) * 1e3, "ms")
        out("push_gate.n", n, "toggles")

    async def _idle(self, seconds: float) -> None:
        s = self.window.session
        await asyncio.sleep(3.0)  # let fetches triggered by earlier phases finish
        req0, polls0, push0 = dict(self.requests), s.polls_sent, s.pushes_received
        # The probe's own 100 Hz heartbeat would be most of the idle CPU: off while measuring
        # CPU, on again for a stall check over the last part.
        self.heartbeat.stop()
        self.heartbeat_on = False
        note(f"idle: pid {os.getpid()}")
        prof = None
        if self.args.profile_idle:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        cpu0, t0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu1, t1 = time.process_time(), time.monotonic()
        if prof is not None:
            prof.disable()
            prof.dump_stats(self.args.profile_idle)
            note(f"idle profile (cProfile) written to {self.args.profile_idle}")
        self.heartbeat.start()
        self.heartbeat_on = True
        t_hb = time.monotonic()
        await asyncio.sleep(min(10.0, seconds / 4))
        sent = {k: v - req0.get(k, 0) for k, v in self.requests.items() if v - req0.get(k, 0)}
        out("idle.cpu", (cpu1 - cpu0) / (t1 - t0) * 100, "% of one core")
        out("idle.requests", sum(sent.values()), "count")
        out("idle.requests_not_status", sum(v for k, v in sent.items() if k != "status"),
            "count")
        out("idle.watchdog_polls", s.polls_sent - polls0, "count")
        out("idle.pushes", s.pushes_received - push0, "count")
        out("idle.stall_max", self.stall(t_hb, time.monotonic()), "ms")
        out("idle.seconds", t1 - t0, "s")
        note(f"idle requests by method: {sent}")

    async def _reloads(self, other: OtherClient, n: int) -> None:
        """Another client trims the oldest history entry (``history_clear`` with ``size``), so
        the history uid changes and the GUI re-fetches the whole history. While that bulk fetch
        is in flight the GUI sends an urgent request, and a raw socket sends one at the same
        moment: the raw one shows what the serial server itself forces."""
        s = self.window.session
        hm = self.window.history_view.model
        transport = s.api.transport
        shown, urgent_gui, urgent_raw, windows, from_reply = [], [], [], [], []
        raw = OtherClient(self.args.control_addr)
        resets0 = self.resets["history"]
        try:
            for _ in range(n):
                rows0 = hm.rowCount()
                hist0 = self.requests.get("history_get", 0)
                reply, t_send, t_reply = await in_thread(
                    other.request, "history_clear", {"size": rows0 - 1})
                if not reply.get("success"):
                    raise RuntimeError(f"history_clear: {reply.get('msg')}")

                def fetching(h=hist0):
                    inflight = getattr(transport, "in_flight", None)
                    return (self.requests.get("history_get", 0) > h and inflight
                            and inflight[0] == "history_get")

                t_fetch = await self._until(fetching, 30, "history fetch in flight")
                await asyncio.sleep(0.3)
                fut_raw = in_thread(raw.request, "status")
                t_u0 = time.monotonic()
                await s.api.send_request(method="status")
                urgent_gui.append(time.monotonic() - t_u0)
                _, rs, rr = await fut_raw
                urgent_raw.append(rr - rs)
                t_shown = await self._until(lambda r=rows0: hm.rowCount() == r - 1, 60,
                                            "trimmed history shown")
                shown.append(t_shown - t_fetch)
                from_reply.append(t_shown - t_reply)
                windows.append((t_fetch, t_shown + 0.5))
                await asyncio.sleep(1.5)
        finally:
            raw.close()
        stalls = [self.stall(t0, t1) for t0, t1 in windows]  # all windows are in the past
        out("reload.fetch_to_shown_p50", pct(shown, 0.5) * 1e3, "ms")
        out("reload.fetch_to_shown_max", max(shown) * 1e3, "ms")
        out("reload.change_to_shown_max", max(from_reply) * 1e3, "ms")
        out("reload.urgent_gui_p50", pct(urgent_gui, 0.5) * 1e3, "ms")
        out("reload.urgent_gui_max", max(urgent_gui) * 1e3, "ms")
        out("reload.urgent_raw_p50", pct(urgent_raw, 0.5) * 1e3, "ms")
        out("reload.urgent_raw_max", max(urgent_raw) * 1e3, "ms")
        out("reload.urgent_gui_minus_raw_max",
            max(g - r for g, r in zip(urgent_gui, urgent_raw, strict=True)) * 1e3, "ms")
        out("reload.stall_max", max(stalls), "ms")
        out("reload.model_resets", self.resets["history"] - resets0, "count")
        out("reload.failures", len(self.failures), "count")
        out("reload.n", n, "reloads")

    async def _profile_reload(self, other: OtherClient) -> None:
        """One history reload under pyinstrument (async-aware), for the profiling notes."""
        from pyinstrument import Profiler

        hm = self.window.history_view.model
        rows0 = hm.rowCount()
        prof = Profiler(interval=0.001, async_mode="disabled")
        prof.start()
        await in_thread(other.request, "history_clear", {"size": rows0 - 1})
        await self._until(lambda: hm.rowCount() == rows0 - 1, 60, "trimmed history shown")
        await asyncio.sleep(0.5)
        prof.stop()
        path = self.args.profile_reload
        Path(path).write_text(prof.output_text(unicode=False, color=False, show_all=False))
        note(f"profile written to {path}")


def apply_proposed_wiring() -> None:
    """The changes proposed in docs/performance.md for files outside the performance work,
    applied here by monkeypatching so their effect can be measured:

    * ``qs_gui/app.py``: ``REManagerAPI(..., reuse_unchanged_items=True)``;
    * ``qs_gui/ui/history_view.py``: the filter reads the model's per-row search text instead of
      its own cache keyed by item identity (which misses after every reload, re-warms 100k rows,
      keeps the old snapshot alive and frees it all at once), and its warm-up keeps going while
      the model is still loading.
    """
    from qs_gui import client
    from qs_gui.ui import history_view as hv

    init = client.REManagerAPI.__init__

    def api_init(self, *a, **kw):
        kw.setdefault("reuse_unchanged_items", True)
        init(self, *a, **kw)

    client.REManagerAPI.__init__ = api_init

    def _haystack(self, src, row):
        return src.search_text(row)

    def _warm_step(self):
        src = self.sourceModel()
        if src.is_loading():  # resumed by loading_finished: do not slow the loading down
            self._warm_timer.stop()
            return
        end = min(self._warm_row + 1000, src.rowCount())
        for row in range(self._warm_row, end):
            src.search_text(row)
        self._warm_row = end
        if end >= src.rowCount():
            self._warm_timer.stop()

    init_view = hv.HistoryView.__init__

    def view_init(self, *a, **kw):
        init_view(self, *a, **kw)
        self.model.loading_finished.connect(self.proxy.warm_up)

    hv.HistoryFilter._haystack = _haystack
    hv.HistoryFilter._warm_step = _warm_step
    hv.HistoryView.__init__ = view_init


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--control-addr", required=True)
    ap.add_argument("--info-addr", required=True)
    ap.add_argument("--expect-queue", type=int, required=True)
    ap.add_argument("--expect-history", type=int, required=True)
    ap.add_argument("--load-timeout", type=float, default=120)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--item-changes", type=int, default=0)
    ap.add_argument("--toggles", type=int, default=0)
    ap.add_argument("--idle", type=float, default=0)
    ap.add_argument("--reloads", type=int, default=0)
    ap.add_argument("--profile-reload", default="")
    ap.add_argument("--profile-load", default="")
    ap.add_argument("--profile-idle", default="")
    ap.add_argument("--trace-fetch", action="store_true", help="diagnostics: time fetch parts")
    ap.add_argument("--proposed", action="store_true",
                    help="apply the app/history_view changes proposed in docs/performance.md")
    ap.add_argument("--stall-stacks", action="store_true",
                    help="sample the main thread's stack while the loop is stalled")
    ap.add_argument("--hard-timeout", type=float, default=800,
                    help="dump every thread's stack and exit after this many seconds")
    args = ap.parse_args()
    import faulthandler

    faulthandler.dump_traceback_later(args.hard_timeout, exit=True)

    probe = Probe(args)
    probe.exit_code = 0
    import qs_gui.ui.main_window as mw

    base = mw.MainWindow

    class Instrumented(base):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            probe.attach(self)

    mw.MainWindow = Instrumented
    if args.proposed:
        apply_proposed_wiring()
    from qs_gui import app

    rc = app.main(["--control-addr", args.control_addr, "--info-addr", args.info_addr])
    return rc or probe.exit_code


if __name__ == "__main__":
    sys.exit(main())
