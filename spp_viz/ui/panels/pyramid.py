"""The pyramid explorer panel: the bins on the photo, the feature map and the pooled levels.

One custom component (:mod:`spp_viz.ui.explorer`) draws the three linked views in the
browser; it runs inside the selection fragment, so a selected bin reruns only the fragment.
"""

from __future__ import annotations

import re

import streamlit as st

from ... import figures
from ...figures import text
from ...i18n import _
from ..explorer import mount
from ..model import PageModel
from ..view import current_view


def pyramid_explorer(page: PageModel) -> None:
    """The explorer, then how bins reach the photo, what the map and the pooled levels hold."""
    view = current_view(page)
    geometry = page.features.geometry
    mount(page, view.channel, view.selected, re.sub(r"<[^>]+>", "", text.untrained_note(page.untrained)))
    drawn = [lv.bins for lv in page.pyramid.levels if lv.n in page.drawable_levels]
    st.caption(text.bins_caption(geometry.stride, [figures.overlap_summary(b) for b in drawn], page.config.rule))
    st.caption(text.feature_map_caption(page.features.shape, page.backbone.stage, page.config.pool, view.channel))
    st.caption(text.pooled_caption(page.config.pool, view.channel, page.features.shape[0]))
    hidden = [lv for lv in page.pyramid.levels if lv.n not in page.drawable_levels]
    for level in hidden:
        st.caption(_("level {n}: {numbers}").format(n=level.n, numbers=text.level_numbers(tuple(level.pooled.shape), level.valid)))
