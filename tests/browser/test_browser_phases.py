"""The page in two phases in a real browser: the photo first, the stopwatch after.

The page's ready component (``spp_viz.ui.measure``) sends ``drawn`` once the browser has painted
a run's page; that trigger's rerun measures, then draws the numbers. Read from the component's
own record (``window.__sppVizDrawnAt``, ``window.__sppVizMeasuringAtDrawn``) and from keyed
containers, never from pixels.
"""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

pytestmark = pytest.mark.browser

DRAWN = "() => (window.__sppVizDrawnAt || []).length"
MEASURING = "[class*='st-key-measuring']"


def fresh_photo() -> bytes:
    """A photo no cache or measurement store has seen (one random pixel)."""
    import os

    image = Image.open(io.BytesIO((__import__("conftest").ASSETS / "coffee_espresso.jpg").read_bytes())).convert("RGB")
    image = image.resize((360, 240))
    image.putpixel((0, 0), tuple(os.urandom(3)))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_an_upload_is_drawn_before_anything_is_timed(app) -> None:
    from playwright.sync_api import expect

    before = app.page.evaluate(DRAWN)
    app.upload_image_bytes("phases.png", fresh_photo(), "image/png")
    app.page.wait_for_function(f"() => ({DRAWN})() > {before}", timeout=120_000)
    # when the browser said "drawn", the costs and the family were still waiting for their numbers
    assert app.page.evaluate("() => window.__sppVizMeasuringAtDrawn") >= 2
    # the trigger's rerun measured them: the notes go, the tables come, timed on this machine's CPU
    expect(app.page.locator(MEASURING)).to_have_count(0, timeout=120_000)
    expect(app.page.locator(".st-key-panel_sppf").get_by_test_id("stDataFrame")).to_have_count(1)  # the receptive fields
    costs = app.page.locator(".st-key-sppf_costs")
    expect(costs.get_by_test_id("stTable")).to_have_count(1)
    app.wait_idle()
    # each head timed on this machine's CPU, with the timing worker's thread count
    expect(costs.get_by_text(re.compile(r"^cpu, \d+ threads?$"))).to_have_count(3)
    expect(app.page.locator(".st-key-panel_sppf").get_by_text("interleaved runs on cpu (")).to_have_count(1)
    region = app.page.locator(".st-key-panel_region")
    expect(region.get_by_text("one run on cpu")).to_have_count(1)
    assert app.exceptions() == [] and app.errors() == []


def test_a_measured_image_asks_for_nothing_again(new_app_page) -> None:
    """The sample was measured for the first tab; a second tab gets the numbers in its first run."""
    from playwright.sync_api import expect

    first = new_app_page()
    expect(first.page.locator(MEASURING)).to_have_count(0, timeout=120_000)
    second = new_app_page()
    expect(second.page.locator(MEASURING)).to_have_count(0)
    assert second.page.evaluate(DRAWN) == 0  # nothing to measure: no second phase asked for
