"""Eight browser sessions at once on one app server, each uploading its own image.

``python -m benchmarks.sessions`` (area ``sessions`` of ``python -m benchmarks``) starts
``streamlit run app.py`` (``spp_viz.devtools.server.start_app``), opens eight tabs in eight
separate browser contexts (separate cookies: eight Streamlit sessions) in Chromium through
Playwright's async API, waits until each has drawn the default page, then uploads a different
image in every tab at the same moment. Each session must then show its own file name, its
own original size and its own top-1 class (computed beforehand with ``run_inspection``, the
engine the page uses), no other session's file name, and no error. The figure is the slowest
session's time from its upload to a full render (script idle, top-1 shown).
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import tempfile
import time
from dataclasses import dataclass

from .common import ROOT, Row

SESSIONS = 8
CHROMIUM = os.environ.get("SPP_VIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
TIMEOUT_MS = 600_000  # eight analyses at once on two cores
TARGET_S = 60.0


@dataclass(frozen=True)
class SessionImage:
    filename: str
    data: bytes
    size: tuple[int, int]  # original (width, height)
    top1: str  # what the engine ranks first


@dataclass(frozen=True)
class SessionResult:
    filename: str
    seconds: float  # upload -> full render
    first_page_s: float  # tab opened -> default page drawn (the first sessions pay the cold start)
    problems: tuple[str, ...]


def images(count: int = SESSIONS) -> list[SessionImage]:
    """``count`` distinct photos (the bundled ones, cropped differently) and their expected top-1."""
    from PIL import Image

    from spp_viz.report import run_inspection

    photos = sorted((ROOT / "assets").glob("*.jpg"))
    out = []
    for i in range(count):
        with Image.open(photos[i % len(photos)]) as im:
            rgb = im.convert("RGB")
        w, h = rgb.size
        inset = 0.04 * (i // len(photos) + 1)  # a different crop per round: distinct sizes and bytes
        crop = rgb.crop((int(w * inset), int(h * inset), w - int(w * inset * 2), h - int(h * inset)))
        buf = io.BytesIO()
        crop.save(buf, "JPEG", quality=92)
        data = buf.getvalue()
        name = f"session{i}_{photos[i % len(photos)].stem}.jpg"
        result = run_inspection(data, filename=name, download=False)
        top1 = result.predictions[0].label if result.predictions else "none"
        out.append(SessionImage(name, data, crop.size, top1))
    return out


async def _session(browser, url: str, image: SessionImage, others: list[str], ready: asyncio.Barrier) -> SessionResult:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    try:
        opened = time.perf_counter()
        try:
            await page.goto(url, wait_until="domcontentloaded", timeout=TIMEOUT_MS)
            await page.wait_for_selector(".st-key-image [data-testid='stFileUploaderDropzoneInput']", state="attached",
                                         timeout=TIMEOUT_MS)
            await page.wait_for_selector(IDLE, state="attached", timeout=TIMEOUT_MS)
            await page.get_by_test_id("stMetricValue").first.wait_for(state="visible", timeout=TIMEOUT_MS)
            first_page = time.perf_counter() - opened
        except Exception:
            await ready.abort()  # the others must not wait for this one
            raise
        await ready.wait()  # every tab has drawn its first page: upload everywhere at the same moment
        t0 = time.perf_counter()
        await page.locator(".st-key-image").get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
            {"name": image.filename, "mimeType": "image/jpeg", "buffer": image.data})
        main = page.get_by_test_id("stMain")
        await main.get_by_text(image.filename).first.wait_for(state="visible", timeout=TIMEOUT_MS)
        await page.wait_for_selector(IDLE, state="attached", timeout=TIMEOUT_MS)
        seconds = time.perf_counter() - t0
        return SessionResult(image.filename, seconds, first_page, tuple(await _problems(page, image, others)))
    finally:
        await context.close()


async def _problems(page, image: SessionImage, others: list[str]) -> list[str]:
    """What this session shows that is not its own image, size and top-1, or is an error."""
    main = page.get_by_test_id("stMain")
    text = await main.inner_text()
    metrics = [m.strip() for m in await main.get_by_test_id("stMetricValue").all_inner_texts()]
    problems = []
    w, h = image.size
    if f"Original {w} x {h}" not in text:
        problems.append(f"size {w} x {h} not shown")
    if image.top1 not in metrics:
        problems.append(f"top-1 {image.top1!r} not among metrics {metrics}")
    problems += [f"sees {name}" for name in others if name in text]
    problems += [f"error: {e[:120]}" for e in await main.get_by_test_id("stAlertContentError").all_inner_texts()]
    problems += [f"exception: {e[:120]}" for e in await page.get_by_test_id("stException").all_inner_texts()]
    return problems


async def _run_sessions(url: str, imgs: list[SessionImage]) -> list[SessionResult]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            ready = asyncio.Barrier(len(imgs))
            names = [im.filename for im in imgs]
            return list(await asyncio.gather(*(
                _session(browser, url, im, [n for n in names if n != im.filename], ready) for im in imgs)))
        finally:
            await browser.close()


def run_sessions(count: int = SESSIONS) -> tuple[list[SessionResult], float]:
    """Start the server, run ``count`` sessions at once; (results, cold start seconds)."""
    from spp_viz.devtools.server import start_app

    imgs = images(count)
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        server = start_app(log)
        cold = time.perf_counter() - t0
        try:
            results = asyncio.run(_run_sessions(server.url, imgs))
        finally:
            server.stop()
    return results, cold


def run(quick: bool) -> list[Row]:
    """Area ``sessions`` of ``python -m benchmarks``."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return [Row("10 sessions", f"{SESSIONS} browser sessions at once", f"skipped: no Chromium at {CHROMIUM}", f"<= {TARGET_S:.0f} s")]
    results, cold = run_sessions(SESSIONS)
    times = sorted(r.seconds for r in results)
    problems = [f"{r.filename}: {p}" for r in results for p in r.problems]
    ok = not problems
    details = {"server_healthy_s": round(cold, 1),
               "sessions": [{"file": r.filename, "seconds": round(r.seconds, 2), "first_page_s": round(r.first_page_s, 2),
                             "problems": list(r.problems)} for r in results]}
    return [
        Row("10 sessions", f"{SESSIONS} browser sessions uploading at once: slowest upload -> full render",
            f"{times[-1]:.1f} s (median {times[len(times) // 2]:.1f} s); "
            + ("each saw its own image, size and top-1, none saw another's, no errors" if ok
               else f"{len(problems)} problems: {problems[:3]}"),
            f"all correct; <= {TARGET_S:.0f} s", ok and times[-1] <= TARGET_S, times[-1], details),
        Row("10 sessions", f"  first start: server healthy, then {SESSIONS} tabs opened at once -> default page drawn",
            f"server {cold:.1f} s; first page {min(r.first_page_s for r in results):.1f} s, "
            f"all {SESSIONS} {max(r.first_page_s for r in results):.1f} s", "report", None,
            max(r.first_page_s for r in results)),
    ]


if __name__ == "__main__":
    rows = run(quick=False)
    for row in rows:
        print(f"{row.figure}: {row.measured} (target {row.target}, met: {row.met_text})")
    sys.exit(0)
