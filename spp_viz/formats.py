"""Which image formats an upload may be, and what a refused file is, from its bytes.

:data:`ALLOWED_FORMATS` are the Pillow formats the decoder opens (its whitelist);
:data:`EXTENSIONS` the file-name extensions that go with them. :func:`sniff` names a file's
format from its magic bytes (or, for SVG, HTML and plain text, from its first few KB), only so
a refusal can say "an SVG (vector) image, which is not supported" instead of "cannot identify
image file": Pillow, with the whitelist, still decides what opens. :func:`unsupported_message`
is that refusal; :func:`format_name` the name a decoded image reports (a multi-picture JPEG is
a JPEG).
"""

from __future__ import annotations

from .i18n import N_, _

__all__ = [
    "ALLOWED_FORMATS",
    "ALLOWED_TEXT",
    "EXTENSIONS",
    "format_name",
    "sniff",
    "unsupported_message",
]

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
# File-name extensions of each allowed format, without the dot, as an upload widget lists them.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "PNG": ("png",),
    "JPEG": ("jpg", "jpeg"),
    "WEBP": ("webp",),
    "GIF": ("gif",),
    "BMP": ("bmp",),
    "TIFF": ("tif", "tiff"),
}
ALLOWED_TEXT = f"supported formats are {', '.join(ALLOWED_FORMATS[:-1])} and {ALLOWED_FORMATS[-1]}"


def allowed_text() -> str:
    """:data:`ALLOWED_TEXT` in this run's language (English outside the page)."""
    return _("supported formats are {formats} and {last}").format(formats=", ".join(ALLOWED_FORMATS[:-1]),
                                                                  last=ALLOWED_FORMATS[-1])

_JPEG_FORMATS = {"JPEG", "MPO"}  # Pillow reports multi-picture JPEGs as MPO
# Formats recognised only to name them in the refusal.
_UNSUPPORTED_NAMES = {
    "SVG": N_("an SVG (vector) image"),
    "HTML": N_("an HTML page"),
    "TEXT": N_("a text file"),
    "PDF": N_("a PDF document"),
    "ICO": N_("an ICO icon"),
    "PSD": N_("a Photoshop (PSD) file"),
    "EPS": N_("a PostScript/EPS file"),
    "HEIC": N_("a HEIC/HEIF image"),
    "AVIF": N_("an AVIF image"),
    "JPEG2000": N_("a JPEG 2000 image"),
    "JPEGXL": N_("a JPEG XL image"),
    "ICNS": N_("a macOS icon (ICNS)"),
    "DDS": N_("a DDS texture"),
    "QOI": N_("a QOI image"),
    "PNM": N_("a PNM/PPM image"),
    "TGA": N_("a TGA image"),
    "VIDEO": N_("a video file"),
    "AUDIO": N_("an audio file"),
    "ZIP": N_("a ZIP archive"),
    "GZIP": N_("a gzip archive"),
}
_NOT_IMAGES = {"HTML", "TEXT", "PDF", "VIDEO", "AUDIO", "ZIP", "GZIP"}
# Magic bytes at the start of a file that name its format on their own.
_MAGIC = (
    (b"%PDF", "PDF"),
    (b"8BPS", "PSD"),
    (b"%!PS", "EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG2000"),
    (b"\xff\x4f\xff\x51", "JPEG2000"),
    (b"\xff\x0a", "JPEGXL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEGXL"),
    (b"icns", "ICNS"),
    (b"DDS ", "DDS"),
    (b"qoif", "QOI"),
    (b"PK\x03\x04", "ZIP"),
    (b"\x1f\x8b", "GZIP"),
    (b"ID3", "AUDIO"),
    (b"OggS", "AUDIO"),
    (b"fLaC", "AUDIO"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def format_name(pillow_format: str | None) -> str:
    """The format a decoded image reports: Pillow's name, with MPO (multi-picture JPEG) as JPEG."""
    if pillow_format in _JPEG_FORMATS:
        return "JPEG"
    return pillow_format or "unknown"


def unsupported_message(subject: str, kind: str) -> str:
    """One sentence refusing a file that :func:`sniff` named ``kind`` (not an allowed format)."""
    what = _(_UNSUPPORTED_NAMES[kind]) if kind in _UNSUPPORTED_NAMES else _("a {kind} file").format(kind=kind)
    if kind in _NOT_IMAGES:
        return _("{subject} is {what}, not an image; {allowed}.").format(subject=subject, what=what, allowed=allowed_text())
    return _("{subject} is {what}, which is not supported; {allowed}.").format(subject=subject, what=what,
                                                                               allowed=allowed_text())


def sniff(raw: bytes) -> str | None:
    """Name the format from magic bytes (None when nothing matches), for clear messages only."""
    kind = _sniff_allowed(raw) or _sniff_container(raw)
    if kind is not None:
        return kind
    head = raw[:16]
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and head[4:6] != b"\x00\x00":
        return "ICO"  # ICO/CUR: non-zero image count (a TGA has 0 there)
    if raw.endswith(b"TRUEVISION-XFILE.\x00"):
        return "TGA"
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if len(raw) >= 3 and raw[0:1] == b"P" and raw[1:2] in b"1234567" and raw[2:3].isspace():
        return "PNM"
    return _sniff_text(raw[:4096])


def _sniff_allowed(raw: bytes) -> str | None:
    """One of :data:`ALLOWED_FORMATS`, from its signature."""
    head = raw[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"BM"):
        return "BMP"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "TIFF"
    if head.startswith(b"RIFF") and raw[8:12] == b"WEBP":
        return "WEBP"
    return None


def _sniff_container(raw: bytes) -> str | None:
    """RIFF audio/video, and ISO base media files (AVIF, HEIC, or else a video) by their brand."""
    if raw.startswith(b"RIFF") and raw[8:12] == b"WAVE":
        return "AUDIO"
    if raw.startswith(b"RIFF") and raw[8:12] == b"AVI ":
        return "VIDEO"
    if raw[4:8] != b"ftyp":
        return None
    brand = raw[8:12]
    if brand in (b"avif", b"avis"):
        return "AVIF"
    return "HEIC" if brand in _HEIF_BRANDS else "VIDEO"


def _sniff_text(head: bytes) -> str | None:
    """SVG, HTML or plain text, judged from the first few KB."""
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character may be cut at the 4096-byte boundary.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return None
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if "<svg" in lowered and lowered.startswith(("<svg", "<?xml", "<!doctype svg", "<!--")):
        return "SVG"
    if lowered.startswith(("<!doctype html", "<html", "<head", "<body")):
        return "HTML"
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
    if text and printable / len(text) > 0.95:
        return "TEXT"
    return None
