"""The page's language: the sidebar's switch (session state ``lang``, the URL's ``lang`` through
:mod:`.links`), its default from the browser (``st.context.locale``: ``zh-*`` is Chinese), the
run's active language (:func:`spp_viz.i18n.set_language`) and the document's ``<html lang>``.

:func:`activate` runs at the top of every script run and of every fragment run (a fragment rerun
does not run the page's top), so every word drawn in the run is in one language.
"""

from __future__ import annotations

import streamlit as st

from ..choices import Language
from ..i18n import HTML_LANG, set_language
from . import state

KEY_HTML_LANG = "html_lang"  # the container of the script that sets <html lang>
LANGUAGE_NAMES = {Language.EN: "English", Language.ZH: "简体中文"}
# the switch's label is the same in every language: whoever cannot read the page can still find it
SWITCH_LABEL = "Language · 语言"
KEY_LANG_CHOSEN = "_lang_chosen"  # the language was chosen (the switch, or a URL's lang): links then always carry it


def browser_language() -> Language:
    """The browser's language when the page has a catalogue for it (``zh``, ``zh-CN``, ``zh-TW`` …), else English."""
    try:
        locale = st.context.locale
    except Exception:  # no browser behind this run (AppTest, a bare script run)
        locale = None
    return Language.ZH if isinstance(locale, str) and locale.lower().split("-")[0] == "zh" else Language.EN


def chosen_language() -> Language:
    """The session's language (the switch, or the URL it was opened with), else at a session's
    first run the URL's ``lang`` (read here too, so that the link's own notes are in it) or the
    browser's."""
    value = st.session_state.get(state.KEY_LANG)
    if value not in Language.values():
        linked = st.query_params.get(state.KEY_LANG)
        value = linked if linked in Language.values() else browser_language().value
        st.session_state[state.KEY_LANG] = value
        st.session_state[KEY_LANG_CHOSEN] = linked in Language.values()
    return Language(value)


def _chosen() -> None:
    st.session_state[KEY_LANG_CHOSEN] = True


def language_chosen() -> bool:
    """Whether this session's language was chosen (the switch, or the URL it opened), not just the browser's."""
    return bool(st.session_state.get(KEY_LANG_CHOSEN))


def activate() -> Language:
    """Make the session's language this run's (see :mod:`spp_viz.i18n`)."""
    lang = chosen_language()
    set_language(lang)
    return lang


def language_switch() -> Language:
    """The switch at the top of the sidebar, and ``<html lang>`` for the language it shows."""
    chosen_language()
    st.sidebar.radio(SWITCH_LABEL, Language.values(), key=state.KEY_LANG, format_func=lambda v: LANGUAGE_NAMES[Language(v)],
                     horizontal=True, on_change=_chosen)
    lang = activate()
    with st.sidebar.container(key=KEY_HTML_LANG):
        st.html(f"<script>document.documentElement.lang = {HTML_LANG[lang]!r};</script>", unsafe_allow_javascript=True)
    return lang
