"""The backbone layer's errors: ``str(e)`` is one sentence for a user (what was wrong, what to do).

Both are ``ValueError``: the CLI and the page report any ``ValueError`` as that sentence.
"""

from __future__ import annotations

__all__ = ["BackboneError", "WeightsUnavailableError"]


class BackboneError(ValueError):
    """A backbone, stage, weights or checkpoint problem."""


class WeightsUnavailableError(BackboneError):
    """Pretrained weights are neither cached nor downloadable right now, or the cached file is unreadable."""
