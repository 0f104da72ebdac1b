"""Pyramid pooling heads: SPP (He et al.), average SPP, parallel SPP (YOLO) and SPPF.

Functional forms plus small ``nn.Module`` wrappers, in the style of torchvision ``ops``. The
pooling arithmetic of the whole family is here, once: the parallel pools, the cascade, the
cascade's window widths and YOLO's (5, 9, 13). The YOLO modules with their 1 x 1 convs
(ultralytics ``SPPF``, YOLOv5 ``SPP``) are the family's own blocks, which call these functions:
:class:`spp_viz.heads.modules.SPPFBlock` and :class:`~spp_viz.heads.modules.ParallelPoolBlock`.

* :func:`spp` turns ``(B, C, h, w)`` into a FIXED-length ``(B, C * sum(n^2))`` vector,
  whatever ``h`` and ``w`` are (He et al., arXiv 1406.4729).
* :func:`spp_yolo` / :func:`sppf` keep the spatial size; without their 1 x 1 convs the pools
  alone give (n + 1)C channels (YOLOv3/v4/v5; :mod:`spp_viz.dimensions` names every SPPF size).
  SPPF's cascade of three 5x5 stride-1 max pools equals parallel 5/9/13 pools exactly, because
  stride-1 max pools compose (5 then 5 = 9, three times = 13); :func:`cascade_cost` counts why
  the cascade is cheaper.
* :func:`bin_argmax` gives the cell each max-pooled bin took its value from.

Where the bins fall and how long the vector is are torch-free arithmetic, in :mod:`spp_viz.bins`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .bins import cascade_window, paper_window, spp_output_length  # torch-free homes of the bins' arithmetic; re-exported
from .choices import BinRule, Pool
from .defaults import DEFAULT_LEVELS, LEVEL_PRESETS, MAX_LEVEL, SPPF_DEFAULT_K, SPPF_DEFAULT_N  # noqa: F401 (re-exported)
from .i18n import _
from .options import parse_levels, parse_sppf_k, parse_sppf_n  # torch-free homes of the checks; parse_levels re-exported


@dataclass(frozen=True)
class SPPLevel:
    """One pyramid level's result.

    ``pooled`` is ``(B, C, rows, cols)``; for the adaptive rule rows == cols == n.
    ``valid`` is False when the paper rule does not give exactly n x n bins.
    """

    n: int
    pooled: Tensor
    valid: bool
    rows: int
    cols: int

    @property
    def length(self) -> int:
        return self.pooled.shape[1] * self.rows * self.cols


@dataclass(frozen=True)
class SPPResult:
    """``vector`` is ``(B, C * sum(n^2))`` for a valid pyramid; ``levels`` holds each level."""

    vector: Tensor
    levels: tuple[SPPLevel, ...]

    @property
    def valid(self) -> bool:
        return all(level.valid for level in self.levels)


def _paper_level(x: Tensor, n: int, pool: Pool) -> tuple[Tensor, bool]:
    """Paper rule for one level, vectorised: one strided pool call per level, no loop over bins.

    An axis with a < n has stride 0 and so no windows at all: the level then pools to an
    empty tensor (what the rule really gives) and is marked invalid rather than patched up.
    """
    b, c, h, w = x.shape
    wh, sh, ch = paper_window(h, n)
    ww, sw, cw = paper_window(w, n)
    valid = ch == n and cw == n
    if ch == 0 or cw == 0:
        return x.new_empty((b, c, ch, cw)), valid
    if pool is Pool.MAX:
        return F.max_pool2d(x, (wh, ww), (sh, sw)), valid
    return F.avg_pool2d(x, (wh, ww), (sh, sw)), valid


def spp(
    x: Tensor,
    levels: Sequence[int] = DEFAULT_LEVELS,
    pool: Pool | str = Pool.MAX,
    rule: BinRule | str = BinRule.ADAPTIVE,
) -> SPPResult:
    """Spatial pyramid pooling of ``x`` ``(B, C, h, w)`` into ``(B, C * sum(n^2))``.

    ``rule="adaptive"`` is the authors' released code and PyTorch's adaptive pooling:
    bin i spans ``[floor(i*a/n), ceil((i+1)*a/n))``, always n bins. ``rule="paper"`` is the
    window/stride formula of the paper, which sometimes yields more or fewer than n bins;
    such levels are flagged ``valid=False`` and the vector is then not of the fixed length.
    """
    if x.dim() != 4:
        raise ValueError(f"SPP expects a (B, C, h, w) tensor, got shape {tuple(x.shape)}.")
    levels = parse_levels(levels)
    pool, rule = Pool.parse(pool), BinRule.parse(rule)
    results = []
    for n in levels:
        if rule is BinRule.ADAPTIVE:
            pooled = F.adaptive_max_pool2d(x, n) if pool is Pool.MAX else F.adaptive_avg_pool2d(x, n)
            valid = True
        else:
            pooled, valid = _paper_level(x, n, pool)
        results.append(SPPLevel(n, pooled, valid, pooled.shape[-2], pooled.shape[-1]))
    vector = torch.cat([level.pooled.flatten(1) for level in results], dim=1)
    return SPPResult(vector, tuple(results))


def average_spp(x: Tensor, levels: Sequence[int] = DEFAULT_LEVELS, rule: BinRule | str = BinRule.ADAPTIVE) -> SPPResult:
    """"SPP with global average pooling": every bin averaged; the 1x1 level is exactly GAP."""
    return spp(x, levels, pool=Pool.AVG, rule=rule)


def bin_argmax(feature: Tensor, n: int, rule: BinRule | str = BinRule.ADAPTIVE) -> Tensor:
    """For max pooling: the feature cell that wins each bin.

    ``feature`` is ``(C, h, w)``; returns a long tensor ``(C, rows, cols, 2)`` of (row, col).
    Uses the pooling op's own ``return_indices`` so the winner is the one the pool really picked.
    """
    c, h, w = feature.shape
    x = feature.unsqueeze(0)
    if BinRule.parse(rule) is BinRule.ADAPTIVE:
        _values, idx = F.adaptive_max_pool2d(x, n, return_indices=True)
    else:
        wh, sh, ch = paper_window(h, n)
        ww, sw, cw = paper_window(w, n)
        if ch == 0 or cw == 0:
            return torch.empty((c, ch, cw, 2), dtype=torch.long, device=feature.device)
        _values, idx = F.max_pool2d(x, (wh, ww), (sh, sw), return_indices=True)
    idx = idx[0]
    return torch.stack((idx // w, idx % w), dim=-1)


class SPP(nn.Module):
    """He et al.'s SPP layer: ``(B, C, h, w) -> (B, C * sum(n^2))`` for any h, w."""

    def __init__(self, levels: Sequence[int] = DEFAULT_LEVELS, pool: Pool | str = Pool.MAX,
                 rule: BinRule | str = BinRule.ADAPTIVE):
        super().__init__()
        self.levels = parse_levels(levels)
        self.pool = Pool.parse(pool)
        self.rule = BinRule.parse(rule)

    def output_length(self, channels: int) -> int:
        return spp_output_length(channels, self.levels)

    def forward(self, x: Tensor) -> Tensor:
        return spp(x, self.levels, self.pool, self.rule).vector

    def extra_repr(self) -> str:
        return f"levels={self.levels}, pool={str(self.pool)!r}, rule={str(self.rule)!r}"


# YOLO's pools as their sources fix them: ultralytics SPPF(k=5, n=3), whose windows 5, 9, 13 are
# YOLOv5's parallel SPP kernels (the app's SPPF defaults are the source's).
SOURCE_K, SOURCE_N = SPPF_DEFAULT_K, SPPF_DEFAULT_N

PoolFn = Callable[[Tensor, int], Tensor]  # a k x k stride-1 'same' max pool: (x, k) -> a tensor of x's shape


def max_pool_same(x: Tensor, k: int) -> Tensor:
    """k x k max pool, stride 1, padding k // 2: keeps ``h x w`` (padding counts as -inf)."""
    return F.max_pool2d(x, k, 1, k // 2)


def separable_max_pool(x: Tensor, k: int) -> Tensor:
    """A k x k max pool as a 1 x k then a k x 1 max pool (ultralytics PR #26082).

    Exactly equal to :func:`max_pool_same`: the max over a rectangle is the max over its rows'
    maxima, and the -inf padding of each pass never wins.
    """
    rows = F.max_pool2d(x, (1, k), 1, (0, k // 2))
    return F.max_pool2d(rows, (k, 1), 1, (k // 2, 0))


def sppf_effective_kernels(k: int = SOURCE_K, repeats: int = SOURCE_N) -> tuple[int, ...]:
    """Kernel of a single pool equal to each cascade step: (5, 9, 13) for k=5, n=3."""
    return tuple(cascade_window(k, i) for i in range(1, repeats + 1))


@dataclass(frozen=True)
class CascadeCost:
    """Window cells read per output cell and channel: SPPF's cascade reads ``repeats`` windows of
    k x k cells (each step pools the step before), YOLO's parallel pools read each of the wide
    windows ``windows`` whole. A count of the arithmetic, so it holds on any machine."""

    k: int
    repeats: int
    windows: tuple[int, ...]

    @property
    def cascade(self) -> int:
        """``repeats * k * k``: 3 x 25 = 75 for k = 5, n = 3."""
        return self.repeats * self.k * self.k

    @property
    def parallel(self) -> int:
        """``sum(window ** 2)``: 25 + 81 + 169 = 275 for k = 5, n = 3."""
        return sum(q * q for q in self.windows)

    @property
    def ratio(self) -> float:
        """How many times fewer cells the cascade reads (3.67 for k = 5, n = 3)."""
        return self.parallel / self.cascade


def cascade_cost(k: int = SOURCE_K, repeats: int = SOURCE_N) -> CascadeCost:
    """The cascade's and the parallel pools' cells read per output cell and channel at this k, n."""
    return CascadeCost(k, repeats, sppf_effective_kernels(k, repeats))


YOLO_KERNELS: tuple[int, ...] = sppf_effective_kernels(SOURCE_K, SOURCE_N)  # YOLOv5 SPP, YOLOv7 SPPCSPC: (5, 9, 13)


def parallel_branches(x: Tensor, kernels: Sequence[int] = YOLO_KERNELS, pool: PoolFn = max_pool_same) -> list[Tensor]:
    """YOLO's parallel pools ``[x, pool_k1(x), pool_k2(x), ...]``, each ``(B, C, h, w)``."""
    return [x] + [pool(x, k) for k in kernels]


def cascade_branches(x: Tensor, k: int = SOURCE_K, repeats: int = SOURCE_N, pool: PoolFn = max_pool_same) -> list[Tensor]:
    """The SPPF cascade ``[x, y1, ..., yn]`` where ``y_i = pool_k(y_{i-1})``, each ``(B, C, h, w)``.

    Branch i equals one max pool of :func:`cascade_window` ``(k, i)`` cells (5, 9, 13 for k=5).
    """
    branches = [x]
    for _repeat in range(repeats):
        branches.append(pool(branches[-1], k))
    return branches


def spp_yolo(x: Tensor, kernels: Sequence[int] = YOLO_KERNELS) -> Tensor:
    """YOLOv3/v4/v5 "SPP": ``cat([x] + [maxpool_k(x) for k], 1)``, ``(B, C, h, w) -> (B, C*(1+len(k)), h, w)``.

    Stride 1, padding k//2: the spatial size is kept, so this is NOT a fixed-length pooler.
    """
    return torch.cat(parallel_branches(x, kernels), dim=1)


def sppf(x: Tensor, k: int = SOURCE_K) -> Tensor:
    """YOLOv5 SPPF without its 1x1 convs: ``(B, C, h, w) -> (B, 4C, h, w)``, equal to ``spp_yolo(x, (5, 9, 13))``."""
    return torch.cat(cascade_branches(x, k, SOURCE_N), dim=1)


def check_sppf_fits(k: int, n: int, h: int, w: int) -> None:
    """Every SPPF branch must add something on an ``h x w`` map.

    A stride-1 window of ``2L - 1`` cells (L = max(h, w)) centred on any cell already covers the
    whole map, so once branch ``n - 1`` (branch 0 is the map itself) is that wide, pool ``n``
    only repeats it. Raises ``ValueError`` (one sentence), as for a bad k or n.
    """
    parse_sppf_k(k)
    parse_sppf_n(n)
    side = max(h, w)
    whole, before_last = 2 * side - 1, cascade_window(k, n - 1)
    if before_last >= whole:
        raise ValueError(_(
            "SPPF k={k}, n={n} reaches beyond this {h} x {w} map: branch {branch} ({before_last} cells wide) "
            "already covers the whole map ({whole} = 2 x {side} - 1 cells), so pool {n} would repeat it; "
            "choose a smaller k or n."
        ).format(k=k, n=n, h=h, w=w, branch=n - 1, before_last=before_last, whole=whole, side=side))


def exact_compare(a: Tensor, b: Tensor) -> tuple[bool, float]:
    """``(equal, max |a - b|)``, NaN-aware: NaNs in the same places count as equal (a NaN in
    the map reaches the same windows either way), a NaN on one side only is a difference of inf;
    inf equals inf of the same sign. Elementwise only (no boolean indexing, which copies): this
    runs on whole head outputs."""
    if a.shape != b.shape:
        return False, float("inf")
    nan_a, nan_b = torch.isnan(a), torch.isnan(b)
    if not torch.equal(nan_a, nan_b):
        return False, float("inf")
    same = (a == b) | nan_a  # equal values (inf == inf included), or NaN on both sides
    if bool(same.all()):
        return True, 0.0
    diff = torch.where(same, torch.zeros((), dtype=a.dtype, device=a.device), (a - b).abs())
    return False, float(diff.max())


@dataclass(frozen=True)
class Equivalence:
    """Result of running SPPF and YOLOv5's parallel SPP(5, 9, 13) on the same map."""

    equal: bool
    max_abs_diff: float
    shape: tuple[int, ...]


def sppf_equivalence(sppf_out: Tensor, parallel_out: Tensor) -> Equivalence:
    """An SPPF output against a parallel-pools output by :func:`exact_compare`."""
    return Equivalence(*exact_compare(sppf_out, parallel_out), tuple(sppf_out.shape))


def check_sppf_equivalence(x: Tensor, k: int = SOURCE_K) -> Equivalence:
    """Run :func:`sppf` and :func:`spp_yolo` with the matching kernels on ``x``; compare them."""
    return sppf_equivalence(sppf(x, k), spp_yolo(x, sppf_effective_kernels(k)))
