"""Phase 0, geometry before the forward: the bins, the map's size, the dimension table and the SPP
length from the input size and the layer tables alone, exactly what the report's JSON gives
after the forward, and computed in a process that never imports torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import ASSETS, ROOT

from spp_viz.boxes import PixelBox
from spp_viz.choices import BinRule
from spp_viz.images import load_image
from spp_viz.phase0 import Phase0, phase0, phase0_of
from spp_viz.report import bins_json

# (backbone, stage, weights, photo, max side, levels, rule): odd working sizes on EfficientNet-Lite0,
# whose "same" padding makes the arithmetic depend on the size; the paper rule where it leaves a
# level short of n x n; squeeze-excite (whole-image fields); a stem whose stride drops pixels
SLOW = pytest.mark.slow  # a model loaded and run, the heads timed: seconds each on a busy 2-core machine
CASES = [
    ("efficientnet_lite0", "head", "pretrained", "chelsea_cat.jpg", 301, "1,2,4", "adaptive"),
    pytest.param("efficientnet_lite0", "stage5", "pretrained", "rocket_launch.jpg", 257, "spp-net", "paper", marks=SLOW),
    pytest.param("resnet18", "layer3", "untrained", "coffee_espresso.jpg", 333, "1,2,3", "adaptive", marks=SLOW),
    pytest.param("mobilenet_v3_large", "features.16", "untrained", "camera_tripod.jpg", 231, "1,2,4", "adaptive", marks=SLOW),
    pytest.param("convnext_tiny", "features.3", "untrained", "chelsea_cat.jpg", 199, "1,2,4,7", "paper", marks=SLOW),
    pytest.param("vgg16", "conv5_3", "untrained", "rocket_launch.jpg", 97, "1,2,4", "paper", marks=SLOW),
]


def check_against_report(p: Phase0, report: dict) -> None:
    """Every figure of phase 0 against the report's JSON after the forward."""
    c, h, w = p.shape
    assert (report["input"]["width"], report["input"]["height"]) == p.input_size
    assert report["feature_map"] == {"channels": c, "height": h, "width": w}
    backbone = report["backbone"]
    assert (backbone["stride"], backbone["channels"], backbone["receptive_field"]) == (
        p.geometry.stride, p.geometry.channels, p.geometry.receptive_field)
    spp = report["spp"]
    assert (spp["length"], spp["expected_length"], spp["fixed_length"]) == (p.spp_length, p.expected_length, p.fixed_length)
    assert spp["global_context"] == p.geometry.global_context
    assert [level["n"] for level in spp["levels"]] == [level.bins.n for level in p.levels]
    for got, level in zip(spp["levels"], p.levels, strict=True):
        assert got["grid"] == list(level.bins.shape) and got["valid"] == level.bins.valid and got["length"] == level.length
        assert got["rows"] == [list(r) for r in level.bins.row_ranges] and got["cols"] == [list(r) for r in level.bins.col_ranges]
        assert got["arithmetic"] == level.arithmetic() and got["problem"] == level.bins.problem()
        assert got["bins"] == bins_json(list(level.boxes))  # cells, box and receptive-field box of every bin
    # the report adds SPPF's parameters and FLOPs, which need the built module: phase 0 has the rest
    assert report["dimensions"][:len(p.dimensions)] == list(p.dimensions)
    assert [row["shape"] for row in report["dimensions"][len(p.dimensions):]] == ["-", "-"]


@pytest.mark.parametrize(("backbone", "stage", "weights", "photo", "max_side", "levels", "rule"), CASES)
def test_phase0_is_what_the_report_gives_after_the_forward(backbone, stage, weights, photo, max_side, levels, rule):
    from spp_viz.report import run_inspection

    decoded = load_image((ASSETS / photo).read_bytes(), max_side=max_side)
    p = phase0(backbone, stage, decoded.image.size, levels, rule)
    report = run_inspection(decoded, backbone=backbone, stage=stage, weights=weights, levels=levels, rule=rule,
                            download=False, device="cpu", heads="spp").report()
    check_against_report(p, report)


def test_the_odd_lite0_case_really_is_odd_and_short_of_n_by_n_where_the_paper_rule_says():
    decoded = load_image((ASSETS / "chelsea_cat.jpg").read_bytes(), max_side=301)
    assert decoded.image.size[0] % 2 == 1 or decoded.image.size[1] % 2 == 1
    assert not phase0("vgg16", "conv5_3", load_image((ASSETS / "rocket_launch.jpg").read_bytes(), max_side=97).image.size,
                      "1,2,4", "paper").fixed_length


def test_a_detectors_phase0_comes_from_its_traced_geometry():
    from spp_viz.backbones import load_backbone
    from spp_viz.devtools.detector_files import make_checkpoint
    from spp_viz.report import run_inspection

    data = make_checkpoint("yolov8n").data
    decoded = load_image((ASSETS / "coffee_espresso.jpg").read_bytes(), max_side=131)
    loaded = load_backbone("yolo", "p4", checkpoint=data, checkpoint_name="yolov8n.pt", device="cpu")
    p = phase0_of(loaded.geometry, decoded.image.size, "1,2,4", backbone="yolo", stage="p4")
    report = run_inspection(decoded, backbone="yolo", stage="p4", checkpoint=data, checkpoint_name="yolov8n.pt",
                            device="cpu", heads="spp").report()
    check_against_report(p, report)


def test_phase0_of_the_default_backbone():
    p = phase0("efficientnet_lite0", None, (224, 224))
    assert p.stage == "head" and p.shape == (1280, 7, 7) and p.rule is BinRule.ADAPTIVE
    assert [level.bins.n for level in p.levels] == [1, 2, 4]
    assert p.spp_length == p.expected_length == 1280 * 21 and p.fixed_length
    assert p.levels[0].boxes[0].box == PixelBox(0.0, 0.0, 224.0, 224.0)
    assert [len(level.boxes) for level in p.levels] == [1, 4, 16]
    assert p.dimensions[1]["shape"] == "1280 x 7 x 7" and [r["numbers"] for r in p.dimensions if r["step"].startswith("SPP vector")] == [p.spp_length]
    ys, xs = p.spans
    assert (ys.count, xs.count) == (7, 7)


@pytest.mark.parametrize(("call", "words"), [
    (lambda: phase0("yolo", "p5", (224, 224)), "checkpoint"),
    (lambda: phase0("resnet18", "head", (224, 224)), "not a stage of resnet18"),
    (lambda: phase0("vgg16", "pool5", (16, 16)), "too small"),
    (lambda: phase0("resnet18", None, (0, 224)), "whole pixels"),
    (lambda: phase0("resnet18", None, (224, 224), "1,0"), "level"),
    (lambda: phase0("resnet18", None, (224, 224), rule="sliding"), "Bin rule"),
])
def test_phase0_refuses_in_one_sentence(call, words):
    with pytest.raises(ValueError, match=words) as info:
        call()
    assert "\n" not in str(info.value) and str(info.value).endswith(".")


def test_a_cold_process_computes_phase0_without_torch():
    child = textwrap.dedent("""
        import sys
        from spp_viz.defaults import DEFAULT_BACKBONE
        from spp_viz.phase0 import phase0

        p = phase0(DEFAULT_BACKBONE, None, (1023, 767), "1,2,4")
        assert p.shape == (1280, 24, 32) and len(p.levels[2].boxes) == 16, p.shape
        assert "torch" not in sys.modules, "torch was imported"
        print(p.spp_length)
    """)
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(1280 * 21)]
