"""The "Scales" panel (issue 10): the same image at several working sizes, on demand.

One forward pass per size (with a progress bar), cached per image, backbone and pyramid: SPP's
length stays, SPPF's output grows, the SPP vector drifts (cosine to the smallest size), the top-1
may change. :func:`training_resolution_block` (drawn in "What the backbone sees") puts the classifier's
training resolution (224 px) next to the working size.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ...analysis import Prediction
from ...figures.style import figure_meta
from ...scales import DEFAULT_SCALE_SIZES, ScaleRow, scale_sizes
from ..pipeline import PageModel, scales, training_resolution

KEY_SCALES_RUN = "scales_run"
CHART_CONFIG = {"displaylogo": False}


def scales_panel(page: PageModel) -> None:
    """The button, then the table and the chart of every size."""
    sizes = scale_sizes(DEFAULT_SCALE_SIZES, max(page.features.input_size))
    if not (st.button(f"Run the backbone at {', '.join(map(str, sizes))} px", key=KEY_SCALES_RUN)
            or st.session_state.get(f"{KEY_SCALES_RUN}_done")):
        st.caption("One forward pass per size; the result is cached for this image, backbone and pyramid.")
        return
    st.session_state[f"{KEY_SCALES_RUN}_done"] = True
    bar = st.progress(0.0)
    rows = scales(page, sizes, lambda done, total: bar.progress(done / total))
    bar.empty()
    st.dataframe([_row(r) for r in rows], hide_index=True, key="scales_table")
    st.plotly_chart(scales_figure(rows), key="scales_chart", config=CHART_CONFIG)


def training_resolution_block(page: PageModel) -> None:
    """Top-5 at the classifier's 224-px training resolution next to the working size's (for
    "What the backbone sees"), and the one sentence why they differ (FixRes)."""
    if not page.backbone.can_classify:
        return
    comparison = training_resolution(page)
    with st.expander(f"At the training resolution ({comparison.training_size[0]}×{comparison.training_size[1]}) "
                     f"vs the working size ({comparison.working_size[0]}×{comparison.working_size[1]})", expanded=True):
        left, right = st.columns(2)
        left.markdown(f"**At {comparison.training_size[0]}×{comparison.training_size[1]}** (training resolution)")
        left.dataframe(_top5(comparison.training_predictions), hide_index=True, key="resolution_train_top5")
        right.markdown(f"**At {comparison.working_size[0]}×{comparison.working_size[1]}** (working size)")
        right.dataframe(_top5(comparison.working_predictions), hide_index=True, key="resolution_work_top5")
        st.caption(comparison.note)


def _top5(predictions: tuple[Prediction, ...]) -> list[dict[str, str]]:
    return [{"label": p.label, "probability": f"{p.probability:.1%}"} for p in predictions]


def _row(r: ScaleRow) -> dict[str, str]:
    top = f"{r.predictions[0].label} {r.predictions[0].probability:.1%}" if r.predictions else "no classifier"
    return {"input": f"{r.size[0]}×{r.size[1]}", "feature map": "×".join(map(str, r.feature_map)),
            "SPP length": f"{r.spp_length:,}", "SPPF numbers": f"{r.sppf_numbers:,}",
            "cosine to first": f"{r.cosine_to_first:.3f}", "top-1": top, "forward ms": f"{r.forward_ms:.0f}"}


def scales_figure(rows: list[ScaleRow]) -> go.Figure:
    """SPP length (flat) and SPPF numbers (growing) against the input's long side."""
    x = [max(r.size) for r in rows]
    fig = go.Figure([go.Scatter(x=x, y=[r.spp_length for r in rows], name="SPP length", mode="lines+markers"),
                     go.Scatter(x=x, y=[r.sppf_numbers for r in rows], name="SPPF numbers", mode="lines+markers")])
    fig.update_layout(meta=figure_meta("scales_figure", sizes=x), xaxis_title="long side (px)", yaxis_title="numbers",
                      yaxis_type="log", height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig
