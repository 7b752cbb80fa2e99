"""Keep big transient buffers out of the C heap, so memory they used goes back to the system.

glibc's malloc serves a request above ``M_MMAP_THRESHOLD`` (128 KiB) with a mapping of its own,
unmapped on free. But the threshold is dynamic: freeing such a block raises it to that block's
size (blocks up to 32 MiB). A few megabytes freed once (a 10,000-item queue's reply, the list
of a history's slices) are enough: from then on every buffer below that size (the decoder's
512 KB slices, the transient lists of a reload, Qt's row vectors) comes from the main heap,
between objects that live on, and the space freed around them stays with the process. With a
100,000-item history, ``bench/bench_gui.py --scenario large`` measured 245 MB RSS after the load
with the dynamic threshold and 200 MB with it pinned (docs/performance.md §5.1).

Setting the threshold with ``mallopt`` pins it (glibc then stops adjusting it). Done once, by the
GUI's entry point; a threshold chosen by the user (``MALLOC_MMAP_THRESHOLD_`` or
``GLIBC_TUNABLES``) is left alone, and other C libraries are not touched.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["MMAP_THRESHOLD", "pin_mmap_threshold"]

#: glibc's default before any adjustment: blocks this big or bigger get their own mapping
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # <malloc.h>


def pin_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """Pin glibc's mmap threshold at ``size`` bytes; True if it was set by this call."""
    if not sys.platform.startswith("linux"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "mmap_threshold" in os.environ.get(
            "GLIBC_TUNABLES", ""):
        return False  # the user's choice
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, size) == 1
