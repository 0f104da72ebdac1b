"""Bin geometry of a spatial pyramid: which feature cells each bin pools, and where that is in the image.

Two rules:

* ``adaptive``: bin i of n over an axis of a cells spans ``[floor(i*a/n), ceil((i+1)*a/n))``.
  This is the authors' released SPP_net code and PyTorch's adaptive pooling
  (aten/src/ATen/native/AdaptivePooling.h): always n bins; neighbours may share a cell.
* ``paper``: windows of ``ceil(a/n)`` cells every ``floor(a/n)`` cells, as written in the
  paper. It can give more or fewer than n bins; we report what it really gives.

Plain arithmetic, torch-free: the page draws a pyramid's bins before torch is imported
(:mod:`spp_viz.phase0`), and the report draws the same bins from the same functions after the
forward. What pools tensors over these bins is :mod:`spp_viz.pooling`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from .boxes import CellWindow, PixelBox
from .choices import BinRule
from .i18n import N_, _

if TYPE_CHECKING:
    import numpy as np


# the paper rule's broken-level sentence, one clause per axis (whole clauses: the catalogue translates each)
_NO_WINDOWS = {
    "rows": N_("rows: {a} cells < {n} bins, so the stride floor({a}/{n}) is 0 and there are no windows"),
    "columns": N_("columns: {a} cells < {n} bins, so the stride floor({a}/{n}) is 0 and there are no windows"),
}
_TOO_MANY = {
    "rows": N_("rows: window ceil({a}/{n})={window}, stride floor({a}/{n})={stride} gives {got} bins, not {n}"),
    "columns": N_("columns: window ceil({a}/{n})={window}, stride floor({a}/{n})={stride} gives {got} bins, not {n}"),
}


def spp_output_length(channels: int, levels: Sequence[int]) -> int:
    """Length of the SPP vector: ``C * sum(n^2)``; it never depends on the input size."""
    return channels * sum(n * n for n in levels)


def rule_length(channels: int, height: int, width: int, levels: Sequence[int], rule: BinRule | str = BinRule.ADAPTIVE) -> int:
    """The vector's length on an ``height x width`` map: ``C * sum(n^2)`` under the adaptive rule (any
    size), ``C * sum(rows * cols)`` of the windows the paper rule really yields (which follows the map)."""
    if BinRule.parse(rule) is BinRule.ADAPTIVE:
        return spp_output_length(channels, levels)
    return channels * sum(paper_window(height, n)[2] * paper_window(width, n)[2] for n in levels)


def level_arithmetic(channels: int, rows: int, cols: int) -> str:
    """``"C x rows x cols = length"``: how long one level's part of the vector is."""
    return f"{channels:,} x {rows} x {cols} = {channels * rows * cols:,}"


def spp_arithmetic(channels: int, levels: Sequence[int]) -> str:
    """``"C x (1 + 4 + 16) = length"``: the fixed length ``C * sum(n^2)``, spelled out."""
    squares = " + ".join(str(n * n) for n in levels)
    return f"{channels:,} x ({squares}) = {spp_output_length(channels, levels):,}"


def cascade_window(k: int, steps: int) -> int:
    """The window of ``steps`` chained k x k stride-1 max pools as one pool: ``steps * (k - 1) + 1``
    cells per side (each pool widens it by k - 1: 5, 9, 13 for k = 5; 0 steps: the cell itself)."""
    return steps * (k - 1) + 1


def paper_window(a: int, n: int) -> tuple[int, int, int]:
    """He et al.'s sliding-window rule for one axis of length ``a`` and ``n`` bins.

    Returns ``(window, stride, count)`` with window = ceil(a/n), stride = floor(a/n) and
    ``count`` the number of windows it really yields (0 when the stride is 0, i.e. a < n).
    """
    window = math.ceil(a / n)
    stride = a // n
    count = (a - window) // stride + 1 if stride > 0 else 0
    return window, stride, count


def axis_bins(a: int, n: int, rule: BinRule | str = BinRule.ADAPTIVE) -> list[tuple[int, int]]:
    """``[start, end)`` cell ranges of the bins along one axis of ``a`` cells split into ``n``."""
    if a < 1 or n < 1:
        raise ValueError(f"Axis length and bin count must be positive, got a={a}, n={n}.")
    if BinRule.parse(rule) is BinRule.ADAPTIVE:
        return [((i * a) // n, -((-(i + 1) * a) // n)) for i in range(n)]
    window, stride, count = paper_window(a, n)
    return [(i * stride, i * stride + window) for i in range(count)]


@dataclass(frozen=True)
class Bin:
    """One pyramid bin: its position in the level and the feature cells ``[start, end)`` it pools."""

    level: int
    row: int
    col: int
    rows: tuple[int, int]
    cols: tuple[int, int]
    # columns the level really has: n under the adaptive rule, possibly not n under the paper rule
    level_cols: int = 0

    @property
    def index(self) -> int:
        """Row-major position within the level (the order in the flattened SPP vector):
        ``row * cols + col`` with the ACTUAL column count (the paper rule may give cols != n)."""
        return self.row * (self.level_cols or self.level) + self.col

    @property
    def window(self) -> CellWindow:
        return CellWindow(self.rows, self.cols)

    @property
    def cells(self) -> int:
        window = self.window
        return window.height * window.width


@dataclass(frozen=True)
class LevelBins:
    """All bins of one level ``n`` on an ``h x w`` map under one rule.

    ``valid`` is True exactly when the rule gives n bins along both axes.
    ``row_overlaps[i]`` is how many cells bin-row i shares with bin-row i+1 (same for columns).
    """

    n: int
    rule: BinRule
    height: int
    width: int
    row_ranges: tuple[tuple[int, int], ...]
    col_ranges: tuple[tuple[int, int], ...]
    bins: tuple[Bin, ...] = field(repr=False)

    @property
    def valid(self) -> bool:
        return len(self.row_ranges) == self.n and len(self.col_ranges) == self.n

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.row_ranges), len(self.col_ranges)

    @property
    def row_overlaps(self) -> tuple[int, ...]:
        return _overlaps(self.row_ranges)

    @property
    def col_overlaps(self) -> tuple[int, ...]:
        return _overlaps(self.col_ranges)

    @property
    def has_overlap(self) -> bool:
        return any(self.row_overlaps) or any(self.col_overlaps)

    def problem(self) -> str | None:
        """A sentence saying how the rule fails for this level, or None when it gives n x n bins."""
        if self.valid:
            return None
        parts = []
        for axis, a, got in (("rows", self.height, len(self.row_ranges)), ("columns", self.width, len(self.col_ranges))):
            if got != self.n:
                window, stride, _unused = paper_window(a, self.n)
                template = (_NO_WINDOWS if stride == 0 else _TOO_MANY)[axis]
                parts.append(_(template).format(a=a, n=self.n, window=window, stride=stride, got=got))
        reasons = parts[0] if len(parts) == 1 else _("{rows}; {columns}").format(rows=parts[0], columns=parts[1])
        return _("Level {n} under the paper rule: {reasons}.").format(n=self.n, reasons=reasons)

    def coverage(self) -> np.ndarray:
        """``(height, width)`` count of how many bins pool each feature cell (0 = never pooled).

        numpy is imported here, for the figure that draws it: the rest of the module is plain arithmetic."""
        import numpy as np

        counts = np.zeros((self.height, self.width), dtype=np.int32)
        for b in self.bins:
            counts[b.rows[0]:b.rows[1], b.cols[0]:b.cols[1]] += 1
        return counts


def _overlaps(ranges: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    return tuple(max(0, ranges[i][1] - ranges[i + 1][0]) for i in range(len(ranges) - 1))


def pyramid_bins(height: int, width: int, n: int, rule: BinRule | str = BinRule.ADAPTIVE) -> LevelBins:
    """Geometry of level ``n`` on a ``height x width`` feature map."""
    rule = BinRule.parse(rule)
    row_ranges = tuple(axis_bins(height, n, rule))
    col_ranges = tuple(axis_bins(width, n, rule))
    cols = len(col_ranges)
    bins = tuple(Bin(n, i, j, r, c, cols) for i, r in enumerate(row_ranges) for j, c in enumerate(col_ranges))
    return LevelBins(n, rule, height, width, row_ranges, col_ranges, bins)


def differing_bins(height: int, width: int, n: int) -> list[tuple[int, int]]:
    """``(row, col)`` of paper-rule bins whose cells differ from the adaptive bin at the same place
    (or that the adaptive rule does not have at all)."""
    paper = pyramid_bins(height, width, n, BinRule.PAPER)
    adaptive = pyramid_bins(height, width, n, BinRule.ADAPTIVE)
    lookup = {(b.row, b.col): b for b in adaptive.bins}
    out = []
    for b in paper.bins:
        other = lookup.get((b.row, b.col))
        if other is None or other.rows != b.rows or other.cols != b.cols:
            out.append((b.row, b.col))
    return out


@dataclass(frozen=True)
class AxisSpans:
    """Where each feature cell of one axis sits in input pixels, padding included.

    Pixel p spans ``[p, p + 1)``. Cell i's theoretical receptive field is
    ``[offset + i*jump, offset + i*jump + size)``: ``offset`` is usually negative because
    the layers pad, and its value depends on each layer's padding for this input length
    (TF "same" padding changes with the length), which is why it is derived per input size.
    Clipped to the image, and to ``read_end`` (a layer with a remainder, e.g. ConvNeXt's
    4 x 4 stride-4 stem on 77 pixels, never reads the last pixels), it is exactly the set of
    pixels the cell depends on (tests/test_geometry.py checks it against gradients).
    """

    offset: float  # first pixel of cell 0's receptive field (often negative: padding)
    jump: int  # the stage's stride along this axis
    size: int  # receptive field width in pixels (theoretical)
    count: int  # cells along this axis
    input_length: int  # pixels along this axis
    # pixels from here on reach no cell (a floor-mode layer dropped them); None: the whole axis is read
    read_end: int | None = None

    def cell(self, i: int) -> tuple[float, float]:
        """``[i*jump, (i+1)*jump)``: the cell "through the stride" (unclipped)."""
        return float(i * self.jump), float((i + 1) * self.jump)

    def rf(self, i: int) -> tuple[float, float]:
        """``[offset + i*jump, offset + i*jump + size)``: the receptive field, unclipped."""
        start = self.offset + i * self.jump
        return float(start), float(start + self.size)

    def rf_clipped(self, i: int) -> tuple[float, float]:
        """:meth:`rf` clipped to the pixels that are really read: ``[0, read_end)``."""
        end = self.input_length if self.read_end is None else min(self.read_end, self.input_length)
        start, stop = self.rf(i)
        return _clip(start, end), _clip(stop, end)

    def centre(self, i: int) -> float:
        """Centre of cell i's receptive field: ``offset + i*jump + size / 2``."""
        return self.offset + i * self.jump + self.size / 2


@dataclass(frozen=True)
class BinGeometry:
    """One bin of a level in image pixels, ``[start, end)``, clipped to the image."""

    level: int
    row: int
    col: int
    index: int  # row-major position within the level: row * cols + col (cols = actual column count)
    cells: CellWindow  # the feature cells the bin pools
    box: PixelBox  # the cells through the stride
    rf_box: PixelBox  # union of the cells' receptive fields (the whole image with global context)


def _clip(a: float, length: int) -> float:
    return float(min(max(a, 0.0), float(length)))


def _clipped_box(x: tuple[float, float], y: tuple[float, float], width: int, height: int) -> PixelBox:
    return PixelBox(_clip(x[0], width), _clip(y[0], height), _clip(x[1], width), _clip(y[1], height))


def bin_geometry(
    bins: LevelBins,
    spans: tuple[AxisSpans, AxisSpans],
    image_size: tuple[int, int],
    global_context: bool = False,
) -> list[BinGeometry]:
    """Every bin of ``bins`` (in ``bins.bins`` order) in image pixels.

    ``spans`` is ``(rows/y, cols/x)``, ``image_size`` is ``(width, height)``. ``box`` is the
    bin's cells through the stride; ``rf_box`` the union of its cells' receptive fields
    (cells are contiguous, so it is the first cell's start to the last cell's end). With
    ``global_context`` (squeeze-excite on the path) every output depends on every pixel, so
    ``rf_box`` is the whole image.
    """
    ys, xs = spans
    width, height = image_size
    out = []
    for b in bins.bins:
        (r0, r1), (c0, c1) = b.rows, b.cols
        box = _clipped_box((xs.cell(c0)[0], xs.cell(c1 - 1)[1]), (ys.cell(r0)[0], ys.cell(r1 - 1)[1]), width, height)
        if global_context:
            rf_box = PixelBox(0.0, 0.0, float(width), float(height))
        else:
            rf_box = PixelBox(xs.rf_clipped(c0)[0], ys.rf_clipped(r0)[0], xs.rf_clipped(c1 - 1)[1], ys.rf_clipped(r1 - 1)[1])
        out.append(BinGeometry(b.level, b.row, b.col, b.index, b.window, box, rf_box))
    return out
