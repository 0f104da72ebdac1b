"""Latency measurements that an independent check would reproduce.

Every latency the app, the CLI and the JSON report show comes from :func:`measure_interleaved`:
``timeit`` blocks (``time.perf_counter``, the garbage collector off during a block, as
``timeit`` does), the heads of one comparison interleaved round by round (so machine noise
hits each alike), rounds added until each head's interquartile range is at most
:data:`MAX_IQR_SHARE` of its median or :data:`MAX_TIME_S` is spent (the practice of pyperf and
``torch.utils.benchmark``'s ``adaptive_autorange``), the median of the per-call times. A
:class:`Latency` keeps its spread: :func:`format_latency` writes it as ``3.4 ms ± 4%`` (the
interquartile range as a share of the median), and a figure still above the share at the cap is
:attr:`Latency.noisy`. The measurements run in the timing worker (:mod:`spp_viz.worker`), a
process of their own with a fixed thread count; the caller decides *when* (the app: alone, once
the browser has drawn the page, see :mod:`spp_viz.admission`). A measurement can be stopped
between blocks (``stop``): it raises :class:`Interrupted` and its samples are thrown away.

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

torch is imported by the functions that time, not by this module: the page's sentences about
latencies (:mod:`spp_viz.figures.text`) read its constants before torch is imported.
"""

from __future__ import annotations

import os
import statistics
import time
import timeit
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

from .devices import device_name
from .i18n import N_, _, ngettext

if TYPE_CHECKING:
    import torch

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
MAX_TIME_S = 3.0  # the time cap of one comparison, whatever the map size: a head still spread wider is noisy
BLOCK_TARGET_S = 0.005  # one block runs a head about this long (calls per block calibrated)
# Rounds go on until each head's interquartile range is at most this share of its median (on a
# quiet machine a few percent); a head still above it at the cap is noisy, and no lesson is drawn
# from it.
MAX_IQR_SHARE = 0.10
CPU_METHOD = N_("perf_counter around each block of calls")
CUDA_METHOD = N_("CUDA events around each block of calls, read after torch.cuda.synchronize")
# the JSON report's warning (English) and, translated from its template, the page's
UNRELIABLE_TIMINGS_TEMPLATE = N_("Some of these latencies are noisy: their interquartile range stayed above {share} of the "
                                 "median until the time cap, or a pooling measured slower than the module that contains it, "
                                 "even after a second measurement. Read them as unreliable, not as a comparison.")
UNRELIABLE_TIMINGS = UNRELIABLE_TIMINGS_TEMPLATE.format(share=f"{MAX_IQR_SHARE:.0%}")


class Interrupted(Exception):
    """A measurement stopped before it finished (``stop()`` turned true between two blocks): its
    samples are thrown away, never reported; it is taken again later."""


@dataclass(frozen=True)
class Latency:
    """Median wall time of one call, in ms, with its quartiles, its sample count (``rounds``: one
    sample a block of ``calls_per_round`` calls), torch's intra-op ``threads`` and the device."""

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
        """The interquartile range: the middle half of the samples lies within it."""
        return self.q3_ms - self.q1_ms

    @property
    def spread(self) -> float:
        """The interquartile range as a share of the median (what "± 4%" says)."""
        return self.iqr_ms / self.median_ms if self.median_ms > 0 else 0.0

    @property
    def noisy(self) -> bool:
        """Still spread wider than :data:`MAX_IQR_SHARE` at the time cap: the median does not
        stand for the head's cost, and no sentence is drawn from it."""
        return self.spread > MAX_IQR_SHARE

    @property
    def where(self) -> str:
        """``cpu, 2 threads``: the device and torch's thread count it ran with (in the run's language)."""
        return _("{device}, {threads}").format(device=self.device, threads=threads_text(self.threads))

    def as_json(self, prefix: str) -> dict[str, object]:
        """``{prefix}_iqr_ms``, ``{prefix}_rounds`` and ``{prefix}_noisy`` (the JSON's keys beside the median)."""
        return {f"{prefix}_iqr_ms": round(self.iqr_ms, 4), f"{prefix}_rounds": self.rounds, f"{prefix}_noisy": self.noisy}


def threads_text(threads: int) -> str:
    return ngettext("{n} thread", "{n} threads", threads).format(n=threads)


def format_ms(ms: float) -> str:
    """A duration for a person: ``41.2 µs``, ``3.4 ms``, ``123 ms``, ``1,234 ms``."""
    value, unit = (ms * 1000, "µs") if ms < 1 else (ms, "ms")
    return f"{value:.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def format_latency(latency: Latency) -> str:
    """THE way a latency is written on the page: ``3.4 ms ± 4%``, the median and its interquartile
    range as a share of it; ``· noisy`` when that share stayed above :data:`MAX_IQR_SHARE`."""
    share = latency.spread * 100
    text = f"{format_ms(latency.median_ms)} ± {share:.1f}%" if share < 1 else f"{format_ms(latency.median_ms)} ± {share:.0f}%"
    return text + (_(" · noisy") if latency.noisy else "")


def pool_and_total_consistent(pool_ms: float, total_ms: float, pool: Latency | None, total: Latency | None) -> bool:
    """One head's pool-only and whole-module timings can be taught from: neither median is noisy,
    and the pooling did not take longer than the module that contains it (NaN: not measured, fine)."""
    return not any(lat is not None and lat.noisy for lat in (pool, total)) and not pool_ms > total_ms


def method(device: str) -> str:
    """How a block is timed on ``device``: CUDA events there, ``perf_counter`` on the CPU."""
    return CUDA_METHOD if device.startswith("cuda") else CPU_METHOD


def _cpu_block(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> Callable[[int], float]:
    timer = timeit.Timer(fn, timer=clock)
    return timer.timeit


def _cuda_block(fn: Callable[[], object], device: torch.device) -> Callable[[int], float]:
    """Seconds for ``number`` calls between two CUDA events (kernels included, not just launches)."""
    import torch

    def block(number: int) -> float:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        for _call in range(number):
            fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1000
    return block


def block_timer(fn: Callable[[], object], device: torch.device | str = "cpu",
                clock: Callable[[], float] = time.perf_counter) -> Callable[[int], float]:
    """``block(number) -> seconds`` for ``number`` calls of ``fn``, timed as :func:`method` says
    (``clock``: the CPU's stopwatch; tests give a simulated one)."""
    import torch

    device = torch.device(device)
    return _cuda_block(fn, device) if device.type == "cuda" else _cpu_block(fn, clock)


def _calibrate(block: Callable[[int], float], fn: Callable[[], object], stop: Callable[[], bool]) -> tuple[int, float]:
    """``(calls per block, seconds of one call)``: a block takes about ``BLOCK_TARGET_S``."""
    _check(stop)
    fn()  # warm-up: allocator, lazy init, CUDA kernels' first launch
    _check(stop)
    once = max(block(1), 1e-7)
    return max(1, min(10_000, int(BLOCK_TARGET_S / once))), once


def measure_interleaved(
    fns: Mapping[str, Callable[[], object]],
    *,
    device: torch.device | str = "cpu",
    min_rounds: int = MIN_ROUNDS,
    min_time_s: float = MIN_TIME_S,
    max_time_s: float = MAX_TIME_S,
    stop: Callable[[], bool] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Latency]:
    """Time each callable, interleaved: round r runs once (one block) every head that still
    lacks samples (at least ``min_rounds`` blocks, ``min_time_s`` in all, fewer blocks for a head
    slower than :data:`SLOW_CALL_S`) or whose interquartile range is still above
    :data:`MAX_IQR_SHARE` of its median, until ``max_time_s``.

    ``device`` is where the callables' tensors live (pass the tensor's own ``.device``): on CUDA
    each block is timed with events and a synchronize (:data:`CUDA_METHOD`). The heads run with
    torch's current intra-op thread count (recorded in each :class:`Latency`). ``stop`` is asked
    before every block: when it says so, :class:`Interrupted` is raised and nothing is returned.
    ``clock`` is the CPU blocks' stopwatch and the time cap's (tests give a simulated one).
    """
    if not fns:
        return {}
    import torch

    halt = stop or (lambda: False)
    threads = torch.get_num_threads()
    blocks = {name: block_timer(fn, device, clock) for name, fn in fns.items()}
    calibrated = {name: _calibrate(blocks[name], fn, halt) for name, fn in fns.items()}
    number = {name: n for name, (n, _block_s) in calibrated.items()}
    needed = {name: max(1, min(min_rounds, SLOW_MIN_ROUNDS) if once >= SLOW_CALL_S else min_rounds)
              for name, (_number, once) in calibrated.items()}
    # a head slower than a block was just timed for one whole call, after its warm-up: a sample
    samples: dict[str, list[float]] = {name: [once] if n == 1 else [] for name, (n, once) in calibrated.items()}
    spent = {name: sum(values) for name, values in samples.items()}
    active = [name for name in blocks if not _enough(samples[name], spent[name], needed[name], min_time_s)]
    begin = clock()
    while active:
        for name in active:
            _check(halt)
            seconds = blocks[name](number[name])
            samples[name].append(seconds / number[name])
            spent[name] += seconds
        active = [name for name in active if not _enough(samples[name], spent[name], needed[name], min_time_s)]
        if min(len(values) for values in samples.values()) >= 3 and clock() - begin > max_time_s:
            break
    label = device_name(device)
    return {name: _latency(values, number[name], threads, label) for name, values in samples.items()}


def _check(stop: Callable[[], bool]) -> None:
    if stop():
        raise Interrupted("the measurement was stopped before it finished")


def _enough(values: list[float], spent: float, needed: int, min_time_s: float) -> bool:
    """A head has its samples once it has ``needed`` of them, ran ``min_time_s`` in all, and its
    interquartile range is at most :data:`MAX_IQR_SHARE` of its median."""
    return len(values) >= needed and spent >= min_time_s and _spread(values) <= MAX_IQR_SHARE


def _spread(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    q = statistics.quantiles(values, n=4)
    median = statistics.median(values)
    return (q[2] - q[0]) / median if median > 0 else 0.0


def _latency(values: list[float], calls: int, threads: int, device: str) -> Latency:
    q = statistics.quantiles(values, n=4) if len(values) >= 2 else [values[0]] * 3
    return Latency(statistics.median(values) * 1000, q[0] * 1000, q[2] * 1000, len(values), calls, threads, device)


@dataclass(frozen=True)
class SingleRun:
    """One timed call (too slow to repeat on an interaction), with the machine's 1-minute load
    average when it ran (a reader can tell a quiet reading from a busy one) and torch's threads."""

    ms: float
    device: str
    load_average: float
    threads: int = 1

    def as_json(self) -> dict[str, object]:
        return {"ms": round(self.ms, 3), "device": self.device, "single_run": True,
                "load_average": round(self.load_average, 2), "threads": self.threads}

    def text(self) -> str:
        """``123 ms (one run on cpu, 2 threads, load average 0.42)`` (in the run's language)."""
        return _("{time} (one run on {device}, {threads}, load average {load})").format(
            time=format_ms(self.ms), device=self.device, threads=threads_text(self.threads), load=f"{self.load_average:.2f}")


def load_average() -> float:
    """The 1-minute load average (0.0 where the system does not report one)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def time_once(fn: Callable[[], object], device: torch.device | str = "cpu") -> tuple[object, SingleRun]:
    """``(fn(), SingleRun)``: one call, synchronised on CUDA so the kernels are inside the time."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, SingleRun((time.perf_counter() - start) * 1000, device_name(device), load_average(), torch.get_num_threads())
