"""The property every input must satisfy, shared by the fuzz target and the corpus replay.

EVERY input gives a ``DecodedImage`` (RGB, working size within bounds) or an
``ImageDecodeError`` whose message is one sentence; nothing else, within 2 s.
(Memory is bounded by libFuzzer's ``-rss_limit_mb`` in the fuzz run.)
"""

from __future__ import annotations

import time

from spp_viz.defaults import MIN_WORKING_SIDE
from spp_viz.images import MAX_ASPECT, DecodedImage, ImageDecodeError, load_image

TIME_LIMIT_S = 2.0  # libFuzzer's -timeout=2 enforces it too; this names the input in the message
# The working image is bounded by images.MAX_WORKING_PIXELS, except that the min-side rule may
# scale an elongated image up: 32 px x the 200:1 aspect limit.
MAX_WORKING_SIDE = MIN_WORKING_SIDE * MAX_ASPECT


def check_one(data: bytes, max_side: int = 1024) -> DecodedImage | None:
    """Decode ``data``; return the image, None for a clean refusal, raise for anything else."""
    start = time.perf_counter()
    try:
        decoded = load_image(data, max_side=max_side, filename="fuzz.bin")
    except ImageDecodeError as exc:
        message = str(exc)
        if not message or "\n" in message or not message.endswith(".") or "Traceback" in message:
            raise AssertionError(f"not one sentence: {message!r}") from exc
        return None
    finally:
        elapsed = time.perf_counter() - start
        if elapsed > TIME_LIMIT_S:
            raise AssertionError(f"decoding took {elapsed:.2f} s, over {TIME_LIMIT_S} s")
    image = decoded.image
    if image.mode != "RGB" or image.size != decoded.working_size:
        raise AssertionError(f"bad image: mode {image.mode}, size {image.size} vs {decoded.working_size}")
    if min(image.size) < 1 or max(image.size) > max(max_side, MAX_WORKING_SIDE):
        raise AssertionError(f"working size {image.size} out of bounds")
    return decoded
