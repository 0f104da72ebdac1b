"""The ERF, region and scales panels in a real browser: the ERF on demand, the region's two top-5s, the scales run."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_erf_region_and_scales_draw_on_demand(app) -> None:
    from playwright.sync_api import expect

    # region pooling is drawn with the page: the box over the photo and the two top-5 tables
    region = app.page.locator(".st-key-panel_region")
    expect(region.locator(".st-key-region_box .js-plotly-plot")).to_have_count(1)
    expect(region.get_by_test_id("stDataFrame")).to_have_count(2)

    # the ERF: nothing until asked; the button draws the heatmap with the bin box and the RF box
    erf = app.page.locator(".st-key-panel_erf")
    expect(erf.locator(".st-key-erf_map .js-plotly-plot")).to_have_count(0)
    erf.locator(".st-key-erf_run button").click()
    expect(erf.locator(".st-key-erf_map .js-plotly-plot")).to_have_count(1, timeout=120_000)
    expect(erf.locator(".st-key-erf_map .js-plotly-plot .layer-above .shapelayer path")).to_have_count(2)

    # scales: one forward per size behind a button, then the table and the chart
    scales = app.page.locator(".st-key-panel_scales")
    scales.locator(".st-key-scales_run button").click()
    expect(scales.locator(".st-key-scales_chart .js-plotly-plot")).to_have_count(1, timeout=180_000)
    expect(scales.get_by_test_id("stDataFrame")).to_have_count(1)
    # "What the backbone sees": top-5 at the 224-px training resolution next to the working size
    sees = app.page.locator(".st-key-panel_predictions")
    expect(sees.get_by_test_id("stExpander").get_by_test_id("stDataFrame")).to_have_count(2)
    assert app.exceptions() == [] and app.errors() == []
