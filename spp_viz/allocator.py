"""glibc malloc settings for a long-running app process (Linux; a no-op elsewhere).

Why: a backbone forward on a 1-2 MP image allocates and frees hundreds of MB of activations,
from several threads (torch's intra-op pool, Streamlit's script threads). With glibc's
defaults each thread may get its own arena (up to 8 x cores), and the mmap threshold rises
dynamically after the first large free (up to 32 MB), so later large tensors come from the
arenas' heaps, which are rarely given back to the system: RSS then wanders up and down by
gigabytes between uploads that each need a few hundred MB (``benchmarks/soak.py``).

:func:`tune` fixes both, once, through ``mallopt`` (the same knobs as the environment variables
``MALLOC_ARENA_MAX`` and ``MALLOC_MMAP_THRESHOLD_``, which only work when set before Python
starts): at most :data:`ARENA_MAX` arenas, and a FIXED mmap threshold so every large tensor is
its own mapping, unmapped on free. :func:`release` collects reference cycles and hands the
arenas' free pages back (``malloc_trim(0)``), once per new image.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from functools import cache

ARENA_MAX = 2
MMAP_THRESHOLD = 1 << 20  # 1 MiB: every tensor at least this big is mmapped and unmapped on free
_M_MMAP_THRESHOLD = -3  # glibc malloc.h
_M_ARENA_MAX = -8


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018  (glibc only: musl has no mallopt/malloc_trim)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


@cache
def tune() -> bool:
    """Apply the arena and mmap-threshold settings once per process; False when not glibc."""
    libc = _libc()
    if libc is None:
        return False
    ok = libc.mallopt(_M_ARENA_MAX, ARENA_MAX) == 1
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and ok)


def release() -> None:
    """Free what the previous analysis left behind, and give the pages back to the system.

    ``gc.collect()`` first: plotly figures are reference cycles (every child points to its
    parent), so the numeric arrays they hold wait for a full collection, which CPython runs
    rarely; RSS then grows by ~100 MB per upload until it does (a saw-tooth in the soak).
    Then ``malloc_trim(0)`` (glibc) returns the freed heap pages. About 0.1 s: call it once per
    new image, not on every rerun.
    """
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
