"""The pyramid-pooling family's figures: each head's costs, and its pooling branches on the real map."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..family import BranchMap, FamilyComparison, HeadReport
from ..i18n import _
from ..timing import Latency, format_latency
from . import text
from .style import HEATMAP_SCALE, figure_meta

MAP_COLUMNS = 5  # branch maps per row


def family_costs_figure(family: FamilyComparison, untrained_backbone: bool = False) -> go.Figure:
    """Parameters, FLOPs and latency side by side: one bar per head in each panel; latency has a
    bar for the pooling alone and one for the whole module, each with its interquartile range
    (a head not measured has no bar)."""
    heads = family.heads
    ids = [r.id for r in heads]
    fig = make_subplots(1, 3, subplot_titles=[_("parameters (millions)"), _("GFLOPs (convs)"), _("median latency (ms)")],
                        horizontal_spacing=0.07)
    fig.add_trace(go.Bar(x=ids, y=[r.params / 1e6 for r in heads], name=_("parameters"), showlegend=False,
                         hovertemplate=_("%{x}: %{y:.3f} M parameters") + "<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=ids, y=[r.flops / 1e9 for r in heads], name="GFLOPs", showlegend=False,
                         hovertemplate=_("%{x}: %{y:.3f} GFLOPs") + "<extra></extra>"), row=1, col=2)
    for label, part in ((_("pooling only"), "pool"), (_("whole module"), "total")):
        fig.add_trace(_latency_bars(ids, [getattr(r.timing, part) if r.timing else None for r in heads], label), row=1, col=3)
    c, h, w = family.feature_shape
    # the legend sits above the plots, right of the title: below them it met the heads' labels
    fig.update_xaxes(tickangle=-45 if len(ids) > 4 else 0, automargin=True)
    fig.update_layout(
        title={"text": text.family_costs_title(c, h, w) + text.untrained_note(untrained_backbone), "x": 0,
               "y": 0.98, "yanchor": "top", "font": {"size": 14}},
        barmode="group", height=400, margin={"l": 4, "r": 4, "t": 96, "b": 4},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.1, "xanchor": "right", "x": 1},
        meta=figure_meta("family_costs_figure", heads=ids, k=family.k, n=family.repeats),
    )
    return fig


def _latency_bars(ids: list[str], latencies: list[Latency | None], label: str) -> go.Bar:
    """Medians as bars, the interquartile range as the error bar, and each figure's hover written
    as the page writes it (:func:`spp_viz.timing.format_latency`); a head not measured has no bar."""
    return go.Bar(
        x=ids, y=[lat.median_ms if lat else None for lat in latencies], name=label,
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
    fig = make_subplots(rows, cols, subplot_titles=[text.engine_name(m.name) for m in maps] or [""], horizontal_spacing=0.03,
                        vertical_spacing=0.15)
    lo, hi = _finite_range(maps)
    for i, m in enumerate(maps):
        fig.add_trace(go.Heatmap(z=m.values, coloraxis="coloraxis", name=m.name,
                                 hovertemplate=_("{name}<br>row %{{y}}, col %{{x}}<br>%{{z:.4g}}").format(name=text.engine_name(m.name))
                                 + "<extra></extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    for i in range(len(maps)):  # square cells: each map keeps its rows x cols aspect
        fig.update_yaxes(scaleanchor=f"x{i + 1 if i else ''}", constrain="domain", row=i // cols + 1, col=i % cols + 1)
    fig.update_layout(
        coloraxis={"colorscale": HEATMAP_SCALE, "cmin": lo, "cmax": hi, "colorbar": {"thickness": 10}},
        title={"text": text.family_branches_title(heads, report.untrained, report.trained) + text.untrained_note(untrained_backbone),
               "x": 0, "font": {"size": 13}},
        height=150 + 170 * rows + 18 * extra, margin={"l": 4, "r": 4, "t": 90 + 18 * extra, "b": 4},
        meta=figure_meta("family_branches_figure", head=report.id, heads=heads, branches=[m.name for m in maps]),
    )
    return fig
