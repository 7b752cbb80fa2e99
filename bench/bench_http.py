#!/usr/bin/env python
"""HTTP (bluesky-httpserver) round trips: qs-gui's HTTP client vs bluesky-queueserver-api's
HTTP client vs a bare ``httpx.AsyncClient`` request (the floor), all measured in one run.

Starts its own ``Sandbox(http="single")`` (RE Manager + Redis + the gateway on loopback) and
measures, interleaved in shuffled rounds so that a noisy machine hurts every contender alike:

1. ``status``: ``status(reload=True)`` for both clients; floor = ``GET /api/status`` with body
   ``{}`` and the API key, reply decoded.
2. ``item_execute``: ``count`` of det1, num=1, environment open; between calls the script waits
   (unmeasured, over 0MQ) until the manager is idle again.
3. push latency: another client (a thread with its own 0MQ socket, as in bench_gui) locks and
   unlocks the environment; measured from its request send to (a) the status arriving through
   qs-gui's ``api.info_monitor()`` feed (WebSocket ``/api/status/ws``) and (b) ``compute_gates``
   giving Execute now the new state, and the same through polling ``GET /api/status`` every
   0.1 s with qs-gui's client (``status(reload=True)``, which sends no body: the gateway then
   answers from its own status cache, refreshed at most every 0.4 s) and with a bare request
   whose body is ``{"reload": true}`` (the gateway asks RE Manager). All three watchers run
   in the same trials.
4. 10k queue + 10k history: queue seeded with ``queue_item_add_batch`` (chunks of 500, 0MQ),
   history written into Redis (``_benchlib.seed_history``); then the first fetch of both by a
   fresh client (qs-gui, reference: ``queue_get`` + ``history_get``, each of which also asks
   for the status; floor: the two bare GETs) and the server's own time over 0MQ; then the GUI's
   first display of both tables over 0MQ (``gui_probe.py``) and over HTTP
   (``http_gui_probe.py``), alternating.

Output: ``metric value unit`` lines (p50, p90, ratios vs the floor and vs the reference).

    .venv/bin/python bench/bench_http.py [--quick] [--n-status 300] [--n-exec 40] ...
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from _benchlib import (  # noqa: E402
    BENCH_DIR,
    probe_args,
    run_probe,
    seed_history,
    seed_queue,
    server_fetch_time,
    watchdog_restarts,
)
from bluesky_queueserver_api import BPlan as RefBPlan  # noqa: E402
from bluesky_queueserver_api.http.aio import REManagerAPI as RefAPI  # noqa: E402
from probe_common import pct  # noqa: E402

from qs_gui.client import BPlan  # noqa: E402
from qs_gui.client.http import REManagerAPI  # noqa: E402
from qs_gui.client.monitor import STATUS_TOPIC  # noqa: E402
from qs_gui.core.gates import Action, Connection, GateInputs, compute_gates  # noqa: E402
from qs_gui.sandbox import Sandbox  # noqa: E402

ITEM = {"item_type": "plan", "name": "count", "args": [["det1"]], "kwargs": {"num": 1}}
OTHER_KEY = "bench-http-other"


def ms(x: float) -> str:
    return f"{x * 1e3:.3f}"


def report(metric: str, samples: dict[str, list[float]], floor: str | None, ref: str | None,
           ) -> None:
    stats = {name: (pct(v, 0.5), pct(v, 0.9)) for name, v in samples.items() if v}
    for name, (p50, p90) in stats.items():
        print(f"{metric}.{name}.n {len(samples[name])} calls")
        print(f"{metric}.{name}.p50 {ms(p50)} ms")
        print(f"{metric}.{name}.p90 {ms(p90)} ms")
    for base in (floor, ref):
        if base not in stats:
            continue
        for name, (p50, p90) in stats.items():
            if name not in (floor, base):
                tag = "floor" if base == floor else "ref"
                print(f"{metric}.{name}.p50_vs_{tag} {p50 / stats[base][0]:.2f} x")
                print(f"{metric}.{name}.p90_vs_{tag} {p90 / stats[base][1]:.2f} x")
    sys.stdout.flush()


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    t0 = time.perf_counter()
    await call()
    return time.perf_counter() - t0


class Bare:
    """The floor: one ``httpx.AsyncClient`` with the key; body ``{}``; the reply decoded."""

    def __init__(self, uri: str, key: str):
        self.client = httpx.AsyncClient(base_url=uri, timeout=30.0,
                                        headers={"Authorization": f"ApiKey {key}"})

    async def call(self, verb: str, path: str, body: dict | None = None) -> dict:
        r = await self.client.request(verb, path, json=body if body is not None else {})
        r.raise_for_status()
        return r.json()

    async def aclose(self) -> None:
        await self.client.aclose()


def ours_client(sb: Sandbox) -> REManagerAPI:
    api = REManagerAPI(http_server_uri=sb.http_uri)
    api.set_authorization_key(api_key=sb.http_api_key)
    return api


def ref_client(sb: Sandbox) -> RefAPI:
    api = RefAPI(http_server_uri=sb.http_uri)
    api.set_authorization_key(api_key=sb.http_api_key)
    return api


async def wait_idle(sb: Sandbox, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        st = await asyncio.to_thread(sb.request, "status")
        if st["manager_state"] == "idle":
            return
        if time.monotonic() > deadline:
            raise RuntimeError("manager did not return to idle")
        await asyncio.sleep(0.01)


def check(reply: dict) -> dict:
    if not reply.get("success"):
        raise RuntimeError(f"request failed: {reply.get('msg')}")
    return reply


async def interleaved(contenders: dict[str, Callable[[], Awaitable[object]]], n: int,
                      rounds: int, rng: random.Random,
                      between: Callable[[], Awaitable[None]] | None = None,
                      ) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    per_round = max(1, n // rounds)
    for _ in range(rounds):
        order = list(contenders)
        rng.shuffle(order)
        for name in order:
            for _ in range(per_round):
                if between is not None:
                    await between()
                samples[name].append(await timed(contenders[name]))
    return samples


# -- 1 + 2 -------------------------------------------------------------------------------------
async def round_trips(sb: Sandbox, args: argparse.Namespace, rng: random.Random) -> None:
    ours, ref, bare = ours_client(sb), ref_client(sb), Bare(sb.http_uri, sb.http_api_key)
    try:
        status = {
            "bare_httpx": lambda: bare.call("GET", "/api/status"),
            "qsgui": lambda: ours.status(reload=True),
            "ref": lambda: ref.status(reload=True),
        }
        for call in status.values():  # warm-up: connections open, code paths hot
            for _ in range(30):
                await call()
        report("status_rtt", await interleaved(status, args.n_status, args.rounds, rng),
               "bare_httpx", "ref")

        await asyncio.to_thread(sb.environment_open)
        await wait_idle(sb)

        async def bare_exec():
            return check(await bare.call("POST", "/api/queue/item/execute", {"item": ITEM}))

        async def ours_exec():
            return check(await ours.item_execute(BPlan("count", ["det1"], num=1)))

        async def ref_exec():
            return check(await ref.item_execute(RefBPlan("count", ["det1"], num=1)))

        execute = {"bare_httpx": bare_exec, "qsgui": ours_exec, "ref": ref_exec}
        for call in execute.values():
            await call()
            await wait_idle(sb)
        samples = await interleaved(execute, args.n_exec, args.n_exec, rng,
                                    between=lambda: wait_idle(sb))
        await wait_idle(sb)
        report("item_execute_rtt", samples, "bare_httpx", "ref")
    finally:
        await ours.close()
        await ref.close()
        await bare.aclose()


# -- 3 -----------------------------------------------------------------------------------------
def execute_now_enabled(status: dict) -> bool:
    gates = compute_gates(GateInputs(connection=Connection.CONNECTED, status=status))
    return gates[Action.EXECUTE_NOW].enabled


def env_locked(status: dict) -> bool:
    return bool((status.get("lock") or {}).get("environment"))


async def push_latency(sb: Sandbox, args: argparse.Namespace, rng: random.Random) -> None:
    ours = ours_client(sb)
    poller = ours_client(sb)  # its own connection: the poll never waits behind anything else
    feed = ours.info_monitor(topics=(STATUS_TOPIC,))
    feed.start()
    events: dict[str, list] = {"push": [], "poll": []}  # (monotonic, locked, gate enabled)
    stop = asyncio.Event()

    async def watch_push():
        while not stop.is_set():
            m = await feed.next(timeout=0.5)
            st = m.status if m is not None else None
            if st is not None:
                locked = env_locked(st)
                events["push"].append((m.received, locked, execute_now_enabled(st),
                                       time.monotonic()))

    async def watch_poll():
        while not stop.is_set():
            t_next = time.monotonic() + 0.1
            st = await poller.status(reload=True)
            t_got = time.monotonic()
            events["poll"].append((t_got, env_locked(st), execute_now_enabled(st), t_got))
            await asyncio.sleep(max(0.0, t_next - time.monotonic()))

    async def watch_poll_reload():
        # The gateway answers GET /api/status from its own 0MQ client's status cache (0.4 s
        # expiration, bluesky_httpserver/app.py) unless the body says {"reload": true}.
        while not stop.is_set():
            t_next = time.monotonic() + 0.1
            st = await bare.call("GET", "/api/status", {"reload": True})
            t_got = time.monotonic()
            events["poll_reload"].append((t_got, env_locked(st), execute_now_enabled(st), t_got))
            await asyncio.sleep(max(0.0, t_next - time.monotonic()))

    bare = Bare(sb.http_uri, sb.http_api_key)
    events["poll_reload"] = []
    kinds = ("push", "poll", "poll_reload")
    tasks = [asyncio.create_task(w()) for w in (watch_push, watch_poll, watch_poll_reload)]
    res: dict[str, list[float]] = {f"{k}_{w}": [] for k in kinds for w in ("received", "gate")}
    res["other_reply"] = []
    try:
        await wait_idle(sb)
        deadline = time.monotonic() + 15
        while not events["push"]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no status push over the WebSocket ({feed.error})")
            await asyncio.sleep(0.05)
        print(f"# push: first status frame after {feed.received} frames; "
              f"connected readers {feed.connected}", flush=True)
        for i in range(args.n_push):
            locking = i % 2 == 0
            params = {"lock_key": OTHER_KEY}
            if locking:
                params.update(environment=True, note="bench", user="other")
            marks = {k: len(v) for k, v in events.items()}
            t_send = time.monotonic()
            reply = await asyncio.to_thread(sb.request, "lock" if locking else "unlock", params)
            res["other_reply"].append(time.monotonic() - t_send)
            check(reply)
            t_end = time.monotonic() + 5
            found: dict[str, tuple] = {}
            while len(found) < len(kinds) and time.monotonic() < t_end:
                for k in kinds:
                    if k not in found:
                        hit = next((e for e in events[k][marks[k]:] if e[1] == locking), None)
                        if hit is not None:
                            found[k] = hit
                await asyncio.sleep(0.001)
            for k in kinds:
                if k not in found:
                    raise RuntimeError(f"{k}: no status with lock={locking} within 5 s")
                t_recv, _, enabled, t_gate = found[k]
                if enabled != (not locking):
                    raise RuntimeError(f"{k}: Execute now gate {enabled} with lock={locking}")
                res[f"{k}_received"].append(t_recv - t_send)
                res[f"{k}_gate"].append(t_gate - t_send)
            await asyncio.sleep(0.15 + rng.random() * 0.1)
        report("push_from_send", {k: v for k, v in res.items() if k != "other_reply"}, None, None)
        report("push_from_send", {"other_client_reply": res["other_reply"]}, None, None)
        for poll in ("poll", "poll_reload"):
            for k in ("received", "gate"):
                print(f"push_from_send.{poll}_{k}.p50_vs_push "
                      f"{pct(res[f'{poll}_{k}'], 0.5) / pct(res[f'push_{k}'], 0.5):.1f} x")
        print(f"push.ws_frames {feed.received} frames; malformed {feed.malformed}", flush=True)
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await ours.close()
        await poller.close()
        await bare.aclose()


# -- 4 -----------------------------------------------------------------------------------------
async def bulk_fetch(sb: Sandbox, args: argparse.Namespace, rng: random.Random) -> None:
    """First fetch of the 10k queue + 10k history by a fresh client of each kind."""
    failures: dict[str, list[str]] = {}

    async def guard(name: str, coro: Awaitable[object]) -> bool:
        try:
            await coro
            return True
        except Exception as ex:  # noqa: BLE001 - reported, e.g. 408 from the gateway
            failures.setdefault(name, []).append(f"{type(ex).__name__}: {str(ex)[:160]}")
            return False

    async def fresh(kind: str) -> dict[str, float]:
        if kind == "bare_httpx":
            c = Bare(sb.http_uri, sb.http_api_key)
            q = lambda: c.call("GET", "/api/queue/get")  # noqa: E731
            h = lambda: c.call("GET", "/api/history/get")  # noqa: E731
        else:
            c = ours_client(sb) if kind == "qsgui" else ref_client(sb)
            q = lambda: c.queue_get(reload=True)  # noqa: E731
            h = lambda: c.history_get(reload=True)  # noqa: E731
        try:
            t0 = time.perf_counter()
            ok_q = await guard(kind, q())
            t1 = time.perf_counter()
            ok_h = await guard(kind, h())
            t2 = time.perf_counter()
            out = {}
            if ok_q:
                out["queue_get"] = t1 - t0
            if ok_h:
                out["history_get"] = t2 - t1
            if ok_q and ok_h:
                out["both"] = t2 - t0
            return out
        finally:
            await (c.aclose() if kind == "bare_httpx" else c.close())

    kinds = ["bare_httpx", "qsgui", "ref"]
    for kind in kinds:  # warm-up (imports, first connection)
        await fresh(kind)
    samples: dict[str, dict[str, list[float]]] = {p: {k: [] for k in kinds}
                                                  for p in ("queue_get", "history_get", "both")}
    for _ in range(args.n_bulk):
        rng.shuffle(kinds)
        for kind in kinds:
            for part, v in (await fresh(kind)).items():
                samples[part][kind].append(v)
    for part, s in samples.items():
        report(f"bulk_10k.{part}", s, "bare_httpx", "ref")
    for kind, msgs in failures.items():
        print(f"bulk_10k.{kind}.failures {len(msgs)} count", flush=True)
        for text in sorted(set(msgs)):
            print(f"# bulk_10k {kind} failure: {text}", flush=True)


def gui_first_display(sb: Sandbox, args: argparse.Namespace, n_queue: int,
                      n_history: int) -> None:
    common = probe_args(sb, n_queue, n_history) + ["--load-timeout", "60"]
    zmq_cmd = (BENCH_DIR / "gui_probe.py", common + ["--settle", "1"])
    http_cmd = (BENCH_DIR / "http_gui_probe.py", common + ["--http-uri", sb.http_uri])
    env = {"QSERVER_HTTP_SERVER_API_KEY": sb.http_api_key}
    keys = ("load.first_display_from_window", "startup.status_painted_from_window",
            "load.stall_max", "load.failures")
    got: dict[str, dict[str, list[float]]] = {"zmq": {}, "http": {}}
    for i in range(args.n_gui):
        for label in (("zmq", "http") if i % 2 == 0 else ("http", "zmq")):
            script, a = zmq_cmd if label == "zmq" else http_cmd
            m = run_probe(sys.executable, script, a, prefix=f"gui.{label}.{i}", timeout=180,
                          env=env if label == "http" else None)
            for k in keys:
                if k in m:
                    got[label].setdefault(k, []).append(m[k][0])
    for k in keys:
        z, h = got["zmq"].get(k, []), got["http"].get(k, [])
        if z and h:
            print(f"gui.{k}.zmq_p50 {pct(z, 0.5):.1f}")
            print(f"gui.{k}.http_p50 {pct(h, 0.5):.1f}")
            if k == "load.first_display_from_window" and pct(z, 0.5) > 0:
                print(f"gui.{k}.http_vs_zmq {pct(h, 0.5) / pct(z, 0.5):.2f} x")
    sys.stdout.flush()


async def gateway_ready(sb: Sandbox, timeout: float = 60.0) -> None:
    """After a manager restart: the gateway answers status from the new manager."""
    bare = Bare(sb.http_uri, sb.http_api_key)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                st = await bare.call("GET", "/api/status")
                if st.get("manager_state") == "idle":
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway does not reach the restarted manager")
            await asyncio.sleep(0.2)
    finally:
        await bare.aclose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small n everywhere (a smoke run)")
    ap.add_argument("--n-status", type=int, default=300, help="status calls per contender")
    ap.add_argument("--n-exec", type=int, default=40, help="item_execute calls per contender")
    ap.add_argument("--n-push", type=int, default=30, help="lock/unlock toggles")
    ap.add_argument("--n-bulk", type=int, default=8, help="fresh-client bulk fetches per kind")
    ap.add_argument("--n-gui", type=int, default=3, help="GUI first displays per transport")
    ap.add_argument("--queue", type=int, default=10_000)
    ap.add_argument("--history", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=10, help="interleaving rounds for status")
    ap.add_argument("--no-gui", action="store_true", help="skip the GUI first-display part")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.quick:
        args.n_status, args.n_exec, args.n_push, args.n_bulk, args.n_gui = 40, 6, 6, 1, 1
        args.queue, args.history, args.rounds = 1000, 1000, 4
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    import bluesky_httpserver
    import bluesky_queueserver_api

    with Sandbox(http="single", open_environment=False) as sb:
        print(f"# sandbox {sb.control_addr}, gateway {sb.http_uri} ready in "
              f"{time.monotonic() - t0:.2f} s; {os.cpu_count()} CPUs; python "
              f"{sys.version.split()[0]}; bluesky-httpserver {bluesky_httpserver.__version__}; "
              f"bluesky-queueserver-api {bluesky_queueserver_api.__version__}; "
              f"httpx {httpx.__version__}", flush=True)
        asyncio.run(round_trips(sb, args, rng))
        asyncio.run(push_latency(sb, args, rng))
        print(f"# seeding: history {args.history} in {seed_history(sb, args.history):.1f} s "
              "(Redis + manager restart)", flush=True)
        asyncio.run(gateway_ready(sb))
        print(f"# seeding: queue {args.queue} in "
              f"{seed_queue(sb, args.queue, chunk=500):.1f} s (0MQ, chunks of 500)", flush=True)
        st = sb.request("status")
        n_queue, n_history = st["items_in_queue"], st["items_in_history"]
        print(f"# queue {n_queue}, history {n_history}", flush=True)
        for method in ("queue_get", "history_get"):
            s = server_fetch_time(sb.control_addr, method, repeat=5)
            print(f"bulk_10k.server_0mq.{method} {s['time'] * 1e3:.1f} ms "
                  f"({s['bytes']} bytes, max {s['max'] * 1e3:.1f} ms, lost {s['lost']})")
        asyncio.run(bulk_fetch(sb, args, rng))
        if not args.no_gui:
            gui_first_display(sb, args, n_queue, n_history)
        print(f"# watchdog restarts of the manager: {watchdog_restarts(sb)}")
        threading.Event().wait(0)  # nothing left running of ours but the sandbox
    print(f"# total {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
