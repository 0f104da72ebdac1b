"""What the selection panels show right now: channel, drawn levels, receptive-field toggle and
the selected bin, read from session state at draw time (so a fragment rerun sees a new click)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ..figures import Channel, reduce_channels, text
from . import state
from .pipeline import PageModel


@dataclass(frozen=True)
class View:
    channel: Channel
    shown_levels: tuple[int, ...]
    show_rf: bool
    selected: tuple[int, int, int] | None  # (level, row, col)
    chosen_by_user: bool  # False: the default (strongest bin of the finest drawn level)


def current_view(page: PageModel) -> View:
    """The view for this page: a selected bin that no longer exists falls back to the default."""
    shown = st.session_state.get(state.KEY_SHOW_LEVELS)
    shown_levels = tuple(n for n in (shown if shown is not None else page.drawable_levels) if n in page.drawable_levels)
    channel = st.session_state.get(state.KEY_CHANNEL, "mean")
    selected, by_user = _selection(page, channel)
    return View(channel, shown_levels, bool(st.session_state.get(state.KEY_SHOW_RF)), selected, by_user)


def _selection(page: PageModel, channel: Channel) -> tuple[tuple[int, int, int] | None, bool]:
    chosen = state.selected_bin()
    if chosen is not None:
        n, row, col = chosen
        level = next((lv for lv in page.head.levels if lv.n == n), None)
        if level is not None and row < level.bins.shape[0] and col < level.bins.shape[1]:
            return chosen, True
    drawable = [lv for lv in page.head.levels if lv.n in page.drawable_levels and lv.pooled.numel()]
    if not drawable:
        return None, False
    level = max(drawable, key=lambda lv: lv.n)
    z = reduce_channels(level.pooled, channel)
    row, col = divmod(int(z.argmax()), z.shape[1])
    return (level.n, row, col), False


def view_controls(page: PageModel) -> None:
    """Levels to draw and the receptive-field toggle: inside the fragment, so they rerun only it."""
    drawable = page.drawable_levels
    if st.session_state.get("_show_levels_for") != drawable or state.KEY_SHOW_LEVELS not in st.session_state:
        st.session_state[state.KEY_SHOW_LEVELS] = list(drawable)
        st.session_state["_show_levels_for"] = list(drawable)
    else:
        st.session_state[state.KEY_SHOW_LEVELS] = [n for n in st.session_state[state.KEY_SHOW_LEVELS] if n in drawable]
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    left.multiselect(text.SHOW_LEVELS_LABEL, drawable, key=state.KEY_SHOW_LEVELS, help=text.SHOW_LEVELS_HELP)
    right.checkbox(text.SHOW_RF_LABEL, key=state.KEY_SHOW_RF, help=text.SHOW_RF_HELP)
