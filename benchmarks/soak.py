"""Soak: many distinct uploads through ONE app process; does its memory stay bounded?

``python -m benchmarks.soak --uploads 100 --seed 0`` runs the app's script with Streamlit's
``AppTest`` in a fresh process (its caches are process-wide, as in ``streamlit run``), uploads
``N`` distinct photo-like images of random size (200-1600 px per side, JPEG or PNG), checks
that each page got past its forward to the downloads, and samples the process's RSS
(``/proc/self/status`` VmRSS) after every upload. It prints one JSON object. ``run(...)`` (area
``soak`` of ``python -m benchmarks``) and ``tests/test_soak.py`` start it as a subprocess, so
every soak starts from a cold process.

Targets: over 100 distinct uploads, peak RSS <= 1.6 GB and no upward trend: the
least-squares slope of RSS over the uploads after the caches have filled (the warm-up: the
uploads until every cache that gains entries per upload is full, :func:`default_warmup`)
projects less than 100 MB of growth per 100 uploads.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEAK_TARGET_GB = 1.6
TREND_TARGET_MB_PER_100 = 100.0
SIZE_RANGE = (200, 1600)


@dataclass(frozen=True)
class SoakResult:
    """RSS after each upload, in MB (1e6 bytes), and what the trend and peak came to."""

    uploads: int
    seed: int
    rss_mb: list[float]
    sizes: list[tuple[int, int]]
    warmup: int
    seconds: float
    errors: list[str]

    @property
    def peak_gb(self) -> float:
        return max(self.rss_mb) / 1000

    @property
    def slope_mb_per_100(self) -> float:
        """Least-squares slope of RSS over the uploads after the warm-up, per 100 uploads."""
        ys = self.rss_mb[self.warmup:]
        if len(ys) < 3:
            return 0.0
        xs = range(len(ys))
        mx, my = (len(ys) - 1) / 2, sum(ys) / len(ys)
        num = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
        den = sum((x - mx) ** 2 for x in xs)
        return 100 * num / den

    def met(self, peak_gb: float = PEAK_TARGET_GB) -> bool:
        return not self.errors and self.peak_gb <= peak_gb and self.slope_mb_per_100 < TREND_TARGET_MB_PER_100


def rss_mb() -> float:
    """Resident set size of this process now, in MB (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError("no VmRSS in /proc/self/status")


def photo(width: int, height: int, seed: int, fmt: str) -> bytes:
    """A distinct photo-like image: smooth random colour fields plus grain (compresses like a photo)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, height // 64), max(2, width // 64), 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    grain = rng.integers(-10, 11, base.shape, dtype=np.int16)
    im = Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {"compress_level": 1}))
    return buf.getvalue()


def _page_errors(at) -> list[str]:
    """The page's exceptions and errors, and a page without its downloads: one that stopped at
    phase 0 (the bins) and never ran the forward."""
    incomplete = [] if len(at.get("download_button")) else ["the page stopped before the forward (no downloads)"]
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error] + incomplete


def soak(uploads: int, seed: int, warmup: int) -> SoakResult:
    """Upload ``uploads`` distinct images through one AppTest; RSS after each (this process)."""
    import random

    from streamlit.testing.v1 import AppTest

    from spp_viz.ui import preload

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    # a process past its first page: a cold one ends its first runs after phase 0 until the
    # browser's explorer echoes that it has drawn it, which AppTest never does
    preload.start()
    rng = random.Random(seed)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    samples: list[float] = []
    sizes: list[tuple[int, int]] = []
    errors: list[str] = []
    start = time.perf_counter()
    for i in range(uploads):
        w, h = rng.randint(*SIZE_RANGE), rng.randint(*SIZE_RANGE)
        fmt = "JPEG" if i % 3 else "PNG"
        data = photo(w, h, seed * 100_003 + i, fmt)
        at.file_uploader(key="image").set_value((f"upload_{i}.{fmt.lower()}", data, f"image/{fmt.lower()}"))
        at.run()
        errors += [f"upload {i} ({w} x {h}): {e}" for e in _page_errors(at)]
        sizes.append((w, h))
        samples.append(round(rss_mb(), 1))
    return SoakResult(uploads, seed, samples, sizes, warmup, round(time.perf_counter() - start, 1), errors)


def run_child(uploads: int, seed: int, warmup: int, timeout_s: float = 3600) -> SoakResult:
    """:func:`soak` in a fresh Python process (cold caches, its own RSS)."""
    cmd = [sys.executable, "-m", "benchmarks.soak", "--uploads", str(uploads), "--seed", str(seed), "--warmup", str(warmup)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout_s, env={**os.environ})
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"soak child exited {proc.returncode}: {tail[0][:200]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    data["sizes"] = [tuple(s) for s in data["sizes"]]
    return SoakResult(**data)


def run(quick: bool) -> list:
    """Area ``soak`` of ``python -m benchmarks``: 100 uploads (40 with --quick: its trend covers
    only the 24 uploads after the caches fill, so the target's figure is the full run's)."""
    from .common import Row

    uploads = 40 if quick else 100
    result = run_child(uploads, seed=0, warmup=default_warmup())
    every = max(1, uploads // 10)
    trace = ", ".join(f"{mb / 1000:.2f}" for mb in result.rss_mb[every - 1::every])
    details = dict(asdict(result), peak_gb=result.peak_gb, slope_mb_per_100=result.slope_mb_per_100)
    return [
        Row("9 soak", f"peak RSS over {uploads} distinct uploads (200-1600 px) in one app process",
            f"{result.peak_gb:.2f} GB (RSS every {every} uploads: {trace} GB), {result.seconds:.0f} s",
            f"<= {PEAK_TARGET_GB} GB", result.peak_gb <= PEAK_TARGET_GB and not result.errors, result.peak_gb, details),
        Row("9 soak", f"RSS trend after the first {result.warmup} uploads (least squares)",
            f"{result.slope_mb_per_100:+.0f} MB per 100 uploads" + (f"; {len(result.errors)} page errors" if result.errors else ""),
            f"< {TREND_TARGET_MB_PER_100:.0f} MB per 100", result.slope_mb_per_100 < TREND_TARGET_MB_PER_100 and not result.errors,
            result.slope_mb_per_100),
    ]


def default_warmup() -> int:
    """Uploads until every cache that gains entries per upload is full: the per-image caches
    (one entry per image), the family's branch maps (one per image and default head) and the
    region panel's results (one per image and box)."""
    import math

    from spp_viz.defaults import DEFAULT_FAMILY_HEADS
    from spp_viz.ui import caches, views

    return max(caches.PER_IMAGE_CACHE_ENTRIES, math.ceil(caches.FAMILY_MAPS_CACHE_ENTRIES / len(DEFAULT_FAMILY_HEADS)),
               views.REGION_CACHE_ENTRIES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=None, help="uploads before the trend is measured (default: cache size)")
    args = parser.parse_args(argv)
    result = soak(args.uploads, args.seed, args.warmup if args.warmup is not None else default_warmup())
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
