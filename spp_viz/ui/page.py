"""The page: sidebar -> page model -> header -> panels (selection panels in one fragment).

Errors from the engine are one sentence on the page; anything unexpected is logged on the
server and named in one sentence, never shown as a traceback.
"""

from __future__ import annotations

import logging
from itertools import groupby
from typing import TYPE_CHECKING, Sequence

import streamlit as st

from ..admission import Work
from ..errors import BackboneError, WeightsUnavailableError
from ..figures import text
from ..i18n import _
from ..images import ImageDecodeError
from . import caches, language, links, measure, preload, state, words
from .header import SUMMARY_KEY, intro, summary
from .phase0 import SELECTION_KEY, GeometryPage, draw_geometry, forward_done, geometry_page, hold_forward, record_forward
from .serving import lost_upload_notice, replica_footer
from .sidebar import Controls, channel_control, sidebar, stage_control
from .state import Source
from .style import page_style
from .waiting import admission_scope

if TYPE_CHECKING:  # the page model and the panels import torch: a run imports them after phase 0
    from .model import PageModel
    from .panels import Panel

LOG = logging.getLogger("spp_viz.app")  # unexpected errors go to the server log, never to the page


def main() -> None:
    """The whole app, top to bottom (``app.py`` calls this)."""
    st.set_page_config(page_title=words.APP_TITLE, page_icon="🔲", layout="wide")
    language.activate()  # the session's language for every word of this run (the switch may change it below)
    page_style()
    state.count_run(state.KEY_FULL_RUNS)
    # Every run draws the same elements in the same places: an element that appears in some runs
    # only (the second phase's spinner, a notice) goes into a slot present in all of them, or every
    # element after it would be a new element to the browser and be remounted (the explorer too).
    second_phase(st.empty())
    links.open_link()  # the URL's view into the controls' state, before any widget is drawn
    controls = sidebar()
    intro()
    with st.container():
        lost_upload_notice()
        link_notes = st.container(key=links.KEY_LINK_NOTES)
        if controls.levels_error:
            st.error(words.levels_error(controls.levels_error, controls.config.levels))
    geometry = geometry_page(controls)
    status = st.empty()  # the spinner while the model loads and runs, or why there is no page
    if geometry is not None and not forward_done(geometry):
        geometry_first(controls, geometry, status, link_notes)
        return
    preload.start()
    page = _build(controls, status)
    stage_control(controls, page.backbone if page else None)
    if page is None:
        _foot(controls, None, link_notes)
        return
    channel_control(page.features.shape[0])
    state.region_box_for(page.image_key, page.features.input_size)  # before the panels: the link reads it
    from .downloads import downloads, provenance
    from .panels import PANELS

    try:
        with st.container(key=SUMMARY_KEY):
            summary(page)
        render_panels(page, PANELS)
        downloads(page)
        provenance(page)
    except MemoryError:
        st.error(_(words.OUT_OF_MEMORY_DRAWING))
    except Exception as exc:  # a display bug must not show a traceback either
        LOG.exception("drawing failed")
        st.error(words.unexpected_drawing(type(exc).__name__))
    _foot(controls, page, link_notes)


def geometry_first(controls: Controls, geometry: GeometryPage, status, link_notes) -> None:
    """Phase 0 (the bins, the sizes, the table: arithmetic), then the forward, then a rerun that
    draws the whole page from the cached map in the same places (the explorer is not remounted).
    When the forward fails, phase 0 stays and ``status`` holds the one sentence of why. On a cold
    process the run ends after phase 0: the forward comes with the browser's word that it has
    drawn it (:func:`.phase0.hold_forward`)."""
    stage_control(controls, None)  # phase 0 has no detector: its stages need no layer names
    channel_control(geometry.geometry.shape[0])
    gate = hold_forward(geometry)
    if gate is None:  # the browser has drawn phase 0 (or the process is warm): import while it is redrawn
        preload.start()
    try:
        draw_geometry(geometry, gate)
    except Exception as exc:  # a display bug must not show a traceback, nor keep the forward from running
        LOG.exception("drawing phase 0 failed")
        st.error(words.unexpected_drawing(type(exc).__name__))
        gate = None
    if gate is not None:  # a cold process: the forward starts once the browser has drawn phase 0
        return  # no foot, as when the forward follows: the link is written by the page that has its view
    preload.start()  # a no-op unless phase 0 failed to draw
    if _build(controls, status) is not None:
        st.rerun()
    _foot(controls, None, link_notes)


def _foot(controls: Controls, page: PageModel | None, link_notes) -> None:
    """The end of every full run: the URL follows the view, the replica's footer, the drawn signal."""
    links.finish_run(controls, page, link_notes)
    replica_footer()
    measure.ready_signal()


def second_phase(slot) -> None:
    """When the browser has drawn the last run's page, run the measurements it asked for first,
    alone (after every waiting analysis; an arriving analysis interrupts them, and they are taken
    again once the process is quiet),
    before anything of this run is drawn (the page stays on screen meanwhile; ``slot``, an
    ``st.empty`` at the top of every run, holds the spinner and any waiting line, then is cleared)."""
    if not measure.drawn():
        measure.clear()
        return
    preload.wait()  # the measurements import the engine: never beside the background import
    try:
        # nothing is drawn meanwhile (the panels' notes already say what is measured): a line or a
        # spinner at the top would move and repaint the whole page while the heads are timed
        with slot.container(), admission_scope("measure", follow_up=True, work=Work.MEASUREMENT):
            measure.run_requested()
        slot.empty()
    except MemoryError:
        slot.error(_(words.OUT_OF_MEMORY))
    finally:
        measure.clear()


def _build(controls: Controls, status) -> PageModel | None:
    """The page model, or one sentence (and None) in ``status`` when the image or model cannot be used.
    The engine is imported here, under the spinner, once the background import (:mod:`.preload`) is over."""
    with status.container():
        try:
            with admission_scope("analysis"), st.spinner(_(words.WORKING)):
                preload.wait()
                from .model import build_page

                page = build_page(controls)
            record_forward(controls, page.decoded, caches.get_working_limit(page.backbone_key, page.backbone))
            return page
        except WeightsUnavailableError as exc:
            st.error(text.literal(str(exc)))
            st.button(_(words.USE_UNTRAINED), on_click=state.use_untrained, key=state.KEY_USE_UNTRAINED)
        except (ImageDecodeError, BackboneError, ValueError) as exc:
            st.error(text.literal(str(exc)))
            if controls.image is not None and controls.image.source is not Source.SAMPLE:
                st.info(_(words.NOTHING_KEPT))
        except MemoryError:
            st.error(_(words.OUT_OF_MEMORY))
        except Exception as exc:  # never a traceback in front of a user
            LOG.exception("analysis failed")
            st.error(words.unexpected_analysis(type(exc).__name__))
    return None


def render_panels(page: PageModel, panels: Sequence[Panel]) -> None:
    """Panels in order; each run of consecutive selection panels goes into one fragment."""
    for in_fragment, group in groupby(panels, key=lambda p: p.selection_fragment):
        run = list(group)
        if in_fragment:
            selection_fragment(page, run)
        else:
            draw_panels(page, run)


@st.fragment
def selection_fragment(page: PageModel, panels: list[Panel]) -> None:
    """Reruns alone when the pyramid explorer selects a bin (a click or a key).

    ``page`` is the model of the last full run: a fragment rerun gets the same arguments, and
    the model only changes on a full run. The selection itself is read from session state.
    """
    from .view import current_view

    language.activate()  # a fragment rerun does not pass through main()
    state.count_run(state.KEY_FRAGMENT_RUNS)  # read by tests from session state and the explorer's attributes
    view = current_view(page)
    with st.container(key=SELECTION_KEY):
        st.markdown(words.selection_line(view.selected, view.chosen_by_user))
    link_slot = st.empty()  # the link sits under the selection it names, filled once the panels are drawn
    draw_panels(page, panels)
    link = links.shown_view(page.controls, page)  # after the panels: the ERF panel may have opened
    with link_slot.container():
        links.copy_control(link)
    links.follow(link)


def draw_panels(page: PageModel, panels: Sequence[Panel]) -> None:
    """Each panel under its header, in a keyed container; ``beside_previous`` panels share a row."""
    rows: list[list[Panel]] = []
    for panel in panels:
        if panel.beside_previous and rows:
            rows[-1].append(panel)
        else:
            rows.append([panel])
    for row in rows:
        if len(row) == 1:
            _draw(page, row[0])
            continue
        for column, panel in zip(st.columns(len(row), gap="medium"), row):
            with column:
                _draw(page, panel)


def _draw(page: PageModel, panel: Panel) -> None:
    """One panel; a bug in it is logged and named in one sentence, and the other panels still draw."""
    with st.container(key=f"panel_{panel.key}"):
        st.header(_(panel.title))
        try:
            panel.render(page)
        except MemoryError:
            st.error(_(words.OUT_OF_MEMORY_DRAWING))
        except Exception as exc:
            LOG.exception("panel %s failed", panel.key)
            st.error(words.unexpected_panel(_(panel.title), type(exc).__name__))
