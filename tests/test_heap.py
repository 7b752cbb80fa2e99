"""qs_gui.heap: after one big reply, freed megabyte buffers still go back to the system."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")

# What a history load does to the heap: a big buffer freed (a 10k queue's reply, the list of a
# 100k history's slices), then megabyte-sized transient buffers allocated between objects that
# live on, then freed. Prints whether the pin took and the MB given back to the system.
SCRIPT = """
import sys
from qs_gui.heap import pin_mmap_threshold
pinned = pin_mmap_threshold() if sys.argv[1] == "pin" else False

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

reply = bytearray(16 << 20); del reply  # glibc raises its threshold to its size (<= 32 MB)
live, buffers = [], []
for _ in range(60):
    buffers.append(bytearray(1 << 20))
    live.append(bytearray(2000))  # malloc'd (over pymalloc's 512 B), kept
before = rss_mb()
del buffers
print(pinned, round(before - rss_mb()))
"""


def run(mode: str, **env: str) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=60, check=True).stdout.split()
    return out[0] == "True", int(out[1])


def test_pinned_threshold_returns_freed_buffers_after_a_big_reply():
    pinned, returned = run("pin")
    assert pinned
    assert returned >= 50  # all 60 MB, give or take the allocator's rounding


def test_without_it_the_freed_buffers_stay_in_the_process():
    """The reason for the module: glibc's dynamic threshold keeps them (if this starts failing,
    the C library no longer does that and the pin can go)."""
    pinned, returned = run("default")
    assert not pinned
    assert returned <= 10


def test_a_threshold_chosen_by_the_user_is_left_alone():
    pinned, _ = run("pin", MALLOC_MMAP_THRESHOLD_="65536")
    assert not pinned
