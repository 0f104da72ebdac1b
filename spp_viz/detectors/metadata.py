"""What a detector checkpoint says about itself: the YOLO family and scale, the task, and the
version that saved it, read from the file's own entries and records.

The family and the scale come from a name the file carries (the model yaml's ``yaml_file`` or
``scale``, YOLOv5's ``yaml_file``, ultralytics' ``train_args["model"]``); without one, the family
is read from the backbone's block types (C3k2: YOLO11, C2f: YOLOv8, C3: YOLOv5) and the scale is
left unknown rather than guessed from the width.
"""

from __future__ import annotations

import re
from typing import Any

from .reading import DetectorFile
from .recognise import Layout

__all__ = ["family_of", "scale_of", "task_of", "version_of"]

_FAMILY = re.compile(r"(yolov\d+|yolo\d+)", re.IGNORECASE)
_SCALE = re.compile(r"yolo(?:v\d+|\d+)([nsmlx])(?![a-z0-9])|yolo(?:v\d+|\d+)([nsmlx])u", re.IGNORECASE)
_TASKS = {
    "DetectionModel": "detect", "Model": "detect", "SegmentationModel": "segment", "PoseModel": "pose",
    "OBBModel": "obb", "ClassificationModel": "classify", "WorldModel": "detect",
}
_BLOCK_FAMILIES = (("C3k2", "yolo11"), ("C2f", "yolov8"), ("C3", "yolov5"))


def _names(file: DetectorFile) -> list[str]:
    """The model names the file carries, most specific first."""
    yaml = file.model.attr("yaml")
    train_args = file.entries.get("train_args")
    candidates: list[Any] = [
        yaml.get("yaml_file") if isinstance(yaml, dict) else None,
        file.model.attr("yaml_file"),
        train_args.get("model") if isinstance(train_args, dict) else None,
    ]
    return [c.replace("\\", "/").rsplit("/", 1)[-1] for c in candidates if isinstance(c, str) and c]


def family_of(file: DetectorFile, kinds: tuple[str, ...]) -> str:
    """``yolov5``, ``yolov8``, ``yolo11``... from the file's model name, else from its blocks."""
    for name in _names(file):
        match = _FAMILY.search(name)
        if match:
            return match.group(1).lower()
    if file.layout == Layout.YOLOV5:
        return "yolov5"
    short = {kind.rsplit(".", 1)[-1] for kind in kinds}
    return next((family for block, family in _BLOCK_FAMILIES if block in short), "yolo")


def scale_of(file: DetectorFile) -> str | None:
    """``n``, ``s``, ``m``, ``l`` or ``x`` when the file says it; None otherwise."""
    yaml = file.model.attr("yaml")
    scale = yaml.get("scale") if isinstance(yaml, dict) else None
    if isinstance(scale, str) and scale in "nsmlx" and len(scale) == 1:
        return scale
    for name in _names(file):
        match = _SCALE.search(name)
        if match:
            return (match.group(1) or match.group(2)).lower()
    return None


def task_of(file: DetectorFile) -> str:
    """``detect``, ``segment``, ``pose``, ``obb`` or ``classify``: from the model's class, else ``train_args``."""
    task = _TASKS.get(file.model.kind)
    if task:
        return task
    train_args = file.entries.get("train_args")
    named = train_args.get("task") if isinstance(train_args, dict) else None
    return named if isinstance(named, str) and named.isidentifier() else file.model.kind.removesuffix("Model").lower() or "detect"


def version_of(file: DetectorFile) -> str | None:
    """The ultralytics version that saved the file (its ``version`` entry); YOLOv5 files carry none."""
    version = file.entries.get("version")
    return version if file.layout == Layout.ULTRALYTICS and isinstance(version, str) and len(version) < 40 else None
