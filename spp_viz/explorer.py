"""The pyramid explorer's payload: everything the browser needs to draw the linked views.

The browser draws the photo with every level's bins, the feature map and the pooled levels
from one compact payload, made of parts with ids (the photo, the map under a channel view,
one level). A part already sent to this browser is named by its id only, so a change of the
pyramid sends just the new levels. Every number is taken from the engine:
:func:`spp_viz.analysis.level_geometry` for boxes (as in ``report.bins_json``),
``LevelResult.pooled`` / ``winners`` for values and winning cells, the stage's
:class:`~spp_viz.bins.AxisSpans` for a cell's pixels and receptive field.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .bins import AxisSpans, BinGeometry, cascade_window, differing_bins
from .boxes import CellWindow
from .choices import BinRule, Channel, ChannelView, Pool
from .defaults import LEVEL_PRESETS, MAX_LEVEL
from .figures.style import (
    DIFFER_COLOUR,
    MAX_DRAWN_LEVEL,
    MAX_HEATMAP_CELLS,
    PENDING_COLOUR,
    RF_COLOUR,
    SELECTED_COLOUR,
    SPPF_WINDOW_COLOUR,
    SPPF_WINDOW_DASHES,
    assign_level_colours,
)
from .figures.text import channel_label, pooled_value
from .geometry import StageGeometry
from .i18n import language
from .phase0 import Phase0

if TYPE_CHECKING:  # phase 0's payload (no values) is built without torch; phase 1's reads these
    from .analysis import FeatureResult, LevelResult


@dataclass(frozen=True)
class ExplorerBin:
    """One bin: position, feature cells ``[r0, r1, c0, c1]``, pixel and receptive-field boxes
    ``[x0, y0, x1, y1]`` (as ``CellWindow.as_json`` and ``PixelBox.as_json`` give them), pooled
    value under the channel view, winning cell (max pooling) and the channel it is the winner of
    (the bin's strongest under the mean / max views). ``differs``: a paper-rule bin whose cells
    differ from the adaptive rule's bin at its place (``LevelResult.differing``)."""

    row: int
    col: int
    index: int
    cells: list[int]
    box: list[float]
    rf: list[float]
    value: float | None
    winner: tuple[int, int] | None
    winner_channel: int | None = None
    differs: bool = False


@dataclass(frozen=True)
class ExplorerLevel:
    """One level's part: its grid (``rows x cols``, which the paper rule may make not n x n). Its
    colour is not part of it (a part is sent once, a level's colour is the page's:
    :attr:`ExplorerPayload.colours`)."""

    id: str
    n: int
    rows: int
    cols: int
    valid: bool
    bins: tuple[ExplorerBin, ...]


@dataclass(frozen=True)
class ExplorerMap:
    """The map under the channel view, float32 little-endian in base64, row-major, ``height x
    width`` shown cells of ``block x block`` feature cells (1 unless the map is very large)."""

    id: str
    channel: str
    label: str
    channels: int
    rows: int  # feature cells
    cols: int
    height: int  # shown cells
    width: int
    block: int
    lo: float
    hi: float
    values: str


@dataclass(frozen=True)
class ExplorerAxis:
    """One axis of the stage (:class:`~spp_viz.bins.AxisSpans`): cell i covers pixels
    ``[i*jump, (i+1)*jump)``; its receptive field is ``[offset + i*jump, ... + size)`` clipped to
    ``[0, read_end)``."""

    offset: float
    jump: int
    size: int
    count: int
    length: int
    read_end: int


@dataclass(frozen=True)
class ExplorerPhoto:
    id: str
    src: str  # a data URI
    width: int  # working-resolution pixels (the boxes' coordinates)
    height: int


@dataclass(frozen=True)
class ExplorerWindow:
    """One SPPF window of the legend: ``cells`` wide (``formula`` in k: ``k``, ``2k − 1``, ...),
    ``pixels`` = cells x stride on the photo, ``rf_pixels`` its receptive field, ``dash`` its line."""

    formula: str
    cells: int
    dash: tuple[int, ...]
    pixels: int
    rf_pixels: int


@dataclass(frozen=True)
class ExplorerStyle:
    """The marks' colours (:mod:`spp_viz.figures.style`, their one home) and the words the
    browser puts around the numbers: what a pooled value is under this channel view and pooling."""

    value_label: str
    winner_of_strongest: bool  # the winning cell is the bin's strongest channel's (mean / max views)
    selected: str = SELECTED_COLOUR
    rf: str = RF_COLOUR
    differ: str = DIFFER_COLOUR
    window: str = SPPF_WINDOW_COLOUR
    pending: str = PENDING_COLOUR  # phase 0's bins, greyed until the values arrive


@dataclass(frozen=True)
class ExplorerPyramid:
    """What the explorer's own levels control needs to draw an edit before the server answers:
    the pyramid (every level, drawn or not), the bin rule (:mod:`spp_viz.bins`, ported once to
    ``explorer.js``), what :func:`spp_viz.options.parse_levels` accepts (levels 1 to
    ``max_level``, the presets by name) and the finest level drawn (``max_drawn``)."""

    levels: tuple[int, ...]
    rule: BinRule
    max_level: int = MAX_LEVEL
    max_drawn: int = MAX_DRAWN_LEVEL
    presets: dict[str, tuple[int, ...]] = field(default_factory=lambda: dict(LEVEL_PRESETS))


@dataclass(frozen=True)
class ExplorerPayload:
    """The whole view: ``photo``, ``map`` and ``levels`` are the parts; ``colours`` the page's
    level colours (:func:`~spp_viz.figures.style.assign_level_colours`); ``sppf_windows`` the
    cascade's windows at the sidebar's ``k`` and ``n`` (k, 2k-1, 3k-2, ...)."""

    view: str
    photo: ExplorerPhoto
    map: ExplorerMap
    levels: tuple[ExplorerLevel, ...]
    axes: tuple[ExplorerAxis, ExplorerAxis]  # rows (y), cols (x)
    global_context: bool
    pool: Pool
    sppf_k: int
    sppf_n: int
    level_ids: tuple[str, ...] = field(default=())
    colours: dict[int, str] = field(default_factory=dict)
    sppf_windows: tuple[ExplorerWindow, ...] = ()
    style: ExplorerStyle = ExplorerStyle("", False)
    phase: int = 1  # 0: geometry only (no map values, no pooled values), 1: the forward's values
    pyramid: ExplorerPyramid = ExplorerPyramid((), BinRule.ADAPTIVE)

    def parts(self) -> dict[str, Any]:
        """Every part by id (what :func:`to_json` may leave out when the browser has it)."""
        return {self.photo.id: self.photo, self.map.id: self.map, **{lv.id: lv for lv in self.levels}}


def part_id(*keys: object) -> str:
    """A short stable id of a part from what it depends on."""
    return hashlib.sha1(repr(keys).encode()).hexdigest()[:16]


def explorer_bins(level: LevelResult, geometry: Sequence[BinGeometry], channel: Channel) -> tuple[ExplorerBin, ...]:
    """Every bin of ``level`` in ``geometry`` order, its value and winner under ``channel``."""
    from .figures.reduce import reduce_channels, winner_cells

    values = reduce_channels(level.pooled, channel) if level.pooled.numel() else None
    winners = {(w.bin_row, w.bin_col): w for w in winner_cells(level, channel)}
    differing = set(level.differing)
    out = []
    for g in geometry:
        value = None
        if values is not None and g.row < values.shape[0] and g.col < values.shape[1]:
            value = float(values[g.row, g.col])
        won = winners.get((g.row, g.col))
        out.append(ExplorerBin(g.row, g.col, g.index, g.cells.as_json(), g.box.as_json(), g.rf_box.as_json(), value,
                               (won.cell_row, won.cell_col) if won else None, won.channel if won else None,
                               (g.row, g.col) in differing))
    return tuple(out)


def explorer_level(level: LevelResult, geometry: Sequence[BinGeometry], channel: Channel, map_id: str, rule: BinRule,
                   pool: Pool) -> ExplorerLevel:
    """One level's part; its id names the map, the channel view, the rule and the pooling."""
    rows, cols = level.bins.shape
    return ExplorerLevel(part_id("level", map_id, level.n, rule, pool, channel), level.n, rows, cols, level.valid,
                         explorer_bins(level, geometry, channel))


def explorer_windows(k: int, n: int, geometry: StageGeometry) -> tuple[ExplorerWindow, ...]:
    """SPPF's windows for the legend: the i-th is ``cascade_window(k, i)`` cells, i·k − (i − 1)."""
    out = []
    for i in range(1, n + 1):
        cells = cascade_window(k, i)
        formula = "k" if i == 1 else f"{i}k − {i - 1}"
        out.append(ExplorerWindow(formula, cells, SPPF_WINDOW_DASHES[(i - 1) % len(SPPF_WINDOW_DASHES)],
                                  cells * geometry.stride, geometry.window_pixels(cells)))
    return tuple(out)


def explorer_map(features: FeatureResult, channel: Channel, map_key: object, max_cells: int = MAX_HEATMAP_CELLS) -> ExplorerMap:
    """The map under ``channel`` (block-reduced above ``max_cells``), taken to the CPU first."""
    import numpy as np  # here, not with the module: phase 0's payload needs none

    from .figures.reduce import block_reduce, reduce_channels

    feature = features.feature.detach().cpu()
    c, h, w = feature.shape
    z = reduce_channels(feature, channel)
    shown, block = block_reduce(z, max_cells, channel)
    shown = np.ascontiguousarray(shown, dtype="<f4")
    lo, hi = (float(shown.min()), float(shown.max())) if shown.size else (0.0, 1.0)
    return ExplorerMap(part_id("map", map_key, channel, max_cells, language()), str(channel), channel_label(channel, c), c, h, w,
                       int(shown.shape[0]), int(shown.shape[1]), block, lo, hi,
                       base64.b64encode(shown.tobytes()).decode("ascii"))


def explorer_axis(spans: AxisSpans) -> ExplorerAxis:
    read_end = spans.input_length if spans.read_end is None else min(spans.read_end, spans.input_length)
    return ExplorerAxis(float(spans.offset), int(spans.jump), int(spans.size), int(spans.count), int(spans.input_length),
                        int(read_end))


def build_payload(
    features: FeatureResult,
    levels: Sequence[LevelResult],
    geometry: dict[int, list[BinGeometry]],
    photo: tuple[str, tuple[int, int]],
    *,
    image_key: object,
    model_key: object = None,
    channel: Channel = ChannelView.MEAN,
    rule: BinRule = BinRule.ADAPTIVE,
    pool: Pool = Pool.MAX,
    sppf_k: int = 5,
    sppf_n: int = 3,
    colours: Mapping[int, str] | None = None,
) -> ExplorerPayload:
    """The explorer's payload for the drawable levels (``n <= MAX_DRAWN_LEVEL`` with geometry).

    ``photo`` is ``figures.photo_source(image)`` (cached by the caller); ``image_key`` names
    the image and working size, ``model_key`` the model (backbone, stage, weights, checkpoint);
    the map part's id names both. ``colours``: the page's level colours (the same as its charts');
    without them, :func:`~spp_viz.figures.style.assign_level_colours` of these levels.
    """
    width, height = features.input_size
    map_key = (image_key, model_key, features.backbone, features.stage, features.weights)
    map_part = explorer_map(features, channel, map_key)
    parts = tuple(explorer_level(lv, geometry[lv.n], channel, map_part.id, rule, pool)
                  for lv in levels if lv.n <= MAX_DRAWN_LEVEL and lv.n in geometry)
    shown = dict(colours) if colours else assign_level_colours([lv.n for lv in levels])
    photo_part = ExplorerPhoto(part_id("photo", image_key), photo[0], int(width), int(height))
    pyramid = ExplorerPyramid(tuple(lv.n for lv in levels), rule)
    return _assemble(photo_part, map_part, parts, shown, features.spans, features.geometry, channel, pool,
                     (int(sppf_k), int(sppf_n)), phase=1, pyramid=pyramid)


def _assemble(photo: ExplorerPhoto, map_part: ExplorerMap, parts: Sequence[ExplorerLevel], colours: Mapping[int, str],
              spans: tuple[AxisSpans, AxisSpans], geometry: StageGeometry, channel: Channel, pool: Pool,
              sppf: tuple[int, int], phase: int, pyramid: ExplorerPyramid) -> ExplorerPayload:
    """The payload of these parts: the colours of the levels drawn, SPPF's windows, the words, the
    pyramid its levels control starts from, the view's id."""
    shown = {p.n: colours[p.n] for p in parts}
    ys, xs = spans
    windows = explorer_windows(*sppf, geometry)
    style = ExplorerStyle(pooled_value(pool, channel, map_part.channels), isinstance(channel, ChannelView))
    view = part_id("view", map_part.id, tuple(p.id for p in parts), *sppf, tuple(shown.items()), style, phase,
                   pyramid.levels, pyramid.rule)
    return ExplorerPayload(view, photo, map_part, tuple(parts), (explorer_axis(ys), explorer_axis(xs)),
                           bool(geometry.global_context), pool, sppf[0], sppf[1], tuple(p.id for p in parts), shown,
                           windows, style, phase=phase, pyramid=pyramid)


def phase0_payload(geometry: Phase0, photo: tuple[str, tuple[int, int]], *, image_key: object, model_key: object,
                   channel: Channel, pool: Pool, sppf: tuple[int, int], colours: Mapping[int, str] | None = None) -> ExplorerPayload:
    """The explorer's payload before the forward (phase 0): the photo and every drawable level's
    bins from :func:`spp_viz.phase0.phase0` (the same boxes :func:`build_payload` takes from the
    report's geometry after the forward), with no values; the map part has its size and no cells."""
    width, height = geometry.input_size
    c, h, w = geometry.shape
    map_key = ("phase0", image_key, model_key, geometry.backbone, geometry.stage)
    map_part = ExplorerMap(part_id("map", map_key, channel, language()), str(channel), channel_label(channel, c), c, h, w, 0, 0, 1,
                           0.0, 0.0, "")
    parts = []
    for level in geometry.levels:
        n = level.bins.n
        if n > MAX_DRAWN_LEVEL:
            continue
        rows, cols = level.bins.shape
        differing = set(differing_bins(h, w, n)) if geometry.rule is BinRule.PAPER else set()
        bins = tuple(ExplorerBin(g.row, g.col, g.index, g.cells.as_json(), g.box.as_json(), g.rf_box.as_json(), None, None,
                                 None, (g.row, g.col) in differing) for g in level.boxes)
        parts.append(ExplorerLevel(part_id("level", map_part.id, n, geometry.rule, pool), n, rows, cols, level.bins.valid,
                                   bins))
    shown = dict(colours) if colours else assign_level_colours([level.bins.n for level in geometry.levels])
    photo_part = ExplorerPhoto(part_id("photo", image_key), photo[0], int(width), int(height))
    pyramid = ExplorerPyramid(tuple(level.bins.n for level in geometry.levels), geometry.rule)
    return _assemble(photo_part, map_part, parts, shown, geometry.spans, geometry.geometry, channel, pool,
                     (int(sppf[0]), int(sppf[1])), phase=0, pyramid=pyramid)


def to_json(payload: ExplorerPayload, known: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """The payload as plain JSON: parts whose id is in ``known`` (already in the browser) are
    sent as their id alone; ``parts`` holds the others by id."""
    parts = {pid: asdict(part) for pid, part in payload.parts().items() if pid not in known}
    return {
        "view": payload.view, "photo": payload.photo.id, "map": payload.map.id, "levels": list(payload.level_ids),
        "axes": [asdict(a) for a in payload.axes], "global_context": payload.global_context, "pool": payload.pool,
        "sppf_k": payload.sppf_k, "sppf_n": payload.sppf_n, "parts": parts,
        "colours": {str(n): colour for n, colour in payload.colours.items()},
        "sppf_windows": [asdict(w) for w in payload.sppf_windows], "style": asdict(payload.style),
        "phase": payload.phase, "pyramid": asdict(payload.pyramid),
    }


def sppf_windows(row: int, col: int, k: int, n: int, rows: int, cols: int) -> list[CellWindow]:
    """SPPF's windows around cell (row, col): after m stride-1 'same' pools of size k the cell
    sees :func:`spp_viz.pooling.cascade_window` cells per side (k, 2k-1, 3k-2, ...), clipped to the
    ``rows x cols`` map."""
    out = []
    for m in range(1, n + 1):
        half = (cascade_window(k, m) - 1) // 2
        out.append(CellWindow((max(0, row - half), min(rows, row + half + 1)), (max(0, col - half), min(cols, col + half + 1))))
    return out
