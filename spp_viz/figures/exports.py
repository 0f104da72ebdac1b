"""Downloads built in memory: the SPP vector as .npy and .csv, tables as .csv."""

from __future__ import annotations

import csv
import io
from typing import Any, Mapping, Sequence

import numpy as np
from torch import Tensor

from ..analysis import PyramidResult


def vector_npy_bytes(vector: Tensor) -> bytes:
    """The SPP vector as a ``.npy`` file (float32), built in memory."""
    buf = io.BytesIO()
    np.save(buf, vector.detach().float().cpu().numpy())
    return buf.getvalue()


def vector_csv(head: PyramidResult) -> str:
    """The SPP vector as CSV: index, level, channel, bin row, bin col, value (one row per number)."""
    v = head.vector.detach().float().cpu().numpy()
    parts = []
    for level, (start, end) in zip(head.levels, head.level_offsets()):
        rows, cols = level.bins.shape
        per_channel = max(1, rows * cols)
        i = np.arange(end - start)
        parts.append(np.stack([i + start, np.full_like(i, level.n), i // per_channel,
                               (i % per_channel) // max(cols, 1), (i % per_channel) % max(cols, 1)], axis=1))
    meta = np.concatenate(parts) if parts else np.zeros((0, 5), dtype=np.int64)
    buf = io.StringIO()
    buf.write("index,level,channel,bin_row,bin_col,value\n")
    for chunk in range(0, len(v), 65_536):
        m = meta[chunk:chunk + 65_536]
        vals = v[chunk:chunk + 65_536]
        buf.write("".join(f"{a},{b},{c},{d},{e},{x:.9g}\n" for (a, b, c, d, e), x in zip(m.tolist(), vals.tolist())))
    return buf.getvalue()


def table_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows of dicts (e.g. :func:`spp_viz.dimensions.dimension_table`) as CSV text."""
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
