"""glibc malloc settings for a long-running app process (Linux; a no-op elsewhere).

Why: a backbone forward on a 1-2 MP image allocates and frees hundreds of MB of activations,
from several threads (torch's intra-op pool, Streamlit's script threads). With glibc's
defaults each thread may get its own arena (up to 8 x cores), and the mmap threshold rises
dynamically after the first large free (up to 32 MB), so later large tensors come from the
arenas' heaps, which are rarely given back to the system: RSS then wanders up and down by
gigabytes between uploads that each need a few hundred MB (``benchmarks/soak.py``).

:func:`tune` fixes both, once, through ``mallopt`` (the same knobs as the environment variables
``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``, which only work
when set before Python starts): at most :data:`ARENA_MAX` arenas, and the mmap and trim
thresholds FIXED at the largest values glibc's dynamic adjustment reaches (32 and 64 MiB): a
tensor of 32 MiB or more is its own mapping, unmapped on free; smaller ones reuse the heap's free
memory within a run. The free pages go back to the system at two moments: :func:`trim` at the end
of every script run (``malloc_trim(0)``), and :func:`release` before each new image, which first
collects reference cycles; :func:`freeze` keeps that collection from walking the imported
modules' objects each time.

Why not smaller: with a 1 MiB mmap threshold (and glibc's 128 KiB trim threshold) every activation
of a forward was mapped, zero-filled by the kernel page by page, and unmapped: EfficientNet-Lite0's
forward on the sample took 150 to 240 ms, against 40 to 45 ms with the heap reused within the
forward and 60 to 65 ms when the heap starts trimmed, as it does after :func:`trim`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from functools import cache

ARENA_MAX = 2
MMAP_THRESHOLD = 32 << 20  # 32 MiB (glibc's maximum): every tensor this big is mmapped and unmapped on free
TRIM_THRESHOLD = 64 << 20  # 64 MiB: a run's freed heap stays for its next tensors; trim() returns it
_M_TRIM_THRESHOLD = -1  # glibc malloc.h
_M_MMAP_THRESHOLD = -3
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


def glibc() -> bool:
    """Whether this process's C library is glibc, whose knobs :func:`tune` and :func:`trim` use."""
    return _libc() is not None


@cache
def tune() -> bool:
    """Apply the arena, mmap-threshold and trim-threshold settings once per process; False when
    not glibc or when glibc refused one of them."""
    libc = _libc()
    if libc is None:
        return False
    settings = ((_M_ARENA_MAX, ARENA_MAX), (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return all([libc.mallopt(option, value) == 1 for option, value in settings])


def freeze() -> None:
    """Move every object alive now into the permanent generation (``gc.freeze``), so that later
    full collections, :func:`release`'s and the interpreter's own, skip them.

    Why: with torch, Streamlit and plotly imported, a process holds about 420,000 objects that
    live as long as it does (modules, functions, classes), and a full collection walks them all:
    about 0.2 s on this machine, paid by every new image in :func:`release`, before its first
    phase. Frozen, they cost nothing; the walk covers what was made since (milliseconds).
    Call it right after a batch of imports, never per image: a frozen object that later becomes
    part of unreachable cycles is never collected (what a session open at that moment holds
    when it closes: one-time, bounded by that session's state)."""
    gc.freeze()


def trim() -> None:
    """Hand the heaps' free pages back to the system (``malloc_trim(0)``; glibc): at the end of
    every script run, so that a process at rest holds what is alive, not its last forward's peak.
    Milliseconds (5 ms after the sample's forward, 40 ms after a 12 MP one; nothing to do, 0.1 ms),
    without the GIL."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def release() -> None:
    """Free what the previous analysis left behind, and give the pages back to the system.

    ``gc.collect()`` first: plotly figures are reference cycles (every child points to its
    parent), so the numeric arrays they hold wait for a full collection, which CPython runs
    rarely; RSS then grows by ~100 MB per upload until it does (a saw-tooth in the soak).
    Then :func:`trim` returns the freed heap pages. Milliseconds once the imports are frozen
    (:func:`freeze`; 0.2 s before): call it once per new image, not on every rerun.
    """
    gc.collect()
    trim()
