"""The pyramid-pooling family's figures: each head's costs, and its pooling branches on the real map."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..family import BranchMap, FamilyComparison, HeadReport
from . import text
from .style import HEATMAP_SCALE, figure_meta

MAP_COLUMNS = 5  # branch maps per row


def family_costs_figure(family: FamilyComparison, untrained_backbone: bool = False) -> go.Figure:
    """Parameters, FLOPs and latency side by side: one bar per head in each panel; latency has a
    bar for the pooling alone and one for the whole module (a head not measured has no bar)."""
    heads = family.heads
    ids = [r.id for r in heads]
    fig = make_subplots(1, 3, subplot_titles=["parameters (millions)", "GFLOPs (convs)", "median latency (ms)"],
                        horizontal_spacing=0.07)
    fig.add_trace(go.Bar(x=ids, y=[r.params / 1e6 for r in heads], name="parameters", showlegend=False,
                         hovertemplate="%{x}: %{y:.3f} M parameters<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=ids, y=[r.flops / 1e9 for r in heads], name="GFLOPs", showlegend=False,
                         hovertemplate="%{x}: %{y:.3f} GFLOPs<extra></extra>"), row=1, col=2)
    for label, values in (("pooling only", [r.pool_ms for r in heads]), ("whole module", [r.total_ms for r in heads])):
        fig.add_trace(go.Bar(x=ids, y=[v if math.isfinite(v) else None for v in values], name=label,
                             hovertemplate=f"%{{x}}: %{{y:.3f}} ms ({label})<extra></extra>"), row=1, col=3)
    c, h, w = family.feature_shape
    fig.update_layout(
        title={"text": text.family_costs_title(c, h, w) + text.untrained_note(untrained_backbone), "x": 0, "font": {"size": 14}},
        barmode="group", height=360, margin={"l": 4, "r": 4, "t": 70, "b": 4},
        legend={"orientation": "h", "y": -0.25, "x": 0.7},
        meta=figure_meta("family_costs_figure", heads=ids, k=family.k, n=family.repeats),
    )
    return fig


def _finite_range(maps: tuple[BranchMap, ...]) -> tuple[float, float]:
    values = [m.values[np.isfinite(m.values)] for m in maps]
    values = [v for v in values if v.size]
    if not values:
        return 0.0, 1.0
    return min(float(v.min()) for v in values), max(float(v.max()) for v in values)


def family_branches_figure(report: HeadReport, maps: tuple[BranchMap, ...], untrained_backbone: bool = False) -> go.Figure:
    """The head's pooling branches on the REAL map, averaged over channels, one small heatmap each
    on one shared colour scale."""
    cols = max(1, min(MAP_COLUMNS, len(maps)))
    rows = max(1, math.ceil(len(maps) / cols))
    fig = make_subplots(rows, cols, subplot_titles=[m.name for m in maps] or [""], horizontal_spacing=0.03,
                        vertical_spacing=0.15)
    lo, hi = _finite_range(maps)
    for i, m in enumerate(maps):
        fig.add_trace(go.Heatmap(z=m.values, coloraxis="coloraxis", name=m.name,
                                 hovertemplate=f"{m.name}<br>row %{{y}}, col %{{x}}<br>%{{z:.4g}}<extra></extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    for i in range(len(maps)):  # square cells: each map keeps its rows x cols aspect
        fig.update_yaxes(scaleanchor=f"x{i + 1 if i else ''}", constrain="domain", row=i // cols + 1, col=i % cols + 1)
    fig.update_layout(
        coloraxis={"colorscale": HEATMAP_SCALE, "cmin": lo, "cmax": hi, "colorbar": {"thickness": 10}},
        title={"text": text.family_branches_title(report.id, report.untrained, report.trained) + text.untrained_note(untrained_backbone),
               "x": 0, "font": {"size": 13}},
        height=130 + 170 * rows, margin={"l": 4, "r": 4, "t": 70, "b": 4},
        meta=figure_meta("family_branches_figure", head=report.id, branches=[m.name for m in maps]),
    )
    return fig
