"""The pyramid explorer in a real browser: linked hover, click and keyboard selection, the
client-side levels / receptive-field / SPP-SPPF controls. State is read from the root's
``data-*`` attributes (``data-hovered``, ``data-selected``, ``data-highlighted`` ...), never
from pixels; the session's run counters (``data-full-runs``, ``data-fragment-runs``) prove what reran."""

from __future__ import annotations

import re
import time

import pytest

from spp_viz.devtools.server import IDLE
from spp_viz.explorer import sppf_windows

pytestmark = pytest.mark.browser

ROOT = ".st-key-panel_explorer .spp-explorer"
MEASURING = "[class*='st-key-measuring']"


def root(app):
    """The explorer's root (inside the component's shadow root), once it has drawn a view and
    the page's measuring run (asked for by the browser after the first draw) is over."""
    from playwright.sync_api import expect

    deadline = time.monotonic() + 120
    since = None
    while time.monotonic() < deadline:
        quiet = app.page.locator(IDLE).count() > 0 and app.page.locator(MEASURING).count() == 0
        since = (since or time.monotonic()) if quiet else None
        if since is not None and time.monotonic() - since >= 2.0:
            break
        time.sleep(0.2)
    loc = app.page.locator(ROOT)
    expect(loc).to_have_attribute("data-levels", re.compile(r"\d"), timeout=60_000)
    return loc


def attr(app, name: str) -> str:
    return app.page.locator(ROOT).get_attribute(f"data-{name}") or ""


def runs(app) -> tuple[int, int]:
    """(full runs, fragment runs): the session's counters, which the explorer keeps as attributes."""
    return int(attr(app, "full-runs")), int(attr(app, "fragment-runs"))


def canvas(app, view: str, level: int | None = None):
    where = f"[data-key='pooled_{level}']" if level is not None else f"[data-view='{view}']"
    return app.page.locator(f"{ROOT} figure{where} canvas")


def hover_at(app, loc, fx: float, fy: float) -> None:
    loc.hover(position=_at(loc, fx, fy))


def test_hover_on_each_view_lights_the_other_two(app):
    root(app)
    assert attr(app, "levels") == "1,2,4"
    hover_at(app, canvas(app, "pooled", 2), 0.75, 0.25)  # level 2, bin (0, 1)
    assert attr(app, "hovered") == "2,0,1"
    assert set(attr(app, "highlighted").split()) == {"photo:2,0,1", "map:2,0,1", "pooled:2,0,1"}
    tip = app.page.locator(f"{ROOT} .tip")
    assert "level 2, bin (0, 1)" in tip.inner_text()
    hover_at(app, canvas(app, "map"), 0.02, 0.02)  # a corner cell: one bin of every level pools it
    lit = set(attr(app, "highlighted").split())
    assert {"pooled:1,0,0", "pooled:2,0,0", "pooled:4,0,0", "photo:4,0,0"} <= lit
    assert attr(app, "hovered-cell") == "0,0"
    hover_at(app, canvas(app, "photo"), 0.99, 0.99)  # bottom-right: the current (finest) level's last bin
    assert attr(app, "hovered") == "4,3,3"
    assert "map:4,3,3" in attr(app, "highlighted") and "pooled:4,3,3" in attr(app, "highlighted")
    assert "level 4, bin (3, 3)" in (canvas(app, "photo").get_attribute("aria-label") or "")


def test_click_and_keys_select_with_one_fragment_rerun_and_no_explorer_redraw(app):
    root(app)
    redraws = attr(app, "server-redraws")
    full, fragment = runs(app)
    canvas(app, "pooled", 2).click(position=_at(canvas(app, "pooled", 2), 0.25, 0.75))  # bin (1, 0)
    app.settle("Selected: level 2, bin (1, 0)")
    assert attr(app, "selected") == "2,1,0"
    assert runs(app) == (full, fragment + 1)
    assert attr(app, "server-redraws") == redraws
    assert "bin (1, 0) of level 2" in app.page.locator(".st-key-panel_erf").inner_text()  # the ERF follows
    pooled = canvas(app, "pooled", 2)
    pooled.focus()
    pooled.press("ArrowRight")
    app.settle("Selected: level 2, bin (1, 1)")
    pooled.press("]")
    app.settle("Selected: level 4")
    assert attr(app, "selected") == "4,3,3"
    assert runs(app)[0] == full
    assert attr(app, "server-redraws") == redraws


def test_levels_and_rf_toggles_cause_no_rerun(app):
    root(app)
    before = runs(app)
    app.page.locator(f"{ROOT} input[data-level='4']").uncheck()
    assert attr(app, "hidden") == "4"
    assert canvas(app, "pooled", 4).is_hidden()
    app.page.locator(f"{ROOT} input[data-control='rf']").check()
    assert attr(app, "rf") == "1"
    app.page.wait_for_timeout(1500)
    assert runs(app) == before


def test_sppf_switch_draws_clipped_windows_near_a_border(app):
    root(app)
    app.page.locator(f"{ROOT} input[data-control='mode-sppf']").check()
    assert attr(app, "mode") == "sppf"
    hover_at(app, canvas(app, "map"), 0.01, 0.5)
    row, col = (int(v) for v in attr(app, "hovered-cell").split(","))
    assert col == 0
    h, w = _map_shape(app)
    expected = " ".join(",".join(map(str, win.as_json())) for win in sppf_windows(row, col, 5, 3, h, w))
    assert attr(app, "sppf-windows") == expected
    assert expected.split()[0].split(",")[2] == "0"  # clipped at the left border


def _map_shape(app) -> tuple[int, int]:
    text = app.page.locator(".st-key-panel_explorer").inner_text()
    match = re.search(r"× (\d+) × (\d+) = [\d,]+ numbers at stage", text)
    assert match, text
    return int(match.group(1)), int(match.group(2))


def _at(loc, fx: float, fy: float) -> dict:
    box = loc.bounding_box()
    assert box is not None
    return {"x": fx * box["width"], "y": fy * box["height"]}


def test_sppf_windows_have_a_legend_and_dim_the_grid(app):
    root(app)
    legend = app.page.locator(f"{ROOT} [data-testid='explorer-legend']")
    assert legend.locator("[data-legend^='window-']").count() == 0  # SPP bins: no window legend
    app.page.locator(f"{ROOT} input[data-control='mode-sppf']").check()
    items = legend.locator("[data-legend^='window-']")
    assert [items.nth(i).get_attribute("data-legend") for i in range(items.count())] == ["window-5", "window-9", "window-13"]
    assert "2k − 1 = 9: 9 × 9 cells" in items.nth(1).inner_text() and "px" in items.nth(1).inner_text()
    colours = dict(pair.split(":") for pair in attr(app, "colours").split(","))
    assert len(set(colours.values())) == len(colours) == 3  # each level its own colour
    app.page.locator(f"{ROOT} input[data-control='mode-spp']").check()
    assert legend.locator("[data-legend^='window-']").count() == 0


def test_the_paper_rules_differing_bins_are_drawn_dashed(app):
    root(app)
    assert attr(app, "differing") == "0"  # the adaptive rule: nothing differs
    app.page.locator(".st-key-bins").get_by_text("paper", exact=True).click()
    app.settle("differ from the adaptive rule")
    from playwright.sync_api import expect

    expect(app.page.locator(ROOT)).not_to_have_attribute("data-differing", "0", timeout=60_000)
    claimed = app.page.locator(".st-key-panel_rules").inner_text()
    moved = sum(int(m.group(1)) for m in re.finditer(r"level \d+: (\d+) of \d+ bins differ", claimed))
    assert int(attr(app, "differing")) == moved  # every bin the panel counts is drawn, and no other
    assert app.page.locator(f"{ROOT} [data-legend='differ']").count() == 1
