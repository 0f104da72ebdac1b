"""The analysis pipeline, split so that changing the pyramid never reruns the backbone.

1. :func:`extract_features`: image -> stage feature map (the one expensive step), once per
   (image digest, backbone, stage, weights, working size).
2. :func:`pool_pyramid`: feature map + :class:`PyramidConfig` -> every level's bins, pooled
   values, winners and the fixed-length vector (cheap).
3. :func:`predict`, :func:`bin_predictions`: what the classifier reads from the map and its bins.

SPP vs SPPF and the other pooling heads on the map: :mod:`spp_viz.family`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence, cast

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from .backbones import Backbone
from .bins import (
    AxisSpans,
    BinGeometry,
    LevelBins,
    bin_geometry,
    differing_bins,
    level_arithmetic,
    pyramid_bins,
    spp_arithmetic,
    spp_output_length,
)
from .choices import BinRule, Pool
from .configs import PyramidConfig  # noqa: F401 (re-exported: its torch-free home)
from .geometry import StageGeometry
from .pooling import bin_argmax, spp
from .timing import SingleRun, time_once

if TYPE_CHECKING:
    from .heads.registry import TrainedHead


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
    # the checkpoint's trained pyramid block that reads this map (a detector at p5): Backbone.trained_head
    trained_head: TrainedHead | None = field(default=None, repr=False, compare=False)

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
        backbone.geometry, run.ms, logits, run, backbone.trained_head,
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
        return level_arithmetic(c, r, k)


@dataclass(frozen=True)
class PyramidResult:
    config: PyramidConfig
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
        return spp_arithmetic(self.channels, self.config.levels)

    def level_offsets(self) -> list[tuple[int, int]]:
        """``[start, end)`` of each level's segment in :attr:`vector`."""
        out, start = [], 0
        for level in self.levels:
            out.append((start, start + level.length))
            start += level.length
        return out


def pool_pyramid(features: FeatureResult, config: PyramidConfig) -> PyramidResult:
    """Apply the pyramid to the cached map: bins, pooled values, winners, vector."""
    fmap = features.feature
    c, h, w = features.shape
    result = spp(fmap.unsqueeze(0), config.levels, config.pool, config.rule)
    levels = []
    for level in result.levels:
        geometry = pyramid_bins(h, w, level.n, config.rule)
        winners = bin_argmax(fmap, level.n, config.rule) if config.pool is Pool.MAX else None
        differing = tuple(differing_bins(h, w, level.n)) if config.rule is BinRule.PAPER else ()
        levels.append(LevelResult(level.n, geometry, level.pooled[0], winners, differing))
    return PyramidResult(config, tuple(levels), result.vector[0], c)


def level_geometry(features: FeatureResult, level: LevelResult) -> list[BinGeometry]:
    """Every bin of ``level`` in working-image pixels: cells, box through the stride, receptive-field box."""
    return bin_geometry(level.bins, features.spans, features.input_size, features.geometry.global_context)


@dataclass(frozen=True)
class Prediction:
    """One ImageNet class the classifier ranked: its label, softmax probability and class index."""

    label: str
    probability: float
    index: int

    def as_json(self) -> dict[str, object]:
        return {"label": self.label, "probability": round(self.probability, 6), "index": self.index}


def top_predictions(logits: Tensor, categories: Sequence[str], k: int) -> list[Prediction]:
    """The ``k`` most probable classes of one row of logits, by softmax."""
    probs = logits.float().softmax(-1)
    values, indices = probs.topk(min(k, probs.numel()))
    return [Prediction(categories[i], float(v), int(i)) for v, i in zip(values.tolist(), indices.tolist())]


def predict(backbone: Backbone, features: FeatureResult, top_k: int = 5) -> list[Prediction]:
    """ImageNet top-k for the whole image, read from the 1 x 1 average level (= the backbone's GAP)."""
    if features.gap_logits is None or not backbone.can_classify or not finite_logits(features):
        return []  # non-finite logits (a broken checkpoint): a softmax of NaN ranks nothing
    return top_predictions(features.gap_logits, backbone.categories, top_k)


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
    tops = [top_predictions(row, backbone.categories, 1)[0] for row in logits]
    return [tops[r * cols:(r + 1) * cols] for r in range(rows)]
