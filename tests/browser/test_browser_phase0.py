"""Phase 0 in a real browser: the bins the explorer drew before the forward (greyed, from
arithmetic) are the ones it draws with the forward's values, in the same component (never
remounted), on two uploads no cache has seen (on a warm server the sample's map is cached, and its
phase 0 can be replaced before the browser draws it): a wide photo, and an odd size on
EfficientNet-Lite0, whose "same" padding makes the arithmetic depend on the size. Read from the
explorer's attributes, never from pixels."""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from pathlib import Path

import pytest
from PIL import Image

from spp_viz.devtools.server import MEASURED_JS, start_app

pytestmark = pytest.mark.browser

ROOT = ".st-key-panel_explorer .spp-explorer"


def odd_photo(width: int, height: int) -> bytes:
    """The cat at an odd size no cache has seen (one random pixel)."""
    image = Image.open(io.BytesIO((__import__("conftest").ASSETS / "chelsea_cat.jpg").read_bytes())).convert("RGB")
    image = image.resize((width, height))
    image.putpixel((0, 0), tuple(os.urandom(3)))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def phase1(app, size: tuple[int, int]) -> dict[str, str]:
    """The explorer's attributes once it shows the forward's values for a ``size`` photo."""
    width, height = size
    loc = app.page.locator(ROOT)
    from playwright.sync_api import expect

    expect(loc).to_have_attribute("data-phase", "1", timeout=120_000)
    whole = json.dumps([0.0, 0.0, float(width), float(height)]).replace(" ", "")
    for _ in range(600):
        boxes = loc.get_attribute("data-boxes") or ""
        if loc.get_attribute("data-phase") == "1" and whole in boxes.replace(" ", ""):
            break
        app.page.wait_for_timeout(200)
    return {name: loc.get_attribute(f"data-{name}") or "" for name in ("phase", "boxes", "phase0-boxes", "mounts")}


def check(seen: dict[str, str], size: tuple[int, int]) -> None:
    assert seen["phase"] == "1"
    phase0, phase1 = json.loads(seen["phase0-boxes"]), json.loads(seen["boxes"])
    assert phase0 == phase1  # every level's bins: cells, box and receptive-field box
    assert [n for n, _ in phase1] == [1, 2, 4] and [len(bins) for _, bins in phase1] == [1, 4, 16]
    assert phase1[0][1][0][1] == [0, 0, size[0], size[1]]  # level 1's one bin is the whole photo
    assert seen["mounts"] == "1"  # phase 1 redrew the component of phase 0: no remount


def measured(app) -> None:
    """The page's runs are over, its measurements included: an upload then starts at phase 0
    (under load, an upload during the sample's measurement run may be merged into a later run)."""
    app.page.wait_for_function(MEASURED_JS, timeout=240_000, polling=200)


def test_phase0_bins_are_phase1s_on_two_fresh_uploads(app) -> None:
    measured(app)
    app.upload_image_bytes("wide.png", odd_photo(457, 305), "image/png")
    check(phase1(app, (457, 305)), (457, 305))
    measured(app)
    app.upload_image_bytes("odd.png", odd_photo(301, 227), "image/png")
    check(phase1(app, (301, 227)), (301, 227))
    assert app.exceptions() == [] and app.errors() == []


def torch_mapped(pid: int) -> bool:
    """Whether process ``pid`` has loaded torch's library (Linux: its memory map names the file)."""
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text(errors="replace")


PRELOADS_JS = "() => [...document.querySelectorAll('link[rel=modulepreload]')].map((l) => l.href)"


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the server's memory map (Linux)")
def test_a_cold_server_loads_torch_only_once_the_browser_has_drawn_phase0(browser) -> None:
    """A fresh server draws phase 0, and loads torch only after the explorer has echoed that it
    drew it (``data-released``, set before the echo is sent): at every poll where the server's
    memory map holds libtorch, the attribute read right after it is set. Then phase 1 comes, in
    the same component. Streamlit's code for the page's charts was asked for once, as the
    explorer's module preload at its echo, before phase 1 (the page then finds it loaded)."""
    from spp_viz.ui.streamlit_private import page_chunks

    with tempfile.TemporaryFile() as log:
        server = start_app(log)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        chunk_requests: list[float] = []
        page.on("request", lambda r: chunk_requests.append(time.monotonic()) if r.url.endswith(page_chunks()) else None)
        try:
            page.goto(server.url, wait_until="domcontentloaded")
            root = page.locator(ROOT)
            phase0_seen = False
            deadline = time.monotonic() + 120
            while not torch_mapped(server.proc.pid):
                attrs = {name: root.get_attribute(f"data-{name}") if root.count() else None for name in ("phase", "released")}
                phase0_seen = phase0_seen or attrs["phase"] == "0"
                assert attrs["phase"] != "1", "phase 1 came before torch was loaded"
                assert time.monotonic() < deadline, f"torch never loaded: {server.output()[-2000:]}"
                time.sleep(0.02)
            released = root.get_attribute("data-released") if root.count() else None
            assert released, "torch was loaded before the browser had drawn phase 0"
            preloads = page.evaluate(PRELOADS_JS)  # no chart yet: only the explorer's preload can be there
            assert page_chunks() and all(any(h.endswith(name) for h in preloads) for name in page_chunks()), preloads
            assert phase0_seen
            from playwright.sync_api import expect

            expect(root).to_have_attribute("data-phase", "1", timeout=120_000)
            assert root.get_attribute("data-mounts") == "1" and root.get_attribute("data-released") == released
            page.locator("[data-testid='stPlotlyChart']").first.wait_for(state="visible", timeout=120_000)
            assert len(chunk_requests) == len(page_chunks()), chunk_requests  # the page asked for none again
        finally:
            page.close()
            server.stop()
