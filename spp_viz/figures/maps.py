"""Heatmaps of feature-map cells: the stage map, the pooled levels, SPPF branches, bin-rule coverage."""

from __future__ import annotations

import textwrap
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from torch import Tensor

from ..analysis import LevelResult, Prediction, SPPFComparison
from ..bins import LevelBins
from .reduce import block_reduce, reduce_channels, winner_cells
from .style import (
    DIFFER_COLOUR,
    HEATMAP_SCALE,
    LABEL_TEXT_MAX_LEVEL,
    LEGEND_BELOW,
    LEVEL_SYMBOLS,
    MAX_DRAWN_LEVEL,
    MAX_HEATMAP_CELLS,
    SELECTED_COLOUR,
    Channel,
    axis_names,
    axis_refs,
    figure_meta,
    find_bin,
    level_colour,
    panel_height,
    rect_path,
    rgba,
    subplot_row,
)
from .text import bin_hover, channel_label


def feature_map_figure(
    feature: Tensor,
    channel: Channel = "mean",
    *,
    levels: Sequence[LevelResult] = (),
    shown_levels: Sequence[int] | None = None,
    selected: tuple[int, int, int] | None = None,
    note: str = "",
    max_cells: int = MAX_HEATMAP_CELLS,
) -> go.Figure:
    """Heatmap of one channel (or the channel mean / max) of the ``(C, h, w)`` map.

    Max pooling: markers on the cell each bin's max came from (one symbol per level). The
    selected bin's cells are outlined, with its level's other bins dashed. Maps above
    ``max_cells`` are block-reduced for display, axes still in feature cells.
    """
    c, h, w = feature.shape
    z, f = block_reduce(reduce_channels(feature, channel), max_cells, "max" if channel == "max" else "mean")
    all_levels = [lv.n for lv in levels]
    traces: list[dict] = [dict(
        type="heatmap", z=z, x0=(f - 1) / 2, dx=f, y0=(f - 1) / 2, dy=f, colorscale=HEATMAP_SCALE,
        colorbar=dict(thickness=12, len=0.75, y=1, yanchor="top"), name="feature map",
        hovertemplate="cell (row %{y}, col %{x})<br>value %{z:.4g}<extra></extra>" if f == 1 else
        f"block of {f} × {f} cells around (row %{{y}}, col %{{x}})<br>value %{{z:.4g}}<extra></extra>",
    )]
    shapes: list[dict] = []
    drawn = sorted((lv for lv in levels if lv.n <= MAX_DRAWN_LEVEL and (shown_levels is None or lv.n in shown_levels)),
                   key=lambda lv: lv.n)
    for rank, level in enumerate(drawn):
        cells = winner_cells(level, channel)
        if not cells:
            continue
        colour = level_colour(all_levels, level.n)
        symbol = LEVEL_SYMBOLS[sorted(set(all_levels)).index(level.n) % len(LEVEL_SYMBOLS)]
        # coarse levels first and larger, so a cell that wins at several levels shows every marker
        size = max(6, 10 + 5 * (len(drawn) - 1 - rank) - (2 if level.n > 8 else 0))
        traces.append(dict(
            type="scatter", x=[cc for _, _, _, cc, _ in cells], y=[cr for _, _, cr, _, _ in cells], mode="markers",
            marker=dict(symbol=symbol, size=size, color=colour, line=dict(color="#111", width=1)),
            name=f"max of level {level.n}", hoverinfo="text",
            text=[f"level {level.n} bin ({r}, {k}): max at cell (row {cr}, col {cc}) · {why}" for r, k, cr, cc, why in cells],
        ))
    if selected is not None:
        n, row, col = selected
        chosen = next((lv for lv in levels if lv.n == n), None)
        found = find_bin(chosen.bins, row, col) if chosen is not None else None
        if found is not None and chosen is not None:
            if n <= MAX_DRAWN_LEVEL:  # the selected bin's level, dotted: one trace, not one shape per bin
                xs, ys = rect_path((b.cols[0] - 0.5, b.rows[0] - 0.5, b.cols[1] - 0.5, b.rows[1] - 0.5)
                                    for b in chosen.bins.bins if (b.row, b.col) != (row, col))
                traces.append(dict(type="scatter", x=xs, y=ys, mode="lines",
                                   line=dict(color=level_colour(all_levels, n), width=1, dash="dot"),
                                   hoverinfo="skip", name=f"level {n} bins"))
            b = found[1]
            shapes.append(dict(type="rect", x0=b.cols[0] - 0.5, x1=b.cols[1] - 0.5, y0=b.rows[0] - 0.5, y1=b.rows[1] - 0.5,
                               line=dict(color=SELECTED_COLOUR, width=4)))
    shown_note = f" (shown in {f} × {f} blocks)" if f > 1 else ""
    layout = dict(
        xaxis=dict(range=[-0.5, w - 0.5], showgrid=False, zeroline=False, constrain="domain", constraintoward="left",
                   side="top"),
        yaxis=dict(range=[h - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x", constrain="domain",
                   constraintoward="top"),
        title=dict(text=f"{channel_label(channel, c)} · {c:,} × {h} × {w}{shown_note}{note}", x=0, y=0.99, yanchor="top",
                   yref="container", font=dict(size=14)),
        height=panel_height(h / w) + 30, margin=dict(l=4, r=4, t=66, b=4), legend=LEGEND_BELOW,
        hovermode="closest", meta=figure_meta("feature_map_figure", shape=[c, h, w], block=f),
    )
    if shapes:
        layout["shapes"] = shapes
    return go.Figure(data=traces, layout=layout)


def pooled_level_heatmap(
    level: LevelResult,
    channel: Channel = "mean",
    *,
    levels: Sequence[int] = (),
    selected: tuple[int, int] | None = None,
    zrange: tuple[float, float] | None = None,
    labels: list[list[Prediction]] | None = None,
    note: str = "",
) -> go.Figure:
    """The ``rows x cols`` pooled values of one level (``LevelResult.pooled`` reduced over channels).

    A transparent marker sits on every cell so a click selects the bin (plotly heatmaps send
    no selection events); its hover gives the bin, its cells and the value.
    """
    c = int(level.pooled.shape[0])
    rows, cols = level.bins.shape
    colour = level_colour(levels or [level.n], level.n)
    title = f"<span style='color:{colour}'>■</span> level {level.n}: {rows} × {cols} bins"
    meta = figure_meta("pooled_level_heatmap", level=level.n, shape=[rows, cols])
    if rows * cols == 0:
        reason = "<br>".join(textwrap.wrap("No bins. " + (level.problem or "Empty level."), 34))
        return go.Figure(layout=dict(
            annotations=[dict(text=reason, showarrow=False, x=0.5, y=0.5, align="left", xref="paper", yref="paper",
                              font=dict(size=11))],
            xaxis=dict(visible=False), yaxis=dict(visible=False),
            title=dict(text=title + note, x=0, font=dict(size=13)), height=220, margin=dict(l=4, r=4, t=40, b=4), meta=meta,
        ))
    z = reduce_channels(level.pooled, channel)
    text_cells = max(rows, cols) <= LABEL_TEXT_MAX_LEVEL
    heatmap = dict(
        type="heatmap", z=z, x=list(range(cols)), y=list(range(rows)), colorscale=HEATMAP_SCALE, hoverinfo="skip",
        showscale=False, zmin=zrange[0] if zrange else None, zmax=zrange[1] if zrange else None,
        texttemplate="%{z:.2f}" if text_cells else None, textfont=dict(size=max(8, 14 - max(rows, cols))),
        name=f"level {level.n}",
    )
    what = channel_label(channel, c)
    hover = []
    for b in level.bins.bins:
        label = labels[b.row][b.col] if labels and b.row < len(labels) and b.col < len(labels[b.row]) else None
        hover.append(bin_hover(level.n, b.row, b.col, b.index, (*b.rows, *b.cols), None, float(z[b.row, b.col]), what, label))
    clicks = dict(
        type="scatter", x=[b.col for b in level.bins.bins], y=[b.row for b in level.bins.bins], mode="markers",
        marker=dict(symbol="square", size=max(8, 180 // max(rows, cols)), color="rgba(0,0,0,0)", opacity=0.01),
        selected=dict(marker=dict(opacity=0.01)), unselected=dict(marker=dict(opacity=0.01)),
        hoverinfo="text", text=hover, hoverlabel=dict(bgcolor=colour, font=dict(color="#111")),
        name="bins", showlegend=False,
    )
    layout = dict(
        xaxis=dict(range=[-0.5, cols - 0.5], showgrid=False, zeroline=False, dtick=1 if cols <= 8 else None,
                   constrain="domain", fixedrange=True),
        yaxis=dict(range=[rows - 0.5, -0.5], showgrid=False, zeroline=False, dtick=1 if rows <= 8 else None,
                   scaleanchor="x", constrain="domain", fixedrange=True),
        title=dict(text=title + note, x=0, font=dict(size=13)), height=260, margin=dict(l=4, r=4, t=40, b=4),
        hovermode="closest", hoverdistance=-1, clickmode="event+select", dragmode=False, meta=meta,
    )
    if selected is not None and selected[0] < rows and selected[1] < cols:
        r, k = selected
        layout["shapes"] = [dict(type="rect", x0=k - 0.5, x1=k + 0.5, y0=r - 0.5, y1=r + 0.5,
                                 line=dict(color=SELECTED_COLOUR, width=4))]
    return go.Figure(data=[heatmap, clicks], layout=layout)


def selection_to_bin(n: int, points: Sequence[Mapping[str, Any]]) -> tuple[int, int, int] | None:
    """A click on a pooled heatmap (``event.selection.points``) -> ``(level, row, col)``."""
    for point in reversed(list(points)):
        x, y = point.get("x"), point.get("y")
        if x is None or y is None:
            continue
        try:
            return n, int(round(float(y))), int(round(float(x)))
        except (TypeError, ValueError):
            continue
    return None


def sppf_branches_figure(sppf: SPPFComparison, channel: Channel = "mean", *, note: str = "",
                         max_cells: int = MAX_HEATMAP_CELLS // 4) -> go.Figure:
    """The SPPF cascade's outputs [x, pool 5, pool 9, pool 13] side by side, one colour scale."""
    names = ["x (input, 1 cell)"] + [f"pool {k} ({k} × {k} cells)" for k in sppf.kernels]
    xaxes, yaxes, titles = subplot_row(names[:len(sppf.branches)], 0.02)
    maps = []
    f = 1
    for branch in sppf.branches:
        z, f = block_reduce(reduce_channels(branch, channel), max_cells, "max" if channel == "max" else "mean")
        maps.append(z)
    lo = min(float(z.min()) for z in maps) if maps else 0.0
    hi = max(float(z.max()) for z in maps) if maps else 1.0
    c, h, w = sppf.branches[0].shape if sppf.branches else (0, 1, 1)
    traces = []
    layout: dict[str, Any] = {}
    for i, z in enumerate(maps):
        x_ref, y_ref = axis_refs(i)
        traces.append(dict(type="heatmap", z=z, x0=(f - 1) / 2, dx=f, y0=(f - 1) / 2, dy=f, coloraxis="coloraxis", name=names[i],
                           hovertemplate=f"{names[i]}<br>cell (row %{{y}}, col %{{x}})<br>value %{{z:.4g}}<extra></extra>",
                           xaxis=x_ref, yaxis=y_ref))
        x_name, y_name = axis_names(i)
        layout[x_name] = dict(xaxes[i], showticklabels=False, showgrid=False, zeroline=False, range=[-0.5, w - 0.5],
                              constrain="domain")
        layout[y_name] = dict(yaxes[i], showticklabels=False, showgrid=False, zeroline=False, range=[h - 0.5, -0.5],
                              constrain="domain", scaleanchor=x_ref)
    shown_note = f" (shown in {f} × {f} blocks)" if f > 1 else ""
    layout.update(
        annotations=titles,
        coloraxis=dict(colorscale=HEATMAP_SCALE, cmin=lo, cmax=hi, colorbar=dict(thickness=12)),
        title=dict(text=f"SPPF cascade, {channel_label(channel, c)}, {h} × {w} cells each{shown_note}{note}", x=0, font=dict(size=14)),
        height=int(min(420, max(220, 260 * h / max(w, 1) + 110))), margin=dict(l=4, r=4, t=80, b=4),
        meta=figure_meta("sppf_branches_figure", branches=len(maps)),
    )
    return go.Figure(data=traces, layout=layout)


def rule_comparison_figure(adaptive: LevelBins, paper: LevelBins, max_cells: int = MAX_HEATMAP_CELLS) -> go.Figure:
    """The same ``h x w`` map split by both rules: adaptive bins (always n x n, may share a cell)
    next to the paper's ceil/floor windows (may give more or fewer bins). Shared cells are darker."""
    h, w = adaptive.height, adaptive.width
    titles = (f"adaptive: {adaptive.shape[0]} × {adaptive.shape[1]} bins",
              f"paper: {paper.shape[0]} × {paper.shape[1]} bins" + ("" if paper.valid else " (not n × n)"))
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
                           hovertemplate="cell (row %{y}, col %{x}) pooled by %{z} bin(s)<extra></extra>" if f == 1 else
                           f"{f} × {f} cells around (row %{{y}}, col %{{x}}): pooled by %{{z:.2f}} bins on average<extra></extra>",
                           xaxis=x_ref, yaxis=y_ref))
        xs, ys = rect_path((b.cols[0] - 0.45, b.rows[0] - 0.45, b.cols[1] - 0.55, b.rows[1] - 0.55) for b in bins.bins)
        traces.append(dict(type="scatter", x=xs, y=ys, mode="lines",
                           line=dict(color="#fff", width=1.5, dash="solid" if i == 0 else "dash"),
                           hoverinfo="skip", showlegend=False, xaxis=x_ref, yaxis=y_ref))
        x_name, y_name = axis_names(i)
        layout[x_name] = dict(xaxes[i], range=[-0.5, w - 0.5], showgrid=False, zeroline=False, constrain="domain",
                              title="columns (cells)")
        layout[y_name] = dict(yaxes[i], range=[h - 0.5, -0.5], showgrid=False, zeroline=False, constrain="domain",
                              scaleanchor=x_ref)
    layout.update(annotations=notes, height=int(min(420, max(220, 300 * h / max(w, 1) + 100))),
                  margin=dict(l=4, r=4, t=50, b=4), meta=figure_meta("rule_comparison_figure", level=adaptive.n))
    return go.Figure(data=traces, layout=layout)
