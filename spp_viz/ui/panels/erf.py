"""The "Effective receptive field" panel: where the pixels that move the selected bin are.

On demand: the button computes it; after that it follows every bin selected in the pyramid
explorer. One backward pass (``spp_viz.erf``), cached per image, backbone, pyramid and bin.
The heatmap (``layout.meta["figure"] == "erf_figure"``) lies over the photo with the bin's box
(through the stride) and its theoretical receptive-field box.
"""

from __future__ import annotations

import streamlit as st

from ...figures import text
from ...figures.style import CHART_CONFIG
from ...figures.views import erf_figure
from ...i18n import _
from .. import state, words
from ..model import PageModel
from ..view import current_view
from ..views import bin_erf


def erf_panel(page: PageModel) -> None:
    """The ERF of the selected bin (or the default bin, after the button)."""
    view = current_view(page)
    if view.selected is None:
        st.info(_(words.ERF_NO_BIN))
        return
    level, row, col = view.selected
    asked = st.button(words.erf_button(level, row, col), key=state.KEY_ERF_RUN)
    # Only after the first request do clicks compute it too: a click must stay a cheap rerun.
    if not (asked or st.session_state.get(f"{state.KEY_ERF_RUN}_done")):
        st.caption(_(words.ERF_HOW))
        return
    st.session_state[f"{state.KEY_ERF_RUN}_done"] = True
    result = bin_erf(page, level, row, col)
    st.plotly_chart(erf_figure(result, page.photo, page.untrained), key="erf_map", config=CHART_CONFIG)
    st.markdown(text.erf_summary(result, page.untrained))
