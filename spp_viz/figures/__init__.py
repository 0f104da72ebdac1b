"""Plotly figures for the app: pure functions of engine results, testable without Streamlit.

Every builder takes what :mod:`spp_viz.analysis` computed and only transforms it for display.
Figures carry few numbers: photos travel as one base64 JPEG, large maps are block-reduced and
long vectors become a min/max envelope, so no figure holds more than about a million numbers.
``layout.meta["figure"]`` names the builder so a test can find a chart in a rendered page.

Modules: :mod:`.style` (limits, colours, layout helpers), :mod:`.reduce` (numeric reductions),
:mod:`.text` (result sentences and the words inside figures), :mod:`.photo` (drawn over the photo), :mod:`.maps`
(heatmaps), :mod:`.charts` (lines and bars), :mod:`.family` (the pyramid-pooling family),
:mod:`.views` (a bin's ERF, a pooled region, the scales), :mod:`.tables` (table rows),
:mod:`.exports` (download bytes).

Importing the package imports none of its modules: each name below is imported on first use
(PEP 562), so the page's first run reads the torch-free ones (:mod:`.style`, :mod:`.text`,
:mod:`.tables`, :mod:`.photo`) without importing :mod:`.reduce`, :mod:`.exports` and the builders
that need torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .charts import predictions_figure, size_sweep_figure, spp_vector_figure
    from .exports import table_csv, vector_csv, vector_npy_bytes
    from .maps import rule_comparison_figure, sppf_branches_figure
    from .photo import Photo, bin_labels_figure, photo_source
    from .reduce import at_ceiling, block_reduce, reduce_channels, vector_envelope, winner_cells
    from .style import (
        DISPLAY_MAX_SIDE,
        MAX_DRAWN_LEVEL,
        MAX_FIGURE_NUMBERS,
        MAX_HEATMAP_CELLS,
        MAX_VECTOR_POINTS,
        assign_level_colours,
    )
    from .tables import costs_rows
    from .text import channel_label, overlap_summary

_HOMES = {
    "charts": ("predictions_figure", "size_sweep_figure", "spp_vector_figure"),
    "exports": ("table_csv", "vector_csv", "vector_npy_bytes"),
    "maps": ("rule_comparison_figure", "sppf_branches_figure"),
    "photo": ("Photo", "bin_labels_figure", "photo_source"),
    "reduce": ("at_ceiling", "block_reduce", "reduce_channels", "vector_envelope", "winner_cells"),
    "style": ("DISPLAY_MAX_SIDE", "MAX_DRAWN_LEVEL", "MAX_FIGURE_NUMBERS", "MAX_HEATMAP_CELLS", "MAX_VECTOR_POINTS",
              "assign_level_colours"),
    "tables": ("costs_rows",),
    "text": ("channel_label", "overlap_summary"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "DISPLAY_MAX_SIDE", "MAX_DRAWN_LEVEL", "MAX_FIGURE_NUMBERS", "MAX_HEATMAP_CELLS", "MAX_VECTOR_POINTS",
    "Photo", "at_ceiling", "bin_labels_figure", "block_reduce", "channel_label", "costs_rows",
    "assign_level_colours", "overlap_summary", "photo_source",
    "predictions_figure", "reduce_channels", "rule_comparison_figure", "size_sweep_figure",
    "spp_vector_figure", "sppf_branches_figure", "table_csv", "vector_csv", "vector_envelope", "vector_npy_bytes",
    "winner_cells",
]


def __getattr__(name: str) -> Any:
    """A name of ``__all__``, imported from its module on first use."""
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
