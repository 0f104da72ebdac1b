"""The "Pyramid-pooling family" panel: every chosen head on the current feature map.

The numbers are ``page.family``: shapes, parameters, FLOPs and equalities from the first phase,
latencies from the second (once the page is drawn), cached per feature map + heads + k + n. This module draws the widgets (keys ``heads``, ``sppf_k``,
``sppf_n``; their new values take effect on the rerun they trigger), a table, a cost chart
(``layout.meta["figure"] == "family_costs_figure"``), each head's pooling branches
(``family_branches_figure``), the equalities, and one sentence per head.
"""

from __future__ import annotations

import streamlit as st

from ...defaults import HEAD_IDS, SPPF_DEFAULT_K, SPPF_DEFAULT_N, SPPF_MAX_K, SPPF_MAX_N
from ...figures import text
from ...figures.family import family_branches_figure, family_costs_figure
from ...figures.style import CHART_CONFIG
from ...figures.tables import family_rows
from ...heads.registry import REGISTRY
from .. import state, words
from ..pipeline import PageModel, family_maps
from .sppf import measuring_note


def family_panel(page: PageModel) -> None:
    """Widgets, then the comparison the pipeline measured for their current values."""
    _controls()
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
        st.info(words.FAMILY_NO_HEADS)
        return
    family = outcome.comparison
    st.info(text.FAMILY_UNTRAINED)
    st.dataframe(family_rows(family, measuring=bool(page.measuring)), hide_index=True, key="family_table")
    st.caption(text.FAMILY_TABLE_CAPTION)
    st.plotly_chart(family_costs_figure(family, page.untrained), key="family_costs", config=CHART_CONFIG)
    st.markdown("\n".join(text.family_equality(e.head, e.other, e.claim, e.equal, e.max_abs_diff)
                          for r in family.heads for e in r.exact_equal_to) or "")
    for report in family.heads:
        maps = family_maps(page, report.id, outcome.request)
        st.plotly_chart(family_branches_figure(report, maps, page.untrained), key=f"family_branches_{report.id}", config=CHART_CONFIG)
    st.markdown("\n".join(text.family_purpose(r.id, r.name, r.purpose, r.source) for r in family.heads))
    with st.expander(words.FAMILY_QUESTIONS_TITLE):
        st.markdown("\n\n".join(text.family_questions(family.k, family.repeats, text.family_latency_answer(family),
                                                           text.family_elan_answer(family))))


def _controls() -> None:
    """The family's widgets (values already in session state: the pipeline read them first)."""
    a, b, c = st.columns([4, 1, 1])
    a.multiselect(words.FAMILY_HEADS_LABEL, list(HEAD_IDS), key=state.KEY_HEADS, help=words.FAMILY_HEADS_HELP,
                  format_func=lambda i: f"{i} · {REGISTRY[i].name}")
    b.selectbox(words.FAMILY_K_LABEL, list(range(1, SPPF_MAX_K + 1, 2)), key=state.KEY_SPPF_K, help=words.FAMILY_K_HELP)
    c.number_input(words.FAMILY_N_LABEL, min_value=1, max_value=SPPF_MAX_N, step=1, key=state.KEY_SPPF_N,
                   help=words.FAMILY_N_HELP)
