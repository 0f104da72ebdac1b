"""The closed sets of values the engine, the CLI, the JSON report and the app share, as ``str``
enums: a member equals, hashes and serialises as its value (``Pool.MAX == "max"``,
``json.dumps(Pool.MAX) == '"max"'``), so settings given as strings keep working and the JSON
keeps its values. A setting is parsed into its member once, where it enters the engine
(``Pool.parse``, ``PyramidConfig``); code then compares members by identity (``pool is Pool.MAX``).
Torch-free: the CLI checks its options before importing torch."""

from __future__ import annotations

import re
from enum import Enum
from typing import TypeVar

C = TypeVar("C", bound="Choice")


def N_(message: str) -> str:
    """:func:`spp_viz.i18n.N_` (which cannot be imported here: spp_viz.i18n imports this module)."""
    return message


# each choice's noun in its refusal (Choice.parse), marked for the catalogue
_NOUNS = (N_("Pool"), N_("Bin rule"), N_("Weights"), N_("Head weights"), N_("Channel view"), N_("Language"))


class Choice(str, Enum):
    """A closed set of strings; ``str(member)`` and f-strings give the value."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

    @classmethod
    def parse(cls: type[C], value: str) -> C:
        """The member for ``value``; ValueError (one sentence naming the choices) otherwise."""
        try:
            return cls(value)
        except ValueError:
            from .i18n import _  # here: spp_viz.i18n imports this module

            noun = re.sub(r"(?<!^)([A-Z])", r" \1", cls.__name__).capitalize()  # BinRule -> "Bin rule"
            raise ValueError(_("{noun} {value!r} is not supported: choose one of {choices}.").format(
                noun=_(noun), value=value, choices=", ".join(cls.values()))) from None


class Pool(Choice):
    """How a bin becomes one number: its maximum or its average."""

    MAX = "max"
    AVG = "avg"


class BinRule(Choice):
    """How a level's n x n bins are cut from the map: ``adaptive`` (PyTorch's adaptive pooling:
    every cell in some bin, always n x n) or ``paper`` (He et al.'s ceil/floor window and stride,
    which can leave a level short of n x n on a small map)."""

    ADAPTIVE = "adaptive"
    PAPER = "paper"


class Weights(Choice):
    """Which weights a backbone starts from: ImageNet's (``pretrained``) or a seeded random init
    (``untrained``). A user's checkpoint replaces either; where the loaded numbers came from is
    :class:`spp_viz.backbones.WeightsSource`."""

    PRETRAINED = "pretrained"
    UNTRAINED = "untrained"


class HeadWeights(Choice):
    """Where a head's conv weights come from: the checkpoint's own block (``trained``), a seeded
    random init (``seeded``: untrained), or none (``none``: the head is its pooling)."""

    TRAINED = "trained"
    SEEDED = "seeded"
    NONE = "none"


class ChannelView(Choice):
    """What a figure shows of a C-channel map besides one channel index: the mean or the max over channels."""

    MEAN = "mean"
    MAX = "max"


class Language(Choice):
    """The page's language (the URL's ``lang``); a new language is a member here and its catalogue
    (:mod:`spp_viz.i18n`, ``docs/languages.md``)."""

    EN = "en"
    ZH = "zh"  # Simplified Chinese


Channel = ChannelView | int  # a figure's view of the channels: their mean or max, or one channel's index


def channel_view(value: str | int) -> Channel:
    """A channel setting as the app's widget holds it ("mean", "max" or an index) -> :data:`Channel`."""
    return value if isinstance(value, int) else ChannelView(value)
