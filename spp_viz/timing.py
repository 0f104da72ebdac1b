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

Device: a head whose tensors live on a CUDA device is timed with CUDA events recorded around
each block and read after ``torch.cuda.synchronize``, so a block measures the kernels, not
their launches (:data:`CUDA_METHOD`); on the CPU a block is a ``perf_counter`` pair
(:data:`CPU_METHOD`). Every :class:`Latency` carries the device it was measured on, taken
from the caller's tensors, never from a setting.

A cost that is too slow to repeat on an interaction (a crop-and-rerun forward, one forward per
scale) is a :class:`SingleRun`: one call, labelled as such, with the load average next to it.
"""

from __future__ import annotations

import os
import statistics
import time
import timeit
from dataclasses import dataclass
from typing import Callable, Mapping

import torch

from .devices import device_name

# At least this many rounds, and rounds until each head has run for at least MIN_TIME_S in all
# (on a small map a short burst of other work must not be most of the samples; the page times
# only once the browser has drawn it, so no page is being drawn meanwhile). Heads run
# interleaved, round by round, and each leaves the rounds once it has its own samples: a fast
# head's floor never makes a slow head run more rounds. A head slower than a block runs one call
# per block.
MIN_ROUNDS = 7
MIN_TIME_S = 0.08
# A head whose one call takes at least SLOW_CALL_S (a whole module on a 12 MP photo's map) needs
# fewer samples for a steady median, and each costs a tenth of a forward: SLOW_MIN_ROUNDS of them.
SLOW_CALL_S = 0.02
SLOW_MIN_ROUNDS = 5
# A head timed alone, whose median no ratio to another head rides on (the SPP row after a pyramid
# change, a region's pooling): 7 rounds of 5 ms blocks, re-timed on every such interaction.
SINGLE_HEAD_MIN_TIME_S = 0.05
MAX_TIME_S = 3.0  # a hard cap on one comparison, whatever the map size
BLOCK_TARGET_S = 0.005  # one block runs a head about this long (calls per block calibrated)
# A median whose interquartile range exceeds this share of it is flagged: on a quiet machine the
# spread is a few percent, when other work competes for the cores it is tens of percent.
NOISY_IQR_SHARE = 0.5
CPU_METHOD = "perf_counter around each block of calls"
CUDA_METHOD = "CUDA events around each block of calls, read after torch.cuda.synchronize"
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
    device: str = "cpu"  # where the timed tensors lived: "cpu", "cuda:0", ...

    @property
    def method(self) -> str:
        """How the blocks were timed on :attr:`device`."""
        return method(self.device)

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


def method(device: str) -> str:
    """How a block is timed on ``device``: CUDA events there, ``perf_counter`` on the CPU."""
    return CUDA_METHOD if device.startswith("cuda") else CPU_METHOD


def _cpu_block(fn: Callable[[], object]) -> Callable[[int], float]:
    timer = timeit.Timer(fn, timer=time.perf_counter)
    return timer.timeit


def _cuda_block(fn: Callable[[], object], device: torch.device) -> Callable[[int], float]:
    """Seconds for ``number`` calls between two CUDA events (kernels included, not just launches)."""
    def block(number: int) -> float:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        for _ in range(number):
            fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1000
    return block


def block_timer(fn: Callable[[], object], device: torch.device | str = "cpu") -> Callable[[int], float]:
    """``block(number) -> seconds`` for ``number`` calls of ``fn``, timed as :func:`method` says."""
    device = torch.device(device)
    return _cuda_block(fn, device) if device.type == "cuda" else _cpu_block(fn)


def _calibrate(block: Callable[[int], float], fn: Callable[[], object]) -> tuple[int, float]:
    """``(calls per block, seconds of one call)``: a block takes about ``BLOCK_TARGET_S``."""
    fn()  # warm-up: allocator, lazy init, CUDA kernels' first launch
    once = max(block(1), 1e-7)
    return max(1, min(10_000, int(BLOCK_TARGET_S / once))), once


def measure_interleaved(
    fns: Mapping[str, Callable[[], object]],
    *,
    device: torch.device | str = "cpu",
    min_rounds: int = MIN_ROUNDS,
    min_time_s: float = MIN_TIME_S,
    max_time_s: float = MAX_TIME_S,
) -> dict[str, Latency]:
    """Time each callable, interleaved: round r runs once (one block) every head that still
    lacks samples (at least ``min_rounds`` blocks, ``min_time_s`` in all; fewer blocks for a head
    slower than :data:`SLOW_CALL_S`).

    ``device`` is where the callables' tensors live (pass the tensor's own ``.device``): on CUDA
    each block is timed with events and a synchronize (:data:`CUDA_METHOD`). The heads run with
    torch's current intra-op thread count (recorded in each :class:`Latency`).
    """
    if not fns:
        return {}
    threads = torch.get_num_threads()
    blocks = {name: block_timer(fn, device) for name, fn in fns.items()}
    calibrated = {name: _calibrate(blocks[name], fn) for name, fn in fns.items()}
    number = {name: n for name, (n, _) in calibrated.items()}
    needed = {name: max(1, min(min_rounds, SLOW_MIN_ROUNDS) if once >= SLOW_CALL_S else min_rounds)
              for name, (_, once) in calibrated.items()}
    # a head slower than a block was just timed for one whole call, after its warm-up: a sample
    samples: dict[str, list[float]] = {name: [once] if n == 1 else [] for name, (n, once) in calibrated.items()}
    spent = {name: sum(values) for name, values in samples.items()}
    active = [name for name in blocks if not _enough(samples[name], spent[name], needed[name], min_time_s)]
    begin = time.perf_counter()
    while active:
        for name in active:
            seconds = blocks[name](number[name])
            samples[name].append(seconds / number[name])
            spent[name] += seconds
        active = [name for name in active if not _enough(samples[name], spent[name], needed[name], min_time_s)]
        if min(len(values) for values in samples.values()) >= 3 and time.perf_counter() - begin > max_time_s:
            break
    label = device_name(device)
    return {name: _latency(values, number[name], threads, label) for name, values in samples.items()}


def _enough(values: list[float], spent: float, needed: int, min_time_s: float) -> bool:
    """A head has its samples once it has ``needed`` of them and ran ``min_time_s`` in all."""
    return len(values) >= needed and spent >= min_time_s


def _latency(values: list[float], calls: int, threads: int, device: str) -> Latency:
    q = statistics.quantiles(values, n=4) if len(values) >= 2 else [values[0]] * 3
    return Latency(statistics.median(values) * 1000, q[0] * 1000, q[2] * 1000, len(values), calls, threads, device)


@dataclass(frozen=True)
class SingleRun:
    """One timed call (too slow to repeat on an interaction), with the machine's 1-minute load
    average when it ran: a reader can tell a quiet reading from a busy one."""

    ms: float
    device: str
    load_average: float

    def as_json(self) -> dict[str, object]:
        return {"ms": round(self.ms, 3), "device": self.device, "single_run": True,
                "load_average": round(self.load_average, 2)}


def load_average() -> float:
    """The 1-minute load average (0.0 where the system does not report one)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def time_once(fn: Callable[[], object], device: torch.device | str = "cpu") -> tuple[object, SingleRun]:
    """``(fn(), SingleRun)``: one call, synchronised on CUDA so the kernels are inside the time."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, SingleRun((time.perf_counter() - start) * 1000, device_name(device), load_average())
