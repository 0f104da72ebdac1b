"""Properties of the pooling heads (He et al. SPP, YOLO parallel SPP, SPPF)."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from spp_viz.bins import pyramid_bins
from spp_viz.heads.modules import Act, ParallelPoolBlock, SPPFBlock
from spp_viz.pooling import (
    SPP,
    Equivalence,
    average_spp,
    check_sppf_equivalence,
    paper_window,
    parse_levels,
    spp,
    spp_output_length,
    spp_yolo,
    sppf,
    sppf_effective_kernels,
    sppf_equivalence,
)

sizes = st.integers(min_value=1, max_value=64)
level_sets = st.lists(st.integers(min_value=1, max_value=8), min_size=1, max_size=4, unique=True)
SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(h=sizes, w=sizes, h2=sizes, w2=sizes, levels=level_sets, pool=st.sampled_from(["max", "avg"]))
def test_spp_length_never_depends_on_input_size(h, w, h2, w2, levels, pool):
    a = spp(torch.randn(2, 3, h, w), levels, pool).vector
    b = spp(torch.randn(2, 3, h2, w2), levels, pool).vector
    assert a.shape == b.shape == (2, spp_output_length(3, levels)) == (2, 3 * sum(n * n for n in levels))


@SETTINGS
@given(h=sizes, w=sizes, levels=level_sets)
def test_adaptive_levels_equal_torch_adaptive_pooling(h, w, levels):
    x = torch.randn(1, 4, h, w)
    for pool, ref in (("max", F.adaptive_max_pool2d), ("avg", F.adaptive_avg_pool2d)):
        result = spp(x, levels, pool)
        for level in result.levels:
            assert torch.equal(level.pooled, ref(x, level.n))
        assert torch.equal(result.vector, torch.cat([ref(x, n).flatten(1) for n in levels], 1))


@SETTINGS
@given(h=sizes, w=sizes, n=st.integers(1, 8))
def test_adaptive_bins_cover_every_cell_and_none_is_empty(h, w, n):
    bins = pyramid_bins(h, w, n, "adaptive")
    assert bins.valid and bins.shape == (n, n)
    assert all(b.cells > 0 for b in bins.bins)
    assert (bins.coverage() > 0).all()
    # each bin pools exactly its cells: compare with slicing the map by hand
    x = torch.randn(2, h, w)
    pooled = F.adaptive_max_pool2d(x.unsqueeze(0), n)[0]
    for b in bins.bins:
        cell_max = x[:, b.rows[0]:b.rows[1], b.cols[0]:b.cols[1]].amax(dim=(1, 2))
        assert torch.equal(pooled[:, b.row, b.col], cell_max)


@SETTINGS
@given(h=sizes, w=sizes, n=st.integers(1, 8), pool=st.sampled_from(["max", "avg"]))
def test_paper_rule_valid_exactly_when_it_yields_n_bins(h, w, n, pool):
    x = torch.randn(1, 2, h, w)
    level = spp(x, [n], pool, "paper").levels[0]
    counts = (paper_window(h, n)[2], paper_window(w, n)[2])
    assert level.valid == (counts == (n, n))
    assert (level.rows, level.cols) == counts == pyramid_bins(h, w, n, "paper").shape
    if level.valid:
        assert level.pooled.shape == (1, 2, n, n)


@pytest.mark.parametrize("a,n,count", [(11, 4, 5), (10, 6, 9), (3, 4, 0), (13, 3, 3), (7, 7, 7)])
def test_paper_rule_counts_from_the_facts_file(a, n, count):
    assert paper_window(a, n)[2] == count


def test_paper_rule_is_vectorised_and_matches_a_per_bin_loop():
    x = torch.randn(1, 3, 13, 9)
    for n in (1, 2, 3, 4):
        level = spp(x, [n], "max", "paper").levels[0]
        window_h, stride_h, rows = paper_window(13, n)
        window_w, stride_w, cols = paper_window(9, n)
        for i in range(rows):
            for j in range(cols):
                patch = x[0, :, i * stride_h:i * stride_h + window_h, j * stride_w:j * stride_w + window_w]
                assert torch.equal(level.pooled[0, :, i, j], patch.amax(dim=(1, 2)))


def test_average_spp_one_by_one_level_is_global_average_pooling():
    x = torch.randn(2, 5, 7, 11)
    result = average_spp(x, (1, 2))
    assert torch.allclose(result.levels[0].pooled.flatten(1), x.mean(dim=(2, 3)), atol=1e-6)


@SETTINGS
@given(h=sizes, w=sizes)
def test_sppf_equals_parallel_spp_bit_for_bit(h, w):
    x = torch.randn(1, 3, h, w)
    assert torch.equal(sppf(x), spp_yolo(x, (5, 9, 13)))


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (3, 3), (7, 1), (13, 13)])
def test_sppf_equivalence_report_on_tiny_maps(shape):
    eq = check_sppf_equivalence(torch.randn(2, 4, *shape))
    assert eq.equal and eq.max_abs_diff == 0.0 and eq.shape == (2, 16, *shape)


def test_sppf_effective_kernels():
    assert sppf_effective_kernels(5) == (5, 9, 13)
    assert sppf_effective_kernels(3) == (3, 5, 7)


def test_yolo_modules_with_convs_agree_and_keep_spatial_size():
    torch.manual_seed(0)
    a = SPPFBlock(64, 32, cv1_act=Act.SILU).eval()  # YOLOv5's SPPF: SiLU after cv1, like YOLOv5's SPP
    b = ParallelPoolBlock(64, 32).eval()
    b.load_state_dict(a.state_dict())  # the same convs; the pools have no parameters
    x = torch.randn(1, 64, 9, 14)
    with torch.inference_mode():
        assert torch.equal(a(x), b(x))
        assert a(x).shape == (1, 32, 9, 14)
    assert sum(p.numel() for p in a.parameters()) == sum(p.numel() for p in b.parameters())


def test_spp_module_output_length():
    m = SPP((6, 3, 2, 1))
    assert m.output_length(256) == 12_800  # SPP-net: ZF-5's 256 channels -> 12,800-d
    assert m(torch.randn(1, 256, 13, 13)).shape == (1, 12_800)


@pytest.mark.parametrize("text,expected", [("1,2,4", (1, 2, 4)), (" 6, 3,2 ,1", (6, 3, 2, 1)), ("psp", (1, 2, 3, 6)), ("spp-net", (6, 3, 2, 1))])
def test_parse_levels_accepts(text, expected):
    assert parse_levels(text) == expected


@pytest.mark.parametrize("text", ["0", "a", "1,,2", "", "1,-2", "2,2", "65", "1.5"])
def test_parse_levels_rejects_with_one_sentence(text):
    with pytest.raises(ValueError) as info:
        parse_levels(text)
    assert "\n" not in str(info.value) and str(info.value).endswith(".")


def test_bad_pool_and_rule_are_named():
    with pytest.raises(ValueError, match="max, avg"):
        spp(torch.randn(1, 1, 4, 4), (1,), pool="sum")
    with pytest.raises(ValueError, match="adaptive, paper"):
        spp(torch.randn(1, 1, 4, 4), (1,), rule="caffe")


def test_ultralytics_sppf_cv1_has_no_activation_yolov5_spp_keeps_silu():
    # ultralytics/nn/modules/block.py: SPPF.cv1 = Conv(c1, c_, 1, 1, act=False); yolov5 SPP.cv1 = Conv(c1, c_, 1, 1)
    sppf_module, spp_module = SPPFBlock(16, 16), ParallelPoolBlock(16, 16)
    assert isinstance(sppf_module.cv1.act, torch.nn.Identity) and isinstance(sppf_module.cv2.act, torch.nn.SiLU)
    assert isinstance(spp_module.cv1.act, torch.nn.SiLU)
    yolov5_sppf = SPPFBlock(16, 16, cv1_act=Act.SILU)
    assert sum(p.numel() for p in sppf_module.parameters()) == sum(p.numel() for p in yolov5_sppf.parameters())


def test_sppf_equivalence_is_nan_and_inf_aware():
    x = torch.randn(1, 2, 9, 9)
    x[0, 0, 4, 4] = float("nan")
    x[0, 1, 0, 0] = float("inf")
    x[0, 1, 8, 8] = float("-inf")
    eq = check_sppf_equivalence(x)
    assert eq.equal and eq.max_abs_diff == 0.0  # identical tensors with NaN/inf are equal; inf - inf is no difference
    same = sppf(x)
    other = same.clone()
    other[0, 0, 0, 0] += 1.5
    assert sppf_equivalence(same, other) == Equivalence(False, 1.5, tuple(same.shape))
    moved = same.clone()
    moved[0, 0, 0, 0] = float("nan")
    assert not sppf_equivalence(same, moved).equal
