"""The "What the backbone sees" panel: ImageNet top-5 for the whole image and, with average
pooling, the classifier's top-1 for every bin of one level."""

from __future__ import annotations

import streamlit as st

from ... import figures, report
from ...choices import Pool
from ...figures import text
from ...figures.style import CHART_CONFIG
from .. import state, words
from ..model import PageModel
from .scales import training_resolution_block


def backbone_sees(page: PageModel) -> None:
    left, right = st.columns(2, gap="medium")
    with left:
        if page.predictions:
            st.plotly_chart(figures.predictions_figure(page.predictions, title=words.TOP5_TITLE,
                                                       note=text.untrained_note(page.untrained)),
                            key="predictions", config=CHART_CONFIG)
            st.caption(text.TOP5_CAPTION)
            training_resolution_block(page)  # top-5 at 224 px vs the working size, and why
        else:
            st.info(words.no_predictions(report.no_predictions_reason(page.backbone)))
    with right:
        _bin_labels(page)


def _bin_labels(page: PageModel) -> None:
    """Average pooling: each bin is a global average pool over its cells, so the classifier reads it."""
    if not page.backbone.can_classify:
        if page.config.pool is Pool.AVG:  # bin labels were asked for: say why there are none
            st.info(words.no_bin_labels(report.no_predictions_reason(page.backbone)))
        return
    if page.config.pool is Pool.MAX:
        st.info(text.SWITCH_TO_AVG)
        return
    levels = [n for n in page.drawable_levels if page.bin_labels.get(n)]
    if not levels:
        return
    selected = state.selected_bin()
    if st.session_state.get(state.KEY_LABEL_LEVEL) not in levels:
        st.session_state[state.KEY_LABEL_LEVEL] = selected[0] if selected and selected[0] in levels else max(levels)
    n = st.selectbox(words.LABEL_LEVEL_LABEL, levels, key=state.KEY_LABEL_LEVEL, format_func=words.level_name)
    level = next(lv for lv in page.pyramid.levels if lv.n == n)
    st.plotly_chart(figures.bin_labels_figure(page.decoded.image, level, page.bin_labels[n], page.bin_geometry[n],
                                              levels=page.config.levels, note=text.untrained_note(page.untrained),
                                              photo=page.photo),
                    key="bin_labels", config=CHART_CONFIG)
    st.caption(text.bin_labels_caption(n))
