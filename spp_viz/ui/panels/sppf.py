"""Panel 5: SPP vs SPPF on this map: the cascade's branches, equality, receptive fields, costs."""

from __future__ import annotations

import math

import streamlit as st

from ... import figures
from ...figures import text
from ...figures.style import CHART_CONFIG
from .. import state
from ..pipeline import PageModel, sppf_figure


def spp_vs_sppf(page: PageModel) -> None:
    """SPPF's three chained 5 × 5 pools equal parallel 5/9/13 pools; both keep h × w."""
    st.markdown(text.SPPF_INTRO)
    channel = st.session_state.get(state.KEY_CHANNEL, "mean")
    st.plotly_chart(sppf_figure(page, channel),
                    key="sppf_branches", config=CHART_CONFIG)
    sppf, (c, h, w) = page.sppf, page.features.shape
    left, right = st.columns([2, 3], gap="medium")
    with left:
        (st.success if sppf.equal else st.error)(text.sppf_equal(sppf.equal, sppf.max_abs_diff, (c, h, w)))
        st.markdown(text.sppf_output(sppf.shape, math.prod(sppf.shape), page.head.length))
    with right:
        st.dataframe(sppf.receptive_fields(page.features.geometry), hide_index=True, key="sppf_rf")
        st.caption(text.SPPF_RF_CAPTION)
    _costs(page)


def _costs(page: PageModel) -> None:
    """Pool-only and whole-module latency side by side, timed before the page was drawn."""
    number = st.column_config.NumberColumn(format="localized")
    ms = st.column_config.NumberColumn(format="%.3f")
    st.dataframe(figures.costs_rows(page.sppf), hide_index=True, key="sppf_costs", column_config={
        "head": st.column_config.TextColumn(width="medium"), "output numbers": number,
        "params (with 1x1 convs)": number, "FLOPs (convs)": number, "pool ms (median)": ms, "total ms (median)": ms,
    })
    if not page.sppf.timings_consistent:
        st.warning(text.TIMINGS_UNRELIABLE)
    st.caption(text.costs_caption(str(page.backbone.device), page.sppf.costs, page.sppf.timings_consistent))
