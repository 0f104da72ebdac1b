"""The heads of the pyramid-pooling family: what each is, where it comes from, how to build it.

A :class:`HeadSpec` per id: the ten built-in ones (ids in :data:`spp_viz.defaults.HEAD_IDS`, which
the CLI's ``--heads`` and the JSON report use), and any added at run time with :func:`register`
(docs/adding-a-head.md: a head is one spec and its module). Modules are built with SEEDED random weights (there are no pretrained weights for
these heads on our backbones) in eval mode, once per (id, C, k, n) and cached: SPPCSPC at
C = 1280 has about 44 M parameters and takes a second to initialise.

One exception, decided in one place (:func:`head_key`): a detector checkpoint's own pyramid block
(:class:`TrainedHead`, its trained SPPF or parallel SPP) stands for the head it is (``sppf`` or
``spp_yolo``) on the map it reads, with the same C, k and n. That head's key then names the
block's weights (:attr:`BuildArgs.trained`), and :func:`build_head` returns the block itself,
never a seeded module.
"""

from __future__ import annotations

import copy
import functools
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import cast

import torch
from torch import Tensor, nn

from .. import head_ids as ids
from ..bins import axis_bins
from ..choices import BinRule, Pool
from ..defaults import HEAD_IDS, HEAD_NAMES, SPPF_DEFAULT_K, SPPF_DEFAULT_N
from ..i18n import N_
from ..pooling import SOURCE_K, SOURCE_N, SPP, YOLO_KERNELS, spp, sppf_effective_kernels
from .modules import (
    Act,
    CascadePools,
    CSPPoolBlock,
    ParallelPoolBlock,
    ParallelPools,
    PyramidPoolingModule,
    SPPELANBlock,
    SPPFBlock,
)

ASPP_RATES: tuple[int, ...] = (12, 24, 36)  # DeepLabV3 (output stride 8 in the paper; torchvision's default)
ASPP_CHANNELS = 256
PPM_BINS: tuple[int, ...] = (1, 2, 3, 6)
MAX_MODULES = 12


class BranchKind(Enum):
    """What one branch of a head does to the map."""

    INPUT = "input"  # the map itself (through 1x1 convs only)
    POOL = "pool"  # a stride-1 max-pool window (or a chain of them)
    CONV = "conv"  # a (dilated) conv with random weights
    BINS = "bins"  # adaptive bins: n x n cells groups
    GLOBAL = "global"  # the whole map


@dataclass(frozen=True)
class BuildArgs:
    """Everything a head's module depends on. Irrelevant fields are normalised to 0 / () by
    :meth:`HeadSpec.key` so that e.g. ``ppm`` is built once per C whatever k and n are."""

    channels: int
    k: int = SPPF_DEFAULT_K
    repeats: int = SPPF_DEFAULT_N  # SPPF's n: how many k x k pools it chains
    levels: tuple[int, ...] = ()
    pool: Pool = Pool.MAX
    rule: BinRule = BinRule.ADAPTIVE
    trained: str = ""  # the trained block this head is (its TrainedHead.digest); "" = seeded random weights


@dataclass(frozen=True)
class TrainedHead:
    """A checkpoint's own trained pyramid block, standing for family head ``head`` (``sppf`` for an
    SPPF, ``spp_yolo`` for a parallel SPP) on the map it reads: ``channels`` in, ``hidden`` after
    ``cv1`` (what its pools read), ``out_channels`` after ``cv2``, trained with pools ``k`` and
    ``repeats`` (SPP(5, 9, 13) is k = 5, n = 3). ``module`` maps ``(B, channels, h, w)`` to
    ``(B, out_channels, h, w)``; ``module.cv1`` and ``module.pool_part`` are its parts. ``digest``
    names its weights in the keys of the head it serves; ``label`` says where it comes from."""

    head: str
    channels: int
    hidden: int
    out_channels: int
    k: int
    repeats: int
    digest: str
    label: str  # e.g. "yolov8n.pt, layer 9"
    bn_folded: bool
    module: nn.Module = field(compare=False, repr=False)

    def serves(self, head_id: str, key: BuildArgs) -> bool:
        """True when head ``head_id`` with the normalised ``key`` is this block: same head, C, k and n."""
        return head_id == self.head and (key.channels, key.k, key.repeats) == (self.channels, self.k, self.repeats)

    def pools_input(self, x: Tensor) -> Tensor:
        """What its pools read: ``cv1(x)``, ``(B, hidden, h, w)``."""
        return cast(nn.Module, self.module.cv1)(x)


@dataclass(frozen=True)
class BranchShape:
    """A branch before it meets a map: a window ``width`` cells wide (POOL/CONV/INPUT), ``bins``
    per axis (BINS) or the whole map (GLOBAL). ``extra`` cells come from convs on the path to
    the output (SPPCSPC's 3x3 convs), so widths are receptive fields at the head's output."""

    name: str
    kind: BranchKind
    width: int = 1
    bins: int = 0
    rule: BinRule = BinRule.ADAPTIVE

    def cells(self, h: int, w: int) -> tuple[int, int]:
        """Receptive field in feature cells ``(rows, cols)`` on an ``h x w`` map (unclipped for windows);
        ``(0, 0)`` for a level the paper rule gives no bins on (no windows along an axis: it pools nothing)."""
        if self.kind is BranchKind.GLOBAL or (self.kind is BranchKind.BINS and self.bins == 1):
            return h, w
        if self.kind is BranchKind.BINS:
            rows = max((e - s for s, e in axis_bins(h, self.bins, self.rule)), default=0)
            cols = max((e - s for s, e in axis_bins(w, self.bins, self.rule)), default=0)
            return (rows, cols) if rows and cols else (0, 0)
        return self.width, self.width

    @property
    def whole_map(self) -> bool:
        return self.kind is BranchKind.GLOBAL or (self.kind is BranchKind.BINS and self.bins == 1)


@dataclass(frozen=True)
class Claim:
    """An exact equality a head rests on: its pooling part equals head ``other``'s, built with
    ``args`` (``text`` says what is equal). :func:`spp_viz.family.check_equalities` runs it.
    ``template`` and ``values``, when given (:func:`worded`), are ``text`` before formatting: the
    page translates the template and fills in the values (``text`` stays English, for the JSON)."""

    other: str
    text: str
    args: BuildArgs
    template: str = ""
    values: tuple[tuple[str, str], ...] = ()


def worded(other: str, template: str, args: BuildArgs, **values: object) -> Claim:
    """A claim whose sentence is ``template`` (marked with N_) filled with ``values``."""
    shown = tuple((name, str(value)) for name, value in values.items())
    return Claim(other, template.format(**dict(shown)), args, template, shown)


def _no_claims(args: BuildArgs) -> tuple[Claim, ...]:
    return ()


def _own_pools(module: nn.Module, x: Tensor) -> list[Tensor]:
    return module.pool_part(x)  # type: ignore[operator]


@dataclass(frozen=True)
class HeadSpec:
    """One family member, all that the family, the CLI, the JSON and the page need to know of it.

    ``source`` is the file (or paper/PR) that defines it. ``build`` makes its module (seeded by
    :func:`build_head`); ``branches`` are its branches before they meet a map (their receptive
    fields); ``pool_part`` runs the module's parameter-free pooling on a map, one tensor per name
    of ``pool_names`` (default: the module's own ``pool_part``, named as its branches);
    ``claims`` are the exact equalities it rests on, checked on every map (``flat_compare``:
    compared as flat vectors, for pools of several sizes against SPP's vector); ``view_title`` is
    its name with the settings it runs with (None: ``name``), as the SPP vs SPPF table shows it;
    ``keeps_size``: its output is ``(C', h, w)`` on every ``h x w`` map (its shape is then read
    from a run on a small corner of the map, :func:`spp_viz.family.output_shape`); ``max_pools``:
    its pooling part is max pools only, so it gives the same bits in any memory layout (a max
    selects a value, where an average's sum depends on the order it adds in).
    """

    id: str
    name: str
    source: str
    purpose: str
    build: Callable[[BuildArgs], nn.Module]
    branches: Callable[[BuildArgs], tuple[BranchShape, ...]]
    pool_part: Callable[[nn.Module, Tensor], list[Tensor]] = _own_pools
    pool_names: Callable[[BuildArgs], tuple[str, ...]] | None = None
    claims: Callable[[BuildArgs], tuple[Claim, ...]] = _no_claims
    flat_compare: bool = False
    view_title: Callable[[BuildArgs], str] | None = None
    uses_sppf_args: bool = False
    uses_spp_config: bool = False
    fixed_length: bool = False
    pools_halve: bool = False  # the module's pools see cv1's C // 2 channels, not C
    keeps_size: bool = False  # its output keeps the map's h x w on any map (stride-1 pools, 'same' convs)
    max_pools: bool = False  # its pooling part is max pools only: the same bits in any memory layout

    def pool_channels(self, channels: int) -> int:
        """How many channels the module's own pools run on (pool-only timing uses that width)."""
        return channels // 2 if self.pools_halve else channels

    def part_names(self, args: BuildArgs) -> tuple[str, ...]:
        """One name per tensor of ``pool_part``."""
        return self.pool_names(args) if self.pool_names else tuple(b.name for b in self.branches(args))

    def view_name(self, args: BuildArgs) -> str:
        """Its name in the SPP vs SPPF table: the settings it runs with, in a few words."""
        return self.view_title(args) if self.view_title else self.name

    def key(self, args: BuildArgs) -> BuildArgs:
        """``args`` with what this head ignores set to fixed values (the module cache key); a
        trained block's name (:attr:`BuildArgs.trained`) is kept."""
        k, repeats = (args.k, args.repeats) if self.uses_sppf_args else (0, 0)
        if self.uses_spp_config:
            return BuildArgs(args.channels, k, repeats, args.levels, args.pool, args.rule, args.trained)
        return BuildArgs(args.channels, k, repeats, trained=args.trained)


def _spp_pools(module: nn.Module, x: Tensor) -> list[Tensor]:
    """Each level's pooled ``(B, C, n, n)`` (the SPP module IS its pooling: no convs)."""
    result = spp(x, module.levels, module.pool, module.rule)  # type: ignore[arg-type]
    return [level.pooled for level in result.levels]


def _aspp_pools(module: nn.Module, x: Tensor) -> list[Tensor]:
    """ASPP's only parameter-free part: the image-pooling branch's global average pool."""
    pooling = cast(nn.Sequential, cast(nn.ModuleList, module.convs)[-1])
    return [pooling[0](x)]


def _pool_branches(kernels: tuple[int, ...], extra: int = 0, input_width: int = 1, first: str = "x") -> tuple[BranchShape, ...]:
    head = (BranchShape(first, BranchKind.INPUT, input_width + extra),)
    return head + tuple(BranchShape(f"pool {q}", BranchKind.POOL, q + input_width - 1 + extra) for q in kernels)


def _spp_branches(a: BuildArgs) -> tuple[BranchShape, ...]:
    return tuple(BranchShape(f"level {n} ({n} x {n} bins)", BranchKind.BINS, bins=n, rule=a.rule) for n in a.levels)


def _csp_branches(kernels: tuple[int, ...]) -> tuple[BranchShape, ...]:
    # cv3 (3x3) before the pools and cv6 (3x3) after them add 2 cells each; cv2 is the 1x1 shortcut
    return _pool_branches(kernels, extra=2, input_width=3, first="x1 (cv1, 3x3 cv3, cv4)") + (BranchShape("shortcut cv2", BranchKind.INPUT, 1),)


def _aspp_branches(a: BuildArgs) -> tuple[BranchShape, ...]:
    convs = tuple(BranchShape(f"3x3 rate {d}", BranchKind.CONV, 2 * d + 1) for d in ASPP_RATES)
    return (BranchShape("1x1 conv", BranchKind.CONV, 1),) + convs + (BranchShape("image pooling", BranchKind.GLOBAL),)


def _ppm_branches(a: BuildArgs) -> tuple[BranchShape, ...]:
    return (BranchShape("x", BranchKind.INPUT, 1),) + tuple(
        BranchShape(f"bin {b} ({b} x {b})", BranchKind.BINS, bins=b) for b in PPM_BINS)


def _window_names(kernels: tuple[int, ...]) -> tuple[str, ...]:
    return ("x",) + tuple(f"pool {q}" for q in kernels)


def _sppf_names(a: BuildArgs) -> tuple[str, ...]:
    return _window_names(sppf_effective_kernels(a.k, a.repeats))


def _joined(values: tuple[int, ...], sep: str = ", ") -> str:
    return sep.join(map(str, values))


_CASCADE = N_("{n} chained {k}x{k} max pools = parallel pools {windows}")
_SEPARABLE_CASCADE = N_("separable {n} chained {k}x{k} max pools = parallel pools {windows}")


def _cascade(other: str, a: BuildArgs, template: str = _CASCADE) -> Claim:
    return worded(other, template, a, n=a.repeats, k=a.k, windows=_joined(sppf_effective_kernels(a.k, a.repeats)))


def _source_sppf(template: str) -> Callable[[BuildArgs], tuple[Claim, ...]]:
    """A source-fixed head's one claim: its pools are SPPF's as the sources fix it (k = 5, n = 3)."""
    return lambda a: (worded("sppf", template, BuildArgs(a.channels, SOURCE_K, SOURCE_N), k=SOURCE_K, n=SOURCE_N,
                             windows=_joined(YOLO_KERNELS)),)


def _average_spp(template: str, levels: tuple[int, ...]) -> Callable[[BuildArgs], tuple[Claim, ...]]:
    """A segmentation head's one claim: its pooling is He et al.'s adaptive average SPP at ``levels``."""
    return lambda a: (worded("spp", template, BuildArgs(a.channels, levels=levels, pool=Pool.AVG, rule=BinRule.ADAPTIVE),
                             levels=_joined(levels)),)


_SOURCE_POOLS = N_("its pools are SPPF's cascade with k={k}, n={n} (windows {windows})")


def _spp_title(a: BuildArgs) -> str:
    return f"{HEAD_NAMES['spp']}: levels {_joined(a.levels, ',')}, {a.pool}{'' if a.rule == BinRule.ADAPTIVE else ', paper rule'}"


def _aspp(args: BuildArgs) -> nn.Module:
    """torchvision's own ASPP, imported when first built (torchvision's import costs seconds)."""
    from torchvision.models.segmentation.deeplabv3 import ASPP

    return ASPP(args.channels, ASPP_RATES, ASPP_CHANNELS)


def _sppf_branches(a: BuildArgs) -> tuple[BranchShape, ...]:
    return _pool_branches(sppf_effective_kernels(a.k, a.repeats))


_SPECS = (
    HeadSpec(
        id="spp", name=HEAD_NAMES["spp"], source="https://arxiv.org/abs/1406.4729 (spp_viz/pooling.py)",
        purpose=N_("Pools any map into a fixed-length vector (C x sum of n squared bins) so fully connected layers take images of any size."),
        build=lambda a: SPP(a.levels, a.pool, a.rule), branches=_spp_branches, pool_part=_spp_pools,
        pool_names=lambda a: tuple(f"level {n}" for n in a.levels), view_title=_spp_title,
        uses_spp_config=True, fixed_length=True),
    HeadSpec(
        id="spp_yolo", name=HEAD_NAMES["spp_yolo"], source="https://github.com/ultralytics/yolov5/blob/master/models/common.py (class SPP)",
        purpose=N_("YOLO's size-keeping 'SPP': parallel stride-1 max pools (5, 9, 13 by default) concatenated with the input to widen the receptive field of a detection neck."),
        build=lambda a: ParallelPoolBlock(a.channels, a.channels, sppf_effective_kernels(a.k, a.repeats)),
        branches=_sppf_branches, pool_names=_sppf_names,
        claims=lambda a: (_cascade("sppf", a), _cascade("sppf_separable", a, _SEPARABLE_CASCADE)),
        view_title=lambda a: f"{HEAD_NAMES['spp_yolo']}: parallel {_joined(sppf_effective_kernels(a.k, a.repeats))}",
        uses_sppf_args=True, pools_halve=True, keeps_size=True, max_pools=True),
    HeadSpec(
        id="sppf", name=HEAD_NAMES["sppf"], source="https://github.com/ultralytics/ultralytics/blob/main/ultralytics/nn/modules/block.py (class SPPF)",
        purpose=N_("The same tensor as YOLO's SPP from n chained k x k pools (windows k, 2k-1, ...), cheaper because each step reuses the last."),
        build=lambda a: SPPFBlock(a.channels, a.channels, a.k, a.repeats), branches=_sppf_branches, pool_names=_sppf_names,
        claims=lambda a: (_cascade("spp_yolo", a), worded("sppf_separable", N_("{k}x{k} max = 1x{k} then {k}x1 max"), a, k=a.k)),
        view_title=lambda a: f"{HEAD_NAMES['sppf']}: k={a.k}, n={a.repeats}", uses_sppf_args=True, pools_halve=True, keeps_size=True, max_pools=True),
    HeadSpec(
        id="sppf_separable", name=HEAD_NAMES["sppf_separable"], source="https://github.com/ultralytics/ultralytics/pull/26082",
        purpose=N_("SPPF with each k x k pool done as 1 x k then k x 1: exactly equal, fewer comparisons per cell (k + k instead of k x k)."),
        build=lambda a: SPPFBlock(a.channels, a.channels, a.k, a.repeats, separable=True), branches=_sppf_branches,
        pool_names=_sppf_names,
        claims=lambda a: (worded("sppf", N_("1x{k} then {k}x1 max = {k}x{k} max"), a, k=a.k),
                          _cascade("spp_yolo", a, _SEPARABLE_CASCADE)),
        uses_sppf_args=True, pools_halve=True, keeps_size=True, max_pools=True),
    HeadSpec(
        id="simsppf", name=HEAD_NAMES["simsppf"], source="https://github.com/meituan/YOLOv6/blob/main/yolov6/layers/common.py (class SimSPPF)",
        purpose=N_("YOLOv6's SPPF with Conv-BN-ReLU instead of SiLU, for faster inference on deployment hardware."),
        build=lambda a: SPPFBlock(a.channels, a.channels, SOURCE_K, SOURCE_N, Act.RELU, Act.RELU),
        branches=lambda a: _pool_branches(YOLO_KERNELS), claims=_source_sppf(_SOURCE_POOLS), pools_halve=True, keeps_size=True, max_pools=True),
    HeadSpec(
        id="sppcspc", name=HEAD_NAMES["sppcspc"], source="https://github.com/WongKinYiu/yolov7/blob/main/models/common.py (class SPPCSPC)",
        purpose=N_("YOLOv7's parallel 5/9/13 pools inside a CSP block (3x3 convs around the pools, a 1x1 shortcut) at full width c_ = C."),
        build=lambda a: CSPPoolBlock(a.channels, a.channels, a.channels, ParallelPools(YOLO_KERNELS)),
        branches=lambda a: _csp_branches(YOLO_KERNELS), pool_names=lambda a: _window_names(YOLO_KERNELS),
        claims=_source_sppf(N_("its parallel {windows} pools are SPPF's cascade with k={k}, n={n}")), keeps_size=True,
        max_pools=True),
    HeadSpec(
        id="cspsppf", name=HEAD_NAMES["cspsppf"], source="https://github.com/meituan/YOLOv6/blob/main/yolov6/layers/common.py (class CSPSPPF)",
        purpose=N_("YOLOv6's CSP block around SPPF's chained 5x5 pools at half width: SPPCSPC's structure with the cheaper cascade."),
        build=lambda a: CSPPoolBlock(a.channels, a.channels, a.channels // 2, CascadePools(SOURCE_K, SOURCE_N), shortcut_first=True),
        branches=lambda a: _csp_branches(YOLO_KERNELS), pool_names=lambda a: _window_names(YOLO_KERNELS),
        claims=_source_sppf(_SOURCE_POOLS), pools_halve=True, keeps_size=True, max_pools=True),
    HeadSpec(
        id="sppelan", name=HEAD_NAMES["sppelan"], source="https://github.com/WongKinYiu/yolov9/blob/main/models/common.py (class SPPELAN)",
        purpose=N_("YOLOv9's SPP-ELAN: SPPF's structure with a free hidden width c3 (here C / 2) for small models."),
        build=lambda a: SPPELANBlock(a.channels, a.channels, a.channels // 2, SOURCE_K),
        branches=lambda a: _pool_branches(YOLO_KERNELS), claims=_source_sppf(_SOURCE_POOLS), pools_halve=True, keeps_size=True, max_pools=True),
    HeadSpec(
        id="ppm", name=HEAD_NAMES["ppm"], source="https://github.com/hszhao/semseg/blob/master/model/pspnet.py (class PPM)",
        purpose=N_("PSPNet's pyramid pooling for segmentation: average SPP levels 1, 2, 3, 6, each 1x1-conv'd and upsampled back onto the map."),
        build=lambda a: PyramidPoolingModule(a.channels, a.channels // 4, PPM_BINS), branches=_ppm_branches,
        pool_names=lambda a: tuple(f"bin {b}" for b in PPM_BINS),
        claims=_average_spp(N_("its bins are He et al.'s adaptive average SPP levels {levels}"), PPM_BINS),
        flat_compare=True, keeps_size=True),
    HeadSpec(
        id="aspp", name=HEAD_NAMES["aspp"], source="https://github.com/pytorch/vision/blob/main/torchvision/models/segmentation/deeplabv3.py (class ASPP)",
        purpose=N_("DeepLabV3's atrous pyramid: 3x3 convs with dilation 12, 24, 36, a 1x1 conv and a global image pooling, for segmentation context."),
        build=_aspp, branches=_aspp_branches, pool_part=_aspp_pools, pool_names=lambda a: ("image pooling",),
        claims=_average_spp(N_("its image pooling is average SPP's 1 x 1 level (global average pooling)"), (1,)),
        flat_compare=True, keeps_size=True),
)

REGISTRY: dict[str, HeadSpec] = {spec.id: spec for spec in _SPECS}
assert tuple(REGISTRY) == HEAD_IDS, "defaults.HEAD_IDS and the registry must list the same heads in the same order"


def register(spec: HeadSpec) -> None:
    """Add a head to the family at run time: from then on ``--heads``, the family, the JSON and
    the page accept its id like a built-in one's. ValueError (one sentence) for an id that is
    taken or not a plain lower-case identifier (the CLI's comma-separated list must parse it)."""
    if spec.id in REGISTRY:
        raise ValueError(f"Head {spec.id!r} is already registered: choose another id.")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", spec.id) or spec.id == "all":
        raise ValueError(f"Head id {spec.id!r} is not allowed: use lower-case letters, digits and _ (not 'all').")
    REGISTRY[spec.id] = spec
    ids.add(spec.id, spec.name)


def unregister(head_id: str) -> None:
    """Remove a head added by :func:`register` (a built-in head stays), with its cached modules."""
    if head_id in HEAD_IDS:
        raise ValueError(f"Head {head_id!r} is built in: only heads added by register() can be removed.")
    if REGISTRY.pop(head_id, None) is not None:
        ids.remove(head_id)
        _cached_module.cache_clear()


def head_seed(head_id: str) -> int:
    """A fixed seed per head: the same random weights in every process."""
    return zlib.crc32(head_id.encode())


@functools.lru_cache(maxsize=MAX_MODULES)
def _cached_module(head_id: str, key: BuildArgs, device: str) -> nn.Module:
    # fork_rng restores the process RNG afterwards: the seed is local to this build, and the
    # weights are drawn on the CPU, so every device runs the same head
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(head_seed(head_id))
        module = REGISTRY[head_id].build(key)
    module.eval().to(device)
    for p in module.parameters():
        p.requires_grad_(True)  # trainable as defined; we only ever run it under inference_mode
    return module


def head_key(head_id: str, args: BuildArgs, trained: TrainedHead | None = None) -> BuildArgs:
    """What head ``head_id`` depends on (:meth:`HeadSpec.key`), and THE one decision of whether it
    is the checkpoint's trained block: ``trained`` (the block that reads this map, if any) names
    itself in the key of the one head it serves; every other key is seeded (``trained=""``)."""
    key = get_spec(head_id).key(replace(args, trained=""))
    return replace(key, trained=trained.digest) if trained is not None and trained.serves(head_id, key) else key


def build_head(head_id: str, args: BuildArgs, device: torch.device | str = "cpu",
               trained: TrainedHead | None = None) -> nn.Module:
    """The module head ``head_id`` runs, in eval mode on ``device`` (pass the feature map's
    ``.device``: the head runs where the map lives): the trained block when ``args`` names it
    (``trained`` must be that block, on that device), else seeded random weights, cached per
    normalised args and device."""
    spec = get_spec(head_id)
    key = spec.key(args)
    if key.trained:
        trained = _given(head_id, key, trained)
        where = next(trained.module.parameters()).device
        if where != torch.device(device):
            raise ValueError(f"The trained block {trained.label} lives on {where}, not on {torch.device(device)}.")
        return trained.module
    return _cached_module(head_id, key, str(torch.device(device)))


def _given(head_id: str, key: BuildArgs, trained: TrainedHead | None) -> TrainedHead:
    """The trained block ``key`` names, which the caller must have passed."""
    if trained is None or trained.digest != key.trained:
        raise ValueError(f"Head {head_id!r} is a checkpoint's trained block ({key.trained[:12]}), which was not given.")
    return trained


def meta_head(head_id: str, args: BuildArgs, trained: TrainedHead | None = None) -> nn.Module:
    """A head of its own on the ``meta`` device (shapes, no data) for shape inference: a new object,
    so asking for a shape never swaps tensors in the module that other sessions' threads run (the
    cached one of :func:`build_head`). Built under ``torch.device("meta")``, it allocates nothing; a
    checkpoint's trained block (a few hundred thousand weights) is copied."""
    spec = get_spec(head_id)
    key = spec.key(args)
    if key.trained:
        return copy.deepcopy(_given(head_id, key, trained).module).to("meta")
    with torch.device("meta"):
        return spec.build(key).eval()


def get_spec(head_id: str) -> HeadSpec:
    if head_id not in REGISTRY:
        raise ValueError(f"Head {head_id!r} is unknown: choose from {', '.join(REGISTRY)}.")
    return REGISTRY[head_id]


def trainable_params(module: nn.Module) -> int:
    """``sum(p.numel())`` over trainable parameters (BatchNorm's running stats are buffers)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def spp_fixed_length(x: Tensor, args: BuildArgs) -> bool:
    """True when He et al.'s SPP gives its fixed length on this map (the paper rule may not)."""
    return spp(x, args.levels, args.pool, args.rule).valid
