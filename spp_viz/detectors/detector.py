"""A user's YOLO checkpoint, read and rebuilt: :func:`read_detector` reads the file (:mod:`.reading`),
rebuilds its layers up to the SPPF (:mod:`.rebuild`) and finds its stages (:mod:`.stages`); it
returns the rebuilt net with what the file says about itself (:class:`DetectorInfo`) and its
trained pyramid block (:class:`TrainedSPPF`). :func:`spp_viz.backbones.load_backbone` (``yolo``)
makes it a backbone like any other (features, geometry, spans).

Preprocessing is ultralytics' predictor's: RGB divided by 255, no mean or std, at any size (no
letterbox). A detector has no ImageNet classifier: ``can_classify`` is False and the spec's
``classifier_note`` is the one sentence that says so.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from ..heads.registry import TrainedHead
from ..i18n import N_, _
from ..pooling import sppf_effective_kernels
from .metadata import family_of, scale_of, task_of, version_of
from .modules import SPP, SPPF, Conv, DetectorNet
from .reading import DetectorFile, read_detector_file
from .rebuild import Rebuilt, rebuild
from .recognise import Layout
from .stages import stage_layers

__all__ = ["NO_CLASSIFIER", "Detector", "DetectorInfo", "TrainedSPPF", "read_detector"]

NO_CLASSIFIER = N_("A YOLO detector has no ImageNet classifier: spp-viz reads its backbone and its SPPF, "
                   "so there are no class predictions.")
_FAMILY_TITLES = {"yolov5": "YOLOv5", "yolov8": "YOLOv8", "yolo11": "YOLO11"}


def _activation_name(conv: Conv) -> str:
    return type(conv.act).__name__


@dataclass(frozen=True)
class TrainedSPPF:
    """The checkpoint's own pyramid block with its trained ``cv1`` and ``cv2`` (an :class:`SPPF`,
    or the parallel :class:`SPP` of older files), in eval mode on the backbone's device.

    ``module(x)`` maps the stage ``p5`` map ``(B, in_channels, h, w)`` to the ``sppf`` stage's
    ``(B, out_channels, h, w)``; ``module.cv1(x)`` is the ``hidden_channels`` map the pools run on.
    """

    module: SPPF | SPP
    layer: int

    @property
    def kind(self) -> str:
        """``SPPF`` or ``SPP``."""
        return type(self.module).__name__

    @property
    def k(self) -> int:
        """SPPF's pool size (5); for SPP, its smallest pool."""
        return self.module.m.k if isinstance(self.module, SPPF) else min(self.module.kernels)

    @property
    def n(self) -> int:
        """Chained pools (SPPF) or parallel pools (SPP)."""
        return self.module.n if isinstance(self.module, SPPF) else len(self.module.kernels)

    @property
    def windows(self) -> tuple[int, ...]:
        """The window of each pooled branch: ``(5, 9, 13)`` for SPPF(k=5, n=3) and for SPP(5, 9, 13)."""
        if isinstance(self.module, SPP):
            return self.module.kernels
        return sppf_effective_kernels(self.k, self.n)

    @property
    def in_channels(self) -> int:
        return self.module.in_channels

    @property
    def hidden_channels(self) -> int:
        return self.module.cv1.out_channels

    @property
    def out_channels(self) -> int:
        return self.module.out_channels

    @property
    def bn_folded(self) -> bool:
        """True when the file's cv1 and cv2 carry BatchNorm folded into the conv (a fused model)."""
        return self.module.cv1.bn_folded and self.module.cv2.bn_folded

    @property
    def cv1_activation(self) -> str:
        """``SiLU`` (YOLOv5, ultralytics up to 8.3) or ``Identity`` (ultralytics 8.4)."""
        return _activation_name(self.module.cv1)

    @property
    def cv2_activation(self) -> str:
        return _activation_name(self.module.cv2)

    @property
    def shortcut(self) -> bool:
        """ultralytics 8.4's ``x + SPPF(x)`` (only where the widths match and the model asked for it)."""
        return isinstance(self.module, SPPF) and self.module.add

    @property
    def params(self) -> int:
        """Parameters of cv1 and cv2, BatchNorm weights and biases included (ultralytics' ``np``)."""
        return sum(p.numel() for p in self.module.parameters())

    @property
    def title(self) -> str:
        """``SPPF`` or ``SPP(5, 9, 13)``."""
        return self.kind if isinstance(self.module, SPPF) else f"SPP({', '.join(map(str, self.windows))})"

    @property
    def family_head(self) -> str | None:
        """The family head this block is: ``sppf``, or ``spp_yolo`` for a parallel SPP whose pools
        are a cascade's windows (5, 9, 13); None for one that is not."""
        if isinstance(self.module, SPPF):
            return "sppf"
        return "spp_yolo" if self.windows == sppf_effective_kernels(self.k, self.n) else None

    @functools.cached_property
    def digest(self) -> str:
        """sha256 of its tensors (names, dtypes, shapes, bytes): names these weights in head keys."""
        sha = hashlib.sha256()
        for name, tensor in self.module.state_dict().items():
            sha.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
            sha.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return sha.hexdigest()

    def head(self, label: str) -> TrainedHead | None:
        """This block as the family head it is (:attr:`family_head`), or None."""
        if self.family_head is None:
            return None
        return TrainedHead(self.family_head, self.in_channels, self.hidden_channels, self.out_channels, self.k, self.n,
                           self.digest, label, self.bn_folded, self.module)


@dataclass(frozen=True)
class DetectorInfo:
    """What the checkpoint says about itself, and where its stages are."""

    checkpoint: str  # the file's name
    layout: Layout  # which code saved it
    family: str  # yolov5, yolov8, yolo11 (or what the file names)
    scale: str | None  # n, s, m, l, x when the file says it
    task: str  # detect, segment, pose, obb, classify
    saved_by_version: str | None  # ultralytics' version; YOLOv5 files carry none
    model_class: str  # the pickled model's class path
    from_ema: bool  # the weights came from the file's ``ema`` entry
    stage_layers: dict[str, int]
    sppf: TrainedSPPF

    @property
    def saved_by(self) -> str:
        """``ultralytics 8.3.91`` or ``yolov5``."""
        return f"{self.layout.value} {self.saved_by_version}" if self.saved_by_version else self.layout.value

    @property
    def sppf_cv1_activation(self) -> str:
        return self.sppf.cv1_activation

    @property
    def title(self) -> str:
        """``YOLOv8n``, ``YOLO11``: the family and the scale when known."""
        return _FAMILY_TITLES.get(self.family, self.family.upper().replace("YOLOV", "YOLOv")) + (self.scale or "")

    def stage_label(self, stage: str) -> str:
        """``p5 (layer 8)``."""
        return f"{stage} (layer {self.stage_layers[stage]})"

    @property
    def sppf_input_stage(self) -> str | None:
        """The stage the SPPF reads (``p5``: the layer right before it), or None."""
        return next((stage for stage, layer in self.stage_layers.items() if layer == self.sppf.layer - 1), None)

    def trained_head(self, stage: str) -> TrainedHead | None:
        """The trained SPPF as a family head on stage ``stage``'s map: only on the map it reads (its
        cv1 takes p5's channels); on any other stage every family head is seeded."""
        return self.sppf.head(f"{self.checkpoint}, layer {self.sppf.layer}") if stage == self.sppf_input_stage else None

    def trained_note(self, stage: str) -> str:
        """One sentence: which family head runs the trained block on stage ``stage``'s map, and why none does elsewhere."""
        sppf, reads = self.sppf, self.sppf_input_stage
        names = {"file": self.checkpoint, "block": sppf.title, "layer": sppf.layer, "head": sppf.family_head}
        if sppf.family_head is None:
            return _("{file}'s trained {block} (layer {layer}) has pools no SPPF cascade equals, so every family head "
                     "here is seeded (random convs).").format(**names)
        if stage == reads:
            if sppf.bn_folded:
                return _("The {head} head is {file}'s trained {block} (layer {layer}): its cv1 and cv2 are the file's "
                         "(BatchNorm folded into the convs) and its pools run on cv1's output; the other heads' convs "
                         "are seeded random.").format(**names)
            return _("The {head} head is {file}'s trained {block} (layer {layer}): its cv1 and cv2 are the file's "
                     "(BatchNorm not folded) and its pools run on cv1's output; the other heads' convs are seeded "
                     "random.").format(**names)
        if reads is None:
            if stage == "sppf":
                return _("{file}'s trained {block} (layer {layer}) reads no stage of this backbone; this map is its "
                         "output, so the {head} head here is seeded, like every other head.").format(**names)
            return _("{file}'s trained {block} (layer {layer}) reads no stage of this backbone; this map has other "
                     "channels ({stage}), so the {head} head here is seeded, like every other head.").format(
                         stage=self.stage_label(stage), **names)
        if stage == "sppf":
            return _("{file}'s trained {block} (layer {layer}) reads {input}; this map is its output, so the {head} head "
                     "here is seeded, like every other head: choose {reads} to run the trained one.").format(
                         input=self.stage_label(reads), reads=reads, **names)
        return _("{file}'s trained {block} (layer {layer}) reads {input}; this map has other channels ({stage}), so the "
                 "{head} head here is seeded, like every other head: choose {reads} to run the trained one.").format(
                     input=self.stage_label(reads), stage=self.stage_label(stage), reads=reads, **names)

    def as_json(self) -> dict[str, Any]:
        """The keys the report's ``backbone`` object gains (``scale`` only when known)."""
        out: dict[str, Any] = {"checkpoint": self.checkpoint, "family": self.family}
        if self.scale:
            out["scale"] = self.scale
        return out | {"task": self.task, "saved_by": self.saved_by, "sppf_cv1_activation": self.sppf_cv1_activation}


@dataclass(frozen=True)
class Detector:
    """A checkpoint's rebuilt layers up to its SPPF (on the CPU) and what the file says about them."""

    net: DetectorNet
    info: DetectorInfo


def _info(file: DetectorFile, rebuilt: Rebuilt, stages: dict[str, int]) -> DetectorInfo:
    block = rebuilt.net.layer(rebuilt.sppf_index)
    assert isinstance(block, (SPPF, SPP))
    return DetectorInfo(file.filename, file.layout, family_of(file, rebuilt.kinds), scale_of(file), task_of(file),
                        version_of(file), file.model.name, file.from_ema, stages, TrainedSPPF(block, rebuilt.sppf_index))


def read_detector(data: bytes, filename: str = "checkpoint") -> Detector:
    """Read a YOLO checkpoint without running its pickle and rebuild its layers up to the SPPF.

    Raises :class:`~spp_viz.errors.DetectorCheckpointError` (one sentence) for a file it will not read.
    """
    file = read_detector_file(data, filename)
    rebuilt = rebuild(file.model, filename)
    return Detector(rebuilt.net, _info(file, rebuilt, stage_layers(rebuilt.net, rebuilt.sppf_index, filename)))
