"""The page says one true thing in one way, driven headless (``AppTest``): every SPPF size under
its one name across the page's texts, tables, charts and the JSON; level colours distinct and kept
for the session, the same in the explorer and the charts; the paper rule's bins drawn where the
page says they are; the SPP vs SPPF lesson with this map's counts; presets that follow the levels;
no words meant for tests on the page (counters are state and attributes), and the replica's name
only where the app runs as replicas.

Elements are found by widget keys, session state, the explorer's payload and figure metadata;
the SPPF test reads the page's words because what it checks is the words.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import ASSETS, second_phase
from streamlit.testing.v1 import AppTest
from test_app import explorer as payload
from test_app import explorer_data

from spp_viz import report
from spp_viz.bins import differing_bins
from spp_viz.dimensions import SPPF_STAGE_NAMES, SPPFStage, sppf_sizes
from spp_viz.figures import text
from spp_viz.figures.style import RESERVED_COLOURS
from spp_viz.pooling import cascade_cost
from spp_viz.replica import ENV_REPLICA
from spp_viz.ui import state, words

APP = str(ASSETS.parent / "app.py")
SHAPE = re.compile(r"(\d[\d,]*) ?[×x] ?(\d+) ?[×x] ?(\d+)")


def new_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["max_side"] = 384
    return at


def charts(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def chart(at: AppTest, name: str) -> dict:
    (found,) = [c for c in charts(at) if c["layout"].get("meta", {}).get("figure") == name]
    return found


def _figure_words(spec: dict) -> list[str]:
    layout = spec["layout"]
    out = [str(t.get("name", "")) for t in spec["data"]]
    out += [str(layout.get("title", {}).get("text", ""))] + [str(a.get("text", "")) for a in layout.get("annotations", [])]
    return out


def page_texts(at: AppTest) -> list[str]:
    """Every piece of words the page shows: Markdown, captions, alerts, metrics (label: value,
    and their help), table and dataframe rows (cells joined), and the words inside charts."""
    out = [e.value for kind in ("markdown", "caption", "info", "success", "warning", "error") for e in getattr(at, kind)]
    out += [f"{m.label}: {m.value}" for m in at.metric] + [m.proto.help for m in at.metric if m.proto.help]
    for frame in [t.value for t in at.table] + [d.value for d in at.dataframe]:
        out += [" | ".join(map(str, row)) for row in frame.astype(str).itertuples(index=False)]
    for spec in charts(at):
        out += _figure_words(spec)
    return [t.replace("\\", "") for t in out]


def shape_of(match: re.Match[str]) -> tuple[int, ...]:
    return tuple(int(g.replace(",", "")) for g in match.groups())


def sizes_named(texts: list[str]) -> list[tuple[SPPFStage, tuple[int, ...]]]:
    """(stage, shape) for every SPPF stage name followed by a shape before the next stage name."""
    names = {name: stage for stage, name in SPPF_STAGE_NAMES.items()}
    found = []
    pattern = re.compile("|".join(map(re.escape, names)))
    for t in texts:
        marks = list(pattern.finditer(t))
        for mark, after in zip(marks, marks[1:] + [None]):
            shape = SHAPE.search(t, mark.end(), after.start() if after else len(t))
            if shape:
                found.append((names[mark.group(0)], shape_of(shape)))
    return found


@pytest.fixture(scope="module")
def sample() -> AppTest:
    at = new_app()
    at.run()
    second_phase(at)
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_every_sppf_size_has_one_name_on_the_page_and_in_the_json(sample):
    at = sample
    c, h, w = payload(at).map.channels, payload(at).map.rows, payload(at).map.cols
    sizes = sppf_sizes(c, h, w)
    texts = page_texts(at)
    named = sizes_named(texts)
    assert {stage for stage, _ in named} == set(SPPFStage)  # each stage is shown, with its size, somewhere
    for stage, shape in named:
        assert shape == sizes[stage].shape, (stage, shape)
    # no SPPF size without its name: C/2, (n + 1)C/2 and (n + 1)C appear only after their stage's name
    for stage in (SPPFStage.CV1, SPPFStage.CONCAT, SPPFStage.POOLS):
        channels = sizes[stage].channels
        for t in texts:
            for found in SHAPE.finditer(t):
                if shape_of(found) == (channels, h, w):
                    before = t[:found.start()]
                    last = max(SPPF_STAGE_NAMES, key=lambda s: before.rfind(SPPF_STAGE_NAMES[s]))
                    assert before.rfind(SPPF_STAGE_NAMES[last]) >= 0 and last is stage, t
    # the intro names every stage; the card is cv2's
    assert all(SPPF_STAGE_NAMES[stage] in words.intro() for stage in SPPFStage)
    assert words.metric_sppf().startswith(SPPF_STAGE_NAMES[SPPFStage.CV2])


def test_the_json_uses_the_same_names_and_sizes(asset_bytes):
    result = report.run_inspection(asset_bytes["chelsea_cat.jpg"], filename="chelsea_cat.jpg", max_side=384).report()
    c, h, w = result["feature_map"]["channels"], result["feature_map"]["height"], result["feature_map"]["width"]
    sizes = sppf_sizes(c, h, w)
    rows = {row["step"]: row["numbers"] for row in result["dimensions"]}
    for stage, size in sizes.items():
        assert rows[text.sppf_stage(stage)] == size.numbers
    assert tuple(result["sppf"]["shape"]) == sizes[SPPFStage.POOLS].shape
    sppf_cost = next(cost for cost in result["sppf"]["costs"] if cost["kind"] == "sppf")
    assert tuple(sppf_cost["output_shape"]) == sizes[SPPFStage.CV2].shape


def test_the_sppf_panel_says_why_equal_why_cheaper_and_how_fast_here(sample):
    lessons = [m.value for m in sample.markdown if "Why it is cheaper" in m.value]
    assert len(lessons) == 1
    lines = text.sppf_lesson(cascade_cost(5, 3), None, False)
    assert lines[0] in lessons[0] and lines[1] in lessons[0]
    assert "3 × 25 = 75" in lessons[0] and "25 + 81 + 169 = 275" in lessons[0]
    last = lessons[0].rsplit("How much faster it was here:**", 1)[1]
    assert re.search(r"\d\.\d×", last) or "could not be measured reliably" in last


def test_no_text_meant_for_tests_and_no_replica_name_outside_replicas(sample):
    texts = page_texts(sample)
    assert not [t for t in texts if re.search(r"drawn \d+ times?", t)]
    assert not [t for t in texts if t.startswith(words.served_by(""))]
    runs = explorer_data(sample)["runs"]  # the counters: state, and the explorer's attributes in a browser
    assert runs == {"full": sample.session_state[state.KEY_FULL_RUNS], "fragment": sample.session_state[state.KEY_FRAGMENT_RUNS]}
    assert runs["full"] >= 2 and runs["fragment"] >= 2


def test_the_replica_is_named_where_the_app_runs_as_replicas(monkeypatch):
    monkeypatch.setenv(ENV_REPLICA, "replica-7")
    at = new_app()
    at.run()
    assert not at.exception
    assert [c.value for c in at.caption if c.value == words.served_by("replica-7")]


def test_level_colours_are_distinct_and_kept_across_edits_in_the_explorer_and_the_charts():
    at = new_app()
    at.run()
    seen: dict[int, str] = {}
    for levels in ("1,3,5", "6,3,2,1", "1,2,4", "3,2"):
        at.text_input(key=state.KEY_LEVELS).set_value(levels).run()
        assert not at.exception
        colours = payload(at).colours
        assert list(colours) == [int(n) for n in levels.split(",")]
        assert len(set(colours.values())) == len(colours) and not set(colours.values()) & RESERVED_COLOURS
        assert {int(n): c for n, c in chart(at, "spp_vector_figure")["layout"]["meta"]["colours"].items()} == colours
        assert explorer_data(at)["colours"] == {str(n): c for n, c in colours.items()}
        for n, colour in colours.items():
            assert seen.setdefault(n, colour) == colour, (levels, n)


def test_the_paper_rules_bins_are_drawn_where_the_page_says_so():
    at = new_app()
    at.run()
    at.text_input(key=state.KEY_LEVELS).set_value("1,3,5").run()  # on the 8 x 12 map, levels 3 and 5 move
    at.radio(key=state.KEY_BINS).set_value("paper").run()
    assert not at.exception
    claims = [m.value for m in at.markdown if "dashed red on the photo" in m.value]
    data = payload(at)
    h, w = data.map.rows, data.map.cols
    drawn = {part.n: {(b.row, b.col) for b in part.bins if b.differs} for part in data.levels}
    for n, marked in drawn.items():
        assert marked == set(differing_bins(h, w, n)), n
    claimed = {int(n) for claim in claims for n in re.findall(r"level (\d+): \d+ of \d+ bins differ", claim)}
    assert claimed and claimed == {n for n, marked in drawn.items() if marked}


def test_the_preset_follows_the_levels_and_the_region_box_is_whole_pixels():
    at = new_app()
    at.run()
    assert at.selectbox(key=state.KEY_PRESET).value == "default"
    at.text_input(key=state.KEY_LEVELS).set_value("6, 3,2,1").run()
    assert at.selectbox(key=state.KEY_PRESET).value == "spp-net"
    at.text_input(key=state.KEY_LEVELS).set_value("1,2").run()
    assert at.selectbox(key=state.KEY_PRESET).value == "custom"
    assert all(isinstance(at.number_input(key=k).value, int) for k in state.KEYS_REGION)
