"""``spp_viz.timing.measure_interleaved``: every call after one warm-up is a sample, rounds and
the time floor hold, and a slow head is timed one call per block."""

from __future__ import annotations

import time

from spp_viz.timing import MIN_ROUNDS, measure_interleaved


class Counted:
    def __init__(self, seconds: float):
        self.seconds, self.calls = seconds, 0

    def __call__(self) -> None:
        self.calls += 1
        if self.seconds:
            time.sleep(self.seconds)


def test_a_slow_head_costs_one_warm_up_then_only_samples():
    # torch.utils.benchmark.Timer.timeit ran two warm-up calls before every block: a block of
    # one 10 ms call cost three calls. Here: one warm-up, then every call is a sample.
    slow, fast = Counted(0.010), Counted(0.0)
    out = measure_interleaved({"slow": slow, "fast": fast}, min_time_s=0.0)
    rounds = out["slow"].rounds
    assert rounds >= MIN_ROUNDS
    assert out["slow"].calls_per_round == 1 and out["fast"].calls_per_round > 1
    assert slow.calls == rounds + 1  # the warm-up, then every call is a sample (the calibration call the first)
    assert out["slow"].median_ms >= 10.0 and out["fast"].median_ms < 1.0
    assert out["slow"].q1_ms <= out["slow"].median_ms <= out["slow"].q3_ms


def test_the_time_floor_adds_rounds_for_a_head_slower_than_a_block():
    slow = Counted(0.006)  # slower than a 5 ms block: one call per block
    out = measure_interleaved({"slow": slow}, min_time_s=0.2)["slow"]
    assert out.calls_per_round == 1
    assert out.rounds > MIN_ROUNDS  # 0.2 s of 6+ ms calls: 30-odd samples, not the 7-round minimum
    assert out.rounds * out.median_ms / 1000 >= 0.2 * 0.7  # the samples add up to about the floor


def test_nothing_to_time():
    assert measure_interleaved({}) == {}


def test_a_head_slower_than_20_ms_takes_five_samples_not_seven():
    """A whole module on a large map: 5 samples give a steady median, each a tenth of a forward."""
    from spp_viz.timing import SLOW_CALL_S, SLOW_MIN_ROUNDS

    heavy = Counted(SLOW_CALL_S * 1.5)
    out = measure_interleaved({"heavy": heavy}, min_time_s=0.0)["heavy"]
    assert heavy.calls == SLOW_MIN_ROUNDS + 1  # the warm-up, then five samples (the calibration call is the first)
    assert out.median_ms >= SLOW_CALL_S * 1000
    light = Counted(0.001)
    measure_interleaved({"light": light, "heavy": Counted(SLOW_CALL_S * 1.5)}, min_time_s=0.0)
    assert light.calls >= MIN_ROUNDS  # a fast head keeps its seven rounds, whoever it is timed with


def test_a_fast_heads_floor_adds_no_rounds_to_a_slow_head():
    """Each head leaves the rounds once it has its own samples: a fast head that needs 0.1 s of
    blocks runs them alone, after the slow head's five samples, instead of dragging the slow
    head (a whole module on a 12 MP map) through twenty rounds."""
    from spp_viz.timing import SLOW_CALL_S, SLOW_MIN_ROUNDS

    order: list[str] = []

    class Logged(Counted):
        def __init__(self, name: str, seconds: float):
            super().__init__(seconds)
            self.name = name

        def __call__(self) -> None:
            order.append(self.name)
            super().__call__()

    heavy, light = Logged("heavy", SLOW_CALL_S * 1.5), Logged("light", 0.001)
    out = measure_interleaved({"heavy": heavy, "light": light}, min_time_s=0.1)  # heavy: 5 samples are 0.15 s
    assert heavy.calls == SLOW_MIN_ROUNDS + 1 and out["heavy"].rounds == SLOW_MIN_ROUNDS
    assert out["light"].rounds * out["light"].calls_per_round * out["light"].median_ms / 1000 >= 0.1 * 0.7
    # while both run they alternate round by round: no two heavy calls without a light block between
    timed = order[order.index("heavy", 2):]  # after both heads' warm-up and calibration
    heavy_at = [i for i, name in enumerate(timed) if name == "heavy"]
    assert all(b - a > 1 for a, b in zip(heavy_at, heavy_at[1:]))
