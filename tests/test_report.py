"""The JSON report: per-bin geometry, costs of the current head, strict JSON and warnings."""

from __future__ import annotations

import dataclasses
import json

import pytest

from spp_viz.analysis import PyramidConfig, pool_pyramid, predict
from spp_viz.family import HeadTiming, sppf_view
from spp_viz.report import build_report, run_inspection, strict_json
from spp_viz.timing import Latency

COST_KEYS = {"name", "kind", "output_shape", "params", "flops", "pool_ms", "total_ms", "device", "threads", "pool_iqr_ms",
             "pool_rounds", "pool_noisy", "total_iqr_ms", "total_rounds", "total_noisy", "weights"}


@pytest.fixture(scope="module")
def inspection(asset_bytes):
    return run_inspection(asset_bytes["chelsea_cat.jpg"], max_side=301, levels="1,2,3", rule="paper", download=False,
                          heads="spp,sppf,ppm")


def _walk(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)
    else:
        yield value


def test_every_level_lists_its_bins_in_pixels(inspection):
    report = inspection.report()
    width, height = report["input"]["width"], report["input"]["height"]
    ys, xs = inspection.features.spans
    stride = report["backbone"]["stride"]
    for level_json, level in zip(report["spp"]["levels"], inspection.pyramid.levels):
        bins = level_json["bins"]
        assert len(bins) == len(level.bins.bins) and [b["index"] for b in bins] == list(range(len(bins)))
        for b, raw in zip(bins, level.bins.bins):
            r0, r1, c0, c1 = b["cells"]
            assert (b["row"], b["col"], (r0, r1), (c0, c1)) == (raw.row, raw.col, raw.rows, raw.cols)
            assert b["box"] == [c0 * stride, r0 * stride, min(c1 * stride, width), min(r1 * stride, height)]
            x0, x1 = max(xs.rf(c0)[0], 0), min(xs.rf(c1 - 1)[1], width)
            y0, y1 = max(ys.rf(r0)[0], 0), min(ys.rf(r1 - 1)[1], height)
            assert b["rf_box"] == [x0, y0, x1, y1]
            assert b["rf_box"][0] <= b["box"][0] and b["rf_box"][2] >= b["box"][2]


def test_rf_box_is_padding_aware_not_centred_on_the_stride(inspection):
    # Lite0 at 301 px: TF-same padding puts cell i's centre at 32i + 12.5, not (i + 0.5) * 32
    ys, xs = inspection.features.spans
    assert xs.input_length == 301 and xs.centre(0) == 12.5


def test_costs_give_pool_and_total_for_the_current_head(inspection):
    costs = inspection.report()["sppf"]["costs"]
    assert [c["kind"] for c in costs] == ["sppf", "parallel_spp", "spp"]
    assert all(set(c) == COST_KEYS for c in costs)
    spp_row = costs[2]
    assert spp_row["output_shape"] == [inspection.pyramid.length] and "paper" in spp_row["name"]
    report = inspection.report()
    for cost in costs:  # one measurement per head: the costs row, the timings and the family's row agree
        assert abs(report["timings_ms"][f"{cost['kind']}_pool"] - cost["pool_ms"]) <= 0.0006  # rounded to 3 and 4 places
    heads = {h["id"]: h for h in report["heads"]}
    assert heads["sppf"]["pool_ms"] == costs[0]["pool_ms"] and heads["spp"]["pool_ms"] == spp_row["pool_ms"]


def steady(median_ms: float) -> Latency:
    """A latency whose samples agree within 2 % (made here: a real one depends on the machine's load)."""
    return Latency(median_ms, median_ms * 0.99, median_ms * 1.01, 7, 1, 2, "cpu")


def test_report_is_strict_json_with_no_none_and_no_warnings(inspection):
    """Every head measured with a steady spread: strict JSON, no null, and no warning at all. (How
    the real measurement came out, noisy or not, is the machine's business: the warning it may
    raise is checked on its own below.)"""
    from spp_viz.family import compare_family
    from spp_viz.heads.registry import get_spec, trainable_params

    features, config = inspection.features, inspection.pyramid.config
    timings = {}
    for key in {**inspection.costs.timings, **inspection.family.timings}:
        has_convs = trainable_params(get_spec(key[0]).build(key[1])) > 0
        timings[key] = HeadTiming(steady(1.0), steady(4.0) if has_convs else steady(1.0))
    measured = dataclasses.replace(
        inspection, costs=sppf_view(features, config, measure=False, measured=timings),
        family=compare_family(features, "spp,sppf,ppm", config, measure=False, measured=timings))
    report = measured.report()
    json.dumps(report, allow_nan=False)
    assert report["warnings"] == []
    assert None not in [v for v in _walk(report["sppf"])]
    assert {c["pool_noisy"] for c in report["sppf"]["costs"]} == {False} and {c["threads"] for c in report["sppf"]["costs"]} == {2}


def test_a_noisy_latency_is_a_warning_and_flagged_in_the_json(inspection, lite0):
    from spp_viz.timing import UNRELIABLE_TIMINGS

    features, config = inspection.features, inspection.pyramid.config
    wide = Latency(1.0, 0.9, 1.3, 40, 1, 2, "cpu")  # interquartile range 40 % of the median, at the cap
    timings = {key: HeadTiming(wide, steady(4.0)) for key in inspection.costs.timings}
    report = build_report(inspection.decoded, lite0, features, inspection.pyramid,
                          sppf_view(features, config, measure=False, measured=timings), [], {})
    assert report["sppf"]["timings_consistent"] is False and report["warnings"] == [UNRELIABLE_TIMINGS]
    assert {(c["pool_noisy"], c["pool_rounds"], c["pool_iqr_ms"]) for c in report["sppf"]["costs"]} == {(True, 40, 0.4)}


def test_non_finite_map_gives_null_one_warning_and_no_predictions(inspection, lite0):
    features = inspection.features
    fmap = features.feature.clone()
    fmap[0, 0, 0] = float("nan")
    fmap[1, 0, 1] = float("inf")
    logits = features.gap_logits.clone()
    logits[0] = float("nan")
    broken = dataclasses.replace(features, feature=fmap, gap_logits=logits)
    config = PyramidConfig((1, 2))
    head = pool_pyramid(broken, config)
    costs = sppf_view(broken, config, measure=False)
    assert costs.head("sppf").check("spp_yolo").equal  # NaN-aware: the cascade and the parallel pools agree
    report = build_report(inspection.decoded, lite0, broken, head, costs, predict(lite0, broken), {"x": float("nan")})
    text = json.dumps(report, allow_nan=False)
    assert report["timings_ms"]["x"] is None and json.loads(text)["sppf"]["max_abs_diff"] == 0.0
    assert [c["pool_ms"] for c in report["sppf"]["costs"]] == [None, None, None]  # not measured: null, never NaN
    assert report["predictions"] == [] and "not finite" in report["predictions_note"]
    assert len(report["warnings"]) == 2 and "2 non-finite values" in report["warnings"][0]


def test_strict_json_replaces_only_non_finite_floats():
    assert strict_json({"a": [1.5, float("inf"), (float("-inf"), 2)], "b": "nan", "c": 0}) == {
        "a": [1.5, None, [None, 2]], "b": "nan", "c": 0}


def test_self_contradictory_timings_are_a_warning_in_the_json(inspection, lite0):
    from spp_viz.family import sppf_view
    from spp_viz.timing import UNRELIABLE_TIMINGS

    features, config = inspection.features, PyramidConfig((1, 2))
    head = pool_pyramid(features, config)
    costs = inspection.costs
    args = (inspection.decoded, lite0, features, head)
    report = build_report(*args, costs, [], {})
    assert report["sppf"]["timings_consistent"] is costs.timings_consistent
    assert (UNRELIABLE_TIMINGS in report["warnings"]) is (not costs.timings_consistent)
    sppf = costs.head("sppf")
    assert sppf.timing is not None
    slow_pool = dataclasses.replace(sppf.timing, pool=dataclasses.replace(sppf.timing.pool, median_ms=sppf.total_ms * 2))
    slow = sppf_view(features, inspection.pyramid.config, measure=False, measured={**costs.timings, sppf.key: slow_pool})
    report = build_report(*args, slow, [], {})
    assert report["sppf"]["timings_consistent"] is False and UNRELIABLE_TIMINGS in report["warnings"]
