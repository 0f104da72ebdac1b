"""Torch-free validation of every command-line option (and of the same values in the engine).

The CLI checks each option here BEFORE it imports torch, so a typo costs milliseconds, not the
~3 s and ~800 MB that loading torch takes. Every check follows one pattern:

* a ``parse_*`` function takes the raw text (or an already typed value) and returns the typed
  value, or raises ``ValueError`` with ONE sentence saying what was wrong and what is allowed;
* the CLI registers it with ``type=argparse_type(parse_x)``: argparse then reports that
  sentence as ``error: argument --x: <sentence>`` (one line, exit code 2);
* checks that involve two options (a stage depends on the backbone) are ``check_*`` functions
  that the CLI calls once parsing is done, in ``cli.validate``.

Whole numbers are parsed by :func:`parse_int`, which accepts ASCII digits only: ``str.isdigit``
is also true for ``'²'`` or ``'٣'``, which ``int()`` then refuses or silently reinterprets.
"""

from __future__ import annotations

import argparse
import operator
import re
from typing import Callable, Sequence, TypeVar

from .boxes import PixelBox
from .defaults import (
    BACKBONE_NAMES,
    BACKBONE_STAGES,
    DEFAULT_STAGES,
    DETECTOR_BACKBONE,
    DETECTOR_DEFAULT_STAGE,
    DETECTOR_STAGES,
    LEVEL_PRESETS,
    MAX_IMAGE_PIXELS,
    MAX_LEVEL,
    MAX_TOP_K,
    MIN_WORKING_SIDE,
    SPPF_MAX_K,
    SPPF_MAX_N,
)
from .head_ids import head_ids
from .i18n import N_, _

__all__ = [
    "argparse_type",
    "check_backbone",
    "check_bin",
    "check_stage",
    "parse_bin",
    "parse_device",
    "parse_heads",
    "parse_int",
    "parse_level",
    "parse_levels",
    "parse_max_pixels",
    "parse_max_side",
    "parse_region",
    "parse_sizes",
    "parse_sppf_k",
    "parse_sppf_n",
    "parse_top_k",
]

T = TypeVar("T")

_LEVELS_HINT = N_("give comma-separated positive integers such as 1,2,4, or a preset: {presets}")
_DEVICE = re.compile(r"^(cpu|cuda(:[0-9]{1,2})?)$")


def argparse_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Wrap ``parse`` for argparse's ``type=``: its one-sentence ValueError becomes the message.

    (argparse would otherwise replace a ValueError by "invalid parse_x value: '...'".)
    """

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def parse_int(text: str | int, what: str, low: int, high: int, allowed: str = "") -> int:
    """A whole number from ``low`` to ``high`` (ASCII digits only; ``int`` values pass through).

    ``what`` names the value in the message (``"SPPF k"``; empty when argparse already names the
    option: "argument --top-k: 0 is out of range: ..."); ``allowed`` replaces the default
    "give a whole number from LOW to HIGH" when the rule is more particular.
    """
    allowed = allowed or _("give a whole number from {low} to {high}").format(low=f"{low:,}", high=f"{high:,}")
    what = _(what) if what else ""
    if isinstance(text, bool):
        raise ValueError(_not_whole(what, text, allowed))
    if isinstance(text, int):
        value = text
    else:
        digits = text.strip()
        sign = -1 if digits.startswith("-") else 1
        digits = digits.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
            raise ValueError(_not_whole(what, text, allowed))
        value = sign * int(digits)
    if not low <= value <= high:
        raise ValueError(_out_of_range(what, f"{value:,}", allowed))
    return value


def _not_whole(what: str, text: object, allowed: str) -> str:
    if what:
        return _("{what} {value!r} is not a whole number: {allowed}.").format(what=what, value=text, allowed=allowed)
    return _("{value!r} is not a whole number: {allowed}.").format(value=text, allowed=allowed)


def _out_of_range(what: str, value: str, allowed: str) -> str:
    if what:
        return _("{what} {value} is out of range: {allowed}.").format(what=what, value=value, allowed=allowed)
    return _("{value} is out of range: {allowed}.").format(value=value, allowed=allowed)


def _levels_hint() -> str:
    return _(_LEVELS_HINT).format(presets=", ".join(LEVEL_PRESETS))


def parse_levels(levels: str | Sequence[int]) -> tuple[int, ...]:
    """Pyramid levels from ``"1,2,4"``, a preset name (``spp-net``, ``psp``) or a sequence of ints.

    Each level n (an n x n grid of bins) is a whole number from 1 to ``MAX_LEVEL``, once. The
    messages are in the run's language (:mod:`spp_viz.i18n`: English for the CLI).
    """
    if isinstance(levels, str):
        text = levels.strip()
        if text.lower() in LEVEL_PRESETS:
            return LEVEL_PRESETS[text.lower()]
        if not text:
            raise ValueError(_("Levels are empty: {hint}.").format(hint=_levels_hint()))
        out = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                raise ValueError(_("Levels {levels!r} contain an empty item: {hint}.").format(levels=levels, hint=_levels_hint()))
            if not (part.isascii() and part.isdigit()) or len(part) > 6:
                raise ValueError(_("Level {part!r} is not a positive integer: {hint}.").format(part=part, hint=_levels_hint()))
            out.append(int(part))
        levels = out
    try:  # operator.index: ints and numpy integers, never floats, strings or bools
        if any(isinstance(n, bool) for n in levels):
            raise TypeError("a bool is not a level")
        result = tuple(operator.index(n) for n in levels)
    except TypeError:
        raise ValueError(_("Levels {levels!r} are not all integers: {hint}.").format(levels=list(levels), hint=_levels_hint())) from None
    if not result:
        raise ValueError(_("Levels are empty: give at least one positive integer such as 1."))
    for n in result:
        if n < 1 or n > MAX_LEVEL:
            raise ValueError(_("Level {n} is out of range: each level must be between 1 and {max}.").format(n=n, max=MAX_LEVEL))
    if len(set(result)) != len(result):
        raise ValueError(_("Levels {levels} repeat a value: each level may appear once.").format(levels=list(result)))
    return result


def preset_of(levels: Sequence[int]) -> str | None:
    """The name of the preset whose levels are exactly ``levels`` (in order: the vector's layout
    follows it), or None: ``(6, 3, 2, 1)`` is ``spp-net``, ``(1, 2, 4)`` ``default``."""
    return next((name for name, preset in LEVEL_PRESETS.items() if tuple(levels) == preset), None)


def parse_max_side(text: str | int) -> int:
    """The working image's longer side in pixels: 0 (native size) or at least 32."""
    allowed = _("give 0 (native size) or a whole number of pixels from {low} to {high}").format(low=MIN_WORKING_SIDE,
                                                                                                high="65,535")
    value = parse_int(text, "", 0, 65_535, allowed)
    if 0 < value < MIN_WORKING_SIDE:
        raise ValueError(_out_of_range("", str(value), allowed))
    return value


def parse_max_pixels(text: str | int) -> int:
    """Refuse image files with more pixels than this; it may only LOWER the one limit."""
    allowed = _("give a whole number of pixels from 1 to {high} (the limit for any image)").format(high=f"{MAX_IMAGE_PIXELS:,}")
    return parse_int(text, "", 1, MAX_IMAGE_PIXELS, allowed)


def parse_top_k(text: str | int) -> int:
    """How many ImageNet predictions to list: 1 to 1000."""
    return parse_int(text, "", 1, MAX_TOP_K)


def parse_device(text: str) -> str:
    """``cpu``, ``cuda`` or ``cuda:N``. Whether CUDA is actually there is checked once torch is loaded."""
    device = text.strip().lower()
    if not _DEVICE.match(device):
        raise ValueError(_("Device {device!r} is not supported: choose cpu, cuda or cuda:N (e.g. cuda:0).").format(device=text))
    return device


def check_backbone(name: str) -> str:
    """A backbone name from the registry, or ``yolo`` (a detector checkpoint); ``spp-viz backbones`` lists them."""
    if name not in BACKBONE_STAGES and name != DETECTOR_BACKBONE:
        raise ValueError(_("Backbone {name!r} is not known: choose one of {choices}.").format(
            name=name, choices=", ".join((*BACKBONE_NAMES, DETECTOR_BACKBONE))))
    return name


def check_stage(backbone: str, stage: str | None) -> str:
    """The stage to pool for ``backbone``; None means the stage its classifier reads (a detector's: ``p5``)."""
    if check_backbone(backbone) == DETECTOR_BACKBONE:
        stages, default = DETECTOR_STAGES, DETECTOR_DEFAULT_STAGE
    else:
        stages, default = BACKBONE_STAGES[backbone], DEFAULT_STAGES[backbone]
    if stage is None:
        return default
    if stage not in stages:
        raise ValueError(_("Stage {stage!r} is not a stage of {title}: choose one of {stages}.").format(
            stage=stage, title=backbone, stages=", ".join(stages)))
    return stage


# ----------------------------------------------------------------------------
# The pyramid-pooling family: --heads, --sppf-k, --sppf-n

def parse_heads(text: str) -> tuple[str, ...]:
    """``"all"`` or comma-separated head ids -> the ids in the order given, each once (the
    built-in ids and any registered at run time: :func:`spp_viz.head_ids.head_ids`)."""
    known = head_ids()
    hint = _("give 'all' or comma-separated ids from {ids}").format(ids=", ".join(known))
    stripped = text.strip()
    if stripped.lower() == "all":
        return known
    if not stripped:
        raise ValueError(_("Heads are empty: {hint}.").format(hint=hint))
    out: list[str] = []
    for part in (p.strip() for p in stripped.split(",")):
        if part not in known:
            raise ValueError(_("Head {head!r} is unknown: {hint}.").format(head=part, hint=hint))
        if part not in out:
            out.append(part)
    return tuple(out)


def parse_sppf_k(text: str | int) -> int:
    """SPPF's pool size k: odd (a stride-1 'same' pool needs a centre cell), 1 to ``SPPF_MAX_K``."""
    allowed = _("k must be an odd integer from 1 to {high} (ultralytics uses 5)").format(high=SPPF_MAX_K)
    k = parse_int(text, "SPPF k", 1, SPPF_MAX_K, allowed)
    if k % 2 == 0:
        raise ValueError(_("SPPF k {k} is even: {allowed}.").format(k=k, allowed=allowed))
    return k


def parse_sppf_n(text: str | int) -> int:
    """SPPF's number of chained pools n: 1 to ``SPPF_MAX_N``."""
    return parse_int(text, "SPPF n", 1, SPPF_MAX_N, _("n must be an integer from 1 to {high} (ultralytics uses 3)").format(high=SPPF_MAX_N))


# --- views: --level, --bin, --region, --sizes

MAX_SCALE_SIDE = 4096  # the largest long side `spp-viz scales --sizes` runs a forward pass at
MAX_SCALE_COUNT = 12  # at most this many sizes (each is a full forward pass)


def parse_level(text: str | int) -> int:
    """A pyramid level n (an n x n grid of bins): 1 to ``MAX_LEVEL``."""
    return parse_int(text, N_("level"), 1, MAX_LEVEL)


def parse_bin(text: str) -> tuple[int, int]:
    """``R,C``: a bin's row and column, whole numbers from 0."""
    parts = text.split(",")
    allowed = _("give the bin's row and column as R,C, e.g. 0,1 (whole numbers from 0)")
    if len(parts) != 2:
        raise ValueError(_("bin {text!r} is not R,C: {allowed}.").format(text=text, allowed=allowed))
    row, col = (parse_int(p, N_("bin"), 0, MAX_LEVEL - 1, allowed) for p in parts)
    return row, col


def check_bin(level: int, row: int, col: int) -> None:
    """A bin of level n has row and column below n (the map may give fewer under the paper rule)."""
    if row >= level or col >= level:
        raise ValueError(_("bin {row},{col} is not a bin of level {level}: rows and columns go from 0 to {last}.").format(
            row=row, col=col, level=level, last=level - 1))


def parse_region(text: str) -> PixelBox:
    """``X0,Y0,X1,Y1`` in working-image pixels, finite numbers with X0 < X1 and Y0 < Y1.

    Whether the box lies inside the image is checked once the image's working size is known.
    """
    allowed = _("give X0,Y0,X1,Y1 in working-image pixels with X0 < X1 and Y0 < Y1, e.g. 10,20,200,180")
    parts = text.split(",")
    if len(parts) != 4:
        raise ValueError(_("region {text!r} is not four numbers: {allowed}.").format(text=text, allowed=allowed))
    values = []
    for part in parts:
        p = part.strip()
        if not (p.isascii() and re.fullmatch(r"[0-9]+(\.[0-9]*)?|\.[0-9]+", p)) or len(p) > 18:
            raise ValueError(_("region {text!r} has {part!r}, not a non-negative number: {allowed}.").format(
                text=text, part=part, allowed=allowed))
        values.append(float(p))
    box = PixelBox(*values)
    if not (box.x0 < box.x1 and box.y0 < box.y1):
        raise ValueError(_("region {text!r} is empty or inverted: {allowed}.").format(text=text, allowed=allowed))
    return box


def parse_sizes(text: str) -> tuple[int, ...]:
    """Comma-separated long sides for ``spp-viz scales``: each ``MIN_WORKING_SIDE`` to ``MAX_SCALE_SIDE``."""
    allowed = _("give up to {count} comma-separated whole numbers from {low} to {high}, e.g. 224,448,896").format(
        count=MAX_SCALE_COUNT, low=MIN_WORKING_SIDE, high=MAX_SCALE_SIDE)
    parts = text.split(",")
    if len(parts) > MAX_SCALE_COUNT:
        raise ValueError(_("sizes {text!r} has {count} sizes: {allowed}.").format(text=text, count=len(parts), allowed=allowed))
    return tuple(parse_int(p, N_("size"), MIN_WORKING_SIDE, MAX_SCALE_SIDE, allowed) for p in parts)
