"""Effective receptive field (ERF) of one pyramid bin.

The ERF (Luo et al., 2016, "Understanding the Effective Receptive Field in Deep CNNs") is
where the input pixels that really move an output are. For a bin we take the bin's pooled
value summed over channels (the current pooling, ``avg`` or ``max``, and bin rule), and its
gradient with respect to the NORMALISED input tensor (what the network receives, after the
mean/std normalisation), then ``|gradient|`` summed over R, G, B: an ``H x W`` map.

One backward pass. ``Backbone.features`` runs under ``torch.inference_mode()``, so this module
runs its own forward through ``backbone.extractor`` under ``torch.enable_grad()`` with only the
input requiring a gradient, and asks ``torch.autograd.grad(out, x)``: no parameter's
``requires_grad`` flag is touched, so concurrent sessions sharing a cached backbone are safe.

The masses are fractions of the map's total: ``mass_in_rf_box`` is 1 up to float error,
because no pixel outside a cell's theoretical receptive field can reach it (the RF box is
the whole image for backbones with squeeze-excite, ``geometry.global_context``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .analysis import PyramidConfig
from .backbones import Backbone
from .bins import BinGeometry, bin_geometry, pyramid_bins
from .boxes import CellWindow, PixelBox
from .choices import BinRule, Pool
from .i18n import _

# the radii reported around the centroid: the discs holding these fractions of the mass
RADIUS_FRACTIONS = (0.5, 0.9)


@dataclass(frozen=True)
class ErfResult:
    """The ERF of one bin. ``map`` is ``(H, W)`` float32 ``|d bin / d x|`` summed over RGB."""

    level: int
    bin: tuple[int, int]  # (row, col)
    box: PixelBox  # the bin's cells through the stride
    rf_box: PixelBox  # the union of its cells' theoretical receptive fields
    global_context: bool  # squeeze-excite on the path: the RF box is the whole image
    mass_in_box: float
    mass_in_rf_box: float
    centroid: tuple[float, float]  # (x, y) in pixels; pixel (0, 0) spans [0, 1), centre (0.5, 0.5)
    radius50: float
    radius90: float
    shape: tuple[int, int]  # (H, W)
    ms: float  # forward + backward, one run, time.perf_counter
    map: np.ndarray

    def as_json(self) -> dict[str, Any]:
        """The ``erf`` object of ``spp-viz erf --json`` (without the map)."""
        return {
            "level": self.level, "bin": list(self.bin), "box": self.box.as_json(), "rf_box": self.rf_box.as_json(),
            "global_context": self.global_context,
            "mass_in_box": self.mass_in_box, "mass_in_rf_box": self.mass_in_rf_box,
            "centroid": list(self.centroid), "radius50": self.radius50, "radius90": self.radius90,
            "shape": list(self.shape), "ms": round(self.ms, 3),
        }


def bin_geometry_for(backbone: Backbone, size: tuple[int, int], level: int, row: int, col: int,
                     rule: BinRule) -> BinGeometry:
    """The geometry of bin ``(row, col)`` of ``level`` for an input of ``size = (width, height)``.

    Raises ValueError when the level has no such bin on this map (one sentence).
    """
    width, height = size
    h, w = backbone.geometry.feature_size(height, width)
    if h < 1 or w < 1:
        raise ValueError(_("The {width} x {height} image gives an empty feature map at stage {stage}: use a larger image.").format(
            width=width, height=height, stage=backbone.stage))
    bins = pyramid_bins(h, w, level, rule)
    rows, cols = bins.shape
    if not (0 <= row < rows and 0 <= col < cols):
        raise ValueError(_("Bin {row},{col} does not exist: level {level} has {rows} x {cols} bins on the {h} x {w} map "
                           "(rows 0 to {last_row}, columns 0 to {last_col}).").format(
            row=row, col=col, level=level, rows=rows, cols=cols, h=h, w=w, last_row=rows - 1, last_col=cols - 1))
    spans = backbone.geometry.spans(height, width)
    geometry = bin_geometry(bins, spans, size, backbone.geometry.global_context)
    return next(g for g in geometry if g.row == row and g.col == col)


def bin_output(fmap: Tensor, cells: CellWindow, pool: Pool) -> Tensor:
    """The bin's pooled value summed over channels: ``(1, C, h, w)`` -> scalar."""
    window = cells.select(fmap[0]).flatten(1)
    pooled = window.amax(dim=1) if pool is Pool.MAX else window.mean(dim=1)
    return pooled.sum()


def input_gradient(backbone: Backbone, x: Tensor, cells: CellWindow, pool: Pool) -> Tensor:
    """``|d bin / d x|`` summed over RGB: ``(1, 3, H, W)`` -> ``(H, W)`` float32 on the CPU.

    Only ``x`` requires a gradient (the parameters' flags are left alone: thread-safe).
    """
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = bin_output(backbone.extractor(x), cells, pool)
        (grad,) = torch.autograd.grad(out, x)
    return grad[0].abs().sum(dim=0).float().cpu()


def box_mass(erf: np.ndarray, box: PixelBox) -> float:
    """Sum of the map over the pixels that the ``[x0, x1) x [y0, y1)`` box touches."""
    x0, y0 = math.floor(box.x0), math.floor(box.y0)
    x1, y1 = math.ceil(box.x1), math.ceil(box.y1)
    return float(erf[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)].sum(dtype=np.float64))


def centroid_and_radii(erf: np.ndarray) -> tuple[tuple[float, float], tuple[float, ...]]:
    """Mass centroid ``(x, y)`` (pixel centres at ``p + 0.5``) and the radii of :data:`RADIUS_FRACTIONS`.

    A map with no mass has its centroid at the image centre and radii 0.
    """
    h, w = erf.shape
    weights = erf.astype(np.float64)
    total = weights.sum()
    if not total > 0:
        return (w / 2, h / 2), tuple(0.0 for _fraction in RADIUS_FRACTIONS)
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    cx, cy = float((weights * xs).sum() / total), float((weights * ys).sum() / total)
    dist = np.hypot(xs - cx, ys - cy).ravel()
    order = np.argsort(dist, kind="stable")
    cumulative = np.cumsum(weights.ravel()[order]) / total
    radii = tuple(float(dist[order][min(int(np.searchsorted(cumulative, f)), dist.size - 1)]) for f in RADIUS_FRACTIONS)
    return (cx, cy), radii


def bin_erf(backbone: Backbone, image: Image.Image, level: int, row: int, col: int, config: PyramidConfig | None = None) -> ErfResult:
    """The ERF of bin ``(row, col)`` of ``level`` on ``image`` (the working image, as analysed).

    ``config`` supplies the pooling (``max``/``avg``) and the bin rule; its levels are not used.
    Raises ValueError (one sentence) for a bin the level does not have.
    """
    config = config or PyramidConfig()
    geometry = bin_geometry_for(backbone, image.size, level, row, col, config.rule)
    x = backbone.preprocess(image)
    start = time.perf_counter()
    grad = input_gradient(backbone, x, geometry.cells, config.pool)
    ms = (time.perf_counter() - start) * 1000
    erf = grad.numpy().astype(np.float32)
    total = float(erf.sum(dtype=np.float64))
    share = (lambda box: box_mass(erf, box) / total) if total > 0 else (lambda box: 0.0)
    (cx, cy), (r50, r90) = centroid_and_radii(erf)
    return ErfResult(
        level, (row, col), geometry.box, geometry.rf_box, backbone.geometry.global_context,
        share(geometry.box), share(geometry.rf_box), (cx, cy), r50, r90, (erf.shape[0], erf.shape[1]), ms, erf,
    )
