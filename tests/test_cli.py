"""The ``spp-viz`` command line, run as a user runs it (a real subprocess)."""

import json
import subprocess
import sys

import pytest

from conftest import ASSETS

CLI = [sys.executable, "-m", "spp_viz"]


def run(*args, cwd=None):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def cat_report():
    result = run("inspect", ASSETS / "chelsea_cat.jpg", "--json", "--offline")
    assert result.returncode == 0, result.stderr
    return result


def test_json_is_exactly_one_object_with_the_documented_keys(cat_report):
    report = json.loads(cat_report.stdout)  # raises if anything else is on stdout
    assert cat_report.stdout.strip().count("\n") == 0
    assert report["image"] == {**report["image"], "width": 451, "height": 300}
    assert report["input"] == {"width": 451, "height": 300}
    assert {k: report["backbone"][k] for k in ("name", "stage", "stride", "channels")} == {
        "name": "efficientnet_lite0", "stage": "head", "stride": 32, "channels": 1280}
    assert report["backbone"]["weights"] == "pretrained (package)"
    assert report["feature_map"] == {"channels": 1280, "height": 10, "width": 15}
    spp = report["spp"]
    assert (spp["pool"], spp["bins"], spp["length"]) == ("max", "adaptive", 1280 * 21)
    assert [level["n"] for level in spp["levels"]] == [1, 2, 4]
    level4 = spp["levels"][2]
    assert level4["valid"] and level4["rows"] == [[0, 3], [2, 5], [5, 8], [7, 10]] and level4["cols"][0] == [0, 4]
    assert report["sppf"]["matches_parallel_spp"] is True and report["sppf"]["max_abs_diff"] == 0
    assert report["sppf"]["shape"] == [5120, 10, 15]
    assert report["predictions"][0]["label"] == "Egyptian cat" and len(report["predictions"]) == 5
    assert {"decode", "backbone_forward", "total"} <= set(report["timings_ms"])


def test_readable_report_by_default():
    result = run("inspect", ASSETS / "chelsea_cat.jpg", "--levels", "6,3,2,1", "--bins", "paper", "--pool", "avg", "--offline")
    assert result.returncode == 0, result.stderr
    assert "feature map  1280 x 10 x 15" in result.stdout
    # 10 rows, n=6: window 2, stride 1 -> 9 bins; 15 columns: window 3, stride 2 -> 7 bins
    assert "Level 6 under the paper rule: rows: window ceil(10/6)=2, stride floor(10/6)=1 gives 9 bins, not 6" in result.stdout
    assert "Egyptian cat" in result.stdout


def test_backbones_lists_every_backbone_and_offline_status():
    result = run("backbones")
    assert result.returncode == 0
    for name in ("efficientnet_lite0", "resnet18", "resnet50", "vgg16", "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny"):
        assert name in result.stdout
    assert "packaged" in result.stdout


@pytest.mark.parametrize("args", [
    ["inspect", "missing.png"],
    ["inspect", "{assets}/CREDITS.md"],
    ["inspect", "{assets}/chelsea_cat.jpg", "--levels", "1,,2"],
    ["inspect", "{assets}/chelsea_cat.jpg", "--levels", "0"],
    ["inspect", "{assets}/chelsea_cat.jpg", "--pool", "sum"],
    ["inspect", "{assets}/chelsea_cat.jpg", "--stage", "layer9"],
    ["inspect", "{assets}/chelsea_cat.jpg", "--max-side", "-3"],
    ["inspect", "{assets}/chelsea_cat.jpg", "--top-k", "0"],
    ["inspect", "{assets}/chelsea_cat.jpg", "--checkpoint", "{assets}/coffee_espresso.jpg"],
    ["inspect", "{assets}"],
    ["inspect"],
    ["frobnicate"],
])
def test_bad_input_exits_2_with_one_error_line(args):
    result = run(*[a.format(assets=ASSETS) for a in args])
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr


def test_zoo_backbone_offline_without_weights_is_a_clear_error(tmp_path):
    import os

    env = {**os.environ, "TORCH_HOME": str(tmp_path)}
    result = subprocess.run([*CLI, "inspect", str(ASSETS / "chelsea_cat.jpg"), "--backbone", "resnet18", "--offline"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2 and "resnet18-f37072fd.pth" in result.stderr and "untrained" in result.stderr


def test_untrained_zoo_backbone_runs_and_says_so(tmp_path):
    result = run("inspect", ASSETS / "chelsea_cat.jpg", "--backbone", "resnet18", "--weights", "untrained", "--stage", "layer3", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["backbone"]["weights"] == "untrained" and report["backbone"]["stride"] == 16
    assert report["predictions"] == [] and report["predictions_note"]
