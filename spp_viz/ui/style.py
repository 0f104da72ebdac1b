"""The page's own CSS: what Streamlit's theme options cannot say (the chips' colour, a CJK font fallback).

The theme (``.streamlit/config.toml``) is dark with a light primary colour, which Streamlit also
uses as a text colour on the dark background (the select-slider's value), so it must stay light.
Streamlit draws a multiselect's chosen values in white on that primary colour (1.4:1; axe-core's
``color-contrast`` rule asks for 4.5:1), and no theme option sets the chips' text alone: the page
sets it to the dark theme's background colour (13:1). The browser test that runs axe on the
whole page (``tests/browser/test_browser_axe.py``) fails if a Streamlit release renames what the
selector names.
"""

from __future__ import annotations

import streamlit as st

DARK_BACKGROUND = "#0E1117"  # Streamlit's dark theme background: the chips' text
# Streamlit's own font first (Latin), then Simplified Chinese faces for machines whose default
# sans-serif has no CJK glyphs; the explorer reads the same list (``--spp-fonts``: custom
# properties reach into its shadow root).
PAGE_FONTS = ('"Source Sans", "Source Sans Pro", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", '
              '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif')
# text elements only: a span may be an icon (Material Symbols), code keeps its monospace face
TEXT_ELEMENTS = ":is(p, li, h1, h2, h3, h4, h5, h6, label, th, td, summary, button, input, textarea, [data-testid='stMetricValue'])"
PAGE_CSS = ("<style>"
            f"[data-testid='stMultiSelect'] [data-tag] {{ color: {DARK_BACKGROUND}; }}"
            f":root {{ --spp-fonts: {PAGE_FONTS}; }}"
            f".stApp {TEXT_ELEMENTS}, .stApp [data-testid='stMarkdownContainer'] {{ font-family: var(--spp-fonts); }}"
            "</style>")


def page_style() -> None:
    """The page's CSS (a style element only: Streamlit puts it out of the page's flow)."""
    st.html(PAGE_CSS)
