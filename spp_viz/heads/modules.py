"""The pyramid-pooling family as small modules: functional pooling parts plus ``nn.Module`` wrappers.

Each module is written from its source's definition (read, not copied; the sources are listed in
:mod:`spp_viz.heads.registry`). Every module has ``pool_part(x) -> list[Tensor]``: its own
parameter-free pooling layers run on ``x`` with no conv before them, so the pooling can be run
on a REAL feature map (the convs have no pretrained weights for our backbones) and checked
for the exact equalities the family is built on. The pooling itself is :mod:`spp_viz.pooling`'s
(:func:`~spp_viz.pooling.parallel_branches`, :func:`~spp_viz.pooling.cascade_branches`).

Shapes: ``x`` is ``(B, C, h, w)``; every head here except SPP keeps ``h x w``.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..pooling import SOURCE_K, SOURCE_N, YOLO_KERNELS, cascade_branches, max_pool_same, parallel_branches, separable_max_pool


class Act(Enum):
    """The activation after a YOLO ``Conv``'s BatchNorm."""

    SILU = "silu"
    RELU = "relu"
    NONE = "none"


def _activation(act: Act) -> nn.Module:
    return {Act.SILU: nn.SiLU, Act.RELU: nn.ReLU, Act.NONE: nn.Identity}[act]()


class YoloConv(nn.Module):
    """YOLO's ``Conv``: Conv2d (no bias, 'same' padding k // 2) + BatchNorm2d + activation.

    ``(B, c1, h, w) -> (B, c2, h, w)``; params ``c1 * c2 * k * k + 2 * c2`` (BN's weight and bias).
    """

    def __init__(self, c1: int, c2: int, k: int = 1, act: Act = Act.SILU):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, 1, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = _activation(act)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class CascadePools(nn.Module):
    """``repeats`` chained k x k stride-1 pools (:func:`spp_viz.pooling.cascade_branches`), each
    as one square pool or as two separable passes: SPPF's pools, CSPSPPF's and SPPELAN's."""

    def __init__(self, k: int = SOURCE_K, repeats: int = SOURCE_N, separable: bool = False):
        super().__init__()
        self.k, self.repeats, self.separable = k, repeats, separable

    def pool_part(self, x: Tensor) -> list[Tensor]:
        """``[x, y1, ..., yn]``, each ``(B, C, h, w)``."""
        return cascade_branches(x, self.k, self.repeats, separable_max_pool if self.separable else max_pool_same)

    def extra_repr(self) -> str:
        return f"k={self.k}, repeats={self.repeats}, separable={self.separable}"


class ParallelPools(nn.Module):
    """Parallel k x k stride-1 pools (:func:`spp_viz.pooling.parallel_branches`): the pools of
    YOLOv5's SPP and YOLOv7's SPPCSPC."""

    def __init__(self, kernels: Sequence[int] = YOLO_KERNELS):
        super().__init__()
        self.kernels = tuple(kernels)

    def pool_part(self, x: Tensor) -> list[Tensor]:
        """``[x, pool_k1(x), ...]``, each ``(B, C, h, w)``."""
        return parallel_branches(x, self.kernels)

    def extra_repr(self) -> str:
        return f"kernels={self.kernels}"


class SPPFBlock(nn.Module):
    """SPPF (ultralytics ``SPPF(c1, c2, k, n)``; YOLOv6 ``SimSPPF`` with ``act=RELU, cv1_act=RELU``).

    cv1 1x1 c1 -> c1 // 2, ``repeats`` (ultralytics' n) chained k x k pools, concat ``(repeats + 1) * c_``,
    cv2 1x1 -> c2.
    ``(B, c1, h, w) -> (B, c2, h, w)``.
    """

    def __init__(self, c1: int, c2: int, k: int = SOURCE_K, repeats: int = SOURCE_N, act: Act = Act.SILU,
                 cv1_act: Act = Act.NONE, separable: bool = False):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = YoloConv(c1, c_, 1, cv1_act)
        self.cv2 = YoloConv(c_ * (repeats + 1), c2, 1, act)
        self.pools = CascadePools(k, repeats, separable)

    def pool_part(self, x: Tensor) -> list[Tensor]:
        return self.pools.pool_part(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.cv2(torch.cat(self.pool_part(self.cv1(x)), 1))


class ParallelPoolBlock(nn.Module):
    """YOLOv5 ``SPP(c1, c2, k)``: cv1 1x1 c1 -> c1 // 2, parallel k x k pools, concat, cv2 1x1 -> c2.

    ``(B, c1, h, w) -> (B, c2, h, w)``: the size is kept; it is not He et al.'s fixed-length SPP.
    """

    def __init__(self, c1: int, c2: int, kernels: Sequence[int] = YOLO_KERNELS):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = YoloConv(c1, c_, 1)
        self.cv2 = YoloConv(c_ * (len(kernels) + 1), c2, 1)
        self.pools = ParallelPools(kernels)

    def pool_part(self, x: Tensor) -> list[Tensor]:
        return self.pools.pool_part(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.cv2(torch.cat(self.pool_part(self.cv1(x)), 1))


class CSPPoolBlock(nn.Module):
    """The CSP wrap of a pool pyramid: YOLOv7 ``SPPCSPC`` (parallel 5/9/13, ``c_ = c2``) and
    YOLOv6 ``CSPSPPF`` (three chained 5x5 pools, ``c_ = c2 // 2``).

    x1 = cv4(cv3(cv1(x))) (1x1, 3x3, 1x1); y = cv6(cv5(cat(x1, pools(x1)))) (1x1 4c_ -> c_, 3x3);
    shortcut = cv2(x) (1x1); out = cv7(cat(...)) 1x1 2c_ -> c2. ``shortcut_first`` is YOLOv6's
    order ``cat(shortcut, y)``; YOLOv7 concatenates ``cat(y, shortcut)``.
    """

    def __init__(self, c1: int, c2: int, c_: int, pools: CascadePools | ParallelPools, act: Act = Act.SILU,
                 shortcut_first: bool = False):
        super().__init__()
        self.cv1 = YoloConv(c1, c_, 1, act)
        self.cv2 = YoloConv(c1, c_, 1, act)
        self.cv3 = YoloConv(c_, c_, 3, act)
        self.cv4 = YoloConv(c_, c_, 1, act)
        self.pools = pools
        self.cv5 = YoloConv(4 * c_, c_, 1, act)
        self.cv6 = YoloConv(c_, c_, 3, act)
        self.cv7 = YoloConv(2 * c_, c2, 1, act)
        self.shortcut_first = shortcut_first

    def pool_part(self, x: Tensor) -> list[Tensor]:
        return self.pools.pool_part(x)

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.cv4(self.cv3(self.cv1(x)))
        y = self.cv6(self.cv5(torch.cat(self.pool_part(x1), 1)))
        shortcut = self.cv2(x)
        return self.cv7(torch.cat((shortcut, y) if self.shortcut_first else (y, shortcut), 1))


class SPPELANBlock(nn.Module):
    """YOLOv9 ``SPPELAN(c1, c2, c3)``: cv1 1x1 c1 -> c3, three chained ``SP(5)``, cv5 1x1 4 c3 -> c2.

    ``(B, c1, h, w) -> (B, c2, h, w)``. Apart from c3 being free, this is SPPF's structure.
    """

    def __init__(self, c1: int, c2: int, c3: int, k: int = SOURCE_K):
        super().__init__()
        self.cv1 = YoloConv(c1, c3, 1)
        self.pools = CascadePools(k, SOURCE_N)
        self.cv5 = YoloConv(4 * c3, c2, 1)

    def pool_part(self, x: Tensor) -> list[Tensor]:
        return self.pools.pool_part(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.cv5(torch.cat(self.pool_part(self.cv1(x)), 1))


class PyramidPoolingModule(nn.Module):
    """PSPNet's ``PPM`` (hszhao/semseg): per bin, adaptive average pool -> 1x1 conv (no bias) ->
    BN -> ReLU -> bilinear upsample (align_corners=True); concat with x.

    ``(B, C, h, w) -> (B, C + len(bins) * reduction, h, w)`` (2C with 4 bins and C / 4 each).
    """

    def __init__(self, in_dim: int, reduction_dim: int, bins: Sequence[int] = (1, 2, 3, 6)):
        super().__init__()
        self.bins = tuple(bins)
        self.features = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(in_dim, reduction_dim, 1, bias=False),
                          nn.BatchNorm2d(reduction_dim), nn.ReLU())
            for b in self.bins
        )

    def pool_part(self, x: Tensor) -> list[Tensor]:
        """Each bin's adaptive average pool of x: ``(B, C, b, b)`` (He et al.'s average SPP levels)."""
        return [cast(nn.Sequential, branch)[0](x) for branch in self.features]

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        out = [x] + [F.interpolate(f(x), size, mode="bilinear", align_corners=True) for f in self.features]
        return torch.cat(out, 1)
