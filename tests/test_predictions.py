"""The default backbone on the real photos shipped in assets/ (credits in assets/CREDITS.md)."""

import pytest

from spp_viz.analysis import PyramidConfig, bin_predictions, extract_features, pool_pyramid, predict
from spp_viz.choices import Pool
from spp_viz.images import load_image

EXPECTED_TOP1 = {
    "chelsea_cat.jpg": "Egyptian cat",
    "coffee_espresso.jpg": "espresso",
    "camera_tripod.jpg": "tripod",
}


@pytest.mark.parametrize("name,label", sorted(EXPECTED_TOP1.items()))
@pytest.mark.parametrize("max_side", [224, 1024])
def test_default_backbone_ranks_the_right_class_first(lite0, asset_bytes, name, label, max_side):
    image = load_image(asset_bytes[name], max_side=max_side).image
    top = predict(lite0, extract_features(lite0, image), top_k=5)
    assert top[0].label == label
    assert top[0].probability > top[1].probability and abs(sum(p.probability for p in top)) <= 1.0


def test_one_by_one_avg_bin_sees_what_the_whole_image_sees(lite0, asset_bytes):
    features = extract_features(lite0, load_image(asset_bytes["chelsea_cat.jpg"]).image)
    head = pool_pyramid(features, PyramidConfig((1, 2), Pool.AVG))
    whole = predict(lite0, features, 1)[0]
    assert bin_predictions(lite0, head.levels[0])[0][0].label == whole.label == "Egyptian cat"
    grid = bin_predictions(lite0, head.levels[1])
    assert len(grid) == 2 and all(len(row) == 2 for row in grid)
    assert sum(p.label in ("Egyptian cat", "tabby", "tiger cat") for row in grid for p in row) >= 2
