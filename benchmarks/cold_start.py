"""Figure 6 (reported, no target): cold start of ``streamlit run app.py`` to the first complete
render in a real browser (system Chromium through Playwright; never ``playwright install``).

Clock starts just before ``Popen``; phases: ``/_stcore/health`` answers ``ok``, then the page
(default sample photo) shows every panel: the last header "Paper rule vs adaptive rule", at
least 9 ``.js-plotly-plot`` charts and ``[data-testid='stApp'][data-test-script-state='notRunning']``.
The server runs in its own process group and is killed (the whole group) afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from spp_viz.devtools.server import CHROMIUM, CHROMIUM_ARGS, IDLE, free_port, healthy, kill_group

from .common import APP, ROOT, Row, Workspace

LAST_PANEL = "Paper rule vs adaptive rule"
MIN_PLOTS = 9
TIMEOUT_S = 180


def _wait_complete(page, timeout_ms: int, start: float = 0.0, phases: dict | None = None) -> None:
    """Last panel header visible, then >= MIN_PLOTS plotly charts attached, then script idle.

    With ``phases``, records when each of the three became true (seconds from ``start``):
    the header shows when the script's last delta arrived; charts attach after plotly.js drew.
    """
    page.locator("[data-testid='stMain']").get_by_text(LAST_PANEL).first.wait_for(state="visible", timeout=timeout_ms)
    if phases is not None:
        phases["last_header_s"] = time.perf_counter() - start
    page.locator(".js-plotly-plot").nth(MIN_PLOTS - 1).wait_for(state="attached", timeout=timeout_ms)
    if phases is not None:
        phases["charts_drawn_s"] = time.perf_counter() - start
    page.wait_for_selector(IDLE, state="attached", timeout=timeout_ms)


def run(ws: Workspace, quick: bool) -> list[Row]:
    area, name = "6 cold start", "streamlit run -> first complete render in Chromium (default sample)"
    if not APP.exists():
        return [Row(area, name, "skipped: app.py not found")]
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return [Row(area, name, f"skipped: no Chromium at {CHROMIUM} (apt-get install chromium)")]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return [Row(area, name, "skipped: playwright not installed (pip install playwright; never 'playwright install')")]

    upload = None if quick else ws.photo()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()
    phases: dict[str, float] = {}
    rows: list[Row] = []
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), timeout=60_000)
        except Exception as exc:
            return [Row(area, name, f"skipped: Chromium did not start ({type(exc).__name__})")]
        try:
            start = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(APP.name), "--server.headless", "true",
                 "--server.port", str(port), "--server.address", "127.0.0.1",
                 "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            try:
                deadline = start + TIMEOUT_S
                while not healthy(url):
                    if proc.poll() is not None or time.perf_counter() > deadline:
                        raise RuntimeError("server did not become healthy")
                    time.sleep(0.05)
                phases["health_ok_s"] = time.perf_counter() - start
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url, wait_until="domcontentloaded", timeout=TIMEOUT_S * 1000)
                phases["page_loaded_s"] = time.perf_counter() - start
                _wait_complete(page, TIMEOUT_S * 1000, start, phases)
                phases["first_complete_render_s"] = time.perf_counter() - start
                plots = page.locator(".js-plotly-plot").count()
                if not quick:
                    # a second tab on the warm server: what the next visitor waits
                    start2 = time.perf_counter()
                    page2 = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page2.goto(url, wait_until="domcontentloaded", timeout=TIMEOUT_S * 1000)
                    _wait_complete(page2, TIMEOUT_S * 1000)
                    phases["warm_second_visitor_s"] = time.perf_counter() - start2
                if upload is not None:
                    start3 = time.perf_counter()
                    page2.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(upload))
                    page2.locator("[data-testid='stMain']").get_by_text(f"{upload.name}").first.wait_for(
                        state="visible", timeout=TIMEOUT_S * 1000)
                    _wait_complete(page2, TIMEOUT_S * 1000)
                    phases["upload_12mp_to_render_s"] = time.perf_counter() - start3
            except Exception as exc:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-300:].replace("\n", " ")
                return [Row(area, name, f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]} | log: {tail}")]
            finally:
                kill_group(proc)
                log.close()
        finally:
            browser.close()
    rows.append(Row(area, name, f"{phases['first_complete_render_s']:.1f} s (health {phases['health_ok_s']:.1f} s, last header "
                                f"{phases['last_header_s']:.1f} s, {plots} charts {phases['charts_drawn_s']:.1f} s)", "report", None, phases["first_complete_render_s"],
                    {k: round(v, 2) for k, v in phases.items()}))
    if "warm_second_visitor_s" in phases:
        rows.append(Row(area, "  second visitor on the warm server (new tab -> complete render)",
                        f"{phases['warm_second_visitor_s']:.1f} s", "report", None, phases["warm_second_visitor_s"]))
    if "upload_12mp_to_render_s" in phases:
        rows.append(Row(area, "  12 MP upload in the browser -> complete render",
                        f"{phases['upload_12mp_to_render_s']:.1f} s", "report", None, phases["upload_12mp_to_render_s"]))
    return rows
