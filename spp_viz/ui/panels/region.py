"""The "Region pooling" panel (issue 10): SPP-net's detection idea on the shared feature map.

A box (number inputs, working-image pixels) is pooled from the map the page already computed and
classified from its 1 x 1 average level; side by side, the box is cropped and the whole backbone
reruns on it. Both top-5s and both times: pooling a window is microseconds, a forward pass is not.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ...analysis import Prediction
from ...figures.style import figure_meta
from ...regions import RegionResult
from .. import state
from ..pipeline import PageModel, region

CHART_CONFIG = {"displaylogo": False}


def region_panel(page: PageModel) -> None:
    """Number inputs for the box, then both classifications and both times."""
    w, h = page.features.input_size
    state.region_box_for(page.image_key, (w / 4, h / 4, 3 * w / 4, 3 * h / 4))
    columns = st.columns(4)
    box = tuple(float(c.number_input(k.removeprefix("region_").upper(), min_value=0.0, max_value=float(w if "x" in k else h),
                                     step=1.0, key=k))
                for c, k in zip(columns, state.KEYS_REGION))
    try:
        result = region(page, box)  # type: ignore[arg-type]
    except ValueError as exc:
        st.error(str(exc))
        return
    st.plotly_chart(region_figure(result, page.photo, (w, h)), key="region_box", config=CHART_CONFIG)
    left, right = st.columns(2)
    left.markdown(f"**Pooled from the shared map** (cells rows {result.window[0]}–{result.window[1] - 1}, "
                  f"columns {result.window[2]}–{result.window[3] - 1}): {result.pooled_ms * 1000:.1f} µs")
    left.dataframe(_rows(result.predictions), hide_index=True, key="region_pooled")
    right.markdown(f"**Cropped and rerun** (a full forward pass): {result.recompute_ms:.1f} ms")
    right.dataframe(_rows(result.recompute_predictions), hide_index=True, key="region_recomputed")
    if not result.predictions:
        st.info("This backbone/stage has no ImageNet classifier to read: the vectors are pooled, nothing is classified.")
    st.caption(f"SPP vector of the window: {result.length:,} numbers. Pooling time: median of many calls "
               "(interleaved timeit blocks); crop-and-rerun: one perf_counter pair around crop, forward and classifier.")


def _rows(predictions: tuple[Prediction, ...]) -> list[dict[str, str]]:
    return [{"label": p.label, "probability": f"{p.probability:.1%}"} for p in predictions]


def region_figure(result: RegionResult, photo: tuple[str, tuple[int, int]], size: tuple[int, int]) -> go.Figure:
    """The photo with the box drawn on it."""
    w, h = size
    b = result.box
    fig = go.Figure(go.Scatter(x=[b.x0, b.x1, b.x1, b.x0, b.x0], y=[b.y0, b.y0, b.y1, b.y1, b.y0], mode="lines",
                               line={"color": "#00d0ff", "width": 3}, hoverinfo="skip"))
    fig.add_layout_image(source=photo[0], xref="x", yref="y", x=0, y=0, sizex=w, sizey=h, sizing="stretch", layer="below")
    fig.update_layout(meta=figure_meta("region_figure", box=b.as_list(), window=list(result.window)),
                      margin={"l": 10, "r": 10, "t": 10, "b": 10}, height=320, showlegend=False)
    fig.update_xaxes(range=[0, w], visible=False)
    fig.update_yaxes(range=[h, 0], visible=False, scaleanchor="x")
    return fig
