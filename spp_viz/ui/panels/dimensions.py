"""The "Output dimensions" panel: from the input to the SPP vector and SPPF's output, and a size sweep."""

from __future__ import annotations

import streamlit as st

from ... import dimensions, figures
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
    levels = page.config.levels
    geometry = page.features.geometry
    sweep = dimensions.size_sweep(geometry, levels, aspect=width / height)
    current = dimensions.size_sweep(geometry, levels, aspect=width / height, short_sides=(min(width, height),))[0]
    st.plotly_chart(figures.size_sweep_figure(sweep, current=current),
                    key="size_sweep", config=CHART_CONFIG)
    st.caption(text.sweep_caption(page.pyramid.expected_length))
