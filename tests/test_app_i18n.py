"""The page in Chinese in ``AppTest``: ``?lang=zh`` draws the sidebar's labels, the panels' titles
and the tables' headers from the catalogue (found by key, compared with the catalogue's own
translation), the switch brings English back, and the URL follows the switch (a chosen language
stays in the URL). Every text the page shows in Chinese (markdown, captions, errors, warnings,
labels, help texts, tables, charts) has no English sentence: on the sample, with levels that break
the paper rule, after an upload that fails to decode, a refused checkpoint, a link with bad values
and a YOLO checkpoint. An English session after a Chinese one in the same process (the caches
shared) is English, and the other way round."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from english_text import english_runs
from streamlit.testing.v1 import AppTest

from spp_viz.choices import Language
from spp_viz.devtools.detector_files import make_checkpoint
from spp_viz.i18n import _, speaking
from spp_viz.ui import language, links, state, words
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
    assert dict(at.query_params).get("lang") == "en"  # chosen: the URL keeps it (a Chinese browser opens it in English)


def test_without_a_browser_the_page_is_english():
    assert browser_language() is Language.EN
    at = new_app()
    at.run()
    assert at.radio(key=state.KEY_LANG).value == Language.EN.value
    assert labels(at) == expected_labels()


def texts(at: AppTest) -> list[str]:
    """Every text the page shows: elements' values, labels, help texts and captions; tables' headers
    and cells; charts' titles, axes, names, hover templates and annotations (the page's CSS left out)."""
    out: list[str] = []

    def chart(node, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k not in ("meta", "customdata", "template"):
                    chart(v, k)
        elif isinstance(node, list):
            for v in node:
                chart(v, key)
        elif isinstance(node, str) and key in ("text", "hovertemplate", "name", "title", "ticktext"):
            out.append(node)

    def walk(node) -> None:
        for attr in ("value", "label", "help", "body", "placeholder", "caption"):
            try:
                value = getattr(node, attr)
            except Exception:  # an element without it, or whose value needs a widget state
                continue
            if isinstance(value, str) and "<style" not in value:
                out.append(value)
        kind = getattr(node, "type", "")
        if kind in ("dataframe", "table"):
            frame = node.value
            out.extend(str(c) for c in frame.columns)
            out.extend(v for c in frame.columns for v in frame[c].tolist() if isinstance(v, str))
        elif kind == "plotly_chart":
            spec = json.loads(node.proto.spec)
            chart(spec["layout"])
            chart(spec["data"])
        children = getattr(node, "children", None)
        for child in children.values() if isinstance(children, dict) else ():
            walk(child)

    walk(at._tree)
    return out


def shown(markdown: str) -> str:
    """What the user reads: the page backslash-escapes Markdown in the texts it did not write."""
    return markdown.replace("\\", "")


def assert_chinese(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    found = texts(at)
    assert len(found) > 50
    assert english_runs(found) == []


@pytest.fixture
def zh():
    """AppTest formats widgets' values with their format_func in this thread: as the page does, in Chinese."""
    with speaking(Language.ZH):
        yield


def test_a_link_with_bad_values_is_told_in_chinese(zh):
    at = new_app({"lang": "zh", "backbone": "nope", "levels": "99,x", "pool": "zz", "bins": "q", "sel": "x",
                  "heads": "zz", "sppf_k": "x", "region": "1,2", "stage": "zz", "channel": "qq", "max_side": "7"})
    at.run()
    warned = "\n".join(w.value for w in at.warning)
    assert "'nope'" in warned and "'zz'" in warned and "'sel'" in warned
    assert_chinese(at)


def test_errors_and_the_paper_rule_are_told_in_chinese(zh):
    from test_app import unique_photo

    at = new_app({"lang": "zh"})
    at.run()
    assert_chinese(at)  # the sample: the rules panel's broken level under the paper rule
    at.file_uploader(key=state.KEY_IMAGE).set_value(("small.png", unique_photo(128, 96), "image/png")).run()
    at.text_input(key=state.KEY_LEVELS).set_value("1,2,4,13").run()
    at.radio(key=state.KEY_BINS).set_value("paper").run()
    assert any(_("Level {n} under the paper rule: {reasons}.").split("{n}")[0] in w.value for w in at.warning)
    assert_chinese(at)
    at.file_uploader(key=state.KEY_IMAGE).set_value(("x.png", b"not an image", "image/png")).run()
    assert at.error and '"x.png"' in shown(at.error[0].value)
    assert_chinese(at)
    at.file_uploader(key=state.KEY_IMAGE).set_value(None).run()
    at.file_uploader(key=state.KEY_CHECKPOINT).set_value(("broken.pt", b"garbage", "application/octet-stream")).run()
    assert at.error and "broken.pt" in shown(at.error[0].value)
    assert_chinese(at)


def test_a_yolo_checkpoint_is_told_in_chinese(zh):
    at = new_app({"lang": "zh"})
    at.run()
    at.file_uploader(key=state.KEY_CHECKPOINT).set_value(("yolov8n.pt", make_checkpoint("yolov8n").data,
                                                          "application/octet-stream")).run()
    assert at.selectbox(key=state.KEY_BACKBONE).value == "yolo"
    assert any("yolov8n.pt" in shown(i.value) for i in at.info)  # the trained SPPF's note
    assert_chinese(at)


def paper_sentences(at: AppTest) -> list[str]:
    """The rules panel's sentences about a level the paper rule breaks (the sample at 256 px breaks level 4)."""
    return [line for m in at.markdown for line in m.value.splitlines() if "ceil(6/4)" in line]


@pytest.mark.parametrize("first", [Language.ZH, Language.EN])
def test_one_language_after_the_other_in_one_process(first):
    """Nothing a session computed in one language reaches the next session in the other: the same
    photo and settings, the caches warm."""
    seen: dict[Language, set[str]] = {}
    for lang in (first, *(x for x in (Language.ZH, Language.EN) if x is not first), first):
        with speaking(lang):
            at = new_app({"lang": lang.value})
            at.run()
            sentences = paper_sentences(at)
            at.file_uploader(key=state.KEY_CHECKPOINT).set_value(("broken.pt", b"garbage", "application/octet-stream")).run()
        assert not at.exception
        assert len(sentences) == 1
        seen.setdefault(lang, set()).update((shown(sentences[0]), shown(at.error[0].value)))
    assert all(len(v) == 2 for v in seen.values())  # the same sentences each time a language came back
    english, chinese = seen[Language.EN], seen[Language.ZH]
    assert any("Level 4 under the paper rule" in s for s in english) and any("broken.pt was refused" in s for s in english)
    assert english_runs(sorted(chinese)) == []


def test_a_language_chosen_stays_in_the_link_for_a_chinese_browser(monkeypatch):
    """A Chinese browser: a URL without ``lang`` opens in Chinese, so the English page's link and URL
    say ``lang=en``; the copy control always names the language."""
    monkeypatch.setattr(language, "browser_language", lambda: Language.ZH)
    monkeypatch.setattr(links, "browser_language", lambda: Language.ZH)
    at = new_app()
    at.run()
    assert at.radio(key=state.KEY_LANG).value == Language.ZH.value
    assert "lang" not in at.query_params  # the browser's language, nobody chose it: left out
    assert "lang=zh" in str(at.get_by_key(links.KEY_LINK).code[0].value)  # the link to copy names it
    with speaking(Language.ZH):
        at.radio(key=state.KEY_LANG).set_value(Language.EN.value)
        at.run()
    assert dict(at.query_params).get("lang") == "en"
    assert "lang=en" in str(at.get_by_key(links.KEY_LINK).code[0].value)
    opened = new_app({"lang": "en"})  # the link, opened by another Chinese browser
    opened.run()
    assert opened.radio(key=state.KEY_LANG).value == Language.EN.value
    assert dict(opened.query_params).get("lang") == "en"
    assert labels(opened) == expected_labels()


def test_an_english_browser_with_english_leaves_lang_out_of_the_url_but_not_out_of_the_link():
    at = new_app()
    at.run()
    assert "lang" not in at.query_params
    assert str(at.get_by_key(links.KEY_LINK).code[0].value).endswith("lang=en")
