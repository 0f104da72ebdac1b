"""spp-viz's own modules for a YOLO backbone up to its SPPF, with the forward passes of
ultralytics' and YOLOv5's blocks (read from their public source, not copied).

Every hyperparameter is an argument: :mod:`.rebuild` takes each one from the checkpoint's
records, never from a table of model names. Sub-module names (``conv``, ``bn``, ``act``,
``cv1``, ``cv2``, ``cv3``, ``m``) are the checkpoints' own, so a tensor of the file and a
parameter here share one name (``model.9.cv1.conv.weight``).

Each block also answers :meth:`path`: the convs and pools on its widest path from input to
output, in order, from which :mod:`.stages` traces the stage geometry. Side branches (C3's
``cv2``, C2f's first chunk, SPP's smaller pools) are never wider than that path.

Shapes: every block maps ``(B, c1, h, w)`` to ``(B, c2, h', w')``; only a strided ``Conv``
changes ``h, w``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import cast

import torch
from torch import Tensor, nn

from ..pooling import cascade_branches, parallel_branches

__all__ = ["C2f", "C3", "SPP", "SPPF", "Block", "Bottleneck", "Conv", "DetectorNet", "Pool"]


class Block(nn.Module):
    """A layer of the rebuilt backbone: channels in and out, and its widest path.

    Every block but :class:`Conv` starts with the conv ``cv1`` and ends with :meth:`last`
    (``cv2``, or C3's ``cv3``); what runs between them on the widest path is :meth:`middle`.
    """

    @property
    def blocks(self) -> list[Block]:
        """The blocks of ``m`` (C3's bottlenecks, C2f's bottlenecks or C3k), in order."""
        inner = getattr(self, "m", None)
        return [b for b in inner if isinstance(b, Block)] if isinstance(inner, (nn.Sequential, nn.ModuleList)) else []

    def first(self) -> Conv:
        first = self._modules.get("cv1")
        assert isinstance(first, Conv), f"{type(self).__name__} has no cv1"
        return first

    def last(self) -> Conv:
        last = self._modules.get("cv3") or self._modules.get("cv2")
        assert isinstance(last, Conv), f"{type(self).__name__} has no cv2"
        return last

    @property
    def in_channels(self) -> int:
        return self.first().in_channels

    @property
    def out_channels(self) -> int:
        return self.last().out_channels

    def middle(self) -> Iterator[nn.Module]:
        """The widest path between ``cv1`` and the last conv: the inner blocks' paths, in order."""
        for block in self.blocks:
            yield from block.path()

    def path(self) -> Iterator[nn.Module]:
        """The ``Conv2d`` and ``MaxPool2d`` modules of the widest path, in execution order."""
        yield from self.first().path()
        yield from self.middle()
        yield from self.last().path()

    def mismatch(self) -> str:
        """Why the block's parts do not fit together ("cv2 reads 96 channels, ..."), or ``""``."""
        return ""

    def _inner(self, parts: Sequence[Block]) -> str:
        return next((problem for problem in (part.mismatch() for part in parts) if problem), "")


class Conv(Block):
    """YOLO's ``Conv``: ``act(bn(conv(x)))``, or ``act(conv(x))`` when BatchNorm was folded into
    the conv (a fused checkpoint: the conv then has a bias and there is no ``bn``)."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d | None, act: nn.Module):
        super().__init__()
        self.conv = conv
        if bn is not None:
            self.bn = bn
        self.act = act

    @property
    def bn_folded(self) -> bool:
        return not hasattr(self, "bn")

    @property
    def in_channels(self) -> int:
        return self.conv.in_channels

    @property
    def out_channels(self) -> int:
        return self.conv.out_channels

    def path(self) -> Iterator[nn.Module]:
        yield self.conv

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        if not self.bn_folded:
            x = self.bn(x)
        return self.act(x)


class Bottleneck(Block):
    """``x + cv2(cv1(x))`` when ``add`` (a shortcut between equal widths), else ``cv2(cv1(x))``."""

    def __init__(self, cv1: Conv, cv2: Conv, add: bool):
        super().__init__()
        self.cv1 = cv1
        self.cv2 = cv2
        self.add = add

    def mismatch(self) -> str:
        if self.cv2.in_channels != self.cv1.out_channels:
            return f"cv2 reads {self.cv2.in_channels} channels where cv1 gives {self.cv1.out_channels}"
        if self.add and self.in_channels != self.out_channels:
            return f"a shortcut adds {self.in_channels} to {self.out_channels} channels"
        return self._inner([self.cv1, self.cv2])

    def forward(self, x: Tensor) -> Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(Block):
    """CSP bottleneck with three convs (YOLOv5's C3, ultralytics' C3 and C3k):
    ``cv3(cat(m(cv1(x)), cv2(x)))``; ``m`` runs its bottlenecks one after another."""

    def __init__(self, cv1: Conv, cv2: Conv, cv3: Conv, m: Sequence[Block]):
        super().__init__()
        self.cv1 = cv1
        self.cv2 = cv2
        self.cv3 = cv3
        self.m = nn.Sequential(*m)

    def mismatch(self) -> str:
        width = self.cv1.out_channels
        blocks = self.blocks
        if any((b.in_channels, b.out_channels) != (width, width) for b in blocks):
            return f"a block of m does not map {width} channels to {width}"
        if self.cv2.in_channels != self.in_channels or self.cv3.in_channels != width + self.cv2.out_channels:
            return f"cv3 reads {self.cv3.in_channels} channels where cv1 and cv2 give {width + self.cv2.out_channels}"
        return self._inner([self.cv1, self.cv2, self.cv3, *blocks])

    def forward(self, x: Tensor) -> Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class C2f(Block):
    """CSP bottleneck with two convs, every block's output kept (YOLOv8's C2f; YOLO11's C3k2,
    whose blocks are bottlenecks or C3k): ``cv1``'s output is split in two halves of ``hidden``
    channels, each block runs on the previous output, and ``cv2`` reads all of them."""

    def __init__(self, cv1: Conv, cv2: Conv, m: Sequence[Block], hidden: int):
        super().__init__()
        self.cv1 = cv1
        self.cv2 = cv2
        self.m = nn.ModuleList(m)
        self.hidden = hidden

    def mismatch(self) -> str:
        blocks = self.blocks
        if self.cv1.out_channels != 2 * self.hidden:
            return f"cv1 gives {self.cv1.out_channels} channels, not two halves of {self.hidden}"
        if any((b.in_channels, b.out_channels) != (self.hidden, self.hidden) for b in blocks):
            return f"a block of m does not map {self.hidden} channels to {self.hidden}"
        if self.cv2.in_channels != (2 + len(blocks)) * self.hidden:
            return f"cv2 reads {self.cv2.in_channels} channels where the branches give {(2 + len(blocks)) * self.hidden}"
        return self._inner([self.cv1, self.cv2, *blocks])

    def forward(self, x: Tensor) -> Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        for block in self.m:
            y.append(block(y[-1]))
        return self.cv2(torch.cat(y, 1))


class Pool(nn.MaxPool2d):
    """A stride-1 "same" max pool of a pyramid block: ``nn.MaxPool2d(k, 1, k // 2)``."""

    def __init__(self, k: int):
        super().__init__(k, 1, k // 2)

    @property
    def k(self) -> int:
        return kernel_of(self)


def kernel_of(pool: nn.Module) -> int:
    """A pooling module's (square) kernel size."""
    size = cast("int | tuple[int, ...]", pool.kernel_size)
    return int(size) if isinstance(size, int) else int(size[0])


class SPPF(Block):
    """SPPF: ``y0 = cv1(x)``, ``y_i = m(y_{i-1})`` for ``n`` pools, ``cv2(cat(y0..yn))``, plus
    ``x`` when ``add`` (ultralytics 8.4's shortcut). YOLOv5 and ultralytics up to 8.3 use n = 3.
    The cascade is :func:`spp_viz.pooling.cascade_branches`, each step a call of ``m`` (so the
    geometry trace sees every one)."""

    def __init__(self, cv1: Conv, cv2: Conv, m: Pool, n: int, add: bool = False):
        super().__init__()
        self.cv1 = cv1
        self.cv2 = cv2
        self.m = m
        self.n = n
        self.add = add

    def middle(self) -> Iterator[nn.Module]:
        yield self.m  # called n times: the trace records each call

    def mismatch(self) -> str:
        return _pyramid_mismatch(self, self.n, self.add)

    def pool_part(self, y: Tensor) -> list[Tensor]:
        """``[y, m(y), m(m(y)), ...]`` on cv1's output ``y`` ``(B, hidden, h, w)``: the pools alone."""
        return cascade_branches(y, kernel_of(self.m), self.n, lambda t, _k: self.m(t))

    def forward(self, x: Tensor) -> Tensor:
        out = self.cv2(torch.cat(self.pool_part(self.cv1(x)), 1))
        return out + x if self.add else out


class SPP(Block):
    """YOLO's parallel SPP: ``y0 = cv1(x)``, ``cv2(cat(y0, m_1(y0), ..., m_j(y0)))`` with pools of
    growing k (5, 9, 13 in the files that use it); the branches are
    :func:`spp_viz.pooling.parallel_branches`, each pool a module of ``m``."""

    def __init__(self, cv1: Conv, cv2: Conv, m: Sequence[Pool]):
        super().__init__()
        self.cv1 = cv1
        self.cv2 = cv2
        self.m = nn.ModuleList(m)

    @property
    def kernels(self) -> tuple[int, ...]:
        return tuple(pool.k for pool in self.pools)

    @property
    def pools(self) -> list[Pool]:
        return [pool for pool in self.m if isinstance(pool, Pool)]

    def middle(self) -> Iterator[nn.Module]:
        yield max(self.pools, key=lambda pool: pool.k)  # the widest branch; the others lie inside it

    def mismatch(self) -> str:
        return _pyramid_mismatch(self, len(self.pools), False)

    def pool_part(self, y: Tensor) -> list[Tensor]:
        """``[y, m_1(y), ..., m_j(y)]`` on cv1's output ``y`` ``(B, hidden, h, w)``: the pools alone."""
        kernels = tuple(kernel_of(pool) for pool in self.m)
        pools = dict(zip(kernels, self.m))  # pools of one size compute the same
        return parallel_branches(y, kernels, lambda t, k: pools[k](t))

    def forward(self, x: Tensor) -> Tensor:
        return self.cv2(torch.cat(self.pool_part(self.cv1(x)), 1))


def _pyramid_mismatch(block: SPPF | SPP, pools: int, add: bool) -> str:
    """cv2 reads the ``pools + 1`` maps of cv1's width; a shortcut needs equal widths."""
    expected = block.cv1.out_channels * (pools + 1)
    if block.cv2.in_channels != expected:
        return f"cv2 reads {block.cv2.in_channels} channels where cv1 and its {pools} pools give {expected}"
    if add and block.in_channels != block.out_channels:
        return f"a shortcut adds {block.in_channels} to {block.out_channels} channels"
    return block._inner([block.cv1, block.cv2])


class DetectorNet(nn.Module):
    """The rebuilt backbone: ``model.0`` (the stem) to ``model.<k>`` (the SPPF), run one after the
    other. ``forward(x, last)`` returns layer ``last``'s output for ``(B, 3, H, W)`` RGB in [0, 1]."""

    def __init__(self, layers: Sequence[Block]):
        super().__init__()
        self.model = nn.ModuleList(layers)

    def layer(self, index: int) -> Block:
        block = self.model[index]
        assert isinstance(block, Block)
        return block

    def forward(self, x: Tensor, last: int = -1) -> Tensor:
        last = last % len(self.model)
        for block in self.model[:last + 1]:
            x = block(x)
        return x

    def path(self, last: int = -1) -> Iterator[nn.Module]:
        """The widest path's convs and pools of layers 0 to ``last``."""
        last = last % len(self.model)
        for index in range(last + 1):
            yield from self.layer(index).path()
