"""The "Paper rule vs adaptive rule" panel: the paper's bin rule (window ceil(a/n), stride
floor(a/n)) against the adaptive rule."""

from __future__ import annotations

import streamlit as st

from ... import figures
from ...analysis import LevelResult
from ...bins import differing_bins, pyramid_bins
from ...choices import BinRule
from ...figures import text
from ...figures.style import CHART_CONFIG
from ..model import PageModel


def paper_vs_adaptive(page: PageModel) -> None:
    """What each rule does on this map, then one level drawn cell by cell under both rules."""
    shown = _paper_rule(page) if page.config.rule is BinRule.PAPER else _adaptive_rule(page)
    if shown is None or shown.n not in page.drawable_levels:
        return
    _channels, h, w = page.features.shape
    st.plotly_chart(figures.rule_comparison_figure(pyramid_bins(h, w, shown.n, BinRule.ADAPTIVE), pyramid_bins(h, w, shown.n, BinRule.PAPER)),
                    key="rule_comparison", config=CHART_CONFIG)
    st.caption(text.rule_figure_caption(shown.n, h, w))


def _finest_drawable(page: PageModel) -> LevelResult | None:
    drawable = [lv for lv in page.pyramid.levels if lv.n in page.drawable_levels]
    return max(drawable, key=lambda lv: lv.n) if drawable else None


def _paper_rule(page: PageModel) -> LevelResult | None:
    """Under the paper rule: each broken level's sentence, and how many bins moved."""
    _channels, h, w = page.features.shape
    broken = [lv for lv in page.pyramid.levels if lv.problem]
    for lv in broken:
        st.warning(lv.problem)
    moved = [lv for lv in page.pyramid.levels if lv.differing]
    if moved:
        st.markdown("\n".join(text.moved_bins(lv.n, len(lv.differing), lv.bins.shape, lv.n in page.drawable_levels)
                              for lv in moved))
    if not broken and not moved:
        st.success(text.paper_same(h, w))
    elif not broken:
        st.info(text.paper_still_n(h, w))
    return next((lv for lv in page.pyramid.levels if lv.problem or lv.differing), None) or _finest_drawable(page)


def _adaptive_rule(page: PageModel) -> LevelResult | None:
    """Under the adaptive rule: what the paper's rule would do to each level on this map."""
    _channels, h, w = page.features.shape
    st.markdown(text.adaptive_intro(h, w))
    lines, broken, moved = [], None, None
    for lv in page.pyramid.levels:
        problem = pyramid_bins(h, w, lv.n, BinRule.PAPER).problem()
        count = len(differing_bins(h, w, lv.n))
        if problem:
            lines.append(f"- {problem}")
            broken = broken or lv
        elif count:
            lines.append(text.would_move(lv.n, count))
            moved = moved or lv
        else:
            lines.append(text.would_match(lv.n))
    st.markdown("\n".join(lines))
    return broken or moved or _finest_drawable(page)
