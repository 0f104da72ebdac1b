"""What the page teaches, checked where the engine computes it: one name and one size per SPPF
stage (against the modules' own convs), the comparisons the cascade saves, the measured speed-up
and its spread, the family's equalities (once per pair, right for k and n), the level colours
(distinct, kept for a session), the presets, and the explorer's marks (the paper rule's bins,
SPPF's windows, what a pooled value is)."""

from __future__ import annotations

import pytest
import torch

from spp_viz import analysis, explorer
from spp_viz.analysis import FeatureResult, PyramidConfig
from spp_viz.choices import BinRule, ChannelView, Pool
from spp_viz.dimensions import SPPF_STAGE_NAMES, SPPFStage, sppf_sizes
from spp_viz.family import compare_family, speedup
from spp_viz.figures import photo_source, text
from spp_viz.figures.style import LEVEL_COLOURS, RESERVED_COLOURS, SPPF_WINDOW_COLOUR, assign_level_colours
from spp_viz.geometry import StageGeometry
from spp_viz.heads.modules import SPPFBlock
from spp_viz.options import preset_of
from spp_viz.pooling import cascade_cost, sppf
from spp_viz.timing import Latency


def fake_features(c: int = 8, h: int = 9, w: int = 11, stride: int = 32) -> FeatureResult:
    fmap = torch.rand((c, h, w), generator=torch.Generator().manual_seed(3)) * 4
    return FeatureResult(fmap, (w * stride, h * stride), "synthetic", "head", "untrained",
                         StageGeometry(stride=stride, channels=c, receptive_field=99), 1.0)


# ----------------------------------------------------------------------------
# One name for each SPPF size


@pytest.mark.parametrize(("c", "n"), [(1280, 3), (64, 3), (10, 1), (7, 4)])
def test_each_sppf_size_is_the_modules_own(c, n):
    """cv1 -> C // 2, the concatenation (n + 1) * C // 2 (cv2's input), cv2 -> C: the channels of
    ultralytics' SPPF(c1, c2=c1, k, n) as SPPFBlock builds it; the pools alone (n + 1) * C."""
    sizes = sppf_sizes(c, 6, 5, n)
    block = SPPFBlock(c, c, 3, n)
    assert sizes[SPPFStage.CV1].channels == block.cv1.conv.out_channels == c // 2
    assert sizes[SPPFStage.CONCAT].channels == block.cv2.conv.in_channels == (n + 1) * (c // 2)
    assert sizes[SPPFStage.CV2].channels == block.cv2.conv.out_channels == c
    x = torch.rand(1, c, 6, 5)
    assert (1, *sizes[SPPFStage.CV2].shape) == tuple(block(x).shape)
    if n == 3:  # the pooling module's parameter-free form: SPPF(k) on the C-channel map
        assert (1, *sizes[SPPFStage.POOLS].shape) == tuple(sppf(x).shape)
    assert list(sizes) == list(SPPFStage) and len(set(SPPF_STAGE_NAMES.values())) == 4


def test_the_view_reports_the_pools_alone_and_the_cv2_output():
    """The family's sppf head: its pool part is the pools-alone size, its module output cv2's."""
    features = fake_features()
    report = compare_family(features, ["sppf"], measure=False).head("sppf")
    sizes = sppf_sizes(*features.shape)
    assert report.pool_shape == sizes[SPPFStage.POOLS].shape
    assert report.output_shape == sizes[SPPFStage.CV2].shape


def test_a_size_is_worded_under_its_name_with_its_formula():
    size = sppf_sizes(1280, 10, 15)[SPPFStage.POOLS]
    assert text.sppf_size(size) == "SPPF pools alone (4C): 5,120 × 10 × 15 = 768,000 numbers"
    assert text.sppf_stage(SPPFStage.CONCAT) == "SPPF concatenation (4 · C/2)"
    assert text.sppf_stage(SPPFStage.CONCAT, repeats=4) == "SPPF concatenation (5 · C/2)"


# ----------------------------------------------------------------------------
# Why the cascade is cheaper, and how much faster it was


@pytest.mark.parametrize(("k", "n", "cascade", "parallel", "windows"), [
    (5, 3, 75, 25 + 81 + 169, (5, 9, 13)),
    (3, 4, 36, 9 + 25 + 49 + 81, (3, 5, 7, 9)),
])
def test_comparisons_per_output_cell_and_channel(k, n, cascade, parallel, windows):
    cost = cascade_cost(k, n)
    assert (cost.cascade, cost.parallel, cost.windows) == (cascade, parallel, windows)
    lines = text.sppf_lesson(cost, None, True)
    assert f"{n} × {k * k} = {cascade}" in lines[1] and f"= {parallel}" in lines[1]


def latency(median: float, iqr: float) -> Latency:
    return Latency(median, median - iqr / 2, median + iqr / 2, 7, 1, 2)


def test_the_measured_ratio_comes_with_its_spread_or_is_withheld():
    found = speedup(latency(30.0, 2.0), latency(10.0, 1.0))
    assert found.ratio == pytest.approx(3.0) and found.reliable
    assert found.low == pytest.approx(29 / 10.5) and found.high == pytest.approx(31 / 9.5)
    assert "3.0×" in text.speed_here(found, False)
    noisy = speedup(latency(30.0, 2.0), latency(10.0, 9.0))  # a spread the timing module calls noisy
    assert latency(10.0, 9.0).noisy and not noisy.reliable
    assert "could not be measured reliably" in text.speed_here(noisy, False)
    assert "measuring" in text.speed_here(None, True)


# ----------------------------------------------------------------------------
# The family's equalities


def test_equalities_are_listed_once_per_pair_and_only_for_the_heads_compared():
    family = compare_family(fake_features(), ["spp_yolo", "sppf", "simsppf"], measure=False)
    pairs = [check.pair for check in family.equalities]  # each head claims equality with sppf (and more)
    assert len(pairs) == len(set(pairs)) and set(pairs) == {frozenset(("spp_yolo", "sppf")), frozenset(("simsppf", "sppf"))}
    assert all(check.other in family.ids for check in family.equalities)  # sppf_separable is not compared here
    assert family.same_pools == (("spp_yolo", "sppf", "simsppf"),)


def test_at_k_3_the_source_fixed_heads_are_not_called_equal_to_sppf():
    """simsppf keeps the source's k = 5, n = 3: at k = 3 it is not the sppf compared here."""
    family = compare_family(fake_features(), ["sppf", "spp_yolo", "simsppf"], k=3, measure=False)
    listed = {check.pair for check in family.equalities}
    assert listed == {frozenset(("sppf", "spp_yolo"))}
    assert [(c.head, c.other) for c in family.other_settings] == [("simsppf", "sppf")]
    assert all(c.equal for c in family.equalities)
    assert family.same_pools == (("sppf", "spp_yolo"), ("simsppf",))


# ----------------------------------------------------------------------------
# Level colours, presets


def test_level_colours_are_distinct_and_kept_for_a_session():
    session: dict[int, str] = {}
    for levels in [(1, 3, 5), (6, 3, 2, 1), (1, 2, 4), tuple(range(1, 17)), (3, 2)]:
        colours = assign_level_colours(levels, session)
        assert list(colours) == list(levels)
        assert len(set(colours.values())) == len(levels)  # distinct on every view
        assert not set(colours.values()) & RESERVED_COLOURS  # never a mark's colour
        assert all(session.get(n, colours[n]) == colours[n] for n in levels)  # a level keeps its colour
        session |= colours
    assert assign_level_colours((1, 2, 4))[4] == LEVEL_COLOURS[2]
    assert SPPF_WINDOW_COLOUR not in LEVEL_COLOURS


@pytest.mark.parametrize(("levels", "preset"), [((1, 2, 4), "default"), ((6, 3, 2, 1), "spp-net"),
                                                ((1, 2, 3, 6), "psp"), ((1, 2), None), ((1, 2, 3, 6, 7), None)])
def test_the_preset_the_levels_match(levels, preset):
    assert preset_of(levels) == preset


# ----------------------------------------------------------------------------
# The explorer's marks


def payload(features, config, channel=ChannelView.MEAN, **kwargs):
    head = analysis.pool_pyramid(features, config)
    geometry = {lv.n: analysis.level_geometry(features, lv) for lv in head.levels}
    photo = photo_source(__import__("PIL.Image").Image.new("RGB", features.input_size))
    return head, explorer.build_payload(features, head.levels, geometry, photo, image_key=("d", features.input_size),
                                        channel=channel, rule=config.rule, pool=config.pool, **kwargs)


def test_the_paper_rules_differing_bins_are_drawn_where_the_page_claims_them():
    features = fake_features(h=10, w=15)
    head, data = payload(features, PyramidConfig((1, 2, 4), rule=BinRule.PAPER))
    for level, part in zip(head.levels, data.levels):
        assert {(b.row, b.col) for b in part.bins if b.differs} == set(level.differing)
    assert any(b.differs for part in data.levels for b in part.bins)  # level 4 on a 10 x 15 map moves bins
    _, adaptive = payload(features, PyramidConfig((1, 2, 4)))
    assert not any(b.differs for part in adaptive.levels for b in part.bins)


def test_the_explorer_gets_the_pages_colours_and_says_what_a_value_is():
    features = fake_features()
    colours = {1: "#000001", 2: "#000002"}
    _, data = payload(features, PyramidConfig((1, 2)), colours=colours)
    assert data.colours == colours and explorer.to_json(data)["colours"] == {"1": "#000001", "2": "#000002"}
    _, recoloured = payload(features, PyramidConfig((1, 2)), colours={1: "#000003", 2: "#000002"})
    assert recoloured.level_ids == data.level_ids and recoloured.view != data.view  # same parts, redrawn
    assert data.style.value_label == f"the mean over {features.shape[0]:,} channels of each channel's max in the bin"
    assert data.style.winner_of_strongest
    for b in data.levels[1].bins:  # the winner is the strongest channel's
        ch = int(analysis.pool_pyramid(features, PyramidConfig((1, 2))).levels[1].pooled[:, b.row, b.col].argmax())
        assert b.winner_channel == ch
    _, one = payload(features, PyramidConfig((1, 2), pool=Pool.AVG), channel=3)
    assert one.style.value_label == "channel 3's average in the bin" and not one.style.winner_of_strongest


def test_sppfs_windows_have_a_legend_in_cells_and_pixels():
    features = fake_features(stride=32)
    _, data = payload(features, PyramidConfig((1,)), sppf_k=3, sppf_n=3)
    assert [(w.cells, w.formula, w.pixels) for w in data.sppf_windows] == [(3, "k", 96), (5, "2k − 1", 160), (7, "3k − 2", 224)]
    assert len({w.dash for w in data.sppf_windows}) == 3
