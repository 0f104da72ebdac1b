"""The explorer's own levels control in a real browser.

The browser draws an edit's bins from the map's size with ``explorer.js``'s port of
:mod:`spp_viz.bins` before the server answers, so the port must be the rule: Chromium evaluates it
for 300 seeded (map side, n, rule) cases and for whole levels of every backbone and stage, and the answers
must be bins.py's and :func:`spp_viz.explorer.phase0_payload`'s. Its input check must accept what
:func:`spp_viz.options.parse_levels` accepts. Then, on the app: an edit there is drawn (the root's
``data-boxes``) before any message from the server, the server's values follow with the same
boxes, and the sidebar's levels box shows the same levels; a bad value shows one message and
sends nothing. State is read from ``data-*`` attributes, never from sentences or pixels.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict
from pathlib import Path

import pytest

import spp_viz
from spp_viz.bins import axis_bins, paper_window
from spp_viz.choices import BinRule, ChannelView, Pool
from spp_viz.defaults import BACKBONE_STAGES, MAX_LEVEL
from spp_viz.devtools.server import IDLE
from spp_viz.explorer import ExplorerPyramid, phase0_payload, to_json
from spp_viz.figures.style import PENDING_COLOUR
from spp_viz.options import parse_levels
from spp_viz.phase0 import phase0
from spp_viz.ui.explorer.words import EXPLORER_WORDS

pytestmark = pytest.mark.browser

ROOT = ".st-key-panel_explorer .spp-explorer"
SCRIPT = Path(spp_viz.__file__).parent / "ui" / "explorer" / "explorer.js"
EXPORTS = "window.sppExplorer = { axisBins, paperWindow, levelPart, parseLevels };"


@pytest.fixture
def module_page(browser):
    """A blank page with ``explorer.js``'s exports on ``window.sppExplorer`` (no app, no server)."""
    page = browser.new_page()
    page.set_content("<!doctype html><html><body></body></html>")
    page.add_script_tag(content=SCRIPT.read_text("utf-8") + "\n" + EXPORTS, type="module")
    page.wait_for_function("() => window.sppExplorer !== undefined", timeout=10_000)
    yield page
    page.close()


def axis_cases(count: int = 300) -> list[tuple[int, int, str]]:
    """Seeded (map side, n, rule): small maps (n often above the side), mid and large ones."""
    rng = random.Random(25)
    cases = []
    for i in range(count):
        a = rng.choice((rng.randint(1, 12), rng.randint(1, 80), rng.randint(80, 4000)))
        n = rng.randint(1, MAX_LEVEL) if i % 3 else rng.randint(1, 16)
        cases.append((a, n, (BinRule.PAPER, BinRule.ADAPTIVE)[i % 2].value))
    return cases


def test_the_browsers_rule_is_bins_py(module_page) -> None:
    cases = axis_cases()
    got = module_page.evaluate("cases => cases.map(([a, n, r]) => window.sppExplorer.axisBins(a, n, r))", cases)
    expected = [[list(r) for r in axis_bins(a, n, rule)] for a, n, rule in cases]
    assert got == expected
    windows = module_page.evaluate("cases => cases.map(([a, n]) => window.sppExplorer.paperWindow(a, n))", cases)
    assert windows == [list(paper_window(a, n)) for a, n, _ in cases]
    paper = [(a, n, rule) for a, n, rule in cases if rule == "paper"]
    assert sum(len(axis_bins(a, n, rule)) != n for a, n, rule in paper) >= 40  # grids that are not n x n
    assert sum(n > a for a, n, _ in cases) >= 20  # more bins than cells
    refused = module_page.evaluate("""() => [[0, 2], [3, 0]].map(([a, n]) => {
        try { window.sppExplorer.axisBins(a, n, 'adaptive'); return false; } catch (e) { return e instanceof RangeError; } })""")
    assert refused == [True, True]  # as bins.axis_bins refuses them


def test_the_browsers_levels_are_phase0s(module_page) -> None:
    """Every bin of a level (cells, box, receptive field, index, whether it differs from the
    adaptive rule, the grid's shape) as the browser builds it from the payload's axes."""
    rng = random.Random(7)
    checked = 0
    cases = [(backbone, stage, rule) for backbone, stages in BACKBONE_STAGES.items() for stage in stages for rule in BinRule]
    for backbone, stage, rule in cases:
        size = (rng.randint(40, 900), rng.randint(40, 900))
        levels = (1, 2, 3, 5, 7, 16)
        try:
            geometry = phase0(backbone, stage, size, levels, rule)
        except ValueError:  # an input too small for one cell on this backbone
            continue
        payload = to_json(phase0_payload(geometry, ("data:,", size), image_key=size, model_key=backbone,
                                         channel=ChannelView.MEAN, pool=Pool.MAX, sppf=(5, 3)))
        expected = [{k: v for k, v in payload["parts"][pid].items() if k != "id"} for pid in payload["levels"]]
        got = module_page.evaluate(
            """([levels, rule, axes, global]) => levels.map((n) => window.sppExplorer.levelPart(n, rule, axes, global))""",
            [list(levels), rule.value, payload["axes"], payload["global_context"]])
        assert json.loads(json.dumps(got)) == json.loads(json.dumps(expected)), (backbone, stage, rule, size)
        checked += 1
    assert checked >= len(cases) - 4


LEVEL_TEXTS = ("1,2,4", " 1 , 2 ", "psp", "PSP", " spp-net ", "default", "", " ", ",", "1,,2", "1,", "0", "1,65", "64",
               "1,1", "a", "1.0", "+1", "-1", "1 2", "0001", "1234567", "²", "١", "\x1c1,2\x85", "\ufeff1", "6,3,2,1")


def test_the_controls_check_is_parse_levels(module_page) -> None:
    pyramid = json.loads(json.dumps(asdict(ExplorerPyramid((1, 2, 4), BinRule.ADAPTIVE))))
    got = module_page.evaluate("([texts, p, words]) => texts.map((t) => window.sppExplorer.parseLevels(t, p, words))",
                               [list(LEVEL_TEXTS), pyramid, EXPLORER_WORDS])
    for text, answer in zip(LEVEL_TEXTS, got):
        try:
            expected = list(parse_levels(text))
        except ValueError:
            assert "error" in answer and answer["error"].count(".") >= 1, (text, answer)
            assert len(answer["error"]) <= 80, answer  # one short message
        else:
            assert answer == {"levels": expected}, text


# ----------------------------------------------------------------------------
# On the app

# In the page: the server updates the explorer had taken when Enter was pressed, and every later
# change of its boxes with the server updates it had taken by then.
RECORD = """(root) => {
  window.__levels = [];
  root.querySelector("input[data-control='levels']").addEventListener("keydown", (e) => {
    if (e.key === "Enter") window.__enterUpdates = root.dataset.serverUpdates; }, { capture: true });
  new MutationObserver(() => window.__levels.push({ boxes: root.dataset.boxes, updates: root.dataset.serverUpdates,
    pending: root.dataset.levelsPending, colours: root.dataset.colours }))
    .observe(root, { attributes: true, attributeFilter: ['data-boxes'] });
}"""


def quiet(app, seconds: float = 2.0) -> None:
    """Until the script has idled for ``seconds`` with no measuring note left (the page's second phase)."""
    deadline, since = time.monotonic() + 180, None
    while time.monotonic() < deadline:
        calm = app.page.locator(IDLE).count() > 0 and app.page.locator("[class*='st-key-measuring']").count() == 0
        since = (since or time.monotonic()) if calm else None
        if since is not None and time.monotonic() - since >= seconds:
            return
        time.sleep(0.2)


def attr(app, name: str) -> str:
    return app.page.locator(ROOT).get_attribute(f"data-{name}") or ""


def first_drawn(app, before: str, levels: str) -> dict:
    """The first bins RECORD saw after Enter: drawn before any message from the server, greyed
    as ``levels`` pending, and the same boxes as the server's answer drawn now."""
    first = next(r for r in app.page.evaluate("() => window.__levels") if r["boxes"] != before)
    assert first["updates"] == app.page.evaluate("() => window.__enterUpdates")  # drawn before any message from the server
    assert first["pending"] == levels and PENDING_COLOUR in first["colours"]  # greyed until the values come
    assert json.loads(first["boxes"]) == json.loads(attr(app, "boxes"))  # the server's bins are the browser's
    return first


def test_an_edit_in_the_explorer_is_drawn_before_the_server_answers(app) -> None:
    from playwright.sync_api import expect

    root = app.page.locator(ROOT)
    expect(root).to_have_attribute("data-phase", "1", timeout=120_000)
    quiet(app)
    full_runs, before = int(attr(app, "full-runs")), attr(app, "boxes")
    box = app.page.locator(f"{ROOT} input[data-control='levels']")
    expect(box).to_have_value("1,2,4")
    root.evaluate(RECORD)
    box.fill("1,2,3")
    box.press("Enter")
    expect(app.page.locator(".st-key-levels input")).to_have_value("1,2,3", timeout=60_000)  # the sidebar follows
    expect(root).to_have_attribute("data-levels-pending", "", timeout=60_000)
    quiet(app, 1.0)
    first = first_drawn(app, before, "1,2,3")
    assert [n for n, _ in json.loads(first["boxes"])] == [1, 2, 3]
    assert PENDING_COLOUR not in attr(app, "colours") and attr(app, "levels") == "1,2,3"
    assert app.page.locator(f"{ROOT} [data-key='pooled_3']").count() == 1
    assert int(attr(app, "full-runs")) > full_runs and attr(app, "mounts") == "1"
    assert attr(app, "client-redraws") == "1" and attr(app, "levels-sent") == "1"
    app.set_levels("1,2,4")  # a sidebar edit: the explorer's control follows
    expect(box).to_have_value("1,2,4", timeout=60_000)
    assert app.exceptions() == [] and app.errors() == []


# In the page: as RECORD, with Enter pressed in the sidebar's levels box.
RECORD_SIDEBAR = RECORD.replace('root.querySelector("input[data-control=\'levels\']")',
                                'document.querySelector(".st-key-levels input")')


def test_an_edit_in_the_sidebar_is_drawn_in_the_explorer_before_the_server_answers(app) -> None:
    """Enter in the sidebar's levels box draws the new bins in the explorer at once (greyed, from
    the map's size), before any message of the run it starts; the explorer sends nothing itself,
    and the run's values land on the same bins."""
    from playwright.sync_api import expect

    root = app.page.locator(ROOT)
    expect(root).to_have_attribute("data-phase", "1", timeout=120_000)
    quiet(app)
    full_runs, before = int(attr(app, "full-runs")), attr(app, "boxes")
    assert RECORD_SIDEBAR != RECORD
    root.evaluate(RECORD_SIDEBAR)
    sidebar = app.page.locator(".st-key-levels input")
    sidebar.fill("1,2,3")
    sidebar.press("Enter")
    expect(root).to_have_attribute("data-levels", "1,2,3", timeout=60_000)
    expect(root).to_have_attribute("data-levels-pending", "", timeout=60_000)
    quiet(app, 1.0)
    first_drawn(app, before, "1,2,3")
    assert PENDING_COLOUR not in attr(app, "colours") and int(attr(app, "full-runs")) > full_runs
    assert attr(app, "client-redraws") == "1" and attr(app, "levels-sent") == "0" and attr(app, "mounts") == "1"
    assert app.exceptions() == [] and app.errors() == []


def test_a_bad_value_is_one_message_and_sends_nothing(app) -> None:
    from playwright.sync_api import expect

    root = app.page.locator(ROOT)
    expect(root).to_have_attribute("data-phase", "1", timeout=120_000)
    quiet(app)
    full_runs, boxes = attr(app, "full-runs"), attr(app, "boxes")
    box = app.page.locator(f"{ROOT} input[data-control='levels']")
    message = app.page.locator(f"{ROOT} .levels-error")
    for bad in ("1,1", "0", "1,,2", "x"):
        box.fill(bad)
        box.press("Enter")
        expect(root).to_have_attribute("data-levels-error", "1")
        expect(message).to_be_visible()
        expect(box).to_have_attribute("aria-invalid", "true")
    app.page.wait_for_timeout(1500)
    assert attr(app, "levels-sent") == "0" and attr(app, "client-redraws") == "0"
    assert attr(app, "full-runs") == full_runs and attr(app, "boxes") == boxes
    box.fill("1,2,4")  # what is already drawn: the message goes, nothing is sent
    box.press("Enter")
    expect(message).to_be_hidden()
    assert attr(app, "levels-error") == "" and attr(app, "levels-sent") == "0"
