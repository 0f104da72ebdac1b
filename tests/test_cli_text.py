"""``spp-viz inspect`` without ``--json``: the text report shows the JSON's region and warnings.

Each case runs the real CLI twice, with and without ``--json``, on the same arguments: the text
must carry the JSON's numbers, formatted as :func:`spp_viz.cli.report_text` formats them.
Timings differ between two runs, so their exact formatting is checked on the JSON's own dict.
"""

import json
import re

import pytest
from conftest import ASSETS, run_cli

from spp_viz.cli import report_text
from spp_viz.timing import UNRELIABLE_TIMINGS

CAT = ASSETS / "chelsea_cat.jpg"
FAST = ("--offline", "--max-side", "224", "--device", "cpu", "--region", "10,10,150,140")
WARNING = "warning      "

pytestmark = pytest.mark.slow  # every case runs the real CLI twice, each loading torch and the model


def _text_and_json(*args):
    """``(stdout of the text report, the parsed JSON)`` of ``spp-viz inspect CAT ARGS``."""
    text, as_json = run_cli("inspect", CAT, *args), run_cli("inspect", CAT, *args, "--json")
    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    return text.stdout, json.loads(as_json.stdout)


def _region_block(text: str) -> list[str]:
    """The ``region`` line and the indented lines under it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("region "))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return lines[start:end]


def _probabilities(predictions):
    return ", ".join(f"{p['label']} {p['probability']:.1%}" for p in predictions)


@pytest.fixture(scope="module")
def region_run():
    return _text_and_json(*FAST)


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory):
    """A checkpoint of the packaged weights with a NaN in the classifier's bias: a warning every time
    (the map stays finite, so the region is still pooled; no predictions anywhere)."""
    import torch

    from spp_viz.backbones import load_backbone

    state = {k: v.clone() for k, v in load_backbone("efficientnet_lite0", download=False, device="cpu").model.state_dict().items()}
    state["_fc.bias"][0] = float("nan")
    path = tmp_path_factory.mktemp("ckpt") / "nan_bias.pth"
    torch.save(state, path)
    return _text_and_json(*FAST, "--checkpoint", path)


def _spread(region) -> str:
    """The pooling time's spread as the text must write it: the interquartile range as a share of the median."""
    share = 100 * region["pooled_iqr_ms"] / region["pooled_ms"]
    return f" ± {share:.0f}%" + (" noisy" if region["pooled_noisy"] else "")


def test_region_text_carries_the_json_numbers(region_run):
    text, report = region_run
    region = report["region"]
    block = _region_block(text)
    r0, r1, c0, c1 = region["window"]
    assert block[0] == "region       box 10,10,150,140 px (x0,y0,x1,y1 in the 224 x 149 input)"
    assert region["box"] == [10, 10, 150, 140] and report["input"] == {"width": 224, "height": 149}
    assert f"  cells      rows [{r0}, {r1}) x cols [{c0}, {c1}) of the 5 x 7 map: {r1 - r0} x {c1 - c0} cells" in block
    # SPP's point: the window's vector has the whole image's length
    assert region["length"] == report["spp"]["length"] == 26880
    assert "  length     26,880, same as the whole image's 26,880 (SPP's fixed length)" in block
    assert f"  from map   {_probabilities(region['predictions'])}" in block
    assert f"  crop+rerun {_probabilities(region['recompute_predictions'])}" in block
    top1 = region["predictions"][0]["label"]
    assert top1 == region["recompute_predictions"][0]["label"] == "Egyptian cat"
    assert f"  top-1      same: {top1}" in block
    pooling = next(line for line in block if line.startswith("  pooling    "))
    rerun = next(line for line in block if line.startswith("  rerun      "))
    # its own run's median and spread (the JSON came from another run)
    assert re.fullmatch(rf"  pooling +\d+\.\d{{3}} ms ± \d+%( noisy)? on {region['pooled_device']} \(median of repeated runs\)", pooling)
    recompute = region["recompute"]
    assert recompute["single_run"] is True
    assert f" ms on {recompute['device']} (single run, load average " in rerun
    # every line but the two timings is the same as the text of the JSON's own dict
    timed = ("  pooling    ", "  rerun      ")
    from_json = [line for line in _region_block(report_text(report)) if not line.startswith(timed)]
    assert [line for line in block if not line.startswith(timed)] == from_json


def test_region_timings_are_the_json_numbers(region_run):
    _, report = region_run
    region, block = report["region"], _region_block(report_text(report))
    assert region["pooled_iqr_ms"] is not None and region["pooled_rounds"] >= 1
    assert f"  pooling    {region['pooled_ms']:.3f} ms{_spread(region)} on {region['pooled_device']} (median of repeated runs)" in block
    recompute = region["recompute"]
    assert (f"  rerun      {recompute['ms']:.1f} ms on {recompute['device']} "
            f"(single run, load average {recompute['load_average']:.2f})") in block


def test_every_timing_says_where_it_ran(region_run):
    text, report = region_run
    assert set(report["timings_device"].values()) == {"cpu"}
    assert "  on         cpu (every timing)" in text.splitlines()
    mixed = {**report, "timings_device": {**report["timings_device"], "backbone_forward": "cuda:0"}}
    line = next(line for line in report_text(mixed).splitlines() if line.startswith("  on         "))
    assert "cuda:0: backbone_forward" in line and line.startswith("  on         cpu: decode, load_backbone, spp_head")


def test_every_warning_of_the_json_is_a_line_of_the_text(broken_run):
    text, report = broken_run
    warnings = report["warnings"]
    assert any("nan_bias.pth" in w and "_fc.bias" in w for w in warnings), warnings
    lines = text.splitlines()
    for warning in warnings:
        if warning != UNRELIABLE_TIMINGS:  # depends on the machine's load during each run
            assert WARNING + warning in lines
    assert [line for line in report_text(report).splitlines() if line.startswith(WARNING)] == [WARNING + w for w in warnings]
    # and what the missing predictions mean, for the image and for the region
    assert report["predictions"] == [] and f"predictions  none: {report['predictions_note']}" in lines
    assert report["region"]["predictions"] == [] and report["region"]["length"] == report["spp"]["length"]
    assert {"  from map   none", "  top-1      none to compare"} <= set(_region_block(text))


def test_without_warnings_or_region_the_text_has_neither(region_run):
    _, report = region_run
    text = report_text({**report, "region": None, "warnings": []})
    assert WARNING not in text and "region " not in text and "crop+rerun" not in text
