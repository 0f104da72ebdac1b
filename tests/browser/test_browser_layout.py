"""The page's layout at 1400 px and at 1024 px: nothing is cut.

Checked in Chromium on the page's own elements, never on pixels: no text cut by an ellipsis
(the cards, buttons), no table or dataframe wider than its place (the costs and family tables, the
top-5s), and in every Plotly chart no title, annotation, legend entry or tick label outside the
chart, and no legend over a tick label (the family's latency chart with all ten heads); the
explorer's photo and feature map side by side. Once on
the default page, once with every head, SPP-net's pyramid and average pooling (a 6 × 6 grid of
bin labels). The downloads sit below the explorer.

Screenshots go to ``artifacts/``; with ``SPP_VIZ_DOCS_SCREENSHOTS=1`` the default page's also go
to ``docs/`` (``page-1400.png``, ``page-1024.png``, and ``screenshot.png``: the top of the page at
1400 px with the explorer in use), which is how the docs' screenshots are retaken.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from spp_viz.defaults import HEAD_IDS
from spp_viz.devtools.server import EXPLORERS_JS, MEASURED_JS
from spp_viz.ui import words

from .conftest import ACTION_TIMEOUT_MS, COLD_TIMEOUT_MS, AppPage

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
TO_DOCS = os.environ.get("SPP_VIZ_DOCS_SCREENSHOTS") == "1"
EXPLORER = ".st-key-panel_explorer .spp-explorer"

# Everything cut on the page, as "what: text (how)" lines: empty when nothing is.
CUT_JS = """() => {
  const main = document.querySelector("[data-testid='stMain']");
  const out = [];
  const label = (e) => (e.textContent || "").trim().slice(0, 60);
  for (const e of main.querySelectorAll("*")) {  // text cut by an ellipsis
    const style = getComputedStyle(e);
    if (style.textOverflow === "ellipsis" && e.scrollWidth > e.clientWidth + 1 && label(e))
      out.push(`ellipsis: ${label(e)} (${e.scrollWidth} > ${e.clientWidth} px)`);
  }
  for (const t of main.querySelectorAll("[data-testid='stTable']")) {  // tables wider than their place
    const table = t.querySelector("table") || t;
    const right = Math.max(table.getBoundingClientRect().right, t.getBoundingClientRect().left + t.scrollWidth);
    if (right > t.getBoundingClientRect().right + 1) out.push(`table: ${label(t)} (ends ${right - t.getBoundingClientRect().right} px out)`);
  }
  for (const d of main.querySelectorAll("[data-testid='stDataFrame'] .dvn-scroller"))
    if (d.scrollWidth > d.clientWidth + 1) out.push(`dataframe: ${label(d.closest("[data-testid='stDataFrame']"))} (${d.scrollWidth} > ${d.clientWidth} px)`);
  const inside = (r, box) => r.left >= box.left - 2 && r.right <= box.right + 2 && r.top >= box.top - 2 && r.bottom <= box.bottom + 2;
  const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  for (const plot of main.querySelectorAll(".js-plotly-plot")) {
    const svg = plot.querySelector("svg.main-svg");
    if (!svg) continue;
    const box = svg.getBoundingClientRect();
    const name = (plot.querySelector(".gtitle") || {}).textContent || "untitled chart";
    const tickTexts = ".xaxislayer-above text, .yaxislayer-above text";  // every axis's tick labels
    const texts = plot.querySelectorAll(`.gtitle, .annotation-text, .legendtext, ${tickTexts}, .g-xtitle text, .g-ytitle text`);
    for (const t of texts) {
      const r = t.getBoundingClientRect();
      if (r.width && !inside(r, box)) out.push(`chart ${name.slice(0, 40)}: "${label(t)}" outside the chart`);
    }
    const ticks = [...plot.querySelectorAll(tickTexts)].map((t) => t.getBoundingClientRect());
    for (const entry of plot.querySelectorAll(".legend .traces")) {
      const r = entry.getBoundingClientRect();
      if (ticks.some((t) => t.width && meets(r, t))) out.push(`chart ${name.slice(0, 40)}: legend "${label(entry)}" over a tick label`);
    }
  }
  return out;
}"""


# True once the page's layout has held still for a second: the explorer's two views and the main
# column's height read the same at five polls in a row (a late rerun or relayout moves them).
SETTLED_JS = """() => {
  const root = (EXPLORERS)[0];
  const rect = (view) => { const r = root?.querySelector(`figure[data-view='${view}']`)?.getBoundingClientRect(); return r ? [r.x, r.y, r.width, r.height] : null; };
  const now = JSON.stringify([rect("photo"), rect("map"), document.querySelector("[data-testid='stMain']")?.scrollHeight]);
  const same = root !== undefined && window.__sppLayout === now;
  window.__sppLayout = now;
  window.__sppStill = same ? (window.__sppStill || 0) + 1 : 0;
  return window.__sppStill >= 5;
}""".replace("EXPLORERS", EXPLORERS_JS)


def measured(app: AppPage) -> None:
    app.page.wait_for_function(MEASURED_JS, timeout=COLD_TIMEOUT_MS, polling=200)
    app.page.wait_for_timeout(1500)  # a second phase asked for by the last run starts now, if any
    app.page.wait_for_function(MEASURED_JS, timeout=COLD_TIMEOUT_MS, polling=200)
    app.page.wait_for_function(SETTLED_JS, timeout=ACTION_TIMEOUT_MS, polling=200)  # plotly's last relayout


def cut(app: AppPage) -> str:
    """Everything cut, one line each ("" when nothing is)."""
    return "\n".join(app.page.evaluate(CUT_JS))


def keep(path: Path, name: str) -> None:
    if TO_DOCS:
        shutil.copyfile(path, DOCS / name)


def choose_every_head(app: AppPage) -> None:
    """Each head typed into the family's multiselect until its chip shows: an Enter that lands
    while a rerun redraws the list chooses nothing (a CI run once went on with nine heads)."""
    box = app.page.locator(".st-key-heads input")
    for head in HEAD_IDS:
        chip = app.page.locator(".st-key-heads").get_by_text(f"{head} ·", exact=False)
        for _attempt in range(3):
            if chip.count():
                break
            box.click()
            box.fill(head)
            box.press("Enter")
            box.press("Escape")
            app.wait_idle(COLD_TIMEOUT_MS, expect_rerun=True)  # a big head (SPPCSPC: 44 M parameters) is built and timed
        assert chip.count() == 1, f"{head} could not be chosen"


@pytest.mark.parametrize("width", [1400, 1024])
def test_nothing_is_cut(browser, app_server, width) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": 1000})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        app = AppPage(context.new_page(), app_server.url)
        app.open()
        measured(app)
        assert cut(app) == ""
        photo, feature_map = (app.page.locator(f"{EXPLORER} figure[data-view='{v}']").bounding_box() for v in ("photo", "map"))
        assert photo and feature_map and abs(photo["y"] - feature_map["y"]) < 1  # the photo and its map side by side
        explorer = app.page.locator(".st-key-panel_explorer").bounding_box()
        downloads = app.page.locator(".st-key-downloads").bounding_box()
        assert explorer and downloads and downloads["y"] > explorer["y"] + explorer["height"]  # the lesson comes first
        shot = app.screenshot(f"page-{width}.png", width=width)
        keep(shot, f"page-{width}.png")
        if width == 1400:
            keep(explorer_in_use(app), "screenshot.png")

        choose_every_head(app)
        app.set_levels("6,3,2,1")  # SPP-net's pyramid
        app.wait_idle(expect_rerun=True)
        app.page.locator(".st-key-pool").get_by_text("avg", exact=True).click()
        app.wait_idle(expect_rerun=True)
        # the labels follow the level of a bin clicked before (at 1400 px, level 2 or 4): show level 6's
        label_level = app.main.get_by_role("combobox", name=words.LABEL_LEVEL_LABEL)
        expect(label_level).to_be_visible(timeout=COLD_TIMEOUT_MS)
        app.page.wait_for_function(MEASURED_JS, timeout=COLD_TIMEOUT_MS, polling=200)  # no rerun to close the list
        app.choose(label_level, words.level_name(6))
        app.wait_idle(expect_rerun=True)
        # level 6's labels are in a table; every head has a tick in each of the cost chart's three panels
        expect(app.page.locator(".st-key-bin_label_table")).to_have_count(1, timeout=COLD_TIMEOUT_MS)
        expect(app.page.locator(".st-key-family_costs .xaxislayer-above text")).to_have_count(3 * len(HEAD_IDS),
                                                                                             timeout=COLD_TIMEOUT_MS)
        measured(app)
        app.screenshot(f"page-{width}-every-head.png", width=width)
        assert cut(app) == ""
        assert app.exceptions() == [] and app.errors() == []
    finally:
        context.close()


def explorer_in_use(app: AppPage) -> Path:
    """The top of the page at 1400 × 1500 px, receptive fields on, a feature cell hovered."""
    app.page.set_viewport_size({"width": 1400, "height": 1500})
    app.page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollTo(0, 0)")
    app.page.locator(f"{EXPLORER} input[data-control='rf']").check()
    view = app.page.locator(f"{EXPLORER} figure[data-view='map'] canvas")
    box = view.bounding_box()
    assert box
    view.hover(position={"x": box["width"] * 0.33, "y": box["height"] * 0.6})
    app.page.wait_for_timeout(300)
    path = REPO / "artifacts" / "screenshot.png"
    path.parent.mkdir(exist_ok=True)
    app.page.screenshot(path=str(path))
    app.page.locator(f"{EXPLORER} input[data-control='rf']").uncheck()
    app.page.mouse.move(0, 0)
    app.page.set_viewport_size({"width": 1400, "height": 1000})
    return path
