"""Bin geometry: ranges, overlaps, boxes in pixels, argmax winners."""

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from spp_viz.bins import AxisSpans, axis_bins, bin_geometry, differing_bins, pyramid_bins
from spp_viz.pooling import bin_argmax

SETTINGS = settings(max_examples=60, deadline=None)


def test_adaptive_ranges_follow_floor_ceil_rule():
    # a=5, n=3: [0,2) [1,4) [3,5): neighbours share one cell
    assert axis_bins(5, 3) == [(0, 2), (1, 4), (3, 5)]
    bins = pyramid_bins(5, 5, 3)
    assert bins.row_overlaps == (1, 1) and bins.has_overlap


def test_adaptive_repeats_cells_when_map_smaller_than_level():
    assert axis_bins(2, 4) == [(0, 1), (0, 1), (1, 2), (1, 2)]


def test_paper_rule_problem_sentences():
    assert pyramid_bins(11, 11, 4, "paper").shape == (5, 5)
    assert "gives 5 bins, not 4" in str(pyramid_bins(11, 11, 4, "paper").problem())
    broken = pyramid_bins(3, 8, 4, "paper")
    assert broken.shape == (0, 4) and "stride floor(3/4) is 0" in str(broken.problem())
    assert pyramid_bins(12, 12, 4, "paper").problem() is None


def test_differing_bins_between_rules():
    assert differing_bins(12, 12, 4) == []  # divisible: both rules agree
    assert differing_bins(11, 11, 4)  # paper gives a 5x5 grid with other ranges


@SETTINGS
@given(h=st.integers(1, 64), w=st.integers(1, 64), n=st.integers(1, 8), stride=st.sampled_from([4, 8, 16, 32]),
       rule=st.sampled_from(["adaptive", "paper"]), rf=st.one_of(st.none(), st.integers(1, 900)))
def test_bin_boxes_lie_inside_the_image(h, w, n, stride, rule, rf):
    width, height = w * stride - stride // 2, h * stride - 1  # feature map may overhang the image
    offset = (stride - (rf or stride)) / 2  # each cell's field centred on it
    spans = (AxisSpans(offset, stride, rf or stride, h, height), AxisSpans(offset, stride, rf or stride, w, width))
    for g in bin_geometry(pyramid_bins(h, w, n, rule), spans, (width, height)):
        for box in (g.box, g.rf_box):
            assert 0 <= box.x0 <= box.x1 <= width and 0 <= box.y0 <= box.y1 <= height


def test_receptive_field_box_is_wider_than_cell_box():
    spans = (AxisSpans(-90.0, 32, 212, 10, 1000), AxisSpans(-90.0, 32, 212, 10, 1000))  # fields centred on the cells
    for g in bin_geometry(pyramid_bins(10, 10, 2), spans, (1000, 1000)):
        assert g.rf_box.x0 <= g.box.x0 and g.rf_box.x1 >= g.box.x1 and g.rf_box.width > g.box.width
        assert g.rf_box.y0 <= g.box.y0 and g.rf_box.y1 >= g.box.y1 and g.rf_box.height > g.box.height


@SETTINGS
@given(h=st.integers(1, 20), w=st.integers(1, 20), n=st.integers(1, 6))
def test_argmax_winner_holds_the_pooled_value(h, w, n):
    x = torch.randn(3, h, w)
    winners = bin_argmax(x, n)
    pooled = F.adaptive_max_pool2d(x.unsqueeze(0), n)[0]
    bins = pyramid_bins(h, w, n)
    for b in bins.bins:
        for c in range(3):
            r, k = winners[c, b.row, b.col].tolist()
            assert b.rows[0] <= r < b.rows[1] and b.cols[0] <= k < b.cols[1]
            assert x[c, r, k] == pooled[c, b.row, b.col]


def test_argmax_paper_rule_and_broken_level():
    x = torch.randn(2, 11, 11)
    assert bin_argmax(x, 4, "paper").shape == (2, 5, 5, 2)
    assert bin_argmax(torch.randn(2, 3, 3), 4, "paper").numel() == 0


@SETTINGS
@given(h=st.integers(1, 40), w=st.integers(1, 40), n=st.integers(1, 8), rule=st.sampled_from(["adaptive", "paper"]))
def test_bin_index_is_the_row_major_position_in_the_vector(h, w, n, rule):
    level = pyramid_bins(h, w, n, rule)
    assert [b.index for b in level.bins] == list(range(len(level.bins)))


def test_paper_rule_rows_not_equal_cols_index_has_no_duplicates():
    # a 10 x 10 map at level 6 under the paper rule has 9 x 9 bins: 81 distinct row-major indices
    level = pyramid_bins(10, 10, 6, "paper")
    assert level.shape == (9, 9)
    assert len({b.index for b in level.bins}) == 81
    wide = pyramid_bins(4, 12, 3, "paper")
    assert [(b.row, b.col, b.index) for b in wide.bins][-1] == (wide.shape[0] - 1, wide.shape[1] - 1, len(wide.bins) - 1)
