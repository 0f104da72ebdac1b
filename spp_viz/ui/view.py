"""What the selection panels show right now: the channel view and the selected bin, read from
session state at draw time (so a fragment rerun sees a new selection). The levels to draw and
the receptive-field toggle live in the browser, inside the pyramid explorer."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ..choices import Channel, ChannelView, channel_view
from ..figures import reduce_channels
from . import state
from .model import PageModel


@dataclass(frozen=True)
class View:
    channel: Channel
    selected: tuple[int, int, int] | None  # (level, row, col)
    chosen_by_user: bool  # False: the default (strongest bin of the finest drawn level)


def current_view(page: PageModel) -> View:
    """The view for this page: a selected bin that no longer exists falls back to the default."""
    channel = channel_view(st.session_state.get(state.KEY_CHANNEL, ChannelView.MEAN))
    selected, by_user = _selection(page, channel)
    return View(channel, selected, by_user)


def _selection(page: PageModel, channel: Channel) -> tuple[tuple[int, int, int] | None, bool]:
    chosen = state.selected_bin()
    if chosen is not None:
        n, row, col = chosen
        level = next((lv for lv in page.pyramid.levels if lv.n == n), None)
        if level is not None and row < level.bins.shape[0] and col < level.bins.shape[1]:
            return chosen, True
    drawable = [lv for lv in page.pyramid.levels if lv.n in page.drawable_levels and lv.pooled.numel()]
    if not drawable:
        return None, False
    level = max(drawable, key=lambda lv: lv.n)
    z = reduce_channels(level.pooled, channel)
    row, col = divmod(int(z.argmax()), z.shape[1])
    return (level.n, row, col), False

