"""Area 17: numbers you can teach from. The page's SPP vs SPPF latencies against the same pools
timed alone, in Chromium through Playwright, side by side in one run.

A **reading** is the SPPF / parallel-pools pool-only ratio of the page's own JSON download (the
``sppf.costs`` rows), taken once the page says it has finished measuring. Each is compared with
the same two pools timed alone in a quiet separate process (``python -c``, nothing else running
in it, after the servers have stopped): ``spp_viz.timing.measure_interleaved`` on a map of the
reading's shape with the channel count the pools see (C / 2, after cv1), with the worker's
thread count. A reading agrees when the two ratios are within x1.15 of each other.

- **Ten page readings**: the sample page on N fresh server starts, and N uploads of distinct
  photos on one server (N = 5; 2 with ``--quick``).
- **The same under load**: each reading taken while 4 other sessions upload photos (each uploads,
  waits for its own numbers, reads its page for 5-15 s, uploads the next).
- **Eight sessions uploading at once**: upload -> own photo drawn (the first phase), median and
  slowest, and upload -> numbers; every session's reading against the pools alone. With
  ``SPP_VIZ_BASELINE=/path/to/another/checkout`` the same eight uploads run against that tree
  too, in the same run, as "today's": for issue 24's target, the tree before the timing worker
  (``git worktree add /tmp/base24 f4845a8``), whose pages carry the markers this harness waits for.
- **The 12 MP second phase in Chromium**: from the photo drawn to the numbers on screen, against
  3x a bare forward of the same photo at the working size + 1 s.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from .common import ROOT, Engine, Row

AREA = "17 honest"
AGREE = 1.15  # a reading within x1.15 of the pools alone
LOADERS = 4
LOADER_PAUSE_S = (5.0, 15.0)  # a loading session reads its page this long before its next upload
SESSIONS = 8
FIRST_PHASE_SHARE = 0.5  # eight sessions: the median first phase at most half of today's
SECOND_PHASE_FORWARDS = 3.0  # the 12 MP second phase: numbers at most 3 forwards + 1 s after the photo
SECOND_PHASE_SLACK_S = 1.0
TIMEOUT_MS = 600_000
ENV_BASELINE = "SPP_VIZ_BASELINE"

ALONE = r"""
import json, sys
import torch
from spp_viz.pooling import cascade_branches, spp_yolo, sppf_effective_kernels
from spp_viz.timing import measure_interleaved
c, h, w, threads = map(int, sys.argv[1:5])
torch.set_num_threads(threads)
x = torch.rand(1, c, h, w)
def run_sppf():
    with torch.inference_mode():
        return torch.cat(cascade_branches(x, 5, 3), 1)
def run_parallel():
    with torch.inference_mode():
        return spp_yolo(x, sppf_effective_kernels(5))
out = measure_interleaved({"sppf": run_sppf, "parallel": run_parallel})
print(json.dumps({k: [v.median_ms, v.iqr_ms, v.threads] for k, v in out.items()}))
"""


@dataclass(frozen=True)
class Reading:
    """One page's SPPF / parallel pool-only ratio and what it was measured on."""

    label: str
    ratio: float
    shape: tuple[int, int, int]  # (C the pools see, h, w)
    threads: int
    noisy: bool

    @classmethod
    def of(cls, label: str, report: dict[str, Any]) -> Reading:
        costs = {c["kind"]: c for c in report["sppf"]["costs"]}
        sppf, parallel = costs["sppf"], costs["parallel_spp"]
        fm = report["feature_map"]
        if sppf["pool_ms"] is None or parallel["pool_ms"] is None:  # the page gave no numbers: a reading that disagrees
            return cls(label + " (no numbers on the page)", math.nan, (fm["channels"] // 2, fm["height"], fm["width"]), 0, False)
        return cls(label, sppf["pool_ms"] / parallel["pool_ms"], (fm["channels"] // 2, fm["height"], fm["width"]),
                   int(sppf.get("threads") or 0), bool(sppf.get("pool_noisy") or parallel.get("pool_noisy")))


@dataclass
class Alone:
    """The pools alone, once per (shape, threads), in a quiet process."""

    ratios: dict[tuple[tuple[int, int, int], int], float] = field(default_factory=dict)

    def ratio(self, shape: tuple[int, int, int], threads: int) -> float:
        key = (shape, threads)
        if key not in self.ratios:
            done = subprocess.run([sys.executable, "-c", ALONE, *map(str, shape), str(threads)], capture_output=True,
                                  text=True, check=True, cwd=ROOT, timeout=300)
            ms = json.loads(done.stdout.strip().splitlines()[-1])
            self.ratios[key] = ms["sppf"][0] / ms["parallel"][0]
        return self.ratios[key]

    def apart(self, reading: Reading) -> float:
        """How far the page's ratio is from the pools alone (x); infinite when the page gave none."""
        if not math.isfinite(reading.ratio):
            return math.inf
        alone = self.ratio(reading.shape, reading.threads)
        return max(reading.ratio / alone, alone / reading.ratio)


# ----------------------------------------------------------------------------
# photos


def photos(count: int, seed: int, side: int = 640) -> list[tuple[str, bytes]]:
    """``count`` distinct JPEGs (the bundled photos, cropped and sized differently, one pixel random)."""
    from PIL import Image

    rng = random.Random(seed)
    assets = sorted((ROOT / "assets").glob("*.jpg"))
    out = []
    for i in range(count):
        with Image.open(assets[i % len(assets)]) as im:
            rgb = im.convert("RGB")
        w, h = rgb.size
        inset = rng.uniform(0.0, 0.1)
        crop = rgb.crop((int(w * inset), int(h * inset), w - int(w * inset), h - int(h * inset)))
        crop = crop.resize((side + rng.randrange(0, 160), (side * 3) // 4 + rng.randrange(0, 120)))
        crop.putpixel((0, 0), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        buf = io.BytesIO()
        crop.save(buf, "JPEG", quality=90)
        out.append((f"honest{seed}_{i}_{assets[i % len(assets)].stem}.jpg", buf.getvalue()))
    return out


# ----------------------------------------------------------------------------
# the page in Chromium (async Playwright)


async def open_page(browser: Any, url: str) -> Any:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = await context.new_page()
    await page.goto(url, wait_until="domcontentloaded", timeout=TIMEOUT_MS)
    await page.wait_for_selector(".st-key-image [data-testid='stFileUploaderDropzoneInput']", state="attached", timeout=TIMEOUT_MS)
    return page


# The SPP vs SPPF panel's latency table, or an error saying why it has none. MEASURED_JS alone once
# held on a fresh server's first page before its full page was drawn: the report downloaded then had
# no latencies, and the server, whose tab was closed right after, never started a measurement.
NUMBERS_JS = "document.querySelector(\"[class*='st-key-sppf_costs'], [data-testid='stAlertContentError']\") !== null"


async def numbers(page: Any) -> None:
    """Until the page's second phase is in: the latency table (or an error) on the page, no
    "measuring" note left, the script idle."""
    from spp_viz.devtools.server import MEASURED_JS

    await page.get_by_test_id("stMetricValue").first.wait_for(state="visible", timeout=TIMEOUT_MS)
    await page.wait_for_function(f"() => ({NUMBERS_JS}) && ({MEASURED_JS})()", timeout=TIMEOUT_MS, polling=100)


async def report(page: Any) -> dict[str, Any]:
    """The page's JSON report, downloaded as a user would (from the downloads menu, closed after).
    A download the page cancels (a rerun replaced its file meanwhile), or a menu that did not open
    within two minutes (a loaded machine), is asked for again, twice at most."""
    for attempt in range(3):
        try:
            await page.locator(".st-key-downloads button").first.click(timeout=120_000)
            async with page.expect_download(timeout=120_000) as info:
                await page.locator(".st-key-dl_json button").click(timeout=120_000)
            download = await info.value
            path = await download.path()  # the whole file first: Escape while it downloads may cancel it
            await page.keyboard.press("Escape")
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except Exception:
            if attempt == 2:
                raise
            await page.wait_for_timeout(1000)
    raise AssertionError("unreachable")


async def upload(page: Any, name: str, data: bytes) -> float:
    """Upload; seconds until the page shows the file's name (its first phase)."""
    start = time.perf_counter()
    await page.locator(".st-key-image").get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        {"name": name, "mimeType": "image/jpeg", "buffer": data})
    await page.get_by_test_id("stMain").get_by_text(name).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    return time.perf_counter() - start


async def _browser(pw: Any) -> Any:
    from spp_viz.devtools.server import CHROMIUM, CHROMIUM_ARGS

    return await pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), timeout=60_000)


@dataclass
class QueueSummary:
    """What a server's admission record says (``SPP_VIZ_QUEUE_RECORD``): measurements started,
    finished and interrupted, and any analysis that ran during a measurement."""

    measurements: int = 0
    finished: int = 0
    interrupted: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, path: Path) -> None:
        from spp_viz.admission import Step, Work, read_record, record_problems

        if not path.exists():
            return
        events = read_record(str(path))
        measured = [e for e in events if e.work is Work.MEASUREMENT]
        self.measurements += sum(e.step is Step.START for e in measured)
        self.finished += sum(e.step is Step.FINISH for e in measured)
        self.interrupted += sum(e.step is Step.INTERRUPT for e in measured)
        self.problems += record_problems(events)

    def as_json(self) -> dict[str, Any]:
        return {"measurement_starts": self.measurements, "finished": self.finished, "interrupted": self.interrupted,
                "analyses_during_a_measurement": self.problems[:5]}


QUEUES = QueueSummary()  # every server of this run started from this tree


class Server:
    """``streamlit run app.py`` (of ``tree``, default this one) while the block runs; this tree's
    servers record their admission queue into :data:`QUEUES`."""

    def __init__(self, tree: Path = ROOT):
        self.tree = tree

    def __enter__(self) -> str:
        from spp_viz.admission import ENV_RECORD
        from spp_viz.devtools.server import start_app

        self._log = tempfile.TemporaryFile()
        self._record = Path(tempfile.mkdtemp(prefix="spp-viz-queue-")) / "record.jsonl"
        extra = {ENV_RECORD: str(self._record)} if self.tree == ROOT else {"PYTHONPATH": str(self.tree)}
        with mock.patch.dict(os.environ, extra):
            self._server = start_app(self._log, cwd=self.tree)
        say(f"server on {self._server.url} ({self.tree}); queue record {self._record if self.tree == ROOT else '-'}")
        return self._server.url

    def __exit__(self, *exc: object) -> None:
        self._server.stop()
        self._log.close()
        if self.tree == ROOT:
            QUEUES.add(self._record)


class Load:
    """``LOADERS`` sessions uploading photos while the block runs: each uploads, waits for its own
    numbers, reads its page for 5-15 s, and uploads the next."""

    def __init__(self, browser: Any, url: str, seed: int):
        self.browser, self.url, self.seed = browser, url, seed
        self.uploads = 0

    async def __aenter__(self) -> Load:
        self._stop = asyncio.Event()
        pages = [await open_page(self.browser, self.url) for _ in range(LOADERS)]
        self._tasks = [asyncio.create_task(self._loop(page, i)) for i, page in enumerate(pages)]
        await asyncio.sleep(1.0)
        return self

    async def _loop(self, page: Any, index: int) -> None:
        rng = random.Random(self.seed * 100 + index)
        for n in range(10_000):
            if self._stop.is_set():
                break
            name, data = photos(1, self.seed * 1000 + index * 100 + n)[0]
            try:
                await upload(page, name, data)
                self.uploads += 1
                await numbers(page)
            except Exception:  # a slow loader is still load: keep going
                continue
            await asyncio.sleep(rng.uniform(*LOADER_PAUSE_S))
        await page.context.close()

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def fresh_start_readings(count: int, loaded: bool) -> list[Reading]:
    """The sample page on ``count`` fresh server starts (under load: 4 sessions uploading meanwhile)."""
    from playwright.async_api import async_playwright

    out = []
    async with async_playwright() as pw:
        browser = await _browser(pw)
        try:
            for i in range(count):
                with Server() as url:
                    if loaded:
                        async with Load(browser, url, seed=10 + i):
                            page = await open_page(browser, url)
                            await numbers(page)
                            found = await report(page)
                    else:
                        page = await open_page(browser, url)
                        await numbers(page)
                        found = await report(page)
                    out.append(Reading.of(f"fresh start {i + 1}", found))
                    await page.context.close()
        finally:
            await browser.close()
    return out


async def upload_readings(count: int, loaded: bool) -> list[Reading]:
    """``count`` distinct photos uploaded one after the other in one tab of one server."""
    from playwright.async_api import async_playwright

    out = []
    async with async_playwright() as pw:
        browser = await _browser(pw)
        try:
            with Server() as url:
                page = await open_page(browser, url)
                await numbers(page)
                for i, (name, data) in enumerate(photos(count, seed=20 + int(loaded))):
                    if loaded:
                        async with Load(browser, url, seed=30 + i):
                            await upload(page, name, data)
                            await numbers(page)
                    else:
                        await upload(page, name, data)
                        await numbers(page)
                    out.append(Reading.of(f"upload {i + 1}", await report(page)))
        finally:
            await browser.close()
    return out


@dataclass(frozen=True)
class Upload:
    first_phase_s: float  # upload -> own file name drawn
    numbers_s: float  # upload -> no "measuring" note left
    reading: Reading | None


async def eight_sessions(tree: Path, uploads: list[tuple[str, bytes]]) -> list[Upload]:
    """Eight tabs on one server (of ``tree``): each draws the default page with its numbers, then
    all upload their own photo at the same moment."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await _browser(pw)
        try:
            with Server(tree) as url:
                ready = asyncio.Barrier(len(uploads))

                async def session(name: str, data: bytes) -> Upload:
                    page = await open_page(browser, url)
                    await numbers(page)
                    await ready.wait()
                    start = time.perf_counter()
                    first = await upload(page, name, data)
                    await numbers(page)
                    took = time.perf_counter() - start
                    try:
                        reading: Reading | None = Reading.of(name, await report(page))
                    except Exception:  # no report, or one without the pool rows: counted as no numbers
                        reading = None
                    await page.context.close()
                    return Upload(first, took, reading)

                return list(await asyncio.gather(*(session(name, data) for name, data in uploads)))
        finally:
            await browser.close()


async def twelve_mp_second_phase(photo: Path) -> tuple[float, float]:
    """(photo drawn s, numbers on screen s) after uploading the 12 MP photo, on a warm server."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await _browser(pw)
        try:
            with Server() as url:
                page = await open_page(browser, url)
                await numbers(page)
                start = time.perf_counter()
                first = await upload(page, photo.name, photo.read_bytes())
                await numbers(page)
                return first, time.perf_counter() - start
        finally:
            await browser.close()


# ----------------------------------------------------------------------------
# rows


def say(what: str) -> None:
    """Progress on stderr, with the load average (the table is printed at the end)."""
    print(f"    {time.strftime('%H:%M:%S')} {what} (load average {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)


def _agreement_row(figure: str, readings: list[Reading], alone: Alone, details: dict[str, Any] | None = None) -> Row:
    aparts = [alone.apart(r) for r in readings]
    within = sum(a <= AGREE for a in aparts)
    worst = max(aparts) if aparts else math.inf
    cells = ", ".join((f"{r.ratio:.2f}/{alone.ratio(r.shape, r.threads):.2f}" if math.isfinite(r.ratio) else "no numbers")
                      + (" noisy" if r.noisy else "") for r in readings)
    return Row(AREA, figure, f"{within} of {len(readings)} within x{AGREE} (worst x{worst:.2f}; page/alone {cells})",
               f"each within x{AGREE}", within == len(readings), worst if math.isfinite(worst) else None,
               {"readings": [dict(label=r.label, page=round(r.ratio, 4) if math.isfinite(r.ratio) else None,
                                  alone=round(alone.ratio(r.shape, r.threads), 4) if math.isfinite(r.ratio) else None,
                                  apart=round(a, 3) if math.isfinite(a) else None, shape=list(r.shape), threads=r.threads, noisy=r.noisy)
                             for r, a in zip(readings, aparts)], **(details or {})})


def _sessions_rows(now: list[Upload], today: list[Upload] | None, alone: Alone) -> list[Row]:
    first = [u.first_phase_s for u in now]
    nums = [u.numbers_s for u in now]
    readings = [u.reading for u in now if u.reading is not None]
    measured = (f"first phase median {statistics.median(first):.1f} s, slowest {max(first):.1f} s; "
                f"numbers median {statistics.median(nums):.1f} s, slowest {max(nums):.1f} s")
    details = {"first_phase_s": [round(t, 2) for t in first], "numbers_s": [round(t, 2) for t in nums]}
    if today is None:
        rows = [Row(AREA, f"{SESSIONS} sessions uploading at once: upload -> own photo, and -> numbers", measured + " (no "
                    f"{ENV_BASELINE} tree to compare with)", f"median <= {FIRST_PHASE_SHARE} x today's, slowest <= today's",
                    None, statistics.median(first), details)]
    else:
        old = [u.first_phase_s for u in today]
        share, slowest = statistics.median(first) / statistics.median(old), max(first) / max(old)
        details |= {"today_first_phase_s": [round(t, 2) for t in old], "today_numbers_s": [round(u.numbers_s, 2) for u in today]}
        rows = [Row(AREA, f"{SESSIONS} sessions uploading at once: upload -> own photo (first phase), vs today's in the same run",
                    f"{measured}; today's first phase median {statistics.median(old):.1f} s, slowest {max(old):.1f} s: "
                    f"median {share:.2f} x, slowest {slowest:.2f} x today's",
                    f"median <= {FIRST_PHASE_SHARE} x today's, slowest <= today's",
                    share <= FIRST_PHASE_SHARE and slowest <= 1.0, share, details)]
    rows.append(_agreement_row(f"  every session's numbers arrive ({len(readings)} of {SESSIONS}), each reading vs the pools alone",
                               readings, alone))
    if len(readings) < SESSIONS:
        rows[-1].met = False
    return rows


def run(engine: Engine, quick: bool) -> list[Row]:
    from spp_viz.devtools.server import CHROMIUM, chromium_available

    if not chromium_available():
        return [Row(AREA, "honest timing in Chromium", f"skipped: no Chromium at {CHROMIUM}")]
    count = 2 if quick else 5
    rows: list[Row] = []
    say(f"{count} fresh starts and {count} uploads, quiet")
    quiet = asyncio.run(fresh_start_readings(count, loaded=False)) + asyncio.run(upload_readings(count, loaded=False))
    say(f"the same with {LOADERS} sessions uploading")
    loaded = asyncio.run(fresh_start_readings(count, loaded=True)) + asyncio.run(upload_readings(count, loaded=True))
    uploads = photos(SESSIONS, seed=99)
    say(f"{SESSIONS} sessions uploading at once")
    now = asyncio.run(eight_sessions(ROOT, uploads))
    baseline = os.environ.get(ENV_BASELINE)
    if baseline:
        say(f"{SESSIONS} sessions uploading at once, on {baseline}")
    today = asyncio.run(eight_sessions(Path(baseline), uploads)) if baseline else None
    photo = engine.ws.photo()
    say("the 12 MP second phase")
    first, numbers_s = asyncio.run(twelve_mp_second_phase(photo))
    say("the pools alone")
    forwards = sorted(engine.bare_forward_in_thread()[0] for _ in range(3))
    alone = Alone()  # every server has stopped: the pools alone run on a quiet machine
    rows.append(_agreement_row(f"{2 * count} page readings ({count} fresh starts, {count} uploads): SPPF/parallel pools vs alone",
                               quiet, alone, {"queues": QUEUES.as_json()}))
    rows.append(_agreement_row(f"  the same with {LOADERS} other sessions uploading meanwhile", loaded, alone))
    rows += _sessions_rows(now, today, alone)
    rows.append(Row(AREA, "  every server's admission record: analyses that ran during a measurement",
                    f"{len(QUEUES.problems)} (of {QUEUES.measurements} measurement starts, {QUEUES.interrupted} interrupted "
                    "by an arriving analysis and taken again)", "0", not QUEUES.problems, len(QUEUES.problems), QUEUES.as_json()))
    forward = forwards[1]
    second = numbers_s - first
    limit = SECOND_PHASE_FORWARDS * forward + SECOND_PHASE_SLACK_S
    rows.append(Row(AREA, "12 MP upload in Chromium: photo drawn -> numbers on screen",
                    f"{second:.1f} s (photo {first:.1f} s after the upload; forward {forward * 1000:.0f} ms, limit {limit:.1f} s)",
                    f"<= {SECOND_PHASE_FORWARDS:g}x a forward + {SECOND_PHASE_SLACK_S:g} s", second <= limit, second,
                    {"photo_s": round(first, 2), "numbers_s": round(numbers_s, 2), "forward_s": [round(f, 3) for f in forwards]}))
    return rows


if __name__ == "__main__":
    from .common import Workspace

    ws = Workspace()
    try:
        for row in run(Engine(ws), quick="--quick" in sys.argv):
            print(f"{row.figure}: {row.measured} (target {row.target}, met: {row.met_text})")
    finally:
        ws.close()
