"""What one analysis costs a server, for the sizing table of docs/serving.md (area ``sizing``).

CPU seconds (``time.process_time``: every thread of this process, user + system) of one first
analysis of a photo nobody analysed before, at 1 MP (1224 x 816) and 12 MP (4000 x 3000), with
the app's defaults (working size at most 1024 px, EfficientNet-Lite0 already loaded):

- *first paint*: what the page needs before it draws the photo, bins, map and predictions
  (decode and resize, forward, SPP head, top-5);
- *full*: ``run_inspection`` with the family panel's default heads, which also times SPPF,
  YOLOv5's SPP and the heads (the page's second phase), and loads the model as the CLI does.

Users per core at a stated time T: T / CPU seconds, the first analyses one core finishes within
T when they all arrive at once and run one at a time (the admission queue's order).
"""

from __future__ import annotations

import io
import statistics
import time
import uuid

from spp_viz.analysis import PyramidConfig, extract_features, pool_pyramid, predict
from spp_viz.backbones import load_backbone
from spp_viz.choices import BinRule, Pool
from spp_viz.defaults import DEFAULT_FAMILY_HEADS, DEFAULT_LEVELS
from spp_viz.images import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, load_image
from spp_viz.pooling import parse_levels
from spp_viz.report import run_inspection

from .common import ROOT, Row

SIZES = {"1 MP": (1224, 816), "12 MP": (4000, 3000)}
FIRST_PAINT_S = 10.0  # the stated time to first paint for "users per core"
FULL_RENDER_S = 30.0


def photo(size: tuple[int, int]) -> bytes:
    """The cat at ``size``, one pixel changed so no cache has seen it."""
    from PIL import Image

    with Image.open(ROOT / "assets" / "chelsea_cat.jpg") as im:
        image = im.convert("RGB").resize(size)
    image.putpixel((0, 0), tuple(uuid.uuid4().bytes[:3]))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def first_paint_cpu(data: bytes, backbone) -> float:
    start = time.process_time()
    decoded = load_image(data, max_side=DEFAULT_MAX_SIDE, max_pixels=DEFAULT_MAX_PIXELS)
    features = extract_features(backbone, decoded.image)
    pool_pyramid(features, PyramidConfig(parse_levels(DEFAULT_LEVELS), Pool.MAX, BinRule.ADAPTIVE))
    predict(backbone, features)
    return time.process_time() - start


def full_cpu(data: bytes) -> float:
    start = time.process_time()
    run_inspection(data, download=False, heads=",".join(DEFAULT_FAMILY_HEADS))
    return time.process_time() - start


def run(quick: bool) -> list[Row]:
    backbone = load_backbone("efficientnet_lite0", download=False)
    first_paint_cpu(photo((640, 480)), backbone)  # warm-up: lazy imports, first allocations
    rounds = 2 if quick else 3
    rows = []
    for label, size in SIZES.items():
        paint = statistics.median(first_paint_cpu(photo(size), backbone) for _ in range(rounds))
        full = statistics.median(full_cpu(photo(size)) for _ in range(rounds))
        rows.append(Row("12 sizing", f"CPU seconds per first analysis, {label} ({size[0]} x {size[1]} JPEG)",
                        f"first paint {paint:.2f} s, full render {full:.2f} s; per core: "
                        f"{FIRST_PAINT_S / paint:.0f} users at {FIRST_PAINT_S:.0f} s to first paint, "
                        f"{FULL_RENDER_S / full:.0f} at {FULL_RENDER_S:.0f} s to a full render",
                        "report", None, full, {"rounds": rounds, "first_paint_cpu_s": round(paint, 3),
                                               "full_cpu_s": round(full, 3)}))
    return rows


if __name__ == "__main__":
    for row in run(quick=False):
        print(f"{row.figure}: {row.measured}")
