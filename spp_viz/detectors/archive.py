"""The container of a ``torch.save`` file: a zip holding ``<name>/data.pkl`` and one record per
tensor storage (``<name>/data/<key>``), read with the standard library before torch sees a byte.

:func:`open_archive` checks what can be checked without unpickling: that the bytes are a zip
(and not a truncated one, nor the legacy non-zip pickle format), that every entry is stored
uncompressed as ``torch.save`` writes it (a compressed entry could inflate far beyond the file),
that the file is within :data:`MAX_CHECKPOINT_BYTES`, and where each storage record is.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from ..errors import CheckpointProblem, DetectorCheckpointError
from ..i18n import _

__all__ = ["MAX_CHECKPOINT_BYTES", "MAX_PICKLE_BYTES", "Archive", "open_archive"]

# The largest file read: YOLOv8x/YOLO11x detection checkpoints are about 140 MB (fp16).
MAX_CHECKPOINT_BYTES = 256 * 2**20
# The pickle itself (module records, training arguments): a few hundred kB in real files.
MAX_PICKLE_BYTES = 32 * 2**20
MAX_ENTRIES = 65_536
_LOCAL_HEADER_BYTES = 30  # a zip local file header before its name and extra field


@dataclass(frozen=True)
class Archive:
    """A checked ``torch.save`` zip: its pickle's bytes and the byte size of each storage record."""

    folder: str  # the archive's top folder, e.g. "yolov8n"
    pickle: bytes
    records: dict[str, int]  # storage key -> bytes stored in the file
    size: int  # bytes in the whole file


def open_archive(data: bytes, filename: str) -> Archive:
    """The archive inside ``data``; :class:`DetectorCheckpointError` (one sentence) when it is not
    a complete, uncompressed ``torch.save`` zip within the size limit."""
    if not data:
        raise DetectorCheckpointError(CheckpointProblem.EMPTY, _("{name} is empty.").format(name=filename))
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise DetectorCheckpointError(
            CheckpointProblem.TOO_LARGE,
            _("{name} is {size} MB, more than the {limit} MB spp-viz reads (the largest YOLO detection checkpoints are "
              "about 140 MB).").format(name=filename, size=f"{len(data) / 2**20:,.0f}", limit=MAX_CHECKPOINT_BYTES // 2**20))
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise _not_a_zip(data, filename) from None
    entries = zf.infolist()
    if len(entries) > MAX_ENTRIES:
        raise DetectorCheckpointError(CheckpointProblem.LAYOUT, _("{name} holds {count} entries, more than a checkpoint has.").format(
            name=filename, count=f"{len(entries):,}"))
    folder = _folder(entries, filename)
    for info in entries:
        _check_entry(info, len(data), filename)
    pickle_info = zf.getinfo(f"{folder}/data.pkl")
    if pickle_info.file_size > MAX_PICKLE_BYTES:
        raise DetectorCheckpointError(
            CheckpointProblem.TOO_LARGE,
            _("{name}'s pickle is {size} MB, more than the {limit} MB a checkpoint's model description needs.").format(
                name=filename, size=f"{pickle_info.file_size / 2**20:,.0f}", limit=MAX_PICKLE_BYTES // 2**20))
    try:
        pickle = zf.read(pickle_info)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise DetectorCheckpointError(CheckpointProblem.TRUNCATED, _("{name} is damaged: its pickle does not match its checksum.").format(name=filename)) from None
    prefix = f"{folder}/data/"
    records = {info.filename[len(prefix):]: info.file_size for info in entries if info.filename.startswith(prefix)}
    return Archive(folder, pickle, records, len(data))


def _not_a_zip(data: bytes, filename: str) -> DetectorCheckpointError:
    """Why bytes that zipfile cannot open are not a checkpoint: truncated, legacy or something else."""
    if data.startswith(b"PK\x03\x04"):
        return DetectorCheckpointError(
            CheckpointProblem.TRUNCATED,
            _("{name} is truncated or damaged: it starts as a zip file but its directory at the end is missing.").format(
                name=filename))
    if data.startswith(b"\x80"):
        return DetectorCheckpointError(
            CheckpointProblem.LEGACY,
            _("{name} is a legacy (non-zip) PyTorch pickle, which spp-viz does not read: save it again with torch.save from "
              "PyTorch 1.6 or later.").format(name=filename))
    return DetectorCheckpointError(CheckpointProblem.NOT_ZIP, _("{name} is not a PyTorch checkpoint (a torch.save zip file).").format(
        name=filename))


def _folder(entries: list[zipfile.ZipInfo], filename: str) -> str:
    """The one top folder holding ``data.pkl``."""
    pickles = [info.filename for info in entries if info.filename.endswith("/data.pkl") and info.filename.count("/") == 1]
    if len(pickles) != 1:
        raise DetectorCheckpointError(
            CheckpointProblem.LAYOUT,
            _("{name} is a zip file but not a torch.save checkpoint (it has no single data.pkl).").format(name=filename))
    return pickles[0].split("/")[0]


def _check_entry(info: zipfile.ZipInfo, size: int, filename: str) -> None:
    """Stored, not compressed, and wholly inside the file."""
    if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
        raise DetectorCheckpointError(
            CheckpointProblem.COMPRESSED,
            _("{name} has a compressed entry ({entry}); torch.save stores every entry uncompressed.").format(
                name=filename, entry=info.filename),
            info.filename)
    if info.header_offset + _LOCAL_HEADER_BYTES + len(info.filename) + info.file_size > size:
        raise DetectorCheckpointError(
            CheckpointProblem.TRUNCATED,
            _("{name} is truncated: its entry {entry} ends past the end of the file.").format(name=filename, entry=info.filename),
            info.filename)
