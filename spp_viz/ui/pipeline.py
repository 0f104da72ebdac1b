"""Every ``st.cache_*`` wrapper, and :func:`build_page`: the controls -> one frozen :class:`PageModel`.

Cache keys are short strings and settings; big objects go in as underscore arguments, which
Streamlit does not hash. The backbone runs once per (image digest, backbone, stage, weights,
working size); changing the pyramid, pooling or bin rule only re-pools the cached map.
Latencies are measured here, before any panel draws (nothing else competes then): what does not
depend on the pyramid (SPPF, YOLOv5's SPP, the family's other heads) once per feature map, the
current SPP head once per (map, pyramid). A measurement taken while the page is sending charts
would not be one.
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
from ..options import parse_sppf_k, parse_sppf_n
from ..timing import Latency
from . import state
from .sidebar import ASSETS, SAMPLES, Controls, ImageInput, Source

# Memory of a long-running server (issue 11's soak, benchmarks/soak.py): glibc arenas and mmap
# threshold fixed once per process; per-image caches hold this many entries (eight sessions,
# one image each); each new image first frees what earlier ones left (allocator.release).
allocator.tune()
PER_IMAGE_CACHE_ENTRIES = 8
FAMILY_MAPS_CACHE_ENTRIES = 32  # one entry per (image, head): about 10 images of the default family
REGION_CACHE_ENTRIES = 16  # one entry per (image, box)

BackboneKey = tuple[str, str, str, str]  # (name, stage, weights, checkpoint digest)


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
    family: FamilyOutcome | None = None  # the pyramid-pooling family (C), measured before any panel draws

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
def decode_image(cache_key: str, max_side: int, _raw: bytes, _filename: str) -> tuple[DecodedImage, float]:
    """Decode once per (source key, max side): ``load_image`` hashes the bytes, once; errors are
    raised, never cached. ``cache_key`` is a sample's name or an upload's file id."""
    allocator.release()  # a new image: free what the previous analyses left, before this one's
    start = time.perf_counter()
    decoded = images.load_image(_raw, max_side=max_side, max_pixels=DEFAULT_MAX_PIXELS, filename=_filename)
    return decoded, (time.perf_counter() - start) * 1000


@st.cache_resource(max_entries=4, show_spinner=False)
def get_backbone(name: str, stage: str, weights: str, checkpoint_digest: str, checkpoint_name: str,
                 _checkpoint: bytes | None) -> tuple[Backbone, float]:
    """One loaded model per (name, stage, weights, checkpoint sha256), shared read-only. Engine calls go
    through their modules (``backbones.load_backbone``) so tests and benchmarks can wrap them."""
    start = time.perf_counter()
    model = backbones.load_backbone(name, stage, weights, checkpoint=_checkpoint, checkpoint_name=checkpoint_name, download=True)
    return model, (time.perf_counter() - start) * 1000


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def get_features(image_digest: str, backbone_key: BackboneKey, working_size: tuple[int, int],
                 _backbone: Backbone, _image: Any) -> FeatureResult:
    """The one expensive step. Called through ``analysis.extract_features`` so tests can count runs."""
    return analysis.extract_features(_backbone, _image)


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def get_sppf(image_digest: str, backbone_key: BackboneKey, working_size: tuple[int, int],
             _features: FeatureResult) -> SPPFComparison:
    """SPPF vs parallel SPP, measured once per feature map: nothing in it depends on the pyramid."""
    return analysis.sppf_comparison(_features, measure=True)


@st.cache_resource(max_entries=32, show_spinner=False)
def get_spp_latency(image_digest: str, backbone_key: BackboneKey, working_size: tuple[int, int], config: HeadConfig,
                    _features: FeatureResult) -> Latency:
    """The current SPP head timed alone, once per (feature map, pyramid): the costs table's SPP
    row and the family's ``spp`` row are this one measurement."""
    return analysis.measure_spp_head(_features, config)


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
    """Decode, load, run the backbone, pool, compare and time: everything before any panel draws.

    Raises the engine's one-sentence errors (``ImageDecodeError``, ``BackboneError``,
    ``WeightsUnavailableError``, ``ValueError``); the page shows them.
    """
    if controls.image is None:
        raise ValueError("No image: upload one in the sidebar.")
    image = controls.image
    decoded, decode_ms = decode_image(image.cache_key, controls.max_side, image_bytes(image), image.filename)
    ckpt = controls.checkpoint
    ckpt_digest = hashlib.sha256(ckpt.data).hexdigest() if ckpt is not None else ""
    backbone, load_ms = get_backbone(controls.backbone, controls.stage, controls.weights, ckpt_digest,
                                     ckpt.filename if ckpt else "checkpoint", ckpt.data if ckpt else None)
    key: BackboneKey = (controls.backbone, controls.stage, backbone.weights, ckpt_digest)
    features = get_features(decoded.digest, key, decoded.working_size, backbone, decoded.image)
    start = time.perf_counter()
    head = analysis.analyse_head(features, controls.config)
    head_ms = (time.perf_counter() - start) * 1000
    spp_latency = get_spp_latency(decoded.digest, key, decoded.working_size, controls.config, features)
    sppf = analysis.with_spp_cost(get_sppf(decoded.digest, key, decoded.working_size, features),
                                  analysis.spp_head_cost(controls.config, head.length, spp_latency))
    timings = {"decode": decode_ms, "load_backbone": load_ms, "backbone_forward": features.forward_ms, "spp_head": head_ms,
               **sppf.latencies_ms()}
    labels = (get_bin_labels(decoded.digest, key, decoded.working_size, controls.config, backbone, head)
              if controls.config.pool == "avg" and backbone.can_classify else {})
    family = family_outcome((decoded.digest, decoded.working_size), key, controls.config, features, sppf)
    return PageModel(
        controls=controls, filename=image.filename, decoded=decoded, backbone=backbone, backbone_key=key,
        features=features, config=controls.config, head=head, sppf=sppf,
        predictions=analysis.predict(backbone, features), timings_ms=timings, untrained=not backbone.pretrained,
        photo=get_photo(decoded.digest, decoded.working_size, decoded.image), bin_labels=labels,
        bin_geometry={lv.n: analysis.level_geometry(features, lv) for lv in head.levels if lv.n <= MAX_DRAWN_LEVEL}, family=family,
    )


# ----------------------------------------------------------------------------
# The pyramid-pooling family (C, issue 9): timed here, before any panel draws, cached per
# feature map + heads + k + n. The panel's widgets (keys heads, sppf_k, sppf_n) are drawn
# later in the run; their values from the last interaction are already in session state.


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


def family_request() -> FamilyRequest:
    """Session state -> a checked request (defaults on the first run; unknown ids are dropped)."""
    st.session_state.setdefault(state.KEY_HEADS, list(DEFAULT_FAMILY_HEADS))
    st.session_state.setdefault(state.KEY_SPPF_K, SPPF_DEFAULT_K)
    st.session_state.setdefault(state.KEY_SPPF_N, SPPF_DEFAULT_N)
    heads = tuple(h for h in st.session_state[state.KEY_HEADS] if h in HEAD_IDS)
    return FamilyRequest(heads, parse_sppf_k(int(st.session_state[state.KEY_SPPF_K])),
                         parse_sppf_n(int(st.session_state[state.KEY_SPPF_N])))


@st.cache_resource(max_entries=8, show_spinner=False)
def _family_per_map(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, heads: tuple[str, ...],
                    k: int, n: int, _features: FeatureResult, _sppf: SPPFComparison) -> FamilyComparison:
    """The heads that ignore the pyramid, timed once per (map, heads, k, n); SPPF and YOLOv5's SPP
    at k=5, n=3 are the SPPF comparison's own measurements."""
    measured = pyramid_family.latencies_from_sppf(_sppf, k, n)
    return pyramid_family.compare_family(_features, heads, None, k, n, measured=measured)


def _family(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, config: HeadConfig,
            request: FamilyRequest, features: FeatureResult, sppf: SPPFComparison) -> FamilyOutcome:
    """A pyramid change re-times nothing here: the ``spp`` head is ``sppf``'s SPP row (the page's
    SPPF comparison, with the current head's cost)."""
    if not request.heads:
        return FamilyOutcome(request, None)
    per_map = tuple(h for h in request.heads if not uses_spp_config(h))
    per_pyramid = tuple(h for h in request.heads if uses_spp_config(h))
    try:
        parts = [_family_per_map(image_key, backbone_key, per_map, request.k, request.n, features, sppf)] if per_map else []
        if per_pyramid:
            measured = pyramid_family.latencies_from_sppf(sppf, request.k, request.n)
            parts.append(pyramid_family.compare_family(features, per_pyramid, config, request.k, request.n, measured=measured))
        return FamilyOutcome(request, merge_comparisons(request.heads, parts))
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


# --- views (D, issue 10): ERF of a bin, region pooling, scales. Computed on demand (a button or
# a bin click), cached per (image, backbone, stage, weights, levels, pool, rule, bin / box / sizes).

@st.cache_resource(max_entries=32, show_spinner=False)
def _bin_erf(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, config: HeadConfig, level: int, row: int, col: int,
             _backbone: Backbone, _image: Any) -> Any:
    from ..erf import bin_erf as compute

    return compute(_backbone, _image, level, row, col, config)


def bin_erf(page: PageModel, level: int, row: int, col: int) -> Any:
    """:class:`spp_viz.erf.ErfResult` of one bin of the current page (one backward pass, cached)."""
    return _bin_erf(page.image_key, page.backbone_key, page.config, level, row, col, page.backbone, page.decoded.image)


@st.cache_resource(max_entries=REGION_CACHE_ENTRIES, show_spinner=False)
def _region(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, config: HeadConfig,
            box: tuple[float, float, float, float], _backbone: Backbone, _image: Any, _features: FeatureResult) -> Any:
    from ..regions import RegionBox, pool_region

    return pool_region(_backbone, _image, _features, RegionBox(*box), config)


def region(page: PageModel, box: tuple[float, float, float, float]) -> Any:
    """:class:`spp_viz.regions.RegionResult` for ``box``; ValueError (one sentence) for a bad box."""
    return _region(page.image_key, page.backbone_key, page.config, box, page.backbone, page.decoded.image, page.features)


def scales_source(page: PageModel, sizes: tuple[int, ...]) -> Any:
    """The image decoded once at the largest size (from the bytes in memory, the cached decoder)."""
    from ..scales import decode_side

    image = page.controls.image
    assert image is not None  # a page exists only for an image
    decoded, _ = decode_image(image.cache_key, decode_side(sizes, page.controls.max_side), image_bytes(image), image.filename)
    return decoded.image


@st.cache_resource(max_entries=8, show_spinner=False)
def _scales(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, config: HeadConfig, sizes: tuple[int, ...],
            _backbone: Backbone, _source: Any, _progress: Any) -> Any:
    from ..scales import scale_sweep

    return scale_sweep(_backbone, _source, sizes, config, _progress)


def scales(page: PageModel, sizes: tuple[int, ...], progress: Any = None) -> Any:
    """:class:`spp_viz.scales.ScaleRow` per size (one forward pass each, cached)."""
    return _scales(page.image_key, page.backbone_key, page.config, sizes, page.backbone, scales_source(page, sizes), progress)


@st.cache_resource(max_entries=8, show_spinner=False)
def _training_resolution(image_key: tuple[str, tuple[int, int]], backbone_key: BackboneKey, _backbone: Backbone, _source: Any,
                         _features: FeatureResult) -> Any:
    from ..scales import training_resolution as compute

    return compute(_backbone, _source, _features)


def training_resolution(page: PageModel) -> Any:
    """:class:`spp_viz.scales.ResolutionComparison`: top-5 at 224 px next to the working size's."""
    from ..scales import TRAINING_RESOLUTION

    source = scales_source(page, (TRAINING_RESOLUTION,))
    return _training_resolution(page.image_key, page.backbone_key, page.backbone, source, page.features)
