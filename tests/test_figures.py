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

from spp_viz import analysis, dimensions, figures
from spp_viz.analysis import FeatureResult, Prediction, PyramidConfig
from spp_viz.bins import pyramid_bins
from spp_viz.choices import ChannelView, Pool
from spp_viz.devtools.plotly_arrays import count_numbers
from spp_viz.family import PooledBranch
from spp_viz.figures import text
from spp_viz.geometry import StageGeometry


def make_features(c: int = 32, h: int = 10, w: int = 15, stride: int = 32, rf: int = 851, seed: int = 0) -> FeatureResult:
    """A synthetic non-negative feature map, as a ReLU stage would give, for an input h*stride x w*stride."""
    g = torch.Generator().manual_seed(seed)
    fmap = torch.rand((c, h, w), generator=g) * 6
    geometry = StageGeometry(stride=stride, channels=c, receptive_field=rf)
    return FeatureResult(fmap, (w * stride, h * stride), "synthetic", "head", "untrained", geometry, 1.0)


def make_image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def bin_boxes(features: FeatureResult, head: analysis.PyramidResult) -> dict[int, list]:
    """Every level's bins in image pixels, as the app passes them: ``analysis.level_geometry``."""
    return {lv.n: analysis.level_geometry(features, lv) for lv in head.levels}


@pytest.fixture(scope="module")
def features() -> FeatureResult:
    return make_features()


@pytest.fixture(scope="module")
def head(features) -> analysis.PyramidResult:
    return analysis.pool_pyramid(features, PyramidConfig((1, 2, 4)))


# ----------------------------------------------------------------------------
# The photo (the pyramid explorer draws the bins over it: tests/test_explorer.py)


def test_overlap_summary_names_shared_cells(head):
    """On 10 x 15 cells, level 4's neighbouring adaptive bins share a cell."""
    assert "share 1 cell" in figures.overlap_summary(head.levels[2].bins)
    assert figures.overlap_summary(head.levels[0].bins) == "level 1: no overlap"


def test_overlap_summary_says_when_a_level_has_no_bins_or_more_bins_than_cells():
    """The walkthrough's 13 x 19 map: the paper rule's level 16 has 0 x 18 windows (no bins at all),
    and the adaptive rule's level 16 has more bins than the 13 rows, so bins share or repeat cells."""
    paper = pyramid_bins(13, 19, 16, "paper")
    assert paper.shape == (0, 18)
    assert figures.overlap_summary(paper) == "level 16: no bins (the paper rule gives 0 × 18 windows here)"
    adaptive = pyramid_bins(13, 19, 16)
    assert "on only 13 cells" in figures.overlap_summary(adaptive)
    assert "share 1 cell" in figures.overlap_summary(pyramid_bins(13, 19, 4))  # 4 < 13: the usual phrase


def test_bins_caption_names_the_rule_that_drew_the_bins():
    from spp_viz.choices import BinRule

    assert "Adaptive bins" in text.bins_caption(32, ["level 1: no overlap"])
    paper = text.bins_caption(32, ["level 1: no overlap"], BinRule.PAPER)
    assert "Adaptive" not in paper and "ceil(a/n)" in paper


def test_sppf_output_says_the_fixed_length_and_what_the_paper_rule_gave():
    fixed = 1280 * (256 + 16 + 1)
    assert "(With adaptive bins" not in text.sppf_output(1280, 13, 19, fixed)
    said = text.sppf_output(1280, 13, 19, fixed, paper_length=1280 * 17)
    assert f"**{fixed:,}**" in said and f"{1280 * 17:,}" in said


def test_photo_is_downsampled_for_display_only():
    image = make_image(2048, 1536)
    source, size = figures.photo_source(image)
    assert max(size) == figures.DISPLAY_MAX_SIDE
    decoded = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
    assert decoded.format == "JPEG" and decoded.size == size


def test_spp_vector_figure_marks_every_level_segment(features, head):
    colours = {1: "#111111", 2: "#222222", 4: "#444444"}
    fig = figures.spp_vector_figure(head, colours=colours)
    # each level's segment drawn in its own colour, together the whole vector in order
    lines = [t for t in fig.data if t.name == "SPP vector"]
    np.testing.assert_allclose(np.concatenate([np.asarray(t.y) for t in lines]), head.vector.numpy())
    assert [(t.x0, t.line.color) for t in lines] == [(start, colours[level.n])
                                                      for (start, _), level in zip(head.level_offsets(), head.levels)]
    assert len(fig.layout.shapes) == len(head.levels)
    for shape, (start, end), level in zip(fig.layout.shapes, head.level_offsets(), head.levels):
        assert (shape.x0, shape.x1) == (start, end) and shape.fillcolor == colours[level.n]
    # each level is named in the legend (a label over a narrow segment was clipped), in its colour
    named = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in named] == fig.layout.meta["levels"] == ["level 1: 32 × 1 × 1", "level 2: 32 × 2 × 2", "level 4: 32 × 4 × 4"]
    assert [t.marker.color for t in named] == ["#111111", "#222222", "#444444"]
    assert fig.layout.meta["colours"] == {"1": "#111111", "2": "#222222", "4": "#444444"}
    assert not fig.layout.annotations
    assert f"{head.length:,} numbers" in fig.layout.title.text


def test_long_vectors_become_a_min_max_envelope():
    features = make_features(c=1280, h=8, w=8)
    head = analysis.pool_pyramid(features, PyramidConfig((64, 32), Pool.AVG))
    assert head.length == 1280 * (64 * 64 + 32 * 32)
    fig = figures.spp_vector_figure(head)
    assert fig.layout.meta["downsampled"] is True
    assert "downsampled" in fig.layout.title.text
    lo = np.concatenate([np.asarray(t.y) for t in fig.data if t.name == "bucket min"])
    hi = np.concatenate([np.asarray(t.y) for t in fig.data if t.name == "bucket max"])
    assert lo.min() == pytest.approx(float(head.vector.min()))
    assert hi.max() == pytest.approx(float(head.vector.max()))
    # each level's envelope starts where its segment does, in its colour
    starts = [t.x0 for t in fig.data if t.name == "bucket min"]
    assert starts == [start for start, _ in head.level_offsets()]
    assert count_numbers(fig.to_plotly_json()["data"]) <= figures.MAX_VECTOR_POINTS


def test_the_relu6_ceiling_is_counted_and_said():
    vector = np.array([0.0, 6.0, 5.9999, 6.0, 6.001], dtype=np.float32)
    assert figures.at_ceiling(vector) == 2
    assert "2 of its numbers are exactly 6.0" in text.vector_ceiling(2) and text.vector_ceiling(0) == ""


# ----------------------------------------------------------------------------
# Panels 4-7


def test_size_sweep_figure(features):
    sweep = dimensions.size_sweep(features.geometry, (1, 2, 4), aspect=1.5)
    current = dimensions.size_sweep(features.geometry, (1, 2, 4), aspect=1.5, short_sides=(320,))[0]
    assert (current.input_width, current.input_height) == (480, 320)
    fig = figures.size_sweep_figure(sweep, current=current)
    star = next(t for t in fig.data if t.name == "this image")
    assert list(star.y) == [current.feature_height * current.feature_width] == [current.sppf_numbers // (4 * 32)]
    spp = next(t for t in fig.data if t.name == "SPP vector (fixed)")
    sppf = next(t for t in fig.data if t.name.startswith("SPPF pools alone (4C)"))
    assert len(set(spp.y)) == 1 and spp.y[0] == 32 * 21
    assert list(sppf.y) == sorted(sppf.y) and sppf.y[-1] > sppf.y[0]
    assert fig.layout.yaxis2.type == "log"
    assert "480 × 320" in fig.layout.xaxis.categoryarray


def test_sppf_branches_and_costs(features, head):
    from spp_viz.family import pooled_branches, sppf_view
    from spp_viz.figures.tables import POOL_COLUMN, TOTAL_COLUMN
    from spp_viz.timing import format_latency, threads_text

    view = sppf_view(features, PyramidConfig())
    branches = pooled_branches(features, view.head("sppf").key)
    fig = figures.sppf_branches_figure(branches, view.kernels, 0)
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(heatmaps) == 4
    for trace, branch in zip(heatmaps, branches):
        np.testing.assert_allclose(np.asarray(trace.z), branch.pooled[0].numpy())
    assert [a.text for a in fig.layout.annotations][:2] == ["x<br>the input, 1 cell", "pool 5<br>5 × 5 cells"]
    rows = figures.costs_rows(view)
    assert [r["head"] for r in rows][:2] == ["SPPF (YOLOv5): k=5, n=3", "SPP (YOLOv5): parallel 5, 9, 13"]
    assert rows[0]["output numbers"] == 32 * 10 * 15  # after cv2: back to C channels
    assert len(rows) == 3
    for row, report in zip(rows, view.heads):  # no None cell anywhere: every head has both latencies, as the page writes them
        assert all(value is not None for value in row.values()), row
        assert report.timing is not None
        assert row[POOL_COLUMN] == format_latency(report.timing.pool) and row[TOTAL_COLUMN] == format_latency(report.timing.total)
        assert " ± " in str(row[POOL_COLUMN]) and row["timed on"] == f"cpu, {threads_text(report.timing.pool.threads)}"
    other = sppf_view(features, PyramidConfig((6, 3, 2, 1), Pool.AVG), measure=False)
    assert figures.costs_rows(other)[-1]["output numbers"] == 32 * 50  # the SPP row is the current head


def test_predictions_and_bin_labels_figures(features):
    preds = [Prediction("Egyptian cat", 0.31, 285), Prediction("tiger cat", 0.17, 282)]
    fig = figures.predictions_figure(preds)
    assert list(fig.data[0].y) == ["tiger cat", "Egyptian cat"]  # top-1 drawn at the top
    head = analysis.pool_pyramid(features, PyramidConfig((2,), Pool.AVG))
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
    table = dimensions.dimension_table(features, head)
    assert figures.table_csv(table).splitlines()[0] == "key,step,shape,arithmetic,numbers"  # the key for scripts


def test_count_numbers_reads_plotly_typed_arrays(features, head):
    fig = figures.rule_comparison_figure(head.levels[2].bins, pyramid_bins(10, 15, 4, "paper"))
    assert count_numbers(fig) == count_numbers(json.loads(fig.to_json()))
    assert count_numbers(fig) >= 150


@pytest.mark.parametrize("stride,channels", [(4, 24), (32, 1280)])
def test_every_figure_stays_under_a_million_numbers_for_a_2048_px_image(stride, channels):
    """A 2048 x 1536 input: stage-2-like (24 x 384 x 512) and head-like (1280 x 48 x 64) maps."""
    image = make_image(2048, 1536)
    features = make_features(c=channels, h=1536 // stride, w=2048 // stride, stride=stride)
    head = analysis.pool_pyramid(features, PyramidConfig((6, 3, 2, 1)))
    # the figure only reads the branches: stand-ins avoid ~3 s of real 13 x 13 pooling on 2 cores
    branches = tuple(PooledBranch("sppf", name, torch.rand(channels, 1536 // stride, 2048 // stride))
                     for name in ("x", "pool 5", "pool 9", "pool 13"))
    labels = [[Prediction("x", 0.5, 0)] * 6 for _ in range(6)]
    built = [
        figures.spp_vector_figure(head),
        figures.sppf_branches_figure(branches, (5, 9, 13), ChannelView.MAX),
        figures.size_sweep_figure(dimensions.size_sweep(features.geometry, head.config.levels, aspect=4 / 3)),
        figures.bin_labels_figure(image, head.levels[0], labels, analysis.level_geometry(features, head.levels[0])),
        figures.rule_comparison_figure(head.levels[0].bins, pyramid_bins(1536 // stride, 2048 // stride, 6, "paper")),
    ]
    for fig in built:
        assert count_numbers(fig) < figures.MAX_FIGURE_NUMBERS, fig.layout.meta
        assert len(fig.to_json()) < 1_500_000, fig.layout.meta


@pytest.mark.parametrize("rows,cols,h_spacing,v_spacing,n_titles", [
    (1, 3, 0.07, 0.0, 3), (1, 2, 0.1, 0.0, 2), (2, 3, 0.03, 0.15, 4), (2, 5, 0.03, 0.15, 7), (3, 2, 0.1, 0.2, 6),
    (1, 1, 0.03, 0.15, 1), (2, 2, 0.06, 0.1, 3), (2, 5, 0.03, 0.15, 10),
])
def test_subplot_grid_is_make_subplots_layout(rows, cols, h_spacing, v_spacing, n_titles):
    """The figures built in one call lay out their cells as ``make_subplots`` does: every axis's
    domain and anchor, and the titles' annotations (an empty title has none)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from spp_viz.figures.style import axis_names, subplot_grid

    titles = [f"map {i}" if i != 1 else "" for i in range(n_titles)]
    reference = make_subplots(rows, cols, subplot_titles=titles, horizontal_spacing=h_spacing,
                              vertical_spacing=v_spacing).to_dict()["layout"]
    xaxes, yaxes, notes = subplot_grid(titles, rows, cols, h_spacing, v_spacing)
    layout: dict[str, object] = {"annotations": notes}
    for i, (x_axis, y_axis) in enumerate(zip(xaxes, yaxes)):
        x_name, y_name = axis_names(i)
        layout[x_name], layout[y_name] = x_axis, y_axis
    ours = go.Figure(layout=layout).to_dict()["layout"]
    reference.pop("template")
    ours.pop("template")
    assert ours == reference
