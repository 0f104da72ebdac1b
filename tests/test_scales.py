"""Scales: SPP's length stays, SPPF grows; the training-resolution comparison."""


import pytest
from conftest import ASSETS, run_cli, second_phase
from PIL import Image

from spp_viz.analysis import PyramidConfig, extract_features
from spp_viz.images import load_image
from spp_viz.scales import FIXRES_NOTE, TRAINING_RESOLUTION, decode_side, scale_sizes, scale_sweep, training_resolution


@pytest.fixture(scope="module")
def cat(asset_bytes):
    return load_image(asset_bytes["chelsea_cat.jpg"], max_side=384).image


def test_spp_length_constant_sppf_grows(lite0, cat):
    seen = []
    rows = scale_sweep(lite0, cat, (128, 224, 384), PyramidConfig(), progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert [max(r.size) for r in rows] == [128, 224, 384]
    assert len({r.spp_length for r in rows}) == 1 and rows[0].spp_length == 1280 * 21
    numbers = [r.sppf_numbers for r in rows]
    assert numbers == sorted(numbers) and numbers[0] < numbers[-1]
    assert all(r.sppf_numbers == 4 * c * h * w for r in rows for c, h, w in [r.feature_map])
    assert rows[0].cosine_to_first == pytest.approx(1.0)
    assert all(-1 <= r.cosine_to_first <= 1.0 + 1e-6 for r in rows)
    assert all(len(r.predictions) == 1 and r.forward_ms > 0 for r in rows)


def test_sizes_and_decode_side():
    assert scale_sizes((448, 224), 320) == (224, 320, 448)
    assert decode_side((224, 896), 448) == 896
    assert decode_side((224, 896), 0) == 0


def test_training_resolution_comparison(lite0, cat):
    working = extract_features(lite0, cat)
    comparison = training_resolution(lite0, cat, working)
    assert max(comparison.training_size) == TRAINING_RESOLUTION
    assert comparison.working_size == cat.size
    assert len(comparison.training_predictions) == len(comparison.working_predictions) == 5
    assert comparison.note == FIXRES_NOTE and "FixRes" in FIXRES_NOTE


# --- the CLI: spp-viz scales

@pytest.mark.slow  # the CLI process loads torch and a model
def test_cli_scales_json():
    import json


    result = run_cli("scales", ASSETS / "chelsea_cat.jpg", "--sizes", "128,256", "--max-side", "192", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["scales"]
    assert [max(r["size"]) for r in rows] == [128, 192, 256]
    assert len({r["spp_length"] for r in rows}) == 1
    assert rows[0]["sppf_numbers"] < rows[-1]["sppf_numbers"]
    assert set(rows[0]) == {"size", "feature_map", "spp_length", "sppf_numbers", "cosine_to_first", "predictions", "forward_ms",
                            "forward", "upscaled"}
    assert rows[0]["forward"]["single_run"] is True and rows[0]["forward"]["device"] == "cpu"


@pytest.mark.slow
def test_a_size_larger_than_the_photo_is_scaled_up_and_listed_once(tmp_path):
    """A 600 x 400 photo asked for 224, 448 and 896: 896 is the photo scaled up (and says so), and
    the photo's own size (600) is listed once, not again for each size the photo could not reach."""
    import json

    photo = tmp_path / "coffee600.png"
    Image.open(ASSETS / "coffee_espresso.jpg").convert("RGB").resize((600, 400)).save(photo)
    result = run_cli("scales", photo, "--sizes", "224,448,896", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["scales"]
    assert [max(r["size"]) for r in rows] == [224, 448, 600, 896]
    assert [r["upscaled"] for r in rows] == [False, False, False, True]
    assert len({tuple(r["size"]) for r in rows}) == len(rows)


@pytest.mark.parametrize("sizes", ["224,,448", "10", "224,x", "99999", ",".join(["224"] * 13)])
def test_cli_bad_sizes_is_one_error_line(sizes):

    result = run_cli("scales", ASSETS / "chelsea_cat.jpg", f"--sizes={sizes}")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--sizes" in lines[0], result.stderr


# --- the app: the ERF, region pooling and scales panels in AppTest

def test_app_views_erf_region_scales():
    import json
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=300)
    at.session_state["max_side"] = 256
    at.run()
    assert not at.exception, at.exception

    def figures(name):
        return [f for f in (json.loads(el.proto.spec) for el in at.get("plotly_chart")) if f["layout"].get("meta", {}).get("figure") == name]

    def top5_frames():  # dataframes carry no key in AppTest: the views' top-5 tables are label/probability
        return [df.value for df in at.dataframe if list(df.value.columns) == ["label", "probability"]]

    # "What the backbone sees": top-5 at 224 px and at the working size; the region's pooled top-5,
    # then (the second phase, after the page is drawn) its crop-and-rerun top-5 too
    assert figures("region_figure") and [len(f) for f in top5_frames()] == [5, 5, 5]
    second_phase(at)
    assert [len(f) for f in top5_frames()] == [5, 5, 5, 5]
    assert not figures("erf_figure")
    at.button(key="erf_run").click().run()
    assert not at.exception, at.exception
    (erf,) = figures("erf_figure")
    assert {"level", "row", "col"} <= set(erf["layout"]["meta"]) and len(erf["layout"]["shapes"]) == 2
    at.number_input(key="region_x1").set_value(20.0).run()  # box now inverted: one sentence, no traceback
    assert not at.exception and any("inverted" in e.value for e in at.error)
    at.button(key="scales_run").click().run()
    assert not at.exception, at.exception
    assert not any("SPP length" in df.value.columns for df in at.dataframe)  # the forwards run after the page is drawn
    second_phase(at)
    table = next(df.value for df in at.dataframe if "SPP length" in df.value.columns)
    assert len(set(table["SPP length"])) == 1 and len(table) == 6
    (chart,) = figures("scales_figure")
    assert chart["layout"]["meta"]["sizes"] == sorted(chart["layout"]["meta"]["sizes"])
    assert [len(f) for f in top5_frames()] == [5, 5]  # 224 px and the working size (the region's box is inverted now)
    assert any("FixRes" in c.value for c in at.caption)
