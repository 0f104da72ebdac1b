"""Is a checkpoint a YOLO detector's, and whose? Answered from the names its pickle uses,
without torch (the CLI asks before it imports torch) and without running anything.

An ultralytics file (YOLOv8, YOLO11, YOLOv5u...) pickles ``ultralytics.nn.tasks.*Model``; a
YOLOv5 file (v6.0 and later) pickles ``models.yolo.Model`` (``DetectionModel`` since v7.0).
"""

from __future__ import annotations

import io
import zipfile
from enum import Enum
from pathlib import Path

from .archive import MAX_PICKLE_BYTES
from .scan import ScanError, scan_pickle

__all__ = ["Layout", "checkpoint_layout", "layout_of"]


class Layout(Enum):
    """Which code saved the model: the page and the JSON say ``saved_by`` with it."""

    ULTRALYTICS = "ultralytics"
    YOLOV5 = "yolov5"


def layout_of(names: tuple[str, ...]) -> Layout | None:
    """The layout a pickle's global names point to, or None for a file of neither."""
    if any(n.startswith("ultralytics.") for n in names):
        return Layout.ULTRALYTICS
    if any(n.startswith(("models.yolo.", "models.common.")) for n in names):
        return Layout.YOLOV5
    return None


def checkpoint_layout(source: bytes | Path) -> Layout | None:
    """The layout of a checkpoint (its bytes, or a file read in place: only the zip's directory
    and its pickle), or None when it is not a readable ``torch.save`` zip of a YOLO model. A
    pickle stored compressed or larger than :data:`MAX_PICKLE_BYTES` is not inflated: ``torch.save``
    stores it as it is, and the app asks this of every upload."""
    try:
        with zipfile.ZipFile(source if isinstance(source, Path) else io.BytesIO(source)) as zf:
            pickles = [i for i in zf.infolist() if i.filename.endswith("/data.pkl") and i.filename.count("/") == 1]
            if len(pickles) != 1 or pickles[0].compress_type != zipfile.ZIP_STORED or pickles[0].file_size > MAX_PICKLE_BYTES:
                return None
            return layout_of(scan_pickle(zf.read(pickles[0])).globals)
    except (OSError, zipfile.BadZipFile, ScanError, EOFError, ValueError):
        return None

