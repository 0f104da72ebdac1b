"""The page with a YOLO detector's checkpoint, driven headless with ``AppTest`` (the checkpoints
are made by :func:`spp_viz.devtools.detector_files.make_checkpoint`).

Uploading the file switches the analysis to the backbone ``yolo``; the page names the detector;
the SPP vs SPPF panel and the family's ``sppf`` head run its trained SPPF on p5 (its pools on the
trained cv1's output), every other head stays seeded and says so; every view that needs a
classifier says in one sentence that there is none, and nothing fails.
"""

from __future__ import annotations

import json

import pytest
import torch
from conftest import PANELS, second_phase
from streamlit.testing.v1 import AppTest
from test_app import APP, REPO, assert_clean, chart, panel_headers, shown, without_measurements
from yolo_files import detector_pickle, gadgets, raw_checkpoint

from spp_viz import analysis, backbones
from spp_viz.backbones import DetectorBackbone
from spp_viz.detectors.detector import NO_CLASSIFIER
from spp_viz.devtools.detector_files import make_checkpoint
from spp_viz.devtools.plotly_arrays import decode_array
from spp_viz.figures.tables import TOTAL_COLUMN
from spp_viz.heads.costs import count_flops
from spp_viz.images import load_image
from spp_viz.ui import state

CAT_SIDE = 256  # the sample analysed at 256 x 170: an 8 x 6 map at p5


@pytest.fixture(scope="module")
def v8n() -> bytes:
    return make_checkpoint("yolov8n").data


def detector_page(data: bytes, name: str = "yolov8n.pt") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state[state.KEY_MAX_SIDE] = CAT_SIDE
    at.run()
    at.file_uploader(key=state.KEY_CHECKPOINT).set_value((name, data, "application/octet-stream"))
    at.run()
    assert_clean(at)
    return at


def keyed(at: AppTest, key: str):
    """The container the page keyed ``key`` (``st.container(key=...)``)."""
    def walk(node):
        for child in getattr(node, "children", {}).values():
            if str(getattr(getattr(child, "proto", None), "id", "")).endswith(f"-{key}"):
                return child
            found = walk(child)
            if found is not None:
                return found
        return None

    block = walk(at.main)
    assert block is not None, key
    return block


def table(at: AppTest, column: str):
    return next(t.value for t in [*at.dataframe, *at.table] if column in t.value.columns)


def engine_features(data: bytes, stage: str = "p5") -> tuple[DetectorBackbone, analysis.FeatureResult]:
    backbone = backbones.load_backbone("yolo", stage, checkpoint=data, checkpoint_name="yolov8n.pt", device="cpu")
    assert isinstance(backbone, DetectorBackbone)
    decoded = load_image((REPO / "assets" / "chelsea_cat.jpg").read_bytes(), max_side=CAT_SIDE)
    return backbone, analysis.extract_features(backbone, decoded.image)


def test_a_yolo_checkpoint_switches_the_page_to_its_detector_and_names_it(v8n):
    at = detector_page(v8n)
    assert at.selectbox(key=state.KEY_BACKBONE).value == "yolo"
    assert "from your checkpoint" in at.selectbox(key=state.KEY_BACKBONE).format_func("yolo")
    stage = at.selectbox(key=state.KEY_STAGE)
    assert stage.value == "p5" and stage.options == ["p3 (layer 4)", "p4 (layer 6)", "p5 (layer 8)", "sppf (layer 9)"]
    assert panel_headers(at) == PANELS and not at.error
    line = shown(keyed(at, "detector_line").markdown[0].value)
    assert "yolov8n.pt" in line and "YOLOv8n" in line and "ultralytics 8.3.91" in line
    assert any("cut at **p5 (layer 8)**" in shown(m.value) for m in at.markdown)
    # the explorer and the dimensions work as for any backbone: C = 256 channels at p5
    assert chart(at, "spp_vector_figure")["layout"]["meta"]["length"] == 256 * 21


def test_a_rerun_does_not_hash_the_checkpoint_again(v8n, monkeypatch):
    """The file's sha256 (the model cache's key) is taken once per upload, not on every rerun."""
    import hashlib

    at = detector_page(v8n)
    real, hashed = hashlib.sha256, []

    def counting(data=b"", *args, **kwargs):
        hashed.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(hashlib, "sha256", counting)
    at.run()
    at.run()
    assert_clean(at)
    assert at.selectbox(key=state.KEY_BACKBONE).value == "yolo"
    assert hashed and len(v8n) not in hashed, hashed  # other bytes were hashed meanwhile, never the file


def test_the_sppf_panel_runs_the_trained_sppf_on_its_cv1_output(v8n):
    at = detector_page(v8n)
    backbone, features = engine_features(v8n)
    trained = backbone.detector.sppf
    c, h, w = features.shape
    note = shown(keyed(at, "trained_sppf").info[0].value)
    assert note == backbone.detector.trained_note("p5") and "BatchNorm not folded" in note
    figure = chart(at, "sppf_branches_figure")
    assert "trained cv1's output" in figure["layout"]["title"]["text"]
    assert figure["layout"]["annotations"][0]["text"].startswith("cv1(x)")
    equal = next(s.value for s in at.success if "SPPF == parallel SPP" in s.value)
    assert "True" in equal and f"trained cv1's {trained.hidden_channels:,} × {h} × {w} output" in equal
    # the branches drawn are the pools of the real cv1 output
    with torch.inference_mode():
        y = trained.module.cv1(features.feature.unsqueeze(0))[0]
    x_branch = decode_array(figure["data"][0]["z"])
    assert torch.allclose(torch.from_numpy(x_branch.astype("float32")), y.mean(0), atol=1e-5)
    second_phase(at)
    assert_clean(at)
    costs = table(at, "params (with 1x1 convs)")
    sppf_row = costs[costs["head"].str.startswith("SPPF")].iloc[0]
    assert sppf_row["head"].endswith(", trained") and int(sppf_row["params (with 1x1 convs)"]) == trained.params == 164_608
    x = features.feature.unsqueeze(0)
    assert int(sppf_row["FLOPs (convs)"]) == count_flops(trained.module, x)
    # the dimension table gives the trained SPPF's own parameters and FLOPs
    dims = {row["step"]: row for row in table(at, "arithmetic").to_dict("records")}
    params = next(r for step, r in dims.items() if step.startswith("SPPF parameters"))
    flops = next(r for step, r in dims.items() if step.startswith("SPPF FLOPs"))
    assert "trained, yolov8n.pt, layer 9" in next(s for s in dims if s.startswith("SPPF parameters"))
    assert params["numbers"] == trained.params and flops["numbers"] == count_flops(trained.module, x)


def test_the_family_says_which_head_is_trained_and_that_the_others_are_seeded(v8n):
    at = detector_page(v8n)
    second_phase(at)
    assert_clean(at)
    heads = table(at, "GFLOPs").set_index("head")
    assert heads.loc["sppf", TOTAL_COLUMN].endswith("(trained convs)")
    assert heads.loc["spp_yolo", TOTAL_COLUMN].endswith("(untrained convs)")
    assert heads.loc["spp", TOTAL_COLUMN].endswith("(no convs)")
    assert any("`sppf` runs the checkpoint's trained block" in i.value and "of the other heads" in i.value and
               "seeded random (untrained)" in i.value for i in at.info)
    titles = {c["layout"]["meta"]["head"]: c["layout"]["title"]["text"]
              for c in (json.loads(el.proto.spec) for el in at.get("plotly_chart"))
              if c["layout"].get("meta", {}).get("figure") == "family_branches_figure"}
    assert "trained cv1's output" in titles["sppf"] and "untrained" not in titles["sppf"]
    assert "convs untrained" in titles["spp_yolo"]


def test_away_from_p5_the_sppf_head_is_seeded_and_the_page_says_why(v8n):
    at = detector_page(v8n)
    at.selectbox(key=state.KEY_STAGE).set_value("p3").run()
    assert_clean(at)
    backbone, _ = engine_features(v8n, "p3")
    assert shown(keyed(at, "trained_sppf").info[0].value) == backbone.detector.trained_note("p3")
    assert "seeded" in backbone.detector.trained_note("p3") and "choose p5" in backbone.detector.trained_note("p3")
    assert "trained" not in chart(at, "sppf_branches_figure")["layout"]["title"]["text"]
    second_phase(at)
    heads = table(at, "GFLOPs").set_index("head")
    assert heads.loc["sppf", TOTAL_COLUMN].endswith("(untrained convs)")
    at.selectbox(key=state.KEY_STAGE).set_value("sppf").run()
    assert_clean(at)
    assert "is its output" in shown(keyed(at, "trained_sppf").info[0].value)


def test_every_view_that_needs_a_classifier_says_there_is_none(v8n):
    at = detector_page(v8n)
    assert any(shown(i.value) == f"No predictions: {NO_CLASSIFIER}" for i in at.info)
    assert any(NO_CLASSIFIER in shown(i.value) and i.value.startswith("Pooled, not classified") for i in at.info)  # region
    at.radio(key=state.KEY_POOL).set_value("avg").run()
    assert_clean(at)
    assert any(shown(i.value) == f"No bin labels: {NO_CLASSIFIER}" for i in at.info)
    at.button(key="scales_run").click().run()
    at.button(key="erf_run").click().run()
    second_phase(at)
    assert_clean(at)
    assert not at.error
    assert any(shown(c.value) == f"No top-1 at any size: {NO_CLASSIFIER}" for c in at.caption)
    assert set(table(at, "SPP length")["top-1"]) == {"no classifier"}
    chart(at, "erf_figure")


def test_a_bad_detector_file_is_one_sentence_and_the_page_recovers(v8n, tmp_path):
    marker = tmp_path / "pwned"
    evil = raw_checkpoint(detector_pickle(gadgets(str(marker))["os.system"][0]))
    at = detector_page(evil, "evil.pt")
    assert at.selectbox(key=state.KEY_BACKBONE).value == "yolo"  # recognised by its names, refused by the reader
    assert len(at.error) == 1 and "os.system" in shown(at.error[0].value) and "\n" not in at.error[0].value
    assert panel_headers(at) == [] and not marker.exists()
    assert at.selectbox(key=state.KEY_STAGE).options == ["p3", "p4", "p5", "sppf"]  # the sidebar still works
    at.file_uploader(key=state.KEY_CHECKPOINT).set_value(("truncated.pt", v8n[:100_000], "application/octet-stream")).run()
    assert len(at.error) == 1 and "truncated.pt" in shown(at.error[0].value)
    at.file_uploader(key=state.KEY_CHECKPOINT).set_value(("yolov8n.pt", v8n, "application/octet-stream")).run()
    assert_clean(at)
    assert not at.error and panel_headers(at) == PANELS
    at.file_uploader(key=state.KEY_CHECKPOINT).set_value(None).run()  # removing the file: back to the default backbone
    assert_clean(at)
    assert at.selectbox(key=state.KEY_BACKBONE).value == "efficientnet_lite0" and panel_headers(at) == PANELS


def test_the_page_json_is_the_cli_report_with_the_trained_sppf(v8n, built_reports):
    from spp_viz import report

    built = built_reports
    at = detector_page(v8n)
    second_phase(at)
    assert_clean(at)
    page = json.loads(json.dumps(built[-1]))
    cli = json.loads(json.dumps(report.run_inspection((REPO / "assets" / "chelsea_cat.jpg").read_bytes(), filename="chelsea_cat.jpg",
                                                      backbone="yolo", checkpoint=v8n, checkpoint_name="yolov8n.pt",
                                                      max_side=CAT_SIDE, device="cpu").report()))
    page.pop("served_by"), cli.pop("served_by")
    assert without_measurements(page) == without_measurements(cli)
    backbone, _ = engine_features(v8n)
    trained = cli["backbone"]["trained_sppf"]
    assert trained["used"] and trained["params"] == backbone.detector.sppf.params and trained["reads_stage"] == "p5"
    sppf_cost = next(c for c in cli["sppf"]["costs"] if c["kind"] == "sppf")
    assert sppf_cost["weights"] == "trained" and sppf_cost["params"] == trained["params"]
    assert next(c for c in cli["sppf"]["costs"] if c["kind"] == "parallel_spp")["weights"] == "seeded"
    assert cli["predictions"] == [] and cli["predictions_note"] == NO_CLASSIFIER
