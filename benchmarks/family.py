"""Area 8: the pyramid-pooling family side by side.

On the default map (EfficientNet-Lite0's head on the cat sample at the default working size,
``(1, 1280, 10, 15)``): each head's pool-only and total latency, exactly as the app and
``spp-viz inspect --heads all`` measure them (:func:`spp_viz.family.compare_family`, all heads
interleaved in one :func:`spp_viz.timing.measure_interleaved` call). Then separable vs square
SPPF pooling (ultralytics PR #26082 reports the separable form 22-45% faster on CPU), on that
map and on the 12 MP photo's ``(1, 1280, 24, 32)`` map, interleaved side by side.
Latencies report, they do not test: no targets.
"""

from __future__ import annotations

import torch

from spp_viz.analysis import extract_features
from spp_viz.family import compare_family
from spp_viz.images import load_image
from spp_viz.pooling import PoolFn, cascade_branches, max_pool_same, separable_max_pool
from spp_viz.timing import measure_interleaved

from .common import ASSET, Engine, Row, fmt_ms

AREA = "8 family"
CAT = ASSET  # the cat sample


def _head_rows(engine: Engine) -> list[Row]:
    decoded = load_image(CAT.read_bytes())
    features = extract_features(engine.backbone, decoded.image)
    result = compare_family(features, "all")
    c, h, w = result.feature_shape
    rows = []
    for r in result.heads:
        details = {"map": [1, c, h, w], "params": r.params, "flops": r.flops, "output_shape": list(r.output_shape),
                   "pool_ms": round(r.pool_ms, 4), "total_ms": round(r.total_ms, 4),
                   "rounds": r.timing.total.rounds if r.timing else None}
        convs = " (random convs)" if r.untrained else " (no convs)"
        rows.append(Row(AREA, f"{r.id}: pool only / total{convs} on 1x{c}x{h}x{w}",
                        f"{fmt_ms(r.pool_ms)} / {fmt_ms(r.total_ms)} ({r.params / 1e6:.1f} M params, {r.flops / 1e9:.2f} GFLOPs)",
                        "-", None, r.total_ms, details))
    return rows


def _separable_row(x: torch.Tensor, label: str, quick: bool) -> Row:
    """SPPF's pooling at the width its pools see (C / 2), square vs separable, k=5 n=3."""
    half = x[:, : x.shape[1] // 2].contiguous()
    def run(pool: PoolFn):
        def fn() -> object:
            with torch.inference_mode():
                return torch.cat(cascade_branches(half, 5, 3, pool), 1)
        return fn

    same = torch.equal(run(max_pool_same)(), run(separable_max_pool)())
    t = measure_interleaved({"square": run(max_pool_same), "separable": run(separable_max_pool)},
                            min_rounds=7 if quick else 21, min_time_s=0.15 if quick else 0.6)
    ratio = t["separable"].median_ms / t["square"].median_ms
    return Row(AREA, f"SPPF pools separable (1x5 then 5x1) vs square 5x5, x3, on {label}",
               f"{ratio:.2f}x ({fmt_ms(t['separable'].median_ms)} vs {fmt_ms(t['square'].median_ms)}); identical: {same}",
               "-", None, ratio,
               {"map": list(half.shape), "identical": same, "square_ms": t["square"].median_ms,
                "separable_ms": t["separable"].median_ms, "rounds": t["square"].rounds})


def run(engine: Engine, quick: bool) -> list[Row]:
    rows = _head_rows(engine)
    decoded = load_image(CAT.read_bytes())
    cat_map = extract_features(engine.backbone, decoded.image).feature.unsqueeze(0)
    rows.append(_separable_row(cat_map, "the cat map", quick))
    rows.append(_separable_row(engine.feature_map(), "the 12 MP photo's map", quick))
    return rows
