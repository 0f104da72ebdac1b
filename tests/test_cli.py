"""The ``spp-viz`` command line, run as a user runs it (a real subprocess)."""

import json

import pytest
from conftest import ASSETS, run_cli, run_cli_without_torch


@pytest.fixture(scope="module")
def cat_report():
    result = run_cli("inspect", ASSETS / "chelsea_cat.jpg", "--json", "--offline")
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.slow  # the CLI process loads torch and a model (5 s on 2 idle cores, 20 s or more on busy ones)
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


@pytest.mark.slow
def test_readable_report_by_default():
    result = run_cli("inspect", ASSETS / "chelsea_cat.jpg", "--levels", "6,3,2,1", "--bins", "paper", "--pool", "avg", "--offline")
    assert result.returncode == 0, result.stderr
    assert "feature map  1280 x 10 x 15" in result.stdout
    # 10 rows, n=6: window 2, stride 1 -> 9 bins; 15 columns: window 3, stride 2 -> 7 bins
    assert "Level 6 under the paper rule: rows: window ceil(10/6)=2, stride floor(10/6)=1 gives 9 bins, not 6" in result.stdout
    assert "Egyptian cat" in result.stdout


def test_backbones_lists_every_backbone_and_offline_status():
    result = run_cli("backbones")
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
    result = run_cli(*[a.format(assets=ASSETS) for a in args])
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [
    ["--levels", "0,,x"],
    ["--levels", "1,\u00b2"],
    ["--backbone", "resnet19"],
    ["--stage", "layer9"],
    ["--backbone", "resnet18", "--stage", "head"],
    ["--device", "tpu"],
    ["--max-pixels", "100000000"],
    ["--top-k", "1e3"],
])
def test_bad_options_are_refused_before_torch_loads(args):
    result = run_cli_without_torch("inspect", ASSETS / "chelsea_cat.jpg", *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "invalid literal" not in lines[0] and "Traceback" not in result.stderr


@pytest.mark.slow
def test_device_cuda_without_cuda_is_one_plain_sentence():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the sentence is for machines without it")
    result = run_cli("inspect", ASSETS / "chelsea_cat.jpg", "--device", "cuda", "--offline")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: --device cuda needs an NVIDIA GPU")
    assert "--device cpu" in result.stderr


def test_a_file_that_is_not_an_image_is_refused_before_torch_loads(tmp_path):
    """The header is read before torch (the pixels are decoded once, after the model loads)."""
    for name, data in (("notes.jpg", b"just some text, not a JPEG"), ("empty.png", b"")):
        path = tmp_path / name
        path.write_bytes(data)
        result = run_cli_without_torch("inspect", path)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and name in lines[0], result.stderr


@pytest.mark.parametrize("command", [["inspect"], ["erf", "--level", "1", "--bin", "0,0"]])
def test_the_image_is_decoded_once_within_the_models_device_limit(command, monkeypatch):
    """The model loads first; the one decode then uses its device's working limit (a CUDA
    device's is larger than the CPU's), whatever the subcommand."""
    from spp_viz import cli, devices, images, report

    budget = images.WorkingLimit(64 * 64, "a test budget")
    monkeypatch.setattr(devices, "working_limit", lambda backbone: budget)
    monkeypatch.setattr(report, "working_limit", lambda backbone: budget)
    limits: list[images.WorkingLimit] = []

    def decode(*args, **kwargs):
        limits.append(kwargs["limit"])
        return images.load_image(*args, **kwargs)

    monkeypatch.setattr(cli, "load_image", decode)
    monkeypatch.setattr(report, "load_image", decode)
    out = json.loads(cli.run([command[0], str(ASSETS / "chelsea_cat.jpg"), *command[1:], "--json", "--offline", "--max-side", "0"]))
    assert limits == [budget]
    if command == ["inspect"]:
        assert out["input"]["width"] * out["input"]["height"] <= 64 * 64 * 1.02
        assert any("a test budget" in note for note in out["image"]["notes"])


def _one_error_line(result) -> str:
    assert result.returncode == 2 and result.stdout == "", (result.stdout, result.stderr)
    lines = result.stderr.split("\n")
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1] == "", result.stderr
    return lines[0]


def test_corrupt_compressed_tiff_is_one_line_without_libtiff_noise(tmp_path):
    from PIL import Image

    path = tmp_path / "broken.tif"
    Image.radial_gradient("L").convert("RGB").save(path, compression="tiff_adobe_deflate")
    data = bytearray(path.read_bytes())
    for i in range(300, len(data) // 2):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    line = _one_error_line(run_cli("inspect", path))
    assert "broken.tif" in line and "ZIPDecode" not in line


@pytest.mark.slow
def test_failed_download_is_one_line_and_no_downloading_line(tmp_path):
    # no cached weights and no network: torch.hub prints 'Downloading: "..."' (to stdout!) first
    import os

    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    # a proxy that refuses every connection: the download fails even on a machine with network
    env.update(TORCH_HOME=str(tmp_path), https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
    result = run_cli("inspect", ASSETS / "chelsea_cat.jpg", "--backbone", "resnet18", "--json", env=env)
    line = _one_error_line(result)
    assert "could not be downloaded" in line and "Downloading" not in result.stdout + result.stderr


@pytest.mark.slow
def test_zoo_backbone_offline_without_weights_is_a_clear_error(tmp_path):
    import os

    env = {**os.environ, "TORCH_HOME": str(tmp_path)}
    result = run_cli("inspect", ASSETS / "chelsea_cat.jpg", "--backbone", "resnet18", "--offline", env=env)
    assert result.returncode == 2 and "resnet18-f37072fd.pth" in result.stderr and "untrained" in result.stderr


@pytest.mark.slow
def test_untrained_zoo_backbone_runs_and_says_so(tmp_path):
    result = run_cli("inspect", ASSETS / "chelsea_cat.jpg", "--backbone", "resnet18", "--weights", "untrained", "--stage", "layer3", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["backbone"]["weights"] == "untrained" and report["backbone"]["stride"] == 16
    assert report["predictions"] == [] and report["predictions_note"]


@pytest.mark.parametrize("args", [("--help",), ("inspect", "--help"), ("erf", "--help"), ("scales", "--help")])
def test_help_reaches_the_terminal(args):
    """Parsing happens before the streams go quiet: --help is printed, exit 0, nothing on stderr."""
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: spp-viz"), result.stdout[:200]
    assert result.stderr == ""
