"""What a backbone stage does to space, as numbers: :class:`LayerGeometry` for one conv or pool
on the main path, :class:`StageGeometry` for the path up to a stage (nominal stride, channels,
theoretical receptive field, and its layers). From the layers follow the feature-map size of any
input size and each cell's receptive field with the padding each layer really applies
(:meth:`StageGeometry.axis_spans`). :mod:`spp_viz.trace` builds these from a model;
:mod:`spp_viz.layer_tables` keeps every backbone's in the package, so that they are known
without torch. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from .bins import AxisSpans

SAME = "same"  # a layer's padding in the tables when it is TF "same" (it depends on the input length)

__all__ = ["LayerGeometry", "StageGeometry"]


@dataclass(frozen=True)
class LayerGeometry:
    """One conv/pool on the main path: kernel, stride, dilation, padding; ``same`` for TF padding."""

    kernel: int
    stride: int
    dilation: int = 1
    padding: int = 0
    ceil_mode: bool = False
    same: bool = False

    def out_size(self, a: int) -> int:
        if self.same:
            return -(-a // self.stride)
        span = a + 2 * self.padding - self.dilation * (self.kernel - 1) - 1
        size = (-(-span // self.stride) if self.ceil_mode else span // self.stride) + 1
        return max(size, 0)

    def left_padding(self, a: int) -> int:
        """Padding before the first input cell for an input of length ``a``.

        TF "same": ``total = max((ceil(a/s) - 1)*s + (k - 1)*d + 1 - a, 0)``, ``total // 2``
        in front (the odd one goes at the end), so it changes with ``a``.
        """
        if not self.same:
            return self.padding
        total = max((-(-a // self.stride) - 1) * self.stride + (self.kernel - 1) * self.dilation + 1 - a, 0)
        return total // 2

    def as_json(self) -> dict[str, Any]:
        """``{kernel, stride, dilation, padding, ceil_mode}``; ``padding`` is ``"same"`` for TF padding."""
        return {"kernel": self.kernel, "stride": self.stride, "dilation": self.dilation,
                "padding": SAME if self.same else self.padding, "ceil_mode": self.ceil_mode}

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> LayerGeometry:
        """The layer :meth:`as_json` wrote (other keys, such as the module's name, are ignored)."""
        same = row["padding"] == SAME
        return cls(int(row["kernel"]), int(row["stride"]), int(row["dilation"]), 0 if same else int(row["padding"]),
                   bool(row["ceil_mode"]), same)


@dataclass(frozen=True)
class StageGeometry:
    """What a stage does to space: nominal stride, channels, theoretical receptive field (pixels),
    and the main path's layers, from which the feature-map size of any input size follows."""

    stride: int
    channels: int
    receptive_field: int
    layers: tuple[LayerGeometry, ...] = field(default=(), repr=False)
    # squeeze-excite on the path: every output then depends on every pixel of the image
    global_context: bool = False

    @classmethod
    def of_layers(cls, layers: Sequence[LayerGeometry], channels: int, global_context: bool = False) -> StageGeometry:
        """The stage whose main path is ``layers``: its stride is the product of theirs, its
        theoretical receptive field ``r += (k - 1) * d * j; j *= s`` over them."""
        rf, jump = 1, 1
        for layer in layers:
            rf += (layer.kernel - 1) * layer.dilation * jump
            jump *= layer.stride
        return cls(stride=jump, channels=channels, receptive_field=rf, layers=tuple(layers), global_context=global_context)

    def window_pixels(self, cells: int) -> int:
        """Input pixels seen by ``cells`` adjacent cells along one axis: ``receptive_field +
        (cells - 1) * stride`` (0 for no cells: a paper-rule level on a small map)."""
        return self.receptive_field + (cells - 1) * self.stride if cells > 0 else 0

    def feature_size(self, height: int, width: int) -> tuple[int, int]:
        """``(h, w)`` of the stage's map for an ``height x width`` input (0 when the input is too small)."""
        for layer in self.layers:
            height, width = layer.out_size(height), layer.out_size(width)
        return height, width

    def axis_spans(self, length: int) -> AxisSpans:
        """Receptive fields of the cells along one axis of ``length`` pixels.

        Walks the layers with each one's padding for the length it really receives:
        ``offset -= pad_left * jump``, ``size += (k - 1) * d * jump``, ``jump *= s``.
        A geometry without a layer trace (built by hand) assumes cells centred on
        ``(i + 0.5) * stride``: there is nothing to derive the padding from.
        """
        if not self.layers:
            count = length // self.stride
            return AxisSpans((self.stride - self.receptive_field) / 2, self.stride, self.receptive_field, count, length)
        offset, jump, size, a, read_end = 0, 1, 1, length, length
        for layer in self.layers:
            pad, out = layer.left_padding(a), layer.out_size(a)
            # the last input cell this layer reads: floor-mode layers may drop trailing cells
            last = min((out - 1) * layer.stride - pad + (layer.kernel - 1) * layer.dilation, a - 1)
            read_end = min(offset + last * jump + size, read_end) if out > 0 else 0
            offset -= pad * jump
            size += (layer.kernel - 1) * layer.dilation * jump
            jump *= layer.stride
            a = out
        return AxisSpans(float(offset), jump, size, a, length, read_end)

    def spans(self, height: int, width: int) -> tuple[AxisSpans, AxisSpans]:
        """``(rows/y, cols/x)`` spans for an ``height x width`` input (see :meth:`axis_spans`)."""
        return self.axis_spans(height), self.axis_spans(width)
