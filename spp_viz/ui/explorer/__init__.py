"""The pyramid explorer: one custom component (``st.components.v2``) for the photo with the
bins, the feature map and the pooled levels, linked and drawn in the browser.

``explorer.js`` (a plain ES module) and ``explorer.css`` ship in this package and are passed
inline, so nothing is fetched at run time. The server sends the payload of
:mod:`spp_viz.explorer`; parts this session already sent are named by id only, so a change of
the pyramid sends just the new levels. Hover, the levels to draw, the receptive-field and the
SPP/SPPF switches stay in the browser. A click or a key selects a bin: it becomes the
component's ``selected`` state value, its callback stores it as the selected bin and the
selection fragment reruns; the same view's data redraws nothing in the browser.

The explorer has its own levels control: an edit there is drawn in the browser at once (its
bins from the map's size, by the rule of :mod:`spp_viz.bins` ported to ``explorer.js``, greyed
until the values arrive), then sent as the ``levels`` trigger. Its callback checks it again and
makes it the sidebar's levels; a fragment run that took it reruns the whole app, which pools the
cached map: no forward. The run echoes the edit's number, so the browser knows its values came.

On a cold process phase 0's payload carries a ``gate`` token: once drawn, the explorer echoes it
as the ``phase0_drawn`` trigger, and the forward starts in the run it brings
(:func:`spp_viz.ui.phase0.hold_forward`).
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Sequence

import streamlit as st

from ...choices import Channel
from ...explorer import ExplorerPayload, build_payload, to_json
from ...i18n import language
from ...options import parse_levels
from .. import state
from ..streamlit_private import page_chunks
from .words import explorer_words

if TYPE_CHECKING:  # phase 0 mounts a payload without a page model
    from ..model import PageModel

KEY_EXPLORER = state.KEY_EXPLORER
_SENT = "_explorer_sent"  # ids of the parts this session has sent to the browser
_PAYLOAD = "_explorer_payload"  # (what it depends on, the payload) of the last run
_LEVELS_SEQ = "_explorer_levels_seq"  # the number of the last levels edit the explorer sent and the server took
_LEVELS_EDIT = "_explorer_levels_edit"  # those levels, until a run of the explorer has seen them
# The component's data is {PAYLOAD: one JSON string}: Streamlit checks each value of a data dict for
# a dataframe, and that check imports pandas (about half a second, on a cold server before phase 0
# could be sent); a string is passed as it is.
PAYLOAD = "payload"

_ASSETS = files(__package__)
_MOUNT = st.components.v2.component(
    "spp_viz_explorer", js=(_ASSETS / "explorer.js").read_text("utf-8"), css=(_ASSETS / "explorer.css").read_text("utf-8"),
)


def payload_for(page: PageModel, channel: Channel) -> ExplorerPayload:
    """This page's payload, built once per image, map, pyramid, channel view, SPPF k, n and language."""
    k, n = page.controls.family.k, page.controls.family.repeats  # the sidebar's SPPF k and n
    key = repr((page.image_key, page.backbone_key, page.config, channel, k, n, page.colours, language()))
    kept = st.session_state.get(_PAYLOAD)
    if kept is not None and kept[0] == key:
        return kept[1]
    payload = build_payload(page.features, page.pyramid.levels, page.bin_geometry, page.photo, image_key=page.image_key,
                            model_key=page.backbone_key, channel=channel, rule=page.config.rule, pool=page.config.pool, sppf_k=k, sppf_n=n,
                            colours=page.colours)
    st.session_state[_PAYLOAD] = (key, payload)
    return payload


def mount(page: PageModel, channel: Channel, selected: tuple[int, int, int] | None, note: str = "") -> None:
    """Mount (or update) the explorer with this page's values (phase 1). A levels edit from the
    explorer that this page's model does not have yet (a fragment run took it) reruns the whole app."""
    edit = st.session_state.pop(_LEVELS_EDIT, None)
    if edit is not None and tuple(edit) != page.config.levels:
        st.rerun(scope="app")
    mount_payload(payload_for(page, channel), selected, note)


def mount_payload(payload: ExplorerPayload, selected: tuple[int, int, int] | None, note: str = "", gate: str | None = None) -> None:
    """Mount (or update) the explorer; only parts the browser lacks travel. The same key in both
    phases: phase 0's payload (bins, no values) and phase 1's reach the same component, which
    redraws without remounting. ``note`` is added to the views' titles (e.g. that the weights are
    untrained). The session's run counters travel too: the browser keeps them as the explorer's
    ``data-full-runs`` and ``data-fragment-runs`` attributes, for tests, never as words on the page.
    ``gate`` (phase 0 on a cold process): a token the browser echoes as the ``phase0_drawn`` trigger once
    it has painted this phase 0; the forward waits for it (:func:`spp_viz.ui.phase0.hold_forward`).
    With it travel the names of Streamlit's code for the first page's charts
    (:func:`.streamlit_private.page_chunks`, 4.7 MB), which the browser then preloads while the
    server imports torch: the first page (the explorer's values with it) no longer waits for it
    to come from a server busy drawing that page."""
    sent: set[str] = st.session_state.setdefault(_SENT, set())
    data: dict[str, Any] = to_json(payload, sent)
    data["selected"] = list(selected) if selected else None
    data["note"] = note
    data["words"] = explorer_words()
    data["runs"] = {"full": int(st.session_state.get(state.KEY_FULL_RUNS, 0)),
                    "fragment": int(st.session_state.get(state.KEY_FRAGMENT_RUNS, 0))}
    data["levels_seq"] = int(st.session_state.get(_LEVELS_SEQ, 0))
    data["gate"] = gate
    data["prefetch"] = list(page_chunks()) if gate else []
    st.session_state.pop(_LEVELS_EDIT, None)  # this run draws the sidebar's levels, which the edit set
    sent.update(payload.parts())
    _MOUNT(key=KEY_EXPLORER, data={PAYLOAD: json.dumps(data, separators=(",", ":"))}, default={"selected": None}, on_selected_change=on_selected,
           on_missing_change=on_missing, on_levels_change=on_levels, on_phase0_drawn_change=on_phase0_drawn)


def _value(name: str) -> Any:
    value: Any = st.session_state.get(KEY_EXPLORER)
    return value.get(name) if hasattr(value, "get") else getattr(value, name, None)


def chosen_bin(value: Any) -> tuple[int, int, int] | None:
    """The component's ``selected`` state value, ``{"bin": [level, row, col], "seq": k}``, as a
    bin (``seq`` counts the browser's selections, so sending one again is a change); None when
    it is not one."""
    chosen = value.get("bin") if isinstance(value, dict) else None
    if isinstance(chosen, (list, tuple)) and len(chosen) == 3 and all(type(v) is int and v >= 0 for v in chosen):
        return int(chosen[0]), int(chosen[1]), int(chosen[2])
    return None


def on_selected() -> None:
    """The component's selection becomes the selected bin."""
    chosen = chosen_bin(_value("selected"))
    if chosen is not None:
        state.set_selected_bin(chosen)


def on_phase0_drawn() -> None:
    """The browser has painted phase 0 (its ``phase0_drawn`` trigger echoes the payload's ``gate``)."""
    token = _value("phase0_drawn")
    if isinstance(token, str):
        st.session_state[state.KEY_PHASE0_DRAWN] = token


def on_missing() -> None:
    """The browser lacks parts (its ``missing`` trigger: a lost message): send every part on this rerun."""
    st.session_state[_SENT] = set()


def edited_levels(value: Any) -> tuple[tuple[int, ...], int] | None:
    """The component's ``levels`` trigger value, ``{"levels": [1, 2, 4], "seq": k}``, as (levels,
    seq), checked by :func:`spp_viz.options.parse_levels` like the sidebar's; None when it is not one."""
    if not isinstance(value, dict):
        return None
    levels: Sequence[Any] | None = value.get("levels")
    seq = value.get("seq")
    if not isinstance(levels, list) or type(seq) is not int:
        return None
    try:
        return parse_levels(levels), seq
    except ValueError:
        return None


def on_levels() -> None:
    """A levels edit in the explorer becomes the sidebar's levels (and its preset, if they are one)."""
    edit = edited_levels(_value("levels"))
    if edit is None:
        return
    levels, seq = edit
    st.session_state[state.KEY_LEVELS] = state.levels_text(levels)
    state.on_levels()
    st.session_state[_LEVELS_SEQ] = seq
    st.session_state[_LEVELS_EDIT] = levels
