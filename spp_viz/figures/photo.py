"""Figures drawn over the photo: the photo itself (a cached JPEG data URI) and each bin's top-1 label.

The pyramid's bins over the photo are drawn in the browser by the pyramid explorer
(:mod:`spp_viz.explorer`, :mod:`spp_viz.ui.explorer`)."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any, Sequence

import plotly.graph_objects as go
from PIL import Image

from ..bins import BinGeometry
from ..i18n import _
from .style import (
    DISPLAY_MAX_SIDE,
    LEGEND_BELOW,
    LEVEL_COLOURS,
    figure_meta,
    panel_height,
    rect_path,
)

if TYPE_CHECKING:  # the results drawn; drawing them imports no torch
    from ..analysis import LevelResult, Prediction


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


def photo_parts(image: Image.Image, max_side: int, photo: Photo | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
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


# Finer levels than this get a number per bin on the photo (their labels are in a table beside
# it): a 6 x 6 grid of class names in half the page's width is unreadable.
MAX_NAMED_LEVEL = 4


def label_keys(labels: list[list[Prediction]]) -> list[str]:
    """A level's top-1 labels, most bins first (then by name): the numbers 1, 2, ... on the photo
    are their positions in this list, plus one (:func:`spp_viz.figures.tables.bin_label_rows`)."""
    counts: dict[str, int] = {}
    for row in labels:
        for p in row:
            counts[p.label] = counts.get(p.label, 0) + 1
    return sorted(counts, key=lambda label: (-counts[label], label))


def bin_labels_figure(image: Image.Image, level: LevelResult, labels: list[list[Prediction]],
                      geometry: Sequence[BinGeometry], *, colour: str = LEVEL_COLOURS[0], note: str = "",
                      max_side: int = DISPLAY_MAX_SIDE, photo: Photo | None = None) -> go.Figure:
    """The photo with one level's bins, each labelled with the classifier's top-1 for that bin alone
    (up to :data:`MAX_NAMED_LEVEL`; finer levels show each label's number of :func:`label_keys`).

    ``colour``: the level's colour on the page. ``photo``: ``photo_source(image, max_side)`` if the
    caller has it already (it is cached)."""
    photo_trace, layout = photo_parts(image, max_side, photo)
    width, height = image.size
    boxes = [g.box for g in geometry]
    xs, ys = rect_path((b.x0, b.y0, b.x1, b.y1) for b in boxes)
    outline = dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color=colour, width=2), hoverinfo="skip", showlegend=False)
    scale = min(max_side, max(width, height)) / max(width, height)
    named = level.n <= MAX_NAMED_LEVEL
    keys = {label: i + 1 for i, label in enumerate(label_keys(labels))}
    texts, notes = [], []
    for b, box in zip(level.bins.bins, boxes):
        if b.row >= len(labels) or b.col >= len(labels[b.row]):
            continue
        p = labels[b.row][b.col]
        chars = max(4, int(box.width * scale / 7))
        name = p.label if len(p.label) <= chars else p.label[:chars - 1] + "…"
        texts.append(p.label)
        notes.append(dict(x=(box.x0 + box.x1) / 2, y=(box.y0 + box.y1) / 2,
                          text=f"{name}<br>{p.probability:.0%}" if named else str(keys[p.label]),
                          showarrow=False, font=dict(color="#fff", size=11 if named else 12),
                          bgcolor="rgba(0,0,0,0.6)", borderpad=2,
                          hovertext=_("level {n} bin ({row}, {col}): {label} ({probability})").format(
                              n=level.n, row=b.row, col=b.col, label=p.label, probability=f"{p.probability:.1%}")))
    how = _("read by the classifier on the bin's own average") if named else \
        _("read by the classifier on the bin's own average; numbers: the labels in the table")
    layout.update(
        title=dict(text=_("Top-1 class of each level-{n} bin").format(n=level.n) + note
                   + f"<br><span style='font-size:12px'>{how}</span>", x=0, font=dict(size=14)),
        margin=dict(l=4, r=4, t=60, b=4), height=layout["height"] + 24, showlegend=False, annotations=notes,
        meta=figure_meta("bin_labels_figure", level=level.n, labels=texts, named=named, colour=colour),
    )
    return go.Figure(data=[photo_trace, outline], layout=layout)
