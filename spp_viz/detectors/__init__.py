"""A user's YOLO detector checkpoint (YOLOv5 v6.0+, YOLOv8, YOLO11; detect, segment, pose, OBB)
as a spp-viz backbone, with its trained SPPF, read without running its pickle.

One module per concern:

* :mod:`.archive`: the ``torch.save`` zip (complete, uncompressed, within the size limit);
* :mod:`.scan`: the pickle's globals and declared storages, walked without building anything;
* :mod:`.recognise`: is it a YOLO file, ultralytics' or YOLOv5's (torch-free, for the CLI);
* :mod:`.standins`: the inert stand-ins that answer for the file's classes;
* :mod:`.reading`: ``torch.load(weights_only=True)`` with those stand-ins, every other global refused;
* :mod:`.modules`: spp-viz's own Conv, Bottleneck, C3, C2f, SPPF, SPP;
* :mod:`.rebuild`: the layers up to the SPPF from the file's records, tensors checked by name;
* :mod:`.stages`: ``p3``, ``p4``, ``p5``, ``sppf`` and their traced geometry;
* :mod:`.metadata`: family, scale, task and the saving version;
* :mod:`.detector`: :func:`read_detector`, :class:`DetectorInfo`, :class:`TrainedSPPF`.

:func:`spp_viz.backbones.load_backbone` (``"yolo"``) makes one a
:class:`~spp_viz.backbones.DetectorBackbone`, a backbone like any other.

Importing this package imports no torch: the torch-free names (:func:`checkpoint_layout`,
:class:`Layout`, the limits) are here; the others load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .archive import MAX_CHECKPOINT_BYTES
from .recognise import Layout, checkpoint_layout

if TYPE_CHECKING:
    from .detector import NO_CLASSIFIER, Detector, DetectorInfo, TrainedSPPF, read_detector
    from .reading import MAX_TENSOR_BYTES, DetectorFile, read_detector_file

__all__ = [
    "MAX_CHECKPOINT_BYTES", "MAX_TENSOR_BYTES", "NO_CLASSIFIER", "Detector", "DetectorFile", "DetectorInfo", "Layout",
    "TrainedSPPF", "checkpoint_layout", "read_detector", "read_detector_file",
]

_LAZY = {
    "NO_CLASSIFIER": "detector", "Detector": "detector", "DetectorInfo": "detector", "TrainedSPPF": "detector",
    "read_detector": "detector", "MAX_TENSOR_BYTES": "reading", "DetectorFile": "reading", "read_detector_file": "reading",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
