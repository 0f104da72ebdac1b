"""FLOPs of a head's module on any map size, from two tiny counts.

``torch.utils.flop_counter.FlopCounterMode`` counts a convolution as ``2 * prod(weight shape) *
prod(output spatial shape)``, by shape, whatever the padding does; pooling, BatchNorm,
activations and interpolation count 0. Every conv in the family either runs on the full
``h x w`` map ('same' padding: a count linear in ``h * w``) or on a map whose size does not depend
on ``h x w`` (PPM's b x b bins, ASPP's 1 x 1 image pooling: a constant). So a head's FLOPs are
exactly ``constant + per_cell * h * w``; two counts (1 x 1 and 1 x 2 maps) give both numbers, and
a 44 M-parameter SPPCSPC never runs a full-size forward just to be counted. Tests check the
model against a full-size count.

A built-in head (and a checkpoint's trained block, rebuilt from the same layers) does all its
FLOPs in ``nn.Conv2d`` modules, so its two counts apply ``flop_counter``'s own conv formula
(:func:`~torch.utils.flop_counter.conv_flop_count`) to each conv call's shapes
(:func:`conv_flops`): the numbers ``FlopCounterMode`` gives (tests compare them), without its
dispatch mode, whose first use in a process imports ``torch._dynamo`` (1.3 to 2 s, on a cold
page's way to its first phase). A head added with ``register`` is counted by ``FlopCounterMode``.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from ..defaults import HEAD_IDS
from .registry import BuildArgs, TrainedHead, build_head, get_spec


@dataclass(frozen=True)
class FlopModel:
    """``flops(h, w) = constant + per_cell * h * w`` for one head and channel count."""

    constant: int
    per_cell: int

    def at(self, h: int, w: int) -> int:
        return self.constant + self.per_cell * h * w


def count_flops(module: nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one forward of ``module`` on ``x`` ``(B, C, h, w)`` by ``FlopCounterMode``."""
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        module(x)
    return int(counter.get_total_flops())


def conv_flops(module: nn.Module, x: torch.Tensor) -> int:
    """What :func:`count_flops` gives for a module whose every FLOP is an ``nn.Conv2d`` call:
    ``conv_flop_count`` on each call's input, weight and output shapes, read by forward hooks.
    The module may be one that other sessions' threads run meanwhile: the hooks count only this
    thread's calls, and are removed afterwards."""
    counter, total = threading.get_ident(), [0]

    def hook(conv: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if threading.get_ident() == counter:
            weight = cast(torch.Tensor, conv.weight)
            total[0] += conv_flop_count(list(inputs[0].shape), list(weight.shape), list(output.shape))

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.inference_mode():
            module(x)
    finally:
        for handle in handles:
            handle.remove()
    return total[0]


def module_flop_model(module: nn.Module, channels: int, device: torch.device | str = "cpu", convs_only: bool = False) -> FlopModel:
    """``module``'s :class:`FlopModel` on ``channels``-channel maps, from counts on a 1 x 1 and a
    1 x 2 map on ``device`` (where the module lives; FLOPs do not depend on it); ``convs_only``: its
    FLOPs are all ``nn.Conv2d`` calls' (counted by :func:`conv_flops`, else :func:`count_flops`)."""
    count = conv_flops if convs_only else count_flops
    one = count(module, torch.zeros(1, channels, 1, 1, device=device))
    two = count(module, torch.zeros(1, channels, 1, 2, device=device))
    return FlopModel(one - (two - one), two - one)


@functools.lru_cache(maxsize=64)
def _flop_model(head_id: str, key: BuildArgs) -> FlopModel:
    # the CPU copy of the seeded head
    return module_flop_model(build_head(head_id, key), key.channels, convs_only=head_id in HEAD_IDS)


def flop_model(head_id: str, args: BuildArgs, trained: TrainedHead | None = None) -> FlopModel:
    """The head's :class:`FlopModel` for ``args.channels``: the seeded module's (cached per
    normalised args), or the trained block's when ``args`` names it (counted on its own device)."""
    key = get_spec(head_id).key(args)
    if key.trained:
        module = build_head(head_id, key, next(trained.module.parameters()).device if trained else "cpu", trained)
        return module_flop_model(module, key.channels, next(module.parameters()).device, convs_only=True)
    return _flop_model(head_id, key)
