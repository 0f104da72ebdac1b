"""spp_viz.links: a view to a query and back, and every hostile query the URL can bring."""

from __future__ import annotations

import re
import sys
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spp_viz import links
from spp_viz.boxes import PixelBox
from spp_viz.choices import BinRule, ChannelView, Language, Pool, Weights
from spp_viz.defaults import BACKBONE_STAGES, MAX_LEVEL, SPPF_MAX_K, SPPF_MAX_N
from spp_viz.head_ids import head_ids
from spp_viz.links import MAX_QUERY_CHARS, UNKNOWN_KEYS, UPLOAD, WHOLE_QUERY, LinkState, OpenPanel, PageChoices, decode, encode

CHOICES = PageChoices(samples=("chelsea_cat.jpg", "rocket_launch.jpg"), default_sample="chelsea_cat.jpg",
                      max_sides=(256, 384, 1024, 0), default_max_side=1024)
DEFAULT = CHOICES.default_state()


def through_url(query: dict[str, str]) -> dict[str, list[str]]:
    """The query as a URL carries it and Streamlit reads it back (``parse_qs``, blanks kept)."""
    return urllib.parse.parse_qs(urllib.parse.urlencode(query), keep_blank_values=True)


@st.composite
def views(draw) -> LinkState:
    backbone = draw(st.sampled_from(sorted(BACKBONE_STAGES)))
    levels = tuple(draw(st.lists(st.integers(1, MAX_LEVEL), min_size=1, max_size=6, unique=True)))
    selected = None
    if draw(st.booleans()):
        n = draw(st.sampled_from(levels))
        selected = (n, draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1)))
    region = None
    if draw(st.booleans()):
        x0, y0 = draw(st.integers(0, 5000)), draw(st.integers(0, 5000))
        region = PixelBox(float(x0), float(y0), float(x0 + draw(st.integers(1, 5000))), float(y0 + draw(st.integers(1, 5000))))
    opened = draw(st.sets(st.sampled_from(list(OpenPanel))))
    return LinkState(
        photo=draw(st.sampled_from([*CHOICES.samples, None])),
        max_side=draw(st.sampled_from(CHOICES.max_sides)),
        backbone=backbone, stage=draw(st.sampled_from(BACKBONE_STAGES[backbone])),
        weights=draw(st.sampled_from(list(Weights))), levels=levels,
        pool=draw(st.sampled_from(list(Pool))), rule=draw(st.sampled_from(list(BinRule))),
        heads=tuple(draw(st.lists(st.sampled_from(head_ids()), unique=True))),
        sppf_k=draw(st.sampled_from(range(1, SPPF_MAX_K + 1, 2))), sppf_n=draw(st.integers(1, SPPF_MAX_N)),
        selected=selected,
        channel=draw(st.one_of(st.sampled_from(list(ChannelView)), st.integers(0, links.MAX_CHANNEL))),
        region=region, opened=tuple(p for p in OpenPanel if p in opened), lang=Language.EN,
    )


@settings(max_examples=300, deadline=None)
@given(views())
def test_every_view_round_trips_through_the_url(view):
    query = encode(view, CHOICES)
    assert decode(through_url(query), CHOICES) == (view, ())
    assert links.query_length({k: [v] for k, v in query.items()}) <= MAX_QUERY_CHARS


def test_the_default_view_is_the_bare_url_and_each_field_has_its_own_key():
    assert encode(DEFAULT, CHOICES) == {}
    changed = LinkState(photo=None, max_side=384, backbone="resnet18", stage="layer3", weights=Weights.UNTRAINED,
                        levels=(6, 3, 2, 1), pool=Pool.AVG, rule=BinRule.PAPER, heads=(), sppf_k=7, sppf_n=2,
                        selected=(6, 5, 0), channel=12, region=PixelBox(1, 2, 30, 40),
                        opened=(OpenPanel.ERF, OpenPanel.SCALES), lang=Language.EN)
    assert encode(changed, CHOICES) == {
        "photo": UPLOAD, "max_side": "384", "backbone": "resnet18", "stage": "layer3", "weights": "untrained",
        "levels": "6,3,2,1", "pool": "avg", "rule": "paper", "heads": "", "sppf_k": "7", "sppf_n": "2",
        "bin": "6,5,0", "channel": "12", "region": "1,2,30,40", "open": "erf,scales"}
    assert set(links.KEYS) >= set(encode(changed, CHOICES)) | {"lang"}


def test_lang_is_left_out_only_where_it_is_the_language_a_bare_url_opens_in():
    """A Chinese browser opens a bare URL in Chinese: its English view says ``lang=en``, its Chinese one nothing."""
    chinese_browser = PageChoices(CHOICES.samples, CHOICES.default_sample, CHOICES.max_sides, CHOICES.default_max_side,
                                  Language.ZH)
    english = LinkState(photo=CHOICES.default_sample, max_side=CHOICES.default_max_side, lang=Language.EN)
    chinese = LinkState(photo=CHOICES.default_sample, max_side=CHOICES.default_max_side, lang=Language.ZH)
    assert encode(english, chinese_browser) == {"lang": "en"} and encode(chinese, chinese_browser) == {}
    assert encode(english, CHOICES) == {} and encode(chinese, CHOICES) == {"lang": "zh"}
    assert decode({}, chinese_browser)[0].lang is Language.ZH and decode({"lang": "en"}, chinese_browser)[0] == english


def test_a_bad_value_in_chinese_is_one_chinese_sentence():
    from spp_viz.i18n import speaking

    with speaking(Language.ZH):
        _view, problems = decode({"pool": "zz", "levels": "1,x", "bin": "9,0,0", "region": "1,2", "utm": "1"}, CHOICES)
    sentences = [str(p) for p in problems]
    assert len(sentences) == 5 and all(re.search("[\u4e00-\u9fff]", s) for s in sentences), sentences
    assert not any(re.search(r"[A-Za-z]{3,} [A-Za-z]{3,} [A-Za-z]{3,}", s) for s in sentences), sentences


def test_a_backbone_without_a_stage_gets_its_own_default_stage():
    view, problems = decode({"backbone": "vgg16"}, CHOICES)
    assert (view.stage, problems) == ("conv5_3", ())
    assert encode(view, CHOICES) == {"backbone": "vgg16"}


@pytest.mark.parametrize(("key", "value"), [
    ("photo", "../../etc/passwd"), ("photo", "chelsea_cat.png"), ("max_side", "640"), ("max_side", "-1"),
    ("backbone", "yolo"), ("backbone", "resnet1000"), ("stage", "layer4"), ("weights", "imagenet"),
    ("levels", "1,1"), ("levels", "0"), ("levels", "1,²"), ("levels", ""), ("pool", "MAX"), ("rule", "ceil"),
    ("heads", "spp,nope"), ("sppf_k", "4"), ("sppf_k", "99"), ("sppf_n", "0"), ("bin", "4,4,0"),
    ("bin", "8,0,0"), ("bin", "4"), ("channel", "-1"), ("channel", "sum"), ("region", "5,5,5,9"),
    ("region", "1,2,3"), ("region", "nan,0,1,1"), ("region", "0.2,0,0.4,1"), ("open", "erf,nope"),
    ("lang", "fr"), ("lang", "EN"),
])
def test_a_bad_value_is_one_sentence_and_that_field_keeps_its_default(key, value):
    good = {"levels": "1,2,4", "pool": "avg"}
    view, problems = decode({**good, key: value}, CHOICES)
    assert [p.key for p in problems] == [key]
    sentence = str(problems[0])
    assert sentence.startswith(f"{key}: ") and "\n" not in sentence and not re.search(r"[.:]\s+[A-Z]", sentence[len(key) + 2:])
    expected = decode({k: v for k, v in good.items() if k != key}, CHOICES)[0]
    assert view == expected  # the default for that field, every other field as given


def test_unknown_keys_are_named_once_and_ignored():
    view, problems = decode({"levels": "2", "utm_source": "mail", "x" * 500: "1", "levls": "3"}, CHOICES)
    assert view.levels == (2,)
    assert [p.key for p in problems] == [UNKNOWN_KEYS]
    assert len(str(problems[0])) < 400 and "'levls'" in str(problems[0])


def test_a_repeated_key_is_ambiguous_and_gets_its_default():
    view, problems = decode({"levels": ["2", "4"], "pool": ["avg"]}, CHOICES)
    assert (view.levels, view.pool, [p.key for p in problems]) == (DEFAULT.levels, Pool.AVG, ["levels"])


def test_an_over_long_query_is_refused_whole():
    view, problems = decode({"levels": "2", "heads": "spp" + ",spp" * 600}, CHOICES)
    assert (view, [p.key for p in problems]) == (DEFAULT, [WHOLE_QUERY])


def test_a_huge_value_is_not_parsed_nor_quoted():
    view, problems = decode({"levels": "1" * 1_500}, CHOICES)
    assert view.levels == DEFAULT.levels and [p.key for p in problems] == ["levels"]
    assert len(str(problems[0])) < 200


def test_bytes_that_are_not_utf8_fail_their_check():
    query = urllib.parse.parse_qs("levels=%FF%FE&backbone=resnet18%C3", keep_blank_values=True)  # as Streamlit reads it
    view, problems = decode(query, CHOICES)
    assert (view.levels, view.backbone) == (DEFAULT.levels, DEFAULT.backbone)
    assert [p.key for p in problems] == ["backbone", "levels"]
    assert all(str(p).isprintable() for p in problems)


def test_the_checks_that_need_the_map_or_the_image():
    links.check_channel(ChannelView.MAX, 8)
    links.check_channel(7, 8)
    with pytest.raises(ValueError, match="from 0 to 7"):
        links.check_channel(8, 8)
    links.check_region(PixelBox(0, 0, 384, 288), 384, 288)
    with pytest.raises(ValueError, match="384 × 288"):
        links.check_region(PixelBox(0, 0, 385, 288), 384, 288)


hostile_text = st.text(st.characters(codec=None), max_size=300) | st.sampled_from(
    ["", " ", "1,2,4", "all", "upload", "mean", "\x00", "\ud800", "\u202e", "4,1,1", "1e9", "𝟙", "٣"])


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(links.KEYS) | hostile_text,
                       hostile_text | st.lists(hostile_text, min_size=1, max_size=3), max_size=12))
def test_any_query_gives_a_valid_view_and_printable_sentences(query):
    view, problems = decode(query, CHOICES)
    assert decode(through_url(encode(view, CHOICES)), CHOICES) == (view, ())  # what it chose is a valid view
    assert len({p.key for p in problems}) == len(problems)  # one sentence per field
    for problem in problems:
        line = str(problem)
        assert "\n" not in line and line.isprintable() and len(line) < 2 * links.MAX_VALUE_CHARS + 400
        line.encode("utf-8")  # no lone surrogate: the page can send it


def test_links_is_torch_free():
    code = "import sys, spp_viz.links; assert 'torch' not in sys.modules and 'streamlit' not in sys.modules"
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True)
