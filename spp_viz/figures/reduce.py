"""Numeric reductions for display: channel views, block-reduced maps, vector envelopes, winners."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..analysis import LevelResult
from ..choices import Channel, ChannelView
from .style import MAX_HEATMAP_CELLS, MAX_VECTOR_POINTS


def reduce_channels(tensor: Tensor, channel: Channel) -> np.ndarray:
    """``(C, ...)`` -> ``(...)`` float32: one channel, or the mean / max over channels."""
    t = tensor.detach().float().cpu()
    if t.shape[0] == 0 or t.numel() == 0:
        return np.zeros(t.shape[1:], dtype=np.float32)
    if channel is ChannelView.MEAN:
        out = t.mean(0)
    elif channel is ChannelView.MAX:
        out = t.amax(0)
    else:
        index = int(channel)
        if not 0 <= index < t.shape[0]:
            raise ValueError(f"Channel {index} does not exist: this map has channels 0 to {t.shape[0] - 1}.")
        out = t[index]
    return out.numpy().astype(np.float32, copy=False)


def block_reduce(array: np.ndarray, max_cells: int = MAX_HEATMAP_CELLS,
                 how: Channel = ChannelView.MEAN) -> tuple[np.ndarray, int]:
    """Shrink a 2-D map by an integer factor f so it has at most ``max_cells`` cells.

    Display only: each shown cell is the mean of an f x f block, or its max when ``how`` is
    :attr:`ChannelView.MAX` (a channel-max map stays a max; pass the map's channel view).
    Returns ``(map, f)``.
    """
    h, w = array.shape
    if h * w <= max_cells:
        return array, 1
    f = math.ceil(math.sqrt(h * w / max_cells))
    t = torch.from_numpy(np.ascontiguousarray(array))[None, None]
    pooled = F.max_pool2d(t, f, f, ceil_mode=True) if how is ChannelView.MAX else F.avg_pool2d(t, f, f, ceil_mode=True)
    return pooled[0, 0].numpy(), f


RELU6_CEILING = 6.0  # nn.ReLU6's upper bound


def vector_envelope(vector: np.ndarray, max_points: int = MAX_VECTOR_POINTS) -> tuple[np.ndarray, np.ndarray, int]:
    """Min and max of every bucket of ``k`` numbers, with at most ``max_points // 2`` buckets."""
    k = math.ceil(len(vector) / max(1, max_points // 2))
    return (*bucket_extremes(vector, k), k)


def bucket_extremes(vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of every ``k`` consecutive numbers (the last bucket may be shorter)."""
    pad = (-len(vector)) % k
    v = np.asarray(vector, dtype=np.float32)
    lo = np.pad(v, (0, pad), constant_values=np.inf).reshape(-1, k).min(1)
    hi = np.pad(v, (0, pad), constant_values=-np.inf).reshape(-1, k).max(1)
    return lo, hi


def at_ceiling(vector: np.ndarray, ceiling: float = RELU6_CEILING) -> int:
    """How many numbers are exactly ``ceiling`` (ReLU6's 6.0: min(max(x, 0), 6) saturated there)."""
    return int(np.count_nonzero(np.asarray(vector) == ceiling))


class WinnerCell(NamedTuple):
    """Where one bin's max came from: the bin, the feature cell, and whose max it is."""

    bin_row: int
    bin_col: int
    cell_row: int
    cell_col: int
    channel: int  # whose max it is: the chosen channel, or the bin's strongest for the mean / max views
    note: str  # "channel 7", or "strongest channel 7" for the mean / max views


def winner_cells(level: LevelResult, channel: Channel) -> list[WinnerCell]:
    """Where each bin's max came from, one :class:`WinnerCell` per bin in row-major order.

    For a channel: that channel's winner (``LevelResult.winners``). For ``mean`` / ``max``
    views: the winner of the bin's strongest channel (the one holding its largest pooled
    value), which is also the max of the channel-max map inside the bin. (A vote over all
    channels would mostly count dead channels, whose ties all go to the bin's first cell.)
    """
    if level.winners is None or level.winners.numel() == 0:
        return []
    winners = level.winners  # (C, rows, cols, 2)
    _, rows, cols, _ = winners.shape
    if isinstance(channel, ChannelView):  # the mean or max over channels, not an index
        best = level.pooled.argmax(0)  # (rows, cols)
        chosen = [[int(best[r, k]) for k in range(cols)] for r in range(rows)]
        why = "strongest channel {ch}"
    else:
        chosen = [[int(channel)] * cols for _ in range(rows)]
        why = "channel {ch}"
    out = []
    for r in range(rows):
        for k in range(cols):
            ch = chosen[r][k]
            out.append(WinnerCell(r, k, int(winners[ch, r, k, 0]), int(winners[ch, r, k, 1]), ch, why.format(ch=ch)))
    return out
