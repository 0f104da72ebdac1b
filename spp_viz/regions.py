"""Region pooling: SPP-net's detection idea (He et al., 2014, section 4) on the shared map.

SPP-net runs the convolutional layers ONCE per image and pools each candidate window from the
shared feature map, instead of cropping every window and rerunning the network (R-CNN). Here a
box in working-image pixels selects the feature cells whose receptive-field CENTRE lies in the
box (``AxisSpans.centre``; at least one cell per axis: the nearest one when none does), the
window is SPP-pooled with the current levels/pool/rule, and classified from its 1 x 1 average
level (the classifier's own global average pool, restricted to the window). Side by side, the
box is cropped from the image and the backbone is run on the crop.

Timing (``measure=True``), in the timing worker (:mod:`spp_viz.worker`, :class:`RegionTask`): the
window pooling is microseconds, so it is measured with ``timing.measure_interleaved`` (median of
many calls, with its spread, on the map's device); the crop-and-rerun is one synchronised call
around preprocessing, the full forward pass and the classifier, reported as a single run with the
load average (:class:`spp_viz.timing.SingleRun`). Without ``measure`` neither runs: the pooled
side alone, for a page that measures later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, cast

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from . import worker
from .analysis import FeatureResult, Prediction, PyramidConfig, extract_features, predict, top_predictions
from .backbones import Backbone, BackboneLoad
from .bins import AxisSpans
from .boxes import CellWindow, PixelBox
from .i18n import _
from .pooling import SPPResult, spp
from .timing import SINGLE_HEAD_MIN_TIME_S, Interrupted, Latency, SingleRun, measure_interleaved, time_once
from .worker import TensorValue


def check_region(box: PixelBox, size: tuple[int, int]) -> PixelBox:
    """``box`` if it is a non-empty box inside the ``(width, height)`` image; else ValueError (one sentence)."""
    width, height = size
    if not (box.x0 < box.x1 and box.y0 < box.y1):
        raise ValueError(_("The region {box} is empty or inverted: give X0,Y0,X1,Y1 with X0 < X1 and Y0 < Y1.").format(
            box=f"{box.x0:g},{box.y0:g},{box.x1:g},{box.y1:g}"))
    if box.x0 < 0 or box.y0 < 0 or box.x1 > width or box.y1 > height:
        raise ValueError(_("The region {box} is not inside the {width} x {height} working image: use 0 <= X0 < X1 <= "
                           "{width} and 0 <= Y0 < Y1 <= {height}.").format(box=f"{box.x0:g},{box.y0:g},{box.x1:g},{box.y1:g}",
                                                                          width=width, height=height))
    return box


def axis_window(spans: AxisSpans, start: float, stop: float) -> tuple[int, int]:
    """``[first, last + 1)`` of the cells whose receptive-field centre lies in ``[start, stop)``.

    When no centre does, the single cell whose centre is nearest the interval's middle.
    """
    inside = [i for i in range(spans.count) if start <= spans.centre(i) < stop]
    if inside:
        return inside[0], inside[-1] + 1
    middle = (start + stop) / 2
    nearest = min(range(spans.count), key=lambda i: abs(spans.centre(i) - middle))
    return nearest, nearest + 1


def region_window(features: FeatureResult, box: PixelBox) -> CellWindow:
    """The feature cells of ``box`` on the shared map."""
    ys, xs = features.spans
    return CellWindow(axis_window(ys, box.y0, box.y1), axis_window(xs, box.x0, box.x1))


def pool_window(fmap: Tensor, window: CellWindow, config: PyramidConfig) -> SPPResult:
    """SPP of the window of a ``(C, h, w)`` map: ``(1, C * sum(n^2))`` for a valid pyramid."""
    return spp(window.select(fmap).unsqueeze(0), config.levels, config.pool, config.rule)


@dataclass(frozen=True)
class RegionResult:
    """One region, pooled from the shared map and recomputed from the crop."""

    box: PixelBox
    window: CellWindow  # the feature cells the box selects
    length: int  # SPP vector length of the window
    valid: bool  # every level gave its n x n bins on the window
    vector: Tensor  # (C * sum(n^2),) the window's SPP vector
    predictions: tuple[Prediction, ...]  # from the window's 1 x 1 average level (empty: cannot classify)
    pooled_ms: float  # measure_interleaved median of the window pooling (NaN when not measured)
    recompute_ms: float  # one synchronised call: crop + preprocess + forward + classifier (NaN: not run)
    recompute_predictions: tuple[Prediction, ...]
    pooled_device: str | None = None  # where the pooling was timed (None: not measured)
    recompute: SingleRun | None = None  # recompute_ms with its device and the load average then
    pooled: Latency | None = None  # pooled_ms with its spread, rounds and threads (None: not measured)

    def as_json(self) -> dict[str, Any]:
        pooled = self.pooled
        return {"box": self.box.as_json(), "window": self.window.as_json(), "length": self.length, "valid": self.valid,
                "predictions": [p.as_json() for p in self.predictions], "pooled_ms": round(self.pooled_ms, 6), "pooled_device": self.pooled_device,
                "pooled_threads": pooled.threads if pooled else None,
                **(pooled.as_json("pooled") if pooled else {"pooled_iqr_ms": None, "pooled_rounds": None, "pooled_noisy": None}),
                "recompute_ms": round(self.recompute_ms, 3), "recompute": self.recompute.as_json() if self.recompute else None,
                "recompute_predictions": [p.as_json() for p in self.recompute_predictions]}


def window_predictions(backbone: Backbone, fmap: Tensor, window: CellWindow, top_k: int) -> tuple[Prediction, ...]:
    """Top-k of the window's 1 x 1 average level (empty when the backbone cannot classify here)."""
    if not backbone.can_classify:
        return ()
    gap = F.adaptive_avg_pool2d(window.select(fmap).unsqueeze(0), 1).flatten(1)
    logits = backbone.classify(gap)[0].float().cpu()
    if not bool(torch.isfinite(logits).all()):
        return ()
    return tuple(top_predictions(logits, backbone.categories, top_k))


def crop_box(image: Image.Image, box: PixelBox) -> Image.Image:
    """The pixels the box touches (floor of the start, ceiling of the end)."""
    return image.crop((int(box.x0), int(box.y0), -int(-box.x1 // 1), -int(-box.y1 // 1)))


def recompute(backbone: Backbone, crop: Image.Image, top_k: int) -> tuple[tuple[Prediction, ...], SingleRun]:
    """R-CNN's way: run the whole backbone on the box's crop (:func:`crop_box`); (top-k, one timed run)."""
    out, run = time_once(lambda: tuple(predict(backbone, extract_features(backbone, crop), top_k)), backbone.device)
    return cast(tuple[Prediction, ...], out), run


def pool_region(backbone: Backbone, image: Image.Image, features: FeatureResult, box: PixelBox,
                config: PyramidConfig, top_k: int = 5, measure: bool = True,
                stop: Callable[[], bool] | None = None) -> RegionResult:
    """Pool ``box`` from the shared ``features`` of ``image`` and compare with crop-and-rerun
    (``measure``: both timed in the timing worker; ``stop`` as for :func:`spp_viz.worker.run`).

    Raises ValueError (one sentence) for a box outside the image, empty or inverted.
    """
    check_region(box, features.input_size)
    window = region_window(features, box)
    fmap = features.feature
    with torch.inference_mode():
        result = pool_window(fmap, window, config)
    predictions = window_predictions(backbone, fmap, window, top_k)
    base = RegionResult(box, window, int(result.vector.shape[1]), result.valid, result.vector[0], predictions,
                        math.nan, math.nan, ())
    if not measure:
        return base
    if backbone.load is None:
        raise ValueError("This backbone was not made by load_backbone: the timing worker cannot load it for the crop-and-rerun.")
    task = RegionTask(TensorValue.of(fmap), window, config, backbone.load, crop_box(image, box), top_k)
    latency, recomputed, single = worker.run(task, stop)
    return replace(base, pooled_ms=latency.median_ms, pooled_device=latency.device, pooled=latency,
                   recompute_ms=single.ms, recompute_predictions=recomputed, recompute=single)


@dataclass(frozen=True)
class RegionTask:
    """The timing worker's task for a region: the window pooled from the map, timed with its
    spread, then the crop run through the backbone (loaded in the worker from ``model``) once."""

    map: TensorValue
    window: CellWindow
    config: PyramidConfig
    model: BackboneLoad
    crop: Image.Image
    top_k: int

    def run(self, stop: Callable[[], bool]) -> tuple[Latency, tuple[Prediction, ...], SingleRun]:
        fmap = self.map.tensor()

        def pooled() -> object:
            with torch.inference_mode():
                return pool_window(fmap, self.window, self.config).vector

        latency = measure_interleaved({"region": pooled}, device=fmap.device, min_time_s=SINGLE_HEAD_MIN_TIME_S, stop=stop)["region"]
        backbone = self.model.loaded()
        if stop():
            raise Interrupted("the measurement was stopped before the crop-and-rerun")
        predictions, single = recompute(backbone, self.crop, self.top_k)
        return latency, predictions, single
