"""Latency measurements that an independent check would reproduce.

Every latency the app, the CLI and the JSON report show comes from :func:`measure_interleaved`:
``timeit`` blocks (``time.perf_counter``, the garbage collector off during a block, as
``timeit`` does), the heads of one comparison interleaved round by round (so machine noise
hits each alike), the median of the per-call times. The caller decides *when* to measure: the
app measures before it draws anything (a timing taken while the page is sending charts is not
a measurement) and caches the result per feature map.

Why not ``torch.utils.benchmark.Timer.timeit``: it runs ``max(number // 100, 2)`` warm-up
calls before every block, so a block of one 70 ms call costs three calls. Here each head is
warmed up once, then every call is a sample.
"""

from __future__ import annotations

import statistics
import time
import timeit
from dataclasses import dataclass
from typing import Callable, Mapping

import torch

# At least this many rounds, and rounds until each head has run for at least MIN_TIME_S in all
# (on a small map a burst of other work, e.g. the browser drawing the sidebar, must not be most
# of the samples). A head slower than a block runs one call per block.
MIN_ROUNDS = 7
MIN_TIME_S = 0.15
# A head timed alone, whose median no ratio to another head rides on (the SPP row after a pyramid
# change, a region's pooling): 7 rounds of 5 ms blocks, re-timed on every such interaction.
SINGLE_HEAD_MIN_TIME_S = 0.05
MAX_TIME_S = 3.0  # a hard cap on one comparison, whatever the map size
BLOCK_TARGET_S = 0.005  # one block runs a head about this long (calls per block calibrated)
# A median whose interquartile range exceeds this share of it is flagged: on a quiet machine the
# spread is a few percent, when other work competes for the cores it is tens of percent.
NOISY_IQR_SHARE = 0.5
UNRELIABLE_TIMINGS = ("Other work competed for the processor while these heads were timed (a pooling measured "
                      "slower than the module that contains it, or runs spread widely, even after a second "
                      "measurement): read these latencies as unreliable, not as a comparison.")


@dataclass(frozen=True)
class Latency:
    """Median wall time of one call, in ms, with its spread and sample count."""

    median_ms: float
    q1_ms: float
    q3_ms: float
    rounds: int
    calls_per_round: int
    threads: int

    @property
    def iqr_ms(self) -> float:
        return self.q3_ms - self.q1_ms

    @property
    def noisy(self) -> bool:
        """The samples spread too widely for the median to stand for the head's cost."""
        return self.iqr_ms > NOISY_IQR_SHARE * self.median_ms


def pool_and_total_consistent(pool_ms: float, total_ms: float, pool: Latency | None, total: Latency | None) -> bool:
    """One head's pool-only and whole-module timings can be taught from: neither median is noisy,
    and the pooling did not take longer than the module that contains it (NaN: not measured, fine)."""
    return not any(lat is not None and lat.noisy for lat in (pool, total)) and not pool_ms > total_ms


def _calibrate(timer: timeit.Timer, fn: Callable[[], object]) -> tuple[int, float]:
    """``(calls per block, seconds of one call)``: a block takes about ``BLOCK_TARGET_S``."""
    fn()  # warm-up: allocator, lazy init
    once = max(timer.timeit(1), 1e-7)
    return max(1, min(10_000, int(BLOCK_TARGET_S / once))), once


def measure_interleaved(
    fns: Mapping[str, Callable[[], object]],
    *,
    min_rounds: int = MIN_ROUNDS,
    min_time_s: float = MIN_TIME_S,
    max_time_s: float = MAX_TIME_S,
) -> dict[str, Latency]:
    """Time each callable, interleaved: round r runs every head once (one block each).

    The heads run with torch's current intra-op thread count (recorded in each
    :class:`Latency`), the setting they really run with in this process. CUDA callables are
    synchronised by the caller's function (``torch.cuda.synchronize`` inside ``fn``) when needed.
    """
    if not fns:
        return {}
    threads = torch.get_num_threads()
    timers = {name: timeit.Timer(fn, timer=time.perf_counter) for name, fn in fns.items()}
    calibrated = {name: _calibrate(timers[name], fn) for name, fn in fns.items()}
    number = {name: n for name, (n, _) in calibrated.items()}
    # a head slower than a block was just timed for one whole call, after its warm-up: a sample
    samples: dict[str, list[float]] = {name: [once] if n == 1 else [] for name, (n, once) in calibrated.items()}
    spent = {name: sum(values) for name, values in samples.items()}
    begin = time.perf_counter()
    while True:
        for name, timer in timers.items():
            block = timer.timeit(number[name])
            samples[name].append(block / number[name])
            spent[name] += block
        rounds = min(len(values) for values in samples.values())
        enough = rounds >= min_rounds and min(spent.values()) >= min_time_s
        if enough or (rounds >= 3 and time.perf_counter() - begin > max_time_s):
            break
    out = {}
    for name, values in samples.items():
        q = statistics.quantiles(values, n=4) if len(values) >= 2 else [values[0]] * 3
        out[name] = Latency(statistics.median(values) * 1000, q[0] * 1000, q[2] * 1000, rounds, number[name], threads)
    return out
