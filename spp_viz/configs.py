"""What a user asks for, as checked, typed values, without torch: the pyramid
(:class:`PyramidConfig`) and the family's heads with SPPF's k and n (:class:`FamilyRequest`).

The page's sidebar builds both on its first run, before ``import torch`` has finished; the
engine takes them as they are (:mod:`spp_viz.analysis` and :mod:`spp_viz.family` re-export them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .choices import BinRule, Pool
from .defaults import DEFAULT_LEVELS, SPPF_DEFAULT_K, SPPF_DEFAULT_N
from .options import parse_heads, parse_levels, parse_sppf_k, parse_sppf_n


@dataclass(frozen=True)
class PyramidConfig:
    """Which pyramid to apply: levels, ``max``/``avg`` pooling, ``adaptive``/``paper`` bins."""

    levels: tuple[int, ...] = DEFAULT_LEVELS
    pool: Pool = Pool.MAX
    rule: BinRule = BinRule.ADAPTIVE

    def __post_init__(self) -> None:  # strings are accepted (the CLI's, the widgets') and checked
        object.__setattr__(self, "levels", parse_levels(self.levels))
        object.__setattr__(self, "pool", Pool.parse(self.pool))
        object.__setattr__(self, "rule", BinRule.parse(self.rule))


@dataclass(frozen=True)
class FamilyRequest:
    """The heads to compare (ids, in order, each once) and SPPF's k and n (``repeats``)."""

    heads: tuple[str, ...]
    k: int = SPPF_DEFAULT_K
    repeats: int = SPPF_DEFAULT_N

    @classmethod
    def parse(cls, heads: Sequence[str] | str, k: int | str = SPPF_DEFAULT_K,
              repeats: int | str = SPPF_DEFAULT_N) -> FamilyRequest:
        """Checked ids (``"all"``, ``"sppf,ppm"``, or a sequence: an empty one asks for no head)
        and k and n; ``ValueError`` (one sentence) for an unknown id or a bad k or n."""
        if isinstance(heads, str):
            ids = parse_heads(heads)
        else:
            ids = parse_heads(",".join(heads)) if heads else ()
        return cls(ids, parse_sppf_k(k), parse_sppf_n(repeats))
