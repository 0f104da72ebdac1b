"""The cached pipeline: features once, heads many times; tables and sweeps agree with the engine."""

import dataclasses

import torch

from spp_viz import analysis
from spp_viz.analysis import PyramidConfig, extract_features, pool_pyramid
from spp_viz.boxes import CellWindow
from spp_viz.choices import BinRule, Pool
from spp_viz.dimensions import SizeSweepRow, dimension_table, size_sweep
from spp_viz.family import pooled_branches, sppf_view
from spp_viz.images import load_image


def _cat(lite0, asset_bytes, max_side=1024):
    decoded = load_image(asset_bytes["chelsea_cat.jpg"], max_side=max_side)
    return decoded, extract_features(lite0, decoded.image)


def test_head_changes_never_rerun_the_backbone(lite0, asset_bytes, monkeypatch):
    decoded = load_image(asset_bytes["chelsea_cat.jpg"])
    calls = []
    real = analysis.extract_features
    def counted(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(analysis, "extract_features", counted)
    features = analysis.extract_features(lite0, decoded.image)
    lengths = {pool_pyramid(features, config).length
               for config in (PyramidConfig((1, 2, 4)), PyramidConfig((6, 3, 2, 1), Pool.AVG), PyramidConfig((1, 2, 3, 6), Pool.MAX, BinRule.PAPER))}
    assert len(calls) == 1 and len(lengths) == 3


def test_dimension_table_arithmetic(lite0, asset_bytes):
    _, features = _cat(lite0, asset_bytes)
    head = pool_pyramid(features, PyramidConfig((1, 2, 4)))
    rows = {row["step"]: row for row in dimension_table(features, head)}
    assert rows["input"]["shape"] == "3 x 300 x 451"
    assert rows["feature map (head, stride 32)"]["arithmetic"] == "1,280 x 10 x 15 = 192,000"
    assert rows["level 4: 4 x 4 bins"]["arithmetic"] == "1,280 x 4 x 4 = 20,480"
    assert rows["SPP vector (fixed length)"]["numbers"] == head.length == head.expected_length == 26_880
    assert rows["SPP vector (fixed length)"]["arithmetic"] == "1,280 x (1 + 4 + 16) = 26,880"
    # every SPPF size under its one name (spp_viz.dimensions.SPPFStage), as ultralytics' SPPF has it
    assert rows["SPPF cv1 output (C/2)"]["numbers"] == 640 * 10 * 15
    assert rows["SPPF concatenation (4 · C/2)"]["numbers"] == 4 * 640 * 10 * 15
    assert rows["SPPF cv2 output (C)"]["numbers"] == 1280 * 10 * 15
    assert rows["SPPF pools alone (4C)"]["numbers"] == 4 * 1280 * 10 * 15


def test_paper_rule_levels_are_flagged_not_hidden(lite0, asset_bytes):
    _, features = _cat(lite0, asset_bytes)  # 10 x 15 map
    head = pool_pyramid(features, PyramidConfig((6, 3), Pool.MAX, BinRule.PAPER))
    six = head.levels[0]
    assert not six.valid and six.pooled.shape[1:] == (9, 7) and "gives 9 bins, not 6" in str(six.problem)
    assert six.differing and not head.valid and head.length != head.expected_length
    assert any("NOT the fixed length" in row["step"] for row in dimension_table(features, head))


def test_winners_only_for_max_pooling(lite0, asset_bytes):
    _, features = _cat(lite0, asset_bytes, 384)
    assert pool_pyramid(features, PyramidConfig((2,), Pool.AVG)).levels[0].winners is None
    level = pool_pyramid(features, PyramidConfig((2,), Pool.MAX)).levels[0]
    c, n = features.shape[0], 2
    assert level.winners is not None and level.winners.shape == (c, n, n, 2)
    r, k = level.winners[7, 1, 0].tolist()
    assert features.feature[7, r, k] == level.pooled[7, 1, 0]


def test_the_sppf_view_is_sppfs_cascade_on_a_real_map(lite0, asset_bytes):
    _, features = _cat(lite0, asset_bytes, 384)
    view = sppf_view(features, measure=False)
    sppf = view.head("sppf")
    c, h, w = features.shape
    check = sppf.check("spp_yolo")
    assert check.equal and check.max_abs_diff == 0.0 and sppf.pool_shape == (4 * c, h, w)
    branches = pooled_branches(features, sppf.key)
    assert view.kernels == (5, 9, 13) and [b.name for b in branches] == ["x", "pool 5", "pool 9", "pool 13"]
    assert torch.equal(branches[0].pooled, features.feature)
    fields = sppf.receptive_fields(features.geometry)
    assert [f["cells"] for f in fields] == [1, 5, 9, 13]
    assert fields[3]["pixels"] == features.geometry.receptive_field + 12 * 32


def test_the_sppf_view_costs_on_a_real_map(lite0, asset_bytes):
    _, features = _cat(lite0, asset_bytes, 384)
    view = sppf_view(features, PyramidConfig((1, 2, 4)))
    c, h, w = features.shape
    assert view.ids == ("sppf", "spp_yolo", "spp") and view.measured
    sppf, parallel, spp_row = view.heads
    assert sppf.params == parallel.params > 0 and sppf.flops == parallel.flops > 0
    assert sppf.output_shape == parallel.output_shape == (c, h, w)  # after cv2
    assert spp_row.output_shape == (c * 21,) and spp_row.params == spp_row.flops == 0
    assert spp_row.pool_ms == spp_row.total_ms  # SPP has no convs: one measurement
    for r in view.heads:
        assert r.pool_ms > 0 and r.total_ms >= r.pool_ms * 0.5 and r.device == "cpu"
    # the 1x1 convs dominate the YOLO modules
    assert sppf.total_ms > sppf.pool_ms and parallel.total_ms > parallel.pool_ms


def test_the_spp_cost_row_is_always_the_current_head(lite0, asset_bytes):
    # with bins = paper, the SPP row describes the paper-rule head on the page, not the default adaptive one
    _, features = _cat(lite0, asset_bytes, 384)
    config = PyramidConfig((6, 3, 2, 1), Pool.AVG, BinRule.PAPER)
    spp_row = sppf_view(features, config, measure=False).head("spp")
    assert spp_row.output_shape == (pool_pyramid(features, config).length,)
    assert "paper" in spp_row.view_name and "avg" in spp_row.view_name and "6,3,2,1" in spp_row.view_name


def test_the_sppf_view_without_measuring_has_no_latencies(lite0, asset_bytes):
    _, features = _cat(lite0, asset_bytes, 256)
    view = sppf_view(features, measure=False)
    assert not view.measured and view.timings == {} and all(r.device is None for r in view.heads)


def test_size_sweep_spp_constant_sppf_growing(lite0):
    rows = size_sweep(lite0.geometry, (1, 2, 4), aspect=4 / 3)
    assert all(isinstance(row, SizeSweepRow) for row in rows)
    assert {row.spp_length for row in rows} == {26_880}
    numbers = [row.sppf_numbers for row in rows]
    assert numbers == sorted(numbers) and numbers[-1] > 50 * numbers[0]
    # the sweep's feature sizes are exact: compare one with a real forward pass
    height, width = 224, round(224 * 4 / 3)
    fmap = lite0.features(torch.zeros(1, 3, height, width, device=lite0.device))
    row = rows[2]
    assert (row.input_width, row.input_height, row.short_side) == (width, height, 224)
    assert row.feature == (1280, fmap.shape[2], fmap.shape[3]) == (1280, row.feature_height, row.feature_width)
    assert row.sppf_numbers == 4 * 1280 * fmap.shape[2] * fmap.shape[3]
    tall = size_sweep(lite0.geometry, (1,), aspect=0.5, short_sides=(100,))[0]
    assert (tall.input_width, tall.input_height) == (100, 200)


def test_size_sweep_under_the_paper_rule_gives_each_size_its_real_length(lite0):
    """Under the paper rule the length follows the map: each row's length is what phase 0 (the
    bins drawn for that input) gives, and the sweep is not flat for levels a small map cannot hold."""
    from spp_viz.phase0 import phase0_of

    levels = (16, 4, 1)
    rows = size_sweep(lite0.geometry, levels, aspect=1.5, rule="paper")
    lengths = [row.spp_length for row in rows if row.spp_length]
    assert len(set(lengths)) > 1 and 1280 * 273 in lengths  # more or fewer bins than n x n, or just n x n
    for row in rows:
        if row.spp_length:
            drawn = phase0_of(lite0.geometry, (row.input_width, row.input_height), levels, "paper")
            assert row.spp_length == drawn.spp_length
    assert {row.spp_length for row in size_sweep(lite0.geometry, levels, aspect=1.5) if row.spp_length} == {1280 * 273}


def _non_finite_features(features, logits_too=True):
    fmap = features.feature.clone()
    fmap[0, 0, 0] = float("nan")
    fmap[1, 0, 0] = float("inf")
    logits = features.gap_logits.clone() if features.gap_logits is not None else None
    if logits is not None and logits_too:
        logits[3] = float("nan")
    return dataclasses.replace(features, feature=fmap, gap_logits=logits)


def test_non_finite_maps_compare_equal_and_give_no_predictions(lite0, asset_bytes):
    _, features = _cat(lite0, asset_bytes, 256)
    broken = _non_finite_features(features)
    result = sppf_view(broken, measure=False).head("sppf").check("spp_yolo")
    assert result.equal and result.max_abs_diff == 0.0
    assert analysis.non_finite_count(broken) == 2
    assert analysis.predict(lite0, features) and analysis.predict(lite0, broken) == []


def test_level_geometry_uses_the_maps_own_spans(lite0, asset_bytes):
    _, features = _cat(lite0, asset_bytes, 301)
    width, height = features.input_size
    assert features.spans == lite0.geometry.spans(height, width)
    level = pool_pyramid(features, PyramidConfig((2,))).levels[0]
    geometry = analysis.level_geometry(features, level)
    ys, xs = features.spans
    first = geometry[0]
    assert first.cells == CellWindow((0, level.bins.row_ranges[0][1]), (0, level.bins.col_ranges[0][1]))
    assert first.rf_box.x1 == min(xs.rf(first.cells.cols[1] - 1)[1], width)


def test_scaled_yolo_flops_equal_a_full_size_count():
    from spp_viz.heads.costs import count_flops, flop_model
    from spp_viz.heads.modules import ParallelPoolBlock, SPPFBlock
    from spp_viz.heads.registry import BuildArgs

    c, h, w = 64, 7, 11
    x = torch.randn(1, c, h, w)
    assert flop_model("sppf", BuildArgs(c)).at(h, w) == count_flops(SPPFBlock(c, c).eval(), x)
    assert flop_model("spp_yolo", BuildArgs(c)).at(h, w) == count_flops(ParallelPoolBlock(c, c).eval(), x)
