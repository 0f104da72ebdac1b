"""The two rectangles of the engine, one type each, each serialised in one place.

* :class:`PixelBox`: a box in working-image pixels, ``[x0, x1) x [y0, y1)`` (a bin's box or
  receptive field, a region the user chose); JSON ``[x0, y0, x1, y1]``.
* :class:`CellWindow`: a window of feature-map cells, rows ``[r0, r1)`` x columns ``[c0, c1)``
  (a bin's cells, a region's cells, an SPPF window); JSON ``[r0, r1, c0, c1]``.

The two orders differ on purpose and are each the JSON's since its first version: a box is
x-first like an image library's, a window is row-first like a ``(C, h, w)`` tensor's index.
Torch-free: the CLI parses ``--region`` into a :class:`PixelBox` before it imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast


class _Sliceable(Protocol):
    def __getitem__(self, key: Any, /) -> Any: ...


S = TypeVar("S", bound=_Sliceable)  # a tensor or an array


@dataclass(frozen=True)
class PixelBox:
    """A box in image pixels, ``[x0, x1) x [y0, y1)``: a bin's box or receptive field (clipped to
    the image), or a region the user chose."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def as_json(self) -> list[float]:
        """``[x0, y0, x1, y1]``: the box in the JSON report, the explorer's payload and figure metadata."""
        return [self.x0, self.y0, self.x1, self.y1]


@dataclass(frozen=True)
class CellWindow:
    """Feature-map cells ``rows[0] <= r < rows[1]``, ``cols[0] <= c < cols[1]`` (half-open ranges)."""

    rows: tuple[int, int]
    cols: tuple[int, int]

    @property
    def height(self) -> int:
        return self.rows[1] - self.rows[0]

    @property
    def width(self) -> int:
        return self.cols[1] - self.cols[0]

    def select(self, array: S) -> S:
        """``array[..., r0:r1, c0:c1]``: the window's cells of a ``(..., h, w)`` tensor or array."""
        return cast(S, array[..., self.rows[0]:self.rows[1], self.cols[0]:self.cols[1]])

    def as_json(self) -> list[int]:
        """``[r0, r1, c0, c1]``: the window in the JSON report, the explorer's payload and figure metadata."""
        return [*self.rows, *self.cols]
