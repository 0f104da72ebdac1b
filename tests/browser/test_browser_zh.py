"""The page in Simplified Chinese in Chromium.

``?lang=zh`` (and, without it, a browser whose language is ``zh-CN``) draws the page in Chinese:
``<html lang="zh-CN">``; no run of three or more English words in the main area's text, the
explorer's (inside its shadow root) or its ARIA labels, outside names (backbones, heads, ImageNet
classes, sample files) and code; axe-core finds no serious or critical violation; nothing is cut at
1400 or 1024 px. A screenshot goes to ``artifacts/page-zh.png`` (and, with
``SPP_VIZ_DOCS_SCREENSHOTS=1``, to ``docs/page-zh.png``). The English page's URL, opened by
another Chinese browser, is English.
"""

from __future__ import annotations

import pytest
from english_text import english_runs

from spp_viz.choices import Language
from spp_viz.i18n import HTML_LANG, _, speaking

from .conftest import ACTION_TIMEOUT_MS, COLD_TIMEOUT_MS, AppPage
from .test_browser_axe import BAR, _axe
from .test_browser_layout import cut, keep, measured

pytestmark = pytest.mark.browser

# every text node of the main area and of the explorer's shadow root, one per line, outside code;
# and the explorer's ARIA labels
TEXTS_JS = """() => {
  const out = [];
  const skip = new Set(["CODE", "PRE", "SCRIPT", "STYLE", "NOSCRIPT"]);
  const walk = (root) => {
    for (const node of root.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) { if (node.data.trim()) out.push(node.data.trim()); continue; }
      if (node.nodeType !== Node.ELEMENT_NODE || skip.has(node.tagName)) continue;
      if (node.shadowRoot) walk(node.shadowRoot);
      walk(node);
    }
  };
  walk(document.querySelector("[data-testid='stMain']"));
  for (const e of document.querySelectorAll(".st-key-panel_explorer *")) {
    if (e.shadowRoot) for (const l of e.shadowRoot.querySelectorAll("[aria-label]")) out.push(l.getAttribute("aria-label"));
  }
  return out;
}"""
def open_chinese(context, url: str) -> AppPage:
    app = AppPage(context.new_page(), url)
    app.goto(COLD_TIMEOUT_MS)
    with speaking(Language.ZH):
        title = _("Paper rule vs adaptive rule")
    app.wait_for_text(title, COLD_TIMEOUT_MS)
    app.wait_idle(COLD_TIMEOUT_MS)
    measured(app)
    return app


@pytest.mark.parametrize("width", [1400, 1024])
def test_the_chinese_page(browser, app_server, width) -> None:
    context = browser.new_context(viewport={"width": width, "height": 1000})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        app = open_chinese(context, app_server.url + "/?lang=zh")
        assert app.page.evaluate("() => document.documentElement.lang") == HTML_LANG[Language.ZH]
        assert cut(app) == ""
        assert app.exceptions() == [] and app.errors() == []
        shot = app.screenshot(f"page-zh-{width}.png", width=width)
        if width != 1400:
            return
        keep(shot, "page-zh.png")
        texts = app.page.evaluate(TEXTS_JS)
        assert len(texts) > 100
        assert english_runs(texts) == [], english_runs(texts)
        with app.whole_page_in_view():
            results = _axe(app.page)
        found = [f"{v['id']} ({v['impact']}): {node['target']}" for v in results["violations"] if v["impact"] in BAR
                 for node in v["nodes"]]
        assert found == [], "\n".join(found)
    finally:
        context.close()


def test_a_chinese_browser_gets_the_chinese_page_and_the_switch_gives_english(browser, app_server) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        app = open_chinese(context, app_server.url)
        assert app.page.evaluate("() => navigator.language") == "zh-CN"
        assert app.page.evaluate("() => document.documentElement.lang") == "zh-CN"
        app.page.locator(".st-key-lang").get_by_text("English", exact=True).click()
        app.settle("Paper rule vs adaptive rule", COLD_TIMEOUT_MS)
        app.page.wait_for_function("() => document.documentElement.lang === 'en'", timeout=ACTION_TIMEOUT_MS)
        # the English page's URL names its language: another Chinese browser opens it in English
        app.page.wait_for_function("() => location.search.includes('lang=en')", timeout=ACTION_TIMEOUT_MS)
        other = AppPage(context.new_page(), app.page.url).open(COLD_TIMEOUT_MS)
        assert other.page.evaluate("() => document.documentElement.lang") == "en"
    finally:
        context.close()
