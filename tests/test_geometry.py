"""Receptive-field spans against the real architectures' gradient support.

With every activation replaced by the identity, max pools by average pools of the same
geometry, BatchNorm/LayerNorm by the identity and every weight positive, the network is a
sum of positive paths: input pixel p reaches output cell i exactly when some path connects
them, i.e. when p lies in cell i's receptive field as the real layers (padding included)
define it. So the nonzero-gradient region of one cell must equal its span clipped to the image.
Thin images (a long axis and a short one) keep each forward pass cheap while still giving
long axes where fields are clipped on one side only.
"""

from __future__ import annotations

from typing import cast

import pytest
import torch
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from spp_viz.backbones import REGISTRY, load_backbone
from spp_viz.bins import AxisSpans, LevelBins, bin_geometry, pyramid_bins
from spp_viz.boxes import CellWindow, PixelBox
from spp_viz.efficientnet_lite import EfficientNetLite0
from spp_viz.geometry import StageGeometry

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.GELU)
NORMS = (nn.BatchNorm2d, nn.LayerNorm)


def _linearise(module: nn.Module) -> None:
    """In place: identity activations and norms, average pools for max pools, positive weights."""
    for name, child in module.named_children():
        if isinstance(child, ACTIVATIONS + NORMS):
            setattr(module, name, nn.Identity())
        elif isinstance(child, nn.MaxPool2d):
            setattr(module, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
        else:
            _linearise(child)


def _positive_model(name: str) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = REGISTRY[name].builder()
        _linearise(model)
        for p in model.parameters():
            with torch.no_grad():
                if p.dim() > 1:
                    p.uniform_(0.5, 1.5).div_(p[0].numel())
                else:
                    p.fill_(1.0)
    return model.double().eval()


def _extractor(name: str, stage: str, model: nn.Module):
    spec = REGISTRY[name]
    if not spec.zoo:
        lite = cast(EfficientNetLite0, model)
        return lambda x: lite.features(x, spec.stages[stage])
    graph = create_feature_extractor(model, return_nodes={spec.stages[stage]: "out"}).eval()
    return lambda x: graph(x)["out"]


def _support(grad: torch.Tensor) -> tuple[list[int], list[int], int]:
    """Rows and columns with a nonzero gradient, and the count of nonzero pixels."""
    mask = grad.abs().sum(dim=(0, 1)) > 0  # (H, W)
    rows = torch.nonzero(mask.any(dim=1)).flatten().tolist()
    cols = torch.nonzero(mask.any(dim=0)).flatten().tolist()
    return rows, cols, int(mask.sum())


def _clipped(spans: AxisSpans, i: int) -> list[int]:
    start, end = spans.rf_clipped(i)
    return list(range(int(start), int(end)))


# (backbone, stage, height, width): odd and even sizes, thin so that float64 backward stays cheap
CASES = [
    ("resnet18", "layer4", 35, 1023),
    ("resnet18", "layer2", 67, 93),
    ("resnet50", "layer2", 61, 99),
    ("vgg16", "conv4_3", 75, 61),
    ("mobilenet_v3_large", "features.3", 67, 101),
    ("convnext_tiny", "features.3", 77, 61),  # the 4 x 4 stride-4 stem never reads pixel 76
    ("efficientnet_lite0", "head", 33, 1024),
    ("efficientnet_lite0", "head", 33, 1001),
    ("efficientnet_lite0", "stage3", 67, 70),
    ("efficientnet_lite0", "stage5", 75, 301),
]


@pytest.mark.parametrize(("name", "stage", "height", "width"), CASES)
def test_spans_equal_gradient_support_of_the_positive_linear_network(name, stage, height, width):
    geometry = load_backbone(name, stage, weights="untrained", download=False).geometry
    assert not geometry.global_context
    ys, xs = geometry.spans(height, width)
    extractor = _extractor(name, stage, _positive_model(name))
    x = torch.ones(1, 3, height, width, dtype=torch.float64, requires_grad=True)
    out = extractor(x)
    assert (ys.count, xs.count) == tuple(out.shape[-2:]) == geometry.feature_size(height, width)
    picks = {(0, 0), (ys.count - 1, xs.count - 1), (ys.count // 2, xs.count // 3), (0, xs.count - 1)}
    for r, c in sorted(picks):
        (grad,) = torch.autograd.grad(out[0, :, r, c].sum(), x, retain_graph=True)
        rows, cols, count = _support(grad)
        assert rows == _clipped(ys, r), f"rows of cell ({r}, {c})"
        assert cols == _clipped(xs, c), f"cols of cell ({r}, {c})"
        assert count == len(rows) * len(cols)  # a rectangle


@pytest.mark.parametrize(("name", "stage"), [("mobilenet_v3_large", "features.16"), ("efficientnet_b0", "features.2")])
def test_squeeze_excite_paths_see_the_whole_image(name, stage):
    geometry = load_backbone(name, stage, weights="untrained", download=False).geometry
    assert geometry.global_context
    extractor = _extractor(name, stage, _positive_model(name))
    x = torch.ones(1, 3, 65, 97, dtype=torch.float64, requires_grad=True)
    out = extractor(x)
    (grad,) = torch.autograd.grad(out[0, :, 0, 0].sum(), x)
    assert bool((grad.abs().sum(dim=(0, 1)) > 0).all())
    level = pyramid_bins(int(out.shape[-2]), int(out.shape[-1]), 2)
    assert {g.rf_box for g in bin_geometry(level, geometry.spans(65, 97), (97, 65), geometry.global_context)} == {
        bin_geometry(level, geometry.spans(65, 97), (97, 65), True)[0].rf_box}
    assert bin_geometry(level, geometry.spans(65, 97), (97, 65), True)[0].rf_box.x1 == 97


def test_every_backbone_stage_trace_counts_the_cells_of_its_real_map():
    for name, spec in REGISTRY.items():
        geometry = load_backbone(name, spec.default_stage, weights="untrained", download=False).geometry
        for height, width in ((97, 131), (224, 301)):
            ys, xs = geometry.spans(height, width)
            assert (ys.count, xs.count) == geometry.feature_size(height, width), name
            assert ys.jump == xs.jump == geometry.stride and ys.size == geometry.receptive_field, name


def test_resnet18_layer4_cells_are_centred_at_32i_plus_half():
    geometry = load_backbone("resnet18", "layer4", weights="untrained", download=False).geometry
    for length in (224, 301, 1024):
        spans = geometry.axis_spans(length)
        assert [spans.centre(i) for i in range(spans.count)] == [32 * i + 0.5 for i in range(spans.count)]


@pytest.mark.parametrize(("length", "shift"), [(224, -15.5), (1024, -15.5), (301, 3.5)])
def test_lite0_tf_same_padding_moves_centres_with_the_input_size(lite0, length, shift):
    # shift = the padding-blind (i + 0.5) * 32 centre minus the true one: TF "same" padding depends on the size
    spans = lite0.geometry.axis_spans(length)
    assert {(i + 0.5) * 32 - spans.centre(i) for i in range(spans.count)} == {shift}


def test_bin_geometry_boxes_cells_and_index():
    spans = (AxisSpans(-10.0, 8, 30, 5, 40), AxisSpans(-10.0, 8, 30, 7, 56))
    level: LevelBins = pyramid_bins(5, 7, 2)
    geometry = bin_geometry(level, spans, (56, 40))
    assert [g.index for g in geometry] == [0, 1, 2, 3]
    last = geometry[-1]
    assert last.cells == CellWindow((2, 5), (3, 7)) and last.cells.as_json() == [2, 5, 3, 7]
    assert last.box == PixelBox(24.0, 16.0, 56.0, 40.0)
    # rf: cols 3..6 -> [-10 + 24, -10 + 48 + 30) = [14, 68) clipped to 56; rows [6, 58) clipped to 40
    assert last.rf_box.as_json() == [14.0, 6.0, 56.0, 40.0]


def test_hand_built_geometry_without_a_trace_centres_cells_on_the_stride():
    spans = StageGeometry(stride=32, channels=8, receptive_field=200).axis_spans(224)
    assert spans.count == 7 and spans.centre(0) == 16.0
