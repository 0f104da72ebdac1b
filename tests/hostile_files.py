"""Test images and upload files, built in memory (nothing is written to disk here).

The one home of the tests' image builders (:func:`encode`, :func:`noise`,
:func:`blank_bilevel_png`, the EXIF and hostile files): ``tests/test_images.py`` and
``tests/test_hostile_inputs.py`` import them from here.

Each :class:`Case` says what a correct program does with the file: analyse it
(``ok``, with the original width x height a user should see) or refuse it with
one sentence containing ``keyword``. The same table drives the engine, the CLI
and the app tests in ``tests/test_hostile_inputs.py``.

Big images are cheap: PNG "bombs" are streamed through zlib row by row (the
pixels are never held in memory, see :func:`blank_bilevel_png`), the 40 MP
JPEG is upscaled smooth noise (small file, fast to encode).
"""

from __future__ import annotations

import functools
import io
import pickle
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

ASSETS = Path(__file__).resolve().parents[1] / "assets"
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


# ----------------------------------------------------------------------------
# Primitive builders


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def blank_bilevel_png(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG of any size, streamed through zlib (a 400 MP file is ~60 KB)."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def cat(size: tuple[int, int] | None = None) -> Image.Image:
    """The bundled cat photo, optionally resized (a real photo: the model has something to see)."""
    with Image.open(ASSETS / "chelsea_cat.jpg") as opened:
        im = opened.convert("RGB")
        return im.resize(size, Image.Resampling.LANCZOS) if size else im


def cat_jpeg(size: tuple[int, int], quality: int = 90) -> bytes:
    return encode(cat(size), "JPEG", quality=quality)


def exif_with_orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


# ----------------------------------------------------------------------------
# The hostile files


def empty() -> bytes:
    return b""


def text_as_png() -> bytes:
    return b"hello, this is a shopping list, not a picture\n" * 20


def html_as_jpg() -> bytes:
    return b"<!DOCTYPE html><html><head><title>404</title></head><body>Not found</body></html>\n"


def random_bytes() -> bytes:
    return np.random.default_rng(1).bytes(8192)


def truncated_jpeg() -> bytes:
    data = cat_jpeg((400, 300))
    return data[: len(data) // 2]


def truncated_png() -> bytes:
    data = encode(noise(256, 256), "PNG")
    return data[: len(data) // 2]


def svg() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        b'<circle cx="50" cy="50" r="40" fill="red"/></svg>\n'
    )


def bomb_above_pillow() -> bytes:
    """400 MP: above twice Pillow's MAX_IMAGE_PIXELS, Pillow itself raises DecompressionBombError."""
    return blank_bilevel_png(20000, 20000)


def png_144mp() -> bytes:
    """12000 x 12000 = 144 MP: below Pillow's error threshold (2 x 89.5 MP), above the 89.5 MP limit."""
    return blank_bilevel_png(12000, 12000)


def one_by_one() -> bytes:
    return encode(Image.new("RGB", (1, 1), RED), "PNG")


def strip_wide() -> bytes:
    return encode(cat((3000, 40)), "PNG")


def strip_tall() -> bytes:
    return encode(cat((40, 2500)), "PNG")


def gray16_png() -> bytes:
    """A 16-bit grayscale ramp using the whole 0..65535 range: a clipping converter turns it white."""
    ramp = np.tile(np.linspace(0, 65535, 320).astype(np.uint16), (200, 1))
    return encode(Image.fromarray(ramp), "PNG")


def cmyk_jpeg() -> bytes:
    return encode(cat((320, 240)).convert("CMYK"), "JPEG", quality=90)


def palette_png_transparent() -> bytes:
    im = cat((240, 160)).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    return encode(im, "PNG", transparency=0)


def rgba_png() -> bytes:
    im = cat((240, 160)).convert("RGBA")
    alpha = Image.linear_gradient("L").resize((240, 160))
    im.putalpha(alpha)
    return encode(im, "PNG")


def animated_gif() -> bytes:
    frames = [cat((160, 120)), Image.new("RGB", (160, 120), RED), Image.new("RGB", (160, 120), BLUE)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def multipage_tiff() -> bytes:
    pages = [cat((200, 150)), Image.new("RGB", (200, 150), BLUE)]
    return encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def exif_rotated_jpeg() -> bytes:
    """Stored 400 x 300 landscape with orientation 6: a viewer shows 300 x 400 portrait."""
    return encode(cat((400, 300)), "JPEG", quality=90, exif=exif_with_orientation(6))


def jpeg_40mp() -> bytes:
    """7300 x 5500 (40 MP), upscaled noise: a ~1-3 MB file that would need 160 MB fully decoded."""
    return encode(noise(73, 55, seed=7).resize((7300, 5500), Image.Resampling.BILINEAR), "JPEG", quality=80)


# ----------------------------------------------------------------------------
# The table


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    build: Callable[[], bytes]
    ok: bool
    size: tuple[int, int] | None = None  # original (width, height) a user should see, when ok
    keyword: str = ""  # a word the refusal must contain (case-insensitive), when not ok
    note: str = ""  # a note the engine must report about what it did, when ok
    big: bool = False  # memory is measured for these

    @property
    def data(self) -> bytes:
        return _built(self.name)

    @property
    def mime(self) -> str:
        ext = self.filename.rsplit(".", 1)[-1].lower()
        return {
            "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
            "tif": "image/tiff", "tiff": "image/tiff", "svg": "image/svg+xml",
        }.get(ext, "application/octet-stream")


CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case("empty", "empty.png", empty, False, keyword="empty"),
        Case("text_as_png", "notes.png", text_as_png, False, keyword="text"),
        Case("html_as_jpg", "page.jpg", html_as_jpg, False, keyword="HTML"),
        Case("random_bytes", "noise.png", random_bytes, False, keyword="not an image"),
        Case("truncated_jpeg", "cut.jpg", truncated_jpeg, False, keyword="truncated"),
        Case("truncated_png", "cut.png", truncated_png, False, keyword="truncated"),
        Case("svg", "drawing.svg", svg, False, keyword="SVG"),
        Case("bomb_400mp", "bomb.png", bomb_above_pillow, False, keyword="89.5 MP limit", big=True),
        Case("png_144mp", "huge.png", png_144mp, False, keyword="89.5 MP limit", big=True),
        Case("one_by_one", "dot.png", one_by_one, True, (1, 1), note="upscaled"),
        Case("strip_3000x40", "wide.png", strip_wide, True, (3000, 40), note="downscaled"),
        Case("strip_40x2500", "tall.png", strip_tall, True, (40, 2500), note="downscaled"),
        Case("gray16_png", "ramp16.png", gray16_png, True, (320, 200), note="16-bit"),
        Case("cmyk_jpeg", "cmyk.jpg", cmyk_jpeg, True, (320, 240), note="CMYK"),
        Case("palette_png_transparent", "palette.png", palette_png_transparent, True, (240, 160), note="alpha"),
        Case("rgba_png", "alpha.png", rgba_png, True, (240, 160), note="alpha"),
        Case("animated_gif", "anim.gif", animated_gif, True, (160, 120), note="first of 3 frames"),
        Case("multipage_tiff", "pages.tif", multipage_tiff, True, (200, 150), note="first of 2 pages"),
        Case("exif_rotated_jpeg", "rotated.jpg", exif_rotated_jpeg, True, (300, 400), note="EXIF orientation"),
        Case("jpeg_40mp", "big40.jpg", jpeg_40mp, True, (7300, 5500), note="downscaled", big=True),
    )
}
BAD = [name for name, c in CASES.items() if not c.ok]
GOOD = [name for name, c in CASES.items() if c.ok]


@functools.cache
def _built(name: str) -> bytes:
    return CASES[name].build()


# ----------------------------------------------------------------------------
# Checkpoints


class _Exploit:
    """Unpickling this opens (creates) ``path`` for writing: a safe loader must refuse it."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def malicious_checkpoint(target: str) -> bytes:
    """A real torch.save zip container whose data.pkl would create ``target`` when unpickled."""
    import torch

    payload = pickle.dumps({"conv1.weight": _Exploit(target)}, protocol=2)  # torch.load's own protocol
    buffer = io.BytesIO()
    torch.save({"x": torch.zeros(1)}, buffer)
    evil = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, zipfile.ZipFile(evil, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, payload if item.filename.endswith("data.pkl") else src.read(item.filename))
    return evil.getvalue()


def wrong_architecture_checkpoint() -> bytes:
    """A (tiny) ResNet-style state_dict: it fits none of EfficientNet-Lite0's parameters."""
    import torch

    buffer = io.BytesIO()
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(1000, 512)}, buffer)
    return buffer.getvalue()
