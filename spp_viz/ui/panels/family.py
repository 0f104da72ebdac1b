"""The "Pyramid-pooling family" panel: every chosen head on the current feature map.

The numbers are ``page.family``: the heads chosen in the sidebar (keys ``heads``, ``sppf_k``,
``sppf_n``), built once every one is measured (the second phase, once the page is drawn), each
cached per feature map and what it depends on. This module draws the costs table, a cost chart
(``layout.meta["figure"] == "family_costs_figure"``), the equalities (once per pair of heads
compared here), the branches table, the pooling branches (``family_branches_figure``, once per
group of heads whose pools are equal), and one sentence per head.
"""

from __future__ import annotations

import streamlit as st

from ...defaults import SPPF_DEFAULT_K, SPPF_DEFAULT_N
from ...figures import text
from ...figures.family import family_branches_figure, family_costs_figure
from ...figures.style import CHART_CONFIG
from ...figures.tables import family_branch_rows, family_rows, styled
from ...i18n import _
from .. import words
from ..caches import family_maps
from ..model import PageModel
from .sppf import measuring_note, trained_note


def family_panel(page: PageModel) -> None:
    """The comparison for the sidebar's heads, k and n, or why there is none yet."""
    outcome = page.family
    if outcome is not None and outcome.error:
        # the defaults not fitting a tiny map is a fact about the image, not the user's mistake
        chosen = (outcome.request.k, outcome.request.repeats) != (SPPF_DEFAULT_K, SPPF_DEFAULT_N)
        (st.error if chosen else st.info)(words.family_error(outcome.error))
        return
    if outcome is not None and outcome.pending:
        measuring_note(page, "family")
        return
    if outcome is None or outcome.comparison is None:
        st.info(_(words.FAMILY_NO_HEADS))
        return
    family = outcome.comparison
    trained_note(page, "family")
    st.info(text.family_untrained([r.id for r in family.heads if r.trained]))
    with st.container(key="family_table"):
        st.table(styled(family_rows(family, measuring=bool(page.measuring))), hide_index=True)
    st.caption(text.family_table_caption([r.timing.pool.where if r.timing else None for r in family.heads]))
    st.plotly_chart(family_costs_figure(family, page.untrained), key="family_costs", config=CHART_CONFIG)
    with st.container(key="family_equalities"):
        st.markdown("\n".join([text.family_equality(e.head, e.other, text.claim_words(e), e.equal, e.max_abs_diff)
                               for e in family.equalities]
                              + [text.family_other_settings(e.head, e.other, text.claim_words(e), text.engine_name(family.head(e.other).view_name))
                                 for e in family.other_settings]))
    with st.container(key="family_branch_table"):
        st.table(styled(family_branch_rows(family)), hide_index=True)
    for group in family.same_pools:  # heads whose pools are the same tensors are drawn once
        report = family.head(group[0])
        maps = family_maps(page, report)
        st.plotly_chart(family_branches_figure(report, maps, page.untrained, group), key=f"family_branches_{report.id}",
                        config=CHART_CONFIG)
    st.markdown("\n".join(text.family_purpose(r.id, r.name, r.purpose, r.source) for r in family.heads))
    with st.expander(_(words.FAMILY_QUESTIONS_TITLE)):
        st.markdown("\n\n".join(text.family_questions(family)))

