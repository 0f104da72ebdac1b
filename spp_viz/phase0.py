"""Phase 0, geometry: everything about a pyramid that follows from the input size and the
backbone's layers, before any forward pass and without torch.

:func:`phase0` reads the stage's layers from the packaged tables (:mod:`spp_viz.layer_tables`);
:func:`phase0_of` takes any :class:`~spp_viz.geometry.StageGeometry` (a detector checkpoint's,
traced when it loads). From the layers follow the feature map's size (each layer's padding for
the length it really receives, TF "same" included), every level's bins (:mod:`spp_viz.bins`)
projected onto the image (box and receptive-field box), the dimension table
(:mod:`spp_viz.dimensions`) and the SPP vector's length. The report computes its bins and its
table with the same functions on the map the forward gave: the two agree exactly
(``tests/test_phase0.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .bins import AxisSpans, BinGeometry, LevelBins, bin_geometry, level_arithmetic, pyramid_bins, spp_output_length
from .choices import BinRule
from .defaults import DEFAULT_LEVELS
from .dimensions import dimension_rows
from .geometry import StageGeometry
from .layer_tables import stage_geometry
from .options import check_stage, parse_levels

__all__ = ["Phase0", "Phase0Level", "phase0", "phase0_of"]


@dataclass(frozen=True)
class Phase0Level:
    """One level: its bins on the map (``bins``: its n, the rows and columns of each bin, overlaps,
    whether the rule gave n x n) and each bin in image pixels (``boxes``, in ``bins.bins`` order, as the JSON's
    ``spp.levels[].bins``)."""

    bins: LevelBins
    boxes: tuple[BinGeometry, ...]
    channels: int

    @property
    def length(self) -> int:
        """``C x rows x cols``: this level's part of the SPP vector."""
        rows, cols = self.bins.shape
        return self.channels * rows * cols

    def arithmetic(self) -> str:
        return level_arithmetic(self.channels, *self.bins.shape)


@dataclass(frozen=True)
class Phase0:
    """A pyramid on a stage's map for one input size, from arithmetic alone."""

    backbone: str
    stage: str
    input_size: tuple[int, int]  # (width, height) fed to the backbone: the working image's size
    geometry: StageGeometry
    rule: BinRule
    levels: tuple[Phase0Level, ...]
    dimensions: tuple[dict[str, Any], ...]  # the JSON's ``dimensions`` rows

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, h, w)`` of the stage's map."""
        width, height = self.input_size
        return (self.geometry.channels, *self.geometry.feature_size(height, width))

    @property
    def spans(self) -> tuple[AxisSpans, AxisSpans]:
        """``(rows/y, cols/x)`` receptive-field spans of the map's cells."""
        width, height = self.input_size
        return self.geometry.spans(height, width)

    @property
    def spp_length(self) -> int:
        """The vector's length: the sum of the levels' (``expected_length`` when every level is n x n)."""
        return sum(level.length for level in self.levels)

    @property
    def expected_length(self) -> int:
        """``C * sum(n^2)``: what a correct SPP always gives."""
        return spp_output_length(self.geometry.channels, [level.bins.n for level in self.levels])

    @property
    def fixed_length(self) -> bool:
        return all(level.bins.valid for level in self.levels)


def phase0(backbone: str, stage: str | None, input_size: tuple[int, int], levels: Sequence[int] | str = DEFAULT_LEVELS,
           rule: BinRule | str = BinRule.ADAPTIVE) -> Phase0:
    """Phase 0 of ``backbone`` cut at ``stage`` (None: its default) for a ``(width, height)`` input,
    from the packaged layer tables. ``ValueError`` (one sentence) for a backbone, stage, level or
    rule that is not allowed, ``yolo`` (use :func:`phase0_of` with the loaded backbone's geometry)
    and an input too small for one cell."""
    stage = check_stage(backbone, stage)
    return phase0_of(stage_geometry(backbone, stage), input_size, levels, rule, backbone=backbone, stage=stage)


def phase0_of(geometry: StageGeometry, input_size: tuple[int, int], levels: Sequence[int] | str = DEFAULT_LEVELS,
              rule: BinRule | str = BinRule.ADAPTIVE, *, backbone: str = "", stage: str = "") -> Phase0:
    """Phase 0 of any stage ``geometry`` for a ``(width, height)`` input (see :func:`phase0`)."""
    levels, rule = parse_levels(levels), BinRule.parse(rule)
    width, height = _input_size(input_size)
    h, w = geometry.feature_size(height, width)
    if h < 1 or w < 1:
        raise ValueError(f"A {width} x {height} input is too small for {backbone or 'this backbone'} {stage}: "
                         f"its map would be {h} x {w} cells.")
    spans = geometry.spans(height, width)
    out = []
    for n in levels:
        bins = pyramid_bins(h, w, n, rule)
        boxes = tuple(bin_geometry(bins, spans, (width, height), geometry.global_context))
        out.append(Phase0Level(bins, boxes, geometry.channels))
    rows = dimension_rows((width, height), stage, geometry.stride, (geometry.channels, h, w), [level.bins for level in out])
    return Phase0(backbone, stage, (width, height), geometry, rule, tuple(out), tuple(rows))


def _input_size(size: tuple[int, int]) -> tuple[int, int]:
    """``(width, height)``, both whole numbers of at least 1."""
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size):
        raise ValueError(f"Input size {size!r} is not (width, height) in whole pixels of at least 1.")
    return size[0], size[1]
