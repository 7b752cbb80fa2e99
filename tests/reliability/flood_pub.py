"""A PUB socket flooding ``QS_Console`` (and relaying an upstream ``QS_Info``) for flood tests.

Runs as its own process so that publishing 10^5 messages does not compete with the GUI under test
for the GIL. Commands, one per line on stdin:

    burst N console   N console fragments as fast as possible (table rows, "\\n", "\\r" progress)
    burst N garbage   N messages of random frames/bytes (topics QS_Console/QS_Info or junk)
    burst N big       N console fragments of 1 MB each
    burst N huge      N console fragments of 50 MB each
    quit

After each burst it prints ``done N SECONDS``. With ``--upstream ADDR`` every QS_Info the real
server publishes is relayed, interleaved with the flood, so status pushes compete with it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time

import zmq

FRAGMENTS = [
    "\n", "|         1 | 08:34:30.0 |      5.000 |      1.765 |",
    "[I 2026-11-29 08:34:35,181 bluesky_queueserver.manager.worker] The plan was exited.\n",
    "\rprogress 42%", "\x1b[A\rmotor1 [###########     ] 57%\n", "Transient Scan ID: 1\n",
]


def console(i: int) -> list[bytes]:
    text = FRAGMENTS[i % len(FRAGMENTS)] if i % 7 else f"line {i}\n"
    return [b"QS_Console", json.dumps({"time": time.time(), "msg": text}).encode()]


def garbage(rng: random.Random) -> list[bytes]:
    kind = rng.randrange(8)
    blob = rng.randbytes(rng.randrange(0, 200))
    if kind == 0:
        return [blob]
    if kind == 1:
        return [b"QS_Console", blob]
    if kind == 2:
        return [b"QS_Info", blob]
    if kind == 3:
        return [b"QS_Info", json.dumps({"msg": {"status": rng.choice(
            [5, None, [], "idle", {"manager_state": 5}, {"manager_state": None}])}}).encode()]
    if kind == 4:
        return [b"QS_Console", json.dumps({"time": "x", "msg": rng.choice(
            [None, 5, [1], {"a": 1}, "\x00\x1b[999999A\ud7ff"])}).encode()]
    if kind == 5:
        return [b"QS_Console", blob, blob]
    if kind == 6:
        return [b"QS_\xff\xfe", b"{}"]
    return [b"QS_Console", json.dumps([1, 2, 3]).encode()]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream")
    ap.add_argument("--sndhwm", type=int, default=0)
    args = ap.parse_args()
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, args.sndhwm)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(f"tcp://127.0.0.1:{args.port}")
    lock = threading.Lock()
    stop = threading.Event()

    def relay() -> None:
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"QS_Info")
        sub.connect(args.upstream)
        while not stop.is_set():
            if sub.poll(100):
                frames = sub.recv_multipart()
                with lock:
                    pub.send_multipart(frames)
        sub.close(linger=0)

    relay_thread = threading.Thread(target=relay, daemon=True)
    if args.upstream:
        relay_thread.start()
    time.sleep(0.3)
    print("ready", flush=True)
    rng = random.Random(int(os.environ.get("QS_FLOOD_SEED", "1")))
    big = json.dumps({"time": 0.0, "msg": "x" * (1 << 20)}).encode()
    huge = None
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == "quit":
            break
        if parts[0] == "burst":
            n, kind = int(parts[1]), parts[2] if len(parts) > 2 else "console"
            t0 = time.monotonic()
            for i in range(n):
                if kind == "console":
                    frames = console(i)
                elif kind == "big":
                    frames = [b"QS_Console", big]
                elif kind == "huge":
                    huge = huge or json.dumps({"time": 0.0, "msg": "y" * (50 << 20)}).encode()
                    frames = [b"QS_Console", huge]
                else:
                    frames = garbage(rng)
                with lock:
                    pub.send_multipart(frames)
            print(f"done {n} {time.monotonic() - t0:.3f}", flush=True)
    stop.set()
    if relay_thread.is_alive():
        relay_thread.join(2)
    pub.close(linger=0)
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
