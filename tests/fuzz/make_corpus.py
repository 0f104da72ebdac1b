"""Write the fuzz seed corpus: small real files in every format and mode ``load_image`` accepts.

Run once (``python tests/fuzz/make_corpus.py``); the files are committed in ``tests/fuzz/corpus``.
Files named ``crash-*`` there are regressions that fuzzing found (kept, with a test in
tests/test_fuzz.py); this script never touches them.
Each seed is small (48 x 32) so the fuzzer's mutations stay fast, but real: written by Pillow
(or, for 16-bit RGB PNG, which Pillow cannot write, by hand through zlib).
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

CORPUS = Path(__file__).resolve().parent / "corpus"
W, H = 48, 32


def _rgb(seed: int = 0) -> Image.Image:
    """Smooth gradients plus a little noise: compresses like a photo, not like flat colour."""
    y, x = np.mgrid[0:H, 0:W]
    rng = np.random.default_rng(seed)
    arr = np.stack([x * 255 // W, y * 255 // H, (x + y) * 255 // (W + H)], axis=-1)
    arr = np.clip(arr + rng.integers(-12, 13, arr.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def _save(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def _png_rgb16() -> bytes:
    arr = (np.asarray(_rgb(1), dtype=np.uint16) * 257).astype(">u2")
    raw = b"".join(b"\x00" + arr[row].tobytes() for row in range(H))
    ihdr = struct.pack(">IIBBBBB", W, H, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _frames(n: int) -> list[Image.Image]:
    return [_rgb(seed).rotate(15 * seed) for seed in range(n)]


def seeds() -> dict[str, bytes]:
    rgb = _rgb()
    gray16 = Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)  # mode I;16
    palette = rgb.quantize(16)
    palette_trns = palette.copy()
    palette_trns.info["transparency"] = 0
    rgba = rgb.copy()
    rgba.putalpha(Image.linear_gradient("L").resize((W, H)))
    frames = _frames(3)
    return {
        "png_rgb8.png": _save(rgb, "PNG"),
        "png_rgb16.png": _png_rgb16(),
        "png_gray8.png": _save(rgb.convert("L"), "PNG"),
        "png_gray16.png": _save(gray16, "PNG"),
        "png_bilevel.png": _save(rgb.convert("1"), "PNG"),
        "png_palette.png": _save(palette, "PNG"),
        "png_palette_transparent.png": _save(palette_trns, "PNG", transparency=0),
        "png_rgba.png": _save(rgba, "PNG"),
        "png_gray_alpha.png": _save(rgba.convert("LA"), "PNG"),
        "png_exif_rotated.png": _save(rgb, "PNG", exif=_exif(6)),
        "jpeg_baseline.jpg": _save(rgb, "JPEG", quality=85),
        "jpeg_progressive.jpg": _save(rgb, "JPEG", quality=85, progressive=True),
        "jpeg_gray.jpg": _save(rgb.convert("L"), "JPEG"),
        "jpeg_cmyk.jpg": _save(rgb.convert("CMYK"), "JPEG"),
        "jpeg_exif_rotated.jpg": _save(rgb, "JPEG", exif=_exif(6)),
        "jpeg_exif_mirrored.jpg": _save(rgb, "JPEG", exif=_exif(5)),
        "gif_static.gif": _save(palette, "GIF"),
        "gif_animated.gif": _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0),
        "tiff_raw.tif": _save(rgb, "TIFF"),
        "tiff_multipage.tif": _save(frames[0], "TIFF", save_all=True, append_images=frames[1:]),
        "tiff_multipage_deflate.tif": _save(frames[0], "TIFF", save_all=True, append_images=frames[1:], compression="tiff_adobe_deflate"),
        "tiff_lzw.tif": _save(rgb, "TIFF", compression="tiff_lzw"),
        "tiff_jpeg.tif": _save(rgb, "TIFF", compression="jpeg"),
        "tiff_packbits.tif": _save(rgb, "TIFF", compression="packbits"),
        "tiff_gray16.tif": _save(gray16, "TIFF"),
        "tiff_cmyk.tif": _save(rgb.convert("CMYK"), "TIFF"),
        "tiff_rgba.tif": _save(rgba, "TIFF", compression="tiff_adobe_deflate"),
        "webp_lossy.webp": _save(rgb, "WEBP", quality=80),
        "webp_lossless_rgba.webp": _save(rgba, "WEBP", lossless=True),
        "webp_animated.webp": _save(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100),
        "bmp_rgb.bmp": _save(rgb, "BMP"),
        "bmp_palette.bmp": _save(palette, "BMP"),
        "bmp_gray.bmp": _save(rgb.convert("L"), "BMP"),
    }


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for name, data in seeds().items():
        (CORPUS / name).write_bytes(data)
    print(f"{len(seeds())} seeds in {CORPUS}")


if __name__ == "__main__":
    main()
