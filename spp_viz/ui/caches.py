"""Every ``st.cache_*`` wrapper of the page's first phase: the engine's steps, cached per image,
model and what else they depend on.

Cache keys are short strings and settings; big objects go in as underscore arguments, which
Streamlit does not hash. The backbone runs once per (image digest, backbone, stage, weights,
device, working size); changing the pyramid, pooling or bin rule only re-pools the cached map.
A pooling head is built once per (map, head, the arguments it depends on): the SPP vs SPPF table
and the family read the same report, and a pyramid change rebuilds only ``spp``. Engine calls go
through their modules (``analysis.extract_features``, ``pyramid_family.compare``) so tests and
benchmarks can wrap them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from .. import allocator, images
from ..choices import Channel, Language
from ..configs import PyramidConfig
from ..figures import text
from ..figures.photo import Photo, photo_source
from ..figures.style import MAX_DRAWN_LEVEL
from ..i18n import language
from ..images import DEFAULT_MAX_PIXELS, DecodedImage
from .sidebar import ASSETS, SAMPLES, ImageInput, Source
from .waiting import cached_heavy

if TYPE_CHECKING:  # the model's steps import the engine where they run: phase 0's run reads the image ones only
    from ..analysis import FeatureResult, Prediction, PyramidResult
    from ..backbones import Backbone
    from ..family import BranchMap, FamilyComparison, FamilyPlan, HeadReport, HeadTiming, PooledBranch, TimingKey
    from .model import PageModel

# Memory of a long-running server (benchmarks/soak.py): glibc arenas and mmap
# threshold fixed once per process; per-image caches hold this many entries (eight sessions,
# one image each); each new image first frees what earlier ones left (allocator.release).
allocator.tune()
allocator.freeze()  # the server, Streamlit and plotly, imported by now: release() need not walk them
PER_IMAGE_CACHE_ENTRIES = 8
FAMILY_MAPS_CACHE_ENTRIES = 32  # one entry per (image, head): about 10 images of the default family
HEAD_CACHE_ENTRIES = 64  # one head on one map without latencies: the view's and the family's, a few images

BackboneKey = tuple[str, str, str, str, str]  # (name, stage, weights, checkpoint digest, device)
ImageKey = tuple[str, tuple[int, int]]  # (digest, working size)


@st.cache_data(max_entries=8, show_spinner=False)
def read_sample(name: str) -> bytes:
    """A bundled sample photo's bytes (only names from the assets folder are ever passed)."""
    return (Path(ASSETS) / name).read_bytes()


def image_bytes(image: ImageInput) -> bytes:
    """A sample's bytes come from the cached assets; an upload or camera shot carries its own
    (even when empty: an upload's name must never choose a file to read)."""
    if image.source is Source.SAMPLE and image.filename in SAMPLES:
        return read_sample(image.filename)
    return image.data


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def decode_image(cache_key: str, max_side: int, working_pixels: int, _raw: bytes, _filename: str,
                 _limit: images.WorkingLimit = images.CPU_WORKING_LIMIT) -> tuple[DecodedImage, float]:
    """Decode once per (source key, max side, the device's working limit): ``load_image`` hashes
    the bytes, once; errors are raised, never cached. ``cache_key`` is a sample's name or an
    upload's file id; ``working_pixels`` is ``_limit.pixels`` (the part of the limit that matters).
    One shared, read-only image (nothing draws on it): no pickled copy per upload, and none
    unpickled on every rerun."""
    allocator.release()  # a new image: free what the previous analyses left, before this one's
    start = time.perf_counter()
    decoded = images.load_image(_raw, max_side=max_side, max_pixels=DEFAULT_MAX_PIXELS, filename=_filename, limit=_limit)
    return decoded, (time.perf_counter() - start) * 1000


@st.cache_resource(max_entries=4, show_spinner=False)
def get_backbone(name: str, stage: str, weights: str, checkpoint_digest: str, checkpoint_name: str, device: str,
                 _checkpoint: bytes | None) -> tuple[Backbone, float]:
    """One loaded model per (name, stage, weights, checkpoint sha256, device), shared read-only."""
    from .. import backbones

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
    from .. import analysis

    return analysis.extract_features(_backbone, _image)


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def get_photo(image_digest: str, working_size: tuple[int, int], _image: Image.Image) -> Photo:
    """The photo as the page shows it (a base64 JPEG and its size), encoded once per image."""
    return photo_source(_image)


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def get_bin_labels(image_digest: str, backbone_key: BackboneKey, working_size: tuple[int, int], config: PyramidConfig,
                   _backbone: Backbone, _head: PyramidResult) -> dict[int, list[list[Prediction]]]:
    """Top-1 class of every avg-pooled bin of every drawable level (the classifier reads each bin)."""
    from .. import analysis

    return {lv.n: analysis.bin_predictions(_backbone, lv) for lv in _head.levels if lv.n <= MAX_DRAWN_LEVEL}


# ----------------------------------------------------------------------------
# The pooling heads: the family's one entry point, each head cached per map


@st.cache_resource(max_entries=HEAD_CACHE_ENTRIES, show_spinner=False)
def _head(image_key: ImageKey, backbone_key: BackboneKey, key: TimingKey, _features: FeatureResult) -> HeadReport:
    """One head on the map without its timing, cached by what it depends on (``key``: the head and
    its normalised arguments): a head in two tables is built and checked once, and a head that
    ignores the pyramid is kept across pyramid changes."""
    from .. import family as pyramid_family

    return pyramid_family.head_report(_features, key)


def compare(image_key: ImageKey, backbone_key: BackboneKey, features: FeatureResult, family_plan: FamilyPlan,
            timings: Mapping[TimingKey, HeadTiming]) -> FamilyComparison:
    """:func:`spp_viz.family.compare` with each head from the cache (the timings found attached)."""
    from .. import family as pyramid_family

    return pyramid_family.compare(features, family_plan, timings,
                                  report=lambda f, key: _head(image_key, backbone_key, key, f))


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def _pooled_branches(image_key: ImageKey, backbone_key: BackboneKey, key: TimingKey,
                     _features: FeatureResult) -> tuple[PooledBranch, ...]:
    from .. import family as pyramid_family

    return pyramid_family.pooled_branches(_features, key)


@st.cache_resource(max_entries=PER_IMAGE_CACHE_ENTRIES, show_spinner=False)
def _sppf_figure(image_key: ImageKey, backbone_key: BackboneKey, key: TimingKey, kernels: tuple[int, ...], channel: Channel,
                 untrained: bool, lang: Language, _features: FeatureResult) -> go.Figure:
    """The SPPF branches figure once per (feature map, channel, language): it never depends on the pyramid.
    Shared read-only: ``st.plotly_chart`` only serialises a deep copy (``Figure.to_dict()``)."""
    from ..figures.maps import sppf_branches_figure

    branches = _pooled_branches(image_key, backbone_key, key, _features)
    note = text.untrained_note(untrained) + text.trained_pools_note(bool(key[1].trained))
    return sppf_branches_figure(branches, kernels, channel, note=note)


def sppf_figure(page: PageModel, channel: Channel) -> go.Figure:
    """The SPP vs SPPF view's lead head's branches (:func:`spp_viz.family.view_lead`: a checkpoint's
    trained block on its cv1's output, else ``sppf`` on the real map)."""
    from .. import family as pyramid_family

    sppf, _ = pyramid_family.view_lead(page.sppf)
    return _sppf_figure(page.image_key, page.backbone_key, sppf.key, page.sppf.kernels, channel, page.untrained, language(),
                        page.features)


@st.cache_resource(max_entries=FAMILY_MAPS_CACHE_ENTRIES, show_spinner=False)
def _branch_maps(image_key: ImageKey, backbone_key: BackboneKey, key: TimingKey, _features: FeatureResult) -> tuple[BranchMap, ...]:
    from .. import family as pyramid_family

    return pyramid_family.branch_maps(_features, key)


def family_maps(page: PageModel, report: HeadReport) -> tuple[BranchMap, ...]:
    """One head's pooling branches on the real map (parameter-free; cached per map and what the
    head depends on, so a levels change keeps every head's but ``spp``'s; never timed)."""
    return _branch_maps(page.image_key, page.backbone_key, report.key, page.features)


@st.cache_resource(max_entries=8, show_spinner=False)
def _vector_figure(image_key: ImageKey, backbone_key: BackboneKey, config: PyramidConfig, untrained: bool,
                   colours: tuple[tuple[int, str], ...], lang: Language, _head: PyramidResult) -> go.Figure:
    """The SPP vector figure once per (feature map, head config, level colours, language): up to 200,000 points, built once."""
    from ..figures.charts import spp_vector_figure as build_vector_figure

    return build_vector_figure(_head, colours=dict(colours), note=text.untrained_note(untrained))


def spp_vector_figure(page: PageModel) -> go.Figure:
    return _vector_figure(page.image_key, page.backbone_key, page.config, page.untrained, tuple(page.colours.items()),
                          language(), page.pyramid)
