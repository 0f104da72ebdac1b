"""The selection panels: the bins on the photo, the feature map and the pooled levels.

They run inside one ``st.fragment``: a click on a pooled cell (or a change of the levels to
draw or the receptive-field toggle) reruns only them.
"""

from __future__ import annotations

import streamlit as st

from ... import figures
from ...figures import text
from ...figures.style import CHART_CONFIG
from .. import state
from ..pipeline import PageModel
from ..view import current_view


def bins_on_image(page: PageModel) -> None:
    """Panel 1: every drawn level's bins on the photo, the selected bin and its receptive field."""
    view = current_view(page)
    geometry = page.features.geometry
    st.plotly_chart(figures.bins_over_image(
        page.decoded.image, page.head.levels, page.bin_geometry, channel=view.channel, shown_levels=view.shown_levels,
        selected=view.selected, show_rf=view.show_rf, global_context=geometry.global_context,
        bin_labels=page.bin_labels, note=text.untrained_note(page.untrained), photo=page.photo,
    ), key="bins_over_image", config=CHART_CONFIG)
    drawn = [lv.bins for lv in page.head.levels if lv.n in page.drawable_levels]
    st.caption(text.bins_caption(geometry.stride, [figures.overlap_summary(b) for b in drawn]))
    if view.selected:
        st.caption(text.highlighted(view.selected, view.chosen_by_user, view.show_rf, geometry.global_context))


def feature_map(page: PageModel) -> None:
    """Panel 2: the stage's map (one channel or the mean / max), winners and the selected bin's cells."""
    view = current_view(page)
    st.plotly_chart(figures.feature_map_figure(
        page.features.feature, view.channel, levels=page.head.levels, shown_levels=view.shown_levels,
        selected=view.selected, note=text.untrained_note(page.untrained),
    ), key="feature_map", config=CHART_CONFIG)
    st.caption(text.feature_map_caption(page.features.shape, page.backbone.stage, page.config.pool, view.channel))


def pooled_activations(page: PageModel) -> None:
    """Panel 3: each level's pooled values, one colour scale; a click on a cell selects that bin."""
    view = current_view(page)
    head = page.head
    c = page.features.shape[0]
    st.caption(text.pooled_caption(figures.channel_label(view.channel, c)))
    zrange = figures.pooled_range(head.levels, view.channel)
    per_row = min(4, len(head.levels))
    for start in range(0, len(head.levels), per_row):
        for column, level in zip(st.columns(per_row), head.levels[start:start + per_row]):
            with column:
                selected = view.selected[1:] if view.selected and view.selected[0] == level.n else None
                st.plotly_chart(
                    figures.pooled_level_heatmap(level, view.channel, levels=page.config.levels, selected=selected,
                                                 zrange=zrange, labels=page.bin_labels.get(level.n),
                                                 note=text.untrained_note(page.untrained)),
                    key=state.pooled_key(level.n), on_select=lambda n=level.n: state.on_pooled_click(n),
                    selection_mode="points", config=CHART_CONFIG,
                )
                st.caption(text.level_numbers(tuple(level.pooled.shape), level.valid))
