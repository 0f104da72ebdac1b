"""Reading weights files safely, and checking a state_dict before it goes into a model.

Every file is read with ``torch.load(weights_only=True)``: a pickle that would run code is
refused, never executed. :func:`read_checkpoint` takes a user's upload (bytes) and unwraps the
layouts people save (``{"state_dict": ...}``, ``{"model": ...}``, DataParallel's ``module.``
prefix); :func:`read_weights_file` reads a cached torchvision weights file.
:func:`apply_state_dict` loads a state_dict into a model only when every key and shape fits, and
:func:`non_finite_warning` flags NaN or inf values (such a checkpoint still loads; the page and
the JSON say so).
"""

from __future__ import annotations

import io
import pickle

import torch
from torch import Tensor, nn

from .errors import BackboneError, WeightsUnavailableError
from .i18n import N_, _

__all__ = ["apply_state_dict", "non_finite_warning", "read_checkpoint", "read_weights_file"]

_NESTED_KEYS = ("state_dict", "model_state_dict", "model")
# what does not fit, one clause per kind of key (apply_state_dict)
_MISSING = N_("{count} missing ({keys})")
_UNEXPECTED = N_("{count} unexpected ({keys})")
_WRONG_SHAPE = N_("{count} wrong shape ({keys})")


def read_checkpoint(data: bytes, filename: str = "checkpoint") -> dict[str, Tensor]:
    """A state_dict from an uploaded checkpoint's bytes; :class:`BackboneError` (one sentence) otherwise."""
    if not data:
        raise BackboneError(_("{name} is empty.").format(name=filename))
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message is many lines of advice to load it unsafely: not for a user here
        raise BackboneError(_("{name} was refused: it holds objects other than tensors and plain containers, which a safe "
                              "load (torch.load with weights_only=True) never runs.").format(name=filename)) from None
    except Exception as exc:  # zip, EOF, unknown format: a bad upload, not a crash
        raise BackboneError(_("{name} is not a readable PyTorch checkpoint ({error}).").format(
            name=filename, error=type(exc).__name__)) from None
    return _unwrap_state_dict(obj)


def read_weights_file(path: str) -> dict[str, Tensor]:
    """A cached weights file (a plain state_dict); :class:`WeightsUnavailableError` when it cannot be read safely."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsUnavailableError(f"The cached weights {path} could not be read safely ({type(exc).__name__}); delete the file or replace it.") from None


def non_finite_warning(state_dict: dict[str, Tensor], filename: str) -> str | None:
    """One sentence naming how many tensors hold NaN or inf, or None when all values are finite."""
    bad = [k for k, v in state_dict.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if not bad:
        return None
    return (f"The checkpoint {filename} holds NaN or infinite values in {len(bad)} of {len(state_dict)} tensors "
            f"({_first_keys(bad)}), so the features and predictions computed from it are not meaningful.")


def apply_state_dict(model: nn.Module, state_dict: dict[str, Tensor], what: str) -> None:
    """Load ``state_dict`` into ``model``; :class:`BackboneError` naming the missing, unexpected and
    wrongly shaped keys when it does not fit. ``what`` names the file in that sentence."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    wrong = [k for k in own if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = [_(label).format(count=len(keys), keys=_first_keys(keys))
                 for label, keys in ((_MISSING, missing), (_UNEXPECTED, unexpected), (_WRONG_SHAPE, wrong)) if keys]
        raise BackboneError(_("{what} does not fit this architecture: {problems}.").format(
            what=what, problems=_("; ").join(parts)))
    model.load_state_dict(state_dict)


def _unwrap_state_dict(obj: object) -> dict[str, Tensor]:
    """The parameter mapping inside a loaded checkpoint, without DataParallel's ``module.`` prefix."""
    if isinstance(obj, dict):
        for key in _NESTED_KEYS:
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise BackboneError(_("The checkpoint is not a state_dict (a mapping of parameter names to tensors)."))
    # checkpoints saved from DataParallel prefix every key
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def _first_keys(keys: list[str]) -> str:
    """Up to three keys for a message, then "...": ``a, b, c, ...``."""
    return ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
