"""The output dimensions, and why they are what they are: from the input to the SPP vector and
SPPF's output (:func:`dimension_rows`, from sizes alone; :func:`dimension_table` for a map the
backbone gave), and the same arithmetic over input sizes (:func:`size_sweep`): SPP's length
never changes, SPPF's output grows. Torch-free: the page shows the table before the forward
(:mod:`spp_viz.phase0`), and the report's table comes from the same rows after it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from .bins import LevelBins, level_arithmetic, spp_arithmetic, spp_output_length
from .geometry import StageGeometry
from .options import parse_levels

if TYPE_CHECKING:
    from .analysis import FeatureResult, PyramidResult


def dimension_rows(input_size: tuple[int, int], stage: str, stride: int, shape: tuple[int, int, int],
                   levels: Sequence[LevelBins]) -> list[dict[str, Any]]:
    """Rows ``{step, shape, arithmetic, numbers}`` from the input to the SPP vector and SPPF output.

    ``input_size`` is ``(width, height)``, ``shape`` the stage's map ``(C, h, w)``, ``levels`` the
    pyramid's bins on it (a level's part of the vector is ``C x rows x cols``: its real grid)."""
    c, h, w = shape
    width, height = input_size
    rows = [
        {"step": "input", "shape": f"3 x {height} x {width}", "arithmetic": f"3 x {height} x {width} = {3 * height * width:,}", "numbers": 3 * height * width},
        {"step": f"feature map ({stage}, stride {stride})", "shape": f"{c} x {h} x {w}",
         "arithmetic": f"{c:,} x {h} x {w} = {c * h * w:,}", "numbers": c * h * w},
    ]
    for level in levels:
        r, k = level.shape
        note = "" if level.valid else " (paper rule: not n x n)"
        rows.append({"step": f"level {level.n}: {r} x {k} bins{note}", "shape": f"{c} x {r} x {k}",
                     "arithmetic": level_arithmetic(c, r, k), "numbers": c * r * k})
    ns, length = [level.n for level in levels], sum(c * level.shape[0] * level.shape[1] for level in levels)
    valid = all(level.valid for level in levels)
    rows.append({"step": "SPP vector (fixed length)" if valid else "SPP vector (NOT the fixed length)", "shape": f"{length}",
                 "arithmetic": spp_arithmetic(c, ns) if valid else f"{length:,} != {spp_arithmetic(c, ns)}", "numbers": length})
    c_ = c // 2
    rows += [
        {"step": "SPPF cv1 (1x1 conv, C/2)", "shape": f"{c_} x {h} x {w}", "arithmetic": f"{c_:,} x {h} x {w} = {c_ * h * w:,}", "numbers": c_ * h * w},
        {"step": "SPPF concat [x, 5, 9, 13]", "shape": f"{4 * c_} x {h} x {w}", "arithmetic": f"4 x {c_:,} x {h} x {w} = {4 * c_ * h * w:,}", "numbers": 4 * c_ * h * w},
        {"step": "SPPF cv2 (1x1 conv to C)", "shape": f"{c} x {h} x {w}", "arithmetic": f"{c:,} x {h} x {w} = {c * h * w:,} (grows with the image)", "numbers": c * h * w},
    ]
    return rows


def dimension_table(features: FeatureResult, head: PyramidResult) -> list[dict[str, Any]]:
    """:func:`dimension_rows` of the map the backbone gave and the pyramid pooled on it."""
    return dimension_rows(features.input_size, features.stage, features.geometry.stride, features.shape,
                          [level.bins for level in head.levels])


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
