"""The page's link in ``AppTest``: every field set on the page comes back in a fresh session
opened from its URL, and a hostile URL keeps the page up with one sentence per value."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from spp_viz.choices import Language
from spp_viz.i18n import speaking
from spp_viz.links import KEYS, MAX_QUERY_CHARS, UNKNOWN_KEYS, WHOLE_QUERY
from spp_viz.ui import links, state

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
SIDE = 256  # a small working image keeps each run short on two cores
# what a view is made of in session state: every widget a link sets, the selection and the panels opened
VIEW_KEYS = (state.KEY_SAMPLE, state.KEY_MAX_SIDE, state.KEY_BACKBONE, state.KEY_STAGE, state.KEY_WEIGHTS,
             state.KEY_LEVELS, state.KEY_PRESET, state.KEY_POOL, state.KEY_BINS, state.KEY_HEADS, state.KEY_SPPF_K,
             state.KEY_SPPF_N, state.KEY_CHANNEL, state.KEY_SELECTED, *state.KEYS_REGION, state.KEY_LANG,
             *(f"{button}_done" for button in links.OPENED_BUTTONS.values()))


def new_app(query: dict | None = None, max_side: int | None = SIDE) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    if max_side is not None:
        at.session_state[state.KEY_MAX_SIDE] = max_side
    at.query_params.update(query or {})
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def problem_keys(at: AppTest) -> set[str]:
    return {p.key for p in at.session_state[state.KEY_LINK_PROBLEMS]}


def has_block(at: AppTest, key: str) -> bool:
    try:
        at.get_by_key(key)
    except KeyError:
        return False
    return True


def link_text(at: AppTest) -> str:
    codes = at.get_by_key(links.KEY_LINK).code
    assert len(codes) == 1
    return str(codes[0].value)


def view_of(at: AppTest) -> dict:
    return {key: at.session_state[key] if key in at.session_state else None for key in VIEW_KEYS}


def test_every_field_set_on_the_page_opens_in_a_fresh_session():
    at = new_app()
    at.run()
    # the opened URL stays; the link says it all, its language too (a visitor's browser may ask for another)
    assert at.query_params == {} and link_text(at) == f"?max_side={SIDE}&lang=en"
    at.selectbox(key=state.KEY_SAMPLE).set_value("rocket_launch.jpg")
    at.selectbox(key=state.KEY_BACKBONE).set_value("resnet18")
    at.radio(key=state.KEY_WEIGHTS).set_value("untrained")
    at.run()
    at.selectbox(key=state.KEY_STAGE).set_value("layer3")
    at.text_input(key=state.KEY_LEVELS).set_value("1,2,3")
    at.radio(key=state.KEY_POOL).set_value("avg")
    at.radio(key=state.KEY_BINS).set_value("paper")
    at.multiselect(key=state.KEY_HEADS).set_value(["sppf", "ppm"])
    at.selectbox(key=state.KEY_SPPF_K).set_value(7)
    at.number_input(key=state.KEY_SPPF_N).set_value(2)
    at.selectbox(key=state.KEY_CHANNEL).set_value(5)
    for key, value in zip(state.KEYS_REGION, (10, 20, 100, 120)):
        at.number_input(key=key).set_value(value)
    at.radio(key=state.KEY_LANG).set_value("zh")
    at.session_state[state.KEY_SELECTED] = (3, 1, 2)  # what the explorer's click sets
    at.run()  # a new stage: phase 0, then the forward's rerun; the panels' buttons are clicked on its page
    with speaking(Language.ZH):  # AppTest formats the widgets' values in this thread: in the page's language now
        at.button(key=state.KEY_ERF_RUN).click()
        at.button(key=state.KEY_SCALES_RUN).click()
        at.run()
    assert_clean(at)
    query = dict(at.query_params)
    assert set(query) == set(KEYS) and query["lang"] == "zh"
    assert link_text(at).endswith("?" + "&".join(f"{k}={v.replace(',', '%2C')}" for k, v in query.items()))

    fresh = new_app(query, max_side=None)
    fresh.run()
    assert_clean(fresh)
    assert view_of(fresh) == view_of(at)
    assert link_text(fresh) == link_text(at) and dict(fresh.query_params) == query
    assert not has_block(fresh, links.KEY_LINK_PROBLEM_LIST) and not has_block(fresh, links.KEY_LINK_UPLOAD)


def test_a_link_made_on_an_upload_carries_the_settings_only():
    at = new_app()
    at.run()
    photo = (REPO / "assets" / "coffee_espresso.jpg").read_bytes()
    at.file_uploader(key=state.KEY_IMAGE).set_value(("my-private-name.jpg", photo, "image/jpeg"))
    at.radio(key=state.KEY_POOL).set_value("avg")
    at.run()
    query = dict(at.query_params)
    assert query == {"photo": "upload", "max_side": str(SIDE), "pool": "avg"}
    assert "my-private-name" not in link_text(at)

    fresh = new_app(query)
    fresh.run()
    assert_clean(fresh)
    assert fresh.session_state[state.KEY_SAMPLE] == "chelsea_cat.jpg" and fresh.session_state[state.KEY_POOL] == "avg"
    assert len(fresh.get_by_key(links.KEY_LINK_UPLOAD).info) == 1
    fresh.radio(key=state.KEY_BINS).set_value("paper").run()  # the view changed: the note has said its piece
    assert not has_block(fresh, links.KEY_LINK_UPLOAD)
    assert dict(fresh.query_params) == {"max_side": str(SIDE), "pool": "avg", "rule": "paper"}


def test_a_hostile_link_keeps_the_page_up_with_one_sentence_per_value():
    at = new_app({
        "levels": ["2", "4"], "backbone": "resnet18\ufffd", "utm_source": "mail", "pool": "avg",
        "channel": "5000", "region": "0,0,9000,9000", "bin": "9,0,0", "sppf_n": "9" * 300, "sppf_k": "7",
    })
    at.run()
    assert_clean(at)
    assert problem_keys(at) == {UNKNOWN_KEYS, "levels", "backbone", "bin", "sppf_n", "channel", "region"}
    assert len(at.get_by_key(links.KEY_LINK_PROBLEM_LIST).warning) == 1
    ss = at.session_state
    assert (ss[state.KEY_LEVELS], ss[state.KEY_BACKBONE], ss[state.KEY_CHANNEL]) == ("1,2,4", "efficientnet_lite0", "mean")
    assert (ss[state.KEY_POOL], ss[state.KEY_SPPF_K], ss[state.KEY_SPPF_N], ss[state.KEY_SELECTED]) == ("avg", 7, 3, None)
    assert [ss[k] for k in state.KEYS_REGION] == [round(v) for v in ss[state.KEY_REGION_DEFAULT].as_json()]
    assert len(at.get("plotly_chart")) >= 5  # the panels drew
    at.radio(key=state.KEY_BINS).set_value("paper").run()  # the first change writes the URL the page shows
    assert dict(at.query_params) == {"max_side": str(SIDE), "pool": "avg", "rule": "paper", "sppf_k": "7"}
    assert not has_block(at, links.KEY_LINK_PROBLEM_LIST)


def test_an_over_long_query_is_refused_whole():
    at = new_app({"pool": "avg", "note": "x" * MAX_QUERY_CHARS})
    at.run()
    assert_clean(at)
    assert problem_keys(at) == {WHOLE_QUERY}
    assert at.session_state[state.KEY_POOL] == "max"


@pytest.mark.parametrize("query", [{"levels": "%FF"}, {"levels": "\ufffd\ufffd"}, {"\x00": "\x00"}, {"bin": "1,0,0\u202e"}])
def test_odd_characters_are_one_sentence(query):
    at = new_app(query)
    at.run()
    assert_clean(at)
    assert len(problem_keys(at)) == 1 and at.session_state[state.KEY_LEVELS] == "1,2,4"


def test_back_and_forward_restore_every_field(monkeypatch):
    """A run the browser's history started takes the URL whole: a field it leaves out is its default."""
    at = new_app()
    at.run()
    at.text_input(key=state.KEY_LEVELS).set_value("2,3").run()
    assert dict(at.query_params) == {"max_side": str(SIDE), "levels": "2,3"}
    monkeypatch.setattr(links, "history_navigation", lambda: True)
    at.query_params.clear()
    at.query_params.update({"max_side": str(SIDE), "pool": "avg"})  # the entry before: pool avg, default levels
    at.run()
    assert_clean(at)
    assert (at.session_state[state.KEY_LEVELS], at.session_state[state.KEY_POOL]) == ("1,2,4", "avg")
    assert dict(at.query_params) == {"max_side": str(SIDE), "pool": "avg"}


def test_a_url_the_session_did_not_write_is_a_history_step_without_the_flag():
    """Back and forward are known without Streamlit's flag too: when the browser's rerun is merged
    with one the page asked for (its measurements), the run may not carry the flag, but its URL is
    not the one this session last wrote, so the view still follows it."""
    at = new_app()
    at.run()
    at.text_input(key=state.KEY_LEVELS).set_value("2,3").run()
    assert dict(at.query_params) == {"max_side": str(SIDE), "levels": "2,3"}
    at.run()  # a rerun of the same URL changes nothing
    assert at.session_state[state.KEY_LEVELS] == "2,3"
    at.query_params.clear()
    at.query_params.update({"max_side": str(SIDE)})  # back to the entry before: default levels
    at.run()
    assert_clean(at)
    assert at.session_state[state.KEY_LEVELS] == "1,2,4"
    assert dict(at.query_params) == {"max_side": str(SIDE)}


def test_an_edit_sent_with_the_url_from_before_the_last_write_is_kept():
    """The browser's rerun carries the URL it shows. A user who edits while a run is writing a new
    URL sends the edit with the URL from before it; that is no step back in history: the edit, and
    the view it was made on, stay, and the run writes the URL again."""
    at = new_app()
    at.run()
    at.text_input(key=state.KEY_LEVELS).set_value("2,3").run()
    assert dict(at.query_params) == {"max_side": str(SIDE), "levels": "2,3"}
    at.query_params.clear()
    at.query_params.update({"max_side": str(SIDE)})  # the URL the browser showed before the last write
    at.radio(key=state.KEY_POOL).set_value("avg").run()
    assert_clean(at)
    assert (at.session_state[state.KEY_LEVELS], at.session_state[state.KEY_POOL]) == ("2,3", "avg")
    assert dict(at.query_params) == {"max_side": str(SIDE), "levels": "2,3", "pool": "avg"}
