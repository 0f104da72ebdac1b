"""The "Effective receptive field" panel (issue 10): where the pixels that move the selected bin are.

On demand: the button computes it; after that it follows every bin clicked in the pooled
heatmaps. One backward pass (``spp_viz.erf``), cached per image, backbone, pyramid and bin.
The heatmap (``layout.meta["figure"] == "erf_figure"``) lies over the photo with the bin's box
(through the stride) and its theoretical receptive-field box.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ...bins import PixelBox
from ...erf import ErfResult
from ...figures.reduce import block_reduce
from ...figures.style import HEATMAP_SCALE, figure_meta
from ..pipeline import PageModel, bin_erf
from ..view import current_view

KEY_ERF_RUN = "erf_run"
CHART_CONFIG = {"displaylogo": False}


def erf_panel(page: PageModel) -> None:
    """The ERF of the selected bin (or the default bin, after the button)."""
    view = current_view(page)
    if view.selected is None:
        st.info("Choose a level with bins to see a bin's effective receptive field.")
        return
    level, row, col = view.selected
    asked = st.button(f"Compute the ERF of bin ({row}, {col}) of level {level}", key=KEY_ERF_RUN)
    # Only after the first request do clicks compute it too: a click must stay a cheap rerun.
    if not (asked or st.session_state.get(f"{KEY_ERF_RUN}_done")):
        st.caption("Press the button (one backward pass through the backbone); after that the ERF follows "
                   "every bin you click in the pooled heatmaps.")
        return
    st.session_state[f"{KEY_ERF_RUN}_done"] = True
    result = bin_erf(page, level, row, col)
    st.plotly_chart(erf_figure(result, page.photo, page.untrained), key="erf_map", config=CHART_CONFIG)
    st.markdown(erf_summary(result, page.untrained))


def _rect(box: PixelBox, colour: str, dash: str) -> dict:
    return {"type": "rect", "x0": box.x0, "y0": box.y0, "x1": box.x1, "y1": box.y1, "line": {"color": colour, "width": 2, "dash": dash}}


def erf_figure(result: ErfResult, photo: tuple[str, tuple[int, int]], untrained: bool) -> go.Figure:
    """|d bin / d pixel| over the photo, with the bin box (solid) and the RF box (dashed)."""
    h, w = result.shape
    shown, f = block_reduce(result.map)  # display only: a 1024-px map is 786k numbers for the browser
    fig = go.Figure(go.Heatmap(z=shown, colorscale=HEATMAP_SCALE, opacity=0.6, showscale=True,
                               x0=f / 2, dx=f, y0=f / 2, dy=f, hovertemplate="x %{x}, y %{y}: %{z:.3g}<extra></extra>"))
    fig.add_layout_image(source=photo[0], xref="x", yref="y", x=0, y=0, sizex=w, sizey=h, sizing="stretch", layer="below")
    fig.update_layout(shapes=[_rect(result.box, "#00d0ff", "solid"), _rect(result.rf_box, "#ffffff", "dash")],
                      title=f"ERF of level {result.level}, bin {result.bin}" + (" (untrained weights)" if untrained else ""),
                      meta=figure_meta("erf_figure", level=result.level, row=result.bin[0], col=result.bin[1]),
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, height=420)
    fig.update_xaxes(range=[0, w], showgrid=False, visible=False)
    fig.update_yaxes(range=[h, 0], showgrid=False, visible=False, scaleanchor="x")
    return fig


def erf_summary(result: ErfResult, untrained: bool) -> str:
    """The numbers under the heatmap, one line each."""
    rf = "the whole image (squeeze-excite: every output sees every pixel)" if result.global_context else "the theoretical RF box (dashed)"
    lines = [
        f"- mass in the bin's box (solid): **{result.mass_in_box:.1%}**; in {rf}: **{result.mass_in_rf_box:.1%}**",
        f"- centroid ({result.centroid[0]:.1f}, {result.centroid[1]:.1f}) px; radius holding 50 %: {result.radius50:.1f} px, 90 %: {result.radius90:.1f} px",
        f"- one forward + backward pass: {result.ms:.0f} ms",
    ]
    if untrained:
        lines.append("- the weights are untrained: the ERF's shape is real, the features are not")
    return "\n".join(lines)
