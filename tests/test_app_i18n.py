"""The page in Chinese in ``AppTest``: ``?lang=zh`` draws the sidebar's labels, the panels' titles
and the tables' headers from the catalogue (found by key, compared with the catalogue's own
translation), the switch brings English back, and the URL follows the switch."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from spp_viz.choices import Language
from spp_viz.i18n import _, speaking
from spp_viz.ui import state, words
from spp_viz.ui.language import browser_language

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
SIDE = 256
PANELS = ("explorer", "dimensions", "sppf", "family", "predictions")


def new_app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state[state.KEY_MAX_SIDE] = SIDE
    at.query_params.update(query or {})
    return at


def panel_title(at: AppTest, key: str) -> str:
    return str(at.get_by_key(f"panel_{key}").header[0].value)


def labels(at: AppTest) -> dict[str, str]:
    return {"backbone": at.selectbox(key=state.KEY_BACKBONE).label, "levels": at.text_input(key=state.KEY_LEVELS).label,
            "pool": at.radio(key=state.KEY_POOL).label, "sample": at.selectbox(key=state.KEY_SAMPLE).label}


def expected_labels() -> dict[str, str]:
    return {"backbone": _(words.BACKBONE_LABEL), "levels": _(words.LEVELS_LABEL), "pool": _(words.POOL_LABEL),
            "sample": _(words.SAMPLE_LABEL)}


def test_lang_zh_draws_the_page_in_chinese_and_the_switch_brings_english_back():
    at = new_app({"lang": "zh"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key=state.KEY_LANG).value == Language.ZH.value
    with speaking(Language.ZH):
        assert labels(at) == expected_labels()
        titles = {key: _(words.PANEL_TITLES[key]) for key in PANELS}
        headers = [h.value for h in at.sidebar.header]
        header_words = [_(words.SIDEBAR_IMAGE), _(words.SIDEBAR_PYRAMID), _(words.SIDEBAR_BACKBONE)]
        column = _("step")
    assert all(t != words.PANEL_TITLES[k] for k, t in titles.items())  # the catalogue has them
    assert {key: panel_title(at, key) for key in PANELS} == titles
    assert all(h in headers for h in header_words)
    assert column in at.get_by_key(f"panel_{words.PANEL_DIMENSIONS}").dataframe[0].value.columns
    assert dict(at.query_params).get("lang") == "zh"

    # AppTest formats the widgets' values with their format_func in this thread: as the page did, in Chinese
    with speaking(Language.ZH):
        at.radio(key=state.KEY_LANG).set_value(Language.EN.value)
        at.run()
    assert not at.exception
    assert labels(at) == expected_labels()  # nothing set a language here: English
    assert {key: panel_title(at, key) for key in PANELS} == {key: words.PANEL_TITLES[key] for key in PANELS}
    assert "lang" not in at.query_params  # English is the default: the link leaves it out


def test_without_a_browser_the_page_is_english():
    assert browser_language() is Language.EN
    at = new_app()
    at.run()
    assert at.radio(key=state.KEY_LANG).value == Language.EN.value
    assert labels(at) == expected_labels()
