"""Soak (short): 20 distinct uploads through one app process; RSS bounded, no upward trend.

The full figure (100 uploads, peak <= 1.6 GB) is area ``soak`` of ``python -m benchmarks``;
this runs the same driver (``benchmarks/soak.py``, a fresh subprocess with AppTest) with fewer
uploads, so a cache that stops evicting or a reference that keeps every upload alive shows up
in CI: with bounded caches, RSS after the warm-up stays flat.
"""

from __future__ import annotations

import sys

import pytest

from benchmarks import soak

pytestmark = pytest.mark.slow  # a fresh app process and 20 analyses: about 1 minute on 2 idle cores, 3 on busy ones

UPLOADS = 20
WARMUP = 8  # the per-image caches hold 8 entries (the full benchmark waits for every cache: benchmarks.soak.default_warmup)
PEAK_LIMIT_GB = 1.6


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS is read from /proc")
def test_twenty_distinct_uploads_keep_memory_bounded_and_flat() -> None:
    result = soak.run_child(UPLOADS, seed=3, warmup=WARMUP, timeout_s=900)
    assert len(result.rss_mb) == UPLOADS
    assert result.peak_gb <= PEAK_LIMIT_GB, result.rss_mb
    # after the warm-up: no growth beyond noise (least-squares slope, MB per 100 uploads)
    assert result.slope_mb_per_100 < soak.TREND_TARGET_MB_PER_100, result.rss_mb
    late = result.rss_mb[WARMUP:]
    assert max(late) - min(late) < 400, result.rss_mb  # no swings of hundreds of MB between uploads
    assert result.errors == [], result.errors[:3]  # every upload's page ran its forward and drew every panel
