"""Rows for the app's tables. The costs table keeps numbers as numbers (the app formats them);
the family, prediction and scale tables are strings, because a cell may read "not measured"."""

from __future__ import annotations

import math

from ..analysis import Prediction
from ..family import FamilyComparison, HeadWeights
from ..scales import ScaleRow
from .text import milliseconds, times

COST_COLUMNS = ("head", "output shape", "output numbers", "params (with 1x1 convs)", "FLOPs (convs)",
                "pool ms (median)", "total ms (median)", "timed on")


def costs_rows(costs: FamilyComparison) -> list[dict[str, object]]:
    """One row per head of the SPP vs SPPF view: SPPF, YOLOv5's parallel SPP and the current SPP
    head. ``pool ms`` times the parameter-free pooling alone, ``total ms`` the whole module with
    its 1 × 1 convs (for classic SPP both are the same call); NaN until measured, ``timed on``
    the device the medians were measured on (None until then)."""
    return [dict(zip(COST_COLUMNS, (
        r.view_name, " × ".join(str(s) for s in r.output_shape), math.prod(r.output_shape), r.params, r.flops,
        round(r.pool_ms, 3), round(r.total_ms, 3), r.device,
    ))) for r in costs.heads]


CONVS = {HeadWeights.TRAINED: " (trained convs)", HeadWeights.SEEDED: " (untrained convs)", HeadWeights.NONE: " (no convs)"}


def family_rows(family: FamilyComparison, measuring: bool = False) -> list[dict[str, str]]:
    """One row per head, every cell a string (no empty cells); a latency not there yet reads
    "measuring…" while the page measures, else "not measured"."""
    return [{
        "head": r.id, "name": r.name, "output": times(*r.output_shape),
        "fixed length": "yes" if r.fixed_length else "no", "params": f"{r.params:,}",
        "GFLOPs": f"{r.flops / 1e9:.3f}", "pool ms": milliseconds(r.pool_ms, measuring),
        "total ms": milliseconds(r.total_ms, measuring) + CONVS[r.weights],
        "timed on": r.device or ("measuring…" if measuring else "not measured"),
        "branch RF, cells": ", ".join(f"{b.name}: {b.rf_cells[0]}×{b.rf_cells[1]}" for b in r.branches),
        "branch RF, px": ", ".join(f"{b.rf_pixels[0]}×{b.rf_pixels[1]}" + (" (whole image)" if b.whole_image else "")
                                   for b in r.branches),
        "exactly equal to": ", ".join(f"{e.other} ({'yes' if e.equal else 'NO'})" for e in r.exact_equal_to) or "none listed",
    } for r in family.heads]


def prediction_rows(predictions: tuple[Prediction, ...]) -> list[dict[str, str]]:
    return [{"label": p.label, "probability": f"{p.probability:.1%}"} for p in predictions]


def scale_rows(rows: list[ScaleRow]) -> list[dict[str, str]]:
    """One row per working size: what stays (SPP's length) and what changes."""
    return [{
        "input": f"{r.size[0]}×{r.size[1]}" + (" (scaled up)" if r.upscaled else ""), "feature map": "×".join(map(str, r.feature_map)),
        "SPP length": f"{r.spp_length:,}", "SPPF numbers": f"{r.sppf_numbers:,}",
        "cosine to first": f"{r.cosine_to_first:.3f}",
        "top-1": f"{r.predictions[0].label} {r.predictions[0].probability:.1%}" if r.predictions else "no classifier",
        "forward ms": f"{r.forward_ms:.0f}",
        "forward timed": (f"one run on {r.forward.device}, load {r.forward.load_average:.2f}" if r.forward else "one run"),
    } for r in rows]
