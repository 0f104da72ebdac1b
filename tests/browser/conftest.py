"""Real-browser fixtures: the app under ``streamlit run``, driven by Playwright + system Chromium.

Playwright's own browser download cannot work here, so Playwright is pointed at Debian's
Chromium (``/usr/bin/chromium``; override with ``SPP_VIZ_CHROMIUM=/path``). When the browser
or the playwright package is missing, or Chromium cannot start, the tests SKIP with how to
enable them, unless ``SPP_VIZ_REQUIRE_BROWSER=1`` (CI) where they FAIL instead.

The server (``spp_viz.devtools.server``, shared with the benchmarks) follows Streamlit's own e2e
tests: ``streamlit run app.py --server.headless true --server.port N``, poll ``/_stcore/health``
for ``ok``; after every action wait for ``[data-testid='stApp'][data-test-script-state='notRunning']``.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from spp_viz.devtools.server import CHROMIUM, CHROMIUM_ARGS, FAKE_CAMERA_ARGS, IDLE, RUNNING, start_app

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
REQUIRE_BROWSER = os.environ.get("SPP_VIZ_REQUIRE_BROWSER") == "1"
HOW_TO_ENABLE = "to run them: apt-get install -y chromium && pip install -e '.[test]'"
VIEWPORT = {"width": 1400, "height": 1000}
COLD_TIMEOUT_MS = 120_000  # first run: torch import + model load + forward, on 2 busy cores
ACTION_TIMEOUT_MS = 60_000


def unavailable(reason: str) -> None:
    """Skip (locally) or fail (CI: SPP_VIZ_REQUIRE_BROWSER=1) when the browser tests cannot run."""
    if REQUIRE_BROWSER:
        pytest.fail(f"browser tests are required (SPP_VIZ_REQUIRE_BROWSER=1) but {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}; {HOW_TO_ENABLE}")


# ----------------------------------------------------------------------------
# Browser


@pytest.fixture(scope="session")
def browser():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"no Chromium executable at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    manager = sync_playwright()
    try:
        pw = manager.start()
    except Exception as exc:  # driver missing or broken
        unavailable(f"Playwright could not start ({type(exc).__name__}: {str(exc).splitlines()[0]})")
    try:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *FAKE_CAMERA_ARGS], timeout=60_000)
    except Exception as exc:
        manager.__exit__(None, None, None)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        unavailable(f"Chromium at {CHROMIUM} could not be launched ({type(exc).__name__}: {first})")
    yield instance
    instance.close()
    manager.__exit__(None, None, None)


# ----------------------------------------------------------------------------
# The app server


@pytest.fixture(scope="session")
def app_server(browser):
    """``streamlit run app.py`` on a free port, in its own process group (stopped at teardown)."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed at teardown
    try:
        server = start_app(log)
    except RuntimeError as exc:
        log.close()
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()
        log.close()


# ----------------------------------------------------------------------------
# Page helpers


class AppPage:
    """One browser tab on the app, with the waits Streamlit needs."""

    def __init__(self, page, url: str):
        self.page = page
        self.url = url

    # -- navigation and waiting

    def open(self, timeout_ms: int = COLD_TIMEOUT_MS) -> AppPage:
        return self.goto(timeout_ms).wait_loaded(timeout_ms)

    def goto(self, timeout_ms: int = COLD_TIMEOUT_MS) -> AppPage:
        self.page.goto(self.url, wait_until="domcontentloaded", timeout=timeout_ms)
        return self

    def choose(self, box: Any, option: str, tries: int = 3) -> None:
        """Open the select box ``box`` (a locator) and click its ``option``; a rerun that redraws
        the box closes its list (the page's measuring run, after a change), so it is opened again."""
        for attempt in range(tries):
            box.click()  # opens the list
            try:
                self.page.get_by_role("option", name=option).click(timeout=10_000)
                return
            except Exception:
                if attempt == tries - 1:
                    raise
                self.page.keyboard.press("Escape")
                self.wait_idle()

    def wait_loaded(self, timeout_ms: int = COLD_TIMEOUT_MS) -> AppPage:
        self.wait_for_text("Paper rule vs adaptive rule", timeout_ms)
        self.wait_idle(timeout_ms)
        return self

    def wait_idle(self, timeout_ms: int = ACTION_TIMEOUT_MS, *, expect_rerun: bool = False) -> None:
        """Wait until the script is not running. With ``expect_rerun``, first give the rerun
        a moment to start (it may also have finished already: that is fine)."""
        if expect_rerun:
            try:
                self.page.wait_for_selector(RUNNING, state="attached", timeout=3_000)
            except Exception:
                pass
        self.page.wait_for_selector(IDLE, state="attached", timeout=timeout_ms)

    def wait_for_text(self, text: str | re.Pattern, timeout_ms: int = ACTION_TIMEOUT_MS, within: str = "main"):
        scope = self.main if within == "main" else self.page.locator(within)
        loc = scope.get_by_text(text).first
        loc.wait_for(state="visible", timeout=timeout_ms)
        return loc

    def settle(self, text: str | re.Pattern, timeout_ms: int = ACTION_TIMEOUT_MS) -> None:
        """After an action: the rerun ran, finished, and ``text`` is on the page."""
        self.wait_idle(timeout_ms, expect_rerun=True)
        self.wait_for_text(text, timeout_ms)
        self.wait_idle(timeout_ms)

    # -- locators

    @property
    def main(self):
        return self.page.get_by_test_id("stMain")

    def errors(self) -> list[str]:
        return [t.strip() for t in self.main.get_by_test_id("stAlertContentError").all_inner_texts()]

    def exceptions(self) -> list[str]:
        return self.page.get_by_test_id("stException").all_inner_texts()

    def plot_count(self) -> int:
        return self.main.locator(".js-plotly-plot").count()

    def headers(self) -> list[str]:
        return [t.strip() for t in self.main.locator("h2").all_inner_texts()]

    # -- actions

    def upload_image(self, path: Path | str) -> None:
        self.page.locator(".st-key-image").get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))

    def upload_image_bytes(self, name: str, data: bytes, mime: str = "application/octet-stream") -> None:
        """Upload from memory: any file name, even one no file system allows."""
        payload = {"name": name, "mimeType": mime, "buffer": data}
        self.page.locator(".st-key-image").get_by_test_id("stFileUploaderDropzoneInput").set_input_files(payload)

    def set_levels(self, text: str) -> None:
        box = self.page.locator(".st-key-levels input")
        box.fill(text)
        box.press("Enter")

    @contextlib.contextmanager
    def whole_page_in_view(self, width: int = VIEWPORT["width"]) -> Iterator[None]:
        """Streamlit scrolls inside its main container: grow the viewport to ``width`` px and the
        height of all of it (up to 16,000 px), so screenshots and checks see every panel, then put
        the test's viewport back."""
        restore = self.page.viewport_size or VIEWPORT
        height = self.page.evaluate(
            """() => Math.max(...['stMain', 'stAppViewContainer', 'stSidebarContent']
                 .map(id => document.querySelector(`[data-testid='${id}']`))
                 .filter(Boolean).map(e => e.scrollHeight), document.body.scrollHeight)"""
        )
        self.page.set_viewport_size({"width": width, "height": min(int(height) + 40, 16_000)})
        try:
            self.page.wait_for_timeout(600)  # plotly relayouts on resize
            yield
        finally:
            self.page.set_viewport_size(restore)

    def screenshot(self, name: str, width: int = VIEWPORT["width"]) -> Path:
        """The full page at ``width`` px, into ``artifacts/``."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        with self.whole_page_in_view(width):
            self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def new_app_page(browser, app_server):
    """Factory: a new tab on the app, opened. Every tab is its own Streamlit session (one
    websocket each); tabs of one test share a browser context, so the JS bundle is fetched once."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(ACTION_TIMEOUT_MS)

    def make(open_: bool = True) -> AppPage:
        app = AppPage(context.new_page(), app_server.url)
        return app.open() if open_ else app

    yield make
    context.close()


@pytest.fixture
def app(new_app_page) -> AppPage:
    return new_app_page()
