"""spp_viz.options: every CLI option checked without torch, one sentence per refusal."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from spp_viz import defaults, options


def test_one_megapixel_limit_equals_pillows_bomb_limit() -> None:
    from spp_viz import images

    # Pillow's default is 2**30 // 4 // 3; equal limits mean Pillow never refuses an image first
    assert defaults.MAX_IMAGE_PIXELS == Image.MAX_IMAGE_PIXELS == 1024 * 1024 * 1024 // 4 // 3
    assert images.DEFAULT_MAX_PIXELS == defaults.MAX_IMAGE_PIXELS


def test_pooling_still_exports_parse_levels() -> None:
    from spp_viz import pooling

    assert pooling.parse_levels is options.parse_levels
    assert pooling.LEVEL_PRESETS is defaults.LEVEL_PRESETS and pooling.MAX_LEVEL == defaults.MAX_LEVEL


@pytest.mark.parametrize("text", ["1,²", "٣", "1,2,x", "0,,x", "", "1.5", "-1", "1,1", "65", "99999999999"])
def test_parse_levels_refuses_with_one_sentence(text: str) -> None:
    with pytest.raises(ValueError) as info:
        options.parse_levels(text)
    message = str(info.value)
    assert "\n" not in message and message.endswith(".") and "invalid literal" not in message


def test_parse_levels_accepts_numpy_integers_and_presets() -> None:
    import numpy as np

    assert options.parse_levels(list(np.array([1, 2, 4]))) == (1, 2, 4)  # numpy integers
    assert options.parse_levels(" PSP ") == (1, 2, 3, 6)
    with pytest.raises(ValueError):
        options.parse_levels([True, 2])
    with pytest.raises(ValueError):
        options.parse_levels([1.0, 2])  # type: ignore[list-item]


@pytest.mark.parametrize(("parse", "good", "bad"), [
    (options.parse_max_side, {"0": 0, "32": 32, "2048": 2048}, ["31", "-3", "1e3", "²", "", "70000"]),
    (options.parse_top_k, {"1": 1, "1000": 1000}, ["0", "1001", "five"]),
    (options.parse_max_pixels, {"1": 1, str(defaults.MAX_IMAGE_PIXELS): defaults.MAX_IMAGE_PIXELS},
     ["0", str(defaults.MAX_IMAGE_PIXELS + 1), "100MP"]),
    (options.parse_device, {"cpu": "cpu", "CUDA": "cuda", "cuda:1": "cuda:1"}, ["gpu", "cuda:", "cuda:x", "tpu"]),
])
def test_scalar_options(parse, good: dict, bad: list[str]) -> None:
    for text, value in good.items():
        assert parse(text) == value
    for text in bad:
        with pytest.raises(ValueError) as info:
            parse(text)
        assert "\n" not in str(info.value) and str(info.value).endswith(".")


def test_stage_depends_on_backbone() -> None:
    assert options.check_stage("resnet18", None) == "layer4"
    assert options.check_stage("vgg16", "pool5") == "pool5"
    with pytest.raises(ValueError, match="layer4"):
        options.check_stage("resnet18", "head")
    with pytest.raises(ValueError, match="resnet18"):
        options.check_backbone("resnet19")


def test_options_and_cli_import_no_torch() -> None:
    code = "import sys, spp_viz.options, spp_viz.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
