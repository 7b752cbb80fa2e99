#!/usr/bin/env python
"""A naive console (a subprocess of bench_consoles.py): polls the status every second and re-reads
the whole history on every ``plan_history_uid`` change, waiting as long as the server takes.

This is what a GUI does when it treats ``history_get`` as cheap; the benchmark runs five of them
next to five qs-gui windows to show what the history policy saves the server. Raw pyzmq only.
"""

from __future__ import annotations

import argparse
import json
import time

import zmq

#: a history read is awaited this long (a 100k read takes the server 3-9 s; a manager restarted
#: by its watchdog never answers it)
READ_TIMEOUT = 30.0
POLL_PERIOD = 1.0


class Console:
    def __init__(self, address: str) -> None:
        self.address = address
        self.ctx = zmq.Context()
        self.sock: zmq.Socket | None = None

    def request(self, method: str, timeout: float) -> dict | None:
        """The reply, or None when none came within ``timeout`` (the socket is then replaced)."""
        if self.sock is None:
            self.sock = self.ctx.socket(zmq.REQ)
            self.sock.setsockopt(zmq.LINGER, 0)
            self.sock.connect(self.address)
        self.sock.send(json.dumps({"method": method, "params": {}}).encode())
        if self.sock.poll(int(timeout * 1000)):
            return json.loads(self.sock.recv())
        self.sock.close(linger=0)
        self.sock = None
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--control-addr", required=True)
    ap.add_argument("--duration", type=float, required=True)
    args = ap.parse_args()
    console = Console(args.control_addr)
    seen_uid = None
    reads = answered = 0
    end = time.monotonic() + args.duration
    while time.monotonic() < end:
        t0 = time.monotonic()
        status = console.request("status", timeout=READ_TIMEOUT)
        uid = status.get("plan_history_uid") if status else None
        if uid is not None and uid != seen_uid:
            reads += 1
            if console.request("history_get", timeout=READ_TIMEOUT) is not None:
                answered += 1
                seen_uid = uid
        time.sleep(max(0.0, POLL_PERIOD - (time.monotonic() - t0)))
    print(f"history_reads {reads} requests", flush=True)
    print(f"history_answered {answered} requests", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
