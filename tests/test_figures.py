"""Figure builders tested directly, without Streamlit: traces, shapes, hover text, size budgets.

Most tests run on synthetic feature maps (no model), so they are fast; one builds every figure
for a 2048-px image to check no figure carries more than a million numbers.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from spp_viz import analysis, figures
from spp_viz.analysis import FeatureResult, HeadConfig, Prediction
from spp_viz.backbones import StageGeometry
from spp_viz.bins import pyramid_bins
from spp_viz.devtools.plotly_arrays import count_numbers


def make_features(c: int = 32, h: int = 10, w: int = 15, stride: int = 32, rf: int = 851, seed: int = 0) -> FeatureResult:
    """A synthetic non-negative feature map, as a ReLU stage would give, for an input h*stride x w*stride."""
    g = torch.Generator().manual_seed(seed)
    fmap = torch.rand((c, h, w), generator=g) * 6
    geometry = StageGeometry(stride=stride, channels=c, receptive_field=rf)
    return FeatureResult(fmap, (w * stride, h * stride), "synthetic", "head", "untrained", geometry, 1.0)


def make_image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def bin_boxes(features: FeatureResult, head: analysis.HeadResult) -> dict[int, list]:
    """Every level's bins in image pixels, as the app passes them: ``analysis.level_geometry``."""
    return {lv.n: analysis.level_geometry(features, lv) for lv in head.levels}


@pytest.fixture(scope="module")
def features() -> FeatureResult:
    return make_features()


@pytest.fixture(scope="module")
def head(features) -> analysis.HeadResult:
    return analysis.analyse_head(features, HeadConfig((1, 2, 4)))


# ----------------------------------------------------------------------------
# Panel 1


def test_bins_over_image_has_one_hover_polygon_per_bin_and_an_outline_per_level(features, head):
    image = make_image(*features.input_size)
    fig = figures.bins_over_image(image, head.levels, bin_boxes(features, head))
    image_traces = [t for t in fig.data if t.type == "image"]
    assert len(image_traces) == 1
    assert image_traces[0].source.startswith("data:image/jpeg;base64,")
    assert image_traces[0].z is None  # the photo travels as one JPEG, not as pixel numbers
    polygons = [t for t in fig.data if t.type == "scatter" and t.fill == "toself"]
    outlines = [t for t in fig.data if t.type == "scatter" and t.mode == "lines"]
    assert len(polygons) == 1 + 4 + 16
    assert len(outlines) == 3
    assert len(fig.data) == 1 + 3 + 21
    assert fig.layout.meta["figure"] == "bins_over_image"


def test_bin_hover_names_level_cell_ranges_index_and_pixels(features, head):
    image = make_image(*features.input_size)
    fig = figures.bins_over_image(image, head.levels, bin_boxes(features, head))
    level2 = head.levels[1]
    b = next(b for b in level2.bins.bins if (b.row, b.col) == (1, 0))
    box = next(g.box for g in analysis.level_geometry(features, level2) if (g.row, g.col) == (1, 0))
    text = next(t.text for t in fig.data if t.name == "L2 (1,0)")
    assert "level 2" in text and "(row 1, col 0)" in text and "index 2" in text
    assert f"rows [{b.rows[0]}, {b.rows[1]})" in text and f"cols [{b.cols[0]}, {b.cols[1]})" in text
    assert f"pixels x [{box.x0:.0f}, {box.x1:.0f})" in text
    value = float(level2.pooled.mean(0)[1, 0])
    assert f"{value:.4g}" in text


def test_adaptive_bins_overlap_visibly(features, head):
    """On 10 x 15 cells, level 4's neighbouring adaptive bins share a cell: their polygons overlap."""
    image = make_image(*features.input_size)
    fig = figures.bins_over_image(image, head.levels, bin_boxes(features, head))
    first = next(t for t in fig.data if t.name == "L4 (0,0)")
    second = next(t for t in fig.data if t.name == "L4 (0,1)")
    assert max(first.x) > min(second.x)
    assert "0.1)" in first.fillcolor  # semi-transparent, so the shared cells look darker
    assert "share 1 cell" in figures.overlap_summary(head.levels[2].bins)
    assert figures.overlap_summary(head.levels[0].bins) == "level 1: no overlap"


def test_show_levels_and_the_drawing_cap(features):
    head = analysis.analyse_head(features, HeadConfig((2, 20), "avg"))
    image = make_image(*features.input_size)
    fig = figures.bins_over_image(image, head.levels, bin_boxes(features, head))
    assert fig.layout.meta["levels"] == [2]  # 20 > MAX_DRAWN_LEVEL is pooled, not drawn
    fig = figures.bins_over_image(image, head.levels, bin_boxes(features, head), shown_levels=[])
    assert fig.layout.meta["levels"] == []
    assert [t.type for t in fig.data] == ["image"]


def test_selected_bin_and_receptive_field_box(features, head):
    image = make_image(*features.input_size)
    fig = figures.bins_over_image(image, head.levels, bin_boxes(features, head), selected=(2, 1, 1), show_rf=True)
    names = [t.name or "" for t in fig.data]
    assert "selected: level 2 (1, 1)" in names
    rf = next(t for t in fig.data if (t.name or "").startswith("receptive field"))
    sel = next(t for t in fig.data if t.name == "selected: level 2 (1, 1)")
    assert min(x for x in rf.x if x is not None) <= min(x for x in sel.x if x is not None)
    assert max(x for x in rf.x if x is not None) >= max(x for x in sel.x if x is not None)
    assert fig.layout.meta["selected"] == [2, 1, 1]
    # the drawn boxes are the engine's, number for number (receptive field: padding included)
    g = next(g for g in analysis.level_geometry(features, head.levels[1]) if (g.row, g.col) == (1, 1))
    assert (min(x for x in rf.x if x is not None), max(x for x in rf.x if x is not None)) == (g.rf_box.x0, g.rf_box.x1)
    assert (min(y for y in rf.y if y is not None), max(y for y in rf.y if y is not None)) == (g.rf_box.y0, g.rf_box.y1)
    assert (min(x for x in sel.x if x is not None), max(x for x in sel.x if x is not None)) == (g.box.x0, g.box.x1)


def test_global_context_receptive_field_is_the_whole_image(features, head):
    """Squeeze-excite backbones: the theoretical RF is the whole image, and the figure says so."""
    from dataclasses import replace

    se = replace(features, geometry=replace(features.geometry, global_context=True))
    fig = figures.bins_over_image(make_image(*se.input_size), head.levels, bin_boxes(se, head), selected=(2, 0, 0),
                                  show_rf=True, global_context=True)
    rf = next(t for t in fig.data if (t.name or "").startswith("receptive field"))
    assert "whole image" in rf.name and "squeeze-excite" in rf.text
    width, height = se.input_size
    assert (min(x for x in rf.x if x is not None), max(x for x in rf.x if x is not None)) == (0, width)
    assert (min(y for y in rf.y if y is not None), max(y for y in rf.y if y is not None)) == (0, height)


def test_hover_index_is_the_row_major_position_under_the_paper_rule():
    """10 x 10 map, level 6, paper rule: 5 x 5 bins; indices 0..24, no repeats (issue 8)."""
    features = make_features(h=10, w=10)
    head = analysis.analyse_head(features, HeadConfig((6,), "max", "paper"))
    fig = figures.bins_over_image(make_image(*features.input_size), head.levels, bin_boxes(features, head))
    polygons = [t for t in fig.data if t.type == "scatter" and t.fill == "toself"]
    indices = sorted(int(t.text.split("index ")[1].split("<")[0]) for t in polygons)
    rows, cols = head.levels[0].bins.shape
    assert indices == list(range(rows * cols))


def test_paper_rule_differing_bins_are_dashed_red():
    features = make_features(h=11, w=11)
    head = analysis.analyse_head(features, HeadConfig((4,), "max", "paper"))
    assert head.levels[0].differing
    fig = figures.bins_over_image(make_image(*features.input_size), head.levels, bin_boxes(features, head))
    red = [t for t in fig.data if t.name == "paper rule ≠ adaptive"]
    assert len(red) == 1 and red[0].line.dash == "dash"


def test_photo_is_downsampled_for_display_only():
    image = make_image(2048, 1536)
    source, size = figures.photo_source(image)
    assert max(size) == figures.DISPLAY_MAX_SIDE
    decoded = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
    assert decoded.format == "JPEG" and decoded.size == size


# ----------------------------------------------------------------------------
# Panel 2


def test_feature_map_figure_shape_title_and_winners(features, head):
    fig = figures.feature_map_figure(features.feature, 3, levels=head.levels)
    heat = fig.data[0]
    assert heat.type == "heatmap"
    assert np.asarray(heat.z).shape == (10, 15)
    np.testing.assert_allclose(np.asarray(heat.z), features.feature[3].numpy())
    assert "32 × 10 × 15" in fig.layout.title.text
    markers = {t.name: t for t in fig.data if t.type == "scatter"}
    assert set(markers) == {"max of level 1", "max of level 2", "max of level 4"}
    assert len(markers["max of level 4"].x) == 16
    level4 = head.levels[2]
    for r, k, cr, cc, _ in figures.winner_cells(level4, 3):
        assert (cr, cc) == tuple(level4.winners[3, r, k].tolist())
        b = level4.bins.bins[r * 4 + k]
        assert b.rows[0] <= cr < b.rows[1] and b.cols[0] <= cc < b.cols[1]
        assert float(features.feature[3, cr, cc]) == float(level4.pooled[3, r, k])


def test_feature_map_mean_and_max_views(features, head):
    for channel, expected in (("mean", features.feature.mean(0)), ("max", features.feature.amax(0))):
        fig = figures.feature_map_figure(features.feature, channel, levels=head.levels)
        np.testing.assert_allclose(np.asarray(fig.data[0].z), expected.numpy(), rtol=1e-6)
    # in the channel-max view each marker sits on the bin's maximum of the shown map
    level = head.levels[1]
    shown = features.feature.amax(0)
    for r, k, cr, cc, _ in figures.winner_cells(level, "max"):
        b = level.bins.bins[r * 2 + k]
        assert float(shown[cr, cc]) == float(shown[b.rows[0]:b.rows[1], b.cols[0]:b.cols[1]].max())


def test_avg_pooling_has_no_winner_markers(features):
    head = analysis.analyse_head(features, HeadConfig((1, 2), "avg"))
    fig = figures.feature_map_figure(features.feature, "mean", levels=head.levels, selected=(2, 0, 1))
    assert [t.type for t in fig.data] == ["heatmap", "scatter"]  # no markers; the level's other bins dotted
    assert fig.data[1].name == "level 2 bins" and fig.data[1].x.count(None) == 3
    assert len(fig.layout.shapes) == 1  # the selected bin


def test_large_feature_maps_are_block_reduced():
    fmap = torch.rand(2, 512, 384)
    fig = figures.feature_map_figure(fmap, "max")
    z = np.asarray(fig.data[0].z)
    assert z.size <= figures.MAX_HEATMAP_CELLS
    assert fig.layout.meta["block"] == 2
    assert float(z.max()) == pytest.approx(float(fmap.amax(0).max()))


# ----------------------------------------------------------------------------
# Panel 3


def test_pooled_level_heatmap_shapes_and_click_targets(features, head):
    for level in head.levels:
        fig = figures.pooled_level_heatmap(level, 5, levels=(1, 2, 4))
        z = np.asarray(fig.data[0].z)
        assert z.shape == (level.n, level.n)
        np.testing.assert_allclose(z, level.pooled[5].numpy())
        clicks = fig.data[1]
        assert clicks.type == "scatter" and len(clicks.x) == level.n ** 2
        assert fig.layout.clickmode == "event+select"
        assert fig.layout.meta == {"figure": "pooled_level_heatmap", "level": level.n, "shape": [level.n, level.n]}
    fig = figures.pooled_level_heatmap(head.levels[2], "mean", selected=(3, 1))
    assert len(fig.layout.shapes) == 1 and fig.layout.shapes[0].x0 == 0.5 and fig.layout.shapes[0].y0 == 2.5
    assert "level 4" in fig.data[1].text[0] and "(row 0, col 0)" in fig.data[1].text[0]


def test_pooled_heatmap_for_a_broken_paper_level():
    features = make_features(h=3, w=4)
    head = analysis.analyse_head(features, HeadConfig((6,), "max", "paper"))
    fig = figures.pooled_level_heatmap(head.levels[0], "mean")
    assert fig.layout.meta["shape"] == [0, 0]
    assert fig.layout.annotations[0].text.replace("<br>", " ").startswith("No bins. Level 6 under the paper rule")


def test_selection_to_bin():
    assert figures.selection_to_bin(4, [{"x": 2, "y": 3, "point_index": 14}]) == (4, 3, 2)
    assert figures.selection_to_bin(4, [{"x": 1.0, "y": 0.0}, {"x": 3, "y": 1}]) == (4, 1, 3)
    assert figures.selection_to_bin(4, []) is None
    assert figures.selection_to_bin(4, [{"x": None, "y": 1}]) is None


def test_spp_vector_figure_marks_every_level_segment(features, head):
    fig = figures.spp_vector_figure(head)
    assert len(fig.data) == 1
    np.testing.assert_allclose(np.asarray(fig.data[0].y), head.vector.numpy())
    assert len(fig.layout.shapes) == len(head.levels)
    for shape, (start, end) in zip(fig.layout.shapes, head.level_offsets()):
        assert (shape.x0, shape.x1) == (start, end)
    assert f"{head.length:,} numbers" in fig.layout.title.text


def test_long_vectors_become_a_min_max_envelope():
    features = make_features(c=1280, h=8, w=8)
    head = analysis.analyse_head(features, HeadConfig((64, 32), "avg"))
    assert head.length == 1280 * (64 * 64 + 32 * 32)
    fig = figures.spp_vector_figure(head)
    assert fig.layout.meta["downsampled"] is True
    assert "downsampled" in fig.layout.title.text
    lo, hi = np.asarray(fig.data[0].y), np.asarray(fig.data[1].y)
    assert lo.min() == pytest.approx(float(head.vector.min()))
    assert hi.max() == pytest.approx(float(head.vector.max()))
    assert count_numbers(fig.to_plotly_json()["data"]) <= figures.MAX_VECTOR_POINTS


# ----------------------------------------------------------------------------
# Panels 4-7


def test_size_sweep_figure(features):
    sweep = analysis.size_sweep(features.geometry, (1, 2, 4), aspect=1.5)
    current = analysis.size_sweep(features.geometry, (1, 2, 4), aspect=1.5, short_sides=(320,))[0]
    assert (current.input_width, current.input_height) == (480, 320)
    fig = figures.size_sweep_figure(sweep, current=current)
    star = next(t for t in fig.data if t.name == "this image")
    assert list(star.y) == [current.feature_height * current.feature_width] == [current.sppf_numbers // (4 * 32)]
    spp = next(t for t in fig.data if t.name == "SPP vector (fixed)")
    sppf = next(t for t in fig.data if t.name.startswith("SPPF output"))
    assert len(set(spp.y)) == 1 and spp.y[0] == 32 * 21
    assert list(sppf.y) == sorted(sppf.y) and sppf.y[-1] > sppf.y[0]
    assert fig.layout.yaxis2.type == "log"
    assert "480 × 320" in fig.layout.xaxis.categoryarray


def test_sppf_branches_and_costs(features, head):
    sppf = analysis.compare_sppf(features, measure=True)
    fig = figures.sppf_branches_figure(sppf, 0)
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(heatmaps) == 4
    for trace, branch in zip(heatmaps, sppf.branches):
        np.testing.assert_allclose(np.asarray(trace.z), branch[0].numpy())
    assert [a.text for a in fig.layout.annotations][:2] == ["x (input, 1 cell)", "pool 5 (5 × 5 cells)"]
    rows = figures.costs_rows(sppf)
    assert [r["head"] for r in rows][:2] == ["SPPF (k=5, x3)", "Parallel SPP (5, 9, 13)"]
    assert rows[0]["output numbers"] == 32 * 10 * 15  # after cv2: back to C channels
    assert len(rows) == 3
    for row in rows:  # no None cell anywhere: every head has both latencies
        assert all(value is not None for value in row.values()), row
        pool, total = float(row["pool ms (median)"]), float(row["total ms (median)"])  # type: ignore[arg-type]
        assert pool > 0 and total >= pool * 0.5
    other = analysis.compare_sppf(features, HeadConfig((6, 3, 2, 1), "avg"))
    assert figures.costs_rows(other)[-1]["output numbers"] == 32 * 50  # the SPP row is the current head


def test_predictions_and_bin_labels_figures(features):
    preds = [Prediction("Egyptian cat", 0.31, 285), Prediction("tiger cat", 0.17, 282)]
    fig = figures.predictions_figure(preds)
    assert list(fig.data[0].y) == ["tiger cat", "Egyptian cat"]  # top-1 drawn at the top
    head = analysis.analyse_head(features, HeadConfig((2,), "avg"))
    labels = [[Prediction(f"class {r}{c}", 0.5, 0) for c in range(2)] for r in range(2)]
    fig = figures.bin_labels_figure(make_image(*features.input_size), head.levels[0], labels,
                                    analysis.level_geometry(features, head.levels[0]))
    assert fig.layout.meta["labels"] == ["class 00", "class 01", "class 10", "class 11"]
    assert len(fig.layout.annotations) == 4


def test_rule_comparison_figure_counts_pooled_cells():
    fig = figures.rule_comparison_figure(pyramid_bins(10, 15, 4, "adaptive"), pyramid_bins(10, 15, 4, "paper"))
    adaptive, paper = (np.asarray(t.z) for t in fig.data if t.type == "heatmap")
    assert adaptive.min() >= 1  # adaptive bins cover every cell
    assert paper[:, -1].max() == 0  # the paper's windows never reach the last column of 15


# ----------------------------------------------------------------------------
# Exports and the number budget


def test_vector_exports_round_trip(features, head):
    loaded = np.load(io.BytesIO(figures.vector_npy_bytes(head.vector)))
    np.testing.assert_array_equal(loaded, head.vector.numpy())
    lines = figures.vector_csv(head).strip().split("\n")
    assert lines[0] == "index,level,channel,bin_row,bin_col,value"
    assert len(lines) == head.length + 1
    start = head.level_offsets()[2][0]  # level 4, channel 1, bin (2, 3)
    i = start + 1 * 16 + 2 * 4 + 3
    idx, level, channel, row, col, value = lines[i + 1].split(",")
    assert (int(idx), int(level), int(channel), int(row), int(col)) == (i, 4, 1, 2, 3)
    assert float(value) == pytest.approx(float(head.levels[2].pooled[1, 2, 3]))
    table = analysis.dimension_table(features, head)
    assert figures.table_csv(table).splitlines()[0] == "step,shape,arithmetic,numbers"


def test_count_numbers_reads_plotly_typed_arrays(features, head):
    fig = figures.feature_map_figure(features.feature, "mean", levels=head.levels)
    assert count_numbers(fig) == count_numbers(json.loads(fig.to_json()))
    assert count_numbers(fig) >= 150


@pytest.mark.parametrize("stride,channels", [(4, 24), (32, 1280)])
def test_every_figure_stays_under_a_million_numbers_for_a_2048_px_image(stride, channels):
    """A 2048 x 1536 input: stage-2-like (24 x 384 x 512) and head-like (1280 x 48 x 64) maps."""
    image = make_image(2048, 1536)
    features = make_features(c=channels, h=1536 // stride, w=2048 // stride, stride=stride)
    head = analysis.analyse_head(features, HeadConfig((6, 3, 2, 1)))
    # the figure only reads the branches: stand-ins avoid ~3 s of real 13 x 13 pooling on 2 cores
    branches = tuple(torch.rand(channels, 1536 // stride, 2048 // stride) for _ in range(4))
    sppf = analysis.SPPFComparison(5, (5, 9, 13), branches, True, 0.0, (4 * channels, 1536 // stride, 2048 // stride))
    labels = [[Prediction("x", 0.5, 0)] * 6 for _ in range(6)]
    built = [
        figures.bins_over_image(image, head.levels, bin_boxes(features, head), selected=(6, 2, 2), show_rf=True),
        figures.feature_map_figure(features.feature, "mean", levels=head.levels, selected=(6, 2, 2)),
        figures.spp_vector_figure(head),
        figures.sppf_branches_figure(sppf, "max"),
        figures.size_sweep_figure(analysis.size_sweep(features.geometry, head.config.levels, aspect=4 / 3)),
        figures.bin_labels_figure(image, head.levels[0], labels, analysis.level_geometry(features, head.levels[0])),
        *(figures.pooled_level_heatmap(level, "mean") for level in head.levels),
        figures.rule_comparison_figure(head.levels[0].bins, pyramid_bins(1536 // stride, 2048 // stride, 6, "paper")),
    ]
    for fig in built:
        assert count_numbers(fig) < figures.MAX_FIGURE_NUMBERS, fig.layout.meta
        assert len(fig.to_json()) < 1_500_000, fig.layout.meta
