"""The sidebar: every control, returned as one frozen :class:`Controls`.

Image sources: a bundled sample, an upload, or the camera (``st.camera_input`` is drawn only
when the camera source is chosen: a browser asks for camera permission as soon as it exists).
All three go through the same decoding and limits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from ..catalogue import TITLES, weights_status
from ..choices import BinRule, ChannelView, Pool, Weights
from ..configs import FamilyRequest, PyramidConfig
from ..defaults import DETECTOR_BACKBONE, IMAGE_UPLOAD_MB, SPPF_MAX_K, SPPF_MAX_N
from ..detectors import MAX_CHECKPOINT_BYTES
from ..devices import default_device, device_choices, no_gpu_here
from ..figures import text
from ..figures.style import MAX_DRAWN_LEVEL
from ..formats import EXTENSIONS
from ..head_ids import head_ids, head_name
from ..i18n import _
from ..links import LinkProblem, check_channel
from . import preload, state, words
from .language import language_switch
from .state import Source

if TYPE_CHECKING:
    from ..backbones import Backbone
    from ..detectors.detector import DetectorInfo

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SAMPLES = tuple(sorted((p.name for p in ASSETS.glob("*.jpg")), key=words.sample_order))
DEFAULT_SAMPLE = "chelsea_cat.jpg" if "chelsea_cat.jpg" in SAMPLES else (SAMPLES[0] if SAMPLES else None)
IMAGE_TYPES = [ext for extensions in EXTENSIONS.values() for ext in extensions]
MAX_SIDES = [256, 384, 512, 768, 1024, 1536, 2048, 0]  # 0 = native


@dataclass(frozen=True)
class ImageInput:
    """The chosen image's bytes. ``cache_key`` names these bytes for the decode cache without
    hashing them (a sample's name, an upload's file id): ``load_image`` hashes them once."""

    source: Source
    filename: str
    data: bytes = b""
    cache_key: str = ""


@dataclass(frozen=True)
class CheckpointInput:
    """An uploaded checkpoint: its bytes, the upload's file id and their sha256 (hashed once per
    upload by :func:`_checkpoint_digest`, not on every rerun: a detector file is megabytes)."""

    filename: str
    data: bytes
    cache_key: str  # the upload's file id
    digest: str  # sha256 of ``data``


@dataclass(frozen=True)
class Controls:
    """Everything the sidebar decides. ``image`` is None when the chosen source has no image yet."""

    image: ImageInput | None
    max_side: int
    config: PyramidConfig
    levels_error: str | None  # the sentence when the typed levels are invalid (``config`` is the last valid)
    backbone: str
    stage: str
    weights: Weights
    checkpoint: CheckpointInput | None
    device: str = "cpu"  # where the model and every head run: cpu, or cuda:N when PyTorch has a GPU
    family: FamilyRequest = FamilyRequest(())  # the family panel's heads and SPPF's k and n
    family_error: str | None = None  # the sentence when they cannot be used (``family`` then asks for no head)
    stage_slot: Any = field(default=None, compare=False, repr=False)  # where stage_control draws the stage picker


def sidebar() -> Controls:
    """Draw the sidebar (image, pyramid, backbone, the family's heads) and return the choices."""
    state.init_state(DEFAULT_SAMPLE)
    language_switch()
    image = _image_section()
    config, error = _pyramid_section()
    stage_slot, checkpoint = _backbone_section()
    device = _device()
    family, family_error = _family_section()
    return Controls(
        image=image, max_side=int(st.session_state[state.KEY_MAX_SIDE]), config=config, levels_error=error,
        backbone=st.session_state[state.KEY_BACKBONE], stage=st.session_state[state.KEY_STAGE],
        weights=Weights.parse(st.session_state[state.KEY_WEIGHTS]), checkpoint=checkpoint, device=device,
        family=family, family_error=family_error, stage_slot=stage_slot,
    )


def _device() -> str:
    """The sidebar's device choice, drawn only when PyTorch can use a GPU (else always ``cpu``).
    Until torch is imported, a machine where no GPU can be (:func:`spp_viz.devices.no_gpu_here`)
    is ``cpu`` without asking torch, as torch would answer: the first run draws phase 0 meanwhile."""
    choices = ["cpu"] if no_gpu_here() and not preload.imported("torch") else device_choices()
    if len(choices) == 1:
        return choices[0]
    st.session_state.setdefault(state.KEY_DEVICE, default_device())
    return str(st.sidebar.selectbox(_(words.DEVICE_LABEL), choices, key=state.KEY_DEVICE, help=_(words.DEVICE_HELP)))


def _image_section() -> ImageInput | None:
    """Upload, camera (only when switched on) or sample, in that order of precedence."""
    sb = st.sidebar
    sb.header(_(words.SIDEBAR_IMAGE))
    uploaded = sb.file_uploader(_(words.UPLOAD_LABEL), type=IMAGE_TYPES, key=state.KEY_IMAGE, help=words.upload_help(IMAGE_UPLOAD_MB),
                                max_upload_size=IMAGE_UPLOAD_MB)
    shot = None
    if sb.toggle(_(words.CAMERA_TOGGLE), key=state.KEY_USE_CAMERA, help=_(words.CAMERA_HELP)):
        shot = sb.camera_input(_(words.CAMERA_LABEL), key=state.KEY_CAMERA)
    sb.selectbox(_(words.SAMPLE_LABEL), SAMPLES, key=state.KEY_SAMPLE, format_func=words.sample_title,
                 disabled=uploaded is not None or shot is not None, help=_(words.SAMPLE_HELP))
    sb.select_slider(_(words.MAX_SIDE_LABEL), MAX_SIDES, key=state.KEY_MAX_SIDE, format_func=words.max_side_name,
                     help=_(words.MAX_SIDE_HELP))
    if shot is not None:
        return ImageInput(Source.CAMERA, shot.name or "camera.jpg", shot.getvalue(), f"camera:{shot.file_id}")
    if uploaded is not None:
        return ImageInput(Source.UPLOAD, uploaded.name, uploaded.getvalue(), f"upload:{uploaded.file_id}")
    name = st.session_state.get(state.KEY_SAMPLE)
    if name in SAMPLES:  # only bundled files are ever read from disk
        return ImageInput(Source.SAMPLE, name, b"", f"sample:{name}")
    return None


def _pyramid_section() -> tuple[PyramidConfig, str | None]:
    sb = st.sidebar
    sb.header(_(words.SIDEBAR_PYRAMID))
    sb.selectbox(_(words.PRESET_LABEL), state.preset_options(), key=state.KEY_PRESET, on_change=state.on_preset,
                 format_func=words.preset_name, help=_(words.PRESET_HELP))
    sb.text_input(_(words.LEVELS_LABEL), key=state.KEY_LEVELS, on_change=state.on_levels, help=_(words.LEVELS_HELP))
    slot = sb.container()
    sb.radio(_(words.POOL_LABEL), Pool.values(), key=state.KEY_POOL, horizontal=True, help=_(words.POOL_HELP))
    sb.radio(_(words.BINS_LABEL), BinRule.values(), key=state.KEY_BINS, horizontal=True, help=_(words.BINS_HELP))
    return _parse_config(slot)


def _parse_config(slot) -> tuple[PyramidConfig, str | None]:
    """The head config; invalid levels keep the last valid pyramid and say why, inline."""
    pool, rule = st.session_state[state.KEY_POOL], st.session_state[state.KEY_BINS]
    error = None
    try:
        config = PyramidConfig(st.session_state.get(state.KEY_LEVELS, ""), pool, rule)
        st.session_state[state.KEY_LAST_VALID_LEVELS] = config.levels
    except ValueError as exc:
        error = str(exc)
        config = PyramidConfig(st.session_state.get(state.KEY_LAST_VALID_LEVELS, PyramidConfig().levels), pool, rule)
        slot.error(text.literal(error))
        slot.caption(words.still_showing(config.levels))
    too_fine = [n for n in config.levels if n > MAX_DRAWN_LEVEL]
    if too_fine:
        slot.warning(words.not_drawn(too_fine))
    return config, error


def _backbone_option(name: str) -> str:
    if name == DETECTOR_BACKBONE:
        return _(words.DETECTOR_OPTION)
    return words.backbone_option(TITLES[name], weights_status(name))


def _backbone_section() -> tuple[Any, CheckpointInput | None]:
    """Backbone, a slot for the stage (drawn once the model is known: :func:`stage_control`),
    weights and the checkpoint, whose upload may switch the backbone (:func:`state.on_checkpoint`)."""
    sb = st.sidebar
    sb.header(_(words.SIDEBAR_BACKBONE))
    sb.selectbox(_(words.BACKBONE_LABEL), state.BACKBONES, key=state.KEY_BACKBONE, on_change=state.on_backbone,
                 format_func=_backbone_option, help=_(words.BACKBONE_HELP))
    slot = sb.empty()
    detector = st.session_state[state.KEY_BACKBONE] == DETECTOR_BACKBONE
    sb.radio(_(words.WEIGHTS_LABEL), Weights.values(), key=state.KEY_WEIGHTS, horizontal=True, help=_(words.WEIGHTS_HELP),
             format_func=words.weights_label,
             disabled=detector)
    upload = sb.file_uploader(_(words.CHECKPOINT_LABEL), type=["pt", "pth"], key=state.KEY_CHECKPOINT, help=_(words.CHECKPOINT_HELP),
                              on_change=state.on_checkpoint, max_upload_size=MAX_CHECKPOINT_BYTES // 2**20)
    if upload is None:
        if detector:
            sb.caption(_(words.DETECTOR_NEEDS_FILE))
        return slot, None
    sb.caption(words.checkpoint_note(upload.name, detector))
    data = upload.getvalue()
    cache_key = f"checkpoint:{upload.file_id}"
    return slot, CheckpointInput(upload.name, data, cache_key, _checkpoint_digest(cache_key, data))


@st.cache_data(max_entries=4, show_spinner=False)
def _checkpoint_digest(cache_key: str, _data: bytes) -> str:
    """The sha256 of an upload's bytes, once per upload (``cache_key`` is its file id)."""
    return hashlib.sha256(_data).hexdigest()


def stage_control(controls: Controls, backbone: Backbone | None) -> None:
    """The stage picker, in its slot under the backbone (``controls.stage_slot``): drawn after the
    model is loaded (or has failed to), so that a detector's stages are named with their layers,
    ``p5 (layer 8)``."""
    name = controls.backbone
    info: DetectorInfo | None = None
    if backbone is not None:  # a loaded model: the engine is imported by then
        from ..backbones import DetectorBackbone

        info = backbone.detector if isinstance(backbone, DetectorBackbone) else None
    slot = controls.stage_slot if controls.stage_slot is not None else st.sidebar
    slot.selectbox(_(words.STAGE_LABEL), state.stages_of(name), key=state.KEY_STAGE,
                   format_func=info.stage_label if info else str,
                   help=words.stage_help(state.default_stage_of(name), name == DETECTOR_BACKBONE))


def _family_section() -> tuple[FamilyRequest, str | None]:
    """The family panel's heads and SPPF's k and n (keys ``heads``, ``sppf_k``, ``sppf_n``): every
    head registered is offered (a chosen head no longer registered is dropped); values that cannot
    be used ask for no head and say why, in the panel."""
    sb = st.sidebar
    sb.header(_(words.SIDEBAR_FAMILY))
    options = list(head_ids())
    st.session_state[state.KEY_HEADS] = [h for h in st.session_state[state.KEY_HEADS] if h in options]
    sb.multiselect(_(words.FAMILY_HEADS_LABEL), options, key=state.KEY_HEADS, help=_(words.FAMILY_HEADS_HELP),
                   format_func=lambda i: f"{i} · {head_name(i)}")
    k, n = sb.columns(2)
    k.selectbox(_(words.FAMILY_K_LABEL), list(range(1, SPPF_MAX_K + 1, 2)), key=state.KEY_SPPF_K, help=_(words.FAMILY_K_HELP))
    n.number_input(_(words.FAMILY_N_LABEL), min_value=1, max_value=SPPF_MAX_N, step=1, key=state.KEY_SPPF_N,
                   help=_(words.FAMILY_N_HELP))
    try:
        return FamilyRequest.parse(tuple(st.session_state[state.KEY_HEADS]), int(st.session_state[state.KEY_SPPF_K]),
                                   int(st.session_state[state.KEY_SPPF_N])), None
    except ValueError as exc:
        return FamilyRequest(()), str(exc)


def channel_control(channels: int) -> None:
    """The channel picker (it needs the map's channel count, so it is drawn after the page model is built)."""
    options: list[int | str] = [*ChannelView.values(), *range(channels)]
    pending, linked = state.take_link_check("channel")
    if pending:
        try:
            check_channel(linked, channels)
        except ValueError as exc:
            state.add_link_problem(LinkProblem("channel", str(exc)))
    if st.session_state.get(state.KEY_CHANNEL) not in options:
        st.session_state[state.KEY_CHANNEL] = ChannelView.MEAN.value
    st.sidebar.header(_(words.SIDEBAR_DISPLAY))
    st.sidebar.selectbox(_(words.CHANNEL_LABEL), options, key=state.KEY_CHANNEL, format_func=words.channel_option,
                         help=words.channel_help(channels))
