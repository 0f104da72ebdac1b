"""A link to one view of the page: :class:`LinkState` to and from the URL's query. Torch-free.

The page keeps its state in the URL's query string, so a link opens the same view on any
replica: nothing of it lives on the server. :func:`encode` writes only the fields that differ
from the page's defaults (the default view is the bare URL). :func:`decode` reads an untrusted
query: every value goes through the check the sidebar and the command line use
(:mod:`spp_viz.options`, the enums of :mod:`spp_viz.choices`, the backbones' stages in
:mod:`spp_viz.defaults`), and a value that fails gives one sentence and the default for that
field only. Unknown keys are named in one sentence and ignored; a key given more than once is
ambiguous and gets its default; a value over :data:`MAX_VALUE_CHARS` is not parsed; a query over
:data:`MAX_QUERY_CHARS` is refused as a whole. Bytes that are not UTF-8 reach this module as
U+FFFD (Streamlit decodes the query with ``errors="replace"``) and fail their field's check;
every sentence quotes a value with ``repr``, so no control character reaches the page.

An uploaded photo never goes into a link: ``photo=upload`` says the link was made on one, and the
page opened from it shows the same settings on the sample photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlencode

from .boxes import PixelBox
from .choices import BinRule, Channel, ChannelView, Choice, Language, Pool, Weights
from .defaults import (
    BACKBONE_NAMES,
    DEFAULT_BACKBONE,
    DEFAULT_FAMILY_HEADS,
    DEFAULT_LEVELS,
    DEFAULT_STAGES,
    SPPF_DEFAULT_K,
    SPPF_DEFAULT_N,
)
from .i18n import N_, _, ngettext
from .options import (
    check_backbone,
    check_bin,
    check_stage,
    parse_bin,
    parse_heads,
    parse_int,
    parse_level,
    parse_levels,
    parse_max_side,
    parse_region,
    parse_sppf_k,
    parse_sppf_n,
)

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_VALUE_CHARS",
    "UNKNOWN_KEYS",
    "UPLOAD",
    "WHOLE_QUERY",
    "LinkProblem",
    "LinkState",
    "OpenPanel",
    "PageChoices",
    "check_channel",
    "check_region",
    "decode",
    "encode",
    "query_length",
]

MAX_QUERY_CHARS = 2_000  # a longer query string (as the URL carries it, percent-encoded) is refused whole
MAX_VALUE_CHARS = 256  # the longest value parsed (levels 1..64, every one, take 182 characters)
MAX_CHANNEL = 65_535  # the largest channel index a link may name; the map's own count is checked on the page
UPLOAD = "upload"  # ``photo=upload``: the link was made on an uploaded photo (or a camera shot)
WHOLE_QUERY = "*query"  # LinkProblem.key of a query refused whole (never a query key: keys are settings)
UNKNOWN_KEYS = "*unknown"  # LinkProblem.key of the keys that are not settings
_QUOTED = 40  # an unknown key is quoted up to this many characters


@dataclass(frozen=True)
class LinkProblem:
    """Why one value of a link was not used: ``key`` is its query key (:data:`WHOLE_QUERY` for a
    query refused whole, :data:`UNKNOWN_KEYS` for keys that are not settings); ``sentence`` says
    what was wrong and what is allowed. ``str()`` gives the line the page shows."""

    key: str
    sentence: str

    def __str__(self) -> str:
        return self.sentence if self.key in (WHOLE_QUERY, UNKNOWN_KEYS) else f"{self.key}: {self.sentence}"


class OpenPanel(Choice):
    """The panels computed on demand (a button opens them), which a link can open."""

    ERF = "erf"
    SCALES = "scales"


@dataclass(frozen=True)
class PageChoices:
    """What the page offers that the engine does not define: its sample photos and working
    resolutions, and the default of each."""

    samples: tuple[str, ...]
    default_sample: str
    max_sides: tuple[int, ...]
    default_max_side: int
    # the language a URL without ``lang`` opens in (the browser's): a link leaves ``lang`` out only when it is that one
    language: Language = Language.EN

    def default_state(self) -> LinkState:
        return LinkState(photo=self.default_sample, max_side=self.default_max_side, lang=self.language)


@dataclass(frozen=True)
class LinkState:
    """Everything a link holds: the view of the page, field by field.

    ``photo`` is a sample's file name, or None when the view was made on an uploaded photo;
    ``selected`` is ``(level, row, col)`` (None: the page's default bin); ``region`` is in
    whole working-image pixels (None: the image's default box); ``opened`` lists the on-demand
    panels opened, in page order.
    """

    photo: str | None
    max_side: int
    backbone: str = DEFAULT_BACKBONE
    stage: str = DEFAULT_STAGES[DEFAULT_BACKBONE]
    weights: Weights = Weights.PRETRAINED
    levels: tuple[int, ...] = DEFAULT_LEVELS
    pool: Pool = Pool.MAX
    rule: BinRule = BinRule.ADAPTIVE
    heads: tuple[str, ...] = DEFAULT_FAMILY_HEADS
    sppf_k: int = SPPF_DEFAULT_K
    sppf_n: int = SPPF_DEFAULT_N
    selected: tuple[int, int, int] | None = None
    channel: Channel = ChannelView.MEAN
    region: PixelBox | None = None
    opened: tuple[OpenPanel, ...] = field(default=())
    lang: Language = Language.EN


# ----------------------------------------------------------------------------
# One reader per field: the raw text and the fields read before it -> the typed value


Parsed = dict[str, Any]


def _photo(text: str, parsed: Parsed, choices: PageChoices) -> str | None:
    if text == UPLOAD:
        return None
    if text not in choices.samples:
        raise ValueError(_("Photo {text!r} is not a sample photo: choose one of {samples} (an uploaded photo never goes "
                           "into a link).").format(text=text, samples=", ".join(choices.samples)))
    return text


def _max_side(text: str, parsed: Parsed, choices: PageChoices) -> int:
    value = parse_max_side(text)
    if value not in choices.max_sides:
        offered = ", ".join(_("0 (native)") if side == 0 else str(side) for side in choices.max_sides)
        raise ValueError(_("Working resolution {value} is not offered on the page: choose one of {offered}.").format(
            value=f"{value:,}", offered=offered))
    return value


def _backbone(text: str, parsed: Parsed, choices: PageChoices) -> str:
    name = check_backbone(text)
    if name not in BACKBONE_NAMES:
        raise ValueError(_("Backbone {name!r} needs a checkpoint file, which a link never carries: choose one of "
                           "{choices}.").format(name=name, choices=", ".join(BACKBONE_NAMES)))
    return name


def _stage(text: str, parsed: Parsed, choices: PageChoices) -> str:
    return check_stage(parsed["backbone"], text)


def _heads(text: str, parsed: Parsed, choices: PageChoices) -> tuple[str, ...]:
    return () if text == "" else parse_heads(text)  # the sidebar may leave every head out


def _selected(text: str, parsed: Parsed, choices: PageChoices) -> tuple[int, int, int]:
    level_text, _comma, rest = text.partition(",")
    level = parse_level(level_text)
    row, col = parse_bin(rest)
    check_bin(level, row, col)
    levels = parsed["levels"]
    if level not in levels:
        raise ValueError(_("bin {text!r} is in level {level}, which is not one of the levels {levels}: give "
                           "LEVEL,ROW,COL of a level on the page.").format(text=text, level=level,
                                                                           levels=",".join(map(str, levels))))
    return level, row, col


def _channel(text: str, parsed: Parsed, choices: PageChoices) -> Channel:
    if text in ChannelView.values():
        return ChannelView(text)
    return parse_int(text, N_("channel"), 0, MAX_CHANNEL, _("give mean, max or a channel index from 0"))


def _region(text: str, parsed: Parsed, choices: PageChoices) -> PixelBox:
    box = parse_region(text)
    whole = PixelBox(*(float(round(v)) for v in (box.x0, box.y0, box.x1, box.y1)))  # the page's boxes are whole pixels
    if not (whole.x0 < whole.x1 and whole.y0 < whole.y1):
        raise ValueError(_("region {text!r} is empty in whole pixels: give X0,Y0,X1,Y1 with X0 < X1 and Y0 < Y1.").format(
            text=text))
    return whole


def _opened(text: str, parsed: Parsed, choices: PageChoices) -> tuple[OpenPanel, ...]:
    named = {OpenPanel.parse(part.strip()) for part in text.split(",")} if text else set()
    return tuple(panel for panel in OpenPanel if panel in named)


def _whole(value: float) -> str:
    return str(int(value))


@dataclass(frozen=True)
class _Field:
    """One query key: the :class:`LinkState` attribute it holds, its reader and its writer.
    ``fallback`` gives the default that depends on fields read before (a backbone's stage)."""

    key: str
    attribute: str
    read: Callable[[str, Parsed, PageChoices], Any]
    write: Callable[[Any], str] = str
    fallback: Callable[[Parsed], Any] | None = None


_FIELDS: tuple[_Field, ...] = (
    _Field("photo", "photo", _photo, lambda p: UPLOAD if p is None else p),
    _Field("max_side", "max_side", _max_side),
    _Field("backbone", "backbone", _backbone),
    _Field("stage", "stage", _stage, fallback=lambda parsed: check_stage(parsed["backbone"], None)),
    _Field("weights", "weights", lambda t, p, c: Weights.parse(t)),
    _Field("levels", "levels", lambda t, p, c: parse_levels(t), lambda v: ",".join(map(str, v))),
    _Field("pool", "pool", lambda t, p, c: Pool.parse(t)),
    _Field("rule", "rule", lambda t, p, c: BinRule.parse(t)),
    _Field("heads", "heads", _heads, ",".join),
    _Field("sppf_k", "sppf_k", lambda t, p, c: parse_sppf_k(t)),
    _Field("sppf_n", "sppf_n", lambda t, p, c: parse_sppf_n(t)),
    _Field("bin", "selected", _selected, lambda v: ",".join(map(str, v))),
    _Field("channel", "channel", _channel),
    _Field("region", "region", _region, lambda b: ",".join(map(_whole, (b.x0, b.y0, b.x1, b.y1)))),
    _Field("open", "opened", _opened, lambda v: ",".join(map(str, v))),
    _Field("lang", "lang", lambda t, p, c: Language.parse(t)),
)
KEYS: tuple[str, ...] = tuple(f.key for f in _FIELDS)
assert {f.attribute for f in _FIELDS} == {f.name for f in fields(LinkState)}, "every field has one key"


# ----------------------------------------------------------------------------
# The query string


def encode(view: LinkState, choices: PageChoices) -> dict[str, str]:
    """The query for ``view``: one key per field that differs from its default, in a fixed order."""
    default = asdict_shallow(choices.default_state())
    query: dict[str, str] = {}
    for f in _FIELDS:
        value = getattr(view, f.attribute)
        fallback = f.fallback(asdict_shallow(view)) if f.fallback else default[f.attribute]
        if value != fallback:
            query[f.key] = f.write(value)
    return query


def asdict_shallow(view: LinkState) -> Parsed:
    """The fields of ``view`` by attribute, values as they are (``dataclasses.asdict`` would copy a box into a dict)."""
    return {f.name: getattr(view, f.name) for f in fields(view)}


def query_length(query: Mapping[str, Sequence[str]]) -> int:
    """The characters the query takes in a URL, percent-encoded (``a=1&b=2``)."""
    pairs = [(key, value) for key, values in query.items() for value in values]
    return len(urlencode(pairs, errors="replace"))


def _values(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def decode(query: Mapping[str, str | Sequence[str]], choices: PageChoices) -> tuple[LinkState, tuple[LinkProblem, ...]]:
    """The view a query asks for, and one sentence per value that could not be used.

    ``query`` maps each key to its value, or to every value when the key is repeated. A value
    that fails its check keeps that field's default (a stage: its backbone's default stage);
    every other field is still read.
    """
    given = {key: _values(value) for key, value in query.items()}
    length = query_length(given)
    if length > MAX_QUERY_CHARS:
        return choices.default_state(), (LinkProblem(WHOLE_QUERY, (
            _("The link's query is {length} characters long, over the limit of {limit}: none of it was used, so the "
              "page shows its defaults.").format(length=f"{length:,}", limit=f"{MAX_QUERY_CHARS:,}"))),)
    unknown = sorted(set(given) - set(KEYS))
    problems = [LinkProblem(UNKNOWN_KEYS, _unknown(unknown))] if unknown else []
    parsed = asdict_shallow(choices.default_state())
    for f in _FIELDS:
        if f.fallback is not None:
            parsed[f.attribute] = f.fallback(parsed)
        problem = _read(f, given.get(f.key), parsed, choices)
        if problem:
            problems.append(problem)
    return LinkState(**parsed), tuple(problems)


def _read(f: _Field, values: list[str] | None, parsed: Parsed, choices: PageChoices) -> LinkProblem | None:
    """Read one field into ``parsed``; the sentence that says why it keeps its default, or None."""
    if values is None:
        return None
    if len(values) > 1:
        return LinkProblem(f.key, _("the link gives it {count} times, so its default is used.").format(count=len(values)))
    text = values[0]
    if len(text) > MAX_VALUE_CHARS:
        return LinkProblem(f.key, _("the value is {length} characters long, over the limit of {limit}.").format(
            length=f"{len(text):,}", limit=MAX_VALUE_CHARS))
    try:
        parsed[f.attribute] = f.read(text, parsed, choices)
    except ValueError as exc:
        return LinkProblem(f.key, str(exc))
    return None


def _unknown(keys: list[str]) -> str:
    quoted = [repr(key[:_QUOTED] + ("…" if len(key) > _QUOTED else "")) for key in keys[:3]]
    names = {"keys": ", ".join(quoted), "settings": ", ".join(KEYS)}
    if len(keys) > 3:
        return _("The link's {keys} and {more} more are not settings of this page and were ignored: the settings are "
                 "{settings}.").format(more=f"{len(keys) - 3:,}", **names)
    return ngettext("The link's {keys} is not a setting of this page and was ignored: the settings are {settings}.",
                    "The link's {keys} are not settings of this page and were ignored: the settings are {settings}.",
                    len(keys)).format(**names)


# ----------------------------------------------------------------------------
# The checks that need the page's map or image: the page makes them once it has them


def check_channel(channel: Channel, channels: int) -> None:
    """A channel index names one of the map's ``channels`` channels."""
    if isinstance(channel, int) and channel >= channels:
        raise ValueError(_("channel {channel} is not a channel of this map: give mean, max or an index from 0 to "
                           "{last}.").format(channel=f"{channel:,}", last=f"{channels - 1:,}"))


def check_region(box: PixelBox, width: int, height: int) -> None:
    """The region lies inside the ``width`` x ``height`` working image."""
    if box.x1 > width or box.y1 > height:
        raise ValueError(_("region {box} does not fit the {width} × {height} working image: give a box inside it.").format(
            box=",".join(map(_whole, (box.x0, box.y0, box.x1, box.y1))), width=f"{width:,}", height=f"{height:,}"))

