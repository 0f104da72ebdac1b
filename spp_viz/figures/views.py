"""Figures of the views on one bin, one window and several sizes: a bin's effective receptive
field over the photo, a pooled region's box, and SPP's length against SPPF's across scales."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from ..boxes import PixelBox
from ..dimensions import SPPFStage
from ..erf import ErfResult
from ..i18n import _
from ..regions import RegionResult
from ..scales import ScaleRow
from . import text
from .reduce import block_reduce
from .style import HEATMAP_SCALE, figure_meta

BOX_COLOUR = "#00d0ff"
RF_BOX_COLOUR = "#ffffff"


def _rect(box: PixelBox, colour: str, dash: str) -> dict[str, Any]:
    return {"type": "rect", "x0": box.x0, "y0": box.y0, "x1": box.x1, "y1": box.y1,
            "line": {"color": colour, "width": 2, "dash": dash}}


def _photo_axes(photo: tuple[str, tuple[int, int]], size: tuple[int, int]) -> dict[str, Any]:
    """Layout for the photo under the figure, in working-image pixels with y down and square
    pixels. A dict for the figure's one constructor call: plotly validates each later
    ``update_*`` on its own (the region's figure took 4.9 ms that way, 1.5 ms in one call)."""
    w, h = size
    return {"images": [{"source": photo[0], "xref": "x", "yref": "y", "x": 0, "y": 0, "sizex": w, "sizey": h,
                        "sizing": "stretch", "layer": "below"}],
            "xaxis": {"range": [0, w], "showgrid": False, "visible": False},
            "yaxis": {"range": [h, 0], "showgrid": False, "visible": False, "scaleanchor": "x"}}


def erf_figure(result: ErfResult, photo: tuple[str, tuple[int, int]], untrained: bool) -> go.Figure:
    """|d bin / d pixel| over the photo, with the bin box (solid) and the RF box (dashed)."""
    h, w = result.shape
    shown, f = block_reduce(result.map)  # display only: a 1024-px map is 786k numbers for the browser
    heatmap = {"type": "heatmap", "z": shown, "colorscale": HEATMAP_SCALE, "opacity": 0.6, "showscale": True,
               "x0": f / 2, "dx": f, "y0": f / 2, "dy": f, "hovertemplate": _("x %{x}, y %{y}: %{z:.3g}") + "<extra></extra>"}
    return go.Figure(data=[heatmap], layout={
        **_photo_axes(photo, (w, h)),
        "shapes": [_rect(result.box, BOX_COLOUR, "solid"), _rect(result.rf_box, RF_BOX_COLOUR, "dash")],
        "title": text.erf_title(result.level, result.bin, untrained),
        "meta": figure_meta("erf_figure", level=result.level, row=result.bin[0], col=result.bin[1]),
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "height": 420})


def region_figure(result: RegionResult, photo: tuple[str, tuple[int, int]], size: tuple[int, int]) -> go.Figure:
    """The photo with the pooled box drawn on it."""
    b = result.box
    outline = {"type": "scatter", "x": [b.x0, b.x1, b.x1, b.x0, b.x0], "y": [b.y0, b.y0, b.y1, b.y1, b.y0], "mode": "lines",
               "line": {"color": BOX_COLOUR, "width": 3}, "hoverinfo": "skip"}
    return go.Figure(data=[outline], layout={
        **_photo_axes(photo, size),
        "meta": figure_meta("region_figure", box=b.as_json(), window=result.window.as_json()),
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10}, "height": 320, "showlegend": False})


def scales_figure(rows: list[ScaleRow]) -> go.Figure:
    """SPP length (flat) and SPPF's pools alone (growing) against the input's long side."""
    x = [max(r.size) for r in rows]
    lines = [{"type": "scatter", "x": x, "y": [r.spp_length for r in rows], "name": _("SPP length"), "mode": "lines+markers"},
             {"type": "scatter", "x": x, "y": [r.sppf_numbers for r in rows], "name": text.sppf_stage(SPPFStage.POOLS),
              "mode": "lines+markers"}]
    return go.Figure(data=lines, layout={
        "meta": figure_meta("scales_figure", sizes=x), "xaxis": {"title": {"text": _("long side (px)")}},
        "yaxis": {"title": {"text": _("numbers")}, "type": "log"}, "height": 320, "margin": {"l": 10, "r": 10, "t": 10, "b": 10}})
