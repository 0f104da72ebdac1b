"""A detector checkpoint's trained SPPF in the pyramid-pooling family: decided once
(:func:`spp_viz.heads.registry.head_key`), run wherever its head's module is asked for (report,
parameters, FLOPs, timing, branches), its pools on the trained cv1's output."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from spp_viz import analysis, family
from spp_viz.backbones import DetectorBackbone, load_backbone
from spp_viz.devtools.detector_files import make_checkpoint
from spp_viz.family import FamilyRequest, HeadWeights, plan, pool_output, view_lead
from spp_viz.heads.costs import count_flops, flop_model
from spp_viz.heads.registry import build_head
from spp_viz.pooling import cascade_branches, max_pool_same, parallel_branches

PHOTO = Image.new("RGB", (203, 141), (30, 160, 90))


def _features(data: bytes, stage: str = "p5") -> tuple[DetectorBackbone, analysis.FeatureResult]:
    backbone = load_backbone("yolo", stage, checkpoint=data, checkpoint_name="model.pt", device="cpu")
    assert isinstance(backbone, DetectorBackbone)
    image = Image.effect_noise((203, 141), 60).convert("RGB")
    return backbone, analysis.extract_features(backbone, Image.blend(PHOTO, image, 0.5))


@pytest.fixture(scope="module")
def v8n() -> tuple[DetectorBackbone, analysis.FeatureResult]:
    return _features(make_checkpoint("yolov8n").data)


def test_only_the_head_the_block_is_on_the_map_it_reads_is_trained(v8n):
    backbone, features = v8n
    trained = features.trained_head
    assert trained is not None and trained.head == "sppf" and trained.digest == backbone.detector.sppf.digest
    keys = dict(plan(features, FamilyRequest.parse("all")).keys)
    assert keys["sppf"].trained == trained.digest
    assert all(not args.trained for head, args in keys.items() if head != "sppf")
    other_k = dict(plan(features, FamilyRequest.parse("sppf", 3, 3)).keys)  # the file's SPPF has k = 5
    assert not other_k["sppf"].trained
    for stage in ("p3", "p4", "sppf"):
        _, elsewhere = _features(make_checkpoint("yolov8n").data, stage)
        assert elsewhere.trained_head is None
        assert not any(args.trained for _, args in plan(elsewhere, FamilyRequest.parse("all")).keys)


def test_the_trained_key_builds_the_file_s_block_and_nothing_else(v8n):
    _, features = v8n
    (key,) = plan(features, FamilyRequest.parse("sppf")).keys
    head, args = key
    assert build_head(head, args, "cpu", features.trained_head) is features.trained_head.module
    with pytest.raises(ValueError, match="was not given"):
        build_head(head, args, "cpu")
    seeded = build_head(head, args.__class__(args.channels, args.k, args.repeats))
    assert seeded is not features.trained_head.module


def test_its_report_costs_and_pools_are_the_trained_module_s(v8n):
    backbone, features = v8n
    view = family.sppf_view(features, analysis.PyramidConfig(), measure=False)
    lead, check = view_lead(view)
    block = backbone.detector.sppf
    x = features.feature.unsqueeze(0)
    assert lead.id == "sppf" and lead.weights is HeadWeights.TRAINED and not lead.untrained
    assert lead.params == block.params == 164_608
    assert lead.flops == count_flops(block.module, x) == flop_model("sppf", lead.args, features.trained_head).at(*x.shape[-2:])
    with torch.inference_mode():
        y = block.module.cv1(x)
        assert torch.equal(pool_output("sppf", x, lead.args, features.trained_head), torch.cat(cascade_branches(y), 1))
    assert check.other == "spp_yolo" and check.equal and check.max_abs_diff == 0.0
    assert lead.pool_shape == (4 * block.hidden_channels, *features.shape[1:])
    branches = family.pooled_branches(features, lead.key)
    assert [b.name for b in branches][0] == "cv1(x)" and torch.equal(branches[0].pooled, y[0])
    assert view.head("spp_yolo").weights is HeadWeights.SEEDED and view.head("spp").weights is HeadWeights.NONE


def test_its_timing_runs_the_trained_module(v8n):
    """What the costs table times for the trained head is the file's module, not a seeded copy; the
    timing worker gets the block by value and times it too."""
    _, features = v8n
    module = features.trained_head.module
    calls = []
    key = next(k for k in plan(features, family.SPPF_VIEW).keys if k[0] == "sppf")
    handle = module.register_forward_hook(lambda *_: calls.append(1))
    try:
        family.time_heads(features.feature.unsqueeze(0).contiguous(), [key], trained=features.trained_head)
    finally:
        handle.remove()
    assert calls
    assert family.measure_heads(features, [key])[key].total.median_ms > 0


def test_a_parallel_spp_file_is_the_spp_yolo_head():
    backbone, features = _features(make_checkpoint("yolov5n", pyramid="spp").data)
    assert features.trained_head is not None and features.trained_head.head == "spp_yolo"
    view = family.sppf_view(features, analysis.PyramidConfig(), measure=False)
    lead, check = view_lead(view)
    assert lead.id == "spp_yolo" and lead.trained and view.head("sppf").weights is HeadWeights.SEEDED
    assert check.other == "sppf" and check.equal
    x = features.feature.unsqueeze(0)
    with torch.inference_mode():
        y = backbone.detector.sppf.module.cv1(x)
        expected = torch.cat(parallel_branches(y, (5, 9, 13), max_pool_same), 1)
    assert torch.equal(pool_output("spp_yolo", x, lead.args, features.trained_head), expected)
    assert "spp_yolo head is" in backbone.detector.trained_note("p5")


def test_the_detector_s_blocks_pool_with_the_pooling_module_s_arithmetic(v8n):
    backbone, features = v8n
    block = backbone.detector.sppf.module
    x = features.feature.unsqueeze(0)
    with torch.inference_mode():
        y = block.cv1(x)
        by_hand = [y]
        for _ in range(3):
            by_hand.append(torch.nn.functional.max_pool2d(by_hand[-1], 5, 1, 2))
        assert all(torch.equal(a, b) for a, b in zip(block.pool_part(y), by_hand))
        assert torch.equal(block(x), block.cv2(torch.cat(by_hand, 1)))
