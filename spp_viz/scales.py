"""Scales: the same image at several working sizes.

SPP's promise is a fixed-length vector whatever the input size; SPPF (YOLO's "SPP") keeps the
map's spatial size, so its output grows with the input. Each scale here is a real forward pass
of the image resized (from one decoded copy, with :mod:`spp_viz.images`' resampling and limits)
so the long side is the given size: the map's size, SPP's length (constant), SPPF's output
numbers (its pools alone, ``4C x h x w``: :class:`spp_viz.dimensions.SPPFStage`, growing), the cosine similarity of the scale's SPP vector to the first
scale's, the top-1 and the forward time: one synchronised call per size (a sweep of forwards is too slow
to repeat), reported as a single run with the load average next to it
(:class:`spp_viz.timing.SingleRun`). The page and the CLI run the sweep in the timing worker
(:func:`measure_scales`), where nothing else shares the process with the forwards.

Also the classifier's training resolution: torchvision's ImageNet classifiers were trained on
224-px crops, and a network tested at another resolution sees objects at another apparent
size than in training (Touvron et al., 2019, "Fixing the train-test resolution discrepancy",
FixRes), so the predictions at 224 px and at the working size differ.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from . import worker
from .analysis import FeatureResult, Prediction, PyramidConfig, extract_features, predict
from .backbones import Backbone, BackboneLoad
from .dimensions import SPPFStage, sppf_sizes
from .i18n import N_
from .images import DEFAULT_MAX_SIDE, resize, working_size
from .pooling import spp
from .timing import Interrupted, SingleRun

# the long sides compared by default (the current working size is added)
DEFAULT_SCALE_SIZES = (224, 320, 448, 640, 896)
# the long side torchvision's ImageNet classifiers were trained and evaluated at
TRAINING_RESOLUTION = 224
FIXRES_NOTE = N_("The classifier was trained on 224-px crops; at another working size the objects look larger or smaller "
                 "than in training, so its predictions shift (the train-test resolution discrepancy, Touvron et al. 2019, \"FixRes\").")


@dataclass(frozen=True)
class ScaleRow:
    """One working size: what the backbone and the heads make of the image at that size."""

    size: tuple[int, int]  # (width, height) of the input
    feature_map: tuple[int, int, int]  # (C, h, w)
    spp_length: int  # C * sum(n^2): the same at every size
    sppf_numbers: int  # SPPF's pools alone, (n + 1)C * h * w (dimensions.SPPFStage.POOLS): grows with the input
    cosine_to_first: float  # cosine similarity of this scale's SPP vector to the first scale's
    predictions: tuple[Prediction, ...]  # top-1 (empty when the backbone cannot classify here)
    forward_ms: float
    forward: SingleRun | None = None  # forward_ms with its device and the load average then
    upscaled: bool = False  # the photo is smaller than this size: it was scaled up to it

    def as_json(self) -> dict[str, Any]:
        return {"size": list(self.size), "feature_map": list(self.feature_map), "spp_length": self.spp_length,
                "sppf_numbers": self.sppf_numbers, "cosine_to_first": round(self.cosine_to_first, 6),
                "predictions": [p.as_json() for p in self.predictions],
                "forward_ms": round(self.forward_ms, 3), "forward": self.forward.as_json() if self.forward else None,
                "upscaled": self.upscaled}


def scale_sizes(sizes: Sequence[int], current: int) -> tuple[int, ...]:
    """The sizes to run, ascending and without repeats, the current working long side included."""
    return tuple(sorted(set(sizes) | {current}))


def resized(source: Image.Image, long_side: int) -> Image.Image:
    """``source`` scaled so its long side is ``long_side``, down or UP (SPP's length does not depend
    on the size, so a photo scaled up is a fair experiment; its row says so), within the working
    limits of :func:`images.working_size` (the minimum side, the pixel budget); 0 = as is."""
    if long_side == 0:
        return source
    w, h = source.size
    scale = long_side / max(w, h)
    return resize(source, working_size(max(1, round(w * scale)), max(1, round(h * scale)), max_side=0))


def _row(backbone: Backbone, features: FeatureResult, config: PyramidConfig, first: torch.Tensor | None) -> tuple[ScaleRow, torch.Tensor]:
    c, h, w = features.shape
    with torch.inference_mode():
        vector = spp(features.feature.unsqueeze(0), config.levels, config.pool, config.rule).vector[0]
    reference = vector if first is None else first
    cosine = float(F.cosine_similarity(vector, reference, dim=0)) if vector.shape == reference.shape else float("nan")
    row = ScaleRow(features.input_size, (c, h, w), int(vector.numel()), sppf_sizes(c, h, w)[SPPFStage.POOLS].numbers, cosine,
                   tuple(predict(backbone, features, 1)), features.forward_ms, features.forward)
    return row, reference


def scale_sweep(backbone: Backbone, source: Image.Image, sizes: Sequence[int], config: PyramidConfig,
                progress: Callable[[int, int], None] | None = None) -> list[ScaleRow]:
    """One forward pass per size in ``sizes`` (long sides, in that order) of ``source`` resized.

    ``source`` is the decoded image at (at least) the largest size; ``progress(done, total)``
    is called after each forward (the app's progress bar).
    """
    rows: list[ScaleRow] = []
    first = None
    for done, size in enumerate(sizes, start=1):
        image = resized(source, size)
        if any(row.size == image.size for row in rows):
            continue  # the working limits made two sizes one: it is listed once
        features = extract_features(backbone, image)
        row, first = _row(backbone, features, config, first)
        rows.append(replace(row, upscaled=max(image.size) > max(source.size)))
        if progress is not None:
            progress(done, len(sizes))
    return rows


@dataclass(frozen=True)
class ScalesTask:
    """The timing worker's task for the scales: the backbone's load arguments, the decoded image
    and the sizes; the forwards run there, one after the other."""

    model: BackboneLoad
    source: Image.Image
    sizes: tuple[int, ...]
    config: PyramidConfig

    def run(self, stop: Callable[[], bool]) -> list[ScaleRow]:
        def check(done: int, total: int) -> None:
            if stop():
                raise Interrupted("the scales were stopped before the last forward")

        return scale_sweep(self.model.loaded(), self.source, self.sizes, self.config, progress=check)


def measure_scales(backbone: Backbone, source: Image.Image, sizes: Sequence[int], config: PyramidConfig,
                   stop: Callable[[], bool] | None = None) -> list[ScaleRow]:
    """:func:`scale_sweep` in the timing worker (the backbone loaded there from ``backbone.load``);
    ``stop`` as for :func:`spp_viz.worker.run`."""
    if backbone.load is None:
        raise ValueError("This backbone was not made by load_backbone: the timing worker cannot load it for the scales.")
    return worker.run(ScalesTask(backbone.load, source, tuple(sizes), config), stop)


@dataclass(frozen=True)
class ResolutionComparison:
    """Top-k at the classifier's training resolution next to the top-k at the working size."""

    training_size: tuple[int, int]
    training_predictions: tuple[Prediction, ...]
    working_size: tuple[int, int]
    working_predictions: tuple[Prediction, ...]
    note: str = FIXRES_NOTE


def training_resolution(backbone: Backbone, source: Image.Image, working: FeatureResult, top_k: int = 5) -> ResolutionComparison:
    """Top-k of ``source`` resized to a 224-px long side next to the working size's top-k."""
    small = resized(source, TRAINING_RESOLUTION)
    features = extract_features(backbone, small)
    return ResolutionComparison(small.size, tuple(predict(backbone, features, top_k)),
                                working.input_size, tuple(predict(backbone, working, top_k)))


def decode_side(sizes: Sequence[int], current: int = DEFAULT_MAX_SIDE) -> int:
    """The ``max_side`` to decode once at so every size is a resize of that copy (0: native)."""
    return 0 if current == 0 else max(max(sizes), current)
