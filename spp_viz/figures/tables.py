"""Rows for the app's tables: typed values (numbers stay numbers; the app formats them)."""

from __future__ import annotations

import math

from ..analysis import SPPFComparison

COST_COLUMNS = ("head", "output shape", "output numbers", "params (with 1x1 convs)", "FLOPs (convs)",
                "pool ms (median)", "total ms (median)")


def costs_rows(sppf: SPPFComparison) -> list[dict[str, object]]:
    """One row per timed head (``SPPFComparison.costs``): SPPF, YOLOv5's parallel SPP and the
    current SPP head. ``pool ms`` times the parameter-free pooling alone, ``total ms`` the whole
    module with its 1 × 1 convs (for classic SPP both are the same call)."""
    return [dict(zip(COST_COLUMNS, (
        cost.name, " × ".join(str(s) for s in cost.output_shape), math.prod(cost.output_shape), cost.params, cost.flops,
        round(cost.pool_ms, 3), round(cost.total_ms, 3),
    ))) for cost in sppf.costs]
