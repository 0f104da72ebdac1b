"""The "Output dimensions" panel: from the input to the SPP vector and SPPF's output, and a size sweep."""

from __future__ import annotations

import streamlit as st

from ... import dimensions, figures
from ...choices import BinRule
from ...figures import text
from ...figures.style import CHART_CONFIG
from ..caches import spp_vector_figure
from ..model import PageModel
from ..phase0 import dimension_table


def output_dimensions(page: PageModel) -> None:
    """The whole SPP vector, the dimension table (engine rows) and a sweep of growing inputs.

    Nothing here depends on the selected bin, so a bin click does not redraw it."""
    pyramid = page.pyramid
    st.plotly_chart(spp_vector_figure(page), key="spp_vector", config=CHART_CONFIG)
    if pyramid.valid:
        ceiling = figures.at_ceiling(pyramid.vector.detach().float().cpu().numpy())
        st.caption(text.vector_fixed(pyramid.channels, pyramid.config.levels) + text.vector_ceiling(ceiling))
    else:
        st.warning(text.vector_broken(pyramid.length, pyramid.channels, pyramid.config.levels))
    dimension_table(page.dimension_rows)
    width, height = page.features.input_size
    levels, rule = page.config.levels, page.config.rule
    geometry = page.features.geometry
    sweep = dimensions.size_sweep(geometry, levels, aspect=width / height, rule=rule)
    current = dimensions.size_sweep(geometry, levels, aspect=width / height, short_sides=(min(width, height),), rule=rule)[0]
    adaptive = rule is BinRule.ADAPTIVE
    st.plotly_chart(figures.size_sweep_figure(sweep, current=current, fixed=adaptive),
                    key="size_sweep", config=CHART_CONFIG)
    lengths = () if adaptive else [row.spp_length for row in (*sweep, current) if row.spp_length]
    st.caption(text.sweep_caption(page.pyramid.expected_length, lengths))
