"""Fake beamlines: loopback stand-ins for RE Managers, many to a process, for the overview's
scale test and benchmark.

Why not real RE Managers: 24 of them (each a watchdog, manager, worker and Redis) do not fit
on a 2-core machine, and a tile only needs what a status-only session reads. One
:class:`FakeBeamline` is

* an info socket (PUB, bound like the RE Manager's): ``[b"QS_Info", json({"time", "msg":
  {"status": {...}}})]``, the frames ``client/monitor.InfoMonitor`` reads, once a second and on
  every change, with every field of RE Manager 0.0.25's status;
* a control socket answering ``status``, ``ping``, ``lock_info``, ``history_get`` and
  ``queue_get`` (small) with the RE Manager's reply shapes (``{"success": False}`` for anything
  else). It is a ROUTER, which a REQ client cannot tell from a REP, so that :meth:`silence` can
  leave requests unanswered and still serve the next one afterwards.

Scripted states switch it like the real server would (uids change as they do there): ``idle``,
``run`` (a queue item starts), ``pause``/``resume``, ``complete``, ``fail`` (the item goes to
the history as failed and a copy back to the front of the queue, the server's behaviour),
``close_environment`` (on request or a crash), ``open_environment``, ``lock``/``unlock``,
``set_queue``, and ``silence`` (no replies, no pushes: a dead or wedged server).

:class:`FakeBeamlineHost` runs N of them on one asyncio loop in a background thread (for tests
whose own loop is under measurement); ``python -m qs_gui.sandbox.fake_beamline --count 24`` runs
N in a helper process (start it with the lifeline's guard, tests/helpers.spawn_guarded), prints
their addresses as one JSON line and takes JSON-line commands on stdin; it exits when stdin
closes, i.e. with its parent.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import zmq
import zmq.asyncio

from .lifeline import guard, unguard

__all__ = ["FakeBeamline", "FakeBeamlineHost", "FakeBeamlineProcess", "main"]

VERSION = "RE Manager v0.0.25 (fake beamline)"
HOST = "127.0.0.1"
_RUNNING = ("executing_queue", "paused", "starting_queue")


def _uid() -> str:
    return str(uuid.uuid4())


def _plan(name: str = "count") -> dict[str, Any]:
    return {"item_type": "plan", "name": name, "args": [["det1"]], "kwargs": {"num": 5},
            "item_uid": _uid(), "user": "operator", "user_group": "primary"}


class FakeBeamline:
    """One fake RE Manager on the loop it is started on (see the module docstring)."""

    def __init__(self, name: str = "fake", *, publish_period: float = 1.0,
                 queue: int = 2, environment: bool = True) -> None:  # fmt: skip
        self.name = name
        self.publish_period = float(publish_period)
        self.control_addr = ""
        self.info_addr = ""
        self.silent = False
        self.reply_delay = 0.0  #: seconds before each reply (a slow server; serial like one)
        self.requests: Counter[str] = Counter()  #: method -> requests received
        self.published = 0  #: status messages published
        self.last_change_at = 0.0  #: time.monotonic() of the last scripted change's push
        self.queue: list[dict[str, Any]] = [_plan() for _ in range(queue)]
        self.history: list[dict[str, Any]] = []
        self.running: dict[str, Any] = {}
        self.lock_info: dict[str, Any] = {"environment": False, "queue": False, "user": None,
                                          "note": None, "time": None, "time_str": ""}
        self.status: dict[str, Any] = {
            "msg": VERSION, "items_in_queue": len(self.queue), "items_in_history": 0,
            "running_item_uid": None, "manager_state": "idle", "queue_stop_pending": False,
            "queue_autostart_enabled": False, "worker_environment_exists": environment,
            "worker_environment_state": "idle" if environment else "closed",
            "worker_background_tasks": 0, "re_state": "idle" if environment else None,
            "ip_kernel_state": None, "ip_kernel_captured": None, "pause_pending": False,
            "run_list_uid": _uid(), "plan_queue_uid": _uid(), "plan_history_uid": _uid(),
            "devices_existing_uid": _uid(), "plans_existing_uid": _uid(),
            "devices_allowed_uid": _uid(), "plans_allowed_uid": _uid(),
            "task_results_uid": _uid(), "lock_info_uid": _uid(),
            "lock": {"environment": False, "queue": False},
            "plan_queue_mode": {"loop": False, "ignore_failures": False}, "status_uid": _uid(),
        }
        self._ctx: zmq.asyncio.Context | None = None
        self._rep: zmq.asyncio.Socket | None = None
        self._pub: zmq.asyncio.Socket | None = None
        self._tasks: list[asyncio.Task] = []
        self._next_publish = 0.0
        self._wake: asyncio.Event | None = None

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self, ctx: zmq.asyncio.Context | None = None) -> FakeBeamline:
        """Bind both sockets on free loopback ports and start serving and publishing."""
        self._ctx = ctx or zmq.asyncio.Context.instance()
        self._rep = self._ctx.socket(zmq.ROUTER)
        self._pub = self._ctx.socket(zmq.PUB)
        for sock in (self._rep, self._pub):
            sock.setsockopt(zmq.LINGER, 0)
        self.control_addr = f"tcp://{HOST}:{self._rep.bind_to_random_port(f'tcp://{HOST}')}"
        self.info_addr = f"tcp://{HOST}:{self._pub.bind_to_random_port(f'tcp://{HOST}')}"
        self._wake = asyncio.Event()
        self._tasks = [asyncio.ensure_future(self._serve()),
                       asyncio.ensure_future(self._publish_loop())]
        return self

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for sock in (self._rep, self._pub):
            if sock is not None:
                sock.close(linger=0)
        self._rep = self._pub = None

    async def __aenter__(self) -> FakeBeamline:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the control socket -----------------------------------------------------------------
    async def _serve(self) -> None:
        assert self._rep is not None
        while True:
            frames = await self._rep.recv_multipart()
            if self.silent:
                continue  # a wedged server: the request is never answered
            identity, raw = frames[0], frames[-1]
            try:
                request = json.loads(raw)
                method = request.get("method")
                self.requests[method] += 1
                reply = self.reply(method, request.get("params") or {})
            except Exception as ex:  # a bad request: answer like the server would
                reply = {"success": False, "msg": f"Invalid request: {ex}"}
            if self.reply_delay > 0:
                await asyncio.sleep(self.reply_delay)
            await self._rep.send_multipart([identity, b"", json.dumps(reply).encode()])

    def reply(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The RE Manager's reply to ``method`` (its shape in 0.0.25)."""
        s = self.status
        if method in ("status", "ping"):
            return dict(s)
        if method == "lock_info":
            return {"success": True, "msg": "", "lock_info": dict(self.lock_info),
                    "lock_info_uid": s["lock_info_uid"]}
        if method == "history_get":
            return {"success": True, "msg": "", "items": list(self.history),
                    "plan_history_uid": s["plan_history_uid"]}
        if method == "queue_get":
            return {"success": True, "msg": "", "items": list(self.queue),
                    "running_item": dict(self.running), "plan_queue_uid": s["plan_queue_uid"]}
        return {"success": False, "msg": f"the fake beamline does not implement {method!r}"}

    # -- the info socket --------------------------------------------------------------------
    async def _publish_loop(self) -> None:
        """Once a second (the RE Manager's period, measured from the last push) and on every
        change (:meth:`publish`)."""
        assert self._wake is not None
        self.publish()
        while True:
            delay = max(0.0, self._next_publish - time.monotonic())
            # not wait_for: cancelled (stop) just as its inner wait ends, Python 3.11's
            # wait_for can leave that inner task pending and the stop waiting for ever
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({waiter}, timeout=delay)
            finally:
                waiter.cancel()
            self._wake.clear()
            if time.monotonic() >= self._next_publish - 0.01:
                self.publish()

    def publish(self) -> float:
        """Push the status now (nothing while silenced); the push's time.monotonic()."""
        now = time.monotonic()
        self._next_publish = now + self.publish_period
        if self.silent or self._pub is None:
            return now
        payload = {"time": time.time(), "msg": {"status": dict(self.status)}}
        self._pub.send_multipart([b"QS_Info", json.dumps(payload).encode()])
        self.published += 1
        if self._wake is not None:
            self._wake.set()  # the periodic push counts from this one
        return now

    def _changed(self, *uids: str) -> float:
        for key in uids:
            self.status[key] = _uid()
        self.status["status_uid"] = _uid()
        self.status["items_in_queue"] = len(self.queue)
        self.status["items_in_history"] = len(self.history)
        self.last_change_at = self.publish()
        return self.last_change_at

    # -- scripted states (call on the beamline's loop; the host has thread-safe calls) -------
    def idle(self) -> float:
        """Environment open, nothing running, queue stopped."""
        self.running = {}
        self.status.update(manager_state="idle", running_item_uid=None, re_state="idle",
                           worker_environment_exists=True, worker_environment_state="idle",
                           queue_stop_pending=False, pause_pending=False)
        return self._changed()

    def set_queue(self, n: int, name: str = "count") -> float:
        self.queue = [_plan(name) for _ in range(int(n))]
        return self._changed("plan_queue_uid")

    def run(self, name: str | None = None) -> float:
        """The queue starts (or goes on with) its front item, named ``name`` if given."""
        item = self.queue.pop(0) if self.queue else _plan()
        if name:
            item["name"] = name
        item = {k: v for k, v in item.items() if k != "result"}
        item["item_uid"] = item.get("item_uid") or _uid()
        self.running = item
        self.status.update(manager_state="executing_queue", running_item_uid=item["item_uid"],
                           re_state="running", worker_environment_exists=True,
                           worker_environment_state="executing_plan")
        return self._changed("plan_queue_uid")

    def pause(self) -> float:
        self.status.update(manager_state="paused", re_state="paused",
                           worker_environment_state="idle")
        return self._changed()

    def resume(self) -> float:
        self.status.update(manager_state="executing_queue", re_state="running",
                           worker_environment_state="executing_plan")
        return self._changed()

    def _finish(self, exit_status: str, msg: str = "", traceback: str = "") -> dict[str, Any]:
        item = dict(self.running)
        entry = {**item, "result": {"exit_status": exit_status, "msg": msg,
                                    "traceback": traceback, "time_start": time.time() - 1,
                                    "time_stop": time.time(), "run_uids": [], "scan_ids": []}}
        self.history.append(entry)
        self.running = {}
        self.status.update(manager_state="idle", running_item_uid=None, re_state="idle",
                           worker_environment_state="idle", queue_stop_pending=False)
        return entry

    def complete(self) -> float:
        """The running item completes; the queue stops (call :meth:`run` to go on)."""
        self._finish("completed")
        return self._changed("plan_queue_uid", "plan_history_uid")

    def fail(self, msg: str = "Plan failed: motor position out of limits") -> float:
        """The running item fails: to the history as failed, a copy with a new uid back at the
        front of the queue, the queue stopped (RE Manager 0.0.25's behaviour)."""
        entry = self._finish("failed", msg, "Traceback (most recent call last):\n  ...\n")
        self.queue.insert(0, {**entry, "item_uid": _uid()})
        return self._changed("plan_queue_uid", "plan_history_uid")

    def close_environment(self, *, crash: bool = False) -> float:
        """The environment is destroyed (``crash``: it vanishes without a close in between).
        A running item is dropped (not requeued, no history entry): what the real server does
        with it is not modelled here."""
        if not crash:
            self.status.update(manager_state="destroying_environment",
                               worker_environment_state="closing")
            self._changed()
        self.running = {}
        self.status.update(running_item_uid=None, queue_stop_pending=False, pause_pending=False)
        self.status.update(manager_state="idle", worker_environment_exists=False,
                           worker_environment_state="closed", re_state=None)
        return self._changed()

    def open_environment(self) -> float:
        self.status.update(manager_state="creating_environment",
                           worker_environment_state="initializing")
        self._changed()
        return self.idle()

    def lock(self, user: str = "alice", note: str = "", *, environment: bool = True,
             queue: bool = True) -> float:  # fmt: skip
        self.lock_info = {"environment": environment, "queue": queue, "user": user,
                          "note": note or None, "time": time.time(), "time_str": ""}
        self.status["lock"] = {"environment": environment, "queue": queue}
        return self._changed("lock_info_uid")

    def unlock(self) -> float:
        return self.lock(environment=False, queue=False)

    def slow(self, seconds: float) -> float:
        """Answer every request ``seconds`` late (0: at once), one at a time like the server."""
        self.reply_delay = max(0.0, float(seconds))
        return time.monotonic()

    def silence(self, on: bool = True) -> float:
        """Stop answering and publishing (a dead server), or start again."""
        self.silent = bool(on)
        return self.publish()


class FakeBeamlineHost:
    """N fake beamlines on one asyncio loop in a daemon thread (a context manager).

    ``call(i, "run", "scan")`` runs a scripted state on that loop and returns its result (the
    push's time.monotonic()); ``beamlines[i].control_addr`` / ``info_addr`` are set once
    :meth:`start` returns.
    """

    def __init__(self, n: int, *, publish_period: float = 1.0, prefix: str = "FB",
                 **options: Any) -> None:  # fmt: skip
        self.beamlines = [FakeBeamline(f"{prefix}{i + 1:02d}", publish_period=publish_period,
                                       **options) for i in range(n)]
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ctx: zmq.asyncio.Context | None = None
        self._stopped: asyncio.Event | None = None

    def start(self, timeout: float = 10.0) -> FakeBeamlineHost:
        ready: concurrent.futures.Future = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._main, args=(ready,), daemon=True,
                                        name="fake-beamlines")
        self._thread.start()
        ready.result(timeout)
        return self

    def _main(self, ready: concurrent.futures.Future) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)

        async def run() -> None:
            self._ctx = zmq.asyncio.Context()
            self._stopped = asyncio.Event()
            try:
                for beamline in self.beamlines:
                    await beamline.start(self._ctx)
            except BaseException as ex:
                ready.set_exception(ex)
                raise
            ready.set_result(True)
            await self._stopped.wait()
            await asyncio.gather(*(b.stop() for b in self.beamlines))
            self._ctx.destroy(linger=0)

        try:
            loop.run_until_complete(run())
        finally:
            loop.close()

    def call(self, which: int | str, method: str, *args: Any, timeout: float = 5.0,
             **kwargs: Any) -> Any:  # fmt: skip
        """``beamline.method(*args, **kwargs)`` on the host's loop; its return value."""
        beamline = self.beamline(which)
        return self.run(lambda: getattr(beamline, method)(*args, **kwargs), timeout=timeout)

    def run(self, fn: Callable[[], Any], timeout: float = 5.0) -> Any:
        """``fn()`` on the host's loop (thread-safe); its return value."""
        assert self.loop is not None, "start() first"

        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)

    def beamline(self, which: int | str) -> FakeBeamline:
        if isinstance(which, int):
            return self.beamlines[which]
        return next(b for b in self.beamlines if b.name == which)

    def addresses(self) -> list[dict[str, str]]:
        return [{"name": b.name, "control_addr": b.control_addr, "info_addr": b.info_addr}
                for b in self.beamlines]

    def stop(self, timeout: float = 10.0) -> None:
        if self.loop is not None and self._stopped is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> FakeBeamlineHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FakeBeamlineProcess:
    """N fake beamlines in a helper process (``python -m qs_gui.sandbox.fake_beamline``) that
    ends with this one: its own process group, registered with the sandbox's lifeline guardian,
    and it also exits when its stdin (our pipe) closes. For benchmarks, whose own process is
    under measurement."""

    def __init__(self, n: int, *, publish_period: float = 1.0, prefix: str = "FB",
                 startup_timeout: float = 30.0) -> None:  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qs_gui.sandbox.fake_beamline", "--count", str(n),
             "--period", str(publish_period), "--prefix", prefix],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
        guard(self.proc.pid)
        self._lock = threading.Lock()
        try:
            line = self._readline(startup_timeout)
            #: [{"name", "control_addr", "info_addr"}, ...]
            self.beamlines: list[dict[str, str]] = json.loads(line)["beamlines"]
        except BaseException:
            self.close()
            raise

    def _readline(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        done: concurrent.futures.Future = concurrent.futures.Future()
        threading.Thread(target=lambda: done.set_result(self.proc.stdout.readline()),
                         daemon=True).start()
        line = done.result(timeout)
        if not line:
            raise RuntimeError(f"the fake beamlines exited (rc={self.proc.poll()})")
        return line

    def call(self, beamline: str, do: str, *args: Any, timeout: float = 5.0,
             **kwargs: Any) -> float:  # fmt: skip
        """Run a scripted state in the helper; the push's time.monotonic() there (the same
        clock as here on Linux: CLOCK_MONOTONIC is system-wide)."""
        assert self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(json.dumps({"beamline": beamline, "do": do,
                                              "args": list(args), "kwargs": kwargs}) + "\n")
            self.proc.stdin.flush()
            reply = json.loads(self._readline(timeout))
        if not reply.get("ok"):
            raise RuntimeError(reply.get("error", "the fake beamline refused"))
        return float(reply["at"])

    def close(self, timeout: float = 10.0) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()  # the helper ends when its stdin closes
            except OSError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        unguard(self.proc.pid)

    def __enter__(self) -> FakeBeamlineProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    """N fake beamlines in this process: one JSON line of addresses on stdout, then one JSON
    command per stdin line, ``{"beamline": "FB03", "do": "run", "args": ["scan"]}``, each
    answered with one line ``{"ok": true, "at": <monotonic>}`` (or ``{"ok": false, "error"}``).
    Ends when stdin closes (the parent went away) or on ``{"do": "quit"}``."""
    parser = argparse.ArgumentParser(prog="python -m qs_gui.sandbox.fake_beamline")
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--period", type=float, default=1.0, help="status push period (s)")
    parser.add_argument("--prefix", default="FB")
    args = parser.parse_args(argv)
    host = FakeBeamlineHost(args.count, publish_period=args.period, prefix=args.prefix).start()
    try:
        print(json.dumps({"beamlines": host.addresses()}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                command = json.loads(line)
                if command.get("do") == "quit":
                    break
                at = host.call(command["beamline"], command["do"], *command.get("args", []),
                               **command.get("kwargs", {}))
                print(json.dumps({"ok": True, "at": at}), flush=True)
            except Exception as ex:
                print(json.dumps({"ok": False, "error": f"{type(ex).__name__}: {ex}"}),
                      flush=True)
    finally:
        host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
