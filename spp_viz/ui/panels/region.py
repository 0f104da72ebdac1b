"""The "Region pooling" panel: SPP-net's detection idea on the shared feature map.

A box (number inputs, working-image pixels) is pooled from the map the page already computed and
classified from its 1 x 1 average level; side by side, the box is cropped and the whole backbone
reruns on it. Both top-5s and both times: pooling a window is microseconds, a forward pass is not.
The times and the crop-and-rerun follow once the page is drawn (the second phase).
"""

from __future__ import annotations

import streamlit as st

from ... import report
from ...boxes import PixelBox
from ...figures import text
from ...figures.style import CHART_CONFIG
from ...figures.tables import prediction_rows, shown
from ...figures.views import region_figure
from .. import state, words
from ..model import PageModel
from ..views import region


def region_panel(page: PageModel) -> None:
    """Number inputs for the box, then both classifications and both times."""
    w, h = page.features.input_size
    state.region_box_for(page.image_key, (w, h))
    columns = st.columns(4)
    box = PixelBox(*(float(c.number_input(words.region_box_label(k), min_value=0, max_value=int(w if "x" in k else h),
                                          step=1, key=k))  # whole pixels
                     for c, k in zip(columns, state.KEYS_REGION)))
    try:
        result = region(page, box)
    except ValueError as exc:
        st.error(str(exc))
        return
    with st.container(key="region_lesson"):
        st.markdown(text.region_lesson(result.pooled, result.recompute))
    st.plotly_chart(region_figure(result, page.photo, (w, h)), key="region_box", config=CHART_CONFIG)
    left, right = st.columns(2)
    left.markdown(text.region_pooled(result.window, result.pooled))
    left.dataframe(shown(prediction_rows(result.predictions)), hide_index=True, key="region_pooled")
    right.markdown(text.region_recomputed(result.recompute))
    if result.recompute is not None:  # until the second phase has rerun the crop there is no top-5 to show
        right.dataframe(shown(prediction_rows(result.recompute_predictions)), hide_index=True, key="region_recomputed")
    if not result.predictions:
        st.info(words.region_no_classifier(report.no_predictions_reason(page.backbone)))
    st.caption(text.region_length(result.length))
