"""axe-core on the default page: no serious or critical accessibility violation.

axe-core (MPL-2.0; its ``axe.min.js`` ships in the PyPI package ``axe-playwright-python`` of the
test extra) is evaluated in the page, so nothing is fetched. What it covers: the whole default page
once its second phase is in (every panel, the sidebar and the downloads), with the viewport grown to
the page's height, since axe skips what Streamlit's main container has scrolled out of view; and
the pyramid explorer inside its component's open shadow root, which axe descends into (the test
checks that it did). Not covered: states the default page does not show (hover tips, the SPPF
windows, other uploads), and Streamlit's own minor findings, which are below the bar.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from spp_viz.devtools.server import MEASURED_JS

pytestmark = pytest.mark.browser
BAR = ("serious", "critical")
EXPLORER_CAPTIONS = ".st-key-panel_explorer .spp-explorer figure[data-key^='pooled_'] figcaption"


def _axe(page: Any) -> dict[str, Any]:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        pytest.fail("axe-playwright-python is missing: pip install -e '.[test]'", pytrace=False)
    results: dict[str, Any] = Axe().run(page, options={"resultTypes": ["violations", "passes"]}).response
    return results


def _in_explorer(node: dict[str, Any]) -> bool:
    """A node inside the explorer's shadow root: its target is a path of selectors through it."""
    target = node["target"]
    return isinstance(target[0], list) and any("pooled_" in part for part in target[0])


def _settled(app) -> None:
    """The second phase is in and the page has stayed so for two seconds (a warm server may serve
    it from its store in the first run, before the explorer has drawn)."""
    deadline = time.monotonic() + 120
    since = None
    while time.monotonic() < deadline:
        done = bool(app.page.evaluate(MEASURED_JS))
        since = (since or time.monotonic()) if done else None
        if since is not None and time.monotonic() - since >= 2.0:
            return
        time.sleep(0.2)
    pytest.fail("the default page did not settle within 120 s", pytrace=False)


def test_the_default_page_has_no_serious_or_critical_axe_violation(app) -> None:
    from playwright.sync_api import expect

    _settled(app)
    with app.whole_page_in_view():
        expect(app.page.locator(EXPLORER_CAPTIONS).first).to_be_visible(timeout=60_000)  # Playwright's CSS pierces open shadow roots
        results = _axe(app.page)
    found = [f"{v['id']} ({v['impact']}): {node['target']} {node.get('failureSummary', '')!r}"
             for v in results["violations"] if v["impact"] in BAR for node in v["nodes"]]
    assert found == [], "\n".join(found)
    contrast = next(r for r in results["passes"] if r["id"] == "color-contrast")
    assert any(_in_explorer(node) for node in contrast["nodes"]), "axe did not reach the explorer's level captions"
