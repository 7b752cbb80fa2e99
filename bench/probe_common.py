"""Pieces shared by the GUI probes and the benchmark parents.

Imports only the standard library and pyzmq, so that it works in the project's venv (qs-gui's
``gui_probe.py``, ``_benchlib.py``, ``bench_client.py``) and in ``bench/.venv-peers``
(``peer_probe.py``, which must never import qs_gui). The probes are run as scripts, so
``bench/`` is ``sys.path[0]`` and ``import probe_common`` finds this file.

* ``out`` / ``note``: the ``metric value unit`` and ``# ...`` lines the parents relay;
* ``pct``, ``max_gap``, ``rss_mb`` / ``out_rss``: the statistics every probe reports;
* ``ReqSocket`` / ``OtherClient``: a blocking REQ socket to the RE Manager ("another client");
* ``probe_parser`` / ``parse_args``: the command-line options every probe accepts.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import time

import zmq

COUNT = {"item_type": "plan", "name": "count", "args": [["det1"]], "kwargs": {"num": 1}}


def out(metric: str, value: float, unit: str) -> None:
    print(f"{metric} {value:.6g} {unit}", flush=True)


def note(text: str) -> None:
    print(f"# {text}", flush=True)


def pct(values, q):
    """Linear-interpolation percentile of ``values`` (``q`` in [0, 1]); NaN when empty."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def max_gap(ticks: list[float], t0: float, t1: float) -> float:
    """Largest gap between heartbeat ticks in [t0, t1] (ms), counting the edges."""
    edges = [t0, *(t for t in ticks if t0 <= t <= t1), t1]
    return max(b - a for a, b in zip(edges, edges[1:], strict=False)) * 1e3


def rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process, in MB."""
    rss = hwm = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


def out_rss(prefix: str) -> None:
    """Print ``<prefix>.rss`` and ``<prefix>.rss_peak`` (MB)."""
    rss, hwm = rss_mb()
    out(f"{prefix}.rss", rss, "MB")
    out(f"{prefix}.rss_peak", hwm, "MB")


class ReqSocket:
    """One REQ socket (LINGER 0) connected to ``address``, with its own context."""

    context_class: type = zmq.Context

    def __init__(self, address: str):
        self.ctx = self.context_class()
        self.sock = self.ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(address)

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()


class OtherClient(ReqSocket):
    """Another client of the same server: blocking REQ socket, used from a worker thread."""

    def request(self, method: str, params: dict | None = None,
                timeout: float = 60.0) -> tuple[dict, float, float]:
        """Send and wait for the reply: (reply, monotonic send time, monotonic reply time)."""
        t_send = time.monotonic()
        self.sock.send(json.dumps({"method": method, "params": params or {}}).encode())
        if not self.sock.poll(int(timeout * 1000)):
            raise TimeoutError(method)
        reply = json.loads(self.sock.recv())
        return reply, t_send, time.monotonic()


def probe_parser(hard_timeout: float) -> argparse.ArgumentParser:
    """The options every probe takes (the parent passes the first four)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--control-addr", required=True)
    ap.add_argument("--info-addr", required=True)
    ap.add_argument("--expect-queue", type=int, required=True)
    ap.add_argument("--expect-history", type=int, required=True)
    ap.add_argument("--load-timeout", type=float, default=120)
    ap.add_argument("--item-changes", type=int, default=0)
    ap.add_argument("--idle", type=float, default=0)
    ap.add_argument("--hard-timeout", type=float, default=hard_timeout,
                    help="dump every thread's stack and exit after this many seconds")
    return ap


def parse_args(ap: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the probe's options and arm ``--hard-timeout`` (stacks dumped, process exits)."""
    args = ap.parse_args()
    faulthandler.dump_traceback_later(args.hard_timeout, exit=True)
    return args
