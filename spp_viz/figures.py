"""Plotly figures for the app: pure functions of engine results, testable without Streamlit.

Every builder takes what :mod:`spp_viz.analysis` computed and only transforms it for display
(channel selection, downsampling, projection already done by :mod:`spp_viz.bins`). Figures
carry few numbers: photos travel as one base64 JPEG, large maps are block-reduced and long
vectors become a min/max envelope, so no figure holds more than about a million numbers
(:func:`count_numbers` checks it). ``layout.meta["figure"]`` names the builder so a test
can find a chart in a rendered page.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import textwrap
from typing import Any, Iterable, Mapping, Sequence, Union

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from .analysis import HeadResult, LevelResult, Prediction, SPPFComparison
from .bins import Bin, LevelBins, PixelBox, project_bins_to_image

Channel = Union[int, str]  # a channel index, or "mean" / "max" over channels

DISPLAY_MAX_SIDE = 768  # photos are shown at most this many pixels on their long side
MAX_DRAWN_LEVEL = 16  # grids finer than 16 x 16 are pooled and counted, not drawn
MAX_VECTOR_POINTS = 200_000  # longer SPP vectors are shown as a min/max envelope
MAX_HEATMAP_CELLS = 65_536  # feature maps above 256 x 256 cells are block-reduced for display
MAX_FIGURE_NUMBERS = 1_000_000
LABEL_TEXT_MAX_LEVEL = 8  # pooled values are written in the cells up to 8 x 8 bins

LEVEL_COLOURS = ("#FFD166", "#06D6A0", "#EF476F", "#4CC9F0", "#F78C6B", "#B388FF", "#C5E063", "#FF9FF3")
LEVEL_SYMBOLS = ("circle", "diamond", "square", "triangle-up", "star", "hexagon", "cross", "x")
DIFFER_COLOUR = "#FF1744"
SELECTED_COLOUR = "#FFFFFF"
RF_COLOUR = "#00E5FF"
HEATMAP_SCALE = "Viridis"


# ----------------------------------------------------------------------------
# Small shared helpers


def level_colour(levels: Sequence[int], n: int) -> str:
    """One colour per level, stable for a given pyramid (by the level's rank among the levels)."""
    order = sorted(set(levels))
    return LEVEL_COLOURS[order.index(n) % len(LEVEL_COLOURS)] if n in order else LEVEL_COLOURS[0]


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def channel_label(channel: Channel, channels: int | None = None) -> str:
    """Words for what a map shows: ``channel 12``, ``mean over 1,280 channels``."""
    if channel == "mean":
        return f"mean over {channels:,} channels" if channels else "channel mean"
    if channel == "max":
        return f"max over {channels:,} channels" if channels else "channel max"
    return f"channel {int(channel)}"


def reduce_channels(tensor: Tensor, channel: Channel) -> np.ndarray:
    """``(C, ...)`` -> ``(...)`` float32: one channel, or the mean / max over channels."""
    t = tensor.detach().float().cpu()
    if t.shape[0] == 0 or t.numel() == 0:
        return np.zeros(t.shape[1:], dtype=np.float32)
    if channel == "mean":
        out = t.mean(0)
    elif channel == "max":
        out = t.amax(0)
    else:
        index = int(channel)
        if not 0 <= index < t.shape[0]:
            raise ValueError(f"Channel {index} does not exist: this map has channels 0 to {t.shape[0] - 1}.")
        out = t[index]
    return out.numpy().astype(np.float32, copy=False)


def block_reduce(array: np.ndarray, max_cells: int = MAX_HEATMAP_CELLS, how: str = "mean") -> tuple[np.ndarray, int]:
    """Shrink a 2-D map by an integer factor f so it has at most ``max_cells`` cells.

    Display only: each shown cell is the mean (or max) of an f x f block. Returns ``(map, f)``.
    """
    h, w = array.shape
    if h * w <= max_cells:
        return array, 1
    f = math.ceil(math.sqrt(h * w / max_cells))
    t = torch.from_numpy(np.ascontiguousarray(array))[None, None]
    pooled = F.max_pool2d(t, f, f, ceil_mode=True) if how == "max" else F.avg_pool2d(t, f, f, ceil_mode=True)
    return pooled[0, 0].numpy(), f


def photo_source(image: Image.Image, max_side: int = DISPLAY_MAX_SIDE, quality: int = 85) -> tuple[str, tuple[int, int]]:
    """The photo as a base64 JPEG data URI at most ``max_side`` px long (display only) and its size."""
    w, h = image.size
    scale = min(1.0, max_side / max(w, h))
    shown = image.convert("RGB")
    if scale < 1.0:
        shown = shown.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS, reducing_gap=3.0)
    buf = io.BytesIO()
    shown.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), shown.size


Photo = tuple[str, tuple[int, int]]  # what photo_source returns: (data URI, displayed size)


def _photo_parts(image: Image.Image, max_side: int, photo: Photo | None = None) -> tuple[dict, dict]:
    """The photo trace and the layout that shows it spanning ``[0, W] x [0, H]`` in
    working-resolution pixels (y down). ``photo`` is ``photo_source(image, max_side)`` when the
    caller already has it (the app caches it per image), else it is encoded here."""
    width, height = image.size
    source, (dw, dh) = photo if photo is not None else photo_source(image, max_side)
    dx, dy = width / dw, height / dh
    trace = dict(type="image", source=source, x0=dx / 2, y0=dy / 2, dx=dx, dy=dy, hoverinfo="skip", name="photo")
    layout = dict(
        xaxis=dict(range=[0, width], showgrid=False, zeroline=False, showticklabels=False, constrain="domain",
                   constraintoward="left"),
        yaxis=dict(range=[height, 0], showgrid=False, zeroline=False, showticklabels=False, scaleanchor="x",
                   constrain="domain", constraintoward="top"),
        height=_panel_height(height / width), margin=dict(l=4, r=4, t=36, b=4),
        hovermode="closest", hoverdistance=-1, dragmode=False, legend=_LEGEND_BELOW,
    )
    return trace, layout


def _subplot_row(titles: Sequence[str], spacing: float) -> tuple[list[dict], list[dict], list[dict]]:
    """What ``make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=spacing)``
    puts in the layout, without building a figure: per column its x axis, its y axis (domain and
    anchor, to be merged with the caller's settings) and the title annotations. Figures built in one
    ``go.Figure(data, layout)`` call are validated once, instead of once per ``update_*`` call."""
    cols = len(titles)
    width = (1.0 - spacing * (cols - 1)) / cols
    xaxes, yaxes, notes = [], [], []
    for c in range(cols):
        start = sum([width] * c) + c * spacing  # sum(widths[:c]) + c * spacing, as plotly computes it
        domain = [max(0.0, start), min(1.0, start + width)]
        x_ref, y_ref = _axis_refs(c)
        xaxes.append(dict(anchor=y_ref, domain=domain))
        yaxes.append(dict(anchor=x_ref, domain=[0.0, 1.0]))
        if titles[c]:
            notes.append(dict(y=1.0, xref="paper", x=sum(domain) / 2.0, yref="paper", text=titles[c], showarrow=False,
                              font=dict(size=16), xanchor="center", yanchor="bottom"))
    return xaxes, yaxes, notes


def _axis_refs(c: int) -> tuple[str, str]:
    """How a trace names column ``c``'s axes (0-based): ``x``/``y``, ``x2``/``y2``..."""
    suffix = str(c + 1) if c else ""
    return f"x{suffix}", f"y{suffix}"


def _axis_names(c: int) -> tuple[str, str]:
    """Layout keys of column ``c``'s axes (0-based): ``xaxis``/``yaxis``, ``xaxis2``/``yaxis2``..."""
    suffix = str(c + 1) if c else ""
    return f"xaxis{suffix}", f"yaxis{suffix}"


_LEGEND_BELOW = dict(orientation="h", yanchor="top", y=-0.02, xanchor="left", x=0, bgcolor="rgba(0,0,0,0)")


def _panel_height(aspect: float, legend_rows: int = 2) -> int:
    """Figure height for a half-width column (~480 px of plot) at ``aspect`` = height / width."""
    return int(min(820, max(280, 480 * aspect + 36 + 26 * legend_rows)))


def _rect_path(boxes: Iterable[tuple[float, float, float, float]]) -> tuple[list, list]:
    """Outline of several boxes ``(x0, y0, x1, y1)`` as one polyline separated by ``None``."""
    xs: list = []
    ys: list = []
    for x0, y0, x1, y1 in boxes:
        xs += [x0, x1, x1, x0, x0, None]
        ys += [y0, y0, y1, y1, y0, None]
    return xs, ys


def _inset(box: PixelBox, d: float) -> tuple[float, float, float, float]:
    """Shrink a box by ``d`` on each side (never past its centre): offsets neighbouring outlines."""
    dx = min(d, (box.x1 - box.x0) / 4)
    dy = min(d, (box.y1 - box.y0) / 4)
    return box.x0 + dx, box.y0 + dy, box.x1 - dx, box.y1 - dy


def _find_bin(bins: LevelBins, row: int, col: int) -> tuple[int, Bin] | None:
    for i, b in enumerate(bins.bins):
        if b.row == row and b.col == col:
            return i, b
    return None


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def bin_hover(level: int, b: Bin, box: PixelBox | None = None, value: float | None = None, what: str = "",
              label: Prediction | None = None) -> str:
    """Hover text of one bin: level, (row, col), vector index, cells ``[r0, r1) x [c0, c1)``, pixels."""
    lines = [
        f"<b>level {level}</b> · bin (row {b.row}, col {b.col}) · index {b.index}",
        f"feature cells rows [{b.rows[0]}, {b.rows[1]}) × cols [{b.cols[0]}, {b.cols[1]}) = {b.cells} cells",
    ]
    if box is not None:
        lines.append(f"pixels x [{box.x0:.0f}, {box.x1:.0f}) × y [{box.y0:.0f}, {box.y1:.0f})")
    if value is not None:
        lines.append(f"pooled value ({what}): {_fmt(value)}" if what else f"pooled value: {_fmt(value)}")
    if label is not None:
        lines.append(f"classifier top-1 for this bin: {label.label} ({label.probability:.1%})")
    return "<br>".join(lines)


def overlap_summary(bins: LevelBins) -> str:
    """One phrase on how a level's neighbouring bins share cells (from ``row_overlaps``/``col_overlaps``)."""
    ro, co = bins.row_overlaps, bins.col_overlaps
    rows_shared, cols_shared = sum(1 for o in ro if o), sum(1 for o in co if o)
    if not rows_shared and not cols_shared:
        return f"level {bins.n}: no overlap"
    parts = []
    if rows_shared:
        parts.append(f"{rows_shared} of {len(ro)} row boundaries share {max(ro)} cell{'s' if max(ro) > 1 else ''}")
    if cols_shared:
        parts.append(f"{cols_shared} of {len(co)} column boundaries share {max(co)} cell{'s' if max(co) > 1 else ''}")
    return f"level {bins.n}: " + ", ".join(parts)


def _meta(name: str, **extra: Any) -> dict:
    return {"figure": name, **extra}


# ----------------------------------------------------------------------------
# Panel 1: pyramid bins on the image


def bins_over_image(
    image: Image.Image,
    levels: Sequence[LevelResult],
    stride: int | tuple[int, int],
    *,
    channel: Channel = "mean",
    shown_levels: Sequence[int] | None = None,
    selected: tuple[int, int, int] | None = None,
    receptive_field: int | None = None,
    bin_labels: Mapping[int, list[list[Prediction]]] | None = None,
    note: str = "",
    max_side: int = DISPLAY_MAX_SIDE,
    photo: Photo | None = None,
) -> go.Figure:
    """The photo with every shown level's bin grid, projected through the stage stride.

    Each bin is a semi-transparent filled polygon carrying its hover text, so bins that share
    feature cells (adaptive overlap) show as darker bands; each level's outlines are inset a
    little so coincident edges of different levels stay visible. Paper-rule bins that differ
    from the adaptive ones are dashed red; the selected bin is thick white, and with
    ``receptive_field`` its theoretical receptive field is drawn as a wider dashed box.
    ``photo``: ``photo_source(image, max_side)`` if the caller has it already (it is cached).
    """
    photo_trace, layout = _photo_parts(image, max_side, photo)
    width, height = image.size
    all_levels = [lv.n for lv in levels]
    shown = [lv for lv in levels if lv.n <= MAX_DRAWN_LEVEL and (shown_levels is None or lv.n in shown_levels)]
    px_per_display = max(width, height) / min(max_side, max(width, height))
    differing_boxes: list[tuple[float, float, float, float]] = []
    traces: list[dict] = [photo_trace]  # plain dicts, validated once by the Figure constructor
    for rank, level in enumerate(sorted(shown, key=lambda lv: lv.n)):
        colour = level_colour(all_levels, level.n)
        boxes = project_bins_to_image(level.bins, stride, (width, height))
        values = reduce_channels(level.pooled, channel) if level.pooled.numel() else None
        labels = (bin_labels or {}).get(level.n)
        inset = (1.5 + 2.5 * rank) * px_per_display
        group = f"level {level.n}"
        rows, cols = level.bins.shape
        xs, ys = _rect_path(_inset(box, inset) for box in boxes)
        traces.append(dict(
            type="scatter", x=xs, y=ys, mode="lines", line=dict(color=colour, width=2),
            name=f"level {level.n} ({rows} × {cols})", legendgroup=group, hoverinfo="skip",
        ))
        fill = _rgba(colour, 0.10)
        what = channel_label(channel)
        for b, box in zip(level.bins.bins, boxes):
            value = float(values[b.row, b.col]) if values is not None and b.row < values.shape[0] and b.col < values.shape[1] else None
            label = labels[b.row][b.col] if labels and b.row < len(labels) and b.col < len(labels[b.row]) else None
            traces.append(dict(
                type="scatter", x=[box.x0, box.x1, box.x1, box.x0, box.x0], y=[box.y0, box.y0, box.y1, box.y1, box.y0],
                fill="toself", fillcolor=fill, mode="none", hoveron="fills",
                hoverinfo="text", text=bin_hover(level.n, b, box, value, what, label),
                hoverlabel=dict(bgcolor=colour, font=dict(color="#111")), legendgroup=group, showlegend=False,
                name=f"L{level.n} ({b.row},{b.col})",
            ))
        lookup = {(b.row, b.col): box for b, box in zip(level.bins.bins, boxes)}
        differing_boxes += [_inset(lookup[rc], inset + 2 * px_per_display) for rc in level.differing if rc in lookup]
    if differing_boxes:
        xs, ys = _rect_path(differing_boxes)
        traces.append(dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color=DIFFER_COLOUR, width=3, dash="dash"),
                           name="paper rule ≠ adaptive", hoverinfo="skip"))
    if selected is not None:
        traces += _selected_on_photo(levels, stride, (width, height), selected, receptive_field)
    layout.update(
        title=dict(text=f"Bins of each level on the {width} × {height} input{note}", x=0, font=dict(size=14)),
        meta=_meta("bins_over_image", levels=[lv.n for lv in shown], selected=list(selected) if selected else None),
    )
    return go.Figure(data=traces, layout=layout)


def _selected_on_photo(levels: Sequence[LevelResult], stride, size: tuple[int, int],
                       selected: tuple[int, int, int], receptive_field: int | None) -> list[dict]:
    """The selected bin's outline (black under white) and, optionally, its receptive field."""
    n, row, col = selected
    level = next((lv for lv in levels if lv.n == n), None)
    found = _find_bin(level.bins, row, col) if level is not None else None
    if found is None:
        return []
    i, b = found
    box = project_bins_to_image(level.bins, stride, size)[i]
    xs, ys = _rect_path([(box.x0, box.y0, box.x1, box.y1)])
    traces = [
        dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color="#000", width=7), hoverinfo="skip", showlegend=False),
        dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color=SELECTED_COLOUR, width=4), hoverinfo="skip",
             name=f"selected: level {n} ({row}, {col})"),
    ]
    if receptive_field is not None:
        rf = project_bins_to_image(level.bins, stride, size, receptive_field=receptive_field)[i]
        xs, ys = _rect_path([(rf.x0, rf.y0, rf.x1, rf.y1)])
        traces.append(dict(
            type="scatter", x=xs, y=ys, mode="lines", line=dict(color=RF_COLOUR, width=3, dash="dot"),
            name=f"receptive field ({receptive_field} px per cell)",
            hoverinfo="text", hoveron="points",
            text=f"theoretical receptive field of bin ({row}, {col}): "
                 f"x [{rf.x0:.0f}, {rf.x1:.0f}) × y [{rf.y0:.0f}, {rf.y1:.0f}), clipped to the image",
        ))
    return traces


# ----------------------------------------------------------------------------
# Panel 2: the feature map


def winner_cells(level: LevelResult, channel: Channel) -> list[tuple[int, int, int, int, str]]:
    """Where each bin's max came from: ``(bin_row, bin_col, cell_row, cell_col, note)``.

    For a channel: that channel's winner (``LevelResult.winners``). For ``mean`` / ``max``
    views: the winner of the bin's strongest channel (the one holding its largest pooled
    value), which is also the max of the channel-max map inside the bin. (A vote over all
    channels would mostly count dead channels, whose ties all go to the bin's first cell.)
    """
    if level.winners is None or level.winners.numel() == 0:
        return []
    winners = level.winners  # (C, rows, cols, 2)
    _, rows, cols, _ = winners.shape
    if channel in ("mean", "max"):
        best = level.pooled.argmax(0)  # (rows, cols)
        chosen = [[int(best[r, k]) for k in range(cols)] for r in range(rows)]
        why = "strongest channel {ch}"
    else:
        chosen = [[int(channel)] * cols for _ in range(rows)]
        why = "channel {ch}"
    out = []
    for r in range(rows):
        for k in range(cols):
            ch = chosen[r][k]
            out.append((r, k, int(winners[ch, r, k, 0]), int(winners[ch, r, k, 1]), why.format(ch=ch)))
    return out


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
        level = next((lv for lv in levels if lv.n == n), None)
        found = _find_bin(level.bins, row, col) if level is not None else None
        if found is not None:
            if n <= MAX_DRAWN_LEVEL:  # the selected bin's level, dotted: one trace, not one shape per bin
                xs, ys = _rect_path((b.cols[0] - 0.5, b.rows[0] - 0.5, b.cols[1] - 0.5, b.rows[1] - 0.5)
                                    for b in level.bins.bins if (b.row, b.col) != (row, col))
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
        height=_panel_height(h / w) + 30, margin=dict(l=4, r=4, t=66, b=4), legend=_LEGEND_BELOW,
        hovermode="closest", meta=_meta("feature_map_figure", shape=[c, h, w], block=f),
    )
    if shapes:
        layout["shapes"] = shapes
    return go.Figure(data=traces, layout=layout)


# ----------------------------------------------------------------------------
# Panel 3: pooled activations


def pooled_range(levels: Sequence[LevelResult], channel: Channel) -> tuple[float, float] | None:
    """One colour range for every level's pooled heatmap, so levels can be compared by colour."""
    values = [reduce_channels(lv.pooled, channel) for lv in levels if lv.pooled.numel()]
    if not values:
        return None
    lo = min(float(v.min()) for v in values)
    hi = max(float(v.max()) for v in values)
    return (lo, hi) if hi > lo else (lo - 1e-6, hi + 1e-6)


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
    meta = _meta("pooled_level_heatmap", level=level.n, shape=[rows, cols])
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
        hover.append(bin_hover(level.n, b, None, float(z[b.row, b.col]), what, label))
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


def vector_envelope(vector: np.ndarray, max_points: int = MAX_VECTOR_POINTS) -> tuple[np.ndarray, np.ndarray, int]:
    """Min and max of every bucket of ``k`` numbers, with at most ``max_points // 2`` buckets."""
    buckets = max(1, max_points // 2)
    k = math.ceil(len(vector) / buckets)
    pad = (-len(vector)) % k
    v = np.asarray(vector, dtype=np.float32)
    lo = np.pad(v, (0, pad), constant_values=np.inf).reshape(-1, k).min(1)
    hi = np.pad(v, (0, pad), constant_values=-np.inf).reshape(-1, k).max(1)
    return lo, hi, k


def spp_vector_figure(head: HeadResult, *, max_points: int = MAX_VECTOR_POINTS, note: str = "") -> go.Figure:
    """The whole fixed-length vector, its level segments shaded and named.

    Inside a segment the order is channel-major (channel 0's n x n bins, then channel 1's...),
    as ``pooled.flatten()``. Above ``max_points`` numbers it is drawn as a min/max envelope.
    """
    v = head.vector.detach().float().cpu().numpy()
    downsampled = len(v) > max_points
    if downsampled:
        lo, hi, k = vector_envelope(v, max_points)
        traces = [
            dict(type="scatter", y=lo, x0=0, dx=k, mode="lines", line=dict(width=0.5, color="#4CC9F0"), name="bucket min",
                 hovertemplate="indices %{x:,}… min %{y:.4g}<extra></extra>"),
            dict(type="scatter", y=hi, x0=0, dx=k, mode="lines", line=dict(width=0.5, color="#4CC9F0"), fill="tonexty",
                 fillcolor="rgba(76,201,240,0.35)", name="bucket max",
                 hovertemplate="indices %{x:,}… max %{y:.4g}<extra></extra>"),
        ]
        how = f" · downsampled for display: min/max of every {k:,} numbers ({len(lo):,} buckets)"
    else:
        traces = [dict(type="scatter", y=v, x0=0, dx=1, mode="lines", line=dict(width=1, color="#4CC9F0"), name="SPP vector",
                       hovertemplate="index %{x:,}<br>value %{y:.4g}<extra></extra>")]
        how = ""
    all_levels = list(head.config.levels)
    shapes, notes = [], []
    for level, (start, end) in zip(head.levels, head.level_offsets()):
        if end <= start:
            continue
        colour = level_colour(all_levels, level.n)
        shapes.append(dict(type="rect", xref="x", yref="paper", x0=start, x1=end, y0=0, y1=1, fillcolor=colour,
                           opacity=0.13, line_width=0, layer="below"))
        rows, cols = level.bins.shape
        notes.append(dict(x=(start + end) / 2, y=1.0, yref="paper", yanchor="bottom", showarrow=False,
                          text=f"level {level.n}<br>{level.pooled.shape[0]:,}×{rows}×{cols}", font=dict(size=10, color=colour)))
    return go.Figure(data=traces, layout=dict(
        shapes=shapes, annotations=notes,
        xaxis=dict(title="position in the vector", range=[0, max(1, len(v))], showgrid=False),
        yaxis=dict(title="value", zeroline=False),
        title=dict(text=f"The SPP vector: {len(v):,} numbers ({head.config.pool} pooling){how}{note}", x=0, font=dict(size=14), y=0.98),
        height=300, margin=dict(l=4, r=4, t=70, b=4), showlegend=False, hovermode="x",
        meta=_meta("spp_vector_figure", length=int(len(v)), downsampled=downsampled),
    ))


# ----------------------------------------------------------------------------
# Panel 4: output dimensions


def size_sweep_figure(sweep: Sequence[Mapping[str, Any]], channels: int, *,
                      current: Mapping[str, Any] | None = None) -> go.Figure:
    """Left: feature-map cells (h x w) for growing inputs. Right (log y): SPP's length stays
    put while SPPF's output (4C x h x w) grows with the image.

    ``sweep`` is :func:`spp_viz.analysis.size_sweep`'s rows; ``current`` is its row for the
    analysed image (``size_sweep(..., short_sides=(min(W, H),))[0]``), drawn as a star.
    """
    labels = [row["input"] for row in sweep]
    cells = [row["sppf_numbers"] // (4 * channels) if channels else 0 for row in sweep]
    xaxes, yaxes, titles = _subplot_row(("feature-map cells h × w", "output numbers (log scale)"), 0.1)
    on1, on2 = (dict(zip(("xaxis", "yaxis"), _axis_refs(i))) for i in (0, 1))
    traces = [
        dict(type="bar", x=labels, y=cells, marker_color="#4CC9F0", name="h × w cells",
             text=[row["feature_map"].split(" x ", 1)[-1] for row in sweep], textposition="outside",
             hovertemplate="input %{x}<br>feature map %{customdata}<extra></extra>",
             customdata=[row["feature_map"] for row in sweep], **on1),
        dict(type="scatter", x=labels, y=[row["spp_length"] or None for row in sweep], mode="lines+markers",
             name="SPP vector (fixed)", line=dict(color="#FFD166", width=3),
             hovertemplate="input %{x}<br>SPP length %{y:,}<extra></extra>", **on2),
        dict(type="scatter", x=labels, y=[row["sppf_numbers"] or None for row in sweep], mode="lines+markers",
             name="SPPF output 4C × h × w (grows)", line=dict(color="#EF476F", width=3),
             hovertemplate="input %{x}<br>SPPF numbers %{y:,}<extra></extra>", **on2),
    ]
    if current is not None:
        label, sppf_numbers = current["input"], current["sppf_numbers"]
        hw = sppf_numbers // (4 * channels) if channels else 0
        traces.append(dict(type="scatter", x=[label], y=[hw], mode="markers",
                           marker=dict(symbol="star", size=14, color="#fff", line=dict(color="#111", width=1)),
                           name="this image", cliponaxis=False,
                           hovertemplate="this image %{x}: %{y:,} cells<extra></extra>", **on1))
        traces.append(dict(type="scatter", x=[label], y=[sppf_numbers], mode="markers",
                           marker=dict(symbol="star", size=14, color="#fff", line=dict(color="#111", width=1)),
                           showlegend=False, hovertemplate="this image %{x}: %{y:,} numbers<extra></extra>", **on2))
    order = list(labels)
    if current is not None and current["input"] not in labels:
        # keep the axis ordered by size: insert the current input by its short side
        pairs = sorted([(row["short_side"], row["input"]) for row in sweep] + [(current["short_side"], current["input"])])
        order = [label for _, label in pairs]
    for x in xaxes:
        x.update(categoryorder="array", categoryarray=order, title="input (W × H)", tickangle=-30)
    yaxes[0].update(title="cells")
    yaxes[1].update(type="log")
    return go.Figure(data=traces, layout=dict(
        xaxis=xaxes[0], yaxis=yaxes[0], xaxis2=xaxes[1], yaxis2=yaxes[1], annotations=titles,
        height=380, margin=dict(l=4, r=4, t=40, b=4), bargap=0.3,
        legend=dict(orientation="h", yanchor="top", y=-0.35, x=0), meta=_meta("size_sweep_figure"),
    ))


# ----------------------------------------------------------------------------
# Panel 5: SPP vs SPPF


def sppf_branches_figure(sppf: SPPFComparison, channel: Channel = "mean", *, note: str = "",
                         max_cells: int = MAX_HEATMAP_CELLS // 4) -> go.Figure:
    """The SPPF cascade's outputs [x, pool 5, pool 9, pool 13] side by side, one colour scale."""
    names = ["x (input, 1 cell)"] + [f"pool {k} ({k} × {k} cells)" for k in sppf.kernels]
    xaxes, yaxes, titles = _subplot_row(names[:len(sppf.branches)], 0.02)
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
        x_ref, y_ref = _axis_refs(i)
        traces.append(dict(type="heatmap", z=z, x0=(f - 1) / 2, dx=f, y0=(f - 1) / 2, dy=f, coloraxis="coloraxis", name=names[i],
                           hovertemplate=f"{names[i]}<br>cell (row %{{y}}, col %{{x}})<br>value %{{z:.4g}}<extra></extra>",
                           xaxis=x_ref, yaxis=y_ref))
        x_name, y_name = _axis_names(i)
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
        meta=_meta("sppf_branches_figure", branches=len(maps)),
    )
    return go.Figure(data=traces, layout=layout)


def costs_rows(sppf: SPPFComparison, head: HeadResult) -> list[dict]:
    """``SPPFComparison.costs`` as table rows, plus the current pyramid's fixed length when it is
    not the one that was timed (timing is cached per feature map, not per pyramid)."""
    rows = []
    timed_spp = None
    for cost in sppf.costs:
        is_spp = not (cost.name.startswith("SPPF") or cost.name.startswith("Parallel"))
        if is_spp:
            timed_spp = cost.name
        rows.append({
            "head": cost.name, "output shape": " × ".join(str(s) for s in cost.output_shape),
            "output numbers": int(np.prod(cost.output_shape)), "params (with 1x1 convs)": cost.params if not is_spp else 0,
            "FLOPs (convs)": cost.flops, "pool comparisons": cost.pool_comparisons,
            "latency ms (median)": round(cost.latency_ms, 3),
        })
    current = f"SPP {','.join(map(str, head.config.levels))} ({head.config.pool})"
    if timed_spp is not None and not timed_spp.startswith(current + " ") and timed_spp != current:
        rows.append({
            "head": f"{current}, {head.config.rule} bins (current)", "output shape": str(head.length),
            "output numbers": head.length, "params (with 1x1 convs)": 0, "FLOPs (convs)": 0,
            "pool comparisons": None, "latency ms (median)": None,
        })
    return rows


# ----------------------------------------------------------------------------
# Panel 6: what the backbone sees


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
        xaxis=dict(title="probability (softmax)", tickformat=".0%", range=[0, max([p.probability for p in preds] + [0.05]) * 1.15]),
        title=dict(text=title + note, x=0, font=dict(size=14)), height=280, margin=dict(l=4, r=4, t=40, b=4),
        meta=_meta("predictions_figure", labels=[p.label for p in predictions]),
    ))


def bin_labels_figure(image: Image.Image, level: LevelResult, labels: list[list[Prediction]],
                      stride: int | tuple[int, int], *, levels: Sequence[int] = (), note: str = "",
                      max_side: int = DISPLAY_MAX_SIDE, photo: Photo | None = None) -> go.Figure:
    """The photo with one level's bins, each labelled with the classifier's top-1 for that bin alone.

    ``photo``: ``photo_source(image, max_side)`` if the caller has it already (it is cached)."""
    photo_trace, layout = _photo_parts(image, max_side, photo)
    width, height = image.size
    colour = level_colour(levels or [level.n], level.n)
    boxes = project_bins_to_image(level.bins, stride, (width, height))
    xs, ys = _rect_path((b.x0, b.y0, b.x1, b.y1) for b in boxes)
    outline = dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color=colour, width=2), hoverinfo="skip", showlegend=False)
    scale = min(max_side, max(width, height)) / max(width, height)
    texts, notes = [], []
    for b, box in zip(level.bins.bins, boxes):
        if b.row >= len(labels) or b.col >= len(labels[b.row]):
            continue
        p = labels[b.row][b.col]
        chars = max(4, int((box.x1 - box.x0) * scale / 7))
        name = p.label if len(p.label) <= chars else p.label[:chars - 1] + "…"
        texts.append(p.label)
        notes.append(dict(x=(box.x0 + box.x1) / 2, y=(box.y0 + box.y1) / 2, text=f"{name}<br>{p.probability:.0%}",
                          showarrow=False, font=dict(color="#fff", size=11 if level.n <= 4 else 9),
                          bgcolor="rgba(0,0,0,0.6)", borderpad=2,
                          hovertext=f"level {level.n} bin ({b.row}, {b.col}): {p.label} ({p.probability:.1%})"))
    layout.update(
        title=dict(text=f"Top-1 class of each level-{level.n} bin, read by the classifier on its own average{note}", x=0,
                   font=dict(size=14)),
        showlegend=False, annotations=notes, meta=_meta("bin_labels_figure", level=level.n, labels=texts),
    )
    return go.Figure(data=[photo_trace, outline], layout=layout)


# ----------------------------------------------------------------------------
# Panel 7: paper rule vs adaptive rule


def rule_comparison_figure(adaptive: LevelBins, paper: LevelBins, max_cells: int = MAX_HEATMAP_CELLS) -> go.Figure:
    """The same ``h x w`` map split by both rules: adaptive bins (always n x n, may share a cell)
    next to the paper's ceil/floor windows (may give more or fewer bins). Shared cells are darker."""
    h, w = adaptive.height, adaptive.width
    titles = (f"adaptive: {adaptive.shape[0]} × {adaptive.shape[1]} bins",
              f"paper: {paper.shape[0]} × {paper.shape[1]} bins" + ("" if paper.valid else " (not n × n)"))
    xaxes, yaxes, notes = _subplot_row(titles, 0.06)
    traces = []
    layout: dict[str, Any] = {}
    for i, (bins, colour) in enumerate(((adaptive, "#4CC9F0"), (paper, DIFFER_COLOUR))):
        x_ref, y_ref = _axis_refs(i)
        cover = bins.coverage()
        zmax = max(2, int(cover.max()) if cover.size else 2)
        shown, f = block_reduce(cover.astype(np.float32), max_cells // 2)
        traces.append(dict(type="heatmap", z=shown, x0=(f - 1) / 2, dx=f, y0=(f - 1) / 2, dy=f,
                           colorscale=[[0, "#1b1f2a"], [0.5, _rgba(colour, 0.45)], [1, colour]],
                           zmin=0, zmax=zmax, showscale=False,
                           hovertemplate="cell (row %{y}, col %{x}) pooled by %{z} bin(s)<extra></extra>" if f == 1 else
                           f"{f} × {f} cells around (row %{{y}}, col %{{x}}): pooled by %{{z:.2f}} bins on average<extra></extra>",
                           xaxis=x_ref, yaxis=y_ref))
        xs, ys = _rect_path((b.cols[0] - 0.45, b.rows[0] - 0.45, b.cols[1] - 0.55, b.rows[1] - 0.55) for b in bins.bins)
        traces.append(dict(type="scatter", x=xs, y=ys, mode="lines",
                           line=dict(color="#fff", width=1.5, dash="solid" if i == 0 else "dash"),
                           hoverinfo="skip", showlegend=False, xaxis=x_ref, yaxis=y_ref))
        x_name, y_name = _axis_names(i)
        layout[x_name] = dict(xaxes[i], range=[-0.5, w - 0.5], showgrid=False, zeroline=False, constrain="domain",
                              title="columns (cells)")
        layout[y_name] = dict(yaxes[i], range=[h - 0.5, -0.5], showgrid=False, zeroline=False, constrain="domain",
                              scaleanchor=x_ref)
    layout.update(annotations=notes, height=int(min(420, max(220, 300 * h / max(w, 1) + 100))),
                  margin=dict(l=4, r=4, t=50, b=4), meta=_meta("rule_comparison_figure", level=adaptive.n))
    return go.Figure(data=traces, layout=layout)


# ----------------------------------------------------------------------------
# Exports and checks


def vector_npy_bytes(vector: Tensor) -> bytes:
    """The SPP vector as a ``.npy`` file (float32), built in memory."""
    buf = io.BytesIO()
    np.save(buf, vector.detach().float().cpu().numpy())
    return buf.getvalue()


def vector_csv(head: HeadResult) -> str:
    """The SPP vector as CSV: index, level, channel, bin row, bin col, value (one row per number)."""
    v = head.vector.detach().float().cpu().numpy()
    parts = []
    for level, (start, end) in zip(head.levels, head.level_offsets()):
        rows, cols = level.bins.shape
        per_channel = max(1, rows * cols)
        i = np.arange(end - start)
        parts.append(np.stack([i + start, np.full_like(i, level.n), i // per_channel,
                               (i % per_channel) // max(cols, 1), (i % per_channel) % max(cols, 1)], axis=1))
    meta = np.concatenate(parts) if parts else np.zeros((0, 5), dtype=np.int64)
    buf = io.StringIO()
    buf.write("index,level,channel,bin_row,bin_col,value\n")
    for chunk in range(0, len(v), 65_536):
        m = meta[chunk:chunk + 65_536]
        vals = v[chunk:chunk + 65_536]
        buf.write("".join(f"{a},{b},{c},{d},{e},{x:.9g}\n" for (a, b, c, d, e), x in zip(m.tolist(), vals.tolist())))
    return buf.getvalue()


def table_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows of dicts (e.g. :func:`spp_viz.analysis.dimension_table`) as CSV text."""
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _count(node: Any) -> int:
    if isinstance(node, np.ndarray):
        return int(node.size) if node.dtype.kind in "iufb" else 0
    if isinstance(node, Mapping):
        if "bdata" in node and "dtype" in node:  # plotly's typed-array JSON encoding
            return len(base64.b64decode(node["bdata"])) // np.dtype(node["dtype"]).itemsize
        return sum(_count(v) for v in node.values())
    if isinstance(node, (list, tuple)):
        return sum(1 if isinstance(v, (int, float)) and not isinstance(v, bool) else _count(v) for v in node)
    return 0


def count_numbers(figure: go.Figure | Mapping[str, Any]) -> int:
    """How many numbers a figure's traces carry (arrays, including plotly's base64 typed arrays)."""
    data = figure.to_plotly_json()["data"] if isinstance(figure, go.Figure) else figure.get("data", [])
    return _count(data)
