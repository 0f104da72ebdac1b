"""The analysis pipeline, split so that changing the head never reruns the backbone.

1. :func:`extract_features`: image -> stage feature map (the one expensive step), once per
   (image digest, backbone, stage, weights, working size).
2. :func:`analyse_head`: feature map + :class:`HeadConfig` -> every level's bins, pooled
   values, winners and the fixed-length vector (cheap).
3. :func:`compare_sppf`: SPPF vs parallel SPP(5, 9, 13) on the same map, with costs.
4. :func:`dimension_table`, :func:`size_sweep`, :func:`predict`, :func:`bin_predictions`.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from .backbones import Backbone, StageGeometry
from .bins import LevelBins, bin_argmax, differing_bins, pyramid_bins
from .pooling import (
    DEFAULT_LEVELS,
    ParallelSPP,
    SPPF,
    check_bin_rule,
    check_pool,
    sppf_equivalence,
    parallel_spp,
    parse_levels,
    spp,
    spp_output_length,
    sppf_branches,
    sppf_effective_kernels,
)


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
    """A stage's feature map for one image: ``feature`` is ``(C, h, w)`` float32 on the CPU."""

    feature: Tensor
    input_size: tuple[int, int]  # (width, height) fed to the backbone
    backbone: str
    stage: str
    weights: str
    geometry: StageGeometry
    forward_ms: float
    gap_logits: Tensor | None = field(default=None, repr=False)  # (1000,) when the backbone can classify

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.feature.shape
        return int(c), int(h), int(w)


def extract_features(backbone: Backbone, image: Image.Image) -> FeatureResult:
    """Run the backbone once on ``image`` at its own size (no crop, no resize)."""
    x = backbone.preprocess(image)
    start = time.perf_counter()
    fmap = backbone.features(x)
    if fmap.is_cuda:
        torch.cuda.synchronize()
    forward_ms = (time.perf_counter() - start) * 1000
    logits = None
    if backbone.can_classify:
        # the 1 x 1 average level IS the classifier's global average pool
        logits = backbone.classify(F.adaptive_avg_pool2d(fmap, 1).flatten(1))[0].float().cpu()
    return FeatureResult(
        fmap[0].float().cpu(), image.size, backbone.name, backbone.stage, backbone.weights,
        backbone.geometry, forward_ms, logits,
    )


class FeatureCache:
    """A small LRU of :class:`FeatureResult`, keyed by (image digest, backbone, stage, weights, size)."""

    def __init__(self, maxsize: int = 8):
        self.maxsize = maxsize
        self._items: OrderedDict[tuple, FeatureResult] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple, compute: Callable[[], FeatureResult]) -> FeatureResult:
        if key in self._items:
            self.hits += 1
            self._items.move_to_end(key)
            return self._items[key]
        self.misses += 1
        value = compute()
        self._items[key] = value
        if len(self._items) > self.maxsize:
            self._items.popitem(last=False)
        return value


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
    if features.gap_logits is None or not backbone.can_classify:
        return []
    return _top_k(features.gap_logits, backbone.categories, top_k)


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


@functools.lru_cache(maxsize=16)
def yolo_head_costs(channels: int, k: int = 5) -> dict[str, tuple[int, int]]:
    """``{"sppf": (params, flops per feature cell), "parallel": (...)}`` for YOLO-style heads with
    their 1x1 convs (cv1 halves C, cv2 back to C).

    Every FLOP these heads have is in 1x1 convs, which cost the same at every cell, so
    flop_counter runs once on a 1 x 1 map and the total is this times h * w. Cached per C:
    building two 4M-parameter modules on every rerun would cost more than the pooling itself.
    """
    x = torch.zeros(1, channels, 1, 1)
    sppf_module = SPPF(channels, channels, k).eval()
    parallel_module = ParallelSPP(channels, channels, sppf_effective_kernels(k)).eval()
    return {
        "sppf": (_params(sppf_module), count_flops(sppf_module, x)),
        "parallel": (_params(parallel_module), count_flops(parallel_module, x)),
    }


@dataclass(frozen=True)
class HeadCost:
    """Cost of one head on the current map. ``pool_comparisons`` is the analytic count of
    max-pool window reads (what SPPF saves); ``params``/``flops`` are for the YOLO-style
    module with its 1x1 convs (cv1 halves C, cv2 back to C), FLOPs via flop_counter."""

    name: str
    output_shape: tuple[int, ...]
    latency_ms: float
    params: int
    flops: int
    pool_comparisons: int

    @property
    def key(self) -> str:
        """Short name for timing tables: ``sppf``, ``parallel_spp`` or ``spp``."""
        return "sppf" if self.name.startswith("SPPF") else "parallel_spp" if self.name.startswith("Parallel") else "spp"


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

    def latencies_ms(self) -> dict[str, float]:
        """``{"sppf_latency": ..., "parallel_spp_latency": ..., "spp_latency": ...}`` (empty unless measured)."""
        return {f"{cost.key}_latency": cost.latency_ms for cost in self.costs}

    def receptive_fields(self, geometry: StageGeometry) -> list[dict]:
        """Each branch's window in feature cells and, through the stage, in input pixels."""
        rows = [{"branch": "x", "cells": 1, "pixels": geometry.receptive_field}]
        for k in self.kernels:
            rows.append({"branch": f"pool {k}", "cells": k, "pixels": geometry.receptive_field + (k - 1) * geometry.stride})
        return rows


def compare_sppf(features: FeatureResult, config: HeadConfig | None = None, k: int = 5, measure: bool = True,
                 timing_runs: int = 3) -> SPPFComparison:
    """Run SPPF and parallel SPP on the map; report equality, shapes and (optionally) costs.

    Latencies are medians of ``timing_runs`` interleaved runs of the three heads.

    Costs include classic SPP with ``config`` for contrast: its output is a fixed vector while
    SPPF's grows with the map.
    """
    fmap = features.feature
    c, h, w = features.shape
    x = fmap.unsqueeze(0)
    kernels = sppf_effective_kernels(k)
    # The runs that produce the branches and the equality check double as timing samples,
    # interleaved SPPF / parallel so machine noise hits both alike.
    # Classic SPP is timed in the same loop, for contrast.
    config = config or HeadConfig()
    sppf_ms, par_ms, spp_ms = [], [], []
    with torch.inference_mode():
        for _ in range(timing_runs if measure else 1):
            start = time.perf_counter()
            cascade = sppf_branches(x, k)
            sppf_out = torch.cat(cascade, dim=1)  # exactly sppf(x, k)
            mid = time.perf_counter()
            parallel_out = parallel_spp(x, kernels)
            end = time.perf_counter()
            sppf_ms.append((mid - start) * 1000)
            par_ms.append((end - mid) * 1000)
            if measure:
                spp_length = int(spp(x, config.levels, config.pool, config.rule).vector.shape[1])
                spp_ms.append((time.perf_counter() - end) * 1000)
        eq = sppf_equivalence(sppf_out, parallel_out)
    branches = tuple(b[0] for b in cascade)
    costs: tuple[HeadCost, ...] = ()
    if measure:
        cells = c * h * w
        yolo = yolo_head_costs(c, k)
        (sppf_params, sppf_flops), (par_params, par_flops) = yolo["sppf"], yolo["parallel"]
        costs = (
            HeadCost("SPPF (k=5, x3)", tuple(eq.shape[1:]), statistics.median(sppf_ms), sppf_params, sppf_flops * h * w, cells * 3 * k * k),
            HeadCost("Parallel SPP (5, 9, 13)", tuple(eq.shape[1:]), statistics.median(par_ms), par_params, par_flops * h * w, cells * sum(q * q for q in kernels)),
            HeadCost(f"SPP {','.join(map(str, config.levels))} ({config.pool})", (spp_length,), statistics.median(spp_ms), 0, 0, cells * len(config.levels)),
        )
    return SPPFComparison(k, kernels, branches, eq.equal, eq.max_abs_diff, tuple(eq.shape[1:]), costs)


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


def size_sweep(geometry: StageGeometry, levels: Sequence[int], aspect: float = 1.0, short_sides: Sequence[int] = (64, 128, 224, 320, 448, 640, 800, 1024)) -> list[dict]:
    """For inputs of each short side (at ``aspect`` = width / height): feature map size,
    SPP length (constant) and SPPF output size (growing). Pure arithmetic, no forward pass."""
    levels = parse_levels(levels)
    c = geometry.channels
    rows = []
    for s in short_sides:
        height, width = (s, round(s * aspect)) if aspect >= 1 else (round(s / aspect), s)
        h, w = geometry.feature_size(height, width)
        rows.append({
            "input": f"{width} x {height}", "short_side": s, "feature_map": f"{c} x {h} x {w}",
            "spp_length": spp_output_length(c, levels) if h and w else 0, "sppf_numbers": 4 * c * h * w,
        })
    return rows
