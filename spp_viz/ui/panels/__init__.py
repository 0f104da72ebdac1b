"""The page's panels, in page order (their titles: :data:`spp_viz.ui.words.PANEL_TITLES`).

A panel is one function of the :class:`~spp_viz.ui.model.PageModel`; the page draws its
title as a header, then calls it. Consecutive panels with ``selection_fragment=True`` run
together inside one ``st.fragment``: a bin selected in the pyramid explorer reruns only them. A panel with
``beside_previous=True`` is drawn in a column next to the panel before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..model import PageModel
from ..words import PANEL_TITLES
from . import dimensions, predictions, pyramid, rules, sppf
from . import erf as erf_panels
from . import family as family_panels
from . import region as region_panels
from . import scales as scales_panels


@dataclass(frozen=True)
class Panel:
    key: str  # stable id: the panel's container key is ``panel_{key}``
    title: str
    render: Callable[[PageModel], None]
    selection_fragment: bool = False
    beside_previous: bool = False


PANELS: list[Panel] = [
    Panel("explorer", PANEL_TITLES["explorer"], pyramid.pyramid_explorer, selection_fragment=True),
    Panel("erf", PANEL_TITLES["erf"], erf_panels.erf_panel, selection_fragment=True),
    Panel("dimensions", PANEL_TITLES["dimensions"], dimensions.output_dimensions),
    Panel("sppf", PANEL_TITLES["sppf"], sppf.spp_vs_sppf),
    Panel("family", PANEL_TITLES["family"], family_panels.family_panel),
    Panel("predictions", PANEL_TITLES["predictions"], predictions.backbone_sees),
    Panel("scales", PANEL_TITLES["scales"], scales_panels.scales_panel),
    Panel("region", PANEL_TITLES["region"], region_panels.region_panel),
    Panel("rules", PANEL_TITLES["rules"], rules.paper_vs_adaptive),
]
