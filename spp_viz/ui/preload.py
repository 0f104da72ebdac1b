"""torch and the engine, imported in a background thread that the first script run starts once
it has sent phase 0.

A cold process draws phase 0 (:mod:`spp_viz.ui.phase0`: arithmetic, no torch) first, then this
thread imports torch, the engine and the page's heavy modules (:data:`MODULES`) while the browser
draws phase 0. Started earlier, the import held the GIL while phase 0 was computed and sent, and
the bins came about a second later. Once per process: later runs and other sessions find the
thread started (or done).

Before a run imports any of :data:`MODULES` itself it calls :func:`wait`: two threads importing
the same modules at once could each hold one module's import lock and wait for the other's
(Python raises a deadlock error then). An import that fails here is logged and raised again,
in one sentence as always, where the run imports the module itself.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading

LOG = logging.getLogger("spp_viz.app")
# What the page needs after phase 0, heaviest first: torch, then the engine and the page's
# modules that import it (the forward, the panels, the downloads).
MODULES = (
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


def wait() -> None:
    """Block until the background import is over (at once when it never started or is done)."""
    thread = _thread
    if thread is not None and thread is not threading.current_thread():
        thread.join()


def started() -> bool:
    """Whether this process has started the background import."""
    return _thread is not None


def imported(name: str) -> bool:
    """Whether module ``name`` is imported and done (not halfway through its import in some
    thread: asking it then would wait for the rest)."""
    module = sys.modules.get(name)
    return module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False)
