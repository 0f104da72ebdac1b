"""The pyramid-pooling family panel in a real browser: choose a head, see its row and its bars."""

from __future__ import annotations

import pytest

from .conftest import ACTION_TIMEOUT_MS

pytestmark = pytest.mark.browser


def measured(app) -> None:
    """The family's latencies are measured after the page is drawn (the second phase): until then the
    panel shows its measuring note, keyed ``measuring_family``, instead of the table."""
    from playwright.sync_api import expect

    expect(app.page.locator(".st-key-measuring_family")).to_have_count(0, timeout=ACTION_TIMEOUT_MS)


def test_selecting_a_head_adds_its_row_and_its_bars(app) -> None:
    from playwright.sync_api import expect

    panel = app.page.locator(".st-key-panel_family")
    expect(panel).to_be_visible()
    measured(app)
    table = panel.locator(".st-key-family_table")  # an HTML table (st.table): a cell per head
    expect(table.get_by_text("sppf", exact=True)).to_have_count(1, timeout=ACTION_TIMEOUT_MS)
    expect(table.get_by_text("ppm", exact=True)).to_have_count(0)

    box = app.page.locator(".st-key-heads input")
    box.click()
    box.fill("ppm")
    box.press("Enter")
    box.press("Escape")
    app.wait_idle(expect_rerun=True)
    measured(app)  # ppm is timed on its own: sppf, spp_yolo and spp keep their timings

    expect(table.get_by_text("ppm", exact=True)).to_have_count(1, timeout=ACTION_TIMEOUT_MS)
    # the cost chart has a bar (and a tick label) for it
    ticks = app.page.locator(".st-key-family_costs .js-plotly-plot .xtick text:text-is('ppm')")
    expect(ticks).to_have_count(1)
    expect(app.page.locator(".st-key-family_branches_ppm .js-plotly-plot")).to_have_count(1)
    assert app.exceptions() == [] and app.errors() == []
