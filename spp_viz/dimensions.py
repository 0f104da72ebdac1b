"""The output dimensions, and why they are what they are: from the input to the SPP vector and
SPPF's output (:func:`dimension_table`), and the same arithmetic over input sizes without a
forward pass (:func:`size_sweep`): SPP's length never changes, SPPF's output grows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .analysis import FeatureResult, PyramidResult
from .family import HeadReport
from .geometry import StageGeometry
from .pooling import parse_levels, spp_output_length


def dimension_table(features: FeatureResult, head: PyramidResult, sppf: HeadReport | None = None) -> list[dict[str, Any]]:
    """Rows ``{step, shape, arithmetic, numbers}`` from the input to the SPP vector and SPPF output;
    with ``sppf`` (the SPP vs SPPF view's lead head, :func:`spp_viz.family.view_lead`), its module's
    parameters and FLOPs on this map, and a checkpoint's trained block's own widths."""
    c, h, w = features.shape
    width, height = features.input_size
    rows = [
        {"step": "input", "shape": f"3 x {height} x {width}", "arithmetic": f"3 x {height} x {width} = {3 * height * width:,}", "numbers": 3 * height * width},
        {"step": f"feature map ({features.stage}, stride {features.geometry.stride})", "shape": f"{c} x {h} x {w}",
         "arithmetic": f"{c:,} x {h} x {w} = {c * h * w:,}", "numbers": c * h * w},
    ]
    for level in head.levels:
        r, k = level.pooled.shape[-2:]
        note = "" if level.valid else " (paper rule: not n x n)"
        rows.append({"step": f"level {level.n}: {r} x {k} bins{note}", "shape": f"{c} x {r} x {k}", "arithmetic": level.arithmetic(), "numbers": level.length})
    rows.append({"step": "SPP vector (fixed length)" if head.valid else "SPP vector (NOT the fixed length)", "shape": f"{head.length}",
                 "arithmetic": head.arithmetic() if head.valid else f"{head.length:,} != {head.arithmetic()}", "numbers": head.length})
    return rows + _sppf_rows(features, sppf)


def _sppf_rows(features: FeatureResult, sppf: HeadReport | None) -> list[dict[str, Any]]:
    """SPPF's cv1, concat and cv2 (a checkpoint's trained block: its own widths and name), then its
    module's parameters and FLOPs when ``sppf`` is given."""
    c, h, w = features.shape
    trained = features.trained_head if sppf is not None and sppf.trained else None
    c_, out = (trained.hidden, trained.out_channels) if trained else (c // 2, c)
    name, what = ("SPPF" if trained is None or trained.head == "sppf" else "SPP (YOLOv5)",
                  f"trained, {trained.label}" if trained else "")
    rows = [
        {"step": f"{name} cv1 (1x1 conv, {f'{c} -> {c_}, {what}' if trained else 'C/2'})", "shape": f"{c_} x {h} x {w}",
         "arithmetic": f"{c_:,} x {h} x {w} = {c_ * h * w:,}", "numbers": c_ * h * w},
        {"step": f"{name} concat [{'cv1' if trained else 'x'}, 5, 9, 13]", "shape": f"{4 * c_} x {h} x {w}",
         "arithmetic": f"4 x {c_:,} x {h} x {w} = {4 * c_ * h * w:,}", "numbers": 4 * c_ * h * w},
        {"step": f"{name} cv2 (1x1 conv to {f'{out}, {what}' if trained else 'C'})", "shape": f"{out} x {h} x {w}",
         "arithmetic": f"{out:,} x {h} x {w} = {out * h * w:,} (grows with the image)", "numbers": out * h * w},
    ]
    if sppf is not None:
        weights = f"trained, {trained.label}" if trained else "seeded random weights"
        rows += [
            {"step": f"{name} parameters (cv1 and cv2, BatchNorm included; {weights})", "shape": "-",
             "arithmetic": f"{sppf.params:,} parameters", "numbers": sppf.params},
            {"step": f"{name} FLOPs on this map (convs, torch.utils.flop_counter)", "shape": "-",
             "arithmetic": f"{sppf.flops:,} FLOPs = {sppf.flops / (h * w):,.0f} per cell x {h} x {w}", "numbers": sppf.flops},
        ]
    return rows


@dataclass(frozen=True)
class SizeSweepRow:
    """One input size of :func:`size_sweep`: the map it gives, SPP's length and SPPF's numbers."""

    input_width: int
    input_height: int
    short_side: int
    feature: tuple[int, int, int]  # (C, h, w) of the stage's map for this input
    spp_length: int  # C * sum(n^2): the same for every size (0 when the input is too small for a map)
    sppf_numbers: int  # 4C * h * w of SPPF's concat without convs: grows with the input

    @property
    def feature_height(self) -> int:
        return self.feature[1]

    @property
    def feature_width(self) -> int:
        return self.feature[2]


def size_sweep(geometry: StageGeometry, levels: Sequence[int], aspect: float = 1.0,
               short_sides: Sequence[int] = (64, 128, 224, 320, 448, 640, 800, 1024)) -> list[SizeSweepRow]:
    """For inputs of each short side (at ``aspect`` = width / height): feature map size,
    SPP length (constant) and SPPF output size (growing). Pure arithmetic, no forward pass."""
    levels = parse_levels(levels)
    c = geometry.channels
    rows = []
    for s in short_sides:
        height, width = (s, round(s * aspect)) if aspect >= 1 else (round(s / aspect), s)
        h, w = geometry.feature_size(height, width)
        rows.append(SizeSweepRow(width, height, s, (c, h, w), spp_output_length(c, levels) if h and w else 0, 4 * c * h * w))
    return rows
