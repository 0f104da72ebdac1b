"""The backbone layer's errors: ``str(e)`` is one sentence for a user (what was wrong, what to do).

All are ``ValueError``: the CLI and the page report any ``ValueError`` as that sentence.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["BackboneError", "CheckpointProblem", "DetectorCheckpointError", "WeightsUnavailableError"]


class BackboneError(ValueError):
    """A backbone, stage, weights or checkpoint problem."""


class WeightsUnavailableError(BackboneError):
    """Pretrained weights are neither cached nor downloadable right now, or the cached file is unreadable."""


class CheckpointProblem(Enum):
    """What was wrong with a detector checkpoint (:class:`DetectorCheckpointError`)."""

    EMPTY = "empty"
    NOT_ZIP = "not a zip"
    TRUNCATED = "truncated"
    LEGACY = "legacy pickle"
    LAYOUT = "not a torch.save archive"
    COMPRESSED = "compressed entries"
    TOO_LARGE = "too large"
    STORAGE = "storage size"
    REFUSED_GLOBAL = "refused global"
    NOT_A_DETECTOR = "not a detector"
    UNKNOWN_LAYER = "unknown layer"
    BAD_RECORD = "bad record"
    SHAPE = "tensor shape"
    NO_SPPF = "no SPPF"


class DetectorCheckpointError(BackboneError):
    """A detector checkpoint spp-viz will not read: ``problem`` says which kind, ``subject`` names
    the thing at fault (the refused global, the unknown layer type, the tensor), ``str(e)`` is the
    one sentence for the user."""

    def __init__(self, problem: CheckpointProblem, message: str, subject: str = "") -> None:
        super().__init__(message)
        self.problem = problem
        self.subject = subject
