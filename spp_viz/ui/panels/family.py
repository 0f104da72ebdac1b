"""The "Pyramid-pooling family" panel (issue 9): every chosen head on the current feature map.

The numbers are ``page.family``: measured by the pipeline before any panel drew, cached per
feature map + heads + k + n. This module draws the widgets (keys ``heads``, ``sppf_k``,
``sppf_n``; their new values take effect on the rerun they trigger), a table, a cost chart
(``layout.meta["figure"] == "family_costs_figure"``), each head's pooling branches
(``family_branches_figure``), the equalities, and one sentence per head.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from ...defaults import HEAD_IDS, SPPF_DEFAULT_K, SPPF_DEFAULT_N, SPPF_MAX_K, SPPF_MAX_N
from ...family import BranchMap, FamilyComparison, HeadReport
from ...figures import text
from ...figures.style import HEATMAP_SCALE, figure_meta
from ...heads.registry import REGISTRY
from .. import state
from ..pipeline import PageModel, family_maps

CHART_CONFIG = {"displaylogo": False}
MAP_COLUMNS = 5  # branch maps per row


def family_panel(page: PageModel) -> None:
    """Widgets, then the comparison the pipeline measured for their current values."""
    _controls()
    outcome = page.family
    if outcome is not None and outcome.error:
        # the defaults not fitting a tiny map is a fact about the image, not the user's mistake
        chosen = (outcome.request.k, outcome.request.n) != (SPPF_DEFAULT_K, SPPF_DEFAULT_N)
        (st.error if chosen else st.info)(text.family_error(outcome.error))
        return
    if outcome is None or outcome.comparison is None:
        st.info(text.FAMILY_NO_HEADS)
        return
    family = outcome.comparison
    st.info(text.FAMILY_UNTRAINED)
    st.dataframe(table_rows(family), hide_index=True, key="family_table")
    st.caption(text.FAMILY_TABLE_CAPTION)
    st.plotly_chart(costs_figure(family, page.untrained), key="family_costs", config=CHART_CONFIG)
    st.markdown("\n".join(text.family_equality(e.head, e.other, e.claim, e.equal, e.max_abs_diff)
                          for r in family.heads for e in r.exact_equal_to) or "")
    for report in family.heads:
        maps = family_maps(page, report.id, outcome.request)
        st.plotly_chart(branches_figure(report, maps, page.untrained), key=f"family_branches_{report.id}", config=CHART_CONFIG)
    st.markdown("\n".join(text.family_purpose(r.id, r.name, r.purpose, r.source) for r in family.heads))
    with st.expander(text.FAMILY_QUESTIONS_TITLE):
        st.markdown("\n\n".join(text.family_questions(family.k, family.n, _latency_answer(family), _elan_answer(family))))


def _controls() -> None:
    """The family's widgets (values already in session state: the pipeline read them first)."""
    a, b, c = st.columns([4, 1, 1])
    a.multiselect(text.FAMILY_HEADS_LABEL, list(HEAD_IDS), key=state.KEY_HEADS, help=text.FAMILY_HEADS_HELP,
                  format_func=lambda i: f"{i} · {REGISTRY[i].name}")
    b.selectbox(text.FAMILY_K_LABEL, list(range(1, SPPF_MAX_K + 1, 2)), key=state.KEY_SPPF_K, help=text.FAMILY_K_HELP)
    c.number_input(text.FAMILY_N_LABEL, min_value=1, max_value=SPPF_MAX_N, step=1, key=state.KEY_SPPF_N,
                   help=text.FAMILY_N_HELP)


def _ms(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "not measured"


def table_rows(family: FamilyComparison) -> list[dict[str, str]]:
    """One row per head, every cell a string (no empty cells)."""
    return [{
        "head": r.id, "name": r.name, "output": text.times(*r.output_shape),
        "fixed length": "yes" if r.fixed_length else "no", "params": f"{r.params:,}",
        "GFLOPs": f"{r.flops / 1e9:.3f}", "pool ms": _ms(r.pool_ms),
        "total ms": _ms(r.total_ms) + (" (untrained convs)" if r.untrained else " (no convs)"),
        "branch RF, cells": ", ".join(f"{b.name}: {b.rf_cells[0]}×{b.rf_cells[1]}" for b in r.branches),
        "branch RF, px": ", ".join(f"{b.rf_pixels[0]}×{b.rf_pixels[1]}" + (" (whole image)" if b.whole_image else "")
                                   for b in r.branches),
        "exactly equal to": ", ".join(f"{e.other} ({'yes' if e.equal else 'NO'})" for e in r.exact_equal_to) or "none listed",
    } for r in family.heads]


def costs_figure(family: FamilyComparison, untrained_backbone: bool = False) -> go.Figure:
    """Parameters, FLOPs and latency side by side: one bar per head in each panel; latency has a
    bar for the pooling alone and one for the whole module."""
    heads = family.heads
    ids = [r.id for r in heads]
    fig = make_subplots(1, 3, subplot_titles=["parameters (millions)", "GFLOPs (convs)", "median latency (ms)"],
                        horizontal_spacing=0.07)
    fig.add_trace(go.Bar(x=ids, y=[r.params / 1e6 for r in heads], name="parameters", showlegend=False,
                         hovertemplate="%{x}: %{y:.3f} M parameters<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=ids, y=[r.flops / 1e9 for r in heads], name="GFLOPs", showlegend=False,
                         hovertemplate="%{x}: %{y:.3f} GFLOPs<extra></extra>"), row=1, col=2)
    for label, values in (("pooling only", [r.pool_ms for r in heads]), ("whole module", [r.total_ms for r in heads])):
        fig.add_trace(go.Bar(x=ids, y=[v if math.isfinite(v) else None for v in values], name=label,
                             hovertemplate=f"%{{x}}: %{{y:.3f}} ms ({label})<extra></extra>"), row=1, col=3)
    c, h, w = family.feature_shape
    fig.update_layout(
        title={"text": text.family_costs_title(c, h, w) + text.untrained_note(untrained_backbone), "x": 0, "font": {"size": 14}},
        barmode="group", height=360, margin={"l": 4, "r": 4, "t": 70, "b": 4},
        legend={"orientation": "h", "y": -0.25, "x": 0.7},
        meta=figure_meta("family_costs_figure", heads=ids, k=family.k, n=family.n),
    )
    return fig


def _finite_range(maps: tuple[BranchMap, ...]) -> tuple[float, float]:
    values = [m.values[np.isfinite(m.values)] for m in maps]
    values = [v for v in values if v.size]
    if not values:
        return 0.0, 1.0
    return min(float(v.min()) for v in values), max(float(v.max()) for v in values)


def branches_figure(report: HeadReport, maps: tuple[BranchMap, ...], untrained_backbone: bool = False) -> go.Figure:
    """The head's pooling branches on the REAL map, averaged over channels, one small heatmap each."""
    cols = max(1, min(MAP_COLUMNS, len(maps)))
    rows = max(1, math.ceil(len(maps) / cols))
    fig = make_subplots(rows, cols, subplot_titles=[m.name for m in maps] or [""], horizontal_spacing=0.03,
                        vertical_spacing=0.15)
    lo, hi = _finite_range(maps)
    for i, m in enumerate(maps):
        fig.add_trace(go.Heatmap(z=m.values, coloraxis="coloraxis", name=m.name,
                                 hovertemplate=f"{m.name}<br>row %{{y}}, col %{{x}}<br>%{{z:.4g}}<extra></extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    for i in range(len(maps)):  # square cells: each map keeps its rows x cols aspect
        fig.update_yaxes(scaleanchor=f"x{i + 1 if i else ''}", constrain="domain", row=i // cols + 1, col=i % cols + 1)
    fig.update_layout(
        coloraxis={"colorscale": HEATMAP_SCALE, "cmin": lo, "cmax": hi, "colorbar": {"thickness": 10}},
        title={"text": text.family_branches_title(report.id, report.untrained) + text.untrained_note(untrained_backbone),
               "x": 0, "font": {"size": 13}},
        height=130 + 170 * rows, margin={"l": 4, "r": 4, "t": 70, "b": 4},
        meta=figure_meta("family_branches_figure", head=report.id, branches=[m.name for m in maps]),
    )
    return fig


def _latency_answer(family: FamilyComparison) -> str:
    ids = family.ids
    if not family.timings_consistent:
        return text.TIMINGS_UNRELIABLE
    if "sppf" in ids and "spp_yolo" in ids:
        a, b = family.head("spp_yolo"), family.head("sppf")
        return (f"parallel pools (spp_yolo) {_ms(a.pool_ms)} ms vs SPPF's cascade {_ms(b.pool_ms)} ms for the pooling "
                f"alone; {_ms(a.total_ms)} vs {_ms(b.total_ms)} ms for the whole modules.")
    return "choose both spp_yolo and sppf in the heads above to see them timed side by side."


def _elan_answer(family: FamilyComparison) -> str:
    ids = family.ids
    if "sppf" in ids and "sppelan" in ids:
        a, b = family.head("sppf"), family.head("sppelan")
        return (f"with c3 = C / 2 it has {b.params:,} parameters and {b.flops / 1e9:.3f} GFLOPs here, SPPF "
                f"{a.params:,} and {a.flops / 1e9:.3f}; a smaller c3 makes it cheaper.")
    return "choose sppf and sppelan above to compare their parameters and FLOPs on this map."

