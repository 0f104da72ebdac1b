"""Drawing limits, colours and layout helpers shared by every figure (the one home for display limits)."""

from __future__ import annotations

import colorsys
import itertools
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..boxes import PixelBox

DISPLAY_MAX_SIDE = 768  # photos are shown at most this many pixels on their long side
MAX_DRAWN_LEVEL = 16  # grids finer than 16 x 16 are pooled and counted, not drawn
MAX_VECTOR_POINTS = 200_000  # longer SPP vectors are shown as a min/max envelope
MAX_HEATMAP_CELLS = 65_536  # feature maps above 256 x 256 cells are block-reduced for display
MAX_FIGURE_NUMBERS = 1_000_000
# The levels' palette, in the order new levels take it; the colours below are reserved for other
# marks and no level ever gets one of them (levels beyond the palette get generated hues).
LEVEL_COLOURS = ("#FFD166", "#06D6A0", "#B388FF", "#4CC9F0", "#F78C6B", "#FF9FF3", "#C5E063", "#EF476F")
DIFFER_COLOUR = "#FF1744"  # the paper rule's bins that differ from the adaptive rule's (dashed)
SELECTED_COLOUR = "#FFFFFF"  # the selected bin
RF_COLOUR = "#00E5FF"  # receptive-field boxes (dashed)
PENDING_COLOUR = "#9E9E9E"  # phase 0: the bins drawn before their values arrive (greyed)
# SPPF's windows in the explorer: white, told apart by their dashes (k, 2k - 1, 3k - 2, ... cells);
# the SPP grid is dimmed while they show, so white never reads as a level or the selection
SPPF_WINDOW_COLOUR = "#FFFFFF"
SPPF_WINDOW_DASHES: tuple[tuple[int, ...], ...] = ((), (9, 4), (4, 3), (1, 3), (12, 3, 2, 3), (6, 2, 1, 2), (2, 6), (16, 6))
RESERVED_COLOURS = frozenset({DIFFER_COLOUR, SELECTED_COLOUR, RF_COLOUR, SPPF_WINDOW_COLOUR})
HEATMAP_SCALE = "Viridis"
CHART_CONFIG = {"displaylogo": False}  # st.plotly_chart(config=...) of every chart


def _generated_colours() -> Iterator[str]:
    """Hues after the palette: golden-angle steps at one lightness, skipping the reserved ones."""
    for i in itertools.count():
        r, g, b = colorsys.hls_to_rgb((0.11 + i * 0.381966) % 1.0, 0.68, 0.75)
        colour = f"#{round(r * 255):02X}{round(g * 255):02X}{round(b * 255):02X}"
        if colour not in RESERVED_COLOURS and colour not in LEVEL_COLOURS:
            yield colour


def assign_level_colours(levels: Sequence[int], kept: Mapping[int, str] | None = None) -> dict[int, str]:
    """THE assignment of colours to levels, ``{n: colour}`` for ``levels``: all distinct, never a
    reserved colour. ``kept`` holds the colours levels got before (a session's): a level keeps its
    colour, and a new level takes the first colour no level has held yet (then generated hues), so
    the colour of a level that comes back is still its own."""
    kept = dict(kept or {})
    out: dict[int, str] = {}
    for n in levels:
        if n in kept and kept[n] not in out.values():
            out[n] = kept[n]
    taken = set(kept.values()) | set(out.values())
    fresh = itertools.chain((c for c in LEVEL_COLOURS if c not in taken), (c for c in _generated_colours() if c not in taken))
    for n in levels:
        if n not in out:
            out[n] = next(fresh)
    return {n: out[n] for n in levels}


def rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def subplot_row(titles: Sequence[str], spacing: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """:func:`subplot_grid` of one row, one column per title."""
    return subplot_grid(titles, 1, len(titles), spacing)


def subplot_grid(titles: Sequence[str], rows: int, cols: int, h_spacing: float,
                 v_spacing: float = 0.0) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """What ``make_subplots(rows, cols, subplot_titles=titles, horizontal_spacing=h_spacing,
    vertical_spacing=v_spacing)`` puts in the layout, without building a figure: per cell (row
    by row from the top) its x axis, its y axis (domain and anchor, to be merged with the caller's
    settings) and the title annotations. Figures built in one ``go.Figure(data, layout)`` call are
    validated once, instead of once per ``update_*`` call (a 1 x 3 grid of bars: 11.6 ms through
    ``make_subplots``). ``tests/test_figures.py`` compares it with ``make_subplots``."""
    width = (1.0 - h_spacing * (cols - 1)) / cols
    height = (1.0 - v_spacing * (rows - 1)) / rows
    xaxes, yaxes, notes = [], [], []
    for r in range(rows):
        below = rows - 1 - r  # rows under this one: plotly stacks the domains from the bottom
        y_start = sum([height] * below) + below * v_spacing
        y_domain = [max(0.0, y_start), min(1.0, y_start + height)]
        for c in range(cols):
            i = r * cols + c
            start = sum([width] * c) + c * h_spacing  # sum(widths[:c]) + c * spacing, as plotly computes it
            domain = [max(0.0, start), min(1.0, start + width)]
            x_ref, y_ref = axis_refs(i)
            xaxes.append(dict(anchor=y_ref, domain=domain))
            yaxes.append(dict(anchor=x_ref, domain=y_domain))
            if i < len(titles) and titles[i]:
                notes.append(dict(y=y_domain[1], xref="paper", x=sum(domain) / 2.0, yref="paper", text=titles[i], showarrow=False,
                                  font=dict(size=16), xanchor="center", yanchor="bottom"))
    return xaxes, yaxes, notes


def axis_refs(c: int) -> tuple[str, str]:
    """How a trace names column ``c``'s axes (0-based): ``x``/``y``, ``x2``/``y2``..."""
    suffix = str(c + 1) if c else ""
    return f"x{suffix}", f"y{suffix}"


def axis_names(c: int) -> tuple[str, str]:
    """Layout keys of column ``c``'s axes (0-based): ``xaxis``/``yaxis``, ``xaxis2``/``yaxis2``..."""
    suffix = str(c + 1) if c else ""
    return f"xaxis{suffix}", f"yaxis{suffix}"
LEGEND_BELOW = dict(orientation="h", yanchor="top", y=-0.02, xanchor="left", x=0, bgcolor="rgba(0,0,0,0)")


def panel_height(aspect: float, legend_rows: int = 2) -> int:
    """Figure height for a half-width column (~480 px of plot) at ``aspect`` = height / width."""
    return int(min(820, max(280, 480 * aspect + 36 + 26 * legend_rows)))


def rect_path(boxes: Iterable[tuple[float, float, float, float]]) -> tuple[list[float | None], list[float | None]]:
    """Outline of several boxes ``(x0, y0, x1, y1)`` as one polyline separated by ``None``."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for x0, y0, x1, y1 in boxes:
        xs += [x0, x1, x1, x0, x0, None]
        ys += [y0, y0, y1, y1, y0, None]
    return xs, ys


def inset(box: PixelBox, d: float) -> tuple[float, float, float, float]:
    """Shrink a box by ``d`` on each side (never past its centre): offsets neighbouring outlines."""
    dx = min(d, box.width / 4)
    dy = min(d, box.height / 4)
    return box.x0 + dx, box.y0 + dy, box.x1 - dx, box.y1 - dy


def figure_meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"figure": name, **extra}
