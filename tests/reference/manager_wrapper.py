"""``start-re-manager`` and ``uvicorn`` as the reference suite's fixtures run them, kept on
loopback and private, and ending with the run.

Put first on PATH (as generated ``start-re-manager`` and ``uvicorn`` shims that run this file)
while the reference suite runs. As ``start-re-manager`` it rewrites the command line so that
every bind is on 127.0.0.1 (``tcp://*:60615`` -> ``tcp://127.0.0.1:60615``; the default
control/info addresses and the IPython kernel address are given explicitly) and Redis is the
private one (``QS_REF_REDIS_ADDR``), then runs the real ``start-re-manager``
(``QS_REF_REAL_MANAGER``). As ``uvicorn`` (the suite's gateway fixtures start
bluesky-httpserver with ``--host=localhost``) it runs the real one (``QS_REF_REAL_UVICORN``)
with the arguments as given. Either runs in a process group of its own, waited for.

The program's processes end with this one, and this one ends with pytest however pytest dies:
the kernel sends SIGTERM here when the parent dies (PR_SET_PDEATHSIG), and SIGTERM/SIGINT stop
the whole group (SIGTERM, then SIGKILL after a grace period). The group id is recorded in
``QS_REF_RUN_DIR/groups`` while it runs, so the runner can check at the end that none is left.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"
GRACE = 5.0
#: option -> default address (the manager's own defaults bind all interfaces)
ADDRESS_OPTIONS = {
    "--zmq-control-addr": f"tcp://{LOOPBACK}:60615",
    "--zmq-info-addr": f"tcp://{LOOPBACK}:60625",
}
ALIASES = {"--zmq-addr": "--zmq-control-addr", "--zmq-publish-console-addr": "--zmq-info-addr"}
_prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)  # Linux; before any fork


def loopback(address: str) -> str:
    """``tcp://*:P``, ``tcp://0.0.0.0:P`` or ``tcp://localhost:P`` -> ``tcp://127.0.0.1:P``."""
    scheme, sep, rest = address.partition("://")
    host, colon, port = rest.rpartition(":")
    if sep and colon and host in ("*", "0.0.0.0", "localhost", ""):
        return f"{scheme}://{LOOPBACK}:{port}"
    return address


def rewrite(args: list[str], redis_addr: str) -> list[str]:
    """The real manager's arguments: loopback binds, private Redis, explicit kernel address."""
    out: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        canonical = ALIASES.get(name, name)
        if canonical in ADDRESS_OPTIONS:
            if not eq and i + 1 < len(args):
                i += 1
                value = args[i]
            out.append(f"{name}={loopback(value)}")
            seen.add(canonical)
        else:
            out.append(arg)
            seen.add(name)
        i += 1
    out += [f"{opt}={default}" for opt, default in ADDRESS_OPTIONS.items() if opt not in seen]
    if "--redis-addr" not in seen:
        out.append(f"--redis-addr={redis_addr}")
    if "--ipython-kernel-ip" not in seen:
        out.append(f"--ipython-kernel-ip={LOOPBACK}")
    return out


def parent_death_signal() -> None:
    """Have the kernel send SIGTERM to this process when its parent dies (PR_SET_PDEATHSIG);
    also usable as a ``preexec_fn``. Linux only: elsewhere a crash of pytest can leave them."""
    if _prctl is not None:
        _prctl(1, signal.SIGTERM)


def die_with_parent() -> None:
    """SIGTERM to this process when its parent (pytest) dies; exit now if it already has."""
    parent = os.getppid()
    parent_death_signal()
    if os.getppid() != parent:
        sys.exit(1)


def group_alive(pgid: int) -> bool:
    """True while a process of group ``pgid`` runs (zombies do not count: where PID 1 reaps
    slowly, they would hold a stop for the whole grace period)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def stop_group(pgid: int) -> None:
    """SIGTERM the group, SIGKILL what is left after GRACE seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not group_alive(pgid):
            return
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + GRACE
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)  # foreign processes exiting, not a test synchronisation


def command(name: str, args: list[str]) -> list[str]:
    """The real program and its arguments, for the shim ``name`` run with ``args``."""
    if name == "uvicorn":
        return [os.environ["QS_REF_REAL_UVICORN"], *args]
    return [os.environ["QS_REF_REAL_MANAGER"], *rewrite(args, os.environ["QS_REF_REDIS_ADDR"])]


def main(name: str) -> int:
    die_with_parent()
    env = dict(os.environ, MPLBACKEND=os.environ.get("MPLBACKEND", "Agg"))
    proc = subprocess.Popen(command(name, sys.argv[1:]), env=env,
                            start_new_session=True)
    record = Path(os.environ["QS_REF_RUN_DIR"]) / "groups" / str(proc.pid)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.touch()

    def on_signal(signum: int, _frame: object) -> None:
        stop_group(proc.pid)
        record.unlink(missing_ok=True)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    code = proc.wait()
    stop_group(proc.pid)  # the watchdog is gone; anything left of its group goes too
    record.unlink(missing_ok=True)
    return code


if __name__ == "__main__":
    sys.exit(main(globals().get("SHIM", "start-re-manager")))  # set by the shim
