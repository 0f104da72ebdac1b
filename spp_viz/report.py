"""One image, one configuration, end to end: the result the CLI prints and the app downloads.

:func:`run_inspection` chains decode -> backbone -> features -> head -> SPPF -> predictions
with timings; :func:`build_report` turns the pieces into the JSON-ready dict of
``spp-viz inspect --json`` (the app calls it with its cached pieces, so both agree).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

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
    finite_logits,
    level_geometry,
    non_finite_count,
    predict,
)
from .backbones import DEFAULT_BACKBONE, Backbone, load_backbone
from .bins import BinGeometry
from .defaults import DEFAULT_LEVELS, DEFAULT_TOP_K, SPPF_DEFAULT_K, SPPF_DEFAULT_N
from .devices import working_limit
from .family import FamilyComparison, compare_family, heads_json, latencies_from_sppf
from .images import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, DecodedImage, load_image
from .pooling import parse_levels
from .regions import RegionResult
from .timing import UNRELIABLE_TIMINGS, device_name


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
    family: FamilyComparison | None = None  # the pyramid-pooling family, when heads were asked for
    region: RegionResult | None = None  # a box pooled from the shared map (``inspect --region``)

    def report(self) -> dict:
        return build_report(self.decoded, self.backbone, self.features, self.head, self.sppf, self.predictions, self.timings_ms,
                            family=self.family, region=self.region)


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
    heads: str | None = None,
    sppf_k: int = SPPF_DEFAULT_K,
    sppf_n: int = SPPF_DEFAULT_N,
) -> Inspection:
    """Analyse image bytes (or an image already decoded with ``images.load_image``).

    Bytes are decoded after the model is loaded, within its device's working limit; a
    :class:`DecodedImage` is used as it is.

    Raises ``ImageDecodeError``/``BackboneError``/``ValueError`` with one sentence.
    """
    config = HeadConfig(parse_levels(levels), pool, rule)  # validate options before any heavy work
    if top_k < 1:
        raise ValueError(f"top-k must be at least 1, got {top_k}.")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    model = load_backbone(backbone, stage, weights, checkpoint, checkpoint_name, download=download, device=device)
    timings["load_backbone"] = (time.perf_counter() - start) * 1000
    if isinstance(data, DecodedImage):
        decoded = data
    else:  # the working-size limit is the model's device's (spp_viz.devices.working_limit)
        mark = time.perf_counter()
        decoded = load_image(data, max_side=max_side, max_pixels=max_pixels, filename=filename, limit=working_limit(model))
        timings["decode"] = (time.perf_counter() - mark) * 1000
    features = extract_features(model, decoded.image)
    timings["backbone_forward"] = features.forward_ms
    mark = time.perf_counter()
    head = analyse_head(features, config)
    timings["spp_head"] = (time.perf_counter() - mark) * 1000
    sppf = compare_sppf(features, config)
    timings.update(sppf.latencies_ms())
    predictions = predict(model, features, top_k)
    # the family: ``heads`` is "all" or comma-separated ids; measured last, alone. Its
    # sppf/spp_yolo (at the comparison's k and n) and spp rows ARE the costs rows' measurements
    family = compare_family(features, heads, config, sppf_k, sppf_n, measured=latencies_from_sppf(sppf, sppf_k, sppf_n)) if heads else None
    timings["total"] = (time.perf_counter() - start) * 1000
    return Inspection(decoded, model, features, head, sppf, predictions, timings, family)


def build_report(
    decoded: DecodedImage,
    backbone: Backbone,
    features: FeatureResult,
    head: HeadResult,
    sppf: SPPFComparison,
    predictions: list[Prediction],
    timings_ms: dict[str, float],
    family: FamilyComparison | None = None,
    region: RegionResult | None = None,
    served_by: str | None = None,
) -> dict:
    """The ``spp-viz inspect --json`` object. Bin ``rows``/``cols`` are ``[start, end)`` feature cells.

    Strict JSON: non-finite floats (a broken checkpoint's map) become ``null``, so
    ``json.dumps(report, allow_nan=False)`` always works.
    """
    c, h, w = features.shape
    config = head.config
    return strict_json({
        "image": {"width": decoded.original_size[0], "height": decoded.original_size[1], "format": decoded.format,
                  "frames": decoded.n_frames, "sha256": decoded.digest, "notes": list(decoded.notes)},
        "input": {"width": features.input_size[0], "height": features.input_size[1]},
        "backbone": {"name": backbone.name, "stage": backbone.stage, "weights": backbone.weights,
                     "stride": features.geometry.stride, "channels": c, "receptive_field": features.geometry.receptive_field,
                     "device": device_name(features.device)},
        "feature_map": {"channels": c, "height": h, "width": w},
        "spp": {
            "pool": config.pool, "bins": config.rule, "levels_requested": list(config.levels),
            "length": head.length, "expected_length": head.expected_length, "fixed_length": head.valid,
            "arithmetic": head.arithmetic(),
            "levels": [
                {"n": level.n, "length": level.length, "grid": list(level.bins.shape), "valid": level.valid,
                 "rows": [list(r) for r in level.bins.row_ranges], "cols": [list(r) for r in level.bins.col_ranges],
                 "row_overlaps": list(level.bins.row_overlaps), "col_overlaps": list(level.bins.col_overlaps),
                 "problem": level.problem, "arithmetic": level.arithmetic(),
                 "bins": bins_json(level_geometry(features, level))}
                for level in head.levels
            ],
            "global_context": features.geometry.global_context,
        },
        "sppf": {"k": sppf.k, "kernels": list(sppf.kernels), "shape": list(sppf.shape),
                 "matches_parallel_spp": sppf.equal, "max_abs_diff": sppf.max_abs_diff,
                 "receptive_fields": sppf.receptive_fields(features.geometry),
                 "costs": [{"name": k.name, "kind": k.kind.value, "output_shape": list(k.output_shape), "params": k.params,
                            "flops": k.flops, "pool_ms": round(k.pool_ms, 4), "total_ms": round(k.total_ms, 4),
                            "device": k.device} for k in sppf.costs],
                 "timings_consistent": sppf.timings_consistent},
        "dimensions": dimension_table(features, head),
        "predictions": [{"label": p.label, "probability": round(p.probability, 6), "index": p.index} for p in predictions],
        "predictions_note": "" if predictions else no_predictions_reason(backbone, features),
        "timings_ms": {k: round(v, 3) for k, v in timings_ms.items()},
        "timings_device": timings_device(features, sppf),
        "heads": heads_json(family) if family else [],
        "region": region.as_json() if region else None,
        "served_by": served_by,  # the app's replica (spp_viz.replica); null from the CLI
        "warnings": report_warnings(backbone, features) + (
            [] if sppf.timings_consistent and (family is None or family.timings_consistent) else [UNRELIABLE_TIMINGS]),
    })


def timings_device(features: FeatureResult, sppf: SPPFComparison) -> dict[str, str | None]:
    """Where each ``timings_ms`` figure was measured: the forward and the heads on the map's own
    device (read from the tensors and the latencies, never from a setting); decode and the model's
    load on the CPU; ``null`` for a head not measured."""
    forward = device_name(features.device)
    out: dict[str, str | None] = {"decode": "cpu", "load_backbone": "cpu", "backbone_forward": forward, "spp_head": forward,
                                  "total": forward}
    for cost in sppf.costs:
        out[f"{cost.kind.value}_pool"] = cost.device
        out[f"{cost.kind.value}_total"] = cost.device
    return out


def bins_json(geometry: list[BinGeometry]) -> list[dict]:
    """``[{index, row, col, cells: [r0, r1, c0, c1], box: [x0, y0, x1, y1], rf_box: [...]}]``
    in working-image pixels, ``[start, end)``."""
    return [{"index": g.index, "row": g.row, "col": g.col, "cells": list(g.cells),
             "box": [g.box.x0, g.box.y0, g.box.x1, g.box.y1],
             "rf_box": [g.rf_box.x0, g.rf_box.y0, g.rf_box.x1, g.rf_box.y1]} for g in geometry]


def strict_json(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) replaced by None (JSON ``null``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def report_warnings(backbone: Backbone, features: FeatureResult) -> list[str]:
    """One sentence per problem with the numbers: bad weights, a non-finite map, non-finite logits."""
    out = [backbone.weights_warning] if backbone.weights_warning else []
    bad = non_finite_count(features)
    if bad:
        c, h, w = features.shape
        out.append(f"The feature map holds {bad:,} non-finite values (NaN or inf) of {c * h * w:,}: pooled values, "
                   "SPPF outputs and predictions computed from them are not meaningful, and the JSON shows them as null.")
    if not finite_logits(features):
        out.append("The classifier's logits are not finite (NaN or inf), so no predictions are given.")
    return out


def no_predictions_reason(backbone: Backbone, features: FeatureResult | None = None) -> str:
    """Why there are no predictions, in one sentence (pass ``features`` to check its logits)."""
    if features is not None and not finite_logits(features):
        return "The classifier's logits are not finite (NaN or inf), so there is nothing to rank."
    if backbone.spec.head is None:
        return backbone.spec.head_note
    if not backbone.pretrained:
        return "Untrained (random) weights: no meaningful ImageNet predictions."
    if backbone.stage != backbone.spec.final_stage:
        return f"Predictions need the final stage ({backbone.spec.final_stage}), whose average pool feeds the classifier."
    return "This checkpoint's classifier does not have the 1,000 ImageNet classes."
