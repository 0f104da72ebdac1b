"""The backbone of a detector checkpoint, from its input to its SPPF, rebuilt with spp-viz's own
modules (:mod:`.modules`) from the file's records.

Each block is built from its record's own hyperparameters: a conv's channels, kernel, stride,
padding, dilation, groups and bias; a BatchNorm's eps; the activation the record holds (ultralytics
8.4 builds SPPF's ``cv1`` with ``Identity``, 8.3 and YOLOv5 with ``SiLU``); a pool's k; a
bottleneck's shortcut; C2f's hidden width; SPPF's pool count and shortcut. The blocks are made on
the meta device (nothing allocated); a layer whose parts do not fit together, or that does not
read what the layer before gives, is named (:meth:`.modules.Block.mismatch`). Then they take
every tensor of the file by name, its shape checked first (``load_state_dict(assign=True)``:
the loaded float32 tensors are used as they are).
The SPPF is found by its type (the first ``SPPF`` or ``SPP`` record), not by its index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import CheckpointProblem, DetectorCheckpointError
from ..i18n import _
from .modules import C3, SPP, SPPF, Block, Bottleneck, C2f, Conv, DetectorNet, Pool
from .standins import MODEL_PREFIXES, StandIn

__all__ = ["PYRAMID_KINDS", "Rebuilt", "rebuild"]

PYRAMID_KINDS = ("SPPF", "SPP")
_MAX_KERNEL, _MAX_STRIDE, _MAX_CHANNELS = 31, 8, 16_384
_MAX_NESTING = 3  # C3k2.m.0 (a C3k).m.0 (a Bottleneck) is two levels
_ACTIVATIONS: dict[str, Callable[[StandIn], nn.Module]] = {
    "SiLU": lambda r: nn.SiLU(),
    "Identity": lambda r: nn.Identity(),
    "ReLU": lambda r: nn.ReLU(),
    "ReLU6": lambda r: nn.ReLU6(),
    "Hardswish": lambda r: nn.Hardswish(),
    "Mish": lambda r: nn.Mish(),
    "LeakyReLU": lambda r: nn.LeakyReLU(_number(r, "negative_slope", 0.01)),
}


@dataclass(frozen=True)
class Rebuilt:
    """The rebuilt layers (``net.model[0..sppf]``), each layer's record class, and the SPPF's index."""

    net: DetectorNet
    kinds: tuple[str, ...]  # each layer's class path in the file
    declared_params: tuple[int | None, ...]  # each layer record's ``np``
    sppf_index: int


class _Context:
    """The file's name and the record being built, for the sentence of an error."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, problem: CheckpointProblem, where: str, what: str, subject: str = "") -> DetectorCheckpointError:
        return DetectorCheckpointError(problem, f"{self.filename}: {where} {what}.", subject)


def rebuild(model: StandIn, filename: str) -> Rebuilt:
    """Layers 0 to the SPPF of ``model`` (a DetectionModel / YOLOv5 Model record), weights loaded."""
    ctx = _Context(filename)
    layers = _layer_records(model, ctx)
    sppf_index = next((i for i, r in enumerate(layers) if r.kind in PYRAMID_KINDS and r.name.startswith(MODEL_PREFIXES)), None)
    if sppf_index is None:
        raise DetectorCheckpointError(
            CheckpointProblem.NO_SPPF,
            _("{name} has no SPPF or SPP layer, so there is no pyramid pooling block to show.").format(name=filename))
    for i, record in enumerate(layers[:sppf_index + 1]):
        if record.attr("f", -1) != -1:
            raise ctx.fail(CheckpointProblem.BAD_RECORD, f"layer {i} ({record.kind})",
                           f"reads layer {record.attr('f')!r}, but the layers before an SPPF run one after the other")
    with torch.device("meta"):
        blocks = [_block(r, f"layer {i}", ctx) for i, r in enumerate(layers[:sppf_index + 1])]
    net = DetectorNet(blocks).eval()
    _check_fit(net, layers, ctx)
    tensors: dict[str, Tensor] = {}
    for i, record in enumerate(layers[:sppf_index + 1]):
        _collect(record, f"model.{i}.", tensors)
    _load(net, tensors, ctx)
    kinds = tuple(r.name for r in layers[:sppf_index + 1])
    declared = tuple(r.attr("np") if isinstance(r.attr("np"), int) else None for r in layers[:sppf_index + 1])
    return Rebuilt(net, kinds, declared, sppf_index)


def _layer_records(model: StandIn, ctx: _Context) -> list[StandIn]:
    """The records of ``model.model`` (an ``nn.Sequential``), in order."""
    sequential = model.child("model")
    if sequential is None or sequential.kind not in ("Sequential", "ModuleList"):
        raise ctx.fail(CheckpointProblem.BAD_RECORD, f"its {model.kind}", "holds no layer list ('model')")
    layers = list(sequential.children().values())
    if not layers or not all(isinstance(r, StandIn) for r in layers):
        raise ctx.fail(CheckpointProblem.BAD_RECORD, f"its {model.kind}", "has an empty or broken layer list")
    return [r for r in layers if isinstance(r, StandIn)]


def _block(record: StandIn, where: str, ctx: _Context) -> Block:
    """One of spp-viz's blocks for a record of ultralytics or YOLOv5, by the record's class name."""
    if where.count(".m.") > _MAX_NESTING:  # a record that holds itself would never end
        raise ctx.fail(CheckpointProblem.BAD_RECORD, where, "nests blocks deeper than any YOLO block does")
    builder = _BUILDERS.get(record.kind) if record.name.startswith(MODEL_PREFIXES) else None
    if builder is None:
        raise ctx.fail(CheckpointProblem.UNKNOWN_LAYER, where,
                       f"is a {record.name}, a layer type spp-viz does not rebuild (it knows {', '.join(_BUILDERS)})",
                       record.name)
    return builder(record, where, ctx)


def _child(record: StandIn, key: str, where: str, ctx: _Context) -> StandIn:
    child = record.child(key)
    if child is None:
        raise ctx.fail(CheckpointProblem.BAD_RECORD, where, f"({record.kind}) has no '{key}'")
    return child


def _children(record: StandIn, key: str, where: str, ctx: _Context) -> list[StandIn]:
    container = _child(record, key, where, ctx)
    items = list(container.children().values())
    if not all(isinstance(r, StandIn) for r in items):
        raise ctx.fail(CheckpointProblem.BAD_RECORD, f"{where}.{key}", "holds an empty slot")
    return [r for r in items if isinstance(r, StandIn)]


def _int(value: object, where: str, what: str, ctx: _Context, high: int) -> int:
    """A whole number from 0 to ``high``; an (h, w) pair must be square (the geometry is per axis)."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] == value[1]:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ctx.fail(CheckpointProblem.BAD_RECORD, where, f"has {what} {value!r}, not a square size from 0 to {high}")
    return value


def _number(record: StandIn, key: str, default: float) -> float:
    value = record.attr(key, default)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _conv2d(record: StandIn, where: str, ctx: _Context) -> nn.Conv2d:
    if record.kind != "Conv2d" or record.attr("padding_mode", "zeros") != "zeros" or isinstance(record.attr("padding"), str):
        raise ctx.fail(CheckpointProblem.UNKNOWN_LAYER, where, f"is a {record.name} where a zero-padded Conv2d belongs", record.name)
    c1, c2 = (_int(record.attr(k), where, k, ctx, _MAX_CHANNELS) for k in ("in_channels", "out_channels"))
    groups = _int(record.attr("groups", 1), where, "groups", ctx, _MAX_CHANNELS)
    if groups < 1 or c1 % groups or c2 % groups or min(c1, c2) < 1:
        raise ctx.fail(CheckpointProblem.BAD_RECORD, where, f"has {c1} -> {c2} channels in {groups} groups")
    return nn.Conv2d(c1, c2, _int(record.attr("kernel_size"), where, "kernel", ctx, _MAX_KERNEL),
                     _int(record.attr("stride", 1), where, "stride", ctx, _MAX_STRIDE),
                     _int(record.attr("padding", 0), where, "padding", ctx, _MAX_KERNEL),
                     _int(record.attr("dilation", 1), where, "dilation", ctx, _MAX_STRIDE),
                     groups, bias="bias" in record.tensors())


def _conv(record: StandIn, where: str, ctx: _Context) -> Conv:
    conv = _conv2d(_child(record, "conv", f"{where}.conv", ctx), f"{where}.conv", ctx)
    bn_record = record.child("bn")
    bn = None
    if bn_record is not None:
        if bn_record.kind != "BatchNorm2d":
            raise ctx.fail(CheckpointProblem.UNKNOWN_LAYER, f"{where}.bn", f"is a {bn_record.name}, not a BatchNorm2d", bn_record.name)
        bn = nn.BatchNorm2d(conv.out_channels, _number(bn_record, "eps", 1e-5), _number(bn_record, "momentum", 0.1))
    act = _child(record, "act", where, ctx)
    factory = _ACTIVATIONS.get(act.kind) if act.name.startswith("torch.nn.modules.") else None
    if factory is None:
        raise ctx.fail(CheckpointProblem.UNKNOWN_LAYER, f"{where}.act", f"is a {act.name}, an activation spp-viz does not rebuild", act.name)
    return Conv(conv, bn, factory(act))


def _pool(record: StandIn, where: str, ctx: _Context) -> Pool:
    if record.kind != "MaxPool2d":
        raise ctx.fail(CheckpointProblem.UNKNOWN_LAYER, where, f"is a {record.name} where a MaxPool2d belongs", record.name)
    k = _int(record.attr("kernel_size"), where, "kernel", ctx, _MAX_KERNEL)
    stride = _int(record.attr("stride", k), where, "stride", ctx, _MAX_KERNEL)
    padding = _int(record.attr("padding", 0), where, "padding", ctx, _MAX_KERNEL)
    dilation = _int(record.attr("dilation", 1), where, "dilation", ctx, 1)
    if (stride, padding, dilation, bool(record.attr("ceil_mode", False))) != (1, k // 2, 1, False):
        raise ctx.fail(CheckpointProblem.BAD_RECORD, where, f"is a {k} x {k} max pool with stride {stride} and padding {padding}, "
                       "not the stride-1 'same' pool of a pyramid block")
    return Pool(k)


def _bottleneck(record: StandIn, where: str, ctx: _Context) -> Bottleneck:
    return Bottleneck(_conv(_child(record, "cv1", where, ctx), f"{where}.cv1", ctx),
                      _conv(_child(record, "cv2", where, ctx), f"{where}.cv2", ctx), bool(record.attr("add", False)))


def _inner(record: StandIn, where: str, ctx: _Context) -> list[Block]:
    return [_block(r, f"{where}.m.{j}", ctx) for j, r in enumerate(_children(record, "m", where, ctx))]


def _c3(record: StandIn, where: str, ctx: _Context) -> C3:
    cv1, cv2, cv3 = (_conv(_child(record, k, where, ctx), f"{where}.{k}", ctx) for k in ("cv1", "cv2", "cv3"))
    return C3(cv1, cv2, cv3, _inner(record, where, ctx))


def _c2f(record: StandIn, where: str, ctx: _Context) -> C2f:
    cv1, cv2 = (_conv(_child(record, k, where, ctx), f"{where}.{k}", ctx) for k in ("cv1", "cv2"))
    hidden = record.attr("c", cv1.out_channels // 2)
    return C2f(cv1, cv2, _inner(record, where, ctx), _int(hidden, where, "hidden width", ctx, _MAX_CHANNELS))


def _sppf(record: StandIn, where: str, ctx: _Context) -> SPPF:
    cv1, cv2 = (_conv(_child(record, k, where, ctx), f"{where}.{k}", ctx) for k in ("cv1", "cv2"))
    pools = record.attr("n", cv2.in_channels // max(cv1.out_channels, 1) - 1)  # 8.4 records n; before, cv2 reads 4 maps
    return SPPF(cv1, cv2, _pool(_child(record, "m", where, ctx), f"{where}.m", ctx),
                _int(pools, where, "pool count", ctx, 16), bool(record.attr("add", False)))


def _spp(record: StandIn, where: str, ctx: _Context) -> SPP:
    cv1, cv2 = (_conv(_child(record, k, where, ctx), f"{where}.{k}", ctx) for k in ("cv1", "cv2"))
    pools = [_pool(r, f"{where}.m.{j}", ctx) for j, r in enumerate(_children(record, "m", where, ctx))]
    if not pools:
        raise ctx.fail(CheckpointProblem.BAD_RECORD, where, "(SPP) has no pools")
    return SPP(cv1, cv2, pools)


_BUILDERS: dict[str, Callable[[StandIn, str, _Context], Block]] = {
    "Conv": _conv, "Bottleneck": _bottleneck, "C3": _c3, "C3k": _c3, "C2f": _c2f, "C3k2": _c2f, "SPPF": _sppf, "SPP": _spp,
}


def _check_fit(net: DetectorNet, layers: list[StandIn], ctx: _Context) -> None:
    """Every layer's parts fit together, and each layer reads what the one before gives (the
    first reads RGB): a file that would fail on the user's image is named here instead."""
    width = 3
    for i in range(len(net.model)):
        block = net.layer(i)
        problem = block.mismatch() or (
            f"reads {block.in_channels} channels where {'an RGB image has 3' if i == 0 else f'layer {i - 1} gives {width}'}"
            if block.in_channels != width else "")
        if problem:
            raise ctx.fail(CheckpointProblem.SHAPE, f"layer {i} ({layers[i].kind})", f"does not fit: {problem}")
        width = block.out_channels


def _collect(record: StandIn, prefix: str, out: dict[str, Tensor], seen: set[int] | None = None) -> None:
    """Every parameter and buffer under ``record``, by its dotted name; floating tensors as float32.
    A record met twice (the pickle's memo can make a record hold itself) is read once."""
    seen = set() if seen is None else seen
    if id(record) in seen:
        return
    seen.add(id(record))
    for name, tensor in record.tensors().items():
        out[prefix + name] = _float32(tensor.detach()) if tensor.is_floating_point() else tensor.detach()
    for name, child in record.children().items():
        if child is not None:
            _collect(child, f"{prefix}{name}.", out, seen)


def _float32(tensor: Tensor) -> Tensor:
    """A float32 copy of an fp16 (or other float) CPU tensor. numpy converts: single-threaded and
    vectorised, where torch's parallel conversion of a few hundred mid-sized tensors spends most of
    its time waking threads (13 ms against 170 ms for YOLOv8n's weights on a busy 2-core machine)."""
    if tensor.dtype == torch.float32:
        return tensor
    if tensor.dtype == torch.float16 and tensor.device.type == "cpu":
        return torch.from_numpy(tensor.contiguous().numpy().astype(np.float32))
    return tensor.to(torch.float32)


def _load(net: DetectorNet, tensors: dict[str, Tensor], ctx: _Context) -> None:
    """Every tensor by name, its shape checked, then assigned (no copy into placeholder weights)."""
    own = net.state_dict()
    for name, placeholder in own.items():
        tensor = tensors.get(name)
        if tensor is None:
            raise ctx.fail(CheckpointProblem.SHAPE, f"tensor {name}", "is missing from the file", name)
        if tuple(tensor.shape) != tuple(placeholder.shape):
            raise ctx.fail(CheckpointProblem.SHAPE, f"tensor {name}",
                           f"has shape {tuple(tensor.shape)} where its layer's record needs {tuple(placeholder.shape)}", name)
    extra = [name for name in tensors if name not in own]
    if extra:
        raise ctx.fail(CheckpointProblem.SHAPE, f"tensor {extra[0]}", "belongs to no part of the rebuilt layer", extra[0])
    net.load_state_dict(tensors, strict=True, assign=True)
