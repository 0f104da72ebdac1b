"""Line and bar charts: the SPP vector, the input-size sweep, the predictions."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from ..analysis import Prediction, PyramidResult
from ..dimensions import SizeSweepRow, SPPFStage
from ..i18n import _
from . import text
from .reduce import bucket_extremes
from .style import (
    MAX_VECTOR_POINTS,
    assign_level_colours,
    axis_refs,
    figure_meta,
    subplot_row,
)
from .text import size_label


def spp_vector_figure(head: PyramidResult, *, colours: Mapping[int, str] | None = None,
                      max_points: int = MAX_VECTOR_POINTS, note: str = "") -> go.Figure:
    """The whole fixed-length vector, each level's segment drawn (and shaded) in its level's colour
    and named in a legend above the chart (a label over a narrow segment would be clipped).

    Inside a segment the order is channel-major (channel 0's n x n bins, then channel 1's...),
    as ``pooled.flatten()``. Above ``max_points`` numbers each segment is drawn as a min/max
    envelope of buckets of ``k`` numbers. ``colours`` is the page's level colours
    (:func:`~spp_viz.figures.style.assign_level_colours`).
    """
    v = head.vector.detach().float().cpu().numpy()
    colours = dict(colours) if colours else assign_level_colours(head.config.levels)
    downsampled = len(v) > max_points
    # every segment's last bucket may be partial: leave room for one extra bucket per level
    k = math.ceil(len(v) / max(1, max_points // 2 - len(head.levels))) if downsampled else 1
    traces: list[dict[str, Any]] = []
    shapes, names = [], []
    for level, (start, end) in zip(head.levels, head.level_offsets()):
        if end <= start:
            continue
        colour = colours[level.n]
        traces += _segment_traces(v[start:end], start, k, colour)
        shapes.append(dict(type="rect", xref="x", yref="paper", x0=start, x1=end, y0=0, y1=1, fillcolor=colour,
                           opacity=0.10, line_width=0, layer="below"))
        rows, cols = level.bins.shape
        name = _("level {n}: {shape}").format(n=level.n, shape=f"{level.pooled.shape[0]:,} × {rows} × {cols}")
        names.append(name)
        traces.append(dict(type="scatter", x=[None], y=[None], mode="markers", name=name, hoverinfo="skip",
                           marker=dict(symbol="square", size=12, color=colour)))
    how = _(" · downsampled for display: min/max of every {k} numbers").format(k=f"{k:,}") if downsampled else ""
    return go.Figure(data=traces, layout=dict(
        shapes=shapes,
        xaxis=dict(title=_("position in the vector"), range=[0, max(1, len(v))], showgrid=False),
        yaxis=dict(title=_("value"), zeroline=False),
        title=dict(text=_("The SPP vector: {length} numbers ({pool} pooling)").format(length=f"{len(v):,}", pool=head.config.pool)
                   + how + note, x=0, font=dict(size=14), y=0.98),
        height=320, margin=dict(l=4, r=4, t=80, b=4), hovermode="x",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=12)),
        meta=figure_meta("spp_vector_figure", length=int(len(v)), downsampled=downsampled, levels=names,
                         colours={str(n): colours[n] for n in head.config.levels}),
    ))


def _segment_traces(segment: np.ndarray, start: int, k: int, colour: str) -> list[dict[str, Any]]:
    """One level's part of the vector, from index ``start``: its values as a line (``k == 1``), or the
    min and max of every ``k`` numbers with the band between them filled (its last bucket may be partial)."""
    if k == 1:
        return [dict(type="scatter", y=segment, x0=start, dx=1, mode="lines", line=dict(width=1, color=colour),
                     name="SPP vector", hovertemplate=_("index %{x:,}<br>value %{y:.4g}") + "<extra></extra>", showlegend=False)]
    lo, hi = bucket_extremes(segment, k)
    return [
        dict(type="scatter", y=lo, x0=start, dx=k, mode="lines", line=dict(width=0.5, color=colour), name="bucket min",
             hovertemplate=_("indices %{x:,}… min %{y:.4g}") + "<extra></extra>", showlegend=False),
        dict(type="scatter", y=hi, x0=start, dx=k, mode="lines", line=dict(width=0.5, color=colour), fill="tonexty",
             name="bucket max", showlegend=False, hovertemplate=_("indices %{x:,}… max %{y:.4g}") + "<extra></extra>"),
    ]


def size_sweep_figure(sweep: Sequence[SizeSweepRow], *, current: SizeSweepRow | None = None, fixed: bool = True) -> go.Figure:
    """Left: feature-map cells (h × w) for growing inputs. Right (log y): SPP's length stays
    put while SPPF's pools alone ((n + 1)C × h × w, :class:`~spp_viz.dimensions.SPPFStage`) grow with the image;
    ``fixed`` False: the sweep follows the paper rule, whose length is named as following the map.

    ``sweep`` is :func:`spp_viz.dimensions.size_sweep`'s rows; ``current`` is its row for the
    analysed image (``size_sweep(..., short_sides=(min(W, H),))[0]``), drawn as a star.
    """
    labels = [size_label(row.input_width, row.input_height) for row in sweep]
    xaxes, yaxes, titles = subplot_row((_("feature-map cells h × w"), _("output numbers (log scale)")), 0.1)
    on1, on2 = (dict(zip(("xaxis", "yaxis"), axis_refs(i))) for i in (0, 1))
    traces = [
        dict(type="bar", x=labels, y=[row.feature_height * row.feature_width for row in sweep], marker_color="#4CC9F0",
             name=_("h × w cells"), text=[f"{row.feature_height} × {row.feature_width}" for row in sweep], textposition="outside",
             hovertemplate=_("input %{x}<br>feature map %{customdata}") + "<extra></extra>",
             customdata=[" × ".join(map(str, row.feature)) for row in sweep], **on1),
        dict(type="scatter", x=labels, y=[row.spp_length or None for row in sweep], mode="lines+markers",
             name=_("SPP vector (fixed)") if fixed else _("SPP vector (paper rule: follows the map)"), line=dict(color="#FFD166", width=3),
             hovertemplate=_("input %{x}<br>SPP length %{y:,}") + "<extra></extra>", **on2),
        dict(type="scatter", x=labels, y=[row.sppf_numbers or None for row in sweep], mode="lines+markers",
             name=_("{stage} × h × w (grows)").format(stage=text.sppf_stage(SPPFStage.POOLS)), line=dict(color="#EF476F", width=3),
             hovertemplate=_("input %{{x}}<br>{stage} %{{y:,}}").format(stage=text.sppf_stage(SPPFStage.POOLS)) + "<extra></extra>", **on2),
    ]
    order = labels
    if current is not None:
        traces += _sweep_star(current, on1, on2)
        # keep the axis ordered by size: the current input goes in by its short side
        pairs = {(row.short_side, size_label(row.input_width, row.input_height)) for row in (*sweep, current)}
        order = [label for _short, label in sorted(pairs)]
    for x in xaxes:
        x.update(categoryorder="array", categoryarray=order, title=_("input (W × H)"), tickangle=-30)
    yaxes[0].update(title=_("cells"))
    yaxes[1].update(type="log")
    return go.Figure(data=traces, layout=dict(
        xaxis=xaxes[0], yaxis=yaxes[0], xaxis2=xaxes[1], yaxis2=yaxes[1], annotations=titles,
        height=380, margin=dict(l=4, r=4, t=40, b=4), bargap=0.3,
        legend=dict(orientation="h", yanchor="top", y=-0.35, x=0), meta=figure_meta("size_sweep_figure"),
    ))


def _sweep_star(current: SizeSweepRow, on1: dict[str, Any], on2: dict[str, Any]) -> list[dict[str, Any]]:
    """The analysed image as a star on both panels."""
    label = size_label(current.input_width, current.input_height)
    marker = dict(symbol="star", size=14, color="#fff", line=dict(color="#111", width=1))
    return [
        dict(type="scatter", x=[label], y=[current.feature_height * current.feature_width], mode="markers", marker=marker,
             name=_("this image"), cliponaxis=False, hovertemplate=_("this image %{x}: %{y:,} cells") + "<extra></extra>", **on1),
        dict(type="scatter", x=[label], y=[current.sppf_numbers], mode="markers", marker=marker, showlegend=False,
             hovertemplate=_("this image %{x}: %{y:,} numbers") + "<extra></extra>", **on2),
    ]


def predictions_figure(predictions: Sequence[Prediction], *, title: str = "ImageNet top-5", note: str = "") -> go.Figure:
    """Horizontal bars of the top-k classes, top-1 at the top."""
    preds = list(predictions)[::-1]
    bars = dict(
        type="bar", x=[p.probability for p in preds], y=[p.label for p in preds], orientation="h",
        marker_color=["#FFD166" if i == len(preds) - 1 else "#4CC9F0" for i in range(len(preds))],
        text=[f"{p.probability:.1%}" for p in preds], textposition="auto",
        hovertemplate="%{y}: %{x:.2%}<extra></extra>",
    )
    return go.Figure(data=[bars], layout=dict(
        xaxis=dict(title=_("probability (softmax)"), tickformat=".0%", range=[0, max([p.probability for p in preds] + [0.05]) * 1.15]),
        title=dict(text=title + note, x=0, font=dict(size=14)), height=280, margin=dict(l=4, r=4, t=40, b=4),
        meta=figure_meta("predictions_figure", labels=[p.label for p in predictions]),
    ))
