"""The cached pipeline: features once, heads many times; tables and sweeps agree with the engine."""

import torch

from spp_viz import analysis
from spp_viz.analysis import (
    FeatureCache,
    HeadConfig,
    analyse_head,
    compare_sppf,
    dimension_table,
    extract_features,
    size_sweep,
)
from spp_viz.images import load_image


def _cat(lite0, asset_bytes, max_side=1024):
    decoded = load_image(asset_bytes["chelsea_cat.jpg"], max_side=max_side)
    return decoded, extract_features(lite0, decoded.image)


def test_head_changes_never_rerun_the_backbone(lite0, asset_bytes, monkeypatch):
    decoded = load_image(asset_bytes["chelsea_cat.jpg"])
    calls = []
    real = analysis.extract_features
    monkeypatch.setattr(analysis, "extract_features", lambda *a: calls.append(1) or real(*a))
    cache = FeatureCache()
    key = (decoded.digest, lite0.name, lite0.stage, lite0.weights, decoded.working_size)
    lengths = set()
    for config in (HeadConfig((1, 2, 4)), HeadConfig((6, 3, 2, 1), "avg"), HeadConfig((1, 2, 3, 6), "max", "paper")):
        features = cache.get(key, lambda: analysis.extract_features(lite0, decoded.image))
        lengths.add(analyse_head(features, config).length)
    assert len(calls) == 1 and (cache.hits, cache.misses) == (2, 1) and len(lengths) == 3


def test_feature_cache_is_a_bounded_lru():
    cache = FeatureCache(maxsize=2)
    for key in ("a", "b", "a", "c", "b"):
        cache.get(key, lambda: object())
    assert (cache.hits, cache.misses) == (1, 4)


def test_dimension_table_arithmetic(lite0, asset_bytes):
    _, features = _cat(lite0, asset_bytes)
    head = analyse_head(features, HeadConfig((1, 2, 4)))
    rows = {row["step"]: row for row in dimension_table(features, head)}
    assert rows["input"]["shape"] == "3 x 300 x 451"
    assert rows["feature map (head, stride 32)"]["arithmetic"] == "1,280 x 10 x 15 = 192,000"
    assert rows["level 4: 4 x 4 bins"]["arithmetic"] == "1,280 x 4 x 4 = 20,480"
    assert rows["SPP vector (fixed length)"]["numbers"] == head.length == head.expected_length == 26_880
    assert rows["SPP vector (fixed length)"]["arithmetic"] == "1,280 x (1 + 4 + 16) = 26,880"
    assert rows["SPPF concat [x, 5, 9, 13]"]["numbers"] == 4 * 640 * 10 * 15


def test_paper_rule_levels_are_flagged_not_hidden(lite0, asset_bytes):
    _, features = _cat(lite0, asset_bytes)  # 10 x 15 map
    head = analyse_head(features, HeadConfig((6, 3), "max", "paper"))
    six = head.levels[0]
    assert not six.valid and six.pooled.shape[1:] == (9, 7) and "gives 9 bins, not 6" in six.problem
    assert six.differing and not head.valid and head.length != head.expected_length
    assert any("NOT the fixed length" in row["step"] for row in dimension_table(features, head))


def test_winners_only_for_max_pooling(lite0, asset_bytes):
    _, features = _cat(lite0, asset_bytes, 384)
    assert analyse_head(features, HeadConfig((2,), "avg")).levels[0].winners is None
    level = analyse_head(features, HeadConfig((2,), "max")).levels[0]
    c, n = features.shape[0], 2
    assert level.winners.shape == (c, n, n, 2)
    r, k = level.winners[7, 1, 0].tolist()
    assert features.feature[7, r, k] == level.pooled[7, 1, 0]


def test_sppf_comparison_on_a_real_map(lite0, asset_bytes):
    _, features = _cat(lite0, asset_bytes, 384)
    result = compare_sppf(features, measure=True)
    c, h, w = features.shape
    assert result.equal and result.max_abs_diff == 0.0 and result.shape == (4 * c, h, w)
    assert result.kernels == (5, 9, 13) and len(result.branches) == 4
    assert torch.equal(result.branches[0], features.feature)
    names = [cost.name for cost in result.costs]
    assert names[0].startswith("SPPF") and names[1].startswith("Parallel")
    sppf_cost, parallel_cost, spp_cost = result.costs
    assert sppf_cost.params == parallel_cost.params > 0 and sppf_cost.flops == parallel_cost.flops > 0
    assert sppf_cost.pool_comparisons * 275 == parallel_cost.pool_comparisons * 75  # 3*25 vs 25+81+169
    assert spp_cost.output_shape == (c * 21,)
    fields = result.receptive_fields(features.geometry)
    assert [f["cells"] for f in fields] == [1, 5, 9, 13]
    assert fields[3]["pixels"] == features.geometry.receptive_field + 12 * 32


def test_size_sweep_spp_constant_sppf_growing(lite0):
    rows = size_sweep(lite0.geometry, (1, 2, 4), aspect=4 / 3)
    assert len({row["spp_length"] for row in rows}) == 1 == len({26_880})
    assert rows[0]["spp_length"] == 26_880
    numbers = [row["sppf_numbers"] for row in rows]
    assert numbers == sorted(numbers) and numbers[-1] > 50 * numbers[0]
    # the sweep's feature sizes are exact: compare one with a real forward pass
    height, width = 224, round(224 * 4 / 3)
    fmap = lite0.features(torch.zeros(1, 3, height, width))
    assert rows[2]["feature_map"] == f"1280 x {fmap.shape[2]} x {fmap.shape[3]}"


def test_scaled_yolo_flops_equal_a_full_size_count():
    from spp_viz.analysis import count_flops, yolo_head_costs
    from spp_viz.pooling import SPPF, ParallelSPP

    c, h, w = 64, 7, 11
    costs = yolo_head_costs(c)
    x = torch.randn(1, c, h, w)
    assert costs["sppf"][1] * h * w == count_flops(SPPF(c, c).eval(), x)
    assert costs["parallel"][1] * h * w == count_flops(ParallelSPP(c, c).eval(), x)
    assert costs["sppf"][0] == sum(p.numel() for p in SPPF(c, c).parameters())
