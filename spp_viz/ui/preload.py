"""torch and the engine, imported in a background thread that starts once the browser has
drawn the process's first phase 0.

A cold process draws phase 0 (:mod:`spp_viz.ui.phase0`: arithmetic, no torch) and ends the run;
the explorer echoes once it has painted it, and the run that echo starts begins this thread,
which imports pandas, torch, the engine and the page's heavy modules (:data:`MODULES`), then
runs the forward. Started with phase 0 or right after it, the import held the GIL and a core
while the browser fetched Streamlit's scripts and drew the page, and the bins came about a
second later (docs/phases.md). Once per process: later runs and other sessions find the thread
started (or done).

Before a run imports any of :data:`MODULES` itself it calls :func:`wait` (pandas aside, see
:data:`MODULES`): two threads importing the same modules at once could each hold one module's
import lock and wait for the other's (Python raises a deadlock error then). An import that
fails here is logged and raised again, in one sentence as always, where the run imports the
module itself.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading

LOG = logging.getLogger("spp_viz.app")
# What the page needs after phase 0: pandas, torch, then the engine and the page's modules that
# import it (the forward, the panels, the downloads). pandas is imported whole here, before any
# session builds a figure: plotly takes pandas from sys.modules when it is there, and a session
# that did so while another thread was importing it saw it half imported ("partially initialized
# module 'pandas' has no attribute 'Series'", six tabs at once). Phase 0's dimension table imports
# it too, without waiting: pandas comes first here, so both threads start at ``import pandas``
# with no other import lock held, and the second waits on the first's.
MODULES = (
    "pandas",
    "torch",
    "spp_viz.analysis",
    "spp_viz.backbones",
    "spp_viz.family",
    "spp_viz.report",
    "spp_viz.ui.model",
    "spp_viz.ui.panels",
    "spp_viz.ui.downloads",
    "spp_viz.ui.view",
)
THREAD_NAME = "spp_viz-preload"

_lock = threading.Lock()
_thread: threading.Thread | None = None


def start() -> None:
    """Start importing :data:`MODULES` in a daemon thread, once per process (a no-op afterwards)."""
    global _thread
    with _lock:
        if _thread is not None:
            return
        _thread = threading.Thread(target=_import_all, name=THREAD_NAME, daemon=True)
        _thread.start()


def _import_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the run that needs it imports it again and says why in one sentence
            LOG.exception("importing %s in the background failed", name)
            return
    from .. import allocator

    allocator.freeze()  # torch and the engine: each new image's release() walks them no more


def wait() -> None:
    """Block until the background import is over (at once when it never started or is done)."""
    thread = _thread
    if thread is not None and thread is not threading.current_thread():
        thread.join()


def cold() -> bool:
    """Whether this process has neither torch nor the background import started: the first
    phase 0 it draws is then drawn before anything heavy starts (:func:`spp_viz.ui.phase0.hold_forward`)."""
    return _thread is None and "torch" not in sys.modules


def started() -> bool:
    """Whether this process has started the background import."""
    return _thread is not None


def imported(name: str) -> bool:
    """Whether module ``name`` is imported and done (not halfway through its import in some
    thread: asking it then would wait for the rest)."""
    module = sys.modules.get(name)
    return module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False)
