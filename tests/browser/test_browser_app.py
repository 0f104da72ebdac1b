"""End to end in a real browser: the app as a user meets it (``streamlit run`` + Chromium).

Screenshots of the main scenarios go to ``artifacts/`` (git-ignored).
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest
from conftest import PANELS  # tests/conftest.py, shared with the AppTest tests
from PIL import Image

from spp_viz.devtools.server import IDLE

REPO = Path(__file__).resolve().parents[2]
ASSETS = REPO / "assets"
# SPP vector, size sweep, SPPF branches, predictions: the Plotly charts every default page has (the
# rule comparison only appears sometimes); the bins, the map and the pooled levels are the explorer.
MIN_DEFAULT_PLOTS = 4
EXPLORER = ".st-key-panel_explorer .spp-explorer"  # the pyramid explorer's root, in its shadow root

pytestmark = pytest.mark.browser


def _resized(name: str, size: tuple[int, int], folder: Path, quality: int = 90) -> Path:
    path = folder / f"{Path(name).stem}_{size[0]}x{size[1]}.jpg"
    with Image.open(ASSETS / name) as im:
        im.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(path, "JPEG", quality=quality)
    return path


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("photos")


def _assert_no_failure(app) -> None:
    assert app.exceptions() == [], app.exceptions()
    assert app.errors() == [], app.errors()


def _assert_all_panels(app) -> None:
    headers = app.headers()
    for panel in PANELS:
        assert panel in headers, (panel, headers)
    plots = app.main.locator(".js-plotly-plot")
    plots.nth(MIN_DEFAULT_PLOTS - 1).wait_for(state="attached")
    assert app.plot_count() >= MIN_DEFAULT_PLOTS


# ----------------------------------------------------------------------------
# (a) cold page


def test_cold_page_shows_every_panel_for_the_sample(app) -> None:
    app.wait_for_text("Original 451 x 300, analysed at 451 x 300")
    _assert_all_panels(app)
    _assert_no_failure(app)
    # The default pyramid 1,2,4 on EfficientNet-Lite0's 1280 channels: 1280 * 21.
    assert app.main.get_by_text("26,880", exact=True).count() >= 1
    _explorer_levels(app, "1,2,4")
    for n in (1, 2, 4):
        assert app.page.locator(f"{EXPLORER} [data-key='pooled_{n}'] canvas").count() == 1
    app.screenshot("cold_page.png")


# ----------------------------------------------------------------------------
# (b) + (c) + (d): upload an odd-sized photo, change the levels, click a bin


def test_upload_levels_and_bin_selection(app, photos) -> None:
    path = _resized("chelsea_cat.jpg", (517, 333), photos)
    app.upload_image(path)
    app.settle("Original 517 x 333, analysed at 517 x 333")
    app.wait_for_text(re.compile(r"chelsea_cat_517x333\.jpg"))
    _assert_all_panels(app)
    _assert_no_failure(app)
    app.screenshot("uploaded.png")

    # (c) levels 1,2,3: 1280 * (1 + 4 + 9) = 17,920, formatted with a thousands separator.
    app.set_levels("1,2,3")
    app.settle("17,920")
    _explorer_levels(app, "1,2,3")
    assert app.page.locator(f"{EXPLORER} [data-key='pooled_4']").count() == 0
    assert app.main.get_by_text("26,880", exact=True).count() == 0
    app.wait_for_text("Original 517 x 333")  # still the upload, not the sample
    _assert_no_failure(app)
    app.screenshot("levels_123.png")

    # (d) a real click inside level 2's heatmap: the bottom-right cell of the 2 x 2 grid.
    # Before any click the caption names the default (strongest) bin of the finest level.
    app.wait_for_text(re.compile(r"Selected: level 3, bin \(\d, \d\)"))
    # Row 0 is drawn at the top (image orientation): bottom-right is bin (1, 1).
    _click_pooled_cell(app, 2, 0.75, 0.75, "Selected: level 2, bin (1, 1)")
    app.wait_idle()
    assert app.page.locator(EXPLORER).get_attribute("data-selected") == "2,1,1"
    _assert_no_failure(app)
    app.screenshot("selected_bin.png")


# ----------------------------------------------------------------------------
# (e) a bad file, then a good one


def test_bad_upload_shows_one_error_then_a_good_one_works(app, photos) -> None:
    bad = photos / "bad.png"
    bad.write_bytes(b"not an image")
    app.upload_image(bad)
    app.settle(re.compile(r'"bad\.png" is'))
    errors = app.errors()
    assert len(errors) == 1, errors
    assert errors[0].startswith('"bad.png" is') and "not an image" in errors[0], errors
    assert app.exceptions() == []
    assert "Pooled activations" not in app.headers()
    app.screenshot("bad_upload.png")

    good = _resized("coffee_espresso.jpg", (333, 517), photos)
    app.upload_image(good)
    app.settle("Original 333 x 517, analysed at 333 x 517")
    _assert_all_panels(app)
    _assert_no_failure(app)


def test_svg_is_refused_by_the_uploader(app, photos) -> None:
    """The uploader's type filter refuses an .svg before it reaches the server; the page keeps working."""
    svg = photos / "drawing.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', encoding="utf-8")
    app.upload_image(svg)
    app.wait_for_text(re.compile(r"not allowed", re.I), within=".st-key-image")
    app.wait_idle()
    _assert_no_failure(app)
    app.wait_for_text("Original 451 x 300")  # still the sample
    assert app.exceptions() == []


def test_file_names_are_shown_literally(app) -> None:
    name = "[x](https://example.com) **b** $y$.png"
    with Image.open(ASSETS / "chelsea_cat.jpg") as im:
        buffer = io.BytesIO()
        im.convert("RGB").resize((301, 203)).save(buffer, "PNG")
    app.upload_image_bytes(name, buffer.getvalue(), "image/png")
    app.settle("Original 301 x 203")
    _assert_no_failure(app)
    assert app.main.locator("a[href='https://example.com']").count() == 0
    # the reader sees the name as typed (a zero-width space, invisible, breaks the autolink)
    assert name in app.main.inner_text().replace("\u200b", "")


# ----------------------------------------------------------------------------
# (f) a 12 MP phone-sized photo


def test_12_megapixel_jpeg_completes(app, photos) -> None:
    big = _resized("chelsea_cat.jpg", (4000, 3000), photos, quality=85)
    app.upload_image(big)
    app.settle("Original 4000 x 3000, analysed at 1024 x 768", 120_000)
    _assert_all_panels(app)
    _assert_no_failure(app)


# ----------------------------------------------------------------------------
# (g) four sessions at once


CONCURRENT = {
    "chelsea_cat.jpg": (517, 333),
    "coffee_espresso.jpg": (601, 401),
    "camera_tripod.jpg": (389, 457),
    "rocket_launch.jpg": (480, 640),
}


@pytest.fixture(scope="module")
def expected_top1(photos) -> dict[str, tuple[Path, str]]:
    """Each upload's top ImageNet class, computed by the engine the app uses (same working size)."""
    from spp_viz.analysis import extract_features, predict
    from spp_viz.backbones import load_backbone
    from spp_viz.images import load_image

    backbone = load_backbone("efficientnet_lite0", download=False, device="cpu")
    out = {}
    for name, size in CONCURRENT.items():
        path = _resized(name, size, photos)
        features = extract_features(backbone, load_image(path.read_bytes()).image)
        out[name] = (path, predict(backbone, features)[0].label)
    assert len({label for _, label in out.values()}) == len(out), out  # they tell the sessions apart
    return out


def test_four_concurrent_sessions_each_see_their_own_image(new_app_page, app_server, expected_top1) -> None:
    # Four sessions open at once; each uploads as soon as its uploader is there (possibly while
    # its first run on the sample photo is still going: the upload's rerun replaces it). All four
    # uploads are triggered before any is awaited, so the server analyses them concurrently.
    sessions = [new_app_page(open_=False).goto() for _ in CONCURRENT]
    for app in sessions:
        app.page.locator(".st-key-image").get_by_test_id("stFileUploaderDropzoneInput").wait_for(state="attached")
    for app, (path, _label) in zip(sessions, expected_top1.values()):
        app.upload_image(path)
    for app, (name, size) in zip(sessions, CONCURRENT.items()):
        path, label = expected_top1[name]
        app.settle(f"Original {size[0]} x {size[1]}, analysed at {size[0]} x {size[1]}", 120_000)
        app.wait_for_text(path.name)
        _assert_all_panels(app)
        _assert_no_failure(app)
        # Its own top class: in the top-1 metric when the app shows one, and in the chart.
        app.main.get_by_text(label).first.wait_for(state="attached")
        top1 = app.main.get_by_test_id("stMetric").filter(has_text="Top-1")
        if top1.count():
            assert top1.first.get_by_test_id("stMetricValue").inner_text().strip() == label
        for other_name, (other_path, other_label) in expected_top1.items():
            if other_name != name:
                w, h = CONCURRENT[other_name]
                assert app.main.get_by_text(f"Original {w} x {h}").count() == 0
                assert app.main.get_by_text(other_path.name).count() == 0
                if top1.count():
                    assert other_label not in top1.first.inner_text()
    sessions[0].screenshot("concurrent_session_1.png")
    assert app_server.alive()
    log = app_server.output()
    assert "Traceback" not in log, log[-4000:]


# ----------------------------------------------------------------------------
# (h) a bin click reruns only the selection fragment; (i) the camera is a third source


def _counter(app, key: str) -> int:
    """A session's run counter (``full_runs`` / ``fragment_runs``): the explorer's ``data-full-runs``
    / ``data-fragment-runs`` attribute (the page shows no counter)."""
    value = app.page.locator(EXPLORER).get_attribute(f"data-{key.replace('_', '-')}")
    assert value is not None and value.isdigit(), value
    return int(value)


def _wait_quiet(app, quiet_s: float = 2.0) -> None:
    """Until the page's measuring run (the browser asks for it once the page is drawn) is over."""
    deadline = time.monotonic() + 120
    since = None
    while time.monotonic() < deadline:
        quiet = app.page.locator(IDLE).count() > 0 and app.page.locator("[class*='st-key-measuring']").count() == 0
        since = (since or time.monotonic()) if quiet else None
        if since is not None and time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.2)


def _explorer_levels(app, levels: str) -> None:
    """Wait until the explorer draws the pyramid ``levels`` ("1,2,4")."""
    from playwright.sync_api import expect

    expect(app.page.locator(EXPLORER)).to_have_attribute("data-levels", levels, timeout=60_000)


def _click_pooled_cell(app, level: int, fx: float, fy: float, selected: str) -> int:
    """Click level ``level``'s pooled view in the explorer at a fraction of its size, until the
    selection line says ``selected`` (the explorer sends a selection again when a full rerun
    raced it; a retry covers a click that lands before the view is drawn). Returns the clicks."""
    from playwright.sync_api import expect

    view = app.page.locator(f"{EXPLORER} [data-key='pooled_{level}'] canvas")
    selection = app.page.locator(".st-key-selection_text")
    for clicks in range(1, 4):
        view.scroll_into_view_if_needed()
        box = view.bounding_box()
        assert box and box["width"] > 20 and box["height"] > 20, box  # the view is drawn at a clickable size
        view.click(position={"x": fx * box["width"], "y": fy * box["height"]})
        try:
            expect(selection).to_contain_text(selected, timeout=20_000)
            return clicks
        except AssertionError:
            app.wait_idle()
    expect(selection).to_contain_text(selected)
    return clicks


def test_bin_click_reruns_only_the_selection_fragment(app) -> None:
    from playwright.sync_api import expect

    _explorer_levels(app, "1,2,4")
    _wait_quiet(app)
    full, fragment = _counter(app, "full_runs"), _counter(app, "fragment_runs")
    redraws = app.page.locator(EXPLORER).get_attribute("data-server-redraws")
    clicks = _click_pooled_cell(app, 2, 0.25, 0.75, "level 2, bin (1, 0)")  # bottom-left: bin (1, 0)
    app.wait_idle()
    fragment_after = _counter(app, "fragment_runs")
    assert 1 <= fragment_after - fragment <= clicks  # one fragment rerun per click that reached the server
    assert _counter(app, "full_runs") == full  # the dimension table, SPPF panel and downloads were not redrawn
    assert app.page.locator(EXPLORER).get_attribute("data-server-redraws") == redraws  # nor the explorer
    # the receptive-field toggle lives in the browser: no rerun at all
    app.page.locator(f"{EXPLORER} input[data-control='rf']").check()
    expect(app.page.locator(EXPLORER)).to_have_attribute("data-rf", "1")
    app.page.wait_for_timeout(1000)
    assert (_counter(app, "full_runs"), _counter(app, "fragment_runs")) == (full, fragment_after)
    # a levels change is a full rerun: both counters move
    app.set_levels("1,2")
    expect(app.page.locator(EXPLORER)).to_have_attribute("data-full-runs", str(full + 1), timeout=60_000)
    _explorer_levels(app, "1,2")
    _assert_no_failure(app)


def _take_photo(app, camera, shoot) -> None:
    """Click until a photo is taken. The button is enabled once the stream opens, but the webcam
    component captures nothing (no upload, no rerun) until the video has its first frame; on two
    busy cores that can come later, and CI's click once went unanswered for 120 s."""
    from playwright.sync_api import expect

    camera.locator("video").wait_for(state="attached")
    app.page.wait_for_function("() => (document.querySelector(\"[data-testid='stCameraInput'] video\")?.videoHeight ?? 0) > 0",
                               timeout=60_000)
    taken = camera.get_by_role("button", name=re.compile("Clear photo", re.I))
    for _ in range(12):
        shoot.click()
        try:
            expect(taken).to_be_visible(timeout=5_000)
            return
        except AssertionError:
            continue
    expect(taken).to_be_visible(timeout=5_000)


def test_camera_is_a_third_image_source(app) -> None:
    """Chromium's fake camera (a test pattern): take a photo and it is analysed like an upload."""
    from playwright.sync_api import expect

    assert app.page.get_by_test_id("stCameraInput").count() == 0  # no camera (no permission prompt) until chosen
    app.page.locator(".st-key-use_camera").get_by_text("Take a photo with the camera").click()
    camera = app.page.get_by_test_id("stCameraInput")
    expect(camera).to_be_visible(timeout=30_000)
    shoot = camera.get_by_role("button", name=re.compile("Take Photo", re.I))
    expect(shoot).to_be_enabled(timeout=30_000)
    _take_photo(app, camera, shoot)
    app.settle(re.compile(r"\.jpg.*Original \d+ x \d+", re.S), 120_000)
    # the shot may reach the server one rerun after the click (the sample's page also says ".jpg")
    expect(app.main.get_by_text(re.compile(r"Original \d+ x \d+"))).not_to_contain_text("451 x 300", timeout=120_000)
    app.wait_idle(120_000)
    _assert_all_panels(app)
    _assert_no_failure(app)
