"""ERF of a bin: mass inside the theoretical RF, the 1 x 1 level, a finite-difference check."""

import numpy as np
import pytest
import torch
from conftest import ASSETS, run_cli, run_cli_without_torch
from PIL import Image
from torch import nn

from spp_viz.analysis import PyramidConfig
from spp_viz.backbones import Backbone, BackboneSpec, WeightsSource, load_backbone
from spp_viz.boxes import CellWindow, PixelBox
from spp_viz.choices import Pool
from spp_viz.defaults import BACKBONE_NAMES
from spp_viz.erf import bin_erf, bin_output, box_mass, centroid_and_radii
from spp_viz.trace import trace_geometry


def _noise(width: int, height: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.RandomState(seed).randint(0, 256, (height, width, 3), dtype=np.uint8))


@pytest.mark.parametrize("name", BACKBONE_NAMES)
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_mass_inside_rf_box_is_one(name, pool):
    backbone = load_backbone(name, weights="untrained", download=False)
    erf = bin_erf(backbone, _noise(131, 97), 2, 1, 0, PyramidConfig(pool=pool))
    assert erf.shape == (97, 131) and erf.map.shape == (97, 131) and erf.map.dtype == np.float32
    assert erf.map.sum() > 0
    assert erf.mass_in_rf_box == pytest.approx(1.0, abs=1e-6)
    assert 0 < erf.mass_in_box < 1
    if backbone.geometry.global_context:
        assert (erf.rf_box.x0, erf.rf_box.y0, erf.rf_box.x1, erf.rf_box.y1) == (0, 0, 131, 97)


@pytest.mark.parametrize("name", ["efficientnet_lite0", "resnet18", "convnext_tiny"])
def test_one_by_one_bin_box_holds_all_mass(name):
    backbone = load_backbone(name, weights="untrained", download=False)
    erf = bin_erf(backbone, _noise(131, 97, seed=1), 1, 0, 0, PyramidConfig(pool=Pool.AVG))
    assert erf.mass_in_box == pytest.approx(1.0, abs=1e-6)


def test_bin_outside_level_is_one_sentence(lite0):
    with pytest.raises(ValueError, match="does not exist"):
        bin_erf(lite0, _noise(97, 97), 2, 2, 0)


class _Tiny(nn.Module):
    """Two strided convs: small enough for a finite-difference gradient of every pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.b = nn.Conv2d(4, 5, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.tanh(self.a(x)))


def _tiny_backbone() -> Backbone:
    torch.manual_seed(0)
    model = _Tiny().eval()
    spec = BackboneSpec("tiny", "Tiny", {"out": "out"}, "out", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), lambda: model, None, zoo=False)
    geometry = trace_geometry(model, model, torch.device("cpu"))
    return Backbone(spec, "out", WeightsSource.UNTRAINED, model, model, geometry, torch.device("cpu"))


def test_erf_equals_finite_differences():
    backbone = _tiny_backbone()
    image = _noise(13, 11, seed=2)
    config = PyramidConfig(pool=Pool.AVG)
    erf = bin_erf(backbone, image, 2, 0, 1, config)
    model64 = _Tiny().double()
    model64.load_state_dict(backbone.model.state_dict())
    x = backbone.preprocess(image).double()
    cells = CellWindow((0, 2), (2, 4))  # level 2, bin (0, 1) of the 3 x 4 map under the adaptive rule
    eps = 1e-6
    fd = np.zeros((11, 13))
    with torch.no_grad():
        for c in range(3):
            for yy in range(11):
                for xx in range(13):
                    plus, minus = x.clone(), x.clone()
                    plus[0, c, yy, xx] += eps
                    minus[0, c, yy, xx] -= eps
                    diff = bin_output(model64(plus), cells, Pool.AVG) - bin_output(model64(minus), cells, Pool.AVG)
                    fd[yy, xx] += abs(float(diff) / (2 * eps))
    assert backbone.geometry.feature_size(11, 13) == (3, 4)
    np.testing.assert_allclose(erf.map, fd, rtol=1e-4, atol=1e-6)
    assert erf.mass_in_rf_box == pytest.approx(1.0, abs=1e-6)


def test_centroid_and_radii_of_a_point_and_a_disc():
    point = np.zeros((9, 9), np.float32)
    point[4, 6] = 1
    (cx, cy), (r50, r90) = centroid_and_radii(point)
    assert (cx, cy) == (6.5, 4.5) and r50 == r90 == 0
    flat = np.ones((10, 10), np.float32)
    (cx, cy), (r50, r90) = centroid_and_radii(flat)
    assert (cx, cy) == (5.0, 5.0) and 0 < r50 < r90
    assert box_mass(flat, PixelBox(0, 0, 10, 10)) == 100
    assert box_mass(flat, PixelBox(0.5, 0, 2, 1)) == 2


# --- the CLI: spp-viz erf

@pytest.mark.slow  # the CLI process loads torch and a model
def test_cli_erf_json_and_npy(tmp_path):
    import json

    out = tmp_path / "erf.npy"
    result = run_cli("erf", ASSETS / "chelsea_cat.jpg", "--max-side", "160", "--level", "2", "--bin", "1,0", "--pool", "avg",
                     "--npy", out, "--json")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    erf = json.loads(result.stdout)["erf"]
    assert set(erf) >= {"level", "bin", "box", "rf_box", "mass_in_box", "mass_in_rf_box", "centroid", "radius50", "radius90", "shape", "ms"}
    assert erf["level"] == 2 and erf["bin"] == [1, 0] and erf["shape"] == [106, 160]
    assert erf["mass_in_rf_box"] == pytest.approx(1.0, abs=1e-6)
    saved = np.load(out)
    assert saved.shape == (106, 160) and saved.dtype == np.float32


@pytest.mark.parametrize("args", [
    ["--level", "2", "--bin", "2,0"],
    ["--level", "2", "--bin", "x"],
    ["--level", "2", "--bin", "1,-1"],
    ["--level", "0", "--bin", "0,0"],
    ["--level", "2"],
])
def test_cli_erf_bad_options_one_line_before_torch(args):
    result = run_cli_without_torch("erf", ASSETS / "chelsea_cat.jpg", *args)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
