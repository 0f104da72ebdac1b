"""The top of the page: the title and intro, one line about the image and model, four metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from ..dimensions import SPPFStage, sppf_sizes
from ..figures import text
from ..i18n import _
from ..images import DecodedImage
from ..phase0 import Phase0
from . import words

if TYPE_CHECKING:
    from .model import PageModel

SUMMARY_KEY = "summary"  # the summary's container: the same place in both phases


def intro() -> None:
    st.title(words.APP_TITLE)
    st.markdown(words.intro())


def summary(page: PageModel) -> None:
    """File, sizes, backbone and stage; untrained weights said once, loudly; the four metrics."""
    from ..backbones import DetectorBackbone  # the built page's: the engine is loaded by then

    decoded, backbone = page.decoded, page.backbone
    detector = backbone.detector if isinstance(backbone, DetectorBackbone) else None
    st.markdown(words.summary_line(page.filename, decoded.original_size, decoded.working_size, backbone.spec.title,
                                   detector.stage_label(backbone.stage) if detector else backbone.stage, backbone.weights,
                                   decoded.n_frames))
    if detector:
        with st.container(key="detector_line"):
            st.markdown(words.detector_line(detector.checkpoint, detector.title, detector.task, detector.saved_by,
                                            detector.sppf.title, detector.sppf.layer, detector.sppf.bn_folded))
    if decoded.notes:
        st.caption(words.notes_line(decoded.notes))
    if page.untrained:
        st.warning(words.untrained_warning(backbone.spec.title))
    # metrics in a row that wraps: at 1024 px four columns would cut their values
    with st.container(horizontal=True, gap="medium", key="metrics"):
        _metrics(page)


def geometry_summary(decoded: DecodedImage, filename: str, weights: str, geometry: Phase0, untrained: bool) -> None:
    """Phase 0's summary: the same line and metrics from arithmetic, the top-1 to come."""
    st.markdown(words.summary_line(filename, decoded.original_size, decoded.working_size, words.backbone_title(geometry.backbone),
                                   geometry.stage, weights, decoded.n_frames))
    if decoded.notes:
        st.caption(words.notes_line(decoded.notes))
    if untrained:
        st.warning(words.untrained_warning(words.backbone_title(geometry.backbone)))
    with st.container(horizontal=True, gap="medium", key="metrics"):
        _size_metrics(geometry.shape, geometry.geometry.stride, geometry.geometry.receptive_field, geometry.spp_length,
                      geometry.fixed_length)
        st.metric(_(words.METRIC_TOP1_SHORT), "…", _(words.TOP1_PENDING), delta_color="off", delta_arrow="off", width="content")


def _size_metrics(shape: tuple[int, int, int], stride: int, receptive_field: int, length: int, valid: bool) -> None:
    """The map, the SPP vector and SPPF's output, each as wide as its value: sizes, known before the forward."""
    c, h, w = shape
    st.metric(_(words.METRIC_MAP), text.times(c, h, w), words.map_delta(stride, receptive_field),
              delta_color="off", delta_arrow="off", width="content")
    st.metric(_(words.METRIC_VECTOR), f"{length:,}", words.vector_delta(valid),
              delta_color="off" if valid else "inverse", delta_arrow="off", width="content")
    cv2 = sppf_sizes(c, h, w)[SPPFStage.CV2]
    st.metric(words.metric_sppf(), text.times(*cv2.shape), _(words.SPPF_DELTA), delta_color="off", delta_arrow="off",
              help=text.sppf_size(cv2), width="content")


def _metrics(page: PageModel) -> None:
    """The map, the SPP vector, SPPF's output and the top-1, each as wide as its value."""
    geometry, pyramid = page.features.geometry, page.pyramid
    _size_metrics(page.features.shape, geometry.stride, geometry.receptive_field, pyramid.length, pyramid.valid)
    if page.predictions:
        top = page.predictions[0]
        st.metric(_(words.METRIC_TOP1), top.label, f"{top.probability:.1%}", delta_color="off", delta_arrow="off",
                  help=words.top1_help(top.label, top.index), width="content")
    else:
        st.metric(_(words.METRIC_TOP1_SHORT), _("none"), words.no_top1(page.untrained), delta_color="off", delta_arrow="off", width="content")
