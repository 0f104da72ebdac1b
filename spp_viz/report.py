"""One image, one configuration, end to end: the result the CLI prints and the app downloads.

:func:`run_inspection` chains decode -> backbone -> features -> head -> SPPF -> predictions
with timings; :func:`build_report` turns the pieces into the JSON-ready dict of
``spp-viz inspect --json`` (the app calls it with its cached pieces, so both agree).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .analysis import (
    FeatureResult,
    HeadConfig,
    HeadResult,
    Prediction,
    SPPFComparison,
    analyse_head,
    compare_sppf,
    dimension_table,
    extract_features,
    predict,
)
from .backbones import DEFAULT_BACKBONE, Backbone, load_backbone
from .images import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, DecodedImage, load_image
from .defaults import DEFAULT_LEVELS, DEFAULT_TOP_K


@dataclass
class Inspection:
    """Every piece of one analysis, plus timings in ms."""

    decoded: DecodedImage
    backbone: Backbone
    features: FeatureResult
    head: HeadResult
    sppf: SPPFComparison
    predictions: list[Prediction]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def report(self) -> dict:
        return build_report(self.decoded, self.backbone, self.features, self.head, self.sppf, self.predictions, self.timings_ms)


def run_inspection(
    data: bytes | DecodedImage,
    *,
    filename: str | None = None,
    backbone: str = DEFAULT_BACKBONE,
    stage: str | None = None,
    weights: str = "pretrained",
    checkpoint: bytes | None = None,
    checkpoint_name: str = "checkpoint",
    levels: str | tuple[int, ...] = DEFAULT_LEVELS,
    pool: str = "max",
    rule: str = "adaptive",
    max_side: int = DEFAULT_MAX_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    top_k: int = DEFAULT_TOP_K,
    download: bool = True,
    device: str | None = None,
) -> Inspection:
    """Analyse image bytes (or an image already decoded with ``images.load_image``).

    Raises ``ImageDecodeError``/``BackboneError``/``ValueError`` with one sentence.
    """
    config = HeadConfig(levels, pool, rule)  # validate options before any heavy work
    if top_k < 1:
        raise ValueError(f"top-k must be at least 1, got {top_k}.")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if isinstance(data, DecodedImage):
        decoded = data
    else:
        decoded = load_image(data, max_side=max_side, max_pixels=max_pixels, filename=filename)
        timings["decode"] = (time.perf_counter() - start) * 1000
    mark = time.perf_counter()
    model = load_backbone(backbone, stage, weights, checkpoint, checkpoint_name, download=download, device=device)
    timings["load_backbone"] = (time.perf_counter() - mark) * 1000
    features = extract_features(model, decoded.image)
    timings["backbone_forward"] = features.forward_ms
    mark = time.perf_counter()
    head = analyse_head(features, config)
    timings["spp_head"] = (time.perf_counter() - mark) * 1000
    sppf = compare_sppf(features, config)
    timings.update(sppf.latencies_ms())
    predictions = predict(model, features, top_k)
    timings["total"] = (time.perf_counter() - start) * 1000
    return Inspection(decoded, model, features, head, sppf, predictions, timings)


def build_report(
    decoded: DecodedImage,
    backbone: Backbone,
    features: FeatureResult,
    head: HeadResult,
    sppf: SPPFComparison,
    predictions: list[Prediction],
    timings_ms: dict[str, float],
) -> dict:
    """The ``spp-viz inspect --json`` object. Bin ``rows``/``cols`` are ``[start, end)`` feature cells."""
    c, h, w = features.shape
    config = head.config
    return {
        "image": {"width": decoded.original_size[0], "height": decoded.original_size[1], "format": decoded.format,
                  "frames": decoded.n_frames, "sha256": decoded.digest, "notes": list(decoded.notes)},
        "input": {"width": features.input_size[0], "height": features.input_size[1]},
        "backbone": {"name": backbone.name, "stage": backbone.stage, "weights": backbone.weights,
                     "stride": features.geometry.stride, "channels": c, "receptive_field": features.geometry.receptive_field,
                     "device": str(backbone.device)},
        "feature_map": {"channels": c, "height": h, "width": w},
        "spp": {
            "pool": config.pool, "bins": config.rule, "levels_requested": list(config.levels),
            "length": head.length, "expected_length": head.expected_length, "fixed_length": head.valid,
            "arithmetic": head.arithmetic(),
            "levels": [
                {"n": level.n, "length": level.length, "bins": list(level.bins.shape), "valid": level.valid,
                 "rows": [list(r) for r in level.bins.row_ranges], "cols": [list(r) for r in level.bins.col_ranges],
                 "row_overlaps": list(level.bins.row_overlaps), "col_overlaps": list(level.bins.col_overlaps),
                 "problem": level.problem, "arithmetic": level.arithmetic()}
                for level in head.levels
            ],
        },
        "sppf": {"k": sppf.k, "kernels": list(sppf.kernels), "shape": list(sppf.shape),
                 "matches_parallel_spp": sppf.equal, "max_abs_diff": sppf.max_abs_diff,
                 "receptive_fields": sppf.receptive_fields(features.geometry),
                 "costs": [{"name": k.name, "output_shape": list(k.output_shape), "latency_ms": round(k.latency_ms, 3),
                            "params": k.params, "flops": k.flops, "pool_comparisons": k.pool_comparisons} for k in sppf.costs]},
        "dimensions": dimension_table(features, head),
        "predictions": [{"label": p.label, "probability": round(p.probability, 6), "index": p.index} for p in predictions],
        "predictions_note": "" if predictions else no_predictions_reason(backbone),
        "timings_ms": {k: round(v, 3) for k, v in timings_ms.items()},
    }


def no_predictions_reason(backbone: Backbone) -> str:
    if backbone.spec.head is None:
        return backbone.spec.head_note
    if not backbone.pretrained:
        return "Untrained (random) weights: no meaningful ImageNet predictions."
    if backbone.stage != backbone.spec.final_stage:
        return f"Predictions need the final stage ({backbone.spec.final_stage}), whose average pool feeds the classifier."
    return "This checkpoint's classifier does not have the 1,000 ImageNet classes."
