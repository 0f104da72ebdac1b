"""The page's link in Chromium: opening a link shows its view, the address bar follows every
change, back and forward step through the views without a reload, and "Copy link" copies the
address of the view on screen."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from spp_viz.devtools.server import IDLE, MEASURED_JS
from spp_viz.ui import links, state

EXPLORER = ".st-key-panel_explorer .spp-explorer"
LINK = f".st-key-{links.KEY_LINK}"

pytestmark = pytest.mark.browser


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def measured(app) -> None:
    """The page's runs are over, its measuring run included: a step taken while that run starts
    is merged with it, and the merged run may carry the address the browser had before."""
    app.page.wait_for_function(MEASURED_JS, timeout=240_000, polling=200)


def wait_for_query(app, wanted: dict[str, str]) -> None:
    """Until the address bar's query is ``wanted`` and the page's runs are over."""
    expect_query = {k: [v] for k, v in wanted.items()}
    app.page.wait_for_function("() => true")  # a tick for the history update
    for _ in range(300):
        if query_of(app.page.url) == expect_query and app.page.locator(IDLE).count():
            measured(app)
            return
        app.page.wait_for_timeout(200)
    assert query_of(app.page.url) == expect_query


def levels_box(app):
    return app.page.locator(f".st-key-{state.KEY_LEVELS} input")


def test_a_link_opens_its_view_and_copy_link_copies_the_address(new_app_page, browser) -> None:
    app = new_app_page(open_=False)
    app.url = app.url.rstrip("/") + "/?max_side=384&levels=1%2C2&pool=avg&bin=2%2C1%2C0&nonsense=1"
    app.open()
    expect(levels_box(app)).to_have_value("1,2")
    expect(app.page.locator(EXPLORER)).to_have_attribute("data-levels", "1,2", timeout=60_000)
    expect(app.page.locator(".st-key-selection_text")).to_contain_text("level 2, bin (1, 0)")
    expect(app.page.locator(f".st-key-{links.KEY_LINK_PROBLEM_LIST}")).to_have_count(1)  # the unknown key, in one line
    assert app.page.get_by_test_id("stException").count() == 0
    # the link shown is the view's: the opened query less the key that is not a setting, and the
    # page's language (a copied link always names it, so it opens in English in any browser)
    code = app.page.locator(f"{LINK} code")
    expect(code).to_contain_text("levels=1%2C2")
    shown = code.inner_text().strip()
    assert query_of(shown) == {"max_side": ["384"], "levels": ["1,2"], "pool": ["avg"], "bin": ["2,1,0"], "lang": ["en"]}
    # Copy link: Streamlit's copy button on the code block puts it on the clipboard
    app.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    app.page.locator(LINK).hover()
    app.page.locator(LINK).get_by_role("button", name="Copy to clipboard").click()
    copied = app.page.evaluate("() => navigator.clipboard.readText()")
    assert copied.strip() == shown and copied.startswith(app.url.split("?")[0].rstrip("/"))
    # the copied link, opened in a new session (any replica: nothing of it is on the server), is the same view
    other = new_app_page(open_=False)
    other.url = copied.strip()
    other.open()
    expect(levels_box(other)).to_have_value("1,2")
    expect(other.page.locator(".st-key-selection_text")).to_contain_text("level 2, bin (1, 0)")
    expect(other.page.locator(f"{LINK} code")).to_have_text(shown)
    expect(other.page.locator(f".st-key-{links.KEY_LINK_PROBLEM_LIST}")).to_have_count(0)


def test_back_and_forward_step_through_the_views(new_app_page) -> None:
    app = new_app_page(open_=False)
    app.url = app.url.rstrip("/") + "/?max_side=384"
    app.open()
    measured(app)
    navigations: list[str] = []
    app.page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == app.page.main_frame else None)
    app.set_levels("1,2")
    wait_for_query(app, {"max_side": "384", "levels": "1,2"})
    expect(app.page.locator(EXPLORER)).to_have_attribute("data-levels", "1,2", timeout=60_000)
    app.page.locator(f".st-key-{state.KEY_POOL}").get_by_text("avg", exact=True).click()
    wait_for_query(app, {"max_side": "384", "levels": "1,2", "pool": "avg"})
    expect(app.page.locator(f"{LINK} code")).to_contain_text("pool=avg")
    loads = app.page.evaluate("() => performance.getEntriesByType('navigation').length")

    app.page.go_back()
    wait_for_query(app, {"max_side": "384", "levels": "1,2"})
    expect(app.page.locator(f"{LINK} code")).not_to_contain_text("pool=avg", timeout=60_000)
    expect(levels_box(app)).to_have_value("1,2")
    app.page.go_back()
    wait_for_query(app, {"max_side": "384"})
    expect(levels_box(app)).to_have_value("1,2,4", timeout=60_000)
    expect(app.page.locator(EXPLORER)).to_have_attribute("data-levels", "1,2,4", timeout=60_000)
    app.page.go_forward()
    wait_for_query(app, {"max_side": "384", "levels": "1,2"})
    expect(levels_box(app)).to_have_value("1,2", timeout=60_000)
    expect(app.page.locator(EXPLORER)).to_have_attribute("data-levels", "1,2", timeout=60_000)
    # no reload: the same document all along (a reload would start a new navigation entry and session)
    assert app.page.evaluate("() => performance.getEntriesByType('navigation').length") == loads
    assert app.page.get_by_test_id("stException").count() == 0
