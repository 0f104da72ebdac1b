"""Reading a YOLO checkpoint with torch's restricted unpickler, its classes mapped to stand-ins.

:func:`read_detector_file` runs, in order:

1. :func:`.archive.open_archive`: a complete, uncompressed ``torch.save`` zip within the size limit;
2. :func:`.scan.scan_pickle`: the globals the pickle names and the storages it declares; a file
   whose storages ask for more bytes than its records hold, than the whole file, or than
   :data:`MAX_TENSOR_BYTES`, is refused here, before torch allocates anything;
3. ``torch.load(weights_only=True)`` inside ``torch.serialization.safe_globals`` with one inert
   :class:`.standins.StandIn` per ultralytics / YOLOv5 / ``torch.nn`` / numpy name the pickle
   uses. Every other global is refused by torch; its message becomes one sentence naming it.

``safe_globals`` edits a process-wide allowlist, so loads here take one lock: a concurrent load
never sees another's stand-ins, nor loses its own halfway.
"""

from __future__ import annotations

import io
import pickle
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..errors import CheckpointProblem, DetectorCheckpointError
from ..i18n import _
from .archive import Archive, open_archive
from .recognise import Layout, layout_of
from .scan import PickleScan, ScanError, scan_pickle
from .standins import StandIn, stand_ins

__all__ = ["MAX_TENSOR_BYTES", "DetectorFile", "read_detector_file"]

# Tensor bytes a checkpoint may ask for, as stored (fp16 in releases; float32 doubles them once loaded).
MAX_TENSOR_BYTES = 256 * 2**20
_LOAD_LOCK = threading.Lock()
_REFUSED = re.compile(r"GLOBAL (\S+) (?:was not an allowed global|whose module)")


@dataclass(frozen=True)
class DetectorFile:
    """What a checkpoint holds: its top-level entries (``version``, ``train_args``...), the
    model record that carries the weights (``ema`` when the file has one, as ultralytics reads it),
    and the names its pickle used."""

    filename: str
    layout: Layout
    entries: dict[str, Any]
    model: StandIn
    from_ema: bool
    globals: tuple[str, ...]
    tensor_bytes: int  # bytes of tensor storage the file holds, as stored


def read_detector_file(data: bytes, filename: str = "checkpoint") -> DetectorFile:
    """A detector checkpoint's records; :class:`DetectorCheckpointError` (one sentence) otherwise."""
    archive = open_archive(data, filename)
    try:
        scan = scan_pickle(archive.pickle)
    except ScanError as exc:
        raise DetectorCheckpointError(CheckpointProblem.LAYOUT, _("{name} is not a readable checkpoint: {reason}.").format(
            name=filename, reason=exc)) from None
    tensor_bytes = _check_storages(scan, archive, filename)
    layout = layout_of(scan.globals)
    if layout is None:
        raise DetectorCheckpointError(
            CheckpointProblem.NOT_A_DETECTOR,
            _("{name} holds no YOLO model: its pickle names no ultralytics or YOLOv5 class.").format(name=filename))
    obj = _load(data, scan, filename)
    model, from_ema = _model_record(obj, filename)
    return DetectorFile(filename, layout, obj, model, from_ema, scan.globals, tensor_bytes)


def _element_size(storage_type: str) -> int | None:
    """Bytes per element of ``torch.HalfStorage`` and its kin; None for a name torch has no storage for."""
    module, _dot, name = storage_type.rpartition(".")
    if module != "torch" or not name.endswith("Storage"):
        return None
    try:
        return torch.serialization.StorageType(name).dtype.itemsize
    except (AttributeError, KeyError, RuntimeError):
        return None


def _check_storages(scan: PickleScan, archive: Archive, filename: str) -> int:
    """Every declared storage fits its record exactly, and all of them fit the file and the limit."""
    total = 0
    for decl in scan.storages.values():
        size = _element_size(decl.storage_type)
        if size is None:
            raise DetectorCheckpointError(CheckpointProblem.STORAGE,
                                          _("{name} declares a storage of unknown type {type}.").format(
                                              name=filename, type=decl.storage_type), decl.storage_type)
        asked, held = decl.numel * size, archive.records.get(decl.key)
        if held is None or asked != held:
            raise DetectorCheckpointError(
                CheckpointProblem.STORAGE,
                (_("{name}'s pickle asks for {asked} bytes for tensor storage {key!r}, but the file holds no such record.")
                 if held is None else
                 _("{name}'s pickle asks for {asked} bytes for tensor storage {key!r}, but the file holds {held} bytes there."))
                .format(name=filename, asked=f"{asked:,}", key=decl.key, held=f"{held or 0:,}"), decl.key)
        total += asked
    if total > min(archive.size, MAX_TENSOR_BYTES):
        sentence = (_("{name}'s pickle asks for {total} bytes of tensors, more than the file's own size.")
                    if total > archive.size else
                    _("{name}'s pickle asks for {total} bytes of tensors, more than the {limit} MB limit."))
        raise DetectorCheckpointError(
            CheckpointProblem.TOO_LARGE if total <= archive.size else CheckpointProblem.STORAGE,
            sentence.format(name=filename, total=f"{total:,}", limit=MAX_TENSOR_BYTES // 2**20))
    return total


def _load(data: bytes, scan: PickleScan, filename: str) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` with the file's classes answered by stand-ins."""
    try:
        allowed: list[Callable[..., Any] | tuple[Callable[..., Any], str]] = list(stand_ins(scan.globals))
        with _LOAD_LOCK, torch.serialization.safe_globals(allowed):
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise _refusal(str(exc), scan, filename) from None
    except Exception as exc:  # torch's own checks (record sizes, tensor bounds) and malformed records
        raise DetectorCheckpointError(
            CheckpointProblem.LAYOUT, _("{name} could not be read safely ({error}: {detail}).").format(
                name=filename, error=type(exc).__name__, detail=_first_line(exc))) from None
    if not isinstance(obj, dict):
        raise DetectorCheckpointError(CheckpointProblem.NOT_A_DETECTOR, _("{name} holds a {type}, not a checkpoint dictionary.").format(
            name=filename, type=type(obj).__name__))
    return obj


def _refusal(message: str, scan: PickleScan, filename: str) -> DetectorCheckpointError:
    """torch's refusal as one sentence naming the global (torch drops ``builtins.`` from its
    message; the scan's own name is given when it is that one)."""
    match = _REFUSED.search(message)
    if match is None:
        return DetectorCheckpointError(
            CheckpointProblem.REFUSED_GLOBAL,
            _("{name} was refused: its pickle asks for something a safe load never does ({detail}).").format(
                name=filename, detail=_first_line(message)))
    name = match.group(1)
    name = next((g for g in scan.globals if g in (name, f"builtins.{name}")), name)
    return DetectorCheckpointError(
        CheckpointProblem.REFUSED_GLOBAL,
        _("{file} was refused: its pickle names {name}, which a checkpoint does not need; nothing in it was run.").format(
            file=filename, name=name), name)


def _model_record(obj: dict[str, Any], filename: str) -> tuple[StandIn, bool]:
    """``ema`` when it holds a model (as ultralytics loads it), else ``model``."""
    for key in ("ema", "model"):
        record = obj.get(key)
        if isinstance(record, StandIn) and record.name.startswith(("ultralytics.", "models.")):
            return record, key == "ema"
    raise DetectorCheckpointError(
        CheckpointProblem.NOT_A_DETECTOR, _("{name} has no YOLO model under 'ema' or 'model' (keys: {keys}).").format(
            name=filename, keys=", ".join(map(str, list(obj)[:8]))))


def _first_line(exc: object) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
