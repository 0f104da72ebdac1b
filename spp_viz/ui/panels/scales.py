"""The "Scales" panel: the same image at several working sizes, on demand.

One forward pass per size, run right after the page that asked for them is drawn (their forward
times are then taken on a quiet page), cached per image, backbone and pyramid: SPP's
length stays, SPPF's output grows, the SPP vector drifts (cosine to the smallest size), the top-1
may change. :func:`training_resolution_block` (drawn in "What the backbone sees") puts the classifier's
training resolution (224 px) next to the working size.
"""

from __future__ import annotations

import streamlit as st

from ... import report
from ...figures import text
from ...figures.style import CHART_CONFIG
from ...figures.tables import prediction_rows, scale_rows, shown
from ...figures.views import scales_figure
from ...i18n import _
from ...scales import DEFAULT_SCALE_SIZES, ScaleRow, scale_sizes
from .. import state, words
from ..measure import Failed
from ..model import PageModel
from ..views import scales, training_resolution


def scales_panel(page: PageModel) -> None:
    """The button, then the table and the chart of every size."""
    sizes = scale_sizes(DEFAULT_SCALE_SIZES, max(page.features.input_size))
    if not (st.button(words.scales_button(sizes), key=state.KEY_SCALES_RUN) or st.session_state.get(f"{state.KEY_SCALES_RUN}_done")):
        st.caption(_(words.SCALES_HOW))
        return
    st.session_state[f"{state.KEY_SCALES_RUN}_done"] = True
    rows = scales(page, sizes)
    if rows is None:
        st.info(_(words.SCALES_QUEUED))
        return
    if isinstance(rows, Failed):
        st.error(words.measurement_failed(_("the scales"), rows.message))
        return
    with st.container(key="scales_lesson"):
        st.markdown(text.scales_lesson(*_ends(rows)))
    st.dataframe(shown(scale_rows(rows)), hide_index=True, key="scales_table")
    if not page.backbone.can_classify:
        st.caption(words.scales_no_classifier(report.no_predictions_reason(page.backbone)))
    st.plotly_chart(scales_figure(rows), key="scales_chart", config=CHART_CONFIG)


def _ends(rows: list[ScaleRow]) -> tuple[tuple[int, str, float] | None, tuple[int, str, float] | None]:
    """(long side, top-1, probability) at the smallest and the largest size (None: no classifier)."""
    ends = [(max(r.size), r.predictions[0].label, r.predictions[0].probability) if r.predictions else None
            for r in (rows[0], rows[-1])] if rows else [None, None]
    return ends[0], ends[1]


def training_resolution_block(page: PageModel) -> None:
    """Top-5 at the classifier's 224-px training resolution next to the working size's (for
    "What the backbone sees"), and the one sentence why they differ (FixRes)."""
    if not page.backbone.can_classify:
        return
    comparison = training_resolution(page)
    with st.expander(words.resolution_title(comparison.training_size, comparison.working_size), expanded=True):
        # one above the other: side by side, in half the page's width, their labels were cut
        st.markdown(words.resolution_column(comparison.training_size, _("training resolution")))
        st.dataframe(shown(prediction_rows(comparison.training_predictions)), hide_index=True, key="resolution_train_top5")
        st.markdown(words.resolution_column(comparison.working_size, _("working size")))
        st.dataframe(shown(prediction_rows(comparison.working_predictions)), hide_index=True, key="resolution_work_top5")
        st.caption(_(comparison.note))
