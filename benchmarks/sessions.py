"""Eight browser sessions at once on one app server, each uploading its own image.

``python -m benchmarks.sessions`` (area ``sessions`` of ``python -m benchmarks``) starts
``streamlit run app.py`` (``spp_viz.devtools.server.start_app``), opens eight tabs in eight
separate browser contexts (separate cookies: eight Streamlit sessions) in Chromium through
Playwright's async API, waits until each has drawn the default page, then uploads a different
image in every tab at the same moment. Each session must then show its own file name, its
own original size and its own top-1 class (computed beforehand with ``run_inspection``, the
engine the page uses), no other session's file name, and no error. The figures are the median
and the slowest session's time from its upload to a full render: both phases in (the file
name shown, no "measuring" note left, script idle), first with admission off (every session
computes at once), then on (the app's default job limit), with the same photos in the same run.
Each session's first phase (its file name drawn) is recorded too. A tab uploads only once its
default page is complete, so every upload meets an idle session.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from unittest import mock

from spp_viz.devtools.server import MEASURED_JS

from .common import ROOT, Row

SESSIONS = 8
CHROMIUM = os.environ.get("SPP_VIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
TIMEOUT_MS = 600_000  # eight analyses at once on two cores
UPLOAD_TIMEOUT_MS = 300_000  # upload -> drawn, per session
TARGET_S = 60.0
MEDIAN_RATIO = 0.6  # admission on: the median at most this share of the median with admission off
NO_LIMIT = "64"  # SPP_VIZ_MAX_JOBS that lets every session compute at once (admission off)


@dataclass(frozen=True)
class SessionImage:
    filename: str
    data: bytes
    size: tuple[int, int]  # original (width, height)
    top1: str  # what the engine ranks first


@dataclass(frozen=True)
class SessionResult:
    filename: str
    seconds: float  # upload -> full render (both phases)
    first_page_s: float  # tab opened -> default page complete (the first sessions pay the cold start)
    problems: tuple[str, ...]
    first_phase_s: float = math.inf  # upload -> its file name drawn (the first phase)


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
            await page.wait_for_function(MEASURED_JS, timeout=TIMEOUT_MS, polling=100)
            first_page = time.perf_counter() - opened
        except Exception:
            await ready.abort()  # the others must not wait for this one
            raise
        await ready.wait()  # every tab has drawn its first page: upload everywhere at the same moment
        t0 = time.perf_counter()
        await page.locator(".st-key-image").get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
            {"name": image.filename, "mimeType": "image/jpeg", "buffer": image.data})
        main = page.get_by_test_id("stMain")
        try:
            await main.get_by_text(image.filename).first.wait_for(state="visible", timeout=UPLOAD_TIMEOUT_MS)
            first_phase = time.perf_counter() - t0
            await page.wait_for_function(MEASURED_JS, timeout=UPLOAD_TIMEOUT_MS, polling=100)
        except Exception:  # one session that never shows its image is a problem in the row, not a lost run
            return SessionResult(image.filename, math.inf, first_page, (await _not_drawn(page),))
        seconds = time.perf_counter() - t0
        return SessionResult(image.filename, seconds, first_page, tuple(await _problems(page, image, others)), first_phase)
    finally:
        await context.close()


async def _not_drawn(page) -> str:
    """Why a session did not show its upload in time: what its page shows instead."""
    lost = await page.locator(".st-key-upload_lost").count()
    waiting = await page.locator("[class*='st-key-waiting_']").all_inner_texts()
    state = await page.evaluate("() => document.querySelector(\"[data-testid='stApp']\")?.getAttribute('data-test-script-state')")
    return (f"its image was not drawn within {UPLOAD_TIMEOUT_MS / 1000:.0f} s (script {state}, "
            f"upload-lost line {'shown' if lost else 'not shown'}, waiting line {[w[:60] for w in waiting]})")


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


def run_sessions(count: int = SESSIONS, max_jobs: str | None = None,
                 imgs: list[SessionImage] | None = None) -> tuple[list[SessionResult], float, dict[str, float]]:
    """Start the server (``SPP_VIZ_MAX_JOBS=max_jobs`` when given, else the app's default limit),
    run ``count`` sessions at once; (results, cold start seconds, the server's memory in MB)."""
    from spp_viz.admission import ENV_MAX_JOBS
    from spp_viz.devtools.server import start_app

    imgs = imgs or images(count)
    extra = {ENV_MAX_JOBS: max_jobs} if max_jobs else {}
    with tempfile.TemporaryFile() as log, mock.patch.dict(os.environ, extra):
        t0 = time.perf_counter()
        server = start_app(log)
        cold = time.perf_counter() - t0
        try:
            memory = RssSampler(server.proc.pid)
            try:
                results = asyncio.run(_run_sessions(server.url, imgs))
            finally:
                memory.stop()
        finally:
            server.stop()
    return results, cold, memory.figures()


class RssSampler(threading.Thread):
    """The server's resident memory (``/proc/PID/status`` VmRSS) every 0.25 s while the sessions run."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.done = pid, threading.Event()
        self.samples = [self.rss_mb()]
        self.start()

    def rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.pid}/status") as status:
                return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            return 0.0

    def run(self) -> None:
        while not self.done.wait(0.25):
            self.samples.append(self.rss_mb())

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)

    def figures(self) -> dict[str, float]:
        """MB: when the server was healthy (nothing loaded), the peak, and after the last session."""
        return {"idle_mb": round(self.samples[0]), "peak_mb": round(max(self.samples)), "end_mb": round(self.samples[-1])}


@dataclass(frozen=True)
class Summary:
    """One run's figures: median and slowest upload -> full render, and what went wrong."""

    label: str
    median: float
    slowest: float
    problems: tuple[str, ...]
    cold: float
    results: tuple[SessionResult, ...]
    memory: dict[str, float]

    @classmethod
    def of(cls, label: str, results: list[SessionResult], cold: float, memory: dict[str, float]) -> Summary:
        times = sorted(r.seconds for r in results)
        return cls(label, statistics.median(times), times[-1], tuple(f"{r.filename}: {p}" for r in results for p in r.problems),
                   cold, tuple(results), memory)

    def measured(self) -> str:
        verdict = ("each saw its own image, size and top-1, none saw another's, no errors" if not self.problems
                   else f"{len(self.problems)} problems: {list(self.problems[:3])}")
        first = statistics.median(r.first_phase_s for r in self.results)
        return f"median {self.median:.1f} s, slowest {self.slowest:.1f} s (first phase: median {first:.1f} s); {verdict}"

    def details(self) -> dict:
        return {"server_healthy_s": round(self.cold, 1), "server_memory_mb": self.memory,
                "sessions": [{"file": r.filename, "seconds": round(r.seconds, 2), "first_phase_s": round(r.first_phase_s, 2),
                              "first_page_s": round(r.first_page_s, 2), "problems": list(r.problems)}
                             for r in self.results]}


def run(quick: bool) -> list[Row]:
    """Area ``sessions`` of ``python -m benchmarks``: the same eight uploads with admission off
    (``SPP_VIZ_MAX_JOBS=64``: every session computes at once) and on (the app's default limit,
    ``spp_viz.admission.default_max_jobs``), one after the other in this run."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return [Row("10 sessions", f"{SESSIONS} browser sessions at once", f"skipped: no Chromium at {CHROMIUM}", f"<= {TARGET_S:.0f} s")]
    from spp_viz.admission import default_max_jobs

    imgs = images(SESSIONS)
    off = Summary.of("off", *run_sessions(SESSIONS, NO_LIMIT, imgs))
    on = Summary.of("on", *run_sessions(SESSIONS, None, imgs))
    limit = default_max_jobs()
    fast_enough = on.median <= MEDIAN_RATIO * off.median
    return _rows(off, on, limit, fast_enough) + _other_limit(imgs, off, limit)


def _other_limit(imgs: list[SessionImage], off: Summary, limit: int) -> list[Row]:
    """The same uploads with the other choice of limit, for operators choosing it: one job at a
    time when the default allows more (it is at least 2 on 2 cores: much of a job is one Python
    thread, which one slot leaves a core idle through), else one job per core."""
    from spp_viz.admission import usable_cores

    other = 1 if limit > 1 else usable_cores()
    if other == limit:
        return []
    alt = Summary.of(f"{other} jobs", *run_sessions(SESSIONS, str(other), imgs))
    return [Row("10 sessions", f"  the same, admission on with {other} job(s) at once: upload -> full render",
                alt.measured() + f"; median {alt.median / off.median:.2f} x off's, "
                f"slowest {alt.slowest / off.slowest:.2f} x off's", "report", None, alt.median, alt.details())]


def _rows(off: Summary, on: Summary, limit: int, fast_enough: bool) -> list[Row]:
    return [
        Row("10 sessions", f"{SESSIONS} browser sessions uploading at once, admission off: upload -> full render",
            off.measured(), f"all correct; slowest <= {TARGET_S:.0f} s", not off.problems and off.slowest <= TARGET_S,
            off.slowest, off.details()),
        Row("10 sessions", f"  the same, admission on ({limit} job(s) at once): upload -> full render",
            on.measured() + f"; median {on.median / off.median:.2f} x off's, slowest {on.slowest / off.slowest:.2f} x off's",
            f"all correct; median <= {MEDIAN_RATIO} x off's; slowest <= off's",
            not on.problems and fast_enough and on.slowest <= off.slowest, on.median, on.details()),
        Row("10 sessions", f"  one app process's memory (RSS), admission off / on: healthy (idle), peak, after the {SESSIONS} sessions",
            " / ".join(f"{m['idle_mb']:.0f}, {m['peak_mb']:.0f}, {m['end_mb']:.0f} MB" for m in (off.memory, on.memory)),
            "report", None, on.memory["peak_mb"]),
        Row("10 sessions", f"  first start: server healthy, then {SESSIONS} tabs opened at once -> default page drawn",
            f"server {on.cold:.1f} s; first page {min(r.first_page_s for r in on.results):.1f} s, "
            f"all {SESSIONS} {max(r.first_page_s for r in on.results):.1f} s", "report", None,
            max(r.first_page_s for r in on.results)),
    ]


if __name__ == "__main__":
    rows = run(quick=False)
    for row in rows:
        print(f"{row.figure}: {row.measured} (target {row.target}, met: {row.met_text})")
    sys.exit(0)
