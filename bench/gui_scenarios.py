"""The qs-gui probe's scenario: what ``gui_probe.py`` does to the instrumented window, in order.

Phases (each optional but the first): start-up and first display (stall, RSS), item changes by
another client, status push -> Execute now QAction latency (lock/unlock by another key),
history reloads with urgent requests sent while the bulk fetch is in flight, idle CPU, and a
profiled reload. "Another client" is ``probe_common.OtherClient`` used from a worker thread
(``in_thread``), so the GUI's event loop is never blocked by it.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
import traceback
from pathlib import Path

from gui_instrument import Instrumentation
from probe_common import COUNT, OtherClient, note, out, out_rss, pct

OTHER_KEY = "bench-other-client"


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


class GuiProbe(Instrumentation):
    """The instrumented window's scenario coroutine (started by ``attach``)."""

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
            session = self.window.session
            if getattr(session, "history_withheld", None) and self._queue_shown():
                # Too costly to read by itself: the operator's Load now, once the rest of the
                # window is loaded (the window's RSS without the history is measured first).
                if self.t_load_now is None:
                    gc.collect()
                    out_rss("window_without_history")
                    self.t_load_now = time.monotonic()
                session.load_history_now()
                note("history withheld by the policy: Load now pressed")
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.002)
        return time.monotonic()

    t_load_now: float | None = None  # when Load now was first pressed (a withheld history)

    def _queue_shown(self) -> bool:
        qm = self.window.queue_view.model
        return qm.rowCount() == self.args.expect_queue + (1 if qm.running_item else 0)

    async def _scenario(self) -> None:
        a = self.args
        w = self.window
        qm, hm = w.queue_view.model, w.history_view.model
        t_loop = time.monotonic()
        # -- start-up and first display ------------------------------------------------------
        await self._until(lambda: self.t_status is not None, 30, "first status")
        out("startup.status_painted_from_spawn", (self.t_status - self.spawn) * 1e3, "ms")
        out("startup.status_painted_from_window", (self.t_status - self.t_window) * 1e3, "ms")
        out("startup.window_created_from_spawn", (self.t_window - self.spawn) * 1e3, "ms")
        note(f"interpreter start -> probe main: {(self.t_start - self.spawn) * 1e3:.0f} ms")

        def loaded() -> bool:
            return (qm.rowCount() == a.expect_queue + (1 if qm.running_item else 0)
                    and hm.rowCount() == a.expect_history)

        self.t_loaded = await self._until(loaded, a.load_timeout, "queue and history rows")
        await asyncio.sleep(0)
        out("load.first_display_from_window", (self.t_loaded - self.t_window) * 1e3, "ms")
        out("load.first_display_from_spawn", (self.t_loaded - self.spawn) * 1e3, "ms")
        if self.t_load_now is not None:
            out("load.first_display_from_load_now", (self.t_loaded - self.t_load_now) * 1e3, "ms")
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
        out_rss("load")
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
        self.report_diagnostics()
        out_rss("end")

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
        transport = s._api.transport
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
                await s._api.send_request(method="status")
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
