"""Every ``st.cache_*`` wrapper, and :func:`build_page`: the controls -> one frozen :class:`PageModel`.

Cache keys are short strings and settings; big objects go in as underscore arguments, which
Streamlit does not hash. The backbone runs once per (image digest, backbone, stage, weights,
device, working size); changing the pyramid, pooling or bin rule only re-pools the cached map.

Nothing here times anything while a page is drawn. :func:`build_page` fills every latency it
finds in :mod:`spp_viz.ui.measure`'s store and asks for the rest as jobs, which run after the
browser has drawn this page (the second phase). A head's timing is one record per (map, head,
the arguments it depends on): the SPP vs SPPF table and the family read the same one, so a head
in both is measured once, and a pyramid change re-times only ``spp``. All the heads a page lacks
are timed together, interleaved, in one job.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Hashable, Mapping, Sequence

import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from .. import allocator, analysis, backbones, images
from .. import family as pyramid_family  # called through the module, so benchmarks can time it
from ..analysis import FeatureResult, Prediction, PyramidConfig, PyramidResult, SPPFComparison
from ..backbones import Backbone
from ..bins import BinGeometry
from ..boxes import PixelBox
from ..choices import Channel, Pool
from ..defaults import DEFAULT_FAMILY_HEADS, HEAD_IDS, SPPF_DEFAULT_K, SPPF_DEFAULT_N
from ..family import SPPF_VIEW, BranchMap, FamilyComparison, HeadReport, HeadTiming, TimingKey, branch_maps, uses_spp_config
from ..figures import MAX_DRAWN_LEVEL, Photo, photo_source, sppf_branches_figure, text
from ..figures import spp_vector_figure as build_vector_figure
from ..heads.registry import SOURCE_K, SOURCE_N
from ..images import DEFAULT_MAX_PIXELS, DecodedImage
from ..options import parse_sppf_k, parse_sppf_n
from ..regions import RegionResult, pool_region
from ..scales import ScaleRow
from . import measure, state
from .measure import Failed, Job
from .sidebar import ASSETS, SAMPLES, Controls, ImageInput, Source
from .waiting import admission_scope, cached_heavy, heavy

if TYPE_CHECKING:  # imported where used: the ERF and the scales load only when asked for
    from ..erf import ErfResult
    from ..scales import ResolutionComparison

# Memory of a long-running server (benchmarks/soak.py): glibc arenas and mmap
# threshold fixed once per process; per-image caches hold this many entries (eight sessions,
# one image each); each new image first frees what earlier ones left (allocator.release).
allocator.tune()
PER_IMAGE_CACHE_ENTRIES = 8
FAMILY_MAPS_CACHE_ENTRIES = 32  # one entry per (image, head): about 10 images of the default family
HEAD_CACHE_ENTRIES = 64  # one head on one map without latencies: the view's and the family's, a few images
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
    config: PyramidConfig
    pyramid: PyramidResult
    sppf: SPPFComparison
    costs: FamilyComparison | None  # the SPP vs SPPF view of the family, once its heads are measured
    costs_error: str | None  # why the view's latencies could not be measured (None: they were, or will be)
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


@cached_heavy("forward", max_entries=PER_IMAGE_CACHE_ENTRIES)
def get_features(image_digest: str, backbone_key: BackboneKey, working_size: tuple[int, int],
                 _backbone: Backbone, _image: Image.Image) -> FeatureResult:
    """The one expensive step. Called through ``analysis.extract_features`` so tests can count runs."""
    return analysis.extract_features(_backbone, _image)


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def get_sppf(image_digest: str, backbone_key: BackboneKey, working_size: tuple[int, int],
             _features: FeatureResult) -> SPPFComparison:
    """SPPF's cascade against YOLOv5's parallel pools on the map (equality, shapes), once per map."""
    return analysis.sppf_comparison(_features)


@heavy("measure")
def time_heads(features: FeatureResult, keys: tuple[TimingKey, ...]) -> list[HeadTiming]:
    """Heads timed on the map, all interleaved (a second-phase job), in the order of ``keys``."""
    timings = pyramid_family.measure_heads(features, keys)
    return [timings[key] for key in keys]


def measured(job: Job) -> object | None:
    """A one-result job's stored result (a :class:`Failed` when it raised), or None after asking for it."""
    result = measure.lookup(job.keys[0])
    if result is None:
        measure.request(job)
    return result


def timings(image_key: ImageKey, backbone_key: BackboneKey, features: FeatureResult,
            wanted: Sequence[TimingKey]) -> dict[TimingKey, HeadTiming | Failed]:
    """The heads' timings on this map found in the store (one record per head, whichever table
    asked for it); one job asks for the rest, all timed together after the page is drawn."""
    def stored(key: TimingKey) -> Hashable:
        return "timing", image_key, backbone_key, key

    found: dict[TimingKey, HeadTiming | Failed] = {}
    for key in dict.fromkeys(wanted):
        result = measure.lookup(stored(key))
        if isinstance(result, (HeadTiming, Failed)):
            found[key] = result
    missing = tuple(key for key in dict.fromkeys(wanted) if key not in found)
    if missing:
        names = ", ".join(dict.fromkeys(head_id for head_id, _ in missing))
        measure.request(Job(tuple(stored(key) for key in missing), f"the heads' latencies ({names})",
                            lambda: dict(zip((stored(key) for key in missing), time_heads(features, missing)))))
    return found


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def get_photo(image_digest: str, working_size: tuple[int, int], _image: Image.Image) -> Photo:
    """The photo as the page shows it (a base64 JPEG and its size), encoded once per image."""
    return photo_source(_image)


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def get_bin_labels(image_digest: str, backbone_key: BackboneKey, working_size: tuple[int, int], config: PyramidConfig,
                   _backbone: Backbone, _head: PyramidResult) -> dict[int, list[list[Prediction]]]:
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
def _vector_figure(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, config: PyramidConfig, untrained: bool,
                   _head: PyramidResult) -> go.Figure:
    """The SPP vector figure once per (feature map, head config): up to 200,000 points, built once."""
    return build_vector_figure(_head, note=text.untrained_note(untrained))


def spp_vector_figure(page: PageModel) -> go.Figure:
    return _vector_figure(page.image_key, page.backbone_key, page.config, page.untrained, page.pyramid)


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
    pyramid = analysis.pool_pyramid(features, controls.config)
    head_ms = (time.perf_counter() - start) * 1000
    image_key = (decoded.digest, decoded.working_size)
    # the heads' tables need their modules (shapes, FLOPs, equalities) only once they are measured:
    # the first phase looks the timings up by key and builds nothing
    view_keys = pyramid_family.timing_keys(features, SPPF_VIEW, controls.config, SOURCE_K, SOURCE_N, check_fits=False)
    request, family_keys, family_error = family_keys_for(features, controls.config)
    found = timings(image_key, key, features, view_keys + family_keys)
    view_timings, costs_error = complete(view_keys, found)
    costs = (pyramid_family.with_timings(view_structure(image_key, key, controls.config, features, view_timings), view_timings)
             if view_timings is not None else None)
    labels = (get_bin_labels(decoded.digest, key, decoded.working_size, controls.config, backbone, pyramid)
              if controls.config.pool is Pool.AVG and backbone.can_classify else {})
    return PageModel(
        controls=controls, filename=image.filename, decoded=decoded, backbone=backbone, backbone_key=key,
        features=features, config=controls.config, pyramid=pyramid, sppf=get_sppf(decoded.digest, key, decoded.working_size, features),
        costs=costs, costs_error=costs_error, predictions=analysis.predict(backbone, features),
        timings_ms={"decode": decode_ms, "load_backbone": load_ms, "backbone_forward": features.forward_ms, "spp_head": head_ms},
        untrained=not backbone.pretrained, photo=get_photo(decoded.digest, decoded.working_size, decoded.image), bin_labels=labels,
        bin_geometry={lv.n: analysis.level_geometry(features, lv) for lv in pyramid.levels if lv.n <= MAX_DRAWN_LEVEL},
        family=family_outcome(image_key, key, controls.config, features, request, family_error or complete(family_keys, found)),
        measuring=tuple(job.label for job in measure.pending()),
    )


def complete(keys: Sequence[TimingKey], found: Mapping[TimingKey, HeadTiming | Failed]
             ) -> tuple[dict[TimingKey, HeadTiming] | None, str | None]:
    """The timings of ``keys`` once every one is measured (None while one is not), or the sentence
    of a measurement that failed."""
    failed = next((v.message for k in keys if isinstance(v := found.get(k), Failed)), None)
    if failed is not None:
        return None, failed
    measured = {k: v for k in keys if isinstance(v := found.get(k), HeadTiming)}
    return (measured, None) if len(measured) == len(set(keys)) else (None, None)


@st.cache_resource(max_entries=HEAD_CACHE_ENTRIES, show_spinner=False)
def _head_structure(image_key: ImageKey, backbone_key: BackboneKey, key: TimingKey, _config: PyramidConfig, _k: int,
                    _repeats: int, _features: FeatureResult, _timing: HeadTiming | None) -> HeadReport:
    """One head on the map without latencies, cached by what it depends on (``key``: the head and
    its normalised arguments), so a head shown in two tables is built and checked once. Its
    timing, when given, only lends the output shape it saw (the module is not run to read it)."""
    head_id = key[0]
    measured = {key: _timing} if _timing is not None else None
    report = pyramid_family.compare_family(_features, (head_id,), _config, _k, _repeats, measure=False,
                                           measured=measured, check_fits=False).head(head_id)
    return replace(report, timing=None)


def structure(image_key: ImageKey, backbone_key: BackboneKey, config: PyramidConfig, heads: Sequence[str], k: int, repeats: int,
              features: FeatureResult, timings: Mapping[TimingKey, HeadTiming] | None = None) -> FamilyComparison:
    """The heads without latencies: shapes, parameters, FLOPs, branches and equalities. A head that
    ignores the pyramid is cached per map (kept across pyramid changes), ``spp`` per pyramid.
    (Whether k and n fit the map is checked with the timing keys, before.) ``timings``, when
    measured, give the output shapes they saw; the heads' equality checks share their pools."""
    keys = pyramid_family.timing_keys(features, heads, config, k, repeats, check_fits=False)
    found = timings or {}
    with pyramid_family.shared_pools():
        reports = tuple(_head_structure(image_key, backbone_key, key, config, k, repeats, features, found.get(key))
                        for key in keys)
    return FamilyComparison(k, repeats, features.shape, reports)


def view_structure(image_key: ImageKey, backbone_key: BackboneKey, config: PyramidConfig, features: FeatureResult,
                   timings: Mapping[TimingKey, HeadTiming] | None = None) -> FamilyComparison:
    """The SPP vs SPPF view's heads without latencies (the JSON download reads it before they are measured)."""
    return structure(image_key, backbone_key, config, SPPF_VIEW, SOURCE_K, SOURCE_N, features, timings)


# ----------------------------------------------------------------------------
# The pyramid-pooling family: its shapes, parameters, FLOPs and equalities per (map, heads, k, n),
# its latencies from the store. The panel's widgets (keys heads, sppf_k, sppf_n) are drawn later
# in the run; their values from the last interaction are already in session state.


@dataclass(frozen=True)
class FamilyRequest:
    """The heads to compare and SPPF's k and n, as the family panel's widgets hold them."""

    heads: tuple[str, ...]
    k: int
    repeats: int  # SPPF's n (the widget ``sppf_n``)


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


def family_keys_for(features: FeatureResult, config: PyramidConfig) -> tuple[FamilyRequest, list[TimingKey], str | None]:
    """The panel's current request and its heads' timing keys; a bad value (an unknown head, k or
    n too wide for this map) is one sentence for the panel, never an error for the whole page."""
    try:
        request = family_request()
    except ValueError as exc:
        return FamilyRequest((), SPPF_DEFAULT_K, SPPF_DEFAULT_N), [], str(exc)
    try:
        return request, pyramid_family.timing_keys(features, request.heads, config, request.k, request.repeats), None
    except ValueError as exc:  # SPPF windows beyond this map
        return request, [], str(exc)


def family_outcome(image_key: ImageKey, backbone_key: BackboneKey, config: PyramidConfig, features: FeatureResult,
                   request: FamilyRequest, measured: str | tuple[dict[TimingKey, HeadTiming] | None, str | None]) -> FamilyOutcome:
    """The family for the panel: its comparison once every head is measured (built then), pending
    until then, or one sentence (``measured`` is a sentence when the request itself was refused)."""
    if isinstance(measured, str):
        return FamilyOutcome(request, None, measured)
    timings_found, failed = measured
    if not request.heads:
        return FamilyOutcome(request, None)
    if failed is not None:
        return FamilyOutcome(request, None, failed)
    if timings_found is None:
        return FamilyOutcome(request, None, pending=True)
    comparison = structure(image_key, backbone_key, config, request.heads, request.k, request.repeats, features, timings_found)
    return FamilyOutcome(request, pyramid_family.with_timings(comparison, timings_found))


@st.cache_resource(max_entries=FAMILY_MAPS_CACHE_ENTRIES, show_spinner=False)
def _family_maps(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, config: PyramidConfig | None, head_id: str,
                 k: int, repeats: int, _features: FeatureResult) -> tuple[BranchMap, ...]:
    return branch_maps(_features, head_id, config, k, repeats)


def family_maps(page: PageModel, head_id: str, request: FamilyRequest) -> tuple[BranchMap, ...]:
    """One head's pooling branches on the real map (parameter-free; cached, not timed). Only
    ``spp`` follows the pyramid: the others are cached per map, so a levels change keeps them."""
    config = page.config if uses_spp_config(head_id) else None
    return _family_maps(page.image_key, page.backbone_key, config, head_id, request.k, request.repeats, page.features)


# --- views: ERF of a bin, region pooling, scales. Computed on demand (a button or
# a bin click), cached per (image, backbone, stage, weights, levels, pool, rule, bin / box / sizes).

@cached_heavy("erf", max_entries=32)
def _bin_erf(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, config: PyramidConfig, level: int, row: int, col: int,
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


@heavy("region")
def measure_region(page: PageModel, box: PixelBox) -> RegionResult:
    """The region with its pooling timed and its crop-and-rerun run (a second-phase job)."""
    return pool_region(page.backbone, page.decoded.image, page.features, box, page.config)


def region(page: PageModel, box: PixelBox) -> RegionResult:
    """The box pooled from the shared map (ValueError, one sentence, for a bad box), with its times
    and crop-and-rerun once the second phase has measured them (NaN and empty until then)."""
    base = _region(page.image_key, page.backbone_key, page.config, box, page.backbone, page.decoded.image, page.features)
    done = measured(Job.single(("region", page.image_key, page.backbone_key, page.config, box), "the region's crop-and-rerun",
                        lambda: measure_region(page, box)))
    return done if isinstance(done, RegionResult) else base


def scales_source(page: PageModel, sizes: tuple[int, ...]) -> Image.Image:
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
    rows = measured(Job.single(("scales", page.image_key, page.backbone_key, page.config, sizes), "the scales",
                        lambda: run_scales(page, sizes)))
    return rows if isinstance(rows, (list, Failed)) else None


@cached_heavy("forward", max_entries=8)
def _training_resolution(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, _backbone: Backbone, _source: Image.Image,
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
