"""Downloads (the SPP vector, the dimension table, the JSON report) and the provenance expander."""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from .. import report
from ..choices import Language
from ..figures import exports
from ..i18n import _, speaking
from . import words
from .model import PageModel
from .serving import replica_name


def report_json(page: PageModel) -> str:
    """The page's JSON report: ``report.build_report`` on the cached pieces, as the CLI's (in English
    whatever the page's language), with ``served_by`` naming this replica (latencies not measured yet are null)."""
    with speaking(Language.EN):
        return json.dumps(report.build_report(page.decoded, page.backbone, page.features, page.pyramid, page.sppf,
                                              page.predictions, page.timings_ms, served_by=replica_name()))


def downloads(page: PageModel) -> None:
    """One menu of downloads at the foot of the page (the lesson starts at the top)."""
    stem = Path(page.filename).stem
    pyramid = page.pyramid
    with st.popover(_(words.DOWNLOADS_LABEL), key="downloads"):
        st.download_button(_(words.DL_NPY), lambda: exports.vector_npy_bytes(pyramid.vector), f"{stem}_spp.npy",
                           "application/octet-stream", key="dl_npy", on_click="ignore")
        st.download_button(_(words.DL_CSV), lambda: exports.vector_csv(pyramid), f"{stem}_spp.csv", "text/csv",
                           key="dl_csv", on_click="ignore")
        st.download_button(_(words.DL_TABLE), exports.table_csv(page.dimension_rows),
                           f"{stem}_dimensions.csv", "text/csv", key="dl_table", on_click="ignore")
        # built now once the view's heads are measured; before that, only when asked for (the first
        # phase makes no report)
        report_data = report_json(page) if page.sppf.measured else (lambda: report_json(page))
        st.download_button(_(words.DL_JSON), report_data, f"{stem}_spp_report.json", "application/json",
                           key="dl_json", on_click="ignore")


def provenance(page: PageModel) -> None:
    """Timings, weights and the image's digest."""
    with st.expander(_(words.PROVENANCE_TITLE)):
        st.caption(_(words.FIRST_PHASE_STEPS))
        st.write({_(words.FIRST_PHASE_STEP_NAMES.get(k, k)): f"{v:.1f} ms" for k, v in page.timings_ms.items()})
        st.caption(words.provenance_line(page.backbone.weights, page.decoded.digest))
