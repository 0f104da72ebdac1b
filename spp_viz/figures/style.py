"""Drawing limits, colours and layout helpers shared by every figure (the one home for display limits)."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from ..boxes import PixelBox

DISPLAY_MAX_SIDE = 768  # photos are shown at most this many pixels on their long side
MAX_DRAWN_LEVEL = 16  # grids finer than 16 x 16 are pooled and counted, not drawn
MAX_VECTOR_POINTS = 200_000  # longer SPP vectors are shown as a min/max envelope
MAX_HEATMAP_CELLS = 65_536  # feature maps above 256 x 256 cells are block-reduced for display
MAX_FIGURE_NUMBERS = 1_000_000
LEVEL_COLOURS = ("#FFD166", "#06D6A0", "#EF476F", "#4CC9F0", "#F78C6B", "#B388FF", "#C5E063", "#FF9FF3")
DIFFER_COLOUR = "#FF1744"
HEATMAP_SCALE = "Viridis"
CHART_CONFIG = {"displaylogo": False}  # st.plotly_chart(config=...) of every chart


def level_colour(levels: Sequence[int], n: int) -> str:
    """One colour per level, stable for a given pyramid (by the level's rank among the levels)."""
    order = sorted(set(levels))
    return LEVEL_COLOURS[order.index(n) % len(LEVEL_COLOURS)] if n in order else LEVEL_COLOURS[0]


def rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def subplot_row(titles: Sequence[str], spacing: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """What ``make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=spacing)``
    puts in the layout, without building a figure: per column its x axis, its y axis (domain and
    anchor, to be merged with the caller's settings) and the title annotations. Figures built in one
    ``go.Figure(data, layout)`` call are validated once, instead of once per ``update_*`` call."""
    cols = len(titles)
    width = (1.0 - spacing * (cols - 1)) / cols
    xaxes, yaxes, notes = [], [], []
    for c in range(cols):
        start = sum([width] * c) + c * spacing  # sum(widths[:c]) + c * spacing, as plotly computes it
        domain = [max(0.0, start), min(1.0, start + width)]
        x_ref, y_ref = axis_refs(c)
        xaxes.append(dict(anchor=y_ref, domain=domain))
        yaxes.append(dict(anchor=x_ref, domain=[0.0, 1.0]))
        if titles[c]:
            notes.append(dict(y=1.0, xref="paper", x=sum(domain) / 2.0, yref="paper", text=titles[c], showarrow=False,
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
