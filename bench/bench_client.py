#!/usr/bin/env python
"""Request/reply round trips: qs-gui's client vs bluesky-queueserver-api vs a raw pyzmq floor.

Starts its own sandbox RE Manager, then measures in one run, interleaved in rounds (the order of
the contenders is shuffled every round) so that a noisy machine hurts all of them alike:

- ``status``: ``status(reload=True)`` for both clients; the floor is a raw REQ socket sending
  ``{"method": "status", "params": {}}`` and decoding the reply (blocking pyzmq, and zmq.asyncio
  on the same event loop as the clients, for reference).
- ``item_execute``: a short ``count`` (num=1) with the environment open; between calls the script
  waits (unmeasured) until the manager is idle again; only the request/reply is timed.

Output: ``metric value unit`` lines (median, p95, ratios vs the raw floor and vs the reference).

    .venv/bin/python bench/bench_client.py [--n-status 2000] [--n-exec 20] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import zmq  # noqa: E402
import zmq.asyncio  # noqa: E402
from bluesky_queueserver_api import BPlan as RefBPlan  # noqa: E402
from bluesky_queueserver_api.zmq.aio import REManagerAPI as RefAPI  # noqa: E402
from probe_common import ReqSocket, pct  # noqa: E402

from qs_gui.client import BPlan, REManagerAPI  # noqa: E402
from qs_gui.sandbox import Sandbox  # noqa: E402

ITEM = {"item_type": "plan", "name": "count", "args": [["det1"]], "kwargs": {"num": 1}}
USER, GROUP = "Queue Server API User", "primary"


class RawSync(ReqSocket):
    """The floor: one blocking REQ socket, JSON encode/decode, nothing else."""

    def request(self, method: str, params: dict) -> dict:
        self.sock.send(json.dumps({"method": method, "params": params}).encode())
        return json.loads(self.sock.recv())


class RawAsync(ReqSocket):
    """The same on zmq.asyncio (same event loop as the clients)."""

    context_class = zmq.asyncio.Context

    async def request(self, method: str, params: dict) -> dict:
        await self.sock.send(json.dumps({"method": method, "params": params}).encode())
        return json.loads(await self.sock.recv())


async def close_reference_client(ref: RefAPI) -> None:
    """``ref.close()`` leaves its three 0MQ contexts open (two with open SUB sockets); a context
    finalised by the garbage collector before its socket blocks forever in ``term()``."""
    await ref.close()
    sockets = [ref._client._zmq_socket] + [
        getattr(getattr(m, "_rco", None), "_socket", None)
        for m in (ref._console_monitor, ref._system_info_monitor)]
    for ctx in {s.context for s in sockets if s is not None} | {ref._client._ctx}:
        ctx.destroy(linger=0)


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    t0 = time.perf_counter()
    await call()
    return time.perf_counter() - t0


async def wait_idle(raw: RawSync, timeout: float = 60.0) -> None:
    """Unmeasured: poll status until the manager is idle (the plan has finished)."""
    deadline = time.monotonic() + timeout
    while raw.request("status", {})["manager_state"] != "idle":
        if time.monotonic() > deadline:
            raise RuntimeError("manager did not return to idle")
        await asyncio.sleep(0.01)


def report(metric: str, samples: dict[str, list[float]], floor: str, ref: str) -> None:
    stats = {name: (statistics.median(v), pct(v, 0.95)) for name, v in samples.items()}
    for name, (med, p95) in stats.items():
        print(f"{metric}.{name}.n {len(samples[name])} calls")
        print(f"{metric}.{name}.median {med * 1e3:.3f} ms")
        print(f"{metric}.{name}.p95 {p95 * 1e3:.3f} ms")
    for name, (med, p95) in stats.items():
        if name != floor:
            print(f"{metric}.{name}.median_vs_{floor} {med / stats[floor][0]:.2f} x")
            print(f"{metric}.{name}.p95_vs_{floor} {p95 / stats[floor][1]:.2f} x")
    for name, (med, p95) in stats.items():
        if name not in (ref, floor) and not name.startswith("raw"):
            print(f"{metric}.{name}.median_vs_ref {med / stats[ref][0]:.2f} x")
            print(f"{metric}.{name}.p95_vs_ref {p95 / stats[ref][1]:.2f} x")


async def bench(sb: Sandbox, n_status: int, n_exec: int, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    ours = REManagerAPI(zmq_control_addr=sb.control_addr, zmq_info_addr=sb.info_addr)
    ref = RefAPI(zmq_control_addr=sb.control_addr, zmq_info_addr=sb.info_addr)
    raw, raw_async = RawSync(sb.control_addr), RawAsync(sb.control_addr)

    async def raw_sync_status():
        return raw.request("status", {})

    contenders = {
        "raw": raw_sync_status,
        "raw_asyncio": lambda: raw_async.request("status", {}),
        "qsgui": lambda: ours.status(reload=True),
        "ref": lambda: ref.status(reload=True),
    }
    try:
        # -- status --------------------------------------------------------------------------
        for call in contenders.values():  # warm-up: sockets connected, code paths hot
            for _ in range(100):
                await call()
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        per_round = max(1, n_status // rounds)
        for _ in range(rounds):
            order = list(contenders)
            rng.shuffle(order)
            for name in order:
                for _ in range(per_round):
                    samples[name].append(await timed(contenders[name]))
        report("status_rtt", samples, "raw", "ref")

        # -- item_execute --------------------------------------------------------------------
        sb.environment_open()
        warm = raw.request("queue_item_execute", {"item": ITEM, "user": USER, "user_group": GROUP})
        assert warm["success"], warm
        await wait_idle(raw)

        def check(reply: dict) -> dict:
            if not reply.get("success"):
                raise RuntimeError(f"item_execute failed: {reply.get('msg')}")
            return reply

        async def raw_exec():
            return check(raw.request("queue_item_execute",
                                     {"item": ITEM, "user": USER, "user_group": GROUP}))

        async def ours_exec():
            return check(await ours.item_execute(BPlan("count", ["det1"], num=1)))

        async def ref_exec():
            return check(await ref.item_execute(RefBPlan("count", ["det1"], num=1)))

        exec_contenders = {"raw": raw_exec, "qsgui": ours_exec, "ref": ref_exec}
        exec_samples: dict[str, list[float]] = {name: [] for name in exec_contenders}
        for _ in range(n_exec):
            order = list(exec_contenders)
            rng.shuffle(order)
            for name in order:
                await wait_idle(raw)
                exec_samples[name].append(await timed(exec_contenders[name]))
        await wait_idle(raw)
        report("item_execute_rtt", exec_samples, "raw", "ref")
    finally:
        await ours.close()
        await close_reference_client(ref)
        raw.close()
        raw_async.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-status", type=int, default=2000, help="status calls per contender")
    ap.add_argument("--n-exec", type=int, default=20, help="item_execute calls per contender")
    ap.add_argument("--rounds", type=int, default=20, help="interleaving rounds for status")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    sb = Sandbox(publish_console=False, open_environment=False)
    try:
        sb.start()
        print(f"# sandbox {sb.control_addr} ready in {time.monotonic() - t0:.2f} s; "
              f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}; pyzmq {zmq.__version__}")
        asyncio.run(bench(sb, args.n_status, args.n_exec, args.rounds, args.seed))
    finally:
        sb.stop()
    print(f"# total {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
