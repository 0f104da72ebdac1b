"""Rows for the app's tables. Counts stay numbers (the app formats them); every latency is a
string from :func:`spp_viz.timing.format_latency` ("3.4 ms ± 4%", "· noisy" when its spread stayed
above 10 %), and a cell may read "measuring…" or "not measured"."""

from __future__ import annotations

import math

from ..analysis import Prediction
from ..family import FamilyComparison, HeadReport
from ..scales import ScaleRow
from ..timing import Latency, format_latency, format_ms
from .text import times

POOL_COLUMN = "pool (median ± spread)"
TOTAL_COLUMN = "total (median ± spread)"
COST_COLUMNS = ("head", "output shape", "output numbers", "params (with 1x1 convs)", "FLOPs (convs)",
                POOL_COLUMN, TOTAL_COLUMN, "timed on")


def latency_cell(latency: Latency | None, measuring: bool = False) -> str:
    """A latency as the page writes it, or why there is none (still being measured, or not measured)."""
    if latency is not None:
        return format_latency(latency)
    return "measuring…" if measuring else "not measured"


def timed_on(report: HeadReport, measuring: bool = False) -> str:
    """Where a head was timed and with how many threads (``cpu, 2 threads``)."""
    if report.timing is not None:
        return report.timing.pool.where
    return "measuring…" if measuring else "not measured"


def costs_rows(costs: FamilyComparison, measuring: bool = False) -> list[dict[str, object]]:
    """One row per head of the SPP vs SPPF view: SPPF, YOLOv5's parallel SPP and the current SPP
    head. The pool column times the parameter-free pooling alone, the total column the whole
    module with its 1 × 1 convs (for classic SPP both are the same call); ``timed on`` the device
    and thread count the medians were measured with."""
    return [dict(zip(COST_COLUMNS, (
        r.view_name, " × ".join(str(s) for s in r.output_shape), math.prod(r.output_shape), r.params, r.flops,
        latency_cell(r.timing.pool if r.timing else None, measuring),
        latency_cell(r.timing.total if r.timing else None, measuring), timed_on(r, measuring),
    ))) for r in costs.heads]


def family_rows(family: FamilyComparison, measuring: bool = False) -> list[dict[str, str]]:
    """One row per head, every cell a string (no empty cells); a latency not there yet reads
    "measuring…" while the page measures, else "not measured"."""
    return [{
        "head": r.id, "name": r.name, "output": times(*r.output_shape),
        "fixed length": "yes" if r.fixed_length else "no", "params": f"{r.params:,}",
        "GFLOPs": f"{r.flops / 1e9:.3f}", POOL_COLUMN: latency_cell(r.timing.pool if r.timing else None, measuring),
        TOTAL_COLUMN: latency_cell(r.timing.total if r.timing else None, measuring)
        + (" (untrained convs)" if r.untrained else " (no convs)"),
        "timed on": timed_on(r, measuring),
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
        "forward": r.forward.text() if r.forward else f"{format_ms(r.forward_ms)} (one run)",
    } for r in rows]
