"""The layer trace: a model's conv and pooling layers, in execution order, up to a stage.

:func:`trace_calls` runs one forward pass with a forward hook on every ``Conv2d``,
``MaxPool2d`` and ``AvgPool2d``; each call on the main path becomes a :class:`LayerCall`: its
:class:`~spp_viz.geometry.LayerGeometry` (kernel, stride, dilation, padding, ceil mode; TF
"same" padding for EfficientNet-Lite's ``SameConv2d``), the sizes it received and gave, and the
padding it really applied to that input. :func:`trace_geometry` makes the stage's
:class:`~spp_viz.geometry.StageGeometry` of the layers (stride, theoretical receptive field) from
the trace of a small zero image. Residual shortcut convs (``downsample``) are off the path: they never
widen the field or change the size beyond the main path. Squeeze-excite convs run on a globally
pooled 1 x 1 map: not layers of the path, they set ``global_context``, since every output then
depends on every pixel.

The backbones' tables (:mod:`spp_viz.layer_tables`) are written from these traces once
(``python -m spp_viz.devtools.geometry_tables``); a detector checkpoint's stages are traced when
it loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from .efficientnet_lite import SameConv2d
from .geometry import LayerGeometry, StageGeometry

__all__ = ["LayerCall", "Trace", "trace_calls", "trace_geometry"]

_TRACED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


@dataclass(frozen=True)
class LayerCall:
    """One call of a conv or pool, as it really ran."""

    module: str  # the module's name in the model
    layer: LayerGeometry
    input_size: tuple[int, int]  # (h, w) it received
    output_size: tuple[int, int]  # (h, w) it gave
    padding: tuple[int, int]  # (top, left): what it padded before the first row and column of this input
    on_path: bool = True  # False for a residual shortcut and a squeeze-excite conv


@dataclass(frozen=True)
class Trace:
    """Every conv and pool call up to a stage, and the stage's map: ``(C, h, w)``."""

    every_call: tuple[LayerCall, ...]
    shape: tuple[int, int, int]
    global_context: bool  # a squeeze-excite on the path (a conv ran on a 1 x 1 map)

    @property
    def calls(self) -> tuple[LayerCall, ...]:
        """The main path's calls, in execution order."""
        return tuple(call for call in self.every_call if call.on_path)

    def geometry(self) -> StageGeometry:
        return StageGeometry.of_layers([call.layer for call in self.calls], self.shape[0], self.global_context)


def trace_calls(model: nn.Module, extractor: Callable[[Tensor], Tensor], x: Tensor) -> Trace:
    """Run ``extractor`` (``(B, 3, H, W)`` -> the stage's map) on ``x`` and record every conv and
    pool of ``model`` it calls. A call on a 1 x 1 map is taken for squeeze-excite: trace an input
    large enough that no layer of the main path sees one (:func:`trace_geometry`)."""
    calls: list[LayerCall] = []
    global_context: list[str] = []
    names = {module: name for name, module in model.named_modules()}

    def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        name = names.get(module, "")
        size = (int(inputs[0].shape[-2]), int(inputs[0].shape[-1]))
        shortcut = "downsample" in name  # a residual shortcut
        squeeze_excite = not shortcut and size == (1, 1)  # on a globally pooled 1 x 1 map
        if squeeze_excite:
            global_context.append(name)
        on_path = not (shortcut or squeeze_excite)
        out = (int(output.shape[-2]), int(output.shape[-1]))
        calls.append(LayerCall(name, _layer(module), size, out, _padding(module, size), on_path))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, _TRACED)]
    try:
        with torch.inference_mode():
            out = extractor(x)
    finally:
        for handle in handles:
            handle.remove()
    c, h, w = out.shape[-3:]
    return Trace(tuple(calls), (int(c), int(h), int(w)), bool(global_context))


def trace_geometry(model: nn.Module, extractor: Callable[[Tensor], Tensor], device: torch.device, side: int = 64) -> StageGeometry:
    """Stride, channels, theoretical receptive field and layer list of the main path to the stage
    that ``extractor`` returns, traced on a ``side`` x ``side`` zero image: large enough that no
    layer of the path sees a 1 x 1 map (taken for squeeze-excite)."""
    return trace_calls(model, extractor, torch.zeros(1, 3, side, side, device=device)).geometry()


def _layer(module: nn.Module) -> LayerGeometry:
    """The geometry of one traced conv or pool."""
    if isinstance(module, nn.Conv2d):
        same = isinstance(module, SameConv2d)
        return LayerGeometry(module.kernel_size[0], module.stride[0], module.dilation[0], _first(module.padding), False, same)
    assert isinstance(module, (nn.MaxPool2d, nn.AvgPool2d))
    return LayerGeometry(_first(module.kernel_size), _first(module.stride), 1, _first(module.padding), bool(module.ceil_mode))


def _padding(module: nn.Module, size: tuple[int, int]) -> tuple[int, int]:
    """``(top, left)`` padding that ``module`` applies to an input of ``size`` (h, w)."""
    if isinstance(module, SameConv2d):
        left, _, top, _ = module.same_padding(*size)
        return top, left
    padding = module.padding
    if isinstance(padding, int):
        return padding, padding
    assert isinstance(padding, (tuple, list)) and len(padding) == 2, f"not a padding: {padding!r}"
    return int(padding[0]), int(padding[1])


def _first(value: object) -> int:
    """An int, or the first of an (h, w) pair (the traced layers are square)."""
    if isinstance(value, int):
        return value
    assert isinstance(value, (tuple, list)) and isinstance(value[0], int), f"not a size: {value!r}"
    return value[0]
