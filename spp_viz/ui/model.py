"""The page model: :func:`build_page` turns the controls into one frozen :class:`PageModel`, the
first phase of the page, timing nothing.

Every step comes from :mod:`spp_viz.ui.caches`. The latencies are looked up in
:mod:`spp_viz.ui.measure`'s store (:mod:`spp_viz.ui.jobs`); the ones missing are asked for as a
job that runs after the browser has drawn this page (the second phase), and ``measuring`` names
them. The SPP vs SPPF view is built at once (its equality and branches need no timing; its costs
table waits for its timings); the family once every head it asks for is measured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .. import analysis, dimensions
from .. import family as pyramid_family  # called through the module, so benchmarks can time it
from ..analysis import FeatureResult, Prediction, PyramidConfig, PyramidResult
from ..backbones import Backbone
from ..bins import BinGeometry
from ..choices import Pool
from ..defaults import IMAGE_UPLOAD_MB
from ..family import SPPF_VIEW, FamilyComparison, FamilyPlan, FamilyRequest, HeadTiming, TimingKey
from ..figures import MAX_DRAWN_LEVEL, Photo
from ..i18n import _
from ..images import DecodedImage
from . import caches, jobs, measure, state, words
from .caches import BackboneKey, ImageKey
from .measure import Failed
from .sidebar import Controls, ImageInput


@dataclass(frozen=True)
class FamilyOutcome:
    """The family panel's comparison, or the one sentence that explains why there is none (k, n
    too wide for the map; a failed measurement); ``pending``: its heads are not measured yet."""

    request: FamilyRequest
    comparison: FamilyComparison | None
    error: str | None = None
    pending: bool = False


@dataclass(frozen=True)
class PageModel:
    """Everything the panels draw, computed before the first panel is drawn."""

    controls: Controls
    filename: str
    decoded: DecodedImage
    backbone: Backbone
    backbone_key: BackboneKey
    features: FeatureResult
    config: PyramidConfig
    pyramid: PyramidResult
    sppf: FamilyComparison  # the SPP vs SPPF view of the family, with the timings measured so far
    sppf_error: str | None  # why the view's latencies could not be measured (None: they were, or will be)
    predictions: list[Prediction]
    timings_ms: dict[str, float]
    untrained: bool
    photo: Photo
    bin_labels: dict[int, list[list[Prediction]]] = field(default_factory=dict)  # avg pooling: top-1 per bin
    # every drawable level's bins in image pixels (box, receptive-field box): analysis.level_geometry
    bin_geometry: dict[int, list[BinGeometry]] = field(default_factory=dict)
    family: FamilyOutcome | None = None  # the pyramid-pooling family; its latencies as measured so far
    colours: dict[int, str] = field(default_factory=dict)  # each level's colour: the session's (state.level_colours)
    measuring: tuple[str, ...] = ()  # what the second phase will measure for this page (empty: everything shown)

    @property
    def image_key(self) -> ImageKey:
        """Names this image at this working size in cache keys."""
        return self.decoded.digest, self.decoded.working_size

    @property
    def drawable_levels(self) -> list[int]:
        return [n for n in self.config.levels if n <= MAX_DRAWN_LEVEL]

    @property
    def sppf_widths(self) -> dimensions.SPPFWidths | None:
        """The checkpoint's trained SPPF's own widths when the SPP vs SPPF view runs it, else None."""
        return dimensions.trained_widths(self.features, pyramid_family.view_lead(self.sppf)[0])

    @property
    def dimension_rows(self) -> list[dict[str, Any]]:
        """The dimension table: the engine's rows, SPPF's with the view's lead head's parameters and FLOPs."""
        return dimensions.dimension_table(self.features, self.pyramid, pyramid_family.view_lead(self.sppf)[0])


def build_page(controls: Controls) -> PageModel:
    """Decode, load, run the backbone, pool and compare: the first phase, timing nothing.

    Raises the engine's one-sentence errors (``ImageDecodeError``, ``BackboneError``,
    ``WeightsUnavailableError``, ``ValueError``); the page shows them.
    """
    if controls.image is None:
        raise ValueError(_("No image: upload one in the sidebar."))
    if len(controls.image.data) > IMAGE_UPLOAD_MB * 2**20:  # the browser checks it; a hand-made request may not
        raise ValueError(words.image_too_large(controls.image.filename, len(controls.image.data), IMAGE_UPLOAD_MB))
    backbone, key, load_ms = _model(controls)
    decoded, decode_ms = _decode(controls.image, controls.max_side, backbone, key)
    features = caches.get_features(decoded.digest, key, decoded.working_size, backbone, decoded.image)
    start = time.perf_counter()
    pyramid = analysis.pool_pyramid(features, controls.config)
    head_ms = (time.perf_counter() - start) * 1000
    image_key = (decoded.digest, decoded.working_size)
    sppf, sppf_error, family = _heads(image_key, key, features, controls)
    labels = (caches.get_bin_labels(decoded.digest, key, decoded.working_size, controls.config, backbone, pyramid)
              if controls.config.pool is Pool.AVG and backbone.can_classify else {})
    return PageModel(
        controls=controls, filename=controls.image.filename, decoded=decoded, backbone=backbone, backbone_key=key,
        features=features, config=controls.config, pyramid=pyramid, sppf=sppf, sppf_error=sppf_error,
        predictions=analysis.predict(backbone, features),
        timings_ms={"decode": decode_ms, "load_backbone": load_ms, "backbone_forward": features.forward_ms, "spp_head": head_ms},
        untrained=not backbone.pretrained, photo=caches.get_photo(decoded.digest, decoded.working_size, decoded.image),
        bin_labels=labels,
        bin_geometry={lv.n: analysis.level_geometry(features, lv) for lv in pyramid.levels if lv.n <= MAX_DRAWN_LEVEL},
        family=family, measuring=tuple(job.label for job in measure.pending()),
        colours=state.level_colours(controls.config.levels),
    )


def _model(controls: Controls) -> tuple[Backbone, BackboneKey, float]:
    """The loaded model, its cache key and how long it took to load (0 when cached)."""
    ckpt = controls.checkpoint
    ckpt_digest = ckpt.digest if ckpt is not None else ""
    backbone, load_ms = caches.get_backbone(controls.backbone, controls.stage, controls.weights, ckpt_digest,
                                            ckpt.filename if ckpt else "checkpoint", controls.device, ckpt.data if ckpt else None)
    return backbone, (controls.backbone, controls.stage, backbone.weights, ckpt_digest, str(backbone.device)), load_ms


def _decode(image: ImageInput, max_side: int, backbone: Backbone, key: BackboneKey) -> tuple[DecodedImage, float]:
    """The image decoded within the model's device's working limit."""
    limit = caches.get_working_limit(key, backbone)
    return caches.decode_image(image.cache_key, max_side, limit.pixels, caches.image_bytes(image), image.filename, limit)


def _heads(image_key: ImageKey, backbone_key: BackboneKey, features: FeatureResult,
           controls: Controls) -> tuple[FamilyComparison, str | None, FamilyOutcome]:
    """The SPP vs SPPF view (with the timings found so far), why its timings failed if they did,
    and the family panel's outcome; one job asks for every timing missing from both."""
    view = pyramid_family.plan(features, SPPF_VIEW, controls.config, check_fits=False)
    family_plan, refused = _family_plan(features, controls)
    found = jobs.head_timings(image_key, backbone_key, features, view.keys + (family_plan.keys if family_plan else ()))
    sppf = caches.compare(image_key, backbone_key, features, view, jobs.timings_of(found))
    outcome = (FamilyOutcome(controls.family, None, refused) if family_plan is None
               else _family(image_key, backbone_key, features, family_plan, found))
    return sppf, jobs.failure(view.keys, found), outcome


def _family_plan(features: FeatureResult, controls: Controls) -> tuple[FamilyPlan | None, str | None]:
    """The family panel's plan on this map, or why there is none: no head chosen (None, None) or
    one sentence for the panel (a bad k or n, or k and n too wide for this map), never a page error."""
    if controls.family_error or not controls.family.heads:
        return None, controls.family_error
    try:
        return pyramid_family.plan(features, controls.family, controls.config), None
    except ValueError as exc:  # SPPF windows beyond this map
        return None, str(exc)


def _family(image_key: ImageKey, backbone_key: BackboneKey, features: FeatureResult, family_plan: FamilyPlan,
            found: dict[TimingKey, HeadTiming | Failed]) -> FamilyOutcome:
    """The family once every head is measured (built then), pending until then, or the sentence of
    a measurement that failed."""
    request = family_plan.request
    failed = jobs.failure(family_plan.keys, found)
    if failed is not None:
        return FamilyOutcome(request, None, failed)
    if not jobs.all_measured(family_plan.keys, found):
        return FamilyOutcome(request, None, pending=True)
    return FamilyOutcome(request, caches.compare(image_key, backbone_key, features, family_plan, jobs.timings_of(found)))
