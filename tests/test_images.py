"""Tests for spp_viz.images: every input is generated in memory with Pillow/numpy."""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import hostile_files as hf
import numpy as np
import pytest
from hostile_files import BLUE, GREEN, RED, WHITE, blank_bilevel_png, encode, exif_with_orientation, noise, png_chunk
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile, JpegImagePlugin

from spp_viz.defaults import MIN_WORKING_SIDE
from spp_viz.formats import ALLOWED_FORMATS
from spp_viz.images import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_SIDE,
    MAX_ASPECT,
    MAX_WORKING_PIXELS,
    DecodedImage,
    ImageDecodeError,
    load_image,
    working_size,
)

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "assets"


# ----------------------------------------------------------------------------
# Builders of this file's own (the shared ones live in tests/hostile_files.py)


def halves(width: int, height: int, left, right, mode: str = "RGB") -> Image.Image:
    """Left half one colour, right half another."""
    im = Image.new(mode, (width, height), left)
    im.paste(right, (width // 2, 0, width, height))
    return im


def decode_error(data: bytes, **kwargs) -> str:
    """Run load_image expecting failure; return the message after checking its shape."""
    with pytest.raises(ImageDecodeError) as info:
        load_image(data, **kwargs)
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "\n" not in msg and "\r" not in msg
    assert "Traceback" not in msg
    assert msg.endswith("."), msg
    assert 10 < len(msg) < 300, msg
    return msg


def pixel(result: DecodedImage, x: float, y: float) -> tuple[int, ...]:
    """Pixel at a relative position (0..1) of the working image."""
    w, h = result.image.size
    value = result.image.getpixel((min(w - 1, int(x * w)), min(h - 1, int(y * h))))
    assert isinstance(value, tuple)  # RGB: a tuple per pixel
    return value


def close(a, b, tol: int = 12) -> bool:
    return all(abs(int(u) - int(v)) <= tol for u, v in zip(a, b, strict=True))


# ----------------------------------------------------------------------------
# Bad inputs: one clear sentence each


def _truncated_jpeg() -> bytes:
    data = encode(noise(256, 256), "JPEG", quality=90)
    return data[: len(data) // 2]


def _corrupt_png() -> bytes:
    data = bytearray(encode(noise(128, 128), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 10 : start + 2000] = np.random.default_rng(3).bytes(1990)
    return bytes(data)


def _pdf() -> bytes:
    return encode(Image.new("RGB", (40, 40), RED), "PDF")


def _ico() -> bytes:
    return encode(Image.new("RGB", (32, 32), RED), "ICO")


def _ppm() -> bytes:
    return encode(Image.new("RGB", (32, 32), RED), "PPM")


def _tga() -> bytes:
    return encode(Image.new("RGB", (32, 32), RED), "TGA")


BAD_CASES = {
    "empty": (b"", "empty"),
    "text named png": (b"hello, this is not a picture\n" * 20, "text"),
    "html named png": (b"<!DOCTYPE html><html><body>Not found</body></html>", "HTML"),
    "random bytes": (np.random.default_rng(1).bytes(4096), "not an image"),
    "nul bytes": (b"\x00" * 1000, "not an image"),
    "svg": (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        "SVG",
    ),
    "svg with bom": (b'\xef\xbb\xbf<svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
    "pdf": (_pdf(), "PDF"),
    "ico": (_ico(), "ICO"),
    "ppm": (_ppm(), "PPM"),
    "heic": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100, "HEIC"),
    "tga": (_tga(), "TGA"),
    "tga without footer": (_tga()[:-26], "not an image we can read"),
    "png signature only": (b"\x89PNG\r\n\x1a\n", "truncated"),
    "jpeg signature only": (b"\xff\xd8\xff", "truncated"),
    "gif header only": (b"GIF89a", "truncated"),
    "truncated jpeg": (_truncated_jpeg(), "truncated"),
    "truncated png": (hf.truncated_png(), "truncated"),
    "corrupt png": (_corrupt_png(), "corrupt"),
    "png ihdr zero size": (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 10, 8, 2, 0, 0, 0)),
        "PNG",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_gives_one_sentence(case: str) -> None:
    data, keyword = BAD_CASES[case]
    msg = decode_error(data)
    assert keyword.lower() in msg.lower(), msg


def test_unsupported_format_message_lists_allowed_formats() -> None:
    msg = decode_error(BAD_CASES["svg"][0], filename="drawing.svg")
    assert "SVG" in msg and "not supported" in msg
    for fmt in ALLOWED_FORMATS:
        assert fmt in msg
    assert '"drawing.svg"' in msg


@pytest.mark.parametrize("case", ["empty", "random bytes", "truncated jpeg", "text named png"])
def test_message_names_the_file(case: str) -> None:
    msg = decode_error(BAD_CASES[case][0], filename="holiday.png")
    assert '"holiday.png"' in msg


def test_filename_control_characters_do_not_break_the_sentence() -> None:
    msg = decode_error(b"", filename="evil\nname\r\x00.png")
    assert "evil name" in msg


def test_truncation_is_not_tolerated_globally() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    decode_error(BAD_CASES["truncated jpeg"][0])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_too_elongated_is_refused() -> None:
    msg = decode_error(encode(Image.new("L", (MAX_ASPECT * 10 + 50, 10)), "PNG"))
    assert "aspect" in msg


# ----------------------------------------------------------------------------
# Pixel caps and decompression bombs


@pytest.fixture(scope="module")
def png_144mp() -> bytes:
    return hf.CASES["png_144mp"].data


def test_pixel_cap_is_checked_from_the_header(png_144mp: bytes) -> None:
    assert len(png_144mp) < 100_000  # tiny file, huge image
    msg = decode_error(png_144mp)
    assert msg == "This image is 12000 x 12000 = 144.0 MP, above the 89.5 MP limit."


def test_pixel_cap_message_names_the_file(png_144mp: bytes) -> None:
    msg = decode_error(png_144mp, filename="huge.png")
    assert msg.startswith('"huge.png" is 12000 x 12000 = 144.0 MP')


def test_custom_pixel_cap() -> None:
    data = encode(Image.new("RGB", (200, 100)), "PNG")
    msg = decode_error(data, max_pixels=10_000)
    assert msg == "This image is 200 x 100 = 0.02 MP, above the 0.01 MP limit."
    assert load_image(data, max_pixels=20_000).working_size == (200, 100)


def test_one_limit_at_the_limit() -> None:
    # The one limit (89,478,485 px, Pillow's own bomb limit): an image exactly at it decodes,
    # one pixel row more is refused with the same sentence as any other oversized image.
    side = 9459  # 9459 x 9459 = 89,472,681 <= limit; 9459 x 9460 = 89,482,140 > limit
    assert side * side <= DEFAULT_MAX_PIXELS < side * (side + 1)
    assert load_image(blank_bilevel_png(side, side)).original_size == (side, side)
    msg = decode_error(blank_bilevel_png(side + 1, side))
    assert msg == "This image is 9460 x 9459 = 89.5 MP, above the 89.5 MP limit."


def test_95_mp_png_is_refused_by_the_one_limit_not_by_pillow() -> None:
    # 95 MP: Pillow alone would only warn (below twice its limit); our check refuses first
    msg = decode_error(blank_bilevel_png(10000, 9500))
    assert msg == "This image is 10000 x 9500 = 95.0 MP, above the 89.5 MP limit."


def test_bomb_above_pillow_error_limit_gives_the_same_sentence() -> None:
    # 400 MP > 2 * MAX_IMAGE_PIXELS: Pillow raises DecompressionBombError on open, before our check
    assert Image.MAX_IMAGE_PIXELS is not None and 20000 * 20000 > 2 * Image.MAX_IMAGE_PIXELS
    msg = decode_error(blank_bilevel_png(20000, 20000))
    assert msg == "This image is 400.0 MP, above the 89.5 MP limit."


def test_max_pixels_may_only_lower_the_limit() -> None:
    data = encode(Image.new("RGB", (64, 64)), "PNG")
    for bad in (0, DEFAULT_MAX_PIXELS + 1):
        with pytest.raises(ValueError, match="max_pixels"):
            load_image(data, max_pixels=bad)


def test_no_pillow_global_is_changed(png_144mp: bytes) -> None:
    filters_before = list(warnings.filters)
    limit_before = Image.MAX_IMAGE_PIXELS
    decode_error(png_144mp)
    decode_error(blank_bilevel_png(10000, 9500))
    load_image(encode(noise(64, 48), "PNG"))
    assert list(warnings.filters) == filters_before
    assert Image.MAX_IMAGE_PIXELS == limit_before
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# ----------------------------------------------------------------------------
# Formats, orientation, modes


@pytest.mark.parametrize("fmt", ALLOWED_FORMATS)
def test_each_allowed_format_round_trips(fmt: str) -> None:
    data = encode(Image.new("RGB", (60, 40), BLUE), fmt)
    result = load_image(data)
    assert result.format == fmt
    assert result.original_size == result.working_size == (60, 40)
    assert result.image.mode == "RGB" and result.image.size == (60, 40)
    assert result.n_frames == 1
    assert result.digest == hashlib.sha256(data).hexdigest()
    assert close(pixel(result, 0.5, 0.5), BLUE, tol=8)


def test_accepts_bytearray_and_memoryview() -> None:
    data = encode(Image.new("RGB", (40, 40), RED), "PNG")
    assert load_image(bytearray(data)).digest == load_image(memoryview(data)).digest


def test_exif_orientation_6_on_jpeg() -> None:
    # Stored 40x20 landscape, left half red; orientation 6 = rotate 90 deg clockwise
    # for display, so the viewer sees a 20x40 portrait with red on top.
    data = encode(halves(40, 20, RED, BLUE), "JPEG", quality=95, exif=exif_with_orientation(6))
    result = load_image(data)
    assert result.original_size == (20, 40)
    assert result.working_size == (32, 64)  # short side raised to MIN_WORKING_SIDE
    assert "EXIF orientation applied" in result.notes
    assert close(pixel(result, 0.5, 0.2), RED, tol=40)
    assert close(pixel(result, 0.5, 0.8), BLUE, tol=40)
    assert 0x0112 not in result.image.getexif()  # cannot be applied twice
    assert result.image.info == {}


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_exif_orientation_8_on_other_formats(fmt: str) -> None:
    # Orientation 8 = rotate 90 deg counter-clockwise: the left half ends at the bottom.
    data = encode(halves(80, 40, RED, BLUE), fmt, exif=exif_with_orientation(8), lossless=True)
    result = load_image(data)
    assert result.original_size == (40, 80) == result.working_size
    assert close(pixel(result, 0.5, 0.8), RED, tol=10)
    assert close(pixel(result, 0.5, 0.2), BLUE, tol=10)


def test_exif_orientation_6_on_tiff() -> None:
    # Pillow's TIFF plugin applies the orientation itself on load: no double turn.
    data = encode(halves(80, 40, RED, BLUE), "TIFF", exif=exif_with_orientation(6))
    result = load_image(data)
    assert result.original_size == (40, 80) == result.working_size
    assert pixel(result, 0.5, 0.2) == RED
    assert pixel(result, 0.5, 0.8) == BLUE
    assert "EXIF orientation applied" in result.notes


def test_corrupt_exif_is_ignored() -> None:
    im = Image.new("RGB", (40, 40), RED)
    data = encode(im, "JPEG", exif=b"Exif\x00\x00garbage-not-tiff")
    result = load_image(data)
    assert result.working_size == (40, 40)
    assert "EXIF orientation applied" not in result.notes


def test_16bit_gradient_is_rescaled_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (40, 1))
    im = Image.fromarray(ramp)
    data = encode(im, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    result = load_image(data)
    arr = np.asarray(result.image)
    assert arr.shape == (40, 256, 3)
    assert arr.min() <= 1 and arr.max() >= 254
    row = arr[20, :, 0].astype(int)
    assert np.all(np.diff(row) >= 0)  # still a monotone ramp
    assert 100 < row[128] < 155  # mid-grey in the middle, not white
    assert "16-bit image rescaled to 8 bits" in result.notes


def test_16bit_narrow_range_is_stretched() -> None:
    ramp = np.tile(np.linspace(1000, 3000, 64).astype(np.uint16), (40, 1))
    data = encode(Image.fromarray(ramp), "TIFF")
    arr = np.asarray(load_image(data).image)
    assert arr.min() == 0 and arr.max() == 255


def test_flat_16bit_image_keeps_its_brightness() -> None:
    flat = np.full((40, 40), 65535, dtype=np.uint16)
    arr = np.asarray(load_image(encode(Image.fromarray(flat), "PNG")).image)
    assert arr.min() == 255


def test_float_tiff_is_rescaled() -> None:
    ramp = np.tile(np.linspace(-1.0, 1.0, 64, dtype=np.float32), (40, 1))
    ramp[0, 0] = np.nan
    result = load_image(encode(Image.fromarray(ramp), "TIFF"))
    arr = np.asarray(result.image)
    assert arr.min() == 0 and arr.max() == 255
    assert "32-bit float image rescaled to 8 bits" in result.notes


def test_cmyk_jpeg() -> None:
    im = Image.new("CMYK", (64, 64), (0, 255, 255, 0))  # pure red in CMYK
    result = load_image(encode(im, "JPEG", quality=95))
    assert result.image.mode == "RGB"
    assert close(pixel(result, 0.5, 0.5), RED, tol=30)
    assert "CMYK converted to RGB" in result.notes


def test_palette_png_transparency_becomes_white() -> None:
    im = Image.new("P", (40, 40), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (20, 0, 40, 40))
    data = encode(im, "PNG", transparency=0)  # index 0 (red) is transparent
    result = load_image(data)
    assert pixel(result, 0.2, 0.5) == WHITE
    assert pixel(result, 0.8, 0.5) == BLUE
    assert "alpha composited on white" in result.notes


def test_rgba_composited_on_white() -> None:
    im = halves(40, 40, (255, 0, 0, 0), (0, 0, 255, 255), mode="RGBA")
    result = load_image(encode(im, "PNG"))
    assert pixel(result, 0.2, 0.5) == WHITE
    assert pixel(result, 0.8, 0.5) == BLUE
    assert "alpha composited on white" in result.notes


def test_opaque_rgba_gets_no_alpha_note() -> None:
    result = load_image(encode(Image.new("RGBA", (40, 40), (0, 255, 0, 255)), "PNG"))
    assert pixel(result, 0.5, 0.5) == GREEN
    assert not any("alpha" in note for note in result.notes)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("1", "PNG"),
        ("L", "PNG"),
        ("LA", "PNG"),
        ("P", "GIF"),
        ("I", "TIFF"),
        ("F", "TIFF"),
        ("I;16", "TIFF"),
        ("CMYK", "TIFF"),
        ("YCbCr", "JPEG"),
        ("RGB", "BMP"),
        ("RGBA", "WEBP"),
    ],
)
def test_every_mode_becomes_rgb(mode: str, fmt: str) -> None:
    im = Image.new(mode, (50, 40))
    result = load_image(encode(im, fmt))
    assert result.image.mode == "RGB"
    assert result.working_size == result.image.size == (50, 40)


def test_animated_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (40, 40), colour) for colour in (RED, GREEN, BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = load_image(data)
    assert result.n_frames == 3
    assert pixel(result, 0.5, 0.5) == RED
    assert "first of 3 frames used" in result.notes


def test_multi_picture_jpeg_counts_as_jpeg() -> None:
    # Phones write MPO (several JPEGs in one file); Pillow opens it as "MPO".
    shots = [Image.new("RGB", (60, 40), colour) for colour in (BLUE, RED)]
    data = encode(shots[0], "MPO", save_all=True, append_images=shots[1:])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    result = load_image(data)
    assert result.format == "JPEG"
    assert result.n_frames == 2
    assert close(pixel(result, 0.5, 0.5), BLUE, tol=8)


def test_multipage_tiff_uses_first_page() -> None:
    pages = [Image.new("RGB", (40, 30), colour) for colour in (GREEN, RED)]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    result = load_image(data)
    assert result.n_frames == 2
    assert result.format == "TIFF"
    assert pixel(result, 0.5, 0.5) == GREEN
    assert "first of 2 pages used" in result.notes


# ----------------------------------------------------------------------------
# Sizes


def test_tiny_image_is_upscaled_to_min_side() -> None:
    result = load_image(encode(Image.new("RGB", (1, 1), RED), "PNG"))
    assert result.original_size == (1, 1)
    assert result.working_size == (MIN_WORKING_SIDE, MIN_WORKING_SIDE)
    assert pixel(result, 0.5, 0.5) == RED
    assert f"upscaled to reach the {MIN_WORKING_SIDE} px minimum side" in result.notes


@pytest.mark.parametrize("size", [(3000, 40), (40, 2500)])
def test_strips_keep_min_side_and_aspect(size: tuple[int, int]) -> None:
    w, h = size
    result = load_image(encode(Image.new("L", size, 128), "PNG"))
    ow, oh = result.working_size
    assert min(ow, oh) >= MIN_WORKING_SIDE
    long_in, short_in = max(w, h), min(w, h)
    long_out, short_out = max(ow, oh), min(ow, oh)
    assert (ow > oh) == (w > h)
    assert abs(long_out - short_out * long_in / short_in) <= 1


def test_large_png_is_downscaled_with_note() -> None:
    result = load_image(encode(noise(2000, 1500), "PNG"))
    assert result.original_size == (2000, 1500)
    assert result.working_size == (1024, 768)
    assert "downscaled from 2000 x 1500 to 1024 x 768" in result.notes


def test_max_side_zero_keeps_native_size() -> None:
    data = encode(noise(1500, 1100), "JPEG")
    assert load_image(data, max_side=0).working_size == (1500, 1100)
    assert load_image(data, max_side=500).working_size == (500, 367)


@pytest.mark.parametrize("bad", [-1, 1, MIN_WORKING_SIDE - 1])
def test_bad_max_side_is_a_value_error(bad: int) -> None:
    data = encode(Image.new("RGB", (40, 40)), "PNG")
    with pytest.raises(ValueError) as info:
        load_image(data, max_side=bad)
    assert not isinstance(info.value, ImageDecodeError)
    with pytest.raises(ValueError):
        working_size(100, 100, max_side=bad)


@pytest.fixture(scope="module")
def jpeg_40mp() -> bytes:
    """7300 x 5500 (40 MP) JPEG made from upscaled noise (fast to encode)."""
    return hf.CASES["jpeg_40mp"].data


@pytest.fixture
def draft_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Record every JpegImageFile.draft call: requested size and decoded size."""
    calls: list[dict] = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        before = self.size
        out = original(self, mode, size)
        calls.append({"requested": size, "before": before, "after": self.size})
        return out

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    return calls


def test_40mp_jpeg_decodes_reduced(jpeg_40mp: bytes, draft_calls: list[dict]) -> None:
    result = load_image(jpeg_40mp)
    assert result.original_size == (7300, 5500)
    assert result.working_size == working_size(7300, 5500) == (1024, 772)
    assert result.image.size == (1024, 772)
    assert len(draft_calls) == 1
    call = draft_calls[0]
    assert call["requested"] == (1024, 772)
    # Decoded at 1/4 scale: never below the target, far below full size.
    assert call["after"] == (1825, 1375)
    assert any(note.startswith("downscaled from 7300 x 5500") for note in result.notes)


def test_draft_targets_the_stored_layout_for_rotated_jpegs(draft_calls: list[dict]) -> None:
    data = encode(noise(40, 20).resize((4000, 2000)), "JPEG", exif=exif_with_orientation(6))
    result = load_image(data)
    assert result.original_size == (2000, 4000)
    assert result.working_size == (512, 1024)
    assert draft_calls[0]["requested"] == (1024, 512)  # stored (unrotated) layout
    assert draft_calls[0]["after"] == (2000, 1000)


_PEAK_RSS_SCRIPT = """
import json, resource, sys
from spp_viz.images import load_image

def status_kb(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise OSError(key)

data = open(sys.argv[1], "rb").read()
try:  # reset the high-water mark: ru_maxrss can be inherited from the parent
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before = status_kb("VmRSS")
except OSError:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = load_image(data)
try:
    peak = status_kb("VmHWM")
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kb": before, "peak_kb": peak, "size": result.working_size}))
"""


def test_40mp_jpeg_peak_memory_is_bounded(jpeg_40mp: bytes, tmp_path: Path) -> None:
    """In a fresh process, decoding the 40 MP JPEG stays far below a full decode.

    A full decode alone is 7300 * 5500 * 4 bytes = 160 MB (measured: ~210 MB of
    peak growth without draft); with draft() it is ~20 MB.
    """
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg_40mp)
    pythonpath = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": pythonpath}
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
        check=True,
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["size"] == [1024, 772]
    assert report["peak_kb"] < 1.5 * 1024 * 1024  # < 1.5 GB in all
    assert report["peak_kb"] - report["before_kb"] < 80 * 1024  # < 80 MB growth


# ----------------------------------------------------------------------------
# working_size properties


def test_working_size_examples() -> None:
    assert working_size(4000, 3000) == (1024, 768)
    assert working_size(800, 600) == (800, 600)
    assert working_size(1, 1) == (32, 32)
    assert working_size(3000, 40) == (2400, 32)  # long side may exceed max_side
    assert working_size(40, 2500) == (32, 2000)
    assert working_size(5000, 5000, max_side=0) == (2048, 2048)  # the working-pixel cap
    assert working_size(5000, 5000, max_side=0, max_pixels=0) == (5000, 5000)
    assert working_size(10, 5000, max_side=0) == (32, 16000)
    assert DEFAULT_MAX_SIDE == 1024 and DEFAULT_MAX_PIXELS == 89_478_485


def test_working_size_rejects_bad_arguments() -> None:
    for kwargs in ({"max_side": -1}, {"max_side": 16}, {"min_side": -1}):
        with pytest.raises(ValueError):
            working_size(100, 100, **kwargs)
    for w, h in ((0, 10), (10, 0), (-5, 10)):
        with pytest.raises(ValueError):
            working_size(w, h)


sides = st.integers(min_value=1, max_value=50_000)


@st.composite
def size_limits(draw) -> tuple[int, int]:
    min_side = draw(st.integers(min_value=1, max_value=128))
    max_side = draw(st.one_of(st.just(0), st.integers(min_value=min_side, max_value=8192)))
    return max_side, min_side


@settings(max_examples=400, deadline=None)
@given(w=sides, h=sides, limits=size_limits())
def test_working_size_properties(w: int, h: int, limits: tuple[int, int]) -> None:
    max_side, min_side = limits
    ow, oh = working_size(w, h, max_side=max_side, min_side=min_side, max_pixels=0)
    long_in, short_in = max(w, h), min(w, h)

    assert ow >= 1 and oh >= 1
    assert min(ow, oh) >= min_side  # the minimum side is always honoured
    # Aspect preserved within rounding: one scale s rounds to both sides.
    eps = 1e-9
    low = max((ow - 0.5) / w, (oh - 0.5) / h)
    high = min((ow + 0.5) / w, (oh + 0.5) / h)
    assert low <= high + eps, (w, h, ow, oh)

    needs_cap = max_side > 0 and long_in > max_side
    capped_short = short_in * (max_side / long_in) if needs_cap else short_in
    if capped_short >= min_side:
        # The min_side rule did not apply: native size, or long side == max_side.
        if needs_cap:
            assert max(ow, oh) == max_side
        else:
            assert (ow, oh) == (w, h)
    else:
        # Scaled (up or down) so that the short side is exactly min_side.
        assert min(ow, oh) == min_side
    if max_side == 0 and short_in >= min_side:
        assert (ow, oh) == (w, h)


@settings(max_examples=200, deadline=None)
@given(w=sides, h=sides, limits=size_limits(), cap=st.integers(min_value=1024, max_value=20_000_000))
def test_working_size_pixel_cap(w: int, h: int, limits: tuple[int, int], cap: int) -> None:
    max_side, min_side = limits
    ow, oh = working_size(w, h, max_side=max_side, min_side=min_side, max_pixels=cap)
    uncapped = working_size(w, h, max_side=max_side, min_side=min_side, max_pixels=0)
    assert ow <= uncapped[0] and oh <= uncapped[1]
    if min(ow, oh) > min_side:  # the min-side rule did not push it back up
        assert (ow - 0.5) * (oh - 0.5) <= cap


# ----------------------------------------------------------------------------
# Bundled sample photos (assets/)


SAMPLES = ["chelsea_cat.jpg", "coffee_espresso.jpg", "camera_tripod.jpg", "rocket_launch.jpg"]


@pytest.mark.parametrize("name", SAMPLES)
def test_bundled_samples_load(name: str) -> None:
    data = (ASSETS / name).read_bytes()
    result = load_image(data, filename=name)
    assert result.format == "JPEG"
    assert result.image.mode == "RGB"
    assert min(result.working_size) >= 300


def test_assets_are_credited_and_small() -> None:
    credits = (ASSETS / "CREDITS.md").read_text(encoding="utf-8")
    for name in SAMPLES:
        assert name in credits
    total = sum(p.stat().st_size for p in ASSETS.iterdir() if p.is_file())
    assert total < 1_000_000


def test_native_working_size_is_capped_to_bound_backbone_memory():
    # 40 MP at max_side=0 would need ~9.5 GB of activations in the default backbone
    w, h = working_size(7300, 5500, 0)
    assert w * h <= MAX_WORKING_PIXELS and abs(w / h - 7300 / 5500) < 0.01
    assert working_size(2048, 1536, 2048) == (2048, 1536)  # the app's largest max_side is unaffected
    assert working_size(7300, 5500, 0, max_pixels=0) == (7300, 5500)


def test_native_request_on_a_large_jpeg_says_it_was_capped():
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 2000), (90, 120, 30)).save(buffer, "JPEG")
    decoded = load_image(buffer.getvalue(), max_side=0)
    assert decoded.working_size[0] * decoded.working_size[1] <= MAX_WORKING_PIXELS
    assert any("4.2 MP working limit" in note for note in decoded.notes)


def test_an_images_notes_stay_english_and_the_page_shows_them_in_its_language():
    """The notes go into the JSON as the engine wrote them; the page reads each back into its language."""
    from spp_viz.choices import Language
    from spp_viz.i18n import speaking
    from spp_viz.images import CPU_WORKING_LIMIT, note_in_language

    notes = ["EXIF orientation applied", "first of 3 frames used", "first of 2 pages used", CPU_WORKING_LIMIT.note(),
             "downscaled from 4000 x 3000 to 1024 x 768", "upscaled to reach the 32 px minimum side",
             "16-bit image rescaled to 8 bits", "CMYK converted to RGB", "alpha composited on white",
             "kept within the 16.8 MP working limit, derived from 70.1 GiB free on cuda:0 at 1,234 bytes of "
             "activations per input pixel (50% of the free memory)"]
    assert [note_in_language(n) for n in notes] == notes
    with speaking(Language.ZH):
        shown = [note_in_language(n) for n in notes]
        assert note_in_language("a note of no known form") == "a note of no known form"
    assert all(s != n for s, n in zip(shown, notes))
    assert "4000 x 3000" in shown[4] and "cuda:0" in shown[-1] and "16.8" in shown[-1]
