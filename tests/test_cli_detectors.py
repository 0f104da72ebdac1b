"""``spp-viz`` with a YOLO detector checkpoint: recognised by its content, bad files refused with
exit code 2 and one line, and ``inspect --npy`` writing the page's SPP vector download."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import ASSETS, run_cli, run_cli_without_torch
from yolo_files import detector_pickle, gadgets, raw_checkpoint

from spp_viz.cli import run
from spp_viz.devtools.detector_files import make_checkpoint
from spp_viz.figures.exports import vector_npy_bytes
from spp_viz.report import run_inspection

CAT = ASSETS / "chelsea_cat.jpg"
FAST = ("--max-side", "160", "--device", "cpu", "--offline")


@pytest.fixture(scope="module")
def v8n_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "yolov8n.pt"
    path.write_bytes(make_checkpoint("yolov8n").data)
    return path


def _one_error_line(result) -> str:
    assert result.returncode == 2 and result.stdout == "", (result.stdout, result.stderr)
    lines = result.stderr.split("\n")
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1] == "", result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_detector_checkpoint_is_recognised_without_torch_and_its_stages_checked(v8n_file):
    """``--stage`` is checked against the detector's stages before torch loads: the file was
    recognised as a YOLO checkpoint from its pickle's names alone."""
    line = _one_error_line(run_cli_without_torch("inspect", CAT, "--checkpoint", v8n_file, "--stage", "head"))
    assert "p3, p4, p5, sppf" in line


def test_backbone_yolo_without_a_checkpoint_is_refused_without_torch():
    line = _one_error_line(run_cli_without_torch("inspect", CAT, "--backbone", "yolo"))
    assert "--checkpoint" in line


def test_inspect_recognises_the_checkpoint_and_writes_the_spp_vector(v8n_file, tmp_path):
    out = tmp_path / "vector.npy"
    report = json.loads(run(["inspect", str(CAT), "--checkpoint", str(v8n_file), "--stage", "sppf", "--json", "--npy", str(out), *FAST]))
    assert report["backbone"]["name"] == "yolo" and report["backbone"]["stage"] == "sppf"
    assert {k: report["backbone"][k] for k in ("checkpoint", "family", "scale", "task", "saved_by", "sppf_cv1_activation")} == {
        "checkpoint": "yolov8n.pt", "family": "yolov8", "scale": "n", "task": "detect", "saved_by": "ultralytics 8.3.91",
        "sppf_cv1_activation": "SiLU"}
    assert report["predictions"] == [] and report["predictions_note"]
    page = run_inspection(CAT.read_bytes(), backbone="yolo", stage="sppf", checkpoint=v8n_file.read_bytes(),
                          checkpoint_name="yolov8n.pt", max_side=160, device="cpu")
    assert out.read_bytes() == vector_npy_bytes(page.pyramid.vector)  # the page's "SPP vector (.npy)"
    vector = np.load(out)
    assert vector.dtype == np.float32 and vector.shape == (report["spp"]["length"],)


def test_the_json_gives_the_trained_sppf_s_parameters_and_costs(v8n_file):
    """At p5 the family's sppf head is the file's SPPF: its parameters are the file's (BatchNorm
    included, ultralytics' ``np``), its FLOPs the trained module's; the other heads are seeded."""
    from spp_viz.backbones import DetectorBackbone, load_backbone
    from spp_viz.heads.costs import count_flops

    report = json.loads(run(["inspect", str(CAT), "--checkpoint", str(v8n_file), "--heads", "sppf,spp_yolo,ppm", "--json",
                             "--max-side", "320", "--device", "cpu", "--offline"]))  # a 7 x 10 map: SPPF's windows fit
    backbone = load_backbone("yolo", "p5", checkpoint=v8n_file.read_bytes(), checkpoint_name="yolov8n.pt", device="cpu")
    assert isinstance(backbone, DetectorBackbone)
    block = backbone.detector.sppf.module
    c, h, w = (report["feature_map"][k] for k in ("channels", "height", "width"))
    flops = count_flops(block, torch.zeros(1, c, h, w))
    trained = report["backbone"]["trained_sppf"]
    assert trained["used"] and trained["params"] == 164_608 and trained["block"] == "SPPF" and trained["layer"] == 9
    heads = {head["id"]: head for head in report["heads"]}
    assert (heads["sppf"]["weights"], heads["sppf"]["untrained"], heads["sppf"]["params"], heads["sppf"]["flops"]) == (
        "trained", False, 164_608, flops)
    assert [(heads[i]["weights"], heads[i]["untrained"]) for i in ("spp_yolo", "ppm")] == [("seeded", True)] * 2
    assert all(e["equal"] for e in heads["sppf"]["exact_equal_to"])
    cost = next(row for row in report["sppf"]["costs"] if row["kind"] == "sppf")
    assert (cost["weights"], cost["params"], cost["flops"]) == ("trained", 164_608, flops)
    assert report["sppf"]["shape"] == [4 * block.cv1.out_channels, h, w] and report["sppf"]["matches_parallel_spp"]
    assert {row["key"]: row["numbers"] for row in report["dimensions"]}["sppf_flops"] == flops


def test_inspect_npy_works_for_every_backbone(tmp_path):
    out = tmp_path / "lite.npy"
    report = json.loads(run(["inspect", str(CAT), "--json", "--npy", str(out), *FAST]))
    assert report["backbone"]["name"] == "efficientnet_lite0" and "family" not in report["backbone"]
    assert np.load(out).shape == (report["spp"]["length"],)


def test_an_unwritable_npy_path_is_one_sentence(v8n_file, tmp_path):
    from spp_viz.cli import CliError

    with pytest.raises(CliError, match="Cannot write"):
        run(["inspect", str(CAT), "--checkpoint", str(v8n_file), "--npy", str(tmp_path / "missing" / "v.npy"), *FAST])


@pytest.mark.slow  # each case is a CLI process that loads torch
@pytest.mark.parametrize("case", ["hostile", "truncated", "unknown backbone file"])
def test_bad_detector_files_exit_2_with_one_line(case, v8n_file, tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "bad.pt"
    if case == "hostile":
        path.write_bytes(raw_checkpoint(detector_pickle(gadgets(str(marker))["os.system"][0])))
    elif case == "truncated":
        path.write_bytes(v8n_file.read_bytes()[:100_000])
    else:
        path.write_bytes(b"\x80\x02}q\x00.")  # a legacy pickle, not a zip
    line = _one_error_line(run_cli("inspect", CAT, "--backbone", "yolo", "--checkpoint", path, *FAST))
    assert "bad.pt" in line
    assert not marker.exists()


@pytest.mark.slow
def test_backbones_lists_yolo_from_your_checkpoint():
    result = run_cli("backbones")
    assert result.returncode == 0
    assert any(line.startswith("yolo ") and "(from your checkpoint)" in line and "p3, p4, p5, sppf" in line
               for line in result.stdout.splitlines())
