"""A toy pooling head: the map and one 3 x 3 stride-1 max pool of it, concatenated.

The example of docs/adding-a-head.md: a module with ``pool_part`` and one :class:`HeadSpec`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from spp_viz.heads.registry import BranchKind, BranchShape, BuildArgs, Claim, HeadSpec
from spp_viz.pooling import parallel_branches

TOY_KERNEL = 3


class ToyPool(nn.Module):
    """``(B, C, h, w) -> (B, 2C, h, w)``: ``x`` and a 3 x 3 stride-1 max pool of ``x``."""

    def pool_part(self, x: Tensor) -> list[Tensor]:
        """Its parameter-free pooling: ``[x, pool_3(x)]``, each ``(B, C, h, w)``."""
        return parallel_branches(x, (TOY_KERNEL,))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(self.pool_part(x), 1)


TOY = HeadSpec(
    id="toy",
    name="Toy pool",
    source="docs/adding-a-head.md",
    purpose="The map next to one 3 x 3 max pool of it: the smallest head there is.",
    build=lambda args: ToyPool(),
    branches=lambda args: (BranchShape("x", BranchKind.INPUT, 1),
                           BranchShape(f"pool {TOY_KERNEL}", BranchKind.POOL, TOY_KERNEL)),
    claims=lambda args: (Claim("sppf", "its 3 x 3 pool is SPPF with k=3, n=1", BuildArgs(args.channels, TOY_KERNEL, 1)),),
)
