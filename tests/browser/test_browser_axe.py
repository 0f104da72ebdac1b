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

from typing import Any

import pytest

from spp_viz.devtools.server import MEASURED_JS

pytestmark = pytest.mark.browser
BAR = ("serious", "critical")


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


def test_the_default_page_has_no_serious_or_critical_axe_violation(app) -> None:
    app.page.wait_for_function(MEASURED_JS, timeout=120_000)
    with app.whole_page_in_view():
        results = _axe(app.page)
    found = [f"{v['id']} ({v['impact']}): {node['target']} {node.get('failureSummary', '')!r}"
             for v in results["violations"] if v["impact"] in BAR for node in v["nodes"]]
    assert found == [], "\n".join(found)
    contrast = next(r for r in results["passes"] if r["id"] == "color-contrast")
    assert any(_in_explorer(node) for node in contrast["nodes"]), "axe did not reach the explorer's level captions"
