"""The Streamlit app: the only package that imports Streamlit.

:mod:`.state` (widget keys, callbacks, the selection), :mod:`.sidebar` (controls ->
:class:`~.sidebar.Controls`), :mod:`.model` (controls -> :class:`~.model.PageModel`, the first
phase), :mod:`.caches` (every cached engine step), :mod:`.jobs` (the second phase's jobs, on
:mod:`.measure`'s store), :mod:`.views` (ERF, region, scales, on demand), :mod:`.panels`
(``PANELS``), :mod:`.words` (the page's labels and messages), :mod:`.page` (:func:`main`).
"""

from __future__ import annotations


def main() -> None:
    """Run the app (imported lazily: importing ``spp_viz.ui`` alone starts nothing); every run
    ends by handing its freed memory back (:func:`spp_viz.allocator.trim`), a rerun's too."""
    from .. import allocator
    from .page import main as run

    try:
        run()
    finally:
        allocator.trim()
