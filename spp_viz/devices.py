"""Where the model runs, its one name, and what that device allows.

One default for the library, the CLI and the app: :func:`default_device` (``cuda:0`` when
PyTorch can use a GPU, else ``cpu``). A device always carries its index once resolved
(:func:`resolve_device`: a bare ``cuda`` is the current CUDA device, as in PyTorch), so the page,
the JSON report and every timing name it the same way: ``cpu`` or ``cuda:N`` (:func:`device_name`).

The backbone and every head run on one device (``Backbone.device``): the feature map is kept
there once, and everything that reads it (SPP, SPPF, the family, region pooling, the ERF) runs
and is timed there. The working image's pixel budget follows the device:

* on the CPU it is :data:`spp_viz.images.CPU_WORKING_LIMIT` (4.2 MP), which bounds the
  process's memory on a shared machine;
* on a CUDA device it is measured: one probe forward at :data:`PROBE_SIDE` px gives the
  backbone's peak activation bytes per input pixel, and the budget is
  :data:`CUDA_MEMORY_SHARE` of the device's free memory divided by that, capped at the
  89.5 MP input limit (the working image can never exceed the decoded one).

Importing this module imports no torch (each function that asks torch imports it), and
:func:`no_gpu_here` says without torch when no GPU can be there at all: the page's first run
decides its device before ``import torch`` has finished.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Protocol

from .images import CPU_WORKING_LIMIT, DEFAULT_MAX_PIXELS, MAX_WORKING_PIXELS, WorkingLimit

PROBE_SIDE = 512  # px: the probe forward's square input
CUDA_MEMORY_SHARE = 0.5  # of the free device memory: the rest is for the heads, the ERF's backward and other work
# The device files through which any GPU reaches a Linux process: NVIDIA's driver (and its /proc
# entry), AMD's ROCm (torch.cuda runs on ROCm too) and WSL2's GPU paravirtualisation.
GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia", "/dev/kfd", "/dev/dxg")

if TYPE_CHECKING:
    import torch
    from torch import Tensor


class DeviceModel(Protocol):
    """What the working limit reads of a model (a :class:`spp_viz.backbones.Backbone`, which is built
    on a device from here: this module never imports backbones)."""

    @property
    def device(self) -> torch.device: ...

    @property
    def architecture(self) -> tuple[str, ...]:
        """Names the layers up to the stage: models that share it allocate alike per input pixel."""

    def features(self, x: Tensor) -> Tensor: ...


def cuda_available() -> bool:
    """Whether PyTorch can use a CUDA device here (the sidebar offers the choice only then)."""
    import torch

    return torch.cuda.is_available()


def no_gpu_here() -> bool:
    """True when no GPU can be used here, known without importing torch: on Linux, not one of
    :data:`GPU_DEVICE_FILES` exists (torch would answer False: it reaches a GPU only through
    them). False means "ask torch" (:func:`cuda_available`), as on any other system."""
    if not sys.platform.startswith("linux"):
        return False
    return not any(os.path.exists(path) for path in GPU_DEVICE_FILES)


def device_choices() -> list[str]:
    """The devices a user may pick: ``cpu``, then ``cuda:N`` for each visible GPU."""
    import torch

    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())] if cuda_available() else ["cpu"]


def default_device() -> str:
    """``cuda:0`` when a GPU is usable, else ``cpu``: the one default of the library, the CLI and the app."""
    return "cuda:0" if cuda_available() else "cpu"


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on, with its index: ``None`` is :func:`default_device`; a bare ``cuda``
    is the current CUDA device (``torch.cuda.current_device()``, as PyTorch reads it)."""
    import torch

    resolved = torch.device(default_device() if device is None else device)
    if resolved.type == "cuda" and resolved.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return resolved


def device_name(device: str | torch.device) -> str:
    """``cpu`` or ``cuda:N``: how the page, the JSON report and every timing name a device."""
    return str(resolve_device(device))


def working_limit(backbone: DeviceModel) -> WorkingLimit:
    """The working image's pixel budget on the backbone's device (see the module docstring)."""
    if backbone.device.type != "cuda":
        return CPU_WORKING_LIMIT
    import torch

    free, _ = torch.cuda.mem_get_info(backbone.device)
    per_pixel = bytes_per_pixel(backbone)
    pixels = int(min(DEFAULT_MAX_PIXELS, max(MAX_WORKING_PIXELS, CUDA_MEMORY_SHARE * free / per_pixel)))
    reason = (f"derived from {free / 2**30:.1f} GiB free on {backbone.device} at {per_pixel:,.0f} bytes of activations "
              f"per input pixel ({CUDA_MEMORY_SHARE:.0%} of the free memory)")
    return WorkingLimit(pixels, reason)


_PER_PIXEL: dict[tuple[str, ...], float] = {}  # (architecture..., device) -> bytes per input pixel


def bytes_per_pixel(backbone: DeviceModel) -> float:
    """Peak bytes the backbone's forward allocates per input pixel on its CUDA device (one probe
    per architecture and device: the layers decide it, not the weights)."""
    key = (*backbone.architecture, str(backbone.device))
    if key not in _PER_PIXEL:
        _PER_PIXEL[key] = _probe(backbone)
    return _PER_PIXEL[key]


def _probe(backbone: DeviceModel) -> float:
    import torch

    x = torch.zeros(1, 3, PROBE_SIDE, PROBE_SIDE, device=backbone.device)
    torch.cuda.synchronize(backbone.device)
    base = torch.cuda.memory_allocated(backbone.device)
    torch.cuda.reset_peak_memory_stats(backbone.device)
    with torch.inference_mode():
        backbone.features(x)
    torch.cuda.synchronize(backbone.device)
    peak = torch.cuda.max_memory_allocated(backbone.device) - base
    return max(peak, 1) / (PROBE_SIDE * PROBE_SIDE)
