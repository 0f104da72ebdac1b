"""Figure 6: cold start of ``streamlit run app.py`` in a real browser (system Chromium through
Playwright; never ``playwright install``), against ``python -c "import torch"`` side by side.

Clock starts just before ``Popen``; phases: ``/_stcore/health`` answers ``ok``; the **first
phase drawn** (the page's ready component has sent its ``drawn`` trigger: the script finished
and the browser painted every panel of the photo, pyramid and predictions); the **complete
page** (the second phase's numbers are in: no ``measuring`` note left, script idle). Target:
the first phase drawn at most 2.5 s after what importing torch alone takes on the same machine,
measured just before and after. The **activations** (the explorer's phase 1: the forward's
values on phase 0's bins, ``data-phase='1'``): at most 0.5 s after the bins plus importing torch
plus the sample's first forward in a fresh process (:func:`first_forward_s`). Then, on the same
warm page, a 12 MP upload to its bins drawn, against a floor app (``st.file_uploader`` and
``st.image``) showing the same upload: at most 0.5 s more. The server runs in its own process group and is killed (the whole group) afterwards.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from spp_viz.deploy.process import healthy, kill_group, streamlit_command
from spp_viz.devtools.server import CHROMIUM, CHROMIUM_ARGS, EXPLORERS_JS, MEASURED_JS, free_port

from .common import APP, ROOT, Row, Workspace

TIMEOUT_S = 180
TARGET_OVER_TORCH_S = 2.5
TARGET_BINS_OVER_FLOOR_S = 1.0
TARGET_UPLOAD_OVER_FLOOR_S = 0.5
TARGET_ACTIVATIONS_OVER_S = 0.5  # over the bins + import torch + the first forward
SAMPLE = ROOT / "assets" / "chelsea_cat.jpg"  # the page's default sample
# the explorer's root once it has drawn a view of either phase (phase 0: the bins from arithmetic)
BINS_DRAWN = ".st-key-panel_explorer .spp-explorer:is([data-phase='0'], [data-phase='1'])"
ACTIVATIONS_DRAWN = ".st-key-panel_explorer .spp-explorer[data-phase='1']"  # the forward's values drawn
# the default backbone's first forward on the sample in a fresh process, as the app's cold run does it
FIRST_FORWARD = f"""
from PIL import Image
from spp_viz import analysis, backbones
with Image.open({str(SAMPLE)!r}) as image:
    features = analysis.extract_features(backbones.load_backbone(download=False), image.convert("RGB"))
print(features.forward_ms / 1000)
"""
FLOOR_DRAWN = "() => [...document.querySelectorAll(\"[data-testid='stMain'] img\")].some(i => i.complete && i.naturalWidth > 0)"
DRAWN = "() => (window.__sppVizDrawnAt || []).length"  # how many first phases this tab has drawn (spp_viz.ui.measure)


def _wait_complete(page, timeout_ms: int, start: float = 0.0, phases: dict | None = None, drawn_before: int = 0) -> None:
    """The first phase drawn (the ready component fired once more than ``drawn_before``), then the
    second phase in (no measuring note, script idle). With ``phases``, records both (s from ``start``)."""
    page.wait_for_function(f"() => ({DRAWN})() > {drawn_before}", timeout=timeout_ms, polling=50)
    if phases is not None:
        phases["first_phase_drawn_s"] = time.perf_counter() - start
    page.wait_for_function(MEASURED_JS, timeout=timeout_ms, polling=50)
    if phases is not None:
        phases["complete_s"] = time.perf_counter() - start


def bins_row(area: str, phases: dict[str, float]) -> Row:
    """Cold start to the sample's bins drawn (phase 0 in the explorer) against the floor's cold
    start to the same photo shown by ``st.image``, both timed here in this run."""
    bins, floor = phases["bins_drawn_s"], phases["floor_cold_start_s"]
    return Row(area, "  cold start -> the sample's bins drawn (phase 0), vs a floor app showing the photo with st.image",
               f"{bins:.1f} s = floor ({floor:.1f} s) + {bins - floor:.1f} s", f"<= floor + {TARGET_BINS_OVER_FLOOR_S} s",
               bins - floor <= TARGET_BINS_OVER_FLOOR_S, bins - floor)


def _serve(script: str, port: int, log) -> subprocess.Popen:
    """``streamlit run script`` from the repository (its ``.streamlit/config.toml``), in its own process group."""
    return subprocess.Popen(streamlit_command(script, port), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait_healthy(proc: subprocess.Popen, url: str, start: float) -> None:
    deadline = start + TIMEOUT_S
    while not healthy(url):
        if proc.poll() is not None or time.perf_counter() > deadline:
            raise RuntimeError("server did not become healthy")
        time.sleep(0.05)


@contextlib.contextmanager
def floor_page(browser, source: str) -> Iterator[tuple[Any, float]]:
    """A floor app (``source``, a Streamlit script) served from ``Popen`` on, and a tab on it once
    it is healthy: yields the tab and the ``perf_counter`` at ``Popen``; the server is killed after."""
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryFile() as log:
        script = os.path.join(folder, "floor.py")
        with open(script, "w", encoding="utf-8") as out:
            out.write(source)
        port = free_port()
        start = time.perf_counter()
        proc = _serve(script, port, log)
        try:
            _wait_healthy(proc, f"http://127.0.0.1:{port}", start)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}", wait_until="domcontentloaded", timeout=TIMEOUT_S * 1000)
            yield page, start
            page.close()
        finally:
            kill_group(proc)


def floor_cold_start_s(browser) -> float:
    """Seconds from ``Popen`` to the sample photo drawn by a Streamlit app that only calls
    ``st.image`` on it (the floor of any cold start of a Streamlit page showing that photo)."""
    with floor_page(browser, f"import streamlit as st\nst.image({str(SAMPLE)!r})\n") as (page, start):
        page.wait_for_function(FLOOR_DRAWN, timeout=TIMEOUT_S * 1000, polling=50)
        return time.perf_counter() - start


# the explorer's boxes once it has drawn a view of either phase ("" before)
EXPLORER_BOXES = """() => {
  const root = (EXPLORERS).find((e) => ["0", "1"].includes(e.getAttribute("data-phase")));
  return root ? root.getAttribute("data-boxes") : "";
}""".replace("EXPLORERS", EXPLORERS_JS)


def floor_upload_s(browser, photo: Path) -> float:
    """Seconds from handing ``photo`` to a floor app's uploader (``st.file_uploader`` then
    ``st.image``, on a warm server) to the photo drawn."""
    source = "import streamlit as st\nf = st.file_uploader('image')\nif f is not None:\n    st.image(f)\n"
    with floor_page(browser, source) as (page, _served):
        uploader = page.get_by_test_id("stFileUploaderDropzoneInput")
        uploader.wait_for(state="attached", timeout=TIMEOUT_S * 1000)
        page.wait_for_timeout(1000)  # the warm page settled
        start = time.perf_counter()
        uploader.set_input_files(str(photo))
        page.wait_for_function(FLOOR_DRAWN, timeout=TIMEOUT_S * 1000, polling=20)
        return time.perf_counter() - start


def upload_bins_s(page, photo: Path) -> float:
    """Seconds from handing ``photo`` to the page's uploader (its previous page complete) to
    the explorer drawing the new photo's bins (phase 0, or phase 1 if it came first)."""
    before = page.evaluate(EXPLORER_BOXES)
    page.wait_for_timeout(1000)  # the complete page settled, as for the floor
    start = time.perf_counter()
    page.locator(".st-key-image").get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(photo))
    page.wait_for_function(f"(before) => {{ const b = ({EXPLORER_BOXES})(); return b !== '' && b !== before; }}",
                           arg=before, timeout=TIMEOUT_S * 1000, polling=20)
    return time.perf_counter() - start


def upload_row(area: str, phases: dict[str, float]) -> Row:
    """A 12 MP upload to its bins drawn, against the floor app showing the same upload."""
    bins, floor = phases["upload_12mp_bins_s"], phases["floor_upload_12mp_s"]
    return Row(area, "  12 MP upload -> its bins drawn (phase 0), vs the floor app showing the same upload with st.image",
               f"{bins:.2f} s = floor ({floor:.2f} s) + {bins - floor:.2f} s", f"<= floor + {TARGET_UPLOAD_OVER_FLOOR_S} s",
               bins - floor <= TARGET_UPLOAD_OVER_FLOOR_S, bins - floor)


def first_forward_s() -> float:
    """Seconds of the default backbone's first forward on the sample in a fresh process (model
    loaded and torch imported beforehand, neither counted)."""
    out = subprocess.run([sys.executable, "-c", FIRST_FORWARD], check=True, capture_output=True, text=True, cwd=ROOT)
    return float(out.stdout.split()[-1])


def activations_row(area: str, phases: dict[str, float]) -> Row:
    """Cold start to the explorer drawing the forward's values, against the bins + import torch +
    the first forward (the issue's target: nothing else of the page on the way, but 0.5 s)."""
    bound = phases["bins_drawn_s"] + phases["torch_import_s"] + phases["first_forward_s"]
    over = phases["activations_drawn_s"] - bound
    return Row(area, "  cold start -> the sample's activations drawn (phase 1 in the explorer), vs bins + import torch + forward",
               f"{phases['activations_drawn_s']:.1f} s = bins ({phases['bins_drawn_s']:.1f} s) + torch ({phases['torch_import_s']:.1f} s)"
               f" + forward ({phases['first_forward_s']:.2f} s) + {over:.1f} s", f"<= those + {TARGET_ACTIVATIONS_OVER_S} s",
               over <= TARGET_ACTIVATIONS_OVER_S, over)


def torch_import_s(runs: int = 3) -> float:
    """Median seconds of ``python -c "import torch"`` in a fresh process (the floor of any cold start)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(ws: Workspace, quick: bool) -> list[Row]:
    area, name = "6 cold start", "streamlit run -> first phase drawn in Chromium (default sample), vs import torch"
    if not APP.exists():
        return [Row(area, name, "skipped: app.py not found")]
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return [Row(area, name, f"skipped: no Chromium at {CHROMIUM} (apt-get install chromium)")]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return [Row(area, name, "skipped: playwright not installed (pip install playwright; never 'playwright install')")]

    upload = None if quick else ws.photo()
    twelve_mp = ws.photo((3000, 4000))  # 12 MP, portrait: not the photo the full run's second tab uploads
    before = torch_import_s()
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
            phases["floor_cold_start_s"] = floor_cold_start_s(browser)
            phases["floor_upload_12mp_s"] = floor_upload_s(browser, twelve_mp)
            start = time.perf_counter()
            proc = _serve(str(APP.name), port, log)
            try:
                _wait_healthy(proc, url, start)
                phases["health_ok_s"] = time.perf_counter() - start
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url, wait_until="domcontentloaded", timeout=TIMEOUT_S * 1000)
                phases["page_loaded_s"] = time.perf_counter() - start
                page.locator(BINS_DRAWN).wait_for(state="attached", timeout=TIMEOUT_S * 1000)
                phases["bins_drawn_s"] = time.perf_counter() - start
                page.locator(ACTIVATIONS_DRAWN).wait_for(state="attached", timeout=TIMEOUT_S * 1000)
                phases["activations_drawn_s"] = time.perf_counter() - start
                _wait_complete(page, TIMEOUT_S * 1000, start, phases)
                phases["upload_12mp_bins_s"] = upload_bins_s(page, twelve_mp)
                page.wait_for_function(MEASURED_JS, timeout=TIMEOUT_S * 1000, polling=50)  # the upload's page complete
                if not quick:
                    # a second tab on the warm server: what the next visitor waits
                    start2 = time.perf_counter()
                    page2 = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page2.goto(url, wait_until="domcontentloaded", timeout=TIMEOUT_S * 1000)
                    _wait_complete(page2, TIMEOUT_S * 1000)
                    phases["warm_second_visitor_s"] = time.perf_counter() - start2
                if upload is not None:
                    start3 = time.perf_counter()
                    drawn = page2.evaluate(DRAWN)
                    page2.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(upload))
                    page2.locator("[data-testid='stMain']").get_by_text(f"{upload.name}").first.wait_for(
                        state="visible", timeout=TIMEOUT_S * 1000)
                    _wait_complete(page2, TIMEOUT_S * 1000, drawn_before=drawn)
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
    torch_s = statistics.median([before, torch_import_s()])
    phases["torch_import_s"], phases["first_forward_s"] = torch_s, first_forward_s()
    over = phases["first_phase_drawn_s"] - torch_s
    rows.append(Row(area, name, f"first phase drawn {phases['first_phase_drawn_s']:.1f} s = import torch ({torch_s:.1f} s) + {over:.1f} s "
                                f"(health {phases['health_ok_s']:.1f} s)", f"<= torch + {TARGET_OVER_TORCH_S} s",
                    over <= TARGET_OVER_TORCH_S, over, {k: round(v, 2) for k, v in phases.items()} | {"torch_import_s": round(torch_s, 2)}))
    rows.append(bins_row(area, phases))
    rows.append(activations_row(area, phases))
    rows.append(upload_row(area, phases))
    rows.append(Row(area, "  cold start -> complete page (the second phase's numbers in)", f"{phases['complete_s']:.1f} s", "report",
                    None, phases["complete_s"]))
    if "warm_second_visitor_s" in phases:
        rows.append(Row(area, "  second visitor on the warm server (new tab -> complete render)",
                        f"{phases['warm_second_visitor_s']:.1f} s", "report", None, phases["warm_second_visitor_s"]))
    if "upload_12mp_to_render_s" in phases:
        rows.append(Row(area, "  12 MP upload in the browser -> complete render",
                        f"{phases['upload_12mp_to_render_s']:.1f} s", "report", None, phases["upload_12mp_to_render_s"]))
    return rows
