"""The top of the page: the title and intro, one line about the image and model, four metrics."""

from __future__ import annotations

import streamlit as st

from ..backbones import DetectorBackbone
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
    c, h, w = page.features.shape
    geometry, pyramid = page.features.geometry, page.pyramid
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(words.METRIC_MAP, text.times(c, h, w), words.map_delta(geometry.stride, geometry.receptive_field),
              delta_color="off", delta_arrow="off")
    m2.metric(words.METRIC_VECTOR, f"{pyramid.length:,}", words.vector_delta(pyramid.valid),
              delta_color="off" if pyramid.valid else "inverse", delta_arrow="off")
    m3.metric(words.METRIC_SPPF, text.times(c, h, w), words.SPPF_DELTA, delta_color="off", delta_arrow="off")
    if page.predictions:
        top = page.predictions[0]
        m4.metric(words.METRIC_TOP1, top.label, f"{top.probability:.1%}", delta_color="off", delta_arrow="off",
                  help=words.top1_help(top.label, top.index))
    else:
        m4.metric(words.METRIC_TOP1_SHORT, "none", words.no_top1(page.untrained), delta_color="off", delta_arrow="off")
