"""The views computed on demand: the effective receptive field of a bin, region pooling and the
scales. Cached per (image, backbone, stage, weights, levels, pool, rule, bin / box / sizes); what
they time (the region's pooling and crop-and-rerun, the scales' forwards) is a second-phase job,
taken alone in the timing worker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import streamlit as st
from PIL import Image

from ..analysis import FeatureResult, PyramidConfig
from ..backbones import Backbone
from ..boxes import PixelBox
from ..i18n import _
from ..regions import RegionResult, pool_region
from ..scales import ScaleRow
from .caches import BackboneKey, ImageKey, decode_image, get_working_limit, image_bytes
from .jobs import measured
from .measure import Failed, Job
from .model import PageModel
from .waiting import admission_scope, alone, cached_heavy

if TYPE_CHECKING:  # imported where used: the ERF and the scales load only when asked for
    from ..erf import ErfResult
    from ..scales import ResolutionComparison

REGION_CACHE_ENTRIES = 16  # one entry per (image, box)


@cached_heavy("erf", max_entries=32)
def _bin_erf(image_key: ImageKey, backbone_key: BackboneKey, config: PyramidConfig, level: int, row: int, col: int,
             _backbone: Backbone, _image: Image.Image) -> ErfResult:
    from ..erf import bin_erf as compute

    return compute(_backbone, _image, level, row, col, config)


@admission_scope("erf")
def bin_erf(page: PageModel, level: int, row: int, col: int) -> ErfResult:
    """:class:`spp_viz.erf.ErfResult` of one bin of the current page (one backward pass, cached)."""
    return _bin_erf(page.image_key, page.backbone_key, page.config, level, row, col, page.backbone, page.decoded.image)


@st.cache_resource(max_entries=REGION_CACHE_ENTRIES, show_spinner=False)
def _region(image_key: ImageKey, backbone_key: BackboneKey, config: PyramidConfig,
            box: PixelBox, _backbone: Backbone, _image: Image.Image, _features: FeatureResult) -> RegionResult:
    return pool_region(_backbone, _image, _features, box, config, measure=False)


@alone("region")
def measure_region(page: PageModel, box: PixelBox, *, stop: Callable[[], bool]) -> RegionResult:
    """The region with its pooling timed and its crop-and-rerun run (a second-phase job)."""
    return pool_region(page.backbone, page.decoded.image, page.features, box, page.config, stop=stop)


def region(page: PageModel, box: PixelBox) -> RegionResult:
    """The box pooled from the shared map (ValueError, one sentence, for a bad box), with its times
    and crop-and-rerun once the second phase has measured them (NaN and empty until then)."""
    base = _region(page.image_key, page.backbone_key, page.config, box, page.backbone, page.decoded.image, page.features)
    done = measured(Job.single(("region", page.image_key, page.backbone_key, page.config, box), _("the region's crop-and-rerun"),
                        lambda: measure_region(page, box)))
    return done if isinstance(done, RegionResult) else base


def scales_source(page: PageModel, sizes: tuple[int, ...]) -> Image.Image:
    """The image decoded once at the largest size (from the bytes in memory, the cached decoder)."""
    from ..scales import decode_side

    image = page.controls.image
    assert image is not None  # a page exists only for an image
    limit = get_working_limit(page.backbone_key, page.backbone)
    decoded, _decode_ms = decode_image(image.cache_key, decode_side(sizes, page.controls.max_side), limit.pixels, image_bytes(image),
                              image.filename, limit)
    return decoded.image


@alone("scales")
def run_scales(page: PageModel, sizes: tuple[int, ...], *, stop: Callable[[], bool]) -> list[ScaleRow]:
    """One forward pass per size (a second-phase job: its forward times are taken alone, in the worker)."""
    from ..scales import measure_scales

    return measure_scales(page.backbone, scales_source(page, sizes), sizes, page.config, stop=stop)


def scales(page: PageModel, sizes: tuple[int, ...]) -> list[ScaleRow] | Failed | None:
    """:class:`spp_viz.scales.ScaleRow` per size once measured; None: asked for, it runs after this
    page is drawn."""
    rows = measured(Job.single(("scales", page.image_key, page.backbone_key, page.config, sizes), _("the scales"),
                        lambda: run_scales(page, sizes)))
    return rows if isinstance(rows, (list, Failed)) else None


@cached_heavy("forward", max_entries=8)
def _training_resolution(image_key: ImageKey, backbone_key: BackboneKey, _backbone: Backbone, _source: Image.Image,
                         _features: FeatureResult) -> ResolutionComparison:
    from ..scales import training_resolution as compute

    return compute(_backbone, _source, _features)


def training_resolution(page: PageModel) -> ResolutionComparison:
    """:class:`spp_viz.scales.ResolutionComparison`: top-5 at 224 px next to the working size's."""
    from ..scales import TRAINING_RESOLUTION

    # a working image at least that large is resized from directly: no second decode of the file
    large_enough = max(page.decoded.working_size) >= TRAINING_RESOLUTION
    source = page.decoded.image if large_enough else scales_source(page, (TRAINING_RESOLUTION,))
    return _training_resolution(page.image_key, page.backbone_key, page.backbone, source, page.features)
