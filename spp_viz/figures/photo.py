"""Figures drawn over the photo: pyramid bins, the selected bin and its receptive field, bin labels."""

from __future__ import annotations

import base64
import io
from typing import Any, Mapping, Sequence

import plotly.graph_objects as go
from PIL import Image

from ..analysis import LevelResult, Prediction
from ..bins import BinGeometry
from .reduce import reduce_channels
from .style import (
    DIFFER_COLOUR,
    DISPLAY_MAX_SIDE,
    LEGEND_BELOW,
    MAX_DRAWN_LEVEL,
    RF_COLOUR,
    SELECTED_COLOUR,
    Channel,
    figure_meta,
    inset,
    level_colour,
    panel_height,
    rect_path,
    rgba,
)
from .text import bin_hover, channel_label, rf_hover, rf_legend


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


def photo_parts(image: Image.Image, max_side: int, photo: Photo | None = None) -> tuple[dict, dict]:
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
        height=panel_height(height / width), margin=dict(l=4, r=4, t=36, b=4),
        hovermode="closest", hoverdistance=-1, dragmode=False, legend=LEGEND_BELOW,
    )
    return trace, layout


def bins_over_image(
    image: Image.Image,
    levels: Sequence[LevelResult],
    geometry: Mapping[int, Sequence[BinGeometry]],
    *,
    channel: Channel = "mean",
    shown_levels: Sequence[int] | None = None,
    selected: tuple[int, int, int] | None = None,
    show_rf: bool = False,
    global_context: bool = False,
    bin_labels: Mapping[int, list[list[Prediction]]] | None = None,
    note: str = "",
    max_side: int = DISPLAY_MAX_SIDE,
    photo: Photo | None = None,
) -> go.Figure:
    """The photo with every shown level's bins, in image pixels from the engine's geometry.

    ``geometry[n]`` is :func:`spp_viz.analysis.level_geometry` of level n (a level without it is
    not drawn). Each bin is a semi-transparent filled polygon carrying its hover text, so bins
    that share feature cells (adaptive overlap) show as darker bands; each level's outlines are
    inset a little so coincident edges stay visible. Paper-rule bins that differ from the
    adaptive ones are dashed red; the selected bin is thick white, and with ``show_rf`` its
    theoretical receptive field (``BinGeometry.rf_box``, padding included) is dotted cyan.
    """
    photo_trace, layout = photo_parts(image, max_side, photo)
    width, height = image.size
    all_levels = [lv.n for lv in levels]
    shown = sorted((lv for lv in levels if lv.n <= MAX_DRAWN_LEVEL and lv.n in geometry
                    and (shown_levels is None or lv.n in shown_levels)), key=lambda lv: lv.n)
    px_per_display = max(width, height) / min(max_side, max(width, height))
    traces: list[dict] = [photo_trace]  # plain dicts, validated once by the Figure constructor
    differing: list[tuple[float, float, float, float]] = []
    for rank, level in enumerate(shown):
        margin = (1.5 + 2.5 * rank) * px_per_display
        traces += _level_traces(level, geometry[level.n], level_colour(all_levels, level.n), margin, channel,
                                (bin_labels or {}).get(level.n))
        lookup = {(g.row, g.col): g.box for g in geometry[level.n]}
        differing += [inset(lookup[rc], margin + 2 * px_per_display) for rc in level.differing if rc in lookup]
    if differing:
        xs, ys = rect_path(differing)
        traces.append(dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color=DIFFER_COLOUR, width=3, dash="dash"),
                           name="paper rule ≠ adaptive", hoverinfo="skip"))
    if selected is not None:
        traces += _selected_on_photo(geometry.get(selected[0], ()), selected, show_rf, global_context)
    layout.update(
        title=dict(text=f"Bins of each level on the {width} × {height} input{note}", x=0, font=dict(size=14)),
        meta=figure_meta("bins_over_image", levels=[lv.n for lv in shown], selected=list(selected) if selected else None),
    )
    return go.Figure(data=traces, layout=layout)


def _level_traces(level: LevelResult, bins: Sequence[BinGeometry], colour: str, margin: float, channel: Channel,
                  labels: list[list[Prediction]] | None) -> list[dict]:
    """One level: its outlines (one trace) and one hoverable filled polygon per bin."""
    values = reduce_channels(level.pooled, channel) if level.pooled.numel() else None
    rows, cols = level.bins.shape
    group = f"level {level.n}"
    xs, ys = rect_path(inset(g.box, margin) for g in bins)
    traces: list[dict[str, Any]] = [dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color=colour, width=2),
                   name=f"level {level.n} ({rows} × {cols})", legendgroup=group, hoverinfo="skip")]
    fill, what = rgba(colour, 0.10), channel_label(channel)
    for g in bins:
        value = float(values[g.row, g.col]) if values is not None and g.row < values.shape[0] and g.col < values.shape[1] else None
        label = labels[g.row][g.col] if labels and g.row < len(labels) and g.col < len(labels[g.row]) else None
        box = g.box
        traces.append(dict(
            type="scatter", x=[box.x0, box.x1, box.x1, box.x0, box.x0], y=[box.y0, box.y0, box.y1, box.y1, box.y0],
            fill="toself", fillcolor=fill, mode="none", hoveron="fills", hoverinfo="text",
            text=bin_hover(level.n, g.row, g.col, g.index, g.cells, box, value, what, label),
            hoverlabel=dict(bgcolor=colour, font=dict(color="#111")), legendgroup=group, showlegend=False,
            name=f"L{level.n} ({g.row},{g.col})",
        ))
    return traces


def _selected_on_photo(bins: Sequence[BinGeometry], selected: tuple[int, int, int], show_rf: bool,
                       global_context: bool) -> list[dict]:
    """The selected bin's outline (black under white) and, with ``show_rf``, its receptive field."""
    n, row, col = selected
    found = next((g for g in bins if (g.row, g.col) == (row, col)), None)
    if found is None:
        return []
    xs, ys = rect_path([(found.box.x0, found.box.y0, found.box.x1, found.box.y1)])
    traces: list[dict[str, Any]] = [
        dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color="#000", width=7), hoverinfo="skip", showlegend=False),
        dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color=SELECTED_COLOUR, width=4), hoverinfo="skip",
             name=f"selected: level {n} ({row}, {col})"),
    ]
    if show_rf:
        rf = found.rf_box
        xs, ys = rect_path([(rf.x0, rf.y0, rf.x1, rf.y1)])
        traces.append(dict(
            type="scatter", x=xs, y=ys, mode="lines", line=dict(color=RF_COLOUR, width=3, dash="dot"),
            name=rf_legend(global_context), hoverinfo="text", hoveron="points", text=rf_hover(row, col, rf, global_context),
        ))
    return traces


def bin_labels_figure(image: Image.Image, level: LevelResult, labels: list[list[Prediction]],
                      geometry: Sequence[BinGeometry], *, levels: Sequence[int] = (), note: str = "",
                      max_side: int = DISPLAY_MAX_SIDE, photo: Photo | None = None) -> go.Figure:
    """The photo with one level's bins, each labelled with the classifier's top-1 for that bin alone.

    ``photo``: ``photo_source(image, max_side)`` if the caller has it already (it is cached)."""
    photo_trace, layout = photo_parts(image, max_side, photo)
    width, height = image.size
    colour = level_colour(levels or [level.n], level.n)
    boxes = [g.box for g in geometry]
    xs, ys = rect_path((b.x0, b.y0, b.x1, b.y1) for b in boxes)
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
        showlegend=False, annotations=notes, meta=figure_meta("bin_labels_figure", level=level.n, labels=texts),
    )
    return go.Figure(data=[photo_trace, outline], layout=layout)
