"""Heatmaps of feature-map cells: the SPPF branches and the bin rules' coverage.

The stage map and the pooled levels are drawn in the browser by the pyramid explorer
(:mod:`spp_viz.explorer`, :mod:`spp_viz.ui.explorer`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ..bins import LevelBins
from ..choices import Channel, ChannelView
from ..dimensions import SPPFStage
from ..family import PooledBranch
from ..i18n import _
from . import text
from .reduce import block_reduce, reduce_channels
from .style import (
    DIFFER_COLOUR,
    HEATMAP_SCALE,
    MAX_HEATMAP_CELLS,
    axis_names,
    axis_refs,
    figure_meta,
    rect_path,
    rgba,
    subplot_row,
)


def sppf_branches_figure(branches: Sequence[PooledBranch], kernels: Sequence[int], channel: Channel = ChannelView.MEAN, *,
                         note: str = "", max_cells: int = MAX_HEATMAP_CELLS // 4) -> go.Figure:
    """The SPPF cascade's outputs [x, pool 5, pool 9, pool 13] side by side, one colour scale:
    ``branches`` are the ``sppf`` head's (:func:`spp_viz.family.pooled_branches`), ``kernels`` the
    windows of its pools."""
    names = [text.branch_title(0, branches[0].name if branches else "x")] + [text.branch_title(k) for k in kernels]
    xaxes, yaxes, titles = subplot_row(names[:len(branches)], 0.02)
    maps = []
    f = 1
    for branch in branches:
        z, f = block_reduce(reduce_channels(branch.pooled, channel), max_cells, channel)
        maps.append(z)
    lo = min(float(z.min()) for z in maps) if maps else 0.0
    hi = max(float(z.max()) for z in maps) if maps else 1.0
    c, h, w = branches[0].pooled.shape if branches else (0, 1, 1)
    traces = []
    layout: dict[str, Any] = {}
    for i, z in enumerate(maps):
        x_ref, y_ref = axis_refs(i)
        traces.append(dict(type="heatmap", z=z, x0=(f - 1) / 2, dx=f, y0=(f - 1) / 2, dy=f, coloraxis="coloraxis", name=names[i],
                           hovertemplate=_("{name}<br>cell (row %{{y}}, col %{{x}})<br>value %{{z:.4g}}").format(name=names[i]) + "<extra></extra>",
                           xaxis=x_ref, yaxis=y_ref))
        x_name, y_name = axis_names(i)
        layout[x_name] = dict(xaxes[i], showticklabels=False, showgrid=False, zeroline=False, range=[-0.5, w - 0.5],
                              constrain="domain")
        layout[y_name] = dict(yaxes[i], showticklabels=False, showgrid=False, zeroline=False, range=[h - 0.5, -0.5],
                              constrain="domain", scaleanchor=x_ref)
    shown_note = _(" (shown in {f} × {f} blocks)").format(f=f) if f > 1 else ""
    layout.update(
        annotations=titles,
        coloraxis=dict(colorscale=HEATMAP_SCALE, cmin=lo, cmax=hi, colorbar=dict(thickness=12)),
        title=dict(text=_("The {stage}: its {branches} branches, {channel}, {h} × {w} cells each").format(
            stage=text.sppf_stage(SPPFStage.POOLS, len(kernels)), branches=len(maps), channel=text.channel_label(channel, c), h=h, w=w)
            + shown_note + note, x=0, font=dict(size=14)),
        height=int(min(440, max(240, 260 * h / max(w, 1) + 130))), margin=dict(l=4, r=4, t=100, b=4),
        meta=figure_meta("sppf_branches_figure", branches=len(maps)),
    )
    return go.Figure(data=traces, layout=layout)


def rule_comparison_figure(adaptive: LevelBins, paper: LevelBins, max_cells: int = MAX_HEATMAP_CELLS) -> go.Figure:
    """The same ``h x w`` map split by both rules: adaptive bins (always n x n, may share a cell)
    next to the paper's ceil/floor windows (may give more or fewer bins). Shared cells are darker."""
    h, w = adaptive.height, adaptive.width
    titles = (_("adaptive: {rows} × {cols} bins").format(rows=adaptive.shape[0], cols=adaptive.shape[1]),
              _("paper: {rows} × {cols} bins").format(rows=paper.shape[0], cols=paper.shape[1]) + ("" if paper.valid else _(" (not n × n)")))
    xaxes, yaxes, notes = subplot_row(titles, 0.06)
    traces = []
    layout: dict[str, Any] = {}
    for i, (bins, colour) in enumerate(((adaptive, "#4CC9F0"), (paper, DIFFER_COLOUR))):
        x_ref, y_ref = axis_refs(i)
        cover = bins.coverage()
        zmax = max(2, int(cover.max()) if cover.size else 2)
        shown, f = block_reduce(cover.astype(np.float32), max_cells // 2)
        traces.append(dict(type="heatmap", z=shown, x0=(f - 1) / 2, dx=f, y0=(f - 1) / 2, dy=f,
                           colorscale=[[0, "#1b1f2a"], [0.5, rgba(colour, 0.45)], [1, colour]],
                           zmin=0, zmax=zmax, showscale=False,
                           hovertemplate=(_("cell (row %{y}, col %{x}) pooled by %{z} bin(s)") if f == 1 else
                                          _("{f} × {f} cells around (row %{{y}}, col %{{x}}): pooled by %{{z:.2f}} bins on average").format(f=f))
                           + "<extra></extra>",
                           xaxis=x_ref, yaxis=y_ref))
        xs, ys = rect_path((b.cols[0] - 0.45, b.rows[0] - 0.45, b.cols[1] - 0.55, b.rows[1] - 0.55) for b in bins.bins)
        traces.append(dict(type="scatter", x=xs, y=ys, mode="lines",
                           line=dict(color="#fff", width=1.5, dash="solid" if i == 0 else "dash"),
                           hoverinfo="skip", showlegend=False, xaxis=x_ref, yaxis=y_ref))
        x_name, y_name = axis_names(i)
        layout[x_name] = dict(xaxes[i], range=[-0.5, w - 0.5], showgrid=False, zeroline=False, constrain="domain",
                              title=_("columns (cells)"))
        layout[y_name] = dict(yaxes[i], range=[h - 0.5, -0.5], showgrid=False, zeroline=False, constrain="domain",
                              scaleanchor=x_ref)
    layout.update(annotations=notes, height=int(min(420, max(220, 300 * h / max(w, 1) + 100))),
                  margin=dict(l=4, r=4, t=50, b=4), meta=figure_meta("rule_comparison_figure", level=adaptive.n))
    return go.Figure(data=traces, layout=layout)
