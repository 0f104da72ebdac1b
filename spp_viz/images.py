"""Safe decoding of user-supplied image bytes into an RGB working image.

Everything a user uploads goes through :func:`load_image`. It never writes to
disk, only accepts a whitelist of raster formats (:mod:`spp_viz.formats`, which
also names a refused file's format), refuses oversized or
degenerate images *before* decoding their pixels, decodes large JPEGs at a
reduced scale (``draft``) so memory stays bounded, and turns every failure
into :class:`ImageDecodeError` whose message is one sentence a user can read.

The module deliberately changes no Pillow globals (``Image.MAX_IMAGE_PIXELS``,
``ImageFile.LOAD_TRUNCATED_IMAGES``): other code in the same process may rely
on them. One megapixel limit applies (``defaults.MAX_IMAGE_PIXELS``, 89.5 MP, equal
to Pillow's own bomb limit, so Pillow never refuses an image first), checked in
one place, :func:`_check_size`, from the header.

Decoding writes nothing to the process's stderr, where two things would print:
libtiff (``ZIPDecode: Decoding error ...``, through its process-wide error and
warning handlers) and Pillow's logger (``More samples per pixel than can be
decoded``, through Python's last-resort handler). On import this module sets
libtiff's two handlers to NULL in the libtiff that Pillow uses (see
:func:`silence_libtiff`) and gives the "PIL" logger a NullHandler. Both are
done once, before any decode, so they are safe with Streamlit's threads,
unlike redirecting file descriptor 2 around each decode, which would also
swallow whatever another thread writes meanwhile. libtiff still returns its
errors to Pillow, which raises; only the printing stops. (The fuzz corpus
replay in ``tests/test_fuzz.py`` checks that stderr stays empty.)
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import io
import logging
import math
import re
import warnings
from dataclasses import dataclass
from typing import Callable, TypeVar, cast

from PIL import Image, UnidentifiedImageError

from .defaults import MAX_IMAGE_PIXELS, MIN_WORKING_SIDE
from .formats import ALLOWED_FORMATS, allowed_text, format_name, sniff, unsupported_message
from .i18n import N_, _

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_SIDE",
    "MAX_ASPECT",
    "DecodedImage",
    "ImageDecodeError",
    "check_header",
    "load_image",
    "resize",
    "working_size",
]

T = TypeVar("T")

DEFAULT_MAX_SIDE = 1024
DEFAULT_MAX_PIXELS = MAX_IMAGE_PIXELS  # the one limit; a caller may only lower it
# The backbone's activations grow with the working image (EfficientNet-Lite0 needs ~9.5 GB at
# 40 MP): whatever max_side says, even 0 (native), the working image stays within this.
MAX_WORKING_PIXELS = 2048 * 2048


@dataclass(frozen=True)
class WorkingLimit:
    """The most pixels a working image may have, and why (said in the image's notes when it applies)."""

    pixels: int
    reason: str

    def note(self) -> str:
        return f"kept within the {_mp(self.pixels)} MP working limit, {self.reason}"


# The notes a decoded image carries, in English (they stay with the image in the page's cache and go
# into the JSON report as they are): the page shows each in its language (note_in_language).
NOTES = (
    N_("EXIF orientation applied"),
    N_("first of {count} pages used"),
    N_("first of {count} frames used"),
    N_("kept within the {mp} MP working limit, which bounds the backbone's memory on the CPU"),
    N_("kept within the {mp} MP working limit, derived from {free} GiB free on {device} at {bytes} bytes of "
       "activations per input pixel ({share} of the free memory)"),
    N_("downscaled from {width} x {height} to {new_width} x {new_height}"),
    N_("upscaled to reach the {side} px minimum side"),
    N_("32-bit integer image rescaled to 8 bits"),
    N_("32-bit float image rescaled to 8 bits"),
    N_("16-bit image rescaled to 8 bits"),
    N_("CMYK converted to RGB"),
    N_("alpha composited on white"),
)
_FIELD = re.compile(r"\{(\w+)\}")


@functools.cache
def _note_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each note template as a pattern that reads its fields back from the English note."""
    out = []
    for template in NOTES:
        parts = _FIELD.split(template)  # literal, field, literal, field, ...
        pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        out.append((re.compile(pattern), template))
    return tuple(out)


def note_in_language(note: str) -> str:
    """An image's English note in this run's language (:mod:`spp_viz.i18n`); a note of no known form as it is."""
    for pattern, template in _note_patterns():
        match = pattern.fullmatch(note)
        if match:
            return _(template).format(**match.groupdict())
    return note


# On the CPU the limit bounds the process's memory; a CUDA device derives its own from its free
# memory (spp_viz.devices.working_limit).
CPU_WORKING_LIMIT = WorkingLimit(MAX_WORKING_PIXELS, "which bounds the backbone's memory on the CPU")
MAX_ASPECT = 200

_EXIF_ORIENTATION = 0x0112
# EXIF orientation -> the transpose that displays the image upright; the same
# table ImageOps.exif_transpose uses. 5-8 swap width and height.
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Resize by integer reduce() first when shrinking more than 3x: much faster,
# visually identical to a single LANCZOS pass.
_REDUCING_GAP = 3.0


def silence_libtiff() -> bool:
    """Stop libtiff printing to stderr: set its process-wide error and warning handlers to NULL.

    Pillow's ``_imaging`` extension links libtiff (bundled in Pillow's wheels), so looking the
    functions up through that extension's handle finds the very libtiff Pillow calls. libtiff's
    default handlers print ``module: message`` lines to fd 2; with NULL it prints nothing and
    still returns the error to Pillow, which raises. Returns False when Pillow has no libtiff
    (nothing to silence) or the symbols cannot be found.
    """
    try:
        from PIL import _imaging

        lib = ctypes.CDLL(_imaging.__file__)
        for name in ("TIFFSetErrorHandler", "TIFFSetWarningHandler"):
            setter = getattr(lib, name)
            setter.restype = ctypes.c_void_p
            setter.argtypes = [ctypes.c_void_p]
            setter(None)
    except (OSError, AttributeError, ImportError):
        return False
    return True


silence_libtiff()
# Pillow logs some refusals at ERROR ("More samples per pixel than can be decoded") before it
# raises. With no handler anywhere, Python's last-resort handler prints those to stderr; a
# NullHandler on the "PIL" logger (the standard library's advice for libraries) stops that and
# still lets an application that configures logging see them.
logging.getLogger("PIL").addHandler(logging.NullHandler())


class ImageDecodeError(ValueError):
    """Raised for any file we cannot analyse.

    ``str(e)`` is ONE clear sentence for a user (no traceback text, no newline).
    """


@dataclass(frozen=True)
class DecodedImage:
    """An uploaded image, decoded and normalised for analysis."""

    image: Image.Image  # RGB, at the working resolution
    original_size: tuple[int, int]  # (width, height) after EXIF orientation
    working_size: tuple[int, int]  # (width, height) == image.size
    format: str  # e.g. "JPEG"
    digest: str  # sha256 hexdigest of the raw bytes
    n_frames: int  # 1, or frames/pages in the file (the first is used)
    notes: tuple[str, ...]  # short human sentences about what was done


def working_size(
    width: int,
    height: int,
    max_side: int = DEFAULT_MAX_SIDE,
    min_side: int = MIN_WORKING_SIDE,
    max_pixels: int = MAX_WORKING_PIXELS,
) -> tuple[int, int]:
    """Aspect-preserving working size for an image of ``width`` x ``height``.

    Native size if ``max(width, height) <= max_side`` (or ``max_side == 0``),
    otherwise scaled so the long side equals ``max_side``. Then, if the short
    side is below ``min_side``, the image is scaled UP so the short side equals
    ``min_side``: the network needs that many pixels, so for very elongated
    images (aspect above ``max_side / min_side``) the long side may then exceed
    ``max_side``. Sides are rounded and at least 1. Before the min-side rule, the
    size is also reduced to at most ``max_pixels`` pixels (0 = no limit), which
    bounds the backbone's memory when ``max_side`` is 0 or large.

    Raises ValueError for non-positive sizes, ``max_side < 0``,
    ``0 < max_side < min_side`` or ``min_side < 0``.
    """
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width} x {height}")
    if min_side < 0:
        raise ValueError(f"min_side must be >= 0, got {min_side}")
    if max_side < 0 or 0 < max_side < min_side:
        raise ValueError(
            f"max_side must be 0 (native size) or at least min_side={min_side}, got {max_side}"
        )
    long_side, short_side = max(width, height), min(width, height)
    scale = 1.0
    if max_side and long_side > max_side:
        scale = max_side / long_side
    if max_pixels and width * height * scale * scale > max_pixels:
        scale = math.sqrt(max_pixels / (width * height))
    if short_side * scale < min_side:
        scale = min_side / short_side
    return max(1, round(width * scale)), max(1, round(height * scale))


def load_image(
    data: bytes | bytearray | memoryview,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    filename: str | None = None,
    limit: WorkingLimit = CPU_WORKING_LIMIT,
) -> DecodedImage:
    """Decode uploaded bytes into an RGB image at the working resolution.

    ``max_side``: long side of the working image (0 = native size, see
    :func:`working_size`). ``max_pixels``: refuse images whose header declares
    more pixels than this (checked before any pixel is decoded); at most
    ``DEFAULT_MAX_PIXELS`` (89.5 MP), the one limit. ``filename`` is only used
    in error messages. ``limit``: the working image's pixel budget, whatever ``max_side``
    says (the device's: :func:`spp_viz.devices.working_limit`).

    The returned image is a fresh, orientation-corrected copy with an empty
    ``info`` dict, so no stale EXIF orientation can be applied twice later.

    Raises :class:`ImageDecodeError` (one sentence) for anything it cannot use;
    ValueError for an invalid ``max_side`` or ``max_pixels``.
    """
    if max_side < 0 or 0 < max_side < MIN_WORKING_SIDE:
        raise ValueError(f"max_side must be 0 (native size) or at least {MIN_WORKING_SIDE}, got {max_side}")
    if not 1 <= max_pixels <= DEFAULT_MAX_PIXELS:
        raise ValueError(f"max_pixels must be from 1 to {DEFAULT_MAX_PIXELS:,} (the limit for any image), got {max_pixels:,}")
    raw = bytes(data)
    digest = hashlib.sha256(raw).hexdigest()
    subjects = _subject(filename, _("This file")), _subject(filename, _("This image"))
    return _one_sentence(lambda: _decode(raw, digest, *subjects, (max_side, limit), max_pixels), *subjects)


def check_header(data: bytes | bytearray | memoryview, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                 filename: str | None = None) -> None:
    """Refuse what :func:`load_image` would refuse before decoding a pixel: an empty file, a
    format not allowed, a file Pillow cannot identify, a header over ``max_pixels``. The same
    one-sentence :class:`ImageDecodeError`; the CLI calls this before it loads torch and a model,
    then decodes the file once, within the model's device's limit."""
    subjects = _subject(filename, _("This file")), _subject(filename, _("This image"))
    _one_sentence(lambda: _open(bytes(data), *subjects, max_pixels).close(), *subjects)


def _one_sentence(step: Callable[[], T], file_subject: str, image_subject: str) -> T:
    """``step()``, with any failure to read the file turned into one :class:`ImageDecodeError`."""
    try:
        return step()
    except ImageDecodeError:
        raise
    except MemoryError as exc:
        raise ImageDecodeError(
            _("{subject} is too large to decode with the memory available.").format(subject=image_subject)
        ) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(_bomb_message(image_subject, exc)) from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error, ...
        raise ImageDecodeError(
            _("{subject} is truncated or corrupt and could not be decoded.").format(subject=file_subject)
        ) from exc


# ----------------------------------------------------------------------------
# Decoding pipeline


def _decode(
    raw: bytes,
    digest: str,
    file_subject: str,
    image_subject: str,
    target: tuple[int, WorkingLimit],
    max_pixels: int,
) -> DecodedImage:
    im = _open(raw, file_subject, image_subject, max_pixels)
    with im, warnings.catch_warnings():
        _quiet_pillow()
        # Frames and tiles decoded later (GIF, TIFF) are bomb-checked by Pillow
        # again; make that warning an error instead of a log line.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return _decode_opened(im, digest, file_subject, *target)


def _open(raw: bytes, file_subject: str, image_subject: str, max_pixels: int) -> Image.Image:
    """The file opened (its header read, no pixel decoded), in an allowed format and within ``max_pixels``."""
    if not raw:
        raise ImageDecodeError(_("{subject} is empty.").format(subject=file_subject))
    kind = sniff(raw)
    if kind is not None and kind not in ALLOWED_FORMATS:
        raise ImageDecodeError(unsupported_message(file_subject, kind))

    try:
        with warnings.catch_warnings():
            _quiet_pillow()
            # The size is checked explicitly right after opening (thread-safe,
            # and with a clearer message); DecompressionBombError, raised above
            # twice Pillow's limit, still propagates from here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(raw), formats=ALLOWED_FORMATS)
    except UnidentifiedImageError as exc:
        if kind in ALLOWED_FORMATS:
            msg = _("{subject} looks like a {kind} file but is truncated or corrupt.").format(subject=file_subject, kind=kind)
        else:
            msg = _("{subject} is not an image we can read; {allowed}.").format(subject=file_subject, allowed=allowed_text())
        raise ImageDecodeError(msg) from exc
    try:
        _check_size(im.size, max_pixels, image_subject)
    except ImageDecodeError:
        im.close()
        raise
    return im


def _quiet_pillow() -> None:
    """Inside catch_warnings: drop Pillow's notes on damaged files ("Corrupt EXIF
    data", "Truncated File Read"); failures that matter raise and are reported."""
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")


def _decode_opened(im: Image.Image, digest: str, subject: str, max_side: int, limit: WorkingLimit) -> DecodedImage:
    fmt = format_name(im.format)
    stored_size = im.size  # full-resolution header size (unrotated, except TIFF: see below)
    n_frames = int(getattr(im, "n_frames", 1) or 1)
    if n_frames > 1:
        im.seek(0)

    # PNG's getexif() would decode the pixels (eXIf may follow them), so its
    # orientation is only read after load(); the others have it in the header.
    header_orientation = _orientation(im) if fmt != "PNG" else 1
    if fmt == "JPEG":
        # draft() must target the stored, unrotated layout; it picks 1/2, 1/4
        # or 1/8 scale, never below the target, so a 40 MP JPEG is never
        # decoded at full size.
        draft_size = _stored_target(stored_size, header_orientation, max_side, limit.pixels)
        if draft_size[0] < stored_size[0] and draft_size[1] < stored_size[1]:
            im.draft("RGB", draft_size)
    im.load()  # decodes the pixels; raises on truncated data
    # What is left to apply. Pillow's TIFF plugin applies the orientation
    # itself (header size already upright, tag removed on load), so this is
    # then 1.
    orientation = _orientation(im)

    rotated = orientation in (5, 6, 7, 8)
    original_size = (stored_size[1], stored_size[0]) if rotated else stored_size
    target = working_size(*original_size, max_side, max_pixels=limit.pixels)

    notes: list[str] = []
    if orientation in _ORIENTATION_TRANSPOSE or header_orientation in _ORIENTATION_TRANSPOSE:
        notes.append("EXIF orientation applied")
    if n_frames > 1:
        notes.append(f"first of {n_frames} {'pages' if fmt == 'TIFF' else 'frames'} used")

    # Resize before rotating and before compositing: both are then cheap.
    work = _to_resizable(im, subject, notes)
    work = resize(work, _stored_target(stored_size, orientation, max_side, limit.pixels))
    if orientation in _ORIENTATION_TRANSPOSE:
        work = work.transpose(_ORIENTATION_TRANSPOSE[orientation])
    rgb = _to_rgb(work, notes)
    if rgb is im:
        rgb = im.copy()  # never hand out the file-backed object we close
    rgb.info = {}

    if working_size(*original_size, max_side, max_pixels=0) != target:
        notes.append(limit.note())
    if target[0] * target[1] < original_size[0] * original_size[1]:
        notes.append(
            f"downscaled from {original_size[0]} x {original_size[1]} to {target[0]} x {target[1]}"
        )
    elif target != original_size:
        notes.append(f"upscaled to reach the {MIN_WORKING_SIDE} px minimum side")

    return DecodedImage(
        image=rgb,
        original_size=original_size,
        working_size=rgb.size,
        format=fmt,
        digest=digest,
        n_frames=n_frames,
        notes=tuple(notes),
    )


def _stored_target(
    stored_size: tuple[int, int], orientation: int, max_side: int, max_pixels: int
) -> tuple[int, int]:
    """Working size expressed in the stored (pre-orientation) layout."""
    w, h = stored_size
    if orientation in (5, 6, 7, 8):
        tw, th = working_size(h, w, max_side, max_pixels=max_pixels)
        return th, tw
    return working_size(w, h, max_side, max_pixels=max_pixels)


def _pixel_limit(max_pixels: int) -> int:
    """The limit in force: ``max_pixels``, or Pillow's bomb limit if some code lowered it below."""
    bomb_limit = Image.MAX_IMAGE_PIXELS
    return min(max_pixels, bomb_limit) if bomb_limit else max_pixels


def _check_size(size: tuple[int, int], max_pixels: int, subject: str) -> None:
    """Refuse from the header alone: too many pixels or too elongated. The one place the
    megapixel limit is enforced (Pillow's own check only fires above twice its limit,
    which is above ours, and gives the same sentence: :func:`_bomb_message`)."""
    width, height = size
    if width < 1 or height < 1:
        raise ImageDecodeError(_("{subject} has an invalid size of {width} x {height}.").format(subject=subject, width=width,
                                                                                            height=height))
    pixels = width * height
    limit = _pixel_limit(max_pixels)
    if pixels > limit:
        raise ImageDecodeError(
            _("{subject} is {width} x {height} = {mp} MP, above the {limit} MP limit.").format(
                subject=subject, width=width, height=height, mp=_mp(pixels, limit=False), limit=_mp(limit))
        )
    ratio = max(width, height) / min(width, height)
    if ratio > MAX_ASPECT:
        raise ImageDecodeError(
            _("{subject} is {width} x {height}, an aspect ratio of {ratio:.0f}:1, above the {limit}:1 limit.").format(
                subject=subject, width=width, height=height, ratio=ratio, limit=MAX_ASPECT)
        )


def _orientation(im: Image.Image) -> int:
    """EXIF orientation 1-8; anything missing or malformed counts as 1."""
    try:
        value = int(im.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # corrupt EXIF must not make a good image unusable
        return 1
    return value if 1 <= value <= 8 else 1


def _to_resizable(im: Image.Image, subject: str, notes: list[str]) -> Image.Image:
    """Convert to L, LA, RGB or RGBA (all resize well), rescaling high bit depths."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        depth = {"I": "32-bit integer", "F": "32-bit float"}.get(mode, "16-bit")
        notes.append(f"{depth} image rescaled to 8 bits")
        return _rescale_to_l(im)
    if mode in ("L", "LA", "RGB", "RGBA"):
        return im
    if mode == "P":
        return im.convert("RGBA" if "transparency" in im.info else "RGB")
    if mode == "1":
        return im.convert("L")
    if mode == "La":
        return im.convert("LA")
    if mode in ("RGBa", "PA"):
        return im.convert("RGBA")
    if mode == "CMYK":
        notes.append("CMYK converted to RGB")
    try:
        return im.convert("RGB")
    except ValueError as exc:
        raise ImageDecodeError(
            _("{subject} uses the {mode} colour mode, which is not supported.").format(subject=subject, mode=mode)
        ) from exc


def _rescale_to_l(im: Image.Image) -> Image.Image:
    """Map the image's actual min..max linearly onto 0..255.

    Pillow's own conversion clips 16-bit values at 255, which turns most
    16-bit images white; a linear stretch keeps the content visible. numpy is imported here:
    phase 0 decodes the page's photo before anything has imported it.
    """
    import numpy as np

    arr = np.asarray(im if im.mode == "F" else im.convert("F"), dtype=np.float32)
    finite = np.isfinite(arr)
    if not finite.all():
        arr = np.where(finite, arr, arr[finite].min() if finite.any() else 0.0)
    lo, hi = float(arr.min()), float(arr.max())
    if hi > lo:
        out = (arr - lo) * np.float32(255.0 / (hi - lo))
    else:  # flat image: keep its brightness relative to its bit depth
        full_scale = 65535.0 if im.mode.startswith("I;16") else 255.0
        out = np.full_like(arr, lo * 255.0 / full_scale)
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``im`` at ``size`` (width, height): Lanczos when it shrinks (with Pillow's reducing gap, so a
    large photo is first reduced by an integer factor), bicubic when it grows, itself when equal."""
    if im.size == size:
        return im
    if size[0] * size[1] < im.size[0] * im.size[1]:
        return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)
    return im.resize(size, Image.Resampling.BICUBIC)


def _to_rgb(im: Image.Image, notes: list[str]) -> Image.Image:
    """Composite any alpha on white (what a viewer shows), then RGB."""
    if im.mode in ("LA", "RGBA"):
        rgba = im.convert("RGBA")
        alpha = rgba.getchannel("A")
        low, _high = cast("tuple[int, int]", alpha.getextrema())  # one band: (min, max)
        if low < 255:
            notes.append("alpha composited on white")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba.convert("RGB"), mask=alpha)
        return out
    return im if im.mode == "RGB" else im.convert("RGB")


# ----------------------------------------------------------------------------
# Messages


def _subject(filename: str | None, default: str) -> str:
    """How a message names the file: its quoted, sanitised name, or ``default``."""
    name = re.sub(r"[\x00-\x1f\x7f]+", " ", filename or "").strip()
    if len(name) > 80:
        name = name[:77] + "..."
    return f'"{name}"' if name else default


def _mp(pixels: int, *, limit: bool = True) -> str:
    """Megapixels for a message: 144000000 -> '144.0'; as a limit '100', '89.5'."""
    mp = pixels / 1e6
    text = f"{mp:.1f}" if mp >= 0.1 else f"{mp:.2g}"
    return text.removesuffix(".0") if limit else text


def _bomb_message(subject: str, exc: BaseException) -> str:
    """Pillow refused a decompression bomb (above twice its limit, so above ours too): the same
    sentence as :func:`_check_size`, with the numbers Pillow gave."""
    limit = _mp(_pixel_limit(DEFAULT_MAX_PIXELS))
    match = re.search(r"\((\d+) pixels\)", str(exc))
    if match:
        return _("{subject} is {mp} MP, above the {limit} MP limit.").format(subject=subject,
                                                                             mp=_mp(int(match.group(1)), limit=False), limit=limit)
    return _("{subject} has more pixels than the {limit} MP limit.").format(subject=subject, limit=limit)
