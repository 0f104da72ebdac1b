"""SPP vs SPPF on this map, the family's view of ``sppf``, ``spp_yolo`` and ``spp`` (``page.sppf``):
SPPF's branches, its equality with the parallel pools, receptive fields, costs (timed once the
page is drawn: until then the costs table waits and the panel says what is being measured)."""

from __future__ import annotations

import streamlit as st

from ... import figures
from ...backbones import DetectorBackbone
from ...choices import ChannelView, channel_view
from ...family import view_lead
from ...figures import text
from ...figures.style import CHART_CONFIG
from ...figures.tables import COST_FORMATS, shown, styled
from ...i18n import _
from ...pooling import cascade_cost
from .. import state, words
from ..caches import sppf_figure
from ..measure import MEASURING_KEY
from ..model import PageModel


def spp_vs_sppf(page: PageModel) -> None:
    """SPPF's three chained 5 × 5 pools equal parallel 5/9/13 pools; both keep h × w. The lesson
    (why equal, why cheaper, how much faster here) is said here, with this map's figures."""
    st.markdown(_(text.SPPF_INTRO))
    trained_note(page, "sppf")
    channel = channel_view(st.session_state.get(state.KEY_CHANNEL, ChannelView.MEAN))
    st.plotly_chart(sppf_figure(page, channel),
                    key="sppf_branches", config=CHART_CONFIG)
    sppf, parallel = view_lead(page.sppf)
    c, h, w = page.features.shape
    trained = page.features.trained_head if sppf.trained else None
    left, right = st.columns([2, 3], gap="medium")
    with left:
        (st.success if parallel.equal else st.error)(
            text.sppf_equal(page.sppf.kernels, parallel.equal, parallel.max_abs_diff, (trained.hidden if trained else c, h, w),
                            trained is not None))
        st.markdown(text.sppf_output(c, h, w, page.pyramid.expected_length, page.sppf_widths, page.pyramid.length))
    with right:
        fields = [{**row, "branch": text.engine_name(row["branch"])} for row in sppf.receptive_fields(page.features.geometry)]
        st.dataframe(shown(fields), hide_index=True, key="sppf_rf")
        st.caption(_(text.SPPF_RF_CAPTION))
    with st.container(key="sppf_lesson"):
        st.markdown("\n".join(f"- {line}" for line in _lesson(page)))
    _costs(page)


def _lesson(page: PageModel) -> list[str]:
    """Why the cascade equals the parallel pools, why it is cheaper (at the view's k, n and the
    sidebar's), how much faster it ran here (or why that is not known)."""
    view, family = page.sppf, page.controls.family
    speed = None if page.sppf_error else view.pool_speedup()
    measuring = not page.sppf_error and not view.measured
    return text.sppf_lesson(cascade_cost(view.k, view.repeats), speed, measuring, cascade_cost(family.k, family.repeats))


def _costs(page: PageModel) -> None:
    """Parameters, FLOPs, pool-only and whole-module latency side by side (the family's SPP vs SPPF
    view), measured after the page was drawn (until then, what is being measured)."""
    if page.sppf_error:
        st.error(words.measurement_failed(_("the heads' latencies"), page.sppf_error))
        return
    if not page.sppf.measured:
        measuring_note(page, "sppf")
        return
    costs = page.sppf
    with st.container(key="sppf_costs"):
        st.table(styled(figures.costs_rows(costs), COST_FORMATS), hide_index=True)
    if not costs.timings_consistent:
        st.warning(text.timings_unreliable())
    st.caption(text.costs_caption(costs.heads[0].device or str(page.features.device), costs))


def trained_note(page: PageModel, panel: str) -> None:
    """For a detector checkpoint: which head runs its trained SPPF on this map, or why none does
    (one sentence, :meth:`spp_viz.detectors.DetectorInfo.trained_note`), keyed ``trained_<panel>``."""
    if isinstance(page.backbone, DetectorBackbone):
        with st.container(key=f"trained_{panel}"):
            st.info(text.literal(page.backbone.detector.trained_note(page.backbone.stage)))


def measuring_note(page: PageModel, panel: str) -> None:
    """What the second phase will measure, in a container keyed ``measuring_<panel>`` (gone once it has)."""
    with st.container(key=f"{MEASURING_KEY}_{panel}"):
        st.info(words.measuring_note(page.measuring or (_("the heads"),)), icon="⏱️")
