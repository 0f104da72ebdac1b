"""The layer trace: a model's conv and pooling layers, in execution order, up to a stage.

:func:`trace_geometry` runs one small forward pass (a 64 x 64 zero image unless told another
side) with a forward hook on
every ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d``; each call on the main path becomes a
:class:`~spp_viz.geometry.LayerGeometry` (kernel, stride, dilation, padding, ceil mode; TF
"same" padding for EfficientNet-Lite's ``SameConv2d``). From them follow the stage's stride and
theoretical receptive field (``r += (k - 1) * d * j; j *= s``). Residual shortcut convs
(``downsample``) are skipped: they never widen the field or change the size beyond the main path.
Squeeze-excite convs run on a globally pooled 1 x 1 map: not layers of the path, they set
``global_context``, since every output then depends on every pixel.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from .efficientnet_lite import SameConv2d
from .geometry import LayerGeometry, StageGeometry

__all__ = ["trace_geometry"]

_TRACED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def trace_geometry(model: nn.Module, extractor: Callable[[Tensor], Tensor], device: torch.device, side: int = 64) -> StageGeometry:
    """Stride, channels, theoretical receptive field and layer list of the main path to the stage
    that ``extractor`` (``(B, 3, H, W)`` -> the stage's map) returns. ``side``: the zero image's
    side, large enough that no layer of the path sees a 1 x 1 map (taken for squeeze-excite)."""
    layers: list[LayerGeometry] = []
    global_context: list[str] = []
    names = {module: name for name, module in model.named_modules()}

    def hook(module: nn.Module, inputs: tuple[Tensor, ...], _output: Tensor) -> None:
        name = names.get(module, "")
        if "downsample" in name:
            return  # shortcut branch
        if inputs[0].shape[-1] == 1 and inputs[0].shape[-2] == 1:
            global_context.append(name)  # squeeze-excite on a globally pooled 1 x 1 map
            return
        layers.append(_layer(module))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, _TRACED)]
    try:
        with torch.inference_mode():
            out = extractor(torch.zeros(1, 3, side, side, device=device))
    finally:
        for handle in handles:
            handle.remove()
    rf, jump = 1, 1
    for layer in layers:
        rf += (layer.kernel - 1) * layer.dilation * jump
        jump *= layer.stride
    return StageGeometry(stride=jump, channels=int(out.shape[1]), receptive_field=rf, layers=tuple(layers),
                         global_context=bool(global_context))


def _layer(module: nn.Module) -> LayerGeometry:
    """The geometry of one traced conv or pool."""
    if isinstance(module, nn.Conv2d):
        same = isinstance(module, SameConv2d)
        return LayerGeometry(module.kernel_size[0], module.stride[0], module.dilation[0], _first(module.padding), False, same)
    assert isinstance(module, (nn.MaxPool2d, nn.AvgPool2d))
    return LayerGeometry(_first(module.kernel_size), _first(module.stride), 1, _first(module.padding), bool(module.ceil_mode))


def _first(value: object) -> int:
    """An int, or the first of an (h, w) pair (the traced layers are square)."""
    if isinstance(value, int):
        return value
    assert isinstance(value, (tuple, list)) and isinstance(value[0], int), f"not a size: {value!r}"
    return value[0]
