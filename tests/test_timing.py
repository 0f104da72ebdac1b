"""``spp_viz.timing``: every call after one warm-up is a sample, rounds go on until each head's
spread is at most 10 % of its median or the time cap, a figure still wider is noisy and says so,
a stopped measurement returns nothing, and one formatter writes every latency.

The heads here run on a simulated stopwatch (each call moves the clock by its duration), so what
is checked is the mechanism, never how fast this machine happens to be today."""

from __future__ import annotations

import pytest

from spp_viz.timing import (
    MAX_IQR_SHARE,
    MAX_TIME_S,
    MIN_ROUNDS,
    SLOW_CALL_S,
    SLOW_MIN_ROUNDS,
    Interrupted,
    Latency,
    format_latency,
    format_ms,
    measure_interleaved,
)


class Clock:
    """A stopwatch that moves only when a simulated head runs."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Head:
    """A head whose calls take ``durations`` seconds in turn (the last one repeated), on ``clock``."""

    def __init__(self, clock: Clock, *durations: float, name: str = "", log: list[str] | None = None):
        self.clock, self.durations, self.calls = clock, durations, 0
        self.name, self.log = name, log

    def __call__(self) -> None:
        self.clock.now += self.durations[min(self.calls, len(self.durations) - 1)]
        self.calls += 1
        if self.log is not None:
            self.log.append(self.name)


def measure(clock: Clock, fns, **kwargs) -> dict[str, Latency]:
    return measure_interleaved(fns, clock=clock, **kwargs)


def test_a_slow_head_costs_one_warm_up_then_only_samples():
    # torch.utils.benchmark.Timer.timeit ran two warm-up calls before every block: a block of
    # one 10 ms call cost three calls. Here: one warm-up, then every call is a sample.
    clock = Clock()
    slow, fast = Head(clock, 0.010), Head(clock, 0.000_01)
    out = measure(clock, {"slow": slow, "fast": fast}, min_time_s=0.0)
    assert out["slow"].rounds == MIN_ROUNDS and out["slow"].calls_per_round == 1 and out["fast"].calls_per_round > 1
    assert slow.calls == MIN_ROUNDS + 1  # the warm-up, then every call is a sample (the calibration call the first)
    assert out["slow"].median_ms == pytest.approx(10.0) and out["fast"].median_ms == pytest.approx(0.01)
    assert out["slow"].iqr_ms == pytest.approx(0.0) and not out["slow"].noisy


def test_the_time_floor_adds_rounds_for_a_head_slower_than_a_block():
    clock = Clock()
    out = measure(clock, {"slow": Head(clock, 0.006)}, min_time_s=0.2)["slow"]
    assert out.calls_per_round == 1
    assert out.rounds == 34  # 0.2 s of 6 ms calls, not the 7-round minimum


def test_nothing_to_time():
    assert measure_interleaved({}) == {}


def test_a_head_slower_than_20_ms_takes_five_samples_not_seven():
    """A whole module on a large map: 5 samples give a steady median, each a tenth of a forward."""
    clock = Clock()
    heavy = Head(clock, SLOW_CALL_S * 1.5)
    out = measure(clock, {"heavy": heavy}, min_time_s=0.0)["heavy"]
    assert heavy.calls == SLOW_MIN_ROUNDS + 1 and out.rounds == SLOW_MIN_ROUNDS
    light = Head(clock, 0.006)
    measure(clock, {"light": light, "heavy": Head(clock, SLOW_CALL_S * 1.5)}, min_time_s=0.0)
    assert light.calls == MIN_ROUNDS + 1  # a fast head keeps its seven rounds, whoever it is timed with


def test_a_fast_heads_floor_adds_no_rounds_to_a_slow_head():
    """Each head leaves the rounds once it has its own samples: a fast head that needs 0.1 s of
    blocks runs them alone, after the slow head's five samples, instead of dragging the slow
    head (a whole module on a 12 MP map) through twenty rounds."""
    clock, order = Clock(), list[str]()
    heavy = Head(clock, SLOW_CALL_S * 1.5, name="heavy", log=order)
    light = Head(clock, 0.006, name="light", log=order)
    out = measure(clock, {"heavy": heavy, "light": light}, min_time_s=0.1)  # heavy: 5 samples are 0.15 s
    assert heavy.calls == SLOW_MIN_ROUNDS + 1 and out["heavy"].rounds == SLOW_MIN_ROUNDS
    assert out["light"].rounds == 17  # its own 0.1 s of 6 ms blocks
    # while both run they alternate round by round: no two heavy calls without a light block between
    timed = order[order.index("heavy", 2):]  # after both heads' warm-up and calibration
    heavy_at = [i for i, name in enumerate(timed) if name == "heavy"]
    assert all(b - a > 1 for a, b in zip(heavy_at, heavy_at[1:]))


def test_rounds_go_on_until_the_spread_is_at_most_a_tenth_of_the_median():
    """A burst of other work early on (every other call twice as long) spreads the first samples:
    rounds go on, interleaved, until the interquartile range is within 10 % of the median."""
    clock = Clock()
    bursty = Head(clock, *[0.006, 0.012] * 6, 0.006)  # quiet after the burst
    steady = Head(clock, 0.008)
    out = measure(clock, {"bursty": bursty, "steady": steady}, min_time_s=0.0)
    assert out["bursty"].rounds > MIN_ROUNDS and out["steady"].rounds == MIN_ROUNDS
    assert out["bursty"].spread <= MAX_IQR_SHARE and not out["bursty"].noisy
    assert out["bursty"].median_ms == pytest.approx(6.0)


def test_a_head_still_spread_at_the_cap_is_noisy_and_says_so():
    clock = Clock()
    noisy = Head(clock, *[0.006, 0.012] * 10_000)
    out = measure(clock, {"noisy": noisy}, min_time_s=0.0)["noisy"]
    assert clock.now == pytest.approx(MAX_TIME_S, abs=0.05)  # it ran until the cap, no longer
    assert out.noisy and out.spread > MAX_IQR_SHARE
    assert format_latency(out).endswith("· noisy")


def test_a_stopped_measurement_raises_and_returns_nothing():
    clock = Clock()
    head = Head(clock, 0.006)
    with pytest.raises(Interrupted):
        measure(clock, {"x": head}, min_time_s=10.0, stop=lambda: head.calls >= 5)
    assert head.calls == 5  # stopped before the next block, not after the floor


@pytest.mark.parametrize("median, q1, q3, text", [
    (3.4, 3.33, 3.466, "3.4 ms ± 4%"),
    (0.0412, 0.0411, 0.0413, "41.2 µs ± 0.5%"),
    (123.4, 120.0, 126.0, "123 ms ± 5%"),
    (10.0, 9.0, 11.5, "10.0 ms ± 25% · noisy"),
])
def test_one_formatter_writes_every_latency(median, q1, q3, text):
    assert format_latency(Latency(median, q1, q3, 9, 1, 2)) == text


def test_a_latency_says_where_and_with_how_many_threads():
    assert Latency(1.0, 1.0, 1.0, 7, 1, 2, "cpu").where == "cpu, 2 threads"
    assert Latency(1.0, 1.0, 1.0, 7, 1, 1, "cuda:0").where == "cuda:0, 1 thread"
    assert format_ms(1234.0) == "1,234 ms" and format_ms(0.5) == "500 µs"
