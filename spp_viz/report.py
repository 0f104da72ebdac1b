"""One image, one configuration, end to end: the result the CLI prints and the app downloads.

:func:`run_inspection` chains decode -> backbone -> features -> pyramid -> SPPF -> predictions
with timings; :func:`build_report` turns the pieces into the JSON-ready dict of
``spp-viz inspect --json`` (the app calls it with its cached pieces, so both agree).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from .analysis import (
    FeatureResult,
    Prediction,
    PyramidConfig,
    PyramidResult,
    extract_features,
    finite_logits,
    level_geometry,
    non_finite_count,
    pool_pyramid,
    predict,
)
from .backbones import DEFAULT_BACKBONE, Backbone, DetectorBackbone, load_backbone
from .bins import BinGeometry
from .choices import BinRule, Pool, Weights
from .defaults import DEFAULT_LEVELS, DEFAULT_TOP_K, SPPF_DEFAULT_K, SPPF_DEFAULT_N
from .devices import device_name, working_limit
from .dimensions import dimension_table
from .family import FamilyComparison, HeadReport, compare_with_view, view_lead
from .geometry import StageGeometry
from .i18n import _
from .images import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, DecodedImage, load_image
from .pooling import parse_levels
from .regions import RegionResult
from .timing import UNRELIABLE_TIMINGS


@dataclass
class Inspection:
    """Every piece of one analysis, plus timings in ms."""

    decoded: DecodedImage
    backbone: Backbone
    features: FeatureResult
    pyramid: PyramidResult
    costs: FamilyComparison  # the SPP vs SPPF view of the family (family.sppf_view): the JSON's ``sppf``
    predictions: list[Prediction]
    timings_ms: dict[str, float] = field(default_factory=dict)
    family: FamilyComparison | None = None  # the pyramid-pooling family, when heads were asked for
    region: RegionResult | None = None  # a box pooled from the shared map (``inspect --region``)

    def report(self) -> dict[str, Any]:
        return build_report(self.decoded, self.backbone, self.features, self.pyramid, self.costs, self.predictions,
                            self.timings_ms, family=self.family, region=self.region)


def run_inspection(
    data: bytes | DecodedImage,
    *,
    filename: str | None = None,
    backbone: str = DEFAULT_BACKBONE,
    stage: str | None = None,
    weights: Weights | str = Weights.PRETRAINED,
    checkpoint: bytes | None = None,
    checkpoint_name: str = "checkpoint",
    levels: str | tuple[int, ...] = DEFAULT_LEVELS,
    pool: Pool | str = Pool.MAX,
    rule: BinRule | str = BinRule.ADAPTIVE,
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

    Bytes are decoded once, after the model is loaded, within its device's working limit
    (:func:`spp_viz.devices.working_limit`); a :class:`DecodedImage` is used as it is.

    Raises ``ImageDecodeError``/``BackboneError``/``ValueError`` with one sentence.
    """
    config = PyramidConfig(parse_levels(levels), Pool.parse(pool), BinRule.parse(rule))  # options checked before any heavy work
    if top_k < 1:
        raise ValueError(f"top-k must be at least 1, got {top_k}.")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    model = load_backbone(backbone, stage, weights, checkpoint, checkpoint_name, download=download, device=device)
    load_ms = (time.perf_counter() - start) * 1000
    if isinstance(data, DecodedImage):
        decoded = data
    else:  # the working-size limit is the model's device's
        mark = time.perf_counter()
        decoded = load_image(data, max_side=max_side, max_pixels=max_pixels, filename=filename, limit=working_limit(model))
        timings["decode"] = (time.perf_counter() - mark) * 1000
    timings["load_backbone"] = load_ms
    features = extract_features(model, decoded.image)
    timings["backbone_forward"] = features.forward_ms
    mark = time.perf_counter()
    pyramid = pool_pyramid(features, config)
    timings["spp_head"] = (time.perf_counter() - mark) * 1000
    predictions = predict(model, features, top_k)
    # the SPP vs SPPF view and the family (``heads``: "all" or comma-separated ids), every head
    # timed once, all interleaved, last and alone
    costs, family = compare_with_view(features, config, heads, sppf_k, sppf_n)
    timings["total"] = (time.perf_counter() - start) * 1000
    return Inspection(decoded, model, features, pyramid, costs, predictions, timings, family)


def build_report(
    decoded: DecodedImage,
    backbone: Backbone,
    features: FeatureResult,
    pyramid: PyramidResult,
    costs: FamilyComparison,
    predictions: list[Prediction],
    timings_ms: dict[str, float],
    family: FamilyComparison | None = None,
    region: RegionResult | None = None,
    served_by: str | None = None,
) -> dict[str, Any]:
    """The ``spp-viz inspect --json`` object. Bin ``rows``/``cols`` are ``[start, end)`` feature cells.

    Strict JSON: non-finite floats (a broken checkpoint's map) become ``null``, so
    ``json.dumps(report, allow_nan=False)`` always works.
    """
    c, h, w = features.shape
    config = pyramid.config
    return strict_json({
        "image": {"width": decoded.original_size[0], "height": decoded.original_size[1], "format": decoded.format,
                  "frames": decoded.n_frames, "sha256": decoded.digest, "notes": list(decoded.notes)},
        "input": {"width": features.input_size[0], "height": features.input_size[1]},
        "backbone": {"name": backbone.name, "stage": backbone.stage, "weights": backbone.weights,
                     "stride": features.geometry.stride, "channels": c, "receptive_field": features.geometry.receptive_field,
                     "device": device_name(features.device),
                     **detector_json(backbone, costs)},
        "feature_map": {"channels": c, "height": h, "width": w},
        "spp": {
            "pool": config.pool, "bins": config.rule, "levels_requested": list(config.levels),
            "length": pyramid.length, "expected_length": pyramid.expected_length, "fixed_length": pyramid.valid,
            "arithmetic": pyramid.arithmetic(),
            "levels": [
                {"n": level.n, "length": level.length, "grid": list(level.bins.shape), "valid": level.valid,
                 "rows": [list(r) for r in level.bins.row_ranges], "cols": [list(r) for r in level.bins.col_ranges],
                 "row_overlaps": list(level.bins.row_overlaps), "col_overlaps": list(level.bins.col_overlaps),
                 "problem": level.problem, "arithmetic": level.arithmetic(),
                 "bins": bins_json(level_geometry(features, level))}
                for level in pyramid.levels
            ],
            "global_context": features.geometry.global_context,
        },
        "sppf": sppf_json(costs, features.geometry),
        "dimensions": dimension_table(features, pyramid, view_lead(costs)[0]),
        "predictions": [p.as_json() for p in predictions],
        "predictions_note": "" if predictions else no_predictions_reason(backbone, features),
        "timings_ms": {k: round(v, 3) for k, v in (timings_ms | view_timings_ms(costs)).items()},
        "timings_device": timings_device(features, costs, timings_ms),
        "heads": [head_json(r, family) for r in family.heads] if family else [],
        "region": region.as_json() if region else None,
        "served_by": served_by,  # the app's replica (spp_viz.replica); null from the CLI
        "warnings": report_warnings(backbone, features) + (
            [] if costs.timings_consistent and (family is None or family.timings_consistent) else [UNRELIABLE_TIMINGS]),
    })


# The SPP vs SPPF view's heads in the JSON's ``sppf.costs[].kind`` and ``timings_ms`` keys
# (``spp_yolo`` is ``parallel_spp`` there: the report's names from before the one name).
COST_KINDS = {"sppf": "sppf", "spp_yolo": "parallel_spp", "spp": "spp"}


def sppf_json(costs: FamilyComparison, geometry: StageGeometry) -> dict[str, Any]:
    """The report's ``sppf``: the SPP vs SPPF view's heads. SPPF's cascade (its pooling part,
    ``shape`` before its convs; a checkpoint's trained block's on its cv1's output:
    :func:`spp_viz.family.view_lead`), its NaN-aware equality with YOLOv5's parallel pools, its
    branches' windows, and every head's costs."""
    sppf, parallel = view_lead(costs)
    return {"k": costs.k, "kernels": list(costs.kernels), "shape": list(sppf.pool_shape),
            "matches_parallel_spp": parallel.equal, "max_abs_diff": parallel.max_abs_diff,
            "receptive_fields": sppf.receptive_fields(geometry),
            "costs": [cost_json(r) for r in costs.heads],
            "timings_consistent": costs.timings_consistent}


def cost_json(r: HeadReport) -> dict[str, Any]:
    """One row of ``sppf.costs``: a head of the SPP vs SPPF view."""
    return {"name": r.view_name, "kind": COST_KINDS[r.id], "output_shape": list(r.output_shape), "params": r.params,
            "flops": r.flops, "pool_ms": round(r.pool_ms, 4), "total_ms": round(r.total_ms, 4), "device": r.device,
            **spread_json(r), "weights": r.weights}


def spread_json(r: HeadReport) -> dict[str, Any]:
    """Beside a head's medians and device: torch's threads, and each median's interquartile range,
    sample count (rounds) and whether it stayed noisy (spread above 10 % at the time cap); null
    when not measured."""
    if r.timing is None:
        return dict.fromkeys(("threads", "pool_iqr_ms", "pool_rounds", "pool_noisy", "total_iqr_ms", "total_rounds",
                              "total_noisy"))
    return {"threads": r.timing.pool.threads, **r.timing.pool.as_json("pool"), **r.timing.total.as_json("total")}


def detector_json(backbone: Backbone, costs: FamilyComparison) -> dict[str, Any]:
    """What ``backbone`` gains for a detector checkpoint (nothing for any other backbone): the
    file's own facts (:meth:`DetectorInfo.as_json`) and ``trained_sppf``, its pyramid block: where
    it is, the stage it reads, its parameters as the file has them, whether a head of the SPP vs
    SPPF view ran it (``used``: only on the map it reads) and the sentence that says so."""
    if not isinstance(backbone, DetectorBackbone):
        return {}
    info = backbone.detector
    block = info.sppf
    return info.as_json() | {"trained_sppf": {
        "block": block.title, "layer": block.layer, "reads_stage": info.sppf_input_stage, "head": block.family_head,
        "used": any(r.trained for r in costs.heads), "params": block.params, "bn_folded": block.bn_folded,
        "cv1_activation": block.cv1_activation, "note": info.trained_note(backbone.stage)}}


def head_json(r: HeadReport, family: FamilyComparison) -> dict[str, Any]:
    """One entry of the report's ``heads`` list (NaN for a latency not measured; null in the JSON)."""
    return {
        "id": r.id, "name": r.name, "source": r.source, "purpose": r.purpose,
        "output_shape": list(r.output_shape), "fixed_length": r.fixed_length,
        "params": r.params, "flops": r.flops, "pool_ms": round(r.pool_ms, 4), "total_ms": round(r.total_ms, 4),
        "untrained": r.untrained, "weights": r.weights, "sppf_k": family.k, "sppf_n": family.repeats, "device": r.device, **spread_json(r),
        "branches": [{"name": b.name, "kind": b.kind.value, "rf_cells": list(b.rf_cells),
                      "rf_pixels": list(b.rf_pixels), "whole_map": b.whole_map, "whole_image": b.whole_image}
                     for b in r.branches],
        "exact_equal_to": [{"id": e.other, "max_abs_diff": round(e.max_abs_diff, 4), "equal": e.equal,
                            "claim": e.claim} for e in r.exact_equal_to],
    }


def view_timings_ms(costs: FamilyComparison) -> dict[str, float]:
    """``{"sppf_pool": ..., "sppf_total": ..., "parallel_spp_pool": ..., "spp_total": ...}`` for
    the view's measured heads."""
    out = {}
    for r in costs.heads:
        if r.timing is not None:
            out[f"{COST_KINDS[r.id]}_pool"], out[f"{COST_KINDS[r.id]}_total"] = r.pool_ms, r.total_ms
    return out


def timings_device(features: FeatureResult, costs: FamilyComparison, timings_ms: Mapping[str, float]) -> dict[str, str | None]:
    """Where each ``timings_ms`` figure was measured: the forward and the heads on the map's own
    device (read from the tensors and the latencies, never from a setting); decode and the model's
    load on the CPU. One entry per figure of ``timings_ms`` and of the view's measured heads."""
    forward = device_name(features.device)
    out: dict[str, str | None] = {key: "cpu" if key in ("decode", "load_backbone") else forward for key in timings_ms}
    for r in costs.heads:
        if r.timing is not None:
            out[f"{COST_KINDS[r.id]}_pool"] = out[f"{COST_KINDS[r.id]}_total"] = r.device
    return out


def bins_json(geometry: list[BinGeometry]) -> list[dict[str, Any]]:
    """``[{index, row, col, cells: [r0, r1, c0, c1], box: [x0, y0, x1, y1], rf_box: [...]}]``
    in working-image pixels, ``[start, end)``."""
    return [{"index": g.index, "row": g.row, "col": g.col, "cells": g.cells.as_json(), "box": g.box.as_json(),
             "rf_box": g.rf_box.as_json()} for g in geometry]


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
        return _("The classifier's logits are not finite (NaN or inf), so there is nothing to rank.")
    if backbone.spec.classifier is None:
        return _(backbone.spec.classifier_note)  # marked with N_ where it is defined
    if not backbone.pretrained:
        return _("Untrained (random) weights: no meaningful ImageNet predictions.")
    if backbone.stage != backbone.spec.final_stage:
        return _("Predictions need the final stage ({stage}), whose average pool feeds the classifier.").format(
            stage=backbone.spec.final_stage)
    return _("This checkpoint's classifier does not have the 1,000 ImageNet classes.")
