"""Region pooling from the shared map, against pooling the window directly and against crop-and-rerun."""

import io
import math

import pytest
import torch
from conftest import ASSETS, run_cli
from PIL import Image

from spp_viz.analysis import PyramidConfig, extract_features
from spp_viz.boxes import PixelBox
from spp_viz.choices import BinRule, Pool
from spp_viz.pooling import spp
from spp_viz.regions import pool_region, pool_window, region_window

CATS = {"Egyptian cat", "tabby", "tiger cat", "lynx", "Persian cat"}
COFFEE = {"espresso", "cup", "coffee mug", "eggnog", "espresso maker"}


@pytest.fixture(scope="module")
def composite(asset_bytes):
    """The cat and the coffee side by side, each 224 x 224: a 448 x 224 image."""
    halves = [Image.open(io.BytesIO(asset_bytes[name])).convert("RGB").resize((224, 224)) for name in ("chelsea_cat.jpg", "coffee_espresso.jpg")]
    image = Image.new("RGB", (448, 224))
    image.paste(halves[0], (0, 0))
    image.paste(halves[1], (224, 0))
    return image


def test_window_vector_equals_pooling_the_window_directly(lite0, composite):
    features = extract_features(lite0, composite)
    config = PyramidConfig((1, 2, 3), Pool.MAX, BinRule.ADAPTIVE)
    box = PixelBox(40.0, 20.0, 300.0, 200.0)
    window = region_window(features, box)
    (r0, r1), (c0, c1) = window.rows, window.cols
    direct = spp(features.feature[:, r0:r1, c0:c1].unsqueeze(0).clone(), config.levels, config.pool, config.rule).vector[0]
    result = pool_region(lite0, composite, features, box, config, measure=False)
    assert result.window == window
    assert torch.equal(result.vector, direct)
    assert torch.equal(pool_window(features.feature, window, config).vector[0], direct)
    assert result.length == features.shape[0] * 14


def test_window_cells_have_rf_centres_inside_the_box(lite0, composite):
    features = extract_features(lite0, composite)
    ys, xs = features.spans
    box = PixelBox(100.0, 50.0, 250.0, 170.0)
    window = region_window(features, box)
    (r0, r1), (c0, c1) = window.rows, window.cols
    assert all(box.y0 <= ys.centre(i) < box.y1 for i in range(r0, r1))
    assert all(box.x0 <= xs.centre(i) < box.x1 for i in range(c0, c1))
    assert not box.x0 <= xs.centre(c1) < box.x1 if c1 < xs.count else True
    tiny = region_window(features, PixelBox(3.0, 3.0, 4.0, 4.0))  # no centre inside: the nearest cell
    assert tiny.height == 1 and tiny.width == 1


def test_composite_halves_classify_from_their_windows(lite0, composite):
    features = extract_features(lite0, composite)
    config = PyramidConfig()
    left = pool_region(lite0, composite, features, PixelBox(0, 0, 224, 224), config)
    right = pool_region(lite0, composite, features, PixelBox(224, 0, 448, 224), config)
    assert left.predictions[0].label in CATS and left.recompute_predictions[0].label in CATS
    assert right.predictions[0].label in COFFEE and right.recompute_predictions[0].label in COFFEE
    assert left.recompute_ms > 0 and left.recompute is not None and left.recompute.device == "cpu"
    assert left.pooled_device == "cpu"


def test_without_measure_nothing_is_timed_or_rerun(lite0, composite):
    """The page's first phase: the window's own pooling and predictions, no timing, no crop-and-rerun."""
    features = extract_features(lite0, composite)
    result = pool_region(lite0, composite, features, PixelBox(0, 0, 224, 224), PyramidConfig(), measure=False)
    assert result.predictions and not result.recompute_predictions
    assert math.isnan(result.pooled_ms) and math.isnan(result.recompute_ms) and result.recompute is None
    assert result.as_json()["pooled_device"] is None


@pytest.mark.parametrize("box", [PixelBox(0, 0, 500, 100), PixelBox(-1, 0, 10, 10), PixelBox(10, 10, 10, 20), PixelBox(20, 10, 10, 20)])
def test_bad_boxes_are_one_sentence(lite0, composite, box):
    features = extract_features(lite0, composite)
    with pytest.raises(ValueError, match="region") as info:
        pool_region(lite0, composite, features, box, PyramidConfig(), measure=False)
    assert "\n" not in str(info.value)


# --- the CLI: spp-viz inspect --region

@pytest.mark.slow  # the CLI process loads torch and a model
def test_cli_region_json():
    import json


    result = run_cli("inspect", ASSETS / "chelsea_cat.jpg", "--max-side", "224", "--region", "10,10,150,140", "--json")
    assert result.returncode == 0, result.stderr
    region = json.loads(result.stdout)["region"]
    assert set(region) >= {"box", "window", "length", "predictions", "pooled_ms", "recompute_ms", "recompute_predictions"}
    assert region["box"] == [10, 10, 150, 140] and len(region["window"]) == 4
    assert region["predictions"] and region["recompute_predictions"]
    assert 0 < region["pooled_ms"] and 0 < region["recompute_ms"]


@pytest.mark.parametrize("box", [pytest.param("0,0,5000,10", marks=pytest.mark.slow),  # beyond the photo: loads torch
                                 "10,10,5,20", "1,2,3", "a,b,c,d", "-1,0,4,4", "nan,0,4,4"])
def test_cli_bad_region_is_one_error_line(box):

    result = run_cli("inspect", ASSETS / "chelsea_cat.jpg", "--max-side", "224", f"--region={box}")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "region" in lines[0], result.stderr
