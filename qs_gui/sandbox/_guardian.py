"""The lifeline guardian: run as ``python -I -S _guardian.py`` with a pipe on stdin.

The parent writes ``+PGID`` / ``-PGID`` lines as it starts and stops process groups. When stdin
reaches end-of-file the parent is gone — however it went: clean exit, exception, ``abort()`` or
``kill -9``, because the kernel closes its end of the pipe in every case — and the guardian
terminates every group still registered, then exits. Standard library only, no imports from
qs_gui, so that it starts in a few milliseconds and cannot fail on a half-installed package.
"""

from __future__ import annotations

import os
import signal
import sys
import time

GRACE = 3.0  # seconds between SIGTERM and SIGKILL


def group_alive(pgid: int) -> bool:
    """True while any non-zombie process of group ``pgid`` exists."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def terminate(groups: set[int]) -> None:
    """SIGTERM every group, wait up to GRACE for them to go, then SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pgid in groups:
            try:
                os.killpg(pgid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + GRACE
        while time.monotonic() < deadline:
            groups = {g for g in groups if group_alive(g)}
            if not groups:
                return
            time.sleep(0.05)


class _Stop(Exception):
    """SIGTERM to the guardian: clean up as if the parent had gone."""


def _stop(*_: object) -> None:
    raise _Stop


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for the parent, which tells us
    signal.signal(signal.SIGTERM, _stop)
    groups: set[int] = set()
    stdin = sys.stdin.buffer
    try:
        for line in iter(stdin.readline, b""):
            try:
                sign, pgid = line[:1], int(line[1:])
            except ValueError:
                continue
            if sign == b"+":
                groups.add(pgid)
            elif sign == b"-":
                groups.discard(pgid)
    except _Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if groups:
        terminate(groups)


if __name__ == "__main__":
    main()
