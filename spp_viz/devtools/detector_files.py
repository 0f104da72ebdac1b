"""YOLO detector checkpoints for the tests and the benchmarks, built in memory: spp-viz's own
modules with random weights, pickled by ``torch.save`` under ultralytics' and YOLOv5's module
and class names (no file of ultralytics or YOLOv5 is used or needed).

The names come from stub modules put in ``sys.modules`` only while pickling (:func:`_stub_modules`);
nothing of ultralytics or YOLOv5 is imported or needed. Each model is rebuilt as a tree of stub
objects whose pickled state is what the real classes pickle: ``nn.Module``'s ``_modules``,
``_parameters`` and ``_buffers``, the attributes the blocks keep (``add``, ``c``, ``n``) and the
layer attributes ``i``, ``f``, ``type``, ``np``. Layouts (YOLOv5 v6.0, YOLOv8 and YOLO11, n scale)
and top-level keys follow ``shared/reference/detectors.md``; weights are saved in fp16 like releases.

:func:`reference_net` returns the same layers as spp-viz modules with the fp16-rounded weights:
what the rebuilt backbone must compute.
"""

from __future__ import annotations

import contextlib
import copy
import io
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from spp_viz.detectors.modules import C3, SPP, SPPF, Block, Bottleneck, C2f, Conv, DetectorNet, Pool

ULTRA = "ultralytics.nn.modules"
BLOCK, CONV, HEAD, TASKS = f"{ULTRA}.block", f"{ULTRA}.conv", f"{ULTRA}.head", "ultralytics.nn.tasks"
COMMON, YOLO = "models.common", "models.yolo"


def conv(c1: int, c2: int, k: int = 1, s: int = 1, p: int | None = None, act: str = "silu") -> Conv:
    """YOLO's Conv with ultralytics' BatchNorm settings (eps 1e-3, momentum 0.03)."""
    activation = nn.SiLU() if act == "silu" else nn.Identity()
    return Conv(nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=False), nn.BatchNorm2d(c2, 1e-3, 0.03), activation)


def bottleneck(c1: int, c2: int, shortcut: bool, k: tuple[int, int] = (3, 3), e: float = 0.5) -> Bottleneck:
    hidden = int(c2 * e)
    return Bottleneck(conv(c1, hidden, k[0]), conv(hidden, c2, k[1]), shortcut and c1 == c2)


def c3(c1: int, c2: int, n: int, shortcut: bool = True, k: tuple[int, int] = (1, 3), e: float = 0.5) -> C3:
    hidden = int(c2 * e)
    return C3(conv(c1, hidden), conv(c1, hidden), conv(2 * hidden, c2), [bottleneck(hidden, hidden, shortcut, k, 1.0) for _ in range(n)])


def c2f(c1: int, c2: int, n: int, shortcut: bool, e: float = 0.5, inner: str = "bottleneck2") -> C2f:
    """C2f (YOLOv8) or, with ``inner`` ``bottleneck`` / ``c3k``, C3k2 (YOLO11)."""
    hidden = int(c2 * e)
    blocks: list[Block] = []
    for _ in range(n):
        if inner == "c3k":
            blocks.append(c3(hidden, hidden, 2, shortcut, k=(3, 3)))
        else:
            blocks.append(bottleneck(hidden, hidden, shortcut, (3, 3), 1.0 if inner == "bottleneck2" else 0.5))
    return C2f(conv(c1, 2 * hidden), conv((2 + n) * hidden, c2), blocks, hidden)


def sppf(c1: int, c2: int, k: int = 5, cv1_act: str = "silu", n: int = 3) -> SPPF:
    return SPPF(conv(c1, c1 // 2, act=cv1_act), conv(c1 // 2 * (n + 1), c2), Pool(k), n)


def spp(c1: int, c2: int, kernels: tuple[int, ...] = (5, 9, 13)) -> SPP:
    return SPP(conv(c1, c1 // 2), conv(c1 // 2 * (len(kernels) + 1), c2), [Pool(k) for k in kernels])


def yolov8n(pyramid: str = "sppf", cv1_act: str = "silu") -> list[Block]:
    return [conv(3, 16, 3, 2), conv(16, 32, 3, 2), c2f(32, 32, 1, True), conv(32, 64, 3, 2), c2f(64, 64, 2, True),
            conv(64, 128, 3, 2), c2f(128, 128, 2, True), conv(128, 256, 3, 2), c2f(256, 256, 1, True),
            sppf(256, 256, cv1_act=cv1_act) if pyramid == "sppf" else spp(256, 256)]


def yolo11n() -> list[Block]:
    return [conv(3, 16, 3, 2), conv(16, 32, 3, 2), c2f(32, 64, 1, True, 0.25, "bottleneck"), conv(64, 64, 3, 2),
            c2f(64, 128, 1, True, 0.25, "bottleneck"), conv(128, 128, 3, 2), c2f(128, 128, 1, True, 0.5, "c3k"),
            conv(128, 256, 3, 2), c2f(256, 256, 1, True, 0.5, "c3k"), sppf(256, 256)]


def yolov5n(pyramid: str = "sppf") -> list[Block]:
    return [conv(3, 16, 6, 2, 2), conv(16, 32, 3, 2), c3(32, 32, 1), conv(32, 64, 3, 2), c3(64, 64, 2),
            conv(64, 128, 3, 2), c3(128, 128, 3), conv(128, 256, 3, 2), c3(256, 256, 1),
            sppf(256, 256) if pyramid == "sppf" else spp(256, 256)]


LAYOUTS = {"yolov8n": yolov8n, "yolo11n": yolo11n, "yolov5n": yolov5n}


def reference_net(blocks: list[Block], seed: int = 0) -> DetectorNet:
    """The layers with random weights (BN statistics too), rounded to fp16 as a release stores them."""
    net = DetectorNet(blocks)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for name, tensor in net.state_dict().items():
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 1.5)
            elif name.endswith(("running_mean", "bn.bias")):
                tensor.normal_(0.0, 0.1)
            elif name.endswith("bn.weight"):
                tensor.uniform_(0.8, 1.2)
            elif tensor.is_floating_point():
                tensor.normal_(0.0, (2.0 / max(tensor[0].numel(), 1)) ** 0.5)
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    return net.eval()


def yolov8n_head() -> list[tuple[Block | None, Any]]:
    """YOLOv8n's layers 10 to 21 (``None`` for Upsample and Concat) with their ``f``: the neck,
    pickled so that a benchmark file has the real file's size; never rebuilt."""
    return [(None, -1), (None, [-1, 6]), (c2f(384, 128, 1, False), -1), (None, -1), (None, [-1, 4]), (c2f(192, 64, 1, False), -1),
            (conv(64, 64, 3, 2), -1), (None, [-1, 12]), (c2f(192, 128, 1, False), -1), (conv(128, 128, 3, 2), -1),
            (None, [-1, 9]), (c2f(384, 256, 1, False), -1)]


# --- pickling under foreign names


@contextlib.contextmanager
def _stub_modules(paths: list[str]):
    """Empty modules at ``paths`` (and their parents) in ``sys.modules``, gone afterwards."""
    added = []
    for path in paths:
        parts = path.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name not in sys.modules:
                sys.modules[name] = types.ModuleType(name)
                added.append(name)
    try:
        yield
    finally:
        for name in added:
            del sys.modules[name]


class _Namer:
    """Stub classes by class path, created in the stub modules while pickling."""

    def __init__(self) -> None:
        self.classes: dict[str, type] = {}

    def cls(self, path: str) -> type:
        if path not in self.classes:
            module, name = path.rsplit(".", 1)
            stub = type(name, (nn.Module,), {"__module__": module, "__qualname__": name})
            self.classes[path] = stub
        return self.classes[path]

    def install(self) -> None:
        for path, stub in self.classes.items():
            module, name = path.rsplit(".", 1)
            setattr(sys.modules[module], name, stub)


def _record(namer: _Namer, path: str, state: dict[str, Any]) -> nn.Module:
    obj: nn.Module = nn.Module.__new__(namer.cls(path))
    obj.__dict__.update(state)
    return obj


@dataclass
class Flavour:
    """Which code "saved" the file: ultralytics (with its version) or YOLOv5."""

    layout: str = "ultralytics"  # or "yolov5"
    version: str = "8.3.91"
    family: str = "yolov8"

    @property
    def v84(self) -> bool:
        return self.layout == "ultralytics" and self.version.startswith("8.4")

    def block(self, name: str) -> str:
        return f"{COMMON}.{name}" if self.layout == "yolov5" else f"{CONV if name == 'Conv' else BLOCK}.{name}"


def _state(module: nn.Module) -> dict[str, Any]:
    state = {k: v for k, v in module.__dict__.items() if k not in ("hidden", "add", "n")}
    state["_parameters"] = {k: None if v is None else nn.Parameter(v.detach().half(), requires_grad=False)
                            for k, v in module._parameters.items()}
    state["_buffers"] = {k: None if v is None else v.half() if v.is_floating_point() else v.clone() for k, v in module._buffers.items()}
    return state


def to_record(module: nn.Module, namer: _Namer, flavour: Flavour, inside_c3k2: bool = False) -> nn.Module:
    """A stub object pickling as the class ultralytics / YOLOv5 would have used for ``module``."""
    if isinstance(module, Pool):
        return nn.MaxPool2d(module.k, 1, module.k // 2)
    if isinstance(module, (nn.Sequential, nn.ModuleList)):  # C3's and C2f's ``m``
        items = [to_record(child, namer, flavour, inside_c3k2) for child in module]
        return nn.Sequential(*items) if isinstance(module, nn.Sequential) else nn.ModuleList(items)
    if not isinstance(module, Block):  # torch.nn layers pickle as themselves
        plain = copy.deepcopy(module)
        plain.__dict__.update(_state(plain))
        return plain
    state = _state(module)
    name = type(module).__name__
    if isinstance(module, C2f):
        name = "C3k2" if flavour.family == "yolo11" else "C2f"
        state["c"] = module.hidden
    elif isinstance(module, C3) and inside_c3k2:
        name = "C3k"
    elif isinstance(module, Bottleneck):
        state["add"] = module.add
    elif isinstance(module, SPPF) and flavour.v84:
        state.update(n=module.n, add=module.add)
    children = {k: to_record(v, namer, flavour, isinstance(module, C2f) and flavour.family == "yolo11") for k, v in module._modules.items() if v is not None}
    state["_modules"] = children
    return _record(namer, flavour.block(name), state)


def _neck(namer: _Namer, flavour: Flavour, first: int) -> list[nn.Module]:
    """YOLOv8n's neck (layers 10 to 21) as records, weights random."""
    layers = []
    for offset, (block, f) in enumerate(yolov8n_head()):
        if block is None:
            record = nn.Upsample(None, 2, "nearest") if f == -1 else _record(
                namer, flavour.block("Concat"), {**_state(nn.Module()), "d": 1, "_modules": {}})
        else:
            record = to_record(reference_net([block]).layer(0), namer, flavour)
        record.__dict__.update(i=first + offset, f=f, type=type(record).__module__ + "." + type(record).__name__, np=0)
        layers.append(record)
    return layers


def _detect(namer: _Namer, flavour: Flavour, channels: tuple[int, ...]) -> nn.Module:
    """ultralytics' Detect for 80 classes on ``channels`` (box branch cv2, class branch cv3, DFL)."""
    def branch(c1: int, c2: int, out: int) -> nn.Module:
        return nn.Sequential(to_record(conv(c1, c2, 3), namer, flavour), to_record(conv(c2, c2, 3), namer, flavour),
                             nn.Conv2d(c2, out, 1).half())
    dfl = _record(namer, f"{BLOCK}.DFL", {**_state(nn.Module()), "c1": 16, "_modules": {"conv": nn.Conv2d(16, 1, 1, bias=False).half()}})
    modules = {"cv2": nn.ModuleList(branch(c, 64, 64) for c in channels), "cv3": nn.ModuleList(branch(c, 80, 80) for c in channels), "dfl": dfl}
    return _record(namer, f"{HEAD}.Detect", {**_state(nn.Module()), "nc": 80, "reg_max": 16, "_modules": modules})


def _head(namer: _Namer, flavour: Flavour, first: int, full: bool = False) -> list[nn.Module]:
    """The layers after the SPPF with the head's class names: never rebuilt, only pickled. ``full``:
    YOLOv8n's whole neck and Detect head (a file of the real one's size); else three small ones."""
    if full:
        layers = _neck(namer, flavour, first)
        detect = _detect(namer, flavour, (64, 128, 256))
        detect.__dict__.update(i=first + len(layers), f=[15, 18, 21], type=f"{HEAD}.Detect", np=0)
        return [*layers, detect]
    upsample = nn.Upsample(None, 2, "nearest")
    concat = _record(namer, flavour.block("Concat"), {**_state(nn.Module()), "d": 1, "_modules": {}})
    detect_path = f"{YOLO}.Detect" if flavour.layout == "yolov5" else f"{HEAD}.Detect"
    dfl = [] if flavour.layout == "yolov5" else [("dfl", _record(namer, f"{BLOCK}.DFL", {**_state(nn.Module()), "c1": 16,
                                                                                        "_modules": {"conv": nn.Conv2d(16, 1, 1, bias=False).half()}}))]
    detect = _record(namer, detect_path, {**_state(nn.Module()), "nc": 80, "_modules": {"m": nn.ModuleList([nn.Conv2d(256, 8, 1).half()]), **dict(dfl)}})
    layers = [upsample, concat, detect]
    for offset, (layer, f) in enumerate(zip(layers, (-1, [-1, 6], [first + 1]))):
        layer.__dict__.update(i=first + offset, f=f, type=type(layer).__module__ + "." + type(layer).__name__, np=0)
    if flavour.family == "yolo11":  # C2PSA right after the SPPF, as yolo11.yaml has it
        psa = _record(namer, flavour.block("C2PSA"), {**_state(nn.Module()), "c": 128,
                                                        "_modules": {"cv1": nn.Conv2d(256, 256, 1).half()}})
        psa.__dict__.update(i=first, f=-1, type=f"{BLOCK}.C2PSA", np=0)
        layers.insert(0, psa)
    return layers


def _model_record(net: DetectorNet, namer: _Namer, flavour: Flavour, full_head: bool = False) -> nn.Module:
    layers = []
    for i, block in enumerate(net.model):
        record = to_record(block, namer, flavour)
        record.__dict__.update(i=i, f=-1, type=type(record).__module__ + "." + type(record).__name__,
                               np=sum(p.numel() for p in block.parameters()))
        layers.append(record)
    layers += _head(namer, flavour, len(layers), full_head)
    sequential = nn.Sequential(*layers)
    yaml = {"nc": 80, "depth_multiple": 0.33, "width_multiple": 0.25, "backbone": [], "head": [], "ch": 3}
    attrs: dict[str, Any] = {"yaml": yaml, "stride": torch.tensor([8.0, 16.0, 32.0]), "names": {0: "person"}, "nc": 80,
                             "save": [4, 6], "inplace": True}
    if flavour.layout == "yolov5":
        return _record(namer, f"{YOLO}.Model", {**_state(nn.Module()), **attrs, "yaml_file": "yolov5n.yaml", "hyp": {"lr0": 0.01},
                                                 "_modules": {"model": sequential}})
    return _record(namer, f"{TASKS}.DetectionModel", {**_state(nn.Module()), **attrs, "args": {"task": "detect"},
                                                      "_modules": {"model": sequential}})


def _entries(model: nn.Module, flavour: Flavour, ema: nn.Module | None, train_model: str) -> dict[str, Any]:
    if flavour.layout == "yolov5":
        return {"epoch": -1, "best_fitness": np.array([0.5]), "model": model, "ema": ema, "updates": None,
                "optimizer": None, "wandb_id": None, "training_results": None}
    entries = {"date": "2026-01-01T00:00:00", "version": flavour.version, "license": "AGPL-3.0", "docs": "https://docs.ultralytics.com",
               "epoch": -1, "best_fitness": None, "model": model, "ema": ema, "updates": None, "optimizer": None,
               "train_args": {"task": "detect", "model": train_model, "imgsz": 640}, "train_metrics": {}, "train_results": {}}
    if flavour.v84:
        entries |= {"scaler": None, "git": {"root": None}}
    return entries


@dataclass
class Made:
    """A checkpoint built here: its bytes and the net its weights came from."""

    data: bytes
    net: DetectorNet
    flavour: Flavour
    extras: dict[str, Any] = field(default_factory=dict)


def make_checkpoint(layout: str = "yolov8n", *, flavour: Flavour | None = None, pyramid: str = "sppf", cv1_act: str = "silu",
                    ema_seed: int | None = None, train_model: str | None = None, seed: int = 0,
                    insert: Block | None = None, mutate: Callable[[nn.Module, _Namer], None] | None = None,
                    extra: dict[str, Any] | None = None, full_head: bool = False) -> Made:
    """A ``torch.save`` checkpoint of ``layout`` (``yolov8n``, ``yolo11n``, ``yolov5n``).

    ``ema_seed``: also store an ``ema`` model with other weights (seeded so), as training
    checkpoints do; :attr:`Made.net` is then the ema's net, the one the file's reader must take.
    ``insert``: a block put just before the pyramid block (which then moves one index on).
    ``mutate(model_record, namer)``: edit the records before they are pickled (a broken file).
    ``extra``: more top-level entries (a hostile object, say). ``full_head``: YOLOv8n's whole neck
    and Detect head after the SPPF (a file of the real one's size and tensor count).
    """
    family = {"yolov8n": "yolov8", "yolo11n": "yolo11", "yolov5n": "yolov5"}[layout]
    flavour = flavour or Flavour("yolov5" if family == "yolov5" else "ultralytics", "8.3.91", family)
    kwargs: dict[str, Any] = {"pyramid": pyramid} if layout != "yolo11n" else {}
    if layout == "yolov8n":
        kwargs["cv1_act"] = cv1_act

    def blocks() -> list[Block]:
        layers = LAYOUTS[layout](**kwargs)
        return layers[:-1] + [copy.deepcopy(insert), layers[-1]] if insert is not None else layers

    net = reference_net(blocks(), seed)
    namer = _Namer()
    model = _model_record(net, namer, flavour, full_head)
    if mutate is not None:
        mutate(model, namer)
    ema_net = reference_net(blocks(), ema_seed) if ema_seed is not None else None
    ema = _model_record(ema_net, namer, flavour, full_head) if ema_net is not None else None
    entries = _entries(model, flavour, ema, train_model if train_model is not None else f"{layout}.yaml") | (extra or {})
    paths = sorted({path.rsplit(".", 1)[0] for path in namer.classes})
    buf = io.BytesIO()
    with _stub_modules(paths):
        namer.install()
        torch.save(entries, buf)
    return Made(buf.getvalue(), ema_net or net, flavour)

