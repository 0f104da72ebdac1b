"""Phase 0 on the page: the photo with every level's bins, the map's size, the output-dimension
table and the SPP vector's length, drawn from arithmetic (:func:`spp_viz.phase0.phase0`) before
the forward.

A run whose forward has not been done yet for this image and model draws phase 0 first, in the
places the full page draws the same things (the summary's container, the explorer's and the
dimension panel's), then runs the forward and reruns: the next run finds the map cached and
draws the whole page, and the explorer, mounted under the same key at the same place, redraws
with the values without remounting. A levels, pool or bin-rule edit keeps the forward's key, so
it draws the full page at once from the cached map. When the forward fails, phase 0 stays on the
page and the failure is one sentence above it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import streamlit as st

from ..choices import ChannelView, Weights, channel_view
from ..defaults import DETECTOR_BACKBONE
from ..explorer import phase0_payload
from ..figures import tables, text
from ..figures.style import MAX_DRAWN_LEVEL
from ..i18n import _
from ..images import CPU_WORKING_LIMIT, DecodedImage, ImageDecodeError, WorkingLimit
from ..phase0 import Phase0, phase0
from . import caches, preload, state, words
from .explorer import mount_payload
from .header import SUMMARY_KEY, geometry_summary
from .sidebar import Controls

KEY_DONE = "_phase1_done"  # forward keys whose forward this session saw succeed (newest last)
KEY_LIMITS = "_working_limits"  # (backbone, stage, device) -> the working limit the forward used there
DONE_KEPT = 16
SELECTION_KEY = "selection_text"  # the selection line's container, above the explorer in both phases
ForwardKey = tuple[str, tuple[int, int], str, str, str, str, str]


@dataclass(frozen=True)
class GeometryPage:
    """What phase 0 draws: the decoded image (the working size the forward will get), the
    arithmetic of :mod:`spp_viz.phase0` and the photo as the explorer shows it."""

    controls: Controls
    decoded: DecodedImage
    geometry: Phase0
    photo: tuple[str, tuple[int, int]]
    forward_key: ForwardKey

    @property
    def image_key(self) -> tuple[str, tuple[int, int]]:
        return self.decoded.digest, self.decoded.working_size


def geometry_page(controls: Controls) -> GeometryPage | None:
    """Phase 0 of the chosen image and model, or None where it cannot be known without the model:
    no image; a detector checkpoint (its layers come from the file); a GPU whose working limit is
    not known yet; an image or a choice the build will refuse in one sentence anyway."""
    image = controls.image
    if image is None or controls.backbone == DETECTOR_BACKBONE:
        return None
    limit = _known_limit(controls)
    if limit is None:
        return None
    try:
        decoded, _decode_ms = caches.decode_image(image.cache_key, controls.max_side, limit.pixels, caches.image_bytes(image),
                                         image.filename, limit)
        geometry = phase0(controls.backbone, controls.stage, decoded.working_size, controls.config.levels,
                          controls.config.rule)
    except (ImageDecodeError, ValueError):
        return None
    photo = caches.get_photo(decoded.digest, decoded.working_size, decoded.image)
    return GeometryPage(controls, decoded, geometry, photo, forward_key(controls, decoded))


def forward_key(controls: Controls, decoded: DecodedImage) -> ForwardKey:
    """What the forward depends on: the image at its working size and the model."""
    digest = controls.checkpoint.digest if controls.checkpoint is not None else ""
    return (decoded.digest, decoded.working_size, controls.backbone, controls.stage, controls.weights.value, digest,
            controls.device)


def hold_forward(view: GeometryPage) -> str | None:
    """On a cold process (no torch, no background import yet), the token of this phase 0 that
    the browser echoes once it has painted it; the run ends after phase 0 and the forward (with
    torch's import) starts in the run that echo brings. None: the forward may start now.

    Why: the browser fetches Streamlit's scripts for every kind of element and renders the page
    while torch's import holds the GIL and a core; on two cores the bins came about a second
    later than with the server idle (docs/phases.md)."""
    if not preload.cold():
        return None
    token = hashlib.sha256(repr(view.forward_key).encode()).hexdigest()[:16]
    return None if st.session_state.get(state.KEY_PHASE0_DRAWN) == token else token


def forward_done(view: GeometryPage) -> bool:
    """Whether this session already saw this forward succeed (its map is then in the cache)."""
    return view.forward_key in st.session_state.get(KEY_DONE, {})


def record_forward(controls: Controls, decoded: DecodedImage, limit: WorkingLimit) -> None:
    """Remember that the forward of this image and model succeeded, and the working limit it used."""
    done: dict[ForwardKey, bool] = st.session_state.setdefault(KEY_DONE, {})
    done.pop(forward_key(controls, decoded), None)
    done[forward_key(controls, decoded)] = True
    while len(done) > DONE_KEPT:
        done.pop(next(iter(done)))
    st.session_state.setdefault(KEY_LIMITS, {})[(controls.backbone, controls.stage, controls.device)] = limit


def _known_limit(controls: Controls) -> WorkingLimit | None:
    """The working image's pixel budget without the model: the CPU's is a constant; a GPU's was
    measured by the first forward there (None before it)."""
    if controls.device == "cpu":
        return CPU_WORKING_LIMIT
    limit: WorkingLimit | None = st.session_state.get(KEY_LIMITS, {}).get((controls.backbone, controls.stage, controls.device))
    return limit


def draw_geometry(view: GeometryPage, gate: str | None = None) -> None:
    """Phase 0 where the full page draws the same things: the summary (its container), the
    explorer with the greyed bins (in the container where the full page's selection fragment
    draws it, under the same key) and the dimension table with the vector's length. ``gate``:
    the token the explorer echoes once drawn (:func:`hold_forward`)."""
    controls, geometry = view.controls, view.geometry
    untrained = controls.weights is Weights.UNTRAINED
    with st.container(key=SUMMARY_KEY):
        geometry_summary(view.decoded, controls.image.filename if controls.image else "", controls.weights.value,
                         geometry, untrained)
    with st.container():  # the selection fragment's container on the full page
        with st.container(key=SELECTION_KEY):
            st.markdown(_(words.PHASE0_SELECTION))
        # the full page's link slot (``selection_fragment``): without it the explorer's panel sat one
        # place earlier, and a browser that drew between phase 1's first deltas remounted it
        st.empty()
        with st.container(key=f"panel_{words.PANEL_EXPLORER}"):
            st.header(_(words.PANEL_TITLES[words.PANEL_EXPLORER]))
            channel = channel_view(st.session_state.get(state.KEY_CHANNEL, ChannelView.MEAN))
            payload = phase0_payload(geometry, view.photo, image_key=view.image_key, model_key=view.forward_key,
                                     channel=channel, pool=controls.config.pool,
                                     sppf=(controls.family.k, controls.family.repeats),
                                     colours=state.level_colours(controls.config.levels))
            mount_payload(payload, None, re.sub(r"<[^>]+>", "", text.untrained_note(untrained)), gate)
            drawn = [level.bins for level in geometry.levels if level.bins.n <= MAX_DRAWN_LEVEL]
            st.caption(text.bins_caption(geometry.geometry.stride, [text.overlap_summary(b) for b in drawn], geometry.rule))
    with st.container(key=f"panel_{words.PANEL_DIMENSIONS}"):
        st.header(_(words.PANEL_TITLES[words.PANEL_DIMENSIONS]))
        if gate is None:
            dimension_table(geometry.dimensions)
        else:  # a cold process: the table (st.dataframe imports pandas) comes with the browser's echo
            st.empty()
        levels = [level.bins.n for level in geometry.levels]
        if geometry.fixed_length:
            st.caption(text.vector_fixed(geometry.geometry.channels, levels))
        else:
            st.warning(text.vector_broken(geometry.spp_length, geometry.geometry.channels, levels))


def dimension_table(rows: Sequence[Mapping[str, object]]) -> None:
    """The engine's dimension rows (:func:`spp_viz.dimensions.dimension_rows`) as the page writes them."""
    st.dataframe(tables.shown(tables.dimension_rows(rows)), hide_index=True, key="dimension_table", height="content", column_config={
        _("numbers"): st.column_config.NumberColumn(_("numbers"), format="localized"),
    })
