"""The page's own CSS: the one thing Streamlit's theme options cannot say.

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
PAGE_CSS = f"<style>[data-testid='stMultiSelect'] [data-tag] {{ color: {DARK_BACKGROUND}; }}</style>"


def page_style() -> None:
    """The page's CSS (a style element only: Streamlit puts it out of the page's flow)."""
    st.html(PAGE_CSS)
