"""The page's link: the view it shows, in the URL's query (``st.query_params``), both ways.

* :func:`open_link`, before the sidebar draws: at a session's first run, and on a run that the
  browser's back or forward button started, the URL's view (:func:`spp_viz.links.decode`, every
  value read by the sidebar's own checks) goes into the controls' session state, so the widgets,
  and from them :class:`~.sidebar.Controls` and the page model, show it. A first run takes the
  fields the URL gives (a field left out keeps what the session holds: its default); back and
  forward take every field, a field left out being its default.
* :func:`follow`, at the end of every full run and of every selection-fragment run: the view the
  page shows, written back to the URL when it changed. Streamlit's frontend turns each change of
  ``st.query_params`` into ``history.pushState`` (``replaceState`` during a back/forward run) and
  reruns the script with the restored URL on ``popstate``, so back and forward step through the
  views without a reload. The run that opened a URL leaves it as it was: back returns to it.
* :func:`copy_control`: the link as a code block (its copy button copies it), the page's own
  address (``st.context.url``: what the browser shows, the proxy's on a served page) and query.
* :func:`notes`: the sentences about the link opened last, until the view changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import streamlit as st

from ..choices import ChannelView, Language, channel_view
from ..figures import text
from ..i18n import _
from ..images import DEFAULT_MAX_SIDE
from ..links import KEYS, LinkState, OpenPanel, PageChoices, decode, encode
from . import state, words
from .language import browser_language, language_chosen
from .sidebar import DEFAULT_SAMPLE, MAX_SIDES, SAMPLES, Controls
from .state import Source
from .streamlit_private import history_navigation

if TYPE_CHECKING:  # phase 0's runs have no page model: the link reads the controls alone
    from .model import PageModel

KEY_LINK = "link"  # the copy control's container
KEY_LINK_NOTES = "link_notes"  # the container of the notes about the link opened
KEY_LINK_UPLOAD = "link_upload"  # in it: the link was made on an uploaded photo
KEY_LINK_PROBLEM_LIST = "link_problems"  # in it: the values that kept their defaults
KEY_LINK_READ = "_link_read"  # this session has read its URL
KEY_LINK_HELD = "_link_held"  # this run opened the URL: leave it as it is
KEY_LINK_QUERY = "_link_query"  # the URL's query as this session last read or wrote it
KEY_LINK_CONTROLS = "_link_controls"  # the controls' values when this session last wrote the URL
KEY_LINK_OPENED = "_link_opened"  # the LinkState opened last (its photo None: made on an upload)
KEY_LINK_NOTED = "_link_noted"  # the view the notes are about: they go once it changes
# the controls a user edits: a run whose values differ from those of the last URL written carries an edit
EDITABLE = (state.KEY_IMAGE, state.KEY_USE_CAMERA, state.KEY_CAMERA, state.KEY_SAMPLE, state.KEY_MAX_SIDE, state.KEY_PRESET,
            state.KEY_LEVELS, state.KEY_POOL, state.KEY_BINS, state.KEY_BACKBONE, state.KEY_STAGE, state.KEY_WEIGHTS,
            state.KEY_CHECKPOINT, state.KEY_CHANNEL, state.KEY_HEADS, state.KEY_SPPF_K, state.KEY_SPPF_N, state.KEY_LANG)
OPENED_BUTTONS = {OpenPanel.ERF: state.KEY_ERF_RUN, OpenPanel.SCALES: state.KEY_SCALES_RUN}  # panel -> its button's key


def page_choices() -> PageChoices:
    """The sample photos and working resolutions the sidebar offers, and their defaults."""
    return PageChoices(SAMPLES, DEFAULT_SAMPLE or "", tuple(MAX_SIDES), DEFAULT_MAX_SIDE, browser_language())


def page_query(view: LinkState, always_lang: bool = False) -> dict[str, str]:
    """``view``'s query. ``lang`` is left out only where it is the browser's language and nobody
    chose it (the switch, the URL opened): a chosen language stays with the URL, so that a visitor
    whose browser asks for another still gets it; ``always_lang`` (the link to copy) keeps it always."""
    query = encode(view, page_choices())
    if (always_lang or language_chosen()) and state.KEY_LANG not in query:
        query[state.KEY_LANG] = view.lang.value
    return query


def open_link() -> None:
    """Put the URL's view into the controls at a session's first run and on back or forward.

    A back or forward is known by Streamlit's flag for the run, or by a URL that is not the one
    this session last read or wrote (a rerun the page asked for, e.g. its measurements, may be
    merged with the browser's, and the merged run may not carry the flag). Such a URL without the
    flag, in a run that carries an edit, is none: the browser sent the edit with the URL it showed
    before this session's last write reached it. The edit stays, and the run writes the URL again."""
    first = not st.session_state.get(KEY_LINK_READ)
    query = {key: st.query_params.get_all(key) for key in st.query_params}
    moved = KEY_LINK_QUERY in st.session_state and st.session_state[KEY_LINK_QUERY] != query
    navigated = history_navigation()
    if not (first or navigated or moved) or (moved and not navigated and _edited()):
        return
    st.session_state[KEY_LINK_READ] = True
    st.session_state[KEY_LINK_QUERY] = query
    view, problems = decode(query, page_choices())
    given = {key for key in query if key in KEYS} | ({"stage"} if "backbone" in query else set())
    _apply(view, given if first else set(KEYS))
    st.session_state[state.KEY_LINK_PROBLEMS] = list(problems)
    st.session_state[KEY_LINK_OPENED] = view
    st.session_state[KEY_LINK_HELD] = True
    st.session_state.pop(KEY_LINK_NOTED, None)


def _controls() -> dict[str, Any]:
    """The values of the :data:`EDITABLE` controls in session state (an upload by its file id)."""
    ss = st.session_state
    out = {}
    for key in EDITABLE:
        if key in ss:
            value = ss[key]
            out[key] = [getattr(v, "file_id", v) for v in value] if isinstance(value, list) else getattr(value, "file_id", value)
    return out


def _edited() -> bool:
    """True when a control holds another value than when this session last wrote the URL (a
    control drawn in only one of the two runs does not count)."""
    written: dict[str, Any] = st.session_state.get(KEY_LINK_CONTROLS, {})
    now = _controls()
    return any(now[key] != value for key, value in written.items() if key in now)


def _apply(view: LinkState, keys: set[str]) -> None:
    """Set the session state of the fields named by ``keys`` (query keys) from ``view``; the
    channel and the region wait for the page to check them against the map and the image."""
    levels = state.levels_text(view.levels)
    channel = view.channel.value if isinstance(view.channel, ChannelView) else view.channel
    values: dict[str, dict[str, Any]] = {
        "photo": {state.KEY_SAMPLE: view.photo or page_choices().default_sample},
        "max_side": {state.KEY_MAX_SIDE: view.max_side},
        "backbone": {state.KEY_BACKBONE: view.backbone},
        "stage": {state.KEY_STAGE: view.stage},
        "weights": {state.KEY_WEIGHTS: view.weights.value},
        "levels": {state.KEY_LEVELS: levels, state.KEY_PRESET: state.preset_for(levels),
                   state.KEY_LAST_VALID_LEVELS: view.levels},
        "pool": {state.KEY_POOL: view.pool.value},
        "rule": {state.KEY_BINS: view.rule.value},
        "heads": {state.KEY_HEADS: list(view.heads)},
        "sppf_k": {state.KEY_SPPF_K: view.sppf_k},
        "sppf_n": {state.KEY_SPPF_N: view.sppf_n},
        "bin": {state.KEY_SELECTED: view.selected},
        "channel": {state.KEY_CHANNEL: channel},
        "region": {},
        "open": {f"{button}_done": panel in view.opened for panel, button in OPENED_BUTTONS.items()},
        "lang": {state.KEY_LANG: view.lang.value},
    }
    checks: dict[str, Any] = {}
    for key in keys:
        st.session_state.update(values[key])
    if "channel" in keys and isinstance(channel, int):
        checks["channel"] = channel
    if "region" in keys:
        checks["region"] = view.region
    st.session_state[state.KEY_LINK_CHECKS] = checks


def shown_view(controls: Controls, page: PageModel | None) -> LinkState:
    """The view the page shows: the controls, the selection a user chose, the region when it is
    not the image's default, the on-demand panels opened (or asked for in this run)."""
    ss = st.session_state
    image = controls.image
    photo = ss.get(state.KEY_SAMPLE) if image is None or image.source is Source.SAMPLE else None
    if page is not None:
        from .view import current_view  # the built page's view (imports the engine, loaded by then)

        view = current_view(page)
        selected, channel = (view.selected if view.chosen_by_user else None), view.channel
    else:
        selected, channel = None, channel_view(ss.get(state.KEY_CHANNEL, ChannelView.MEAN.value))
    region = state.region_box()
    family = controls.family
    return LinkState(
        photo=photo, max_side=controls.max_side, backbone=controls.backbone, stage=controls.stage,
        weights=controls.weights, levels=controls.config.levels, pool=controls.config.pool, rule=controls.config.rule,
        heads=family.heads, sppf_k=family.k, sppf_n=family.repeats, selected=selected, channel=channel,
        region=None if region == ss.get(state.KEY_REGION_DEFAULT) else region,
        opened=tuple(p for p, button in OPENED_BUTTONS.items() if ss.get(f"{button}_done") or ss.get(button)),
        lang=Language.parse(ss.get(state.KEY_LANG, Language.EN.value)),
    )


def follow(view: LinkState) -> None:
    """Write ``view`` to the URL when it differs from it (not in the run that opened the URL)."""
    st.session_state[KEY_LINK_CONTROLS] = _controls()
    if st.session_state.get(KEY_LINK_HELD):
        return
    query = page_query(view)
    current = {key: st.query_params.get_all(key) for key in st.query_params}
    wanted = {key: [value] for key, value in query.items()}
    if current != wanted:
        st.query_params.from_dict(query)
    st.session_state[KEY_LINK_QUERY] = wanted


def link_url(view: LinkState) -> str:
    """The page's address with ``view``'s query: what the browser's address bar shows for it, with
    the page's language always (whoever opens it sees the language it was made in)."""
    query = page_query(view, always_lang=True)
    base = st.context.url or ""
    return base + (f"?{urlencode(query)}" if query else "") or "/"


def copy_control(view: LinkState) -> None:
    """The link to ``view``, as a code block whose copy button copies it."""
    with st.container(key=KEY_LINK):
        st.caption(_(words.LINK_LABEL), help=_(words.LINK_HELP))
        st.code(link_url(view), language=None, wrap_lines=True)


def finish_run(controls: Controls, page: PageModel | None, slot) -> None:
    """At the end of a full run: the URL follows the view, and the notes are drawn in ``slot``."""
    view = shown_view(controls, page)
    follow(view)
    st.session_state.pop(KEY_LINK_HELD, None)
    notes(slot, controls, view)


def notes(slot, controls: Controls, view: LinkState) -> None:
    """In ``slot``: that the link was made on an upload (when the sample shows instead), and the
    values that kept their defaults; both until the view changes."""
    ss = st.session_state
    noted = ss.setdefault(KEY_LINK_NOTED, view)
    if noted != view:
        ss[state.KEY_LINK_PROBLEMS], ss[KEY_LINK_OPENED] = [], None
    opened: LinkState | None = ss.get(KEY_LINK_OPENED)
    problems = ss.get(state.KEY_LINK_PROBLEMS, [])
    on_sample = controls.image is not None and controls.image.source is Source.SAMPLE
    with slot:
        if opened is not None and opened.photo is None and on_sample:
            with st.container(key=KEY_LINK_UPLOAD):
                st.info(_(words.LINK_MADE_ON_UPLOAD))
        if problems:
            with st.container(key=KEY_LINK_PROBLEM_LIST):
                st.warning("\n".join([_(words.LINK_PROBLEMS), *(f"- {text.literal(str(p))}" for p in problems)]))
