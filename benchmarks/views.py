"""Area ``views``: ERF per bin, region pooling vs crop-and-rerun, the scales run.

Targets: an ERF (one forward + one backward) within 3x one forward pass; pooling a region from the
shared map at least 20x faster than cropping it and rerunning the backbone; the scales run within
1.2x the sum of its forward passes (i.e. the SPP vectors, cosines and predictions cost little).
Every latency is ``spp_viz.timing.measure_interleaved`` (medians of interleaved rounds).
"""

from __future__ import annotations

import time
from typing import Callable

import torch

from spp_viz.analysis import PyramidConfig, extract_features
from spp_viz.backbones import Backbone
from spp_viz.boxes import PixelBox
from spp_viz.erf import bin_erf
from spp_viz.images import load_image
from spp_viz.regions import crop_box, pool_window, region_window
from spp_viz.scales import DEFAULT_SCALE_SIZES, resized, scale_sweep
from spp_viz.timing import measure_interleaved

from .common import ASSET, Engine, Row, fmt_ms

AREA = "11 views"
MAX_SIDE = 448


def _erf_row(engine: Engine, image, quick: bool) -> Row:
    backbone = engine.backbone
    x = backbone.preprocess(image)
    t = measure_interleaved({"forward": lambda: backbone.features(x), "erf": lambda: bin_erf(backbone, image, 2, 1, 0)},
                            min_rounds=3 if quick else 9, min_time_s=0.1 if quick else 1.0)
    ratio = t["erf"].median_ms / t["forward"].median_ms
    return Row(AREA, f"ERF of one bin (forward + backward) vs one forward, {image.size[0]}x{image.size[1]}",
               f"{ratio:.2f}x ({fmt_ms(t['erf'].median_ms)} vs {fmt_ms(t['forward'].median_ms)})", "<= 3x", ratio <= 3, ratio,
               {"erf_ms": t["erf"].median_ms, "forward_ms": t["forward"].median_ms, "rounds": t["erf"].rounds})


def _region_row(engine: Engine, image, quick: bool) -> Row:
    backbone = engine.backbone
    features = extract_features(backbone, image)
    w, h = image.size
    box = PixelBox(w / 4, h / 4, 3 * w / 4, 3 * h / 4)
    window = region_window(features, box)
    config = PyramidConfig()

    def pooled() -> object:
        with torch.inference_mode():
            return pool_window(features.feature, window, config).vector

    def rerun() -> object:
        return extract_features(backbone, crop_box(image, box))

    t = measure_interleaved({"pooled": pooled, "rerun": rerun}, min_rounds=3 if quick else 9, min_time_s=0.1 if quick else 1.0)
    ratio = t["rerun"].median_ms / t["pooled"].median_ms
    return Row(AREA, "region: pool the window from the shared map vs crop and rerun the backbone",
               f"{ratio:.0f}x faster ({fmt_ms(t['pooled'].median_ms)} vs {fmt_ms(t['rerun'].median_ms)})", ">= 20x", ratio >= 20, ratio,
               {"pooled_ms": t["pooled"].median_ms, "rerun_ms": t["rerun"].median_ms, "window": window.as_json()})


def _forward(backbone: Backbone, x: torch.Tensor) -> Callable[[], object]:
    return lambda: backbone.features(x)


def _scales_row(engine: Engine, source, quick: bool) -> Row:
    backbone = engine.backbone
    sizes = (224, 320) if quick else DEFAULT_SCALE_SIZES
    images = [resized(source, s) for s in sizes]
    xs = [backbone.preprocess(im) for im in images]
    forwards = measure_interleaved({str(s): _forward(backbone, x) for s, x in zip(sizes, xs)},
                                   min_rounds=3, min_time_s=0.05 if quick else 0.5)
    start = time.perf_counter()
    scale_sweep(backbone, source, sizes, PyramidConfig())
    run_ms = (time.perf_counter() - start) * 1000
    total = sum(lat.median_ms for lat in forwards.values())
    ratio = run_ms / total
    return Row(AREA, f"scales run at {', '.join(map(str, sizes))} px vs the sum of its forward passes",
               f"{ratio:.2f}x ({fmt_ms(run_ms)} vs {fmt_ms(total)})", "<= 1.2x", ratio <= 1.2, ratio,
               {"run_ms": run_ms, "forwards_ms": {k: v.median_ms for k, v in forwards.items()},
                "timing": "run: one perf_counter pair (it includes the resizes); forwards: measure_interleaved medians"})


def run(engine: Engine, quick: bool) -> list[Row]:
    raw = ASSET.read_bytes()
    image = load_image(raw, max_side=256 if quick else MAX_SIDE).image
    source = load_image(raw, max_side=max(DEFAULT_SCALE_SIZES)).image
    return [_erf_row(engine, image, quick), _region_row(engine, image, quick), _scales_row(engine, source, quick)]
