"""A rebuilt detector's stages and their geometry.

``p3``, ``p4``, ``p5`` are the outputs of the last layer before the SPPF whose output has
stride 8, 16 and 32 (layers 4, 6 and 8 in YOLOv5, YOLOv8 and YOLO11); ``sppf`` is the SPPF's
output. Strides are read from the rebuilt layers' convs, not from a table. The geometry of a stage
(stride, receptive field, the padding of every layer, hence each cell's span) is traced like
every backbone's (:func:`spp_viz.trace.trace_geometry`), over the widest path of the layers
(:meth:`.modules.Block.path`), so that a parallel SPP counts its widest pool once.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..defaults import DETECTOR_STAGES
from ..errors import CheckpointProblem, DetectorCheckpointError
from ..geometry import StageGeometry
from ..trace import trace_geometry
from .modules import DetectorNet

__all__ = ["STAGE_STRIDES", "layer_strides", "stage_geometry", "stage_layers"]

STAGE_STRIDES = {"p3": 8, "p4": 16, "p5": 32}


def layer_strides(net: DetectorNet) -> list[int]:
    """The output stride of every layer: the product of the strides on the paths so far."""
    strides, total = [], 1
    for index in range(len(net.model)):
        for module in net.layer(index).path():
            if isinstance(module, (nn.Conv2d, nn.MaxPool2d)):
                stride = module.stride
                total *= int(stride[0] if isinstance(stride, tuple) else stride)
        strides.append(total)
    return strides


def stage_layers(net: DetectorNet, sppf_index: int, filename: str) -> dict[str, int]:
    """``{"p3": 4, "p4": 6, "p5": 8, "sppf": 9}`` for the usual layouts: each stage's layer index."""
    strides = layer_strides(net)
    out = {}
    for stage, stride in STAGE_STRIDES.items():
        found = [i for i in range(sppf_index) if strides[i] == stride]
        if not found:
            raise DetectorCheckpointError(
                CheckpointProblem.BAD_RECORD,
                f"{filename}: no layer before the SPPF has stride {stride}, so its stage {stage} cannot be shown.")
        out[stage] = found[-1]
    out["sppf"] = sppf_index
    assert tuple(out) == DETECTOR_STAGES
    return out


def stage_geometry(net: DetectorNet, last: int, device: torch.device) -> StageGeometry:
    """Stride, receptive field and path layers of layer ``last``'s output, traced on a zero image
    large enough that every layer of the path sees at least 2 x 2 cells."""
    stride = layer_strides(net)[last]
    side = max(64, 2 ** math.ceil(math.log2(2 * stride)))
    return trace_geometry(nn.ModuleList(net.path(last)), lambda x: net(x, last), device, side)
