"""Text colours the page chooses are readable on the dark theme (WCAG 2 contrast of at least 4.5:1,
the threshold of axe-core's ``color-contrast`` rule for normal text).

The level colours are the pyramid explorer's level labels and captions; the theme's primary colour
is Streamlit's text colour for a select-slider's value on the dark background, and the background
of a multiselect's chips, whose text :mod:`spp_viz.ui.style` sets. The browser test
``tests/browser/test_browser_axe.py`` checks the drawn page; these catch a colour change without one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spp_viz.figures.style import LEVEL_COLOURS
from spp_viz.ui.style import DARK_BACKGROUND

CONFIG = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"
TEXT_CONTRAST = 4.5


def _luminance(hex_colour: str) -> float:
    """WCAG 2 relative luminance of ``#RRGGBB``."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    h = hex_colour.lstrip("#")
    r, g, b = (linear(int(h[i:i + 2], 16) / 255) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_contrast_formula_matches_known_pairs() -> None:
    assert contrast("#FFFFFF", "#000000") == pytest.approx(21.0)
    assert contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("colour", LEVEL_COLOURS)
def test_every_level_colour_reads_as_text_on_the_dark_background(colour: str) -> None:
    assert contrast(colour, DARK_BACKGROUND) >= TEXT_CONTRAST


def test_the_primary_colour_reads_on_the_background_and_the_chips_text_on_it() -> None:
    text = CONFIG.read_text(encoding="utf-8")
    assert re.search(r'^base = "dark"$', text, re.M)
    found = re.search(r'^primaryColor = "(#[0-9A-Fa-f]{6})"$', text, re.M)
    assert found is not None, "the theme's primaryColor is not a #RRGGBB line of .streamlit/config.toml"
    # one pair, read both ways: primary text on the background, and the chips' text (the background colour) on primary
    assert contrast(found.group(1), DARK_BACKGROUND) >= TEXT_CONTRAST
