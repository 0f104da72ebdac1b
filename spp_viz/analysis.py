"""The analysis pipeline, split so that changing the head never reruns the backbone.

1. :func:`extract_features`: image -> stage feature map (the one expensive step), once per
   (image digest, backbone, stage, weights, working size).
2. :func:`analyse_head`: feature map + :class:`HeadConfig` -> every level's bins, pooled
   values, winners and the fixed-length vector (cheap).
3. :func:`sppf_comparison`: SPPF vs parallel SPP(5, 9, 13) on the same map, with costs (per
   map); :func:`measure_spp_head` / :func:`spp_head_cost`: the current head's row (per pyramid);
   :func:`compare_sppf` both at once.
4. :func:`dimension_table`, :func:`size_sweep`, :func:`predict`, :func:`bin_predictions`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Callable, Mapping, Sequence, TypeVar, cast

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from .backbones import Backbone, StageGeometry
from .bins import AxisSpans, BinGeometry, LevelBins, bin_argmax, bin_geometry, differing_bins, pyramid_bins
from .heads.modules import ParallelPoolBlock, SPPFBlock
from .pooling import (
    DEFAULT_LEVELS,
    check_bin_rule,
    check_pool,
    parallel_spp,
    parse_levels,
    spp,
    spp_output_length,
    sppf,
    sppf_branches,
    sppf_effective_kernels,
    sppf_equivalence,
)
from .timing import SINGLE_HEAD_MIN_TIME_S, Latency, SingleRun, measure_interleaved, pool_and_total_consistent, time_once

ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


@dataclass(frozen=True)
class HeadConfig:
    """Which pyramid to apply: levels, ``max``/``avg`` pooling, ``adaptive``/``paper`` bins."""

    levels: tuple[int, ...] = DEFAULT_LEVELS
    pool: str = "max"
    rule: str = "adaptive"

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", parse_levels(self.levels))
        check_pool(self.pool)
        check_bin_rule(self.rule)


@dataclass(frozen=True)
class FeatureResult:
    """A stage's feature map for one image: ``feature`` is ``(C, h, w)`` float32 on the device
    the backbone ran on (one copy there: SPP, SPPF, the family, region pooling run on it);
    :attr:`feature_cpu` is the CPU copy that figures and exports read, made once."""

    feature: Tensor
    input_size: tuple[int, int]  # (width, height) fed to the backbone
    backbone: str
    stage: str
    weights: str
    geometry: StageGeometry
    forward_ms: float
    gap_logits: Tensor | None = field(default=None, repr=False)  # (1000,) when the backbone can classify
    forward: SingleRun | None = field(default=None, repr=False, compare=False)  # forward_ms with its device and load

    @property
    def device(self) -> torch.device:
        """Where the map lives, and so where every head on it runs and is timed."""
        return self.feature.device

    @functools.cached_property
    def feature_cpu(self) -> Tensor:
        """The map on the CPU (the same tensor when it already is)."""
        return self.feature.detach().cpu()

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.feature.shape
        return int(c), int(h), int(w)

    @property
    def spans(self) -> tuple[AxisSpans, AxisSpans]:
        """``(rows/y, cols/x)`` receptive-field spans of this map's cells, for its own input size."""
        width, height = self.input_size
        return self.geometry.spans(height, width)


def extract_features(backbone: Backbone, image: Image.Image) -> FeatureResult:
    """Run the backbone once on ``image`` at its own size (no crop, no resize)."""
    x = backbone.preprocess(image)
    out, run = time_once(lambda: backbone.features(x), x.device)
    fmap = cast(Tensor, out)
    logits = None
    if backbone.can_classify:
        # the 1 x 1 average level IS the classifier's global average pool
        logits = backbone.classify(F.adaptive_avg_pool2d(fmap, 1).flatten(1))[0].float().cpu()
    return FeatureResult(
        fmap[0].float(), image.size, backbone.name, backbone.stage, backbone.weights,
        backbone.geometry, run.ms, logits, run,
    )


@dataclass(frozen=True)
class LevelResult:
    """One level of the pyramid on the current map.

    ``pooled`` is ``(C, rows, cols)``; ``winners`` (max pooling only) is ``(C, rows, cols, 2)``
    with the (row, col) of the feature cell each bin's max came from.
    """

    n: int
    bins: LevelBins
    pooled: Tensor
    winners: Tensor | None
    differing: tuple[tuple[int, int], ...]  # paper-rule bins that differ from the adaptive ones

    @property
    def valid(self) -> bool:
        return self.bins.valid

    @property
    def length(self) -> int:
        return int(self.pooled.numel())

    @property
    def problem(self) -> str | None:
        return self.bins.problem()

    def arithmetic(self) -> str:
        c, r, k = self.pooled.shape
        return f"{c:,} x {r} x {k} = {self.length:,}"


@dataclass(frozen=True)
class HeadResult:
    config: HeadConfig
    levels: tuple[LevelResult, ...]
    vector: Tensor  # (length,)
    channels: int

    @property
    def length(self) -> int:
        return int(self.vector.numel())

    @property
    def expected_length(self) -> int:
        """``C * sum(n^2)``: what a correct SPP always gives."""
        return spp_output_length(self.channels, self.config.levels)

    @property
    def valid(self) -> bool:
        return all(level.valid for level in self.levels)

    def arithmetic(self) -> str:
        squares = " + ".join(str(n * n) for n in self.config.levels)
        return f"{self.channels:,} x ({squares}) = {self.expected_length:,}"

    def level_offsets(self) -> list[tuple[int, int]]:
        """``[start, end)`` of each level's segment in :attr:`vector`."""
        out, start = [], 0
        for level in self.levels:
            out.append((start, start + level.length))
            start += level.length
        return out


def analyse_head(features: FeatureResult, config: HeadConfig) -> HeadResult:
    """Apply the pyramid to the cached map: bins, pooled values, winners, vector."""
    fmap = features.feature
    c, h, w = features.shape
    result = spp(fmap.unsqueeze(0), config.levels, config.pool, config.rule)
    levels = []
    for level in result.levels:
        geometry = pyramid_bins(h, w, level.n, config.rule)
        winners = bin_argmax(fmap, level.n, config.rule) if config.pool == "max" else None
        differing = tuple(differing_bins(h, w, level.n)) if config.rule == "paper" else ()
        levels.append(LevelResult(level.n, geometry, level.pooled[0], winners, differing))
    return HeadResult(config, tuple(levels), result.vector[0], c)


def level_geometry(features: FeatureResult, level: LevelResult) -> list[BinGeometry]:
    """Every bin of ``level`` in working-image pixels: cells, box through the stride, receptive-field box."""
    return bin_geometry(level.bins, features.spans, features.input_size, features.geometry.global_context)


@dataclass(frozen=True)
class Prediction:
    label: str
    probability: float
    index: int


def _top_k(logits: Tensor, categories: Sequence[str], k: int) -> list[Prediction]:
    probs = logits.float().softmax(-1)
    values, indices = probs.topk(min(k, probs.numel()))
    return [Prediction(categories[i], float(v), int(i)) for v, i in zip(values.tolist(), indices.tolist())]


def predict(backbone: Backbone, features: FeatureResult, top_k: int = 5) -> list[Prediction]:
    """ImageNet top-k for the whole image, read from the 1 x 1 average level (= the backbone's GAP)."""
    if features.gap_logits is None or not backbone.can_classify or not finite_logits(features):
        return []  # non-finite logits (a broken checkpoint): a softmax of NaN ranks nothing
    return _top_k(features.gap_logits, backbone.categories, top_k)


def finite_logits(features: FeatureResult) -> bool:
    """False when the classifier's logits hold NaN or inf (then no prediction is meaningful)."""
    return features.gap_logits is None or bool(torch.isfinite(features.gap_logits).all())


def non_finite_count(features: FeatureResult) -> int:
    """How many values of the feature map are NaN or inf (a broken checkpoint can produce them)."""
    return int((~torch.isfinite(features.feature)).sum())


def bin_predictions(backbone: Backbone, level: LevelResult) -> list[list[Prediction]]:
    """Top-1 per bin of an average-pooled level: what the classifier makes of each bin alone.

    Valid because each avg-pooled bin is exactly a global average pool over its cells.
    """
    if not backbone.can_classify:
        return []
    c, rows, cols = level.pooled.shape
    if rows * cols == 0:
        return []
    logits = backbone.classify(level.pooled.reshape(c, rows * cols).T.contiguous()).float().cpu()
    tops = [_top_k(row, backbone.categories, 1)[0] for row in logits]
    return [tops[r * cols:(r + 1) * cols] for r in range(rows)]


def count_flops(module: torch.nn.Module, x: Tensor) -> int:
    """FLOPs by ``torch.utils.flop_counter`` (convs and matmuls; it counts no pooling)."""
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        module(x)
    return int(counter.get_total_flops())


def _seeded_build(build: Callable[[], ModuleT]) -> ModuleT:
    """Build a module with a fixed random init, leaving the process's random state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build().eval()


def yolo_modules(channels: int, k: int = 5, device: torch.device | str = "cpu") -> tuple[SPPFBlock, ParallelPoolBlock]:
    """:func:`_yolo_modules` on ``device`` (the feature map's: the heads run where it lives)."""
    return _yolo_modules(channels, k, str(torch.device(device)))


@functools.lru_cache(maxsize=4)
def _yolo_modules(channels: int, k: int, device: str) -> tuple[SPPFBlock, ParallelPoolBlock]:
    """ultralytics ``SPPF(C, C, k)`` and YOLOv5 ``SPP(C, C, (5, 9, 13))`` with their 1x1 convs, the
    same blocks as the family's ``sppf`` and ``spp_yolo``
    (untrained: their latency and shapes are real, their values are not). Cached per C: two
    4M-parameter modules are not worth rebuilding on every rerun. Read-only: never train them."""
    return (_seeded_build(lambda: SPPFBlock(channels, channels, k)).to(device),
            _seeded_build(lambda: ParallelPoolBlock(channels, channels, sppf_effective_kernels(k))).to(device))


@functools.lru_cache(maxsize=16)
def yolo_head_costs(channels: int, k: int = 5) -> dict[str, tuple[int, int]]:
    """``{"sppf": (params, flops per feature cell), "parallel": (...)}`` for the YOLO heads of
    :func:`yolo_modules`.

    Every FLOP these heads have is in 1x1 convs, which cost the same at every cell, so
    flop_counter runs once on a 1 x 1 map and the total is this times h * w.
    """
    x = torch.zeros(1, channels, 1, 1, device="cpu")  # counted on CPU copies: FLOPs do not depend on the device
    sppf_module, parallel_module = yolo_modules(channels, k, "cpu")
    return {
        "sppf": (_params(sppf_module), count_flops(sppf_module, x)),
        "parallel": (_params(parallel_module), count_flops(parallel_module, x)),
    }


class HeadKind(Enum):
    """Which head a cost row describes (its ``value`` keys the timings: ``sppf_pool``, ...)."""

    SPP = "spp"
    SPPF = "sppf"
    PARALLEL_SPP = "parallel_spp"


@dataclass(frozen=True)
class HeadCost:
    """Cost of one head on the current map.

    ``params``/``flops`` (flop_counter: convs only, pooling has none) describe the module with
    its 1x1 convs (SPPF, YOLOv5 SPP; cv1 halves C, cv2 back to C); classic SPP has no convs.
    ``pool_ms`` times the parameter-free pooling alone (for SPPF and YOLOv5 SPP: on cv1's
    C/2-channel output, as inside the module), ``total_ms`` the whole module; for SPP both
    are the same call. Medians by :func:`spp_viz.timing.measure_interleaved`.
    """

    name: str
    kind: HeadKind
    output_shape: tuple[int, ...]
    params: int
    flops: int
    pool_ms: float
    total_ms: float
    pool_latency: Latency | None = field(default=None, repr=False, compare=False)  # the measurements behind the medians
    total_latency: Latency | None = field(default=None, repr=False, compare=False)

    @property
    def device(self) -> str | None:
        """Where the medians were measured (``None``: not measured)."""
        latency = self.pool_latency or self.total_latency
        return latency.device if latency else None


@dataclass(frozen=True)
class SPPFComparison:
    """SPPF's cascade on the current map against parallel SPP(5, 9, 13)."""

    k: int
    kernels: tuple[int, ...]  # effective kernel of each cascade step: (5, 9, 13)
    branches: tuple[Tensor, ...] = field(repr=False)  # x, y1, y2, y3 each (C, h, w)
    equal: bool = False
    max_abs_diff: float = 0.0
    shape: tuple[int, ...] = ()  # (4C, h, w) without convs
    costs: tuple[HeadCost, ...] = ()

    @property
    def timings_consistent(self) -> bool:
        """Every cost's medians are steady, and no pooling took longer than its whole module: when
        False the machine was busy while timing, and the figures compare nothing reliably."""
        return all(pool_and_total_consistent(c.pool_ms, c.total_ms, c.pool_latency, c.total_latency) for c in self.costs)

    def latencies_ms(self) -> dict[str, float]:
        """``{"sppf_pool": ..., "sppf_total": ..., "parallel_spp_pool": ..., ..., "spp_total": ...}``
        (empty unless measured)."""
        out = {}
        for cost in self.costs:
            out[f"{cost.kind.value}_pool"] = cost.pool_ms
            out[f"{cost.kind.value}_total"] = cost.total_ms
        return out

    def receptive_fields(self, geometry: StageGeometry) -> list[dict]:
        """Each branch's window in feature cells and, through the stage, in input pixels."""
        rows = [{"branch": "x", "cells": 1, "pixels": geometry.receptive_field}]
        for k in self.kernels:
            rows.append({"branch": f"pool {k}", "cells": k, "pixels": geometry.receptive_field + (k - 1) * geometry.stride})
        return rows


def _yolo_callables(x: Tensor, k: int) -> dict[str, Callable[[], object]]:
    """``{kind_pool, kind_total}`` callables for SPPF and YOLOv5's parallel SPP."""
    sppf_module, parallel_module = yolo_modules(int(x.shape[1]), k, x.device)
    with torch.inference_mode():
        half = sppf_module.cv1(x)  # what the modules' pools really read: cv1's C/2 channels
    kernels = sppf_effective_kernels(k)
    return {
        "sppf_pool": _inference(lambda: sppf(half, k)), "sppf_total": _inference(lambda: sppf_module(x)),
        "parallel_spp_pool": _inference(lambda: parallel_spp(half, kernels)),
        "parallel_spp_total": _inference(lambda: parallel_module(x)),
    }


def _inference(fn: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        with torch.inference_mode():
            return fn()
    return call


def _consistent(t: Mapping[str, Latency]) -> bool:
    """No median too noisy to stand, and no pooling measured slower than the module containing it."""
    return all(pool_and_total_consistent(pool.median_ms, total.median_ms, pool, total)
               for pool, total in ((t[f"{kind}_pool"], t[f"{kind}_total"]) for kind in ("sppf", "parallel_spp")))


def _yolo_costs(x: Tensor, k: int) -> tuple[HeadCost, ...]:
    """Time SPPF and YOLOv5's SPP interleaved, alone (call this where nothing else competes).
    A self-contradictory result (other work competed after all) is measured once more."""
    fns = _yolo_callables(x, k)
    t = measure_interleaved(fns, device=x.device)
    if not _consistent(t):
        t = measure_interleaved(fns, device=x.device)
    _, c, h, w = x.shape
    return _yolo_rows((c, h, w), k, t)


def _yolo_rows(shape: tuple[int, int, int], k: int, t: Mapping[str, Latency]) -> tuple[HeadCost, ...]:
    """SPPF's and YOLOv5 SPP's cost rows; a latency missing from ``t`` is NaN (not measured yet)."""
    c, h, w = shape
    (sppf_params, sppf_flops), (par_params, par_flops) = yolo_head_costs(c, k).values()

    def ms(name: str) -> float:
        return t[name].median_ms if name in t else math.nan

    return (
        HeadCost(f"SPPF (k={k}, x3)", HeadKind.SPPF, (c, h, w), sppf_params, sppf_flops * h * w,
                 ms("sppf_pool"), ms("sppf_total"), t.get("sppf_pool"), t.get("sppf_total")),
        HeadCost(f"Parallel SPP ({', '.join(map(str, sppf_effective_kernels(k)))})", HeadKind.PARALLEL_SPP, (c, h, w),
                 par_params, par_flops * h * w, ms("parallel_spp_pool"), ms("parallel_spp_total"),
                 t.get("parallel_spp_pool"), t.get("parallel_spp_total")),
    )


def measure_yolo_costs(features: FeatureResult, k: int = 5) -> tuple[HeadCost, ...]:
    """SPPF's and YOLOv5 SPP's cost rows, timed now on the map's device (nothing may compete)."""
    return _yolo_costs(features.feature.unsqueeze(0), k)


def unmeasured_yolo_costs(features: FeatureResult, k: int = 5) -> tuple[HeadCost, ...]:
    """The same rows before any timing: parameters and FLOPs, latencies NaN."""
    return _yolo_rows(features.shape, k, {})


def measure_spp_head(features: FeatureResult, config: HeadConfig) -> Latency:
    """Latency of the current SPP head (``spp()`` on the map): the one cost that depends on the
    pyramid, so the app re-times only this when levels, pooling or bin rule change. It is also
    the family's ``spp`` row (the same call)."""
    x = features.feature.unsqueeze(0)
    fn = _inference(lambda: spp(x, config.levels, config.pool, config.rule).vector)
    return measure_interleaved({"spp": fn}, device=x.device, min_time_s=SINGLE_HEAD_MIN_TIME_S)["spp"]


def spp_head_cost(config: HeadConfig, length: int, latency: Latency | None) -> HeadCost:
    """The SPP row of the costs table: the head on the page, whatever its levels, pooling and
    rule; ``length`` is its vector's real length (a paper-rule level on a small map is not n x n).
    ``latency`` None: not measured yet (NaN)."""
    rule = "" if config.rule == "adaptive" else ", paper rule"
    ms = latency.median_ms if latency else math.nan
    return HeadCost(f"SPP {','.join(map(str, config.levels))} ({config.pool}{rule})", HeadKind.SPP, (length,), 0, 0,
                    ms, ms, latency, latency)


def sppf_comparison(features: FeatureResult, k: int = 5, measure: bool = True) -> SPPFComparison:
    """SPPF's cascade and parallel SPP on the map: equality (NaN-aware), shapes and, with
    ``measure``, the costs of SPPF and YOLOv5's SPP. None of it depends on the pyramid, so the
    app measures it once per feature map; :func:`with_spp_cost` adds the current head's row."""
    x = features.feature.unsqueeze(0)
    kernels = sppf_effective_kernels(k)
    with torch.inference_mode():
        cascade = sppf_branches(x, k)
        eq = sppf_equivalence(torch.cat(cascade, dim=1), parallel_spp(x, kernels))
    costs = _yolo_costs(x, k) if measure else ()
    branches = tuple(b[0] for b in cascade)
    return SPPFComparison(k, kernels, branches, eq.equal, eq.max_abs_diff, tuple(eq.shape[1:]), costs)


def with_spp_cost(comparison: SPPFComparison, cost: HeadCost) -> SPPFComparison:
    """``comparison`` with ``cost`` as its SPP row (replacing any earlier one)."""
    kept = tuple(c for c in comparison.costs if c.kind is not HeadKind.SPP)
    return replace(comparison, costs=kept + (cost,))


def with_costs(comparison: SPPFComparison, yolo: tuple[HeadCost, ...], spp_row: HeadCost) -> SPPFComparison:
    """``comparison`` with SPPF's and YOLOv5 SPP's rows ``yolo`` and the SPP row ``spp_row``."""
    return replace(comparison, costs=tuple(yolo) + (spp_row,))


def compare_sppf(features: FeatureResult, config: HeadConfig | None = None, k: int = 5, measure: bool = True) -> SPPFComparison:
    """:func:`sppf_comparison` plus, with ``measure``, the CURRENT SPP head's row (``config``,
    whatever its levels, pool and bin rule), so one row always describes the head on the page."""
    config = config or HeadConfig()
    comparison = sppf_comparison(features, k, measure)
    if not measure:
        return comparison
    with torch.inference_mode():
        length = int(spp(features.feature.unsqueeze(0), config.levels, config.pool, config.rule).vector.shape[1])
    return with_spp_cost(comparison, spp_head_cost(config, length, measure_spp_head(features, config)))


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def dimension_table(features: FeatureResult, head: HeadResult) -> list[dict]:
    """Rows ``{step, shape, arithmetic, numbers}`` from the input to the SPP vector and SPPF output."""
    c, h, w = features.shape
    width, height = features.input_size
    rows = [
        {"step": "input", "shape": f"3 x {height} x {width}", "arithmetic": f"3 x {height} x {width} = {3 * height * width:,}", "numbers": 3 * height * width},
        {"step": f"feature map ({features.stage}, stride {features.geometry.stride})", "shape": f"{c} x {h} x {w}",
         "arithmetic": f"{c:,} x {h} x {w} = {c * h * w:,}", "numbers": c * h * w},
    ]
    for level in head.levels:
        r, k = level.pooled.shape[-2:]
        note = "" if level.valid else " (paper rule: not n x n)"
        rows.append({"step": f"level {level.n}: {r} x {k} bins{note}", "shape": f"{c} x {r} x {k}", "arithmetic": level.arithmetic(), "numbers": level.length})
    rows.append({"step": "SPP vector (fixed length)" if head.valid else "SPP vector (NOT the fixed length)", "shape": f"{head.length}",
                 "arithmetic": head.arithmetic() if head.valid else f"{head.length:,} != {head.arithmetic()}", "numbers": head.length})
    c_ = c // 2
    rows += [
        {"step": "SPPF cv1 (1x1 conv, C/2)", "shape": f"{c_} x {h} x {w}", "arithmetic": f"{c_:,} x {h} x {w} = {c_ * h * w:,}", "numbers": c_ * h * w},
        {"step": "SPPF concat [x, 5, 9, 13]", "shape": f"{4 * c_} x {h} x {w}", "arithmetic": f"4 x {c_:,} x {h} x {w} = {4 * c_ * h * w:,}", "numbers": 4 * c_ * h * w},
        {"step": "SPPF cv2 (1x1 conv to C)", "shape": f"{c} x {h} x {w}", "arithmetic": f"{c:,} x {h} x {w} = {c * h * w:,} (grows with the image)", "numbers": c * h * w},
    ]
    return rows


@dataclass(frozen=True)
class SizeSweepRow:
    """One input size of :func:`size_sweep`: the map it gives, SPP's length and SPPF's numbers."""

    input_width: int
    input_height: int
    short_side: int
    feature: tuple[int, int, int]  # (C, h, w) of the stage's map for this input
    spp_length: int  # C * sum(n^2): the same for every size (0 when the input is too small for a map)
    sppf_numbers: int  # 4C * h * w of SPPF's concat without convs: grows with the input

    @property
    def feature_height(self) -> int:
        return self.feature[1]

    @property
    def feature_width(self) -> int:
        return self.feature[2]


def size_sweep(geometry: StageGeometry, levels: Sequence[int], aspect: float = 1.0,
               short_sides: Sequence[int] = (64, 128, 224, 320, 448, 640, 800, 1024)) -> list[SizeSweepRow]:
    """For inputs of each short side (at ``aspect`` = width / height): feature map size,
    SPP length (constant) and SPPF output size (growing). Pure arithmetic, no forward pass."""
    levels = parse_levels(levels)
    c = geometry.channels
    rows = []
    for s in short_sides:
        height, width = (s, round(s * aspect)) if aspect >= 1 else (round(s / aspect), s)
        h, w = geometry.feature_size(height, width)
        rows.append(SizeSweepRow(width, height, s, (c, h, w), spp_output_length(c, levels) if h and w else 0, 4 * c * h * w))
    return rows
