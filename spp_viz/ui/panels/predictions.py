"""The "What the backbone sees" panel: ImageNet top-5 for the whole image and, with average
pooling, the classifier's top-1 for every bin of one level."""

from __future__ import annotations

import streamlit as st

from ... import figures, report
from ...choices import Pool
from ...figures import text
from ...figures.photo import MAX_NAMED_LEVEL
from ...figures.style import CHART_CONFIG
from ...figures.tables import bin_label_rows, styled
from ...i18n import _
from .. import state, words
from ..model import PageModel
from .scales import training_resolution_block


def backbone_sees(page: PageModel) -> None:
    """The top-5 beside the top-5s at 224 px and at the working size; below, across the page's
    width (a 6 × 6 grid needs it), every bin's own top-1."""
    if page.predictions:
        left, right = st.columns(2, gap="medium")
        with left:
            st.plotly_chart(figures.predictions_figure(page.predictions, title=_(words.TOP5_TITLE),
                                                       note=text.untrained_note(page.untrained)),
                            key="predictions", config=CHART_CONFIG)
            st.caption(_(text.TOP5_CAPTION))
        with right:
            training_resolution_block(page)  # top-5 at 224 px vs the working size, and why
    else:
        st.info(words.no_predictions(report.no_predictions_reason(page.backbone)))
    _bin_labels(page)


def _bin_labels(page: PageModel) -> None:
    """Average pooling: each bin is a global average pool over its cells, so the classifier reads it."""
    if not page.backbone.can_classify:
        if page.config.pool is Pool.AVG:  # bin labels were asked for: say why there are none
            st.info(words.no_bin_labels(report.no_predictions_reason(page.backbone)))
        return
    if page.config.pool is Pool.MAX:
        st.info(_(text.SWITCH_TO_AVG))
        return
    levels = [n for n in page.drawable_levels if page.bin_labels.get(n)]
    if not levels:
        return
    selected = state.selected_bin()
    if st.session_state.get(state.KEY_LABEL_LEVEL) not in levels:
        st.session_state[state.KEY_LABEL_LEVEL] = selected[0] if selected and selected[0] in levels else max(levels)
    n = st.selectbox(_(words.LABEL_LEVEL_LABEL), levels, key=state.KEY_LABEL_LEVEL, format_func=words.level_name)
    level = next(lv for lv in page.pyramid.levels if lv.n == n)
    figure = figures.bin_labels_figure(page.decoded.image, level, page.bin_labels[n], page.bin_geometry[n],
                                       colour=page.colours[n], note=text.untrained_note(page.untrained), photo=page.photo)
    st.plotly_chart(figure, key="bin_labels", config=CHART_CONFIG)
    if n > MAX_NAMED_LEVEL:  # a finer grid numbers its bins: the labels are in a table below it
        with st.container(key="bin_label_table"):
            st.table(styled(bin_label_rows(page.bin_labels[n])), hide_index=True)
    st.caption(text.bin_labels_caption(n))
