"""The top of the page: the title and intro, one line about the image and model, four metrics."""

from __future__ import annotations

import streamlit as st

from ..backbones import DetectorBackbone
from ..dimensions import SPPFStage, sppf_sizes
from ..figures import text
from . import words
from .model import PageModel


def intro() -> None:
    st.title(words.APP_TITLE)
    st.markdown(words.INTRO)


def summary(page: PageModel) -> None:
    """File, sizes, backbone and stage; untrained weights said once, loudly; the four metrics."""
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


def _metrics(page: PageModel) -> None:
    """The map, the SPP vector, SPPF's output and the top-1, each as wide as its value."""
    c, h, w = page.features.shape
    geometry, pyramid = page.features.geometry, page.pyramid
    st.metric(words.METRIC_MAP, text.times(c, h, w), words.map_delta(geometry.stride, geometry.receptive_field),
              delta_color="off", delta_arrow="off", width="content")
    st.metric(words.METRIC_VECTOR, f"{pyramid.length:,}", words.vector_delta(pyramid.valid),
              delta_color="off" if pyramid.valid else "inverse", delta_arrow="off", width="content")
    cv2 = sppf_sizes(c, h, w)[SPPFStage.CV2]
    st.metric(words.METRIC_SPPF, text.times(*cv2.shape), words.SPPF_DELTA, delta_color="off", delta_arrow="off",
              help=text.sppf_size(cv2), width="content")
    if page.predictions:
        top = page.predictions[0]
        st.metric(words.METRIC_TOP1, top.label, f"{top.probability:.1%}", delta_color="off", delta_arrow="off",
                  help=words.top1_help(top.label, top.index), width="content")
    else:
        st.metric(words.METRIC_TOP1_SHORT, "none", words.no_top1(page.untrained), delta_color="off", delta_arrow="off", width="content")
