"""Every ``st.cache_*`` wrapper, and :func:`build_page`: the controls -> one frozen :class:`PageModel`.

Cache keys are short strings and settings; big objects go in as underscore arguments, which
Streamlit does not hash. The backbone runs once per (image digest, backbone, stage, weights,
device, working size); changing the pyramid, pooling or bin rule only re-pools the cached map.

Nothing here times anything while a page is drawn. :func:`build_page` fills every latency it
finds in :mod:`spp_viz.ui.measure`'s store and asks for the rest as jobs, which run after the
browser has drawn this page (the second phase): SPPF and YOLOv5's SPP once per feature map, the
current SPP head once per (map, pyramid), the family's other heads once per (map, heads, k, n).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from .. import allocator, analysis, backbones, images
from .. import family as pyramid_family  # called through the module, so benchmarks can time it
from ..analysis import FeatureResult, HeadConfig, HeadResult, Prediction, SPPFComparison
from ..backbones import Backbone
from ..bins import BinGeometry
from ..defaults import DEFAULT_FAMILY_HEADS, HEAD_IDS, SPPF_DEFAULT_K, SPPF_DEFAULT_N
from ..family import BranchMap, FamilyComparison, branch_maps, merge_comparisons, uses_spp_config
from ..figures import MAX_DRAWN_LEVEL, Channel, Photo, photo_source, sppf_branches_figure, text
from ..figures import spp_vector_figure as build_vector_figure
from ..images import DEFAULT_MAX_PIXELS, DecodedImage
from ..options import check_sppf_fits, parse_sppf_k, parse_sppf_n
from ..regions import RegionBox, RegionResult, pool_region
from ..scales import ScaleRow
from ..timing import Latency
from . import measure, state
from .measure import Failed, Job
from .sidebar import ASSETS, SAMPLES, Controls, ImageInput, Source
from .waiting import admission_scope, heavy

# Memory of a long-running server (benchmarks/soak.py): glibc arenas and mmap
# threshold fixed once per process; per-image caches hold this many entries (eight sessions,
# one image each); each new image first frees what earlier ones left (allocator.release).
allocator.tune()
PER_IMAGE_CACHE_ENTRIES = 8
FAMILY_MAPS_CACHE_ENTRIES = 32  # one entry per (image, head): about 10 images of the default family
REGION_CACHE_ENTRIES = 16  # one entry per (image, box)

BackboneKey = tuple[str, str, str, str, str]  # (name, stage, weights, checkpoint digest, device)
ImageKey = tuple[str, tuple[int, int]]  # (digest, working size)


@dataclass(frozen=True)
class PageModel:
    """Everything the panels draw, computed before the first panel is drawn."""

    controls: Controls
    filename: str
    decoded: DecodedImage
    backbone: Backbone
    backbone_key: BackboneKey
    features: FeatureResult
    config: HeadConfig
    head: HeadResult
    sppf: SPPFComparison
    predictions: list[Prediction]
    timings_ms: dict[str, float]
    untrained: bool
    photo: Photo
    bin_labels: dict[int, list[list[Prediction]]] = field(default_factory=dict)  # avg pooling: top-1 per bin
    # every drawable level's bins in image pixels (box, receptive-field box): analysis.level_geometry
    bin_geometry: dict[int, list[BinGeometry]] = field(default_factory=dict)
    family: FamilyOutcome | None = None  # the pyramid-pooling family; its latencies as measured so far
    measuring: tuple[str, ...] = ()  # what the second phase will measure for this page (empty: everything shown)

    @property
    def image_key(self) -> tuple[str, tuple[int, int]]:
        """Names this image at this working size in cache keys."""
        return self.decoded.digest, self.decoded.working_size

    @property
    def drawable_levels(self) -> list[int]:
        return [n for n in self.config.levels if n <= MAX_DRAWN_LEVEL]


# ----------------------------------------------------------------------------
# Cached steps


@st.cache_data(max_entries=8, show_spinner=False)
def read_sample(name: str) -> bytes:
    """A bundled sample photo's bytes (only names from the assets folder are ever passed)."""
    return (Path(ASSETS) / name).read_bytes()


@st.cache_data(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def decode_image(cache_key: str, max_side: int, working_pixels: int, _raw: bytes, _filename: str,
                 _limit: images.WorkingLimit = images.CPU_WORKING_LIMIT) -> tuple[DecodedImage, float]:
    """Decode once per (source key, max side, the device's working limit): ``load_image`` hashes
    the bytes, once; errors are raised, never cached. ``cache_key`` is a sample's name or an
    upload's file id; ``working_pixels`` is ``_limit.pixels`` (the part of the limit that matters)."""
    allocator.release()  # a new image: free what the previous analyses left, before this one's
    start = time.perf_counter()
    decoded = images.load_image(_raw, max_side=max_side, max_pixels=DEFAULT_MAX_PIXELS, filename=_filename, limit=_limit)
    return decoded, (time.perf_counter() - start) * 1000


@st.cache_resource(max_entries=4, show_spinner=False)
def get_backbone(name: str, stage: str, weights: str, checkpoint_digest: str, checkpoint_name: str, device: str,
                 _checkpoint: bytes | None) -> tuple[Backbone, float]:
    """One loaded model per (name, stage, weights, checkpoint sha256, device), shared read-only. Engine
    calls go through their modules (``backbones.load_backbone``) so tests and benchmarks can wrap them."""
    start = time.perf_counter()
    model = backbones.load_backbone(name, stage, weights, checkpoint=_checkpoint, checkpoint_name=checkpoint_name,
                                    download=True, device=device)
    return model, (time.perf_counter() - start) * 1000


@st.cache_resource(max_entries=8, show_spinner=False)
def get_working_limit(backbone_key: BackboneKey, _backbone: Backbone) -> images.WorkingLimit:
    """The working image's pixel budget on the model's device (one probe forward on CUDA)."""
    from ..devices import working_limit

    return working_limit(_backbone)


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
@heavy("forward")
def get_features(image_digest: str, backbone_key: BackboneKey, working_size: tuple[int, int],
                 _backbone: Backbone, _image: Any) -> FeatureResult:
    """The one expensive step. Called through ``analysis.extract_features`` so tests can count runs."""
    return analysis.extract_features(_backbone, _image)


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def get_sppf(image_digest: str, backbone_key: BackboneKey, working_size: tuple[int, int],
             _features: FeatureResult) -> SPPFComparison:
    """SPPF's cascade against parallel SPP on the map (equality, shapes; no timing), once per map."""
    return analysis.sppf_comparison(_features, measure=False)


@heavy("measure")
def measure_sppf(features: FeatureResult) -> tuple[analysis.HeadCost, ...]:
    """SPPF's and YOLOv5 SPP's cost rows, timed (a second-phase job, once per map)."""
    return analysis.measure_yolo_costs(features)


@heavy("measure")
def measure_spp(features: FeatureResult, config: HeadConfig) -> Latency:
    """The current SPP head timed alone (a second-phase job, once per (map, pyramid)): the costs
    table's SPP row and the family's ``spp`` row are this one measurement."""
    return analysis.measure_spp_head(features, config)


def measured(job: Job) -> object | None:
    """The job's stored result (a :class:`Failed` when it raised), or None after asking for it."""
    result = measure.lookup(job.key)
    if result is None:
        measure.request(job)
    return result


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def get_photo(image_digest: str, working_size: tuple[int, int], _image: Any) -> Photo:
    """The photo as the page shows it (a base64 JPEG and its size), encoded once per image."""
    return photo_source(_image)


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def get_bin_labels(image_digest: str, backbone_key: BackboneKey, working_size: tuple[int, int], config: HeadConfig,
                   _backbone: Backbone, _head: HeadResult) -> dict[int, list[list[Prediction]]]:
    """Top-1 class of every avg-pooled bin of every drawable level (the classifier reads each bin)."""
    return {lv.n: analysis.bin_predictions(_backbone, lv) for lv in _head.levels if lv.n <= MAX_DRAWN_LEVEL}


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def _sppf_figure(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, channel: Channel, untrained: bool,
                 _sppf: SPPFComparison) -> go.Figure:
    """The SPPF branches figure once per (feature map, channel): it never depends on the pyramid.
    Shared read-only: ``st.plotly_chart`` only serialises a deep copy (``Figure.to_dict()``)."""
    return sppf_branches_figure(_sppf, channel, note=text.untrained_note(untrained))


def sppf_figure(page: PageModel, channel: Channel) -> go.Figure:
    return _sppf_figure(page.image_key, page.backbone_key, channel, page.untrained, page.sppf)


@st.cache_resource(max_entries=8, show_spinner=False)
def _vector_figure(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, config: HeadConfig, untrained: bool,
                   _head: HeadResult) -> go.Figure:
    """The SPP vector figure once per (feature map, head config): up to 200,000 points, built once."""
    return build_vector_figure(_head, note=text.untrained_note(untrained))


def spp_vector_figure(page: PageModel) -> go.Figure:
    return _vector_figure(page.image_key, page.backbone_key, page.config, page.untrained, page.head)


# ----------------------------------------------------------------------------
# The page model


def image_bytes(image: ImageInput) -> bytes:
    """A sample's bytes come from the cached assets; an upload or camera shot carries its own
    (even when empty: an upload's name must never choose a file to read)."""
    if image.source is Source.SAMPLE and image.filename in SAMPLES:
        return read_sample(image.filename)
    return image.data


def build_page(controls: Controls) -> PageModel:
    """Decode, load, run the backbone, pool and compare: the first phase, timing nothing.

    Latencies already measured (:mod:`spp_viz.ui.measure`) are filled in; the rest are asked for
    and ``measuring`` names them. Raises the engine's one-sentence errors (``ImageDecodeError``,
    ``BackboneError``, ``WeightsUnavailableError``, ``ValueError``); the page shows them.
    """
    if controls.image is None:
        raise ValueError("No image: upload one in the sidebar.")
    image = controls.image
    ckpt = controls.checkpoint
    ckpt_digest = hashlib.sha256(ckpt.data).hexdigest() if ckpt is not None else ""
    backbone, load_ms = get_backbone(controls.backbone, controls.stage, controls.weights, ckpt_digest,
                                     ckpt.filename if ckpt else "checkpoint", controls.device, ckpt.data if ckpt else None)
    key: BackboneKey = (controls.backbone, controls.stage, backbone.weights, ckpt_digest, str(backbone.device))
    limit = get_working_limit(key, backbone)
    decoded, decode_ms = decode_image(image.cache_key, controls.max_side, limit.pixels, image_bytes(image), image.filename, limit)
    features = get_features(decoded.digest, key, decoded.working_size, backbone, decoded.image)
    start = time.perf_counter()
    head = analysis.analyse_head(features, controls.config)
    head_ms = (time.perf_counter() - start) * 1000
    image_key = (decoded.digest, decoded.working_size)
    sppf = sppf_with_costs(image_key, key, controls.config, head.length, features)
    timings = {"decode": decode_ms, "load_backbone": load_ms, "backbone_forward": features.forward_ms, "spp_head": head_ms,
               **sppf.latencies_ms()}
    labels = (get_bin_labels(decoded.digest, key, decoded.working_size, controls.config, backbone, head)
              if controls.config.pool == "avg" and backbone.can_classify else {})
    family = family_outcome(image_key, key, controls.config, features, sppf)
    return PageModel(
        controls=controls, filename=image.filename, decoded=decoded, backbone=backbone, backbone_key=key,
        features=features, config=controls.config, head=head, sppf=sppf,
        predictions=analysis.predict(backbone, features), timings_ms=timings, untrained=not backbone.pretrained,
        photo=get_photo(decoded.digest, decoded.working_size, decoded.image), bin_labels=labels,
        bin_geometry={lv.n: analysis.level_geometry(features, lv) for lv in head.levels if lv.n <= MAX_DRAWN_LEVEL}, family=family,
        measuring=tuple(job.label for job in measure.pending()),
    )


def sppf_with_costs(image_key: ImageKey, key: BackboneKey, config: HeadConfig, length: int,
                    features: FeatureResult) -> SPPFComparison:
    """The SPPF comparison (equality and branches, cached per map) with its cost rows once the
    second phase has measured them: the YOLO modules' rows (parameters, FLOPs, latencies: the
    modules are built there too) and the SPP head's. Until then ``costs`` is empty."""
    structure = get_sppf(image_key[0], key, image_key[1], features)
    yolo = measured(Job(("sppf", image_key, key), "SPPF and YOLOv5's SPP", lambda: measure_sppf(features)))
    latency = measured(Job(("spp", image_key, key, config), "the SPP head", lambda: measure_spp(features, config)))
    if not isinstance(yolo, tuple) or not isinstance(latency, Latency):
        return structure
    return analysis.with_costs(structure, yolo, analysis.spp_head_cost(config, length, latency))


# ----------------------------------------------------------------------------
# The pyramid-pooling family: its shapes, parameters, FLOPs and equalities per (map, heads, k, n),
# its latencies from the store. The panel's widgets (keys heads, sppf_k, sppf_n) are drawn later
# in the run; their values from the last interaction are already in session state.


@dataclass(frozen=True)
class FamilyRequest:
    """The heads to compare and SPPF's k and n, as the family panel's widgets hold them."""

    heads: tuple[str, ...]
    k: int
    n: int


@dataclass(frozen=True)
class FamilyOutcome:
    """The comparison, or the one sentence that explains why there is none (k, n too wide for the map)."""

    request: FamilyRequest
    comparison: FamilyComparison | None
    error: str | None = None
    pending: bool = False  # the second phase has not measured the heads yet


def family_request() -> FamilyRequest:
    """Session state -> a checked request (defaults on the first run; unknown ids are dropped)."""
    st.session_state.setdefault(state.KEY_HEADS, list(DEFAULT_FAMILY_HEADS))
    st.session_state.setdefault(state.KEY_SPPF_K, SPPF_DEFAULT_K)
    st.session_state.setdefault(state.KEY_SPPF_N, SPPF_DEFAULT_N)
    heads = tuple(h for h in st.session_state[state.KEY_HEADS] if h in HEAD_IDS)
    return FamilyRequest(heads, parse_sppf_k(int(st.session_state[state.KEY_SPPF_K])),
                         parse_sppf_n(int(st.session_state[state.KEY_SPPF_N])))


@st.cache_resource(max_entries=16, show_spinner=False)
def _family_structure(image_key: ImageKey, backbone_key: BackboneKey, heads: tuple[str, ...], k: int, n: int,
                      config: HeadConfig | None, _features: FeatureResult) -> FamilyComparison:
    """The heads without latencies: shapes, parameters, FLOPs, branches and equalities (``config``
    None for the heads that ignore the pyramid: cached per map, kept across pyramid changes)."""
    return pyramid_family.compare_family(_features, heads, config, k, n, measure=False)


@heavy("measure")
def measure_family(image_key: ImageKey, backbone_key: BackboneKey, heads: tuple[str, ...], to_time: tuple[str, ...],
                   k: int, n: int, features: FeatureResult) -> FamilyComparison:
    """The heads that ignore the pyramid (a second-phase job, once per map, heads, k and n): their
    modules, shapes, parameters, FLOPs and equalities, and the latencies of ``to_time`` (the others
    are the SPPF comparison's own measurements)."""
    structure = _family_structure(image_key, backbone_key, heads, k, n, None, features)
    return pyramid_family.with_latencies(structure, pyramid_family.measure_family(features, to_time, None, k, n))


def _family(image_key: ImageKey, backbone_key: BackboneKey, config: HeadConfig,
            request: FamilyRequest, features: FeatureResult, sppf: SPPFComparison) -> FamilyOutcome:
    """``sppf`` and ``spp_yolo`` at the comparison's k and n, and ``spp`` (the current pyramid), are
    the SPPF comparison's rows (one measurement, two tables); the other heads one job per map."""
    if not request.heads:
        return FamilyOutcome(request, None)
    per_map = tuple(h for h in request.heads if not uses_spp_config(h))
    per_pyramid = tuple(h for h in request.heads if uses_spp_config(h))
    shared = {"sppf", "spp_yolo"} if (request.k, request.n) == (sppf.k, len(sppf.kernels)) else set()
    to_time = tuple(h for h in per_map if h not in shared)
    try:
        check_sppf_fits(request.k, request.n, *features.shape[1:])
        parts = [_family_structure(image_key, backbone_key, per_pyramid, request.k, request.n, config, features)] if per_pyramid else []
        if per_map:
            own = measured(Job(("family", image_key, backbone_key, per_map, request.k, request.n), "the family's heads",
                               lambda: measure_family(image_key, backbone_key, per_map, to_time, request.k, request.n, features)))
            if isinstance(own, Failed):
                return FamilyOutcome(request, None, own.message)
            if not isinstance(own, FamilyComparison):
                return FamilyOutcome(request, None, pending=True)
            parts.append(own)
        latencies = pyramid_family.latencies_from_sppf(sppf, request.k, request.n)
        return FamilyOutcome(request, pyramid_family.with_latencies(merge_comparisons(request.heads, parts), latencies))
    except ValueError as exc:  # SPPF windows beyond this map: one sentence in the panel
        return FamilyOutcome(request, None, str(exc))


def family_outcome(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, config: HeadConfig,
                   features: FeatureResult, sppf: SPPFComparison) -> FamilyOutcome:
    """The family for the panel's current widget values; a bad value is one sentence in the panel,
    never an error for the whole page."""
    try:
        request = family_request()
    except ValueError as exc:
        return FamilyOutcome(FamilyRequest((), SPPF_DEFAULT_K, SPPF_DEFAULT_N), None, str(exc))
    return _family(image_key, backbone_key, config, request, features, sppf)


@st.cache_resource(max_entries=FAMILY_MAPS_CACHE_ENTRIES, show_spinner=False)
def _family_maps(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, config: HeadConfig | None, head_id: str,
                 k: int, n: int, _features: FeatureResult) -> tuple[BranchMap, ...]:
    return branch_maps(_features, head_id, config, k, n)


def family_maps(page: PageModel, head_id: str, request: FamilyRequest) -> tuple[BranchMap, ...]:
    """One head's pooling branches on the real map (parameter-free; cached, not timed). Only
    ``spp`` follows the pyramid: the others are cached per map, so a levels change keeps them."""
    config = page.config if uses_spp_config(head_id) else None
    return _family_maps(page.image_key, page.backbone_key, config, head_id, request.k, request.n, page.features)


# --- views: ERF of a bin, region pooling, scales. Computed on demand (a button or
# a bin click), cached per (image, backbone, stage, weights, levels, pool, rule, bin / box / sizes).

@st.cache_resource(max_entries=32, show_spinner=False)
@heavy("erf")
def _bin_erf(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, config: HeadConfig, level: int, row: int, col: int,
             _backbone: Backbone, _image: Any) -> Any:
    from ..erf import bin_erf as compute

    return compute(_backbone, _image, level, row, col, config)


@admission_scope("erf")
def bin_erf(page: PageModel, level: int, row: int, col: int) -> Any:
    """:class:`spp_viz.erf.ErfResult` of one bin of the current page (one backward pass, cached)."""
    return _bin_erf(page.image_key, page.backbone_key, page.config, level, row, col, page.backbone, page.decoded.image)


@st.cache_resource(max_entries=REGION_CACHE_ENTRIES, show_spinner=False)
def _region(image_key: ImageKey, backbone_key: BackboneKey, config: HeadConfig,
            box: tuple[float, float, float, float], _backbone: Backbone, _image: Any, _features: FeatureResult) -> RegionResult:
    return pool_region(_backbone, _image, _features, RegionBox(*box), config, measure=False)


@heavy("region")
def measure_region(page: PageModel, box: tuple[float, float, float, float]) -> RegionResult:
    """The region with its pooling timed and its crop-and-rerun run (a second-phase job)."""
    return pool_region(page.backbone, page.decoded.image, page.features, RegionBox(*box), page.config)


def region(page: PageModel, box: tuple[float, float, float, float]) -> RegionResult:
    """The box pooled from the shared map (ValueError, one sentence, for a bad box), with its times
    and crop-and-rerun once the second phase has measured them (NaN and empty until then)."""
    base = _region(page.image_key, page.backbone_key, page.config, box, page.backbone, page.decoded.image, page.features)
    done = measured(Job(("region", page.image_key, page.backbone_key, page.config, box), "the region's crop-and-rerun",
                        lambda: measure_region(page, box)))
    return done if isinstance(done, RegionResult) else base


def scales_source(page: PageModel, sizes: tuple[int, ...]) -> Any:
    """The image decoded once at the largest size (from the bytes in memory, the cached decoder)."""
    from ..scales import decode_side

    image = page.controls.image
    assert image is not None  # a page exists only for an image
    limit = get_working_limit(page.backbone_key, page.backbone)
    decoded, _ = decode_image(image.cache_key, decode_side(sizes, page.controls.max_side), limit.pixels, image_bytes(image),
                              image.filename, limit)
    return decoded.image


@heavy("scales")
def run_scales(page: PageModel, sizes: tuple[int, ...]) -> list[ScaleRow]:
    """One forward pass per size (a second-phase job: its forward times are taken on a quiet page)."""
    from ..scales import scale_sweep

    return scale_sweep(page.backbone, scales_source(page, sizes), sizes, page.config)


def scales(page: PageModel, sizes: tuple[int, ...]) -> list[ScaleRow] | Failed | None:
    """:class:`spp_viz.scales.ScaleRow` per size once measured; None: asked for, it runs after this
    page is drawn."""
    rows = measured(Job(("scales", page.image_key, page.backbone_key, page.config, sizes), "the scales",
                        lambda: run_scales(page, sizes)))
    return rows if isinstance(rows, (list, Failed)) else None


@st.cache_resource(max_entries=8, show_spinner=False)
@heavy("forward")
def _training_resolution(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, _backbone: Backbone, _source: Any,
                         _features: FeatureResult) -> Any:
    from ..scales import training_resolution as compute

    return compute(_backbone, _source, _features)


def training_resolution(page: PageModel) -> Any:
    """:class:`spp_viz.scales.ResolutionComparison`: top-5 at 224 px next to the working size's."""
    from ..scales import TRAINING_RESOLUTION

    # a working image at least that large is resized from directly: no second decode of the file
    large_enough = max(page.decoded.working_size) >= TRAINING_RESOLUTION
    source = page.decoded.image if large_enough else scales_source(page, (TRAINING_RESOLUTION,))
    return _training_resolution(page.image_key, page.backbone_key, page.backbone, source, page.features)
