"""The pyramid explorer's payload (``spp_viz.explorer``): its numbers are the engine's, equal to
the JSON report's bins; parts already sent travel as ids; size budgets."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch
from PIL import Image

from spp_viz import analysis, explorer
from spp_viz.analysis import FeatureResult, PyramidConfig
from spp_viz.boxes import CellWindow
from spp_viz.choices import BinRule, ChannelView, Pool
from spp_viz.figures import photo_source, reduce_channels
from spp_viz.geometry import StageGeometry
from spp_viz.report import bins_json

IMAGE_KEY = ("digest", (480, 320))


def make_features(c: int = 32, h: int = 10, w: int = 15, stride: int = 32, rf: int = 851) -> FeatureResult:
    """A synthetic non-negative feature map for an input h*stride x w*stride (no model)."""
    fmap = torch.rand((c, h, w), generator=torch.Generator().manual_seed(0)) * 6
    return FeatureResult(fmap, (w * stride, h * stride), "synthetic", "head", "untrained",
                         StageGeometry(stride=stride, channels=c, receptive_field=rf), 1.0)


def make_image(width: int, height: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8))


def bin_boxes(features: FeatureResult, head: analysis.PyramidResult) -> dict[int, list]:
    return {lv.n: analysis.level_geometry(features, lv) for lv in head.levels}


def payload_for(features, head, channel=ChannelView.MEAN, **kwargs) -> explorer.ExplorerPayload:
    photo = photo_source(make_image(*features.input_size))
    return explorer.build_payload(features, head.levels, bin_boxes(features, head), photo, image_key=IMAGE_KEY,
                                  channel=channel, rule=head.config.rule, pool=head.config.pool, **kwargs)


@pytest.mark.parametrize("rule", ["adaptive", "paper"])
@pytest.mark.parametrize("channel", [ChannelView.MEAN, ChannelView.MAX, 3])
def test_bins_equal_the_engine_and_the_report(rule, channel):
    features = make_features()
    head = analysis.pool_pyramid(features, PyramidConfig((1, 2, 4), rule=rule))
    payload = payload_for(features, head, channel)
    assert [lv.n for lv in payload.levels] == [1, 2, 4]
    for level, part in zip(head.levels, payload.levels):
        report = bins_json(analysis.level_geometry(features, level))
        assert (part.rows, part.cols) == level.bins.shape and part.valid == level.valid
        assert [{"index": b.index, "row": b.row, "col": b.col, "cells": list(b.cells), "box": list(b.box),
                 "rf_box": list(b.rf)} for b in part.bins] == report
        values = reduce_channels(level.pooled, channel)
        assert [b.value for b in part.bins] == [float(values[b.row, b.col]) for b in part.bins]
        for b in part.bins:  # max pooling: the winning cell holds the bin's max of its strongest channel
            ch = int(level.pooled[:, b.row, b.col].argmax()) if isinstance(channel, ChannelView) else int(channel)
            assert b.winner is not None
            r, c = b.winner
            assert features.feature[ch, r, c] == level.pooled[ch, b.row, b.col]
            assert b.cells[0] <= r < b.cells[1] and b.cells[2] <= c < b.cells[3]


def test_a_paper_rule_level_whose_grid_is_not_n_by_n():
    features = make_features(h=5, w=7)
    head = analysis.pool_pyramid(features, PyramidConfig((1, 4), rule=BinRule.PAPER))
    level = head.levels[1]
    assert not level.valid and level.bins.shape != (4, 4)
    part = payload_for(features, head).levels[1]
    assert (part.rows, part.cols) == level.bins.shape and not part.valid
    assert len(part.bins) == level.bins.shape[0] * level.bins.shape[1]
    assert [b.index for b in part.bins] == [b.row * part.cols + b.col for b in part.bins]
    assert [list(b.cells) for b in part.bins] == [g["cells"] for g in bins_json(analysis.level_geometry(features, level))]


def test_average_pooling_has_values_and_no_winner():
    features = make_features()
    head = analysis.pool_pyramid(features, PyramidConfig((1, 2), pool=Pool.AVG))
    part = payload_for(features, head).levels[1]
    assert all(b.winner is None for b in part.bins)
    assert part.bins[0].value == pytest.approx(float(features.feature[:, :5, :8].mean()), rel=1e-5)


def test_the_map_part_is_the_channel_view_as_float32():
    features = make_features()
    head = analysis.pool_pyramid(features, PyramidConfig((1, 2)))
    for channel in (ChannelView.MEAN, ChannelView.MAX, 5):
        m = payload_for(features, head, channel).map
        values = np.frombuffer(base64.b64decode(m.values), dtype="<f4").reshape(m.height, m.width)
        assert np.array_equal(values, reduce_channels(features.feature, channel))
        assert (m.rows, m.cols, m.block, m.channels) == (10, 15, 1, 32)
        assert (m.lo, m.hi) == (float(values.min()), float(values.max()))


def test_axes_are_the_stage_spans_and_the_photo_is_the_working_size():
    features = make_features()
    head = analysis.pool_pyramid(features, PyramidConfig((1, 2)))
    payload = payload_for(features, head)
    ys, xs = features.spans
    for axis, spans in zip(payload.axes, (ys, xs)):
        assert (axis.offset, axis.jump, axis.size, axis.count, axis.length) == (spans.offset, spans.jump, spans.size,
                                                                                spans.count, spans.input_length)
    assert (payload.photo.width, payload.photo.height) == features.input_size
    assert payload.photo.src.startswith("data:image/jpeg;base64,")


def test_parts_the_browser_has_travel_as_ids_and_a_new_pyramid_only_sends_new_levels():
    features = make_features()
    first = payload_for(features, analysis.pool_pyramid(features, PyramidConfig((1, 2))))
    full = explorer.to_json(first)
    assert set(full["parts"]) == {first.photo.id, first.map.id, *first.level_ids}
    second = payload_for(features, analysis.pool_pyramid(features, PyramidConfig((1, 2, 4))))
    assert second.photo.id == first.photo.id and second.map.id == first.map.id
    assert second.level_ids[:2] == first.level_ids and second.view != first.view
    update = explorer.to_json(second, set(first.parts()))
    assert set(update["parts"]) == {second.level_ids[2]}
    assert len(json.dumps(update)) < len(json.dumps(full)) / 3
    assert explorer.to_json(second, set(second.parts()))["parts"] == {}
    other_rule = payload_for(features, analysis.pool_pyramid(features, PyramidConfig((1, 2), rule=BinRule.PAPER)))
    assert set(other_rule.level_ids).isdisjoint(first.level_ids)


@pytest.mark.parametrize(("row", "col", "expected"), [
    (0, 0, [(0, 3, 0, 3), (0, 5, 0, 5), (0, 7, 0, 7)]),
    (5, 7, [(3, 8, 5, 10), (1, 10, 3, 12), (0, 10, 1, 14)]),
    (9, 14, [(7, 10, 12, 15), (5, 10, 10, 15), (3, 10, 8, 15)]),
])
def test_sppf_windows_are_k_2k_minus_1_3k_minus_2_clipped(row, col, expected):
    assert [tuple(w.as_json()) for w in explorer.sppf_windows(row, col, 5, 3, 10, 15)] == expected
    assert explorer.sppf_windows(4, 4, 3, 2, 10, 15) == [CellWindow((3, 6), (3, 6)), CellWindow((2, 7), (2, 7))]


def test_sppf_windows_are_what_the_cascade_pools():
    """The cascade's m-th output at a cell is the max over exactly that window."""
    fmap = torch.rand(1, 1, 10, 15)
    y = fmap
    for m, window in enumerate(explorer.sppf_windows(0, 14, 5, 3, 10, 15), start=1):
        y = torch.nn.functional.max_pool2d(y, 5, 1, 2)
        assert float(y[0, 0, 0, 14]) == float(window.select(fmap[0, 0]).max()), m


def test_the_map_is_read_from_the_cpu_copy_of_any_device():
    features = make_features()
    head = analysis.pool_pyramid(features, PyramidConfig((1,)))
    assert payload_for(features, head).map.values  # a CPU map; a CUDA one goes through .detach().cpu() too


def test_payload_budget_for_a_2048_px_image():
    """max_side 2048, stride 16, levels 1,2,4,8: the payload stays under 2 MB (photo included)."""
    features = make_features(c=64, h=96, w=128, stride=16)
    head = analysis.pool_pyramid(features, PyramidConfig((1, 2, 4, 8)))
    size = len(json.dumps(explorer.to_json(payload_for(features, head))))
    assert size < 2_000_000, size


def test_the_components_selection_value_becomes_a_bin():
    from spp_viz.ui.explorer import chosen_bin

    assert chosen_bin({"bin": [4, 3, 2], "seq": 7}) == (4, 3, 2)
    for bad in (None, [4, 3, 2], {"bin": [4, 3]}, {"bin": [4, "3", 2]}, {"bin": [4, -1, 2]}, {"bin": [True, 0, 0]}):
        assert chosen_bin(bad) is None


def test_the_payload_carries_the_pyramid_and_what_the_levels_control_accepts():
    """The explorer's own levels control draws an edit from the payload alone: every level (drawn
    or not), the rule, and the limits and presets of ``options.parse_levels`` from their one home."""
    from spp_viz.defaults import LEVEL_PRESETS, MAX_LEVEL
    from spp_viz.figures.style import MAX_DRAWN_LEVEL

    features = make_features()
    head = analysis.pool_pyramid(features, PyramidConfig((1, 2, 4, 20), rule=BinRule.PAPER))
    data = json.loads(json.dumps(explorer.to_json(payload_for(features, head))))
    assert data["pyramid"] == {"levels": [1, 2, 4, 20], "rule": "paper", "max_level": MAX_LEVEL, "max_drawn": MAX_DRAWN_LEVEL,
                               "presets": {name: list(levels) for name, levels in LEVEL_PRESETS.items()}}
    assert len(data["levels"]) == 3  # level 20 is pooled, not drawn
    other = explorer.to_json(payload_for(features, analysis.pool_pyramid(features, PyramidConfig((1, 2, 4, 21), rule=BinRule.PAPER))))
    assert other["view"] != data["view"]  # a level not drawn is still part of the view the control shows


def test_the_components_levels_value_is_checked_like_the_sidebars():
    from spp_viz.defaults import MAX_LEVEL
    from spp_viz.ui.explorer import edited_levels

    assert edited_levels({"levels": [1, 2, 3], "seq": 4}) == ((1, 2, 3), 4)
    for bad in (None, [1, 2], {"levels": [1, 2]}, {"levels": "1,2", "seq": 1}, {"levels": [1, 1], "seq": 1},
                {"levels": [0], "seq": 1}, {"levels": [MAX_LEVEL + 1], "seq": 1}, {"levels": [1.5], "seq": 1}, {"levels": [True], "seq": 1},
                {"levels": [], "seq": 1}, {"levels": [1], "seq": True}, {"levels": [1], "seq": "1"}):
        assert edited_levels(bad) is None, bad


def test_a_levels_edit_from_the_explorer_becomes_the_sidebars_levels(monkeypatch):
    import streamlit as st

    from spp_viz.ui import explorer as component
    from spp_viz.ui import state

    session = {state.KEY_EXPLORER: {"levels": {"levels": [6, 3, 2, 1], "seq": 3}}, state.KEY_LEVELS: "1,2,4",
               state.KEY_PRESET: "default"}
    monkeypatch.setattr(st, "session_state", session)
    component.on_levels()
    assert session[state.KEY_LEVELS] == "6,3,2,1" and session[state.KEY_PRESET] == "spp-net"
    session[state.KEY_EXPLORER] = {"levels": {"levels": [2, 2], "seq": 4}}  # refused as the sidebar refuses it
    component.on_levels()
    assert session[state.KEY_LEVELS] == "6,3,2,1" and session[state.KEY_PRESET] == "spp-net"
