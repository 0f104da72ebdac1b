"""The pyramid-pooling family's figures: each head's costs, and its pooling branches on the real map."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ..family import BranchMap, FamilyComparison, HeadReport
from ..i18n import _
from ..timing import Latency, format_latency
from . import text
from .style import HEATMAP_SCALE, axis_names, axis_refs, figure_meta, subplot_grid, subplot_row

MAP_COLUMNS = 5  # branch maps per row


def family_costs_figure(family: FamilyComparison, untrained_backbone: bool = False) -> go.Figure:
    """Parameters, FLOPs and latency side by side: one bar per head in each panel; latency has a
    bar for the pooling alone and one for the whole module, each with its interquartile range
    (a head not measured has no bar). Built in one call (:func:`~.style.subplot_row`)."""
    heads = family.heads
    ids = [r.id for r in heads]
    xaxes, yaxes, titles = subplot_row([_("parameters (millions)"), _("GFLOPs (convs)"), _("median latency (ms)")], 0.07)
    bars = [
        dict(type="bar", x=ids, y=[r.params / 1e6 for r in heads], name=_("parameters"), showlegend=False,
             hovertemplate=_("%{x}: %{y:.3f} M parameters") + "<extra></extra>"),
        dict(type="bar", x=ids, y=[r.flops / 1e9 for r in heads], name="GFLOPs", showlegend=False,
             hovertemplate=_("%{x}: %{y:.3f} GFLOPs") + "<extra></extra>"),
        *(_latency_bars(ids, [getattr(r.timing, part) if r.timing else None for r in heads], label)
          for label, part in ((_("pooling only"), "pool"), (_("whole module"), "total"))),
    ]
    for bar, column in zip(bars, (0, 1, 2, 2)):
        bar["xaxis"], bar["yaxis"] = axis_refs(column)
    layout: dict[str, Any] = {}
    for column, (x_axis, y_axis) in enumerate(zip(xaxes, yaxes)):
        x_name, y_name = axis_names(column)
        layout[x_name] = dict(x_axis, tickangle=-45 if len(ids) > 4 else 0, automargin=True)
        layout[y_name] = y_axis
    c, h, w = family.feature_shape
    # the legend sits above the plots, right of the title: below them it met the heads' labels
    layout.update(
        annotations=titles,
        title={"text": text.family_costs_title(c, h, w) + text.untrained_note(untrained_backbone), "x": 0,
               "y": 0.98, "yanchor": "top", "font": {"size": 14}},
        barmode="group", height=400, margin={"l": 4, "r": 4, "t": 96, "b": 4},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.1, "xanchor": "right", "x": 1},
        meta=figure_meta("family_costs_figure", heads=ids, k=family.k, n=family.repeats),
    )
    return go.Figure(data=bars, layout=layout)


def _latency_bars(ids: list[str], latencies: list[Latency | None], label: str) -> dict[str, Any]:
    """Medians as bars, the interquartile range as the error bar, and each figure's hover written
    as the page writes it (:func:`spp_viz.timing.format_latency`); a head not measured has no bar."""
    return dict(
        type="bar", x=ids, y=[lat.median_ms if lat else None for lat in latencies], name=label,
        error_y={"type": "data", "symmetric": False, "array": [lat.q3_ms - lat.median_ms if lat else None for lat in latencies],
                 "arrayminus": [lat.median_ms - lat.q1_ms if lat else None for lat in latencies], "thickness": 1},
        customdata=[format_latency(lat) if lat else _("not measured") for lat in latencies],
        hovertemplate=_("%{{x}}: %{{customdata}} ({label}; bar: median, whisker: interquartile range)").format(label=label) + "<extra></extra>")


def _finite_range(maps: tuple[BranchMap, ...]) -> tuple[float, float]:
    values = [m.values[np.isfinite(m.values)] for m in maps]
    values = [v for v in values if v.size]
    if not values:
        return 0.0, 1.0
    return min(float(v.min()) for v in values), max(float(v.max()) for v in values)


def family_branches_figure(report: HeadReport, maps: tuple[BranchMap, ...], untrained_backbone: bool = False,
                           same: Sequence[str] = ()) -> go.Figure:
    """The head's pooling branches on the REAL map, averaged over channels, one small heatmap each
    on one shared colour scale. ``same``: every head whose pools are these very tensors
    (:attr:`~spp_viz.family.FamilyComparison.same_pools`), drawn once for all of them."""
    heads = list(same) or [report.id]
    extra = (len(heads) - 1) // 4  # title lines beyond the first (text.family_branches_title: four heads a line)
    cols = max(1, min(MAP_COLUMNS, len(maps)))
    rows = max(1, math.ceil(len(maps) / cols))
    xaxes, yaxes, titles = subplot_grid([text.engine_name(m.name) for m in maps] or [""], rows, cols, 0.03, 0.15)
    lo, hi = _finite_range(maps)
    heatmaps = []
    for i, m in enumerate(maps):
        x_ref, y_ref = axis_refs(i)
        heatmaps.append(dict(type="heatmap", z=m.values, coloraxis="coloraxis", name=m.name, xaxis=x_ref, yaxis=y_ref,
                             hovertemplate=_("{name}<br>row %{{y}}, col %{{x}}<br>%{{z:.4g}}").format(name=text.engine_name(m.name))
                             + "<extra></extra>"))
    layout: dict[str, Any] = {}
    for i, (x_axis, y_axis) in enumerate(zip(xaxes, yaxes)):
        x_name, y_name = axis_names(i)
        layout[x_name] = dict(x_axis, showticklabels=False)
        layout[y_name] = dict(y_axis, autorange="reversed", showticklabels=False)
        if i < len(maps):  # square cells: each map keeps its rows x cols aspect
            layout[y_name].update(scaleanchor=axis_refs(i)[0], constrain="domain")
    layout.update(
        annotations=titles,
        coloraxis={"colorscale": HEATMAP_SCALE, "cmin": lo, "cmax": hi, "colorbar": {"thickness": 10}},
        title={"text": text.family_branches_title(heads, report.untrained, report.trained) + text.untrained_note(untrained_backbone),
               "x": 0, "font": {"size": 13}},
        height=150 + 170 * rows + 18 * extra, margin={"l": 4, "r": 4, "t": 90 + 18 * extra, "b": 4},
        meta=figure_meta("family_branches_figure", head=report.id, heads=heads, branches=[m.name for m in maps]),
    )
    return go.Figure(data=heatmaps, layout=layout)
