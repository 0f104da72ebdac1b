"""The Streamlit app driven headless with ``streamlit.testing.v1.AppTest`` (no browser).

Plotly charts come back as unknown elements whose ``proto.spec`` is the figure JSON; the
figures name themselves in ``layout.meta["figure"]``. Most tests use a 384-px working
resolution to stay fast on two cores.
"""

from __future__ import annotations

import io
import json
import math
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import PANELS, second_phase
from PIL import Image
from streamlit import get_option
from streamlit.testing.v1 import AppTest

from spp_viz import analysis, backbones, dimensions, errors, family, report, worker
from spp_viz.defaults import IMAGE_UPLOAD_MB
from spp_viz.detectors import MAX_CHECKPOINT_BYTES
from spp_viz.explorer import ExplorerPayload
from spp_viz.figures.tables import POOL_COLUMN, TOTAL_COLUMN, dimension_rows
from spp_viz.images import DEFAULT_MAX_PIXELS, load_image
from spp_viz.timing import UNRELIABLE_TIMINGS, threads_text
from spp_viz.ui import measure, state
from spp_viz.ui.explorer import PAYLOAD

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
CAT = (REPO / "assets" / "chelsea_cat.jpg").read_bytes()
THREADS = worker.default_threads()  # the timing worker's fixed thread count, stated beside every figure
C_LITE0 = 1280


# ----------------------------------------------------------------------------
# Helpers


def new_app(max_side: int | None = 384) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if max_side is not None:
        at.session_state["max_side"] = max_side
    return at


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def unique_photo(width: int, height: int) -> bytes:
    """The cat resized to an odd size, with one pixel changed so its digest is new to every cache."""
    image = Image.open(io.BytesIO(CAT)).convert("RGB").resize((width, height))
    image.putpixel((0, 0), tuple(uuid.uuid4().bytes[:3]))
    return png(image)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def chart(at: AppTest, name: str, **meta) -> dict:
    found = [c for c in charts(at) if c["layout"].get("meta", {}).get("figure") == name
             and all(c["layout"]["meta"].get(k) == v for k, v in meta.items())]
    assert len(found) == 1, f"{name} {meta}: {len(found)} charts"
    return found[0]


def explorer(at: AppTest) -> ExplorerPayload:
    """The pyramid explorer's whole payload of the last run (the browser gets its new parts)."""
    return at.session_state["_explorer_payload"][1]


def explorer_data(at: AppTest) -> dict:
    """What the last run sent the explorer component (parts already sent travel as ids)."""
    found = [e.proto for e in at.get("bidi_component") if e.proto.component_name == "spp_viz_explorer"]
    assert len(found) == 1
    return json.loads(json.loads(found[0].json)[PAYLOAD])


def record_head_timings(monkeypatch) -> list[tuple[str, ...]]:
    """The heads each measurement timed together (sorted ids), in the order the page measured them."""
    from spp_viz import family

    timed: list[tuple[str, ...]] = []
    real = family.measure_heads

    def recording(features, keys, **kwargs):
        timed.append(tuple(sorted(head_id for head_id, _ in keys)))
        return real(features, keys, **kwargs)

    monkeypatch.setattr(family, "measure_heads", recording)
    return timed


def drawn_token(at: AppTest) -> str | None:
    """The token the page's ready signal will send once the browser has drawn it (None: nothing to measure)."""
    found = [e.proto for e in at.get("bidi_component") if e.proto.component_name == "spp_viz_page_drawn"]
    assert len(found) == 1
    return json.loads(found[0].json)["token"]


def vector_length(at: AppTest) -> int:
    return chart(at, "spp_vector_figure")["layout"]["meta"]["length"]


def shown(markdown: str) -> str:
    """What the user reads: the app backslash-escapes user-supplied text in Markdown."""
    return markdown.replace("\\", "")


def panel_headers(at: AppTest) -> list[str]:
    return [h.value for h in at.header if h.value in PANELS]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


class CountingExtract:
    """Wraps ``analysis.extract_features`` to count backbone runs."""

    def __init__(self, real):
        self.real, self.calls = real, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.real(*args, **kwargs)


@pytest.fixture
def counted(monkeypatch) -> CountingExtract:
    counter = CountingExtract(analysis.extract_features)
    monkeypatch.setattr(analysis, "extract_features", counter)
    return counter


# ----------------------------------------------------------------------------
# Tests


def test_default_page_shows_the_sample_fully_analysed():
    at = new_app(max_side=None)  # the real first impression: default settings
    at.run()
    assert_clean(at)
    assert at.title[0].value == "spp-viz"
    assert panel_headers(at) == PANELS
    assert not at.error
    names = {c["layout"]["meta"]["figure"] for c in charts(at)}
    assert {"spp_vector_figure", "size_sweep_figure", "sppf_branches_figure", "predictions_figure",
            "rule_comparison_figure"} <= names
    assert not {"bins_over_image", "feature_map_figure", "pooled_level_heatmap"} & names  # the explorer draws these
    data = explorer_data(at)
    assert [data["parts"][i]["n"] for i in data["levels"]] == [1, 2, 4]
    assert len(json.dumps(data)) < 300_000  # the payload budget at default settings
    assert any("Original 451 x 300, analysed at 451 x 300" in m.value for m in at.markdown)
    preds = chart(at, "predictions_figure")["layout"]["meta"]["labels"]
    assert preds[0] == "Egyptian cat"
    assert any("SPPF == parallel SPP(5,9,13): True" in s.value for s in at.success)
    assert vector_length(at) == C_LITE0 * 21
    labels = [b.label for b in at.download_button]
    assert len(labels) == 4 and any(".npy" in x for x in labels) and any(".json" in x for x in labels)


def test_sidebar_widgets_have_the_specified_keys():
    at = new_app()
    at.run()
    assert_clean(at)
    assert at.file_uploader(key="image").allowed_type == [".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"]
    assert at.file_uploader(key="checkpoint").allowed_type == [".pt", ".pth"]
    # images keep their own limit; checkpoints up to the detector reader's, which the server allows
    assert at.file_uploader(key="image").proto.max_upload_size_mb == IMAGE_UPLOAD_MB
    assert at.file_uploader(key="checkpoint").proto.max_upload_size_mb == MAX_CHECKPOINT_BYTES // 2**20
    assert get_option("server.maxUploadSize") == MAX_CHECKPOINT_BYTES // 2**20 > IMAGE_UPLOAD_MB
    helptext = at.file_uploader(key="image").help
    assert f"{IMAGE_UPLOAD_MB} MB" in helptext and f"{DEFAULT_MAX_PIXELS // 1_000_000} megapixels" in helptext
    assert "never written to disk" in helptext
    assert at.selectbox(key="sample").value == "chelsea_cat.jpg"
    assert at.text_input(key="levels").value == "1,2,4"
    assert at.selectbox(key="preset").value == "default"  # the levels 1,2,4 are the default preset
    assert at.radio(key="pool").value == "max" and at.radio(key="bins").value == "adaptive"
    assert at.select_slider(key="max_side").value == 384
    assert at.selectbox(key="backbone").value == "efficientnet_lite0"
    assert at.selectbox(key="stage").value == "head"
    assert at.radio(key="weights").value == "pretrained"
    assert at.selectbox(key="channel").value == "mean"
    assert [e.proto.id for e in at.get("bidi_component") if e.proto.component_name == "spp_viz_explorer"]
    assert "show_levels" not in at.session_state and "show_rf" not in at.session_state  # they live in the browser
    assert "packaged" in str(at.selectbox(key="backbone").format_func("efficientnet_lite0"))


def _code_set_widgets(at: AppTest) -> dict:
    lists = (at.text_input, at.radio, at.selectbox, at.select_slider, at.toggle, at.checkbox, at.multiselect,
             at.number_input)
    return {w.key: w for widgets in lists for w in widgets if w.key in state.KEYS_SET_BY_CODE}


def test_every_run_sends_the_browser_the_code_set_widget_values():
    """The browser must never need its own copy: one it lost made the levels box send back ""."""
    at = new_app()
    at.run()
    at.text_input(key=state.KEY_LEVELS).set_value("1,2").run()
    at.radio(key=state.KEY_POOL).set_value("avg").run()  # a later run the levels box had no part in
    assert_clean(at)
    widgets = _code_set_widgets(at)
    assert set(widgets) == set(state.KEYS_SET_BY_CODE)  # avg pooling draws the label-level box too
    unsent = [key for key, w in widgets.items() if not w.proto.set_value]
    assert unsent == []
    assert widgets[state.KEY_LEVELS].proto.value == "1,2"
    assert widgets[state.KEY_POOL].value == "avg" and widgets[state.KEY_LEVELS].value == "1,2"


def test_uploaded_odd_size_photo_renders_every_panel_with_engine_numbers():
    raw = unique_photo(333, 517)
    at = new_app()
    at.run()
    at.file_uploader(key="image").set_value(("odd.png", raw, "image/png"))
    at.run()
    assert_clean(at)
    assert panel_headers(at) == PANELS
    decoded = load_image(raw, max_side=384)
    assert any(f"Original 333 x 517, analysed at {decoded.working_size[0]} x {decoded.working_size[1]}" in m.value
               for m in at.markdown)
    assert len(at.get("plotly_chart")) >= 5  # vector, sweep, SPPF, top-5, rules
    for n, level in zip((1, 2, 4), explorer(at).levels):
        assert (level.n, level.rows, level.cols, len(level.bins)) == (n, n, n, n * n)
    # the dimension table is the engine's, number for number
    model = backbones.load_backbone()
    features = analysis.extract_features(model, decoded.image)
    config = analysis.PyramidConfig((1, 2, 4))
    head = analysis.pool_pyramid(features, config)
    lead = family.view_lead(family.sppf_view(features, config, measure=False))[0]
    expected = dimension_rows(dimensions.dimension_table(features, head, lead))  # as the page writes shapes
    shown = at.dataframe[0].value
    assert list(shown["numbers"]) == [row["numbers"] for row in expected]
    assert list(shown["step"]) == [row["step"] for row in expected]
    c, h, w = features.shape
    shown_map = explorer(at).map
    assert (shown_map.channels, shown_map.rows, shown_map.cols) == (c, h, w)
    z = np.array([[b.value for b in explorer(at).levels[1].bins]]).reshape(2, 2)
    np.testing.assert_allclose(z, head.levels[1].pooled.mean(0).numpy(), rtol=1e-5)


def test_changing_the_head_never_reruns_the_backbone(counted):
    at = new_app()
    at.run()
    counted.calls = 0  # the sample's run (cached already when another test ran first)
    at.file_uploader(key="image").set_value(("count.png", unique_photo(300, 200), "image/png"))
    at.run()
    assert_clean(at)
    assert counted.calls == 1
    assert vector_length(at) == C_LITE0 * 21
    at.text_input(key="levels").set_value("1,2,3").run()
    assert_clean(at)
    assert vector_length(at) == C_LITE0 * 14
    at.radio(key="pool").set_value("avg").run()
    at.radio(key="bins").set_value("paper").run()
    at.selectbox(key="channel").set_value(7).run()
    at.selectbox(key="preset").set_value("spp-net").run()
    assert_clean(at)
    assert at.text_input(key="levels").value == "6,3,2,1"
    assert counted.calls == 1


@pytest.mark.parametrize("bad", ["0", "a", "1,,2"])
def test_invalid_levels_show_the_sentence_and_keep_the_last_valid_pyramid(bad):
    at = new_app()
    at.run()
    at.text_input(key="levels").set_value("1,3").run()
    assert vector_length(at) == C_LITE0 * 10
    at.text_input(key="levels").set_value(bad).run()
    assert_clean(at)
    with pytest.raises(ValueError) as excinfo:
        analysis.PyramidConfig(bad)
    sentence = str(excinfo.value)
    assert any(sentence in shown(e.value) for e in at.error)
    assert vector_length(at) == C_LITE0 * 10
    assert panel_headers(at) == PANELS
    at.text_input(key="levels").set_value("2").run()
    assert not at.error and vector_length(at) == C_LITE0 * 4


def test_levels_too_fine_to_draw_are_pooled_but_not_drawn():
    at = new_app(max_side=256)
    at.run()
    at.text_input(key="levels").set_value("1,20").run()
    assert_clean(at)
    assert any("not drawn" in w.value for w in at.warning)
    assert vector_length(at) == C_LITE0 * 401
    assert [level.n for level in explorer(at).levels] == [1]
    assert any("level 20: " in c.value for c in at.caption)


def test_bad_upload_shows_an_error_and_the_next_good_upload_works():
    at = new_app()
    at.run()
    at.file_uploader(key="image").set_value(("x.png", b"not an image", "image/png"))
    at.run()
    assert_clean(at)
    assert at.error and '"x.png" is a text file' in shown(at.error[0].value)
    assert panel_headers(at) == []
    at.file_uploader(key="image").set_value(("good.png", unique_photo(200, 150), "image/png"))
    at.run()
    assert_clean(at)
    assert not at.error
    assert panel_headers(at) == PANELS


def test_avg_pooling_labels_every_bin():
    at = new_app()
    at.run()
    at.radio(key="pool").set_value("avg").run()
    assert_clean(at)
    labels = chart(at, "bin_labels_figure")["layout"]["meta"]["labels"]
    assert len(labels) == 16 and all(isinstance(x, str) and x for x in labels)
    assert all(b.winner is None for level in explorer(at).levels for b in level.bins)  # no winning cell


def test_paper_rule_on_a_small_image_warns_and_marks_differing_bins():
    at = new_app()
    at.run()
    at.file_uploader(key="image").set_value(("small.png", unique_photo(128, 96), "image/png"))  # 3 x 4 cells
    at.run()
    at.text_input(key="levels").set_value("6").run()
    at.radio(key="bins").set_value("paper").run()
    assert_clean(at)
    assert any(w.value.startswith("Level 6 under the paper rule") for w in at.warning)
    assert any("stride floor(3/6) is 0" in w.value for w in at.warning)
    assert [(lv.n, lv.rows, lv.cols, lv.valid) for lv in explorer(at).levels] == [(6, 0, 0, False)]
    at.text_input(key="levels").set_value("2").run()  # 4 columns / 2: valid again
    assert_clean(at)
    assert not [w for w in at.warning if "paper rule" in w.value]


def test_selected_bin_reaches_the_explorer_and_its_state_value_selects():
    at = new_app()
    at.run()
    first = explorer_data(at)
    assert first["phase"] == 1  # phase 0's run sent the photo already: phase 1 sends the values' parts
    assert set(first["parts"]) == {first["map"], *first["levels"]}
    at.session_state["selected_bin"] = (2, 1, 0)
    at.run()
    assert_clean(at)
    data = explorer_data(at)
    assert data["selected"] == [2, 1, 0] and data["parts"] == {}  # the browser has every part already
    assert any("Selected: level 2, bin (1, 0)" in m.value for m in at.markdown)
    at.text_input(key="levels").set_value("1,2,4,8").run()  # a new pyramid: only the new level travels
    data = explorer_data(at)
    assert [data["parts"][i]["n"] for i in data["parts"]] == [8]


def test_untrained_weights_are_labelled_everywhere():
    at = new_app(max_side=256)
    at.run()
    at.radio(key="weights").set_value("untrained").run()
    assert_clean(at)
    assert any("Untrained" in w.value for w in at.warning)
    assert any("Untrained (random) weights" in i.value for i in at.info)
    for name in ("spp_vector_figure", "sppf_branches_figure"):
        assert "untrained weights" in chart(at, name)["layout"]["title"]["text"]
    assert "untrained weights" in explorer_data(at)["note"]


def test_unavailable_weights_show_the_engine_sentence(monkeypatch):
    def refuse(name, *args, **kwargs):
        raise errors.WeightsUnavailableError(f"{name} weights are not cached: choose untrained weights.")

    at = new_app(max_side=256)
    at.run()
    monkeypatch.setattr(backbones, "load_backbone", refuse)
    at.selectbox(key="backbone").set_value("resnet18").run()
    assert_clean(at)
    assert shown(at.error[0].value) == "resnet18 weights are not cached: choose untrained weights."
    assert at.button(key="use_untrained")
    assert at.selectbox(key="stage").value == "layer4"


def test_checkpoints_bad_and_good():
    at = new_app(max_side=256)
    at.run()
    at.file_uploader(key="checkpoint").set_value(("broken.pt", b"garbage", "application/octet-stream"))
    at.run()
    assert_clean(at)
    assert "broken.pt was refused" in shown(at.error[0].value)
    assert panel_headers(at) == [PANELS[0], PANELS[2]]  # phase 0 (the explorer's bins, the dimensions) stays
    model = backbones.load_backbone(weights="untrained")
    buf = io.BytesIO()
    torch.save(model.model.state_dict(), buf)
    at.file_uploader(key="checkpoint").set_value(("mine.pth", buf.getvalue(), "application/octet-stream"))
    at.run()
    assert_clean(at)
    assert not at.error and panel_headers(at) == PANELS
    assert any("checkpoint mine.pth" in shown(m.value) for m in at.markdown)


def without_measurements(r: dict) -> dict:
    """A JSON report less what depends on how busy the machine was: the latencies
    (``timings_ms``, every ``*_ms``) and their spreads (``*_rounds``, ``*_noisy``), where they ran
    (``timings_device``), the timing-consistency flag and the warning it raises. Two runs on the same input agree on the rest exactly."""
    out = json.loads(json.dumps(r))
    del out["timings_ms"], out["timings_device"], out["sppf"]["timings_consistent"]
    out["warnings"] = [w for w in out["warnings"] if w != UNRELIABLE_TIMINGS]
    for row in out["sppf"]["costs"] + out["heads"]:
        for key in [k for k in row if k.endswith(("_ms", "_rounds", "_noisy"))]:  # medians and their spreads
            del row[key]
    return out


def check_measurements(r: dict) -> None:
    """A report's load-dependent fields on their own terms: every latency a finite number (the
    view's heads measured: positive, on the CPU), a real flag, and the warning once when the flag
    says the timings were inconsistent."""
    assert r["timings_ms"] and all(math.isfinite(v) and v >= 0 for v in r["timings_ms"].values()), r["timings_ms"]
    costs = r["sppf"]["costs"]
    assert all(0 < c[k] < math.inf for c in costs for k in ("pool_ms", "total_ms")) and {c["device"] for c in costs} == {"cpu"}
    assert all(h[k] is None or math.isfinite(h[k]) for h in r["heads"] for k in ("pool_ms", "total_ms"))
    assert set(r["timings_ms"]) <= set(r["timings_device"]) and set(r["timings_device"].values()) == {"cpu"}
    consistent = r["sppf"]["timings_consistent"]
    assert isinstance(consistent, bool)
    # inconsistent: warned once; consistent: the family's own timing (the ``heads``) may still warn
    assert r["warnings"].count(UNRELIABLE_TIMINGS) in ((0, 1) if consistent else (1,))


def test_json_download_is_the_cli_report(built_reports):
    """The app builds its JSON with report.build_report from its cached pieces: same as the CLI's."""
    built = built_reports
    raw = unique_photo(320, 240)
    at = new_app()
    at.run()
    built.clear()  # the sample's page (its JSON is built when an earlier test measured it)
    at.file_uploader(key="image").set_value(("same.png", raw, "image/png"))
    at.text_input(key="levels").set_value("6,3,2,1")
    at.radio(key="pool").set_value("avg")
    at.run()
    assert_clean(at)
    assert built == []  # the first phase builds no head module: its JSON is made only if asked for
    second_phase(at)
    assert_clean(at)
    shown = json.loads(json.dumps(built[-1]))
    cli = json.loads(json.dumps(report.run_inspection(raw, filename="same.png", levels="6,3,2,1", pool="avg", max_side=384).report()))
    assert isinstance(shown.pop("served_by"), str) and cli.pop("served_by") is None  # the replica: the app's only
    assert without_measurements(shown) == without_measurements(cli)
    for r in (shown, cli):
        check_measurements(r)
    assert set(shown["timings_ms"]) | {"total"} == set(cli["timings_ms"])  # the app's pieces are cached: no end-to-end total
    assert shown["timings_device"] == {k: v for k, v in cli["timings_device"].items() if k != "total"}
    assert set(shown["timings_device"]) == set(shown["timings_ms"]) and set(cli["timings_device"]) == set(cli["timings_ms"])


def test_large_maps_are_timed_without_asking():
    """1280 x 16 x 20 = 409,600 numbers: timed like any map (the timer caps its own time)."""
    at = new_app(max_side=768)
    at.run()
    at.file_uploader(key="image").set_value(("wide.png", unique_photo(640, 512), "image/png"))
    at.run()
    second_phase(at)
    assert_clean(at)
    assert (explorer(at).map.channels, explorer(at).map.rows, explorer(at).map.cols) == (C_LITE0, 16, 20)
    assert any("SPPF == parallel SPP(5,9,13): True" in s.value for s in at.success)
    assert "measure_sppf" not in [b.key for b in at.button]  # the costs never wait for a click
    costs = next(t.value for t in at.table if POOL_COLUMN in t.value.columns and "FLOPs (convs)" in t.value.columns)
    assert list(costs["head"])[:2] == ["SPPF (YOLOv5): k=5, n=3", "SPP (YOLOv5): parallel 5, 9, 13"]
    assert all(" ± " in cell for cell in costs[POOL_COLUMN]) and set(costs["timed on"]) == {f"cpu, {threads_text(THREADS)}"}


def test_a_pyramid_change_re_times_only_the_spp_head(monkeypatch):
    """SPPF, YOLOv5's SPP and the family's other heads do not depend on the pyramid: timed once
    per map. A levels / pool / bins change times the SPP head alone, once, and the costs table's
    SPP row and the family's ``spp`` row are that one measurement."""
    timed = record_head_timings(monkeypatch)
    at = new_app()
    at.run()
    timed.clear()  # the sample's own timings (when no earlier test cached them)
    at.file_uploader(key="image").set_value(("retime.png", unique_photo(320, 240), "image/png"))
    at.run()
    assert_clean(at)
    assert timed == []  # the first phase draws the page and times nothing
    second_phase(at)
    # the default family (spp, spp_yolo, sppf at k=5, n=3) IS the SPP vs SPPF view: one timing per head, all at once
    assert timed == [("spp", "spp_yolo", "sppf")]
    for key, kind, value in (("levels", "text_input", "1,2,3"), ("pool", "radio", "avg"), ("bins", "radio", "paper")):
        timed.clear()
        getattr(at, kind)(key=key).set_value(value)
        at.run()
        assert_clean(at)
        assert timed == [], (key, timed)
        second_phase(at)
        assert_clean(at)
        assert timed == [("spp",)], (key, timed)
    costs = next(t.value for t in at.table if POOL_COLUMN in t.value.columns and "FLOPs (convs)" in t.value.columns)
    assert list(costs["head"])[2] == "SPP (He et al.): levels 1,2,3, avg, paper rule"
    heads = next(t.value for t in at.table if TOTAL_COLUMN in t.value.columns and "GFLOPs" in t.value.columns)
    spp_row = heads[heads["head"] == "spp"].iloc[0]
    assert spp_row[POOL_COLUMN] == costs.iloc[2][POOL_COLUMN]  # one measurement, written by one formatter
    for family_id, row in (("sppf", 0), ("spp_yolo", 1)):
        family_row = heads[heads["head"] == family_id].iloc[0]
        assert family_row[POOL_COLUMN] == costs.iloc[row][POOL_COLUMN]
        assert family_row[TOTAL_COLUMN].startswith(costs.iloc[row][TOTAL_COLUMN])  # the family adds "(untrained convs)"
    at.selectbox(key="sppf_k").set_value(3).run()  # another module: timed on its own
    second_phase(at)
    assert_clean(at)
    assert timed[-1] == ("spp_yolo", "sppf")  # the family's at k=3; the view's (k=5) and spp were measured already
    at.selectbox(key="sppf_k").set_value(5).run()
    timed.clear()
    at.radio(key="bins").set_value("adaptive").run()  # back to a pyramid already timed on this map (1,2,3 avg)
    second_phase(at)
    assert timed == []


def test_a_new_image_starts_from_its_own_region_box():
    """Found by the soak (benchmarks/soak.py): a region box kept from a wide image was clamped to
    the next, narrow one and came out inverted, an error on every later upload."""
    at = new_app()
    at.run()
    at.file_uploader(key="image").set_value(("wide.png", unique_photo(600, 300), "image/png"))
    at.run()
    assert_clean(at)
    at.number_input(key="region_x0").set_value(300.0)
    at.number_input(key="region_x1").set_value(380.0).run()
    assert_clean(at)
    assert not at.error
    narrow = unique_photo(150, 400)
    at.file_uploader(key="image").set_value(("narrow.png", narrow, "image/png"))
    at.run()
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    w, h = load_image(narrow, max_side=384).working_size
    assert chart(at, "region_figure")["layout"]["meta"]["box"] == [round(w / 4), round(h / 4), round(3 * w / 4), round(3 * h / 4)]


def test_the_device_is_offered_only_when_pytorch_has_a_gpu(monkeypatch):
    """Without CUDA there is nothing to choose (no widget); with it, cpu and every cuda:N."""
    at = new_app()
    at.run()
    assert_clean(at)
    assert "device" not in [s.key for s in at.selectbox]
    from spp_viz.ui import sidebar

    monkeypatch.setattr(sidebar, "device_choices", lambda: ["cpu", "cuda:0"])
    monkeypatch.setattr(sidebar, "default_device", lambda: "cpu")  # this machine has no GPU to run on
    at.run()
    assert_clean(at)
    assert at.selectbox(key="device").options == ["cpu", "cuda:0"] and at.selectbox(key="device").value == "cpu"


def test_the_first_phase_times_nothing_and_says_so(monkeypatch):
    """After an upload every first-phase panel is drawn and no timer has run; the costs and family
    tables wait for the browser's ``drawn`` trigger, whose run measures first and then fills them."""
    timed = record_head_timings(monkeypatch)
    regions_timed: list[str] = []
    real = worker.run

    def recording(task, stop=None):
        regions_timed.append(type(task).__name__)
        return real(task, stop)

    monkeypatch.setattr(worker, "run", recording)
    at = new_app()
    at.run()
    second_phase(at)
    timed.clear()
    regions_timed.clear()
    at.file_uploader(key="image").set_value(("phase.png", unique_photo(300, 220), "image/png"))
    at.run()
    assert_clean(at)
    assert panel_headers(at) == PANELS and timed == [] and regions_timed == []
    columns = [set(t.value.columns) for t in [*at.dataframe, *at.table]]
    assert not any({POOL_COLUMN} <= c for c in columns)  # no table of unmeasured numbers
    asked = [key for job in at.session_state[measure.KEY_JOBS].values() for key in job.keys]
    assert {key[3][0] for key in asked if key[0] == "timing"} == {"sppf", "spp_yolo", "spp"}  # (head id, its args)
    assert any(key[0] == "region" for key in asked)
    chart(at, "spp_vector_figure")  # the first-phase panels are drawn meanwhile
    second_phase(at)
    assert_clean(at)
    assert timed == [("spp", "spp_yolo", "sppf")] and "RegionTask" in regions_timed  # both in the timing worker
    heads = next(t.value for t in at.table if TOTAL_COLUMN in t.value.columns and "GFLOPs" in t.value.columns)
    assert "measuring…" not in set(heads[POOL_COLUMN])
    costs = next(t.value for t in at.table if POOL_COLUMN in t.value.columns and "FLOPs (convs)" in t.value.columns)
    assert set(costs["timed on"]) == {f"cpu, {threads_text(THREADS)}"}
    assert at.session_state[measure.KEY_JOBS] == {}  # nothing left to measure: the page asks for no second phase


def test_every_full_run_that_still_needs_measurements_sends_a_new_drawn_token():
    """The browser sends each token once. A run whose second phase a rerun interrupted asks again
    for the same jobs: its token must be new, or its tables would say "measuring" for ever."""
    at = new_app()
    at.run()
    at.file_uploader(key="image").set_value(("token.png", unique_photo(260, 200), "image/png"))  # measured nowhere yet
    at.run()
    first = drawn_token(at)
    at.run()  # the same page, nothing measured yet
    again = drawn_token(at)
    assert first and again and first != again
    second_phase(at)
    assert_clean(at)
    assert drawn_token(at) is None  # everything measured: nothing to ask for


def test_a_timing_worker_that_died_leaves_the_figures_missing_and_says_so(monkeypatch):
    """The worker died during the second phase (it is restarted for the next one): the page says
    the figures are missing, draws no latency, and the rest of the page is drawn."""
    def died(task, stop=None):
        raise worker.WorkerError("The timing worker stopped (exit code -9) before it finished: it was restarted, "
                                 "and these figures are missing.")

    monkeypatch.setattr(worker, "run", died)
    at = new_app()
    at.run()
    at.file_uploader(key="image").set_value(("died.png", unique_photo(280, 210), "image/png"))
    at.run()
    second_phase(at)
    assert_clean(at)
    assert any("figures are missing" in e.value for e in at.error)
    assert not any(POOL_COLUMN in df.value.columns for df in at.dataframe)  # no half-measured table
    assert panel_headers(at) == PANELS
