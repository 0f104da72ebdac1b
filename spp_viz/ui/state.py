"""Widget keys, session-state defaults, callbacks and the selected bin.

Every widget key lives here (tests, browser tests and benchmarks find widgets by these keys).
Defaults are set in session state, not in ``value=``, so callbacks and tests can change them.
The selected bin is ``(level, row, col)`` in ``st.session_state[KEY_SELECTED]``: the pyramid
explorer's ``selected`` state value sets it in a callback, and only the selection fragment reruns.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..boxes import PixelBox
from ..choices import BinRule, ChannelView, Choice, Pool, Weights
from ..defaults import (
    BACKBONE_NAMES,
    BACKBONE_STAGES,
    DEFAULT_BACKBONE,
    DEFAULT_FAMILY_HEADS,
    DEFAULT_LEVELS,
    DEFAULT_STAGES,
    DETECTOR_BACKBONE,
    DETECTOR_DEFAULT_STAGE,
    DETECTOR_STAGES,
    LEVEL_PRESETS,
    SPPF_DEFAULT_K,
    SPPF_DEFAULT_N,
)
from ..figures.style import assign_level_colours
from ..images import DEFAULT_MAX_SIDE
from ..links import LinkProblem, check_region
from ..options import parse_levels, preset_of

# sidebar
KEY_IMAGE = "image"  # the image uploader
KEY_SAMPLE = "sample"
KEY_USE_CAMERA = "use_camera"  # the toggle that draws the camera
KEY_CAMERA = "camera"  # st.camera_input, drawn only while KEY_USE_CAMERA is on
KEY_MAX_SIDE = "max_side"
KEY_PRESET = "preset"
KEY_LEVELS = "levels"
KEY_POOL = "pool"
KEY_BINS = "bins"
KEY_BACKBONE = "backbone"
KEY_STAGE = "stage"
KEY_WEIGHTS = "weights"
KEY_CHECKPOINT = "checkpoint"
KEY_DEVICE = "device"  # drawn only when PyTorch can use a GPU
KEY_CHANNEL = "channel"
# the selection fragment
KEY_EXPLORER = "explorer"  # the pyramid explorer component: its state is st.session_state["explorer"]
KEY_SELECTED = "selected_bin"
KEY_PHASE0_DRAWN = "_phase0_drawn"  # the token the explorer echoed once it had drawn phase 0 (ui.phase0.hold_forward)
# buttons, downloads and charts
KEY_USE_UNTRAINED = "use_untrained"
KEY_LAST_VALID_LEVELS = "last_valid_levels"
KEY_FULL_RUNS = "_full_runs"
KEY_FRAGMENT_RUNS = "_fragment_runs"
KEY_LEVEL_COLOURS = "_level_colours"  # {level: colour} of every level this session has drawn
CUSTOM_PRESET = "custom"
# the region panel: the box in working-image pixels, and which image it was drawn for
KEYS_REGION = ("region_x0", "region_y0", "region_x1", "region_y1")
KEY_REGION_IMAGE = "_region_image"
KEY_REGION_DEFAULT = "_region_default"  # that image's default box: a link leaves it out
# a link opened (spp_viz.ui.links): its problems, and the values only the built page can check
KEY_LINK_PROBLEMS = "_link_problems"  # list of spp_viz.links.LinkProblem, shown in the "link_notes" container
KEY_LINK_CHECKS = "_link_checks"  # {"channel": Channel, "region": PixelBox | None} still to check
KEY_LANG = "lang"  # the page's language (spp_viz.choices.Language), the sidebar's switch
# the pyramid-pooling family panel's heads and SPPF's k and n: drawn in the sidebar
KEY_HEADS = "heads"
KEY_SPPF_K = "sppf_k"
KEY_SPPF_N = "sppf_n"
# the predictions panel: which level's labels are listed
KEY_LABEL_LEVEL = "label_level"
# the buttons that run a bin's ERF and the scales sweep (a link may open either panel)
KEY_ERF_RUN = "erf_run"
KEY_SCALES_RUN = "scales_run"
# widgets whose value code sets (defaults here, presets, a new image's box): see resend_widget_values
KEYS_SET_BY_CODE = (KEY_USE_CAMERA, KEY_SAMPLE, KEY_MAX_SIDE, KEY_PRESET, KEY_LEVELS, KEY_POOL, KEY_BINS,
                    KEY_BACKBONE, KEY_STAGE, KEY_WEIGHTS, KEY_CHANNEL,
                    KEY_HEADS, KEY_SPPF_K, KEY_SPPF_N, KEY_LABEL_LEVEL, KEY_LANG, *KEYS_REGION)


# every backbone the sidebar offers: the registry's (its names and stages are torch-free data in
# spp_viz.defaults), then a YOLO detector read from the checkpoint
BACKBONES: tuple[str, ...] = (*BACKBONE_NAMES, DETECTOR_BACKBONE)


def stages_of(backbone: str) -> tuple[str, ...]:
    """The stages ``backbone`` offers (a detector's: p3, p4, p5, sppf)."""
    return DETECTOR_STAGES if backbone == DETECTOR_BACKBONE else BACKBONE_STAGES[backbone]


def default_stage_of(backbone: str) -> str:
    return DETECTOR_DEFAULT_STAGE if backbone == DETECTOR_BACKBONE else DEFAULT_STAGES[backbone]


class Source(Choice):
    """Where the analysed image came from."""

    SAMPLE = "sample"
    UPLOAD = "upload"
    CAMERA = "camera"


def preset_options() -> list[str]:
    """``custom`` then the named presets of :data:`spp_viz.defaults.LEVEL_PRESETS`."""
    return [CUSTOM_PRESET, *LEVEL_PRESETS]


def preset_for(typed: str) -> str:
    """The preset whose levels ``typed`` are (``6, 3,2,1`` is SPP-net's), else ``custom``."""
    try:
        levels = parse_levels(typed)
    except ValueError:
        return CUSTOM_PRESET
    return preset_of(levels) or CUSTOM_PRESET


def levels_text(levels: tuple[int, ...]) -> str:
    return ",".join(map(str, levels))


def init_state(default_sample: str | None) -> None:
    """Defaults for every sidebar widget; a backbone or stage no longer offered is reset."""
    defaults: dict[str, Any] = {
        KEY_USE_CAMERA: False, KEY_LEVELS: levels_text(DEFAULT_LEVELS), KEY_PRESET: preset_for(levels_text(DEFAULT_LEVELS)),
        KEY_POOL: Pool.MAX.value, KEY_BINS: BinRule.ADAPTIVE.value, KEY_MAX_SIDE: DEFAULT_MAX_SIDE,
        KEY_BACKBONE: DEFAULT_BACKBONE, KEY_WEIGHTS: Weights.PRETRAINED.value, KEY_CHANNEL: ChannelView.MEAN.value,
        KEY_SAMPLE: default_sample,
        KEY_HEADS: list(DEFAULT_FAMILY_HEADS), KEY_SPPF_K: SPPF_DEFAULT_K, KEY_SPPF_N: SPPF_DEFAULT_N,
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
    if st.session_state[KEY_BACKBONE] not in BACKBONES:
        st.session_state[KEY_BACKBONE] = DEFAULT_BACKBONE
    backbone = st.session_state[KEY_BACKBONE]
    if st.session_state.get(KEY_STAGE) not in stages_of(backbone):
        st.session_state[KEY_STAGE] = default_stage_of(backbone)
    resend_widget_values()


def resend_widget_values() -> None:
    """Set every code-set widget value again, so that this run's widgets carry their values.

    A widget without ``value=`` tells the browser its value only in the run that set it by
    code; after that the browser holds the only copy, and a widget it redraws without one
    falls back to the proto's empty default. CI caught the levels box sending back "" after
    the camera input appeared above it. Re-setting a value (Streamlit's documented way to keep
    widget state) sends it with every full run, so the browser can never fall back.
    """
    for key in KEYS_SET_BY_CODE:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def count_run(key: str) -> int:
    """Count a script run (``KEY_FULL_RUNS``) or a fragment rerun (``KEY_FRAGMENT_RUNS``)."""
    st.session_state[key] = int(st.session_state.get(key, 0)) + 1
    return int(st.session_state[key])


def on_preset() -> None:
    levels = LEVEL_PRESETS.get(st.session_state.get(KEY_PRESET, CUSTOM_PRESET))
    if levels:
        st.session_state[KEY_LEVELS] = levels_text(levels)


def on_levels() -> None:
    """Typed levels show the preset they match, or ``custom``."""
    st.session_state[KEY_PRESET] = preset_for(str(st.session_state.get(KEY_LEVELS, "")))


def level_colours(levels: tuple[int, ...]) -> dict[int, str]:
    """The colours of ``levels`` on this page, the same in the explorer and every chart: a level
    keeps the colour it got first in this session (:func:`~spp_viz.figures.style.assign_level_colours`)."""
    kept: dict[int, str] = dict(st.session_state.get(KEY_LEVEL_COLOURS, {}))
    colours = assign_level_colours(levels, kept)
    st.session_state[KEY_LEVEL_COLOURS] = kept | colours
    return colours


def on_backbone() -> None:
    st.session_state[KEY_STAGE] = default_stage_of(st.session_state[KEY_BACKBONE])
    st.session_state.pop(KEY_SELECTED, None)


def on_checkpoint() -> None:
    """A YOLO detector's checkpoint (recognised by its content, without torch) switches the
    analysis to the detector; removing the file switches back to the default backbone. Any other
    file leaves the choice alone: the chosen backbone's reader says in one sentence what it is."""
    from ..detectors import checkpoint_layout

    upload = st.session_state.get(KEY_CHECKPOINT)
    current = st.session_state.get(KEY_BACKBONE)
    if upload is not None and current != DETECTOR_BACKBONE and checkpoint_layout(upload.getvalue()) is not None:
        st.session_state[KEY_BACKBONE] = DETECTOR_BACKBONE
    elif upload is None and current == DETECTOR_BACKBONE:
        st.session_state[KEY_BACKBONE] = DEFAULT_BACKBONE
    else:
        return
    on_backbone()


def use_untrained() -> None:
    st.session_state[KEY_WEIGHTS] = Weights.UNTRAINED.value


def selected_bin() -> tuple[int, int, int] | None:
    """The bin the user clicked last, ``(level, row, col)``, or None."""
    value = st.session_state.get(KEY_SELECTED)
    if value is None:
        return None
    n, row, col = value
    return int(n), int(row), int(col)


def set_selected_bin(value: tuple[int, int, int] | None) -> None:
    st.session_state[KEY_SELECTED] = value


def add_link_problem(problem: LinkProblem) -> None:
    st.session_state[KEY_LINK_PROBLEMS] = [*st.session_state.get(KEY_LINK_PROBLEMS, []), problem]


def take_link_check(field: str) -> tuple[bool, Any]:
    """``(True, value)`` once for a link's value that waits for the page to check it, else ``(False, None)``."""
    checks: dict[str, Any] = st.session_state.get(KEY_LINK_CHECKS, {})
    if field not in checks:
        return False, None
    value = checks.pop(field)
    return True, value


def default_region_box(size: tuple[int, int]) -> PixelBox:
    """The region an image starts from: its middle half, in whole pixels."""
    w, h = size
    return PixelBox(*(float(round(v)) for v in (w / 4, h / 4, 3 * w / 4, 3 * h / 4)))


def region_box_for(image_key: object, size: tuple[int, int]) -> None:
    """A new image (or working size) starts from its own default box: a box kept from the last
    image would be clamped to this one's size and could come out empty or inverted. So does a
    box not yet in session state (the first run; :func:`resend_widget_values` keeps it after).
    A link's box is used once the image's size shows that it fits (else one sentence)."""
    default_box = default_region_box(size)
    st.session_state[KEY_REGION_DEFAULT] = default_box
    pending, linked = take_link_check("region")
    box = default_box
    if pending and linked is not None:
        try:
            check_region(linked, *size)
            box = linked
        except ValueError as exc:
            add_link_problem(LinkProblem("region", str(exc)))
    missing = any(key not in st.session_state for key in KEYS_REGION)
    if pending or missing or st.session_state.get(KEY_REGION_IMAGE) != image_key:
        for key, value in zip(KEYS_REGION, box.as_json()):
            st.session_state[key] = int(round(value))  # whole pixels
        st.session_state[KEY_REGION_IMAGE] = image_key


def region_box() -> PixelBox | None:
    """The region box in session state (None before the region panel first set it)."""
    if any(key not in st.session_state for key in KEYS_REGION):
        return None
    return PixelBox(*(float(st.session_state[key]) for key in KEYS_REGION))
