"""Every name the app takes from Streamlit's private modules, in one place.

Streamlit's public API has no way to ask whether a session is still connected, which session a
script run belongs to, whether an uploader holds a file this process no longer has, to draw
from inside a cached function without the cache recording it, whether the browser's back or
forward button started this run, or which file of its front end draws a chart.
The admission line (:mod:`.waiting`), serving behind a proxy (:mod:`.serving`), the page's
link (:mod:`.links`) and the explorer's preload (:mod:`.explorer`) need all six, so they come
from ``streamlit.runtime`` and ``streamlit.file_util``, which a Streamlit release may move.
Nothing else in ``spp_viz``, ``benchmarks`` or ``tests`` imports a private Streamlit module (a
test checks this), and ``tests/test_streamlit_private.py`` names, in one sentence, any name
below that the installed Streamlit no longer has where it is imported from.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any, Iterator

from streamlit.file_util import get_static_dir
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner_utils.exceptions import StopException
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx, in_cached_function
from streamlit.runtime.uploaded_file_manager import DeletedFile

__all__ = ["StopException", "page_chunks", "history_navigation", "is_deleted_upload", "not_recorded", "run_session_id",
           "session_active"]
# the front end's lazily loaded code (static/js/<stem>.<hash>.js) for st.plotly_chart, 4.7 MB,
# fetched when the first chart arrives; the page waits for it before it shows the elements that
# came with that chart (the explorer's values too)
PAGE_CHUNKS = ("PlotlyChart",)


def session_active(session_id: str) -> bool:
    """False once Streamlit's runtime no longer has this session (its tab closed or lost its
    connection); True when no runtime runs (``AppTest``, a benchmark thread)."""
    if not Runtime.exists():
        return True
    return bool(Runtime.instance().is_active_session(session_id))


def run_session_id() -> str | None:
    """The session of the script run on this thread, or None outside a script run."""
    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else None


def history_navigation() -> bool:
    """True for a script run that the browser's back or forward button started (the frontend
    sends ``isHistoryNavigation`` with the URL it restored); False otherwise and outside a run."""
    ctx = get_script_run_ctx(suppress_warning=True)
    return bool(ctx is not None and ctx.is_history_navigation)


def is_deleted_upload(value: Any) -> bool:
    """True for an uploader's value that names a file this process does not hold (one file or a list)."""
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, DeletedFile) for v in values)


@contextlib.contextmanager
def not_recorded() -> Iterator[None]:
    """Page updates made from inside an ``st.cache_*`` function that its cache must not record:
    a cache hit would replay them into a slot that run no longer has."""
    token = in_cached_function.set(False)
    try:
        yield
    finally:
        in_cached_function.reset(token)


@functools.cache
def page_chunks() -> tuple[str, ...]:
    """The file names (``PlotlyChart.<hash>.js``, ..., beside the front end's ``index.<hash>.js``)
    of the installed Streamlit's code for :data:`PAGE_CHUNKS`; a stem this release names or
    places otherwise is left out (nothing is preloaded for it)."""
    folder = Path(get_static_dir()) / "static" / "js"
    return tuple(sorted(p.name for stem in PAGE_CHUNKS for p in folder.glob(f"{stem}.*.js")))
