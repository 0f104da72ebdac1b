"""The pyramid-pooling family side by side on one real feature map.

One entry point, :func:`compare`: every head of a :class:`FamilyPlan` (what a
:class:`FamilyRequest` asks for, on one map, made by :func:`plan` without building anything) is
built once and reported as a :class:`HeadReport`, with its timing attached when there is one:

* output shape, fixed length (only He et al.'s SPP), trainable parameters and FLOPs
  (``FlopCounterMode``, see :mod:`spp_viz.heads.costs`) of the module as its source defines it;
* pool-only latency (the parameter-free pooling part on the REAL features) and total latency
  (the whole module with seeded random convs), all heads interleaved in one
  :func:`spp_viz.timing.measure_interleaved` call, in the timing worker (:func:`measure_heads`,
  :mod:`spp_viz.worker`: a process of its own, given the map and each head's build arguments);
* each branch's receptive field in feature cells and input pixels;
* the exact equalities the family rests on (each head's :attr:`HeadSpec.claims`), checked live
  with ``torch.equal`` and max |diff|.

The SPP vs SPPF comparison is a view of the family (:data:`SPPF_VIEW`: ``sppf``, ``spp_yolo`` and
``spp``): its branches, equality and costs are those heads'. The convs have no pretrained weights
for the zoo backbones: anything computed through them is marked ``untrained`` (``seeded``); the
pooling parts are parameter-free and run on the real map.

A detector checkpoint's own SPPF (or parallel SPP) is the one trained head: on the map it reads
(:attr:`FeatureResult.trained_head`, a detector at p5), the key of the head it is names it
(:func:`spp_viz.heads.registry.head_key`, decided once, in :func:`plan`), and everything that
builds a module for that key gets the file's block (:func:`~spp_viz.heads.registry.build_head`
given the map's ``trained_head``): its report, parameters and FLOPs, its timing, and its pools,
which then read the trained ``cv1``'s output, as in the detector (:func:`pools_input`).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from . import worker
from .analysis import FeatureResult
from .choices import Choice, HeadWeights  # noqa: F401 (HeadWeights re-exported)
from .configs import FamilyRequest, PyramidConfig  # noqa: F401 (FamilyRequest re-exported)
from .defaults import HEAD_IDS, SPPF_DEFAULT_K, SPPF_DEFAULT_N
from .geometry import StageGeometry
from .heads.costs import flop_model
from .heads.registry import (
    REGISTRY,
    BranchKind,
    BranchShape,
    BuildArgs,
    HeadSpec,
    TrainedHead,
    build_head,
    get_spec,
    head_key,
    meta_head,
    register,
    spp_fixed_length,
    trainable_params,
    unregister,
)
from .pooling import SOURCE_K, SOURCE_N, check_sppf_fits, exact_compare, sppf_effective_kernels
from .timing import Latency, measure_interleaved, pool_and_total_consistent
from .worker import TensorValue


@dataclass(frozen=True)
class BranchReport:
    """One branch's receptive field: ``rf_cells`` ``(rows, cols)`` of feature cells and
    ``rf_pixels`` ``(height, width)`` in input pixels (theoretical, unclipped, for every branch;
    the image's size for a stage with global context, whose windows have no finite size);
    ``whole_image``: the branch sees every pixel."""

    name: str
    kind: BranchKind
    rf_cells: tuple[int, int]
    rf_pixels: tuple[int, int]
    whole_map: bool
    whole_image: bool


@dataclass(frozen=True)
class EqualityCheck:
    """``head``'s pooling part against ``other``'s built with ``other_args`` (normalised:
    :meth:`HeadSpec.key`), on the real map: ``claim`` says what is equal."""

    head: str
    other: str
    claim: str
    equal: bool
    max_abs_diff: float
    other_args: BuildArgs | None = None
    claim_template: str = ""  # the claim before its values were filled in (the page translates it)
    claim_values: tuple[tuple[str, str], ...] = ()

    @property
    def pair(self) -> frozenset[str]:
        return frozenset((self.head, self.other))


@dataclass(frozen=True)
class HeadTiming:
    """One head's medians on one map: its parameter-free pooling alone (``pool``) and its whole
    module (``total``); for a head without parameters the module is its pooling, so both are
    the same measurement. Each :class:`Latency` carries the device it was measured on."""

    pool: Latency
    total: Latency

    @property
    def device(self) -> str:
        return self.pool.device

    @property
    def consistent(self) -> bool:
        """Neither median too noisy to stand, and the pooling no slower than its module."""
        return pool_and_total_consistent(self.pool.median_ms, self.total.median_ms, self.pool, self.total)


TimingKey = tuple[str, BuildArgs]  # (head id, the build arguments it depends on: HeadSpec.key)


def timing_key(head_id: str, args: BuildArgs, trained: TrainedHead | None = None) -> TimingKey:
    """What a head depends on besides the map: its id and its normalised arguments, which name
    ``trained`` (the checkpoint's block reading this map) when the head is that block
    (:func:`spp_viz.heads.registry.head_key`)."""
    return head_id, head_key(head_id, args, trained)


@dataclass(frozen=True)
class HeadReport:
    """One head on the current map; ``timing`` is None until measured (then ``pool_ms`` and
    ``total_ms`` are NaN). ``args`` are the build arguments it depends on (``HeadSpec.key``);
    ``pool_shape`` is its parameter-free pooling's output, ``output_shape`` its module's (both
    without the batch dimension)."""

    id: str
    name: str
    source: str
    purpose: str
    args: BuildArgs
    output_shape: tuple[int, ...]
    pool_shape: tuple[int, ...]
    fixed_length: bool
    params: int
    flops: int
    branches: tuple[BranchReport, ...]
    exact_equal_to: tuple[EqualityCheck, ...]
    weights: HeadWeights
    timing: HeadTiming | None = field(default=None, repr=False)

    @property
    def key(self) -> TimingKey:
        return self.id, self.args

    @property
    def trained(self) -> bool:
        """The checkpoint's own trained block (its pools read the trained cv1's output)."""
        return self.weights is HeadWeights.TRAINED

    @property
    def untrained(self) -> bool:
        """Its convs are seeded random: what goes through them is not learned."""
        return self.weights is HeadWeights.SEEDED

    @property
    def view_name(self) -> str:
        """Its name in the SPP vs SPPF table: the settings it runs with (:meth:`HeadSpec.view_name`)."""
        return get_spec(self.id).view_name(self.args) + (", trained" if self.trained else "")

    @property
    def pool_ms(self) -> float:
        return self.timing.pool.median_ms if self.timing else math.nan

    @property
    def total_ms(self) -> float:
        return self.timing.total.median_ms if self.timing else math.nan

    @property
    def device(self) -> str | None:
        """Where the medians were measured (None: not measured)."""
        return self.timing.device if self.timing else None

    def check(self, other: str) -> EqualityCheck:
        """Its equality check against head ``other`` (KeyError: it claims none)."""
        for check in self.exact_equal_to:
            if check.other == other:
                return check
        raise KeyError(other)

    def receptive_fields(self, geometry: StageGeometry) -> list[dict[str, Any]]:
        """Each branch's window in feature cells and, through the stage, in input pixels (the
        theoretical window of :meth:`StageGeometry.window_pixels`, for the SPP vs SPPF table)."""
        return [{"branch": b.name, "cells": b.rf_cells[0], "pixels": geometry.window_pixels(b.rf_cells[0])}
                for b in self.branches]


@dataclass(frozen=True)
class FamilyComparison:
    """Every chosen head on one ``(C, h, w)`` map, in the order asked for."""

    k: int
    repeats: int
    feature_shape: tuple[int, int, int]
    heads: tuple[HeadReport, ...]

    def head(self, head_id: str) -> HeadReport:
        for report in self.heads:
            if report.id == head_id:
                return report
        raise KeyError(head_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(report.id for report in self.heads)

    @property
    def kernels(self) -> tuple[int, ...]:
        """SPPF's windows at this comparison's k and n: (5, 9, 13) for k = 5, n = 3."""
        return sppf_effective_kernels(self.k, self.repeats)

    @property
    def measured(self) -> bool:
        return all(report.timing is not None for report in self.heads)

    @property
    def timings(self) -> dict[TimingKey, HeadTiming]:
        """The measurements held, by what they depend on (for another comparison on the same map)."""
        return {report.key: report.timing for report in self.heads if report.timing is not None}

    @property
    def timings_consistent(self) -> bool:
        """No head's medians too noisy to stand, and no pooling slower than its whole module."""
        return all(report.timing.consistent for report in self.heads if report.timing is not None)

    @property
    def equalities(self) -> tuple[EqualityCheck, ...]:
        """The checks between heads of this comparison, once per pair (the first head's, in the
        order asked for), and only where the other head runs with the arguments the claim was
        checked with: at k = 3, ``simsppf``'s claim about SPPF with k = 5 is not about the ``sppf``
        compared here, so it is not listed."""
        seen: set[frozenset[str]] = set()
        out = []
        for report in self.heads:
            for check in report.exact_equal_to:
                if check.other not in self.ids or check.pair in seen or self.head(check.other).args != check.other_args:
                    continue
                seen.add(check.pair)
                out.append(check)
        return tuple(out)

    @property
    def other_settings(self) -> tuple[EqualityCheck, ...]:
        """Checks left out of :attr:`equalities` because the other head is compared here with other
        arguments than the claim's (at k = 3, ``simsppf``'s claim about SPPF with k = 5), once per pair."""
        listed = {check.pair for check in self.equalities}
        out: dict[frozenset[str], EqualityCheck] = {}
        for report in self.heads:
            for check in report.exact_equal_to:
                if check.other in self.ids and check.pair not in listed:
                    out.setdefault(check.pair, check)
        return tuple(out.values())

    @property
    def same_pools(self) -> tuple[tuple[str, ...], ...]:
        """The heads grouped by pooling output: heads whose pools :attr:`equalities` found exactly
        equal (``torch.equal``) share a group, so one drawing stands for all of them; in the order
        asked for."""
        group = {head_id: head_id for head_id in self.ids}

        def root(head_id: str) -> str:
            while group[head_id] != head_id:
                head_id = group[head_id]
            return head_id

        for check in self.equalities:
            if check.equal:
                a, b = sorted((root(check.head), root(check.other)), key=self.ids.index)
                group[b] = a
        groups: dict[str, list[str]] = {}
        for head_id in self.ids:
            groups.setdefault(root(head_id), []).append(head_id)
        return tuple(tuple(members) for members in groups.values())

    def pool_speedup(self, slow: str = "spp_yolo", fast: str = "sppf") -> Speedup | None:
        """How many times faster ``fast``'s pools ran than ``slow``'s on this map, with the spread
        of the two medians (:func:`speedup`; not reliable when either head's timings are not
        :attr:`HeadTiming.consistent`); None when either is missing or not measured."""
        if slow not in self.ids or fast not in self.ids:
            return None
        a, b = self.head(slow).timing, self.head(fast).timing
        if a is None or b is None:
            return None
        found = speedup(a.pool, b.pool)  # not taught from timings that contradict themselves either
        return replace(found, reliable=found.reliable and a.consistent and b.consistent)


@dataclass(frozen=True)
class Speedup:
    """``ratio`` = the slow median over the fast one; ``low`` and ``high`` the ratio when each
    median moves by half its interquartile range against the ratio (and with it). ``reliable``
    is False when either latency is too noisy to stand (:attr:`spp_viz.timing.Latency.noisy`):
    then no ratio is taught."""

    ratio: float
    low: float
    high: float
    reliable: bool


def speedup(slow: Latency, fast: Latency) -> Speedup:
    """The ratio of two medians and its spread, read only through :class:`Latency`'s
    ``median_ms``, ``iqr_ms`` and ``noisy``."""
    lo = slow.median_ms - slow.iqr_ms / 2, fast.median_ms + fast.iqr_ms / 2
    hi = slow.median_ms + slow.iqr_ms / 2, fast.median_ms - fast.iqr_ms / 2
    ratio = slow.median_ms / fast.median_ms if fast.median_ms > 0 else math.inf
    low = lo[0] / lo[1] if lo[1] > 0 else math.inf
    high = hi[0] / hi[1] if hi[1] > 0 else math.inf
    finite = all(math.isfinite(v) for v in (ratio, low, high))
    return Speedup(ratio, low, high, finite and not (slow.noisy or fast.noisy))


# The SPP vs SPPF comparison: SPPF and YOLOv5's SPP as their source defines them (k = 5, three
# pools: windows 5, 9, 13) and He et al.'s SPP with the page's pyramid.
SPPF_VIEW = FamilyRequest(("sppf", "spp_yolo", "spp"), SOURCE_K, SOURCE_N)


@dataclass(frozen=True)
class FamilyPlan:
    """A request on one map: the build arguments and, per head, what it depends on (``keys``:
    the timing store's and the module cache's key)."""

    request: FamilyRequest
    args: BuildArgs
    keys: tuple[TimingKey, ...]


def plan(features: FeatureResult, request: FamilyRequest, config: PyramidConfig | None = None,
         check_fits: bool = True) -> FamilyPlan:
    """What ``request``'s heads depend on, on this map, without building a module (cheap: the app
    looks the timings up with it before anything else). ``check_fits``: refuse SPPF windows wider
    than the map allows (``ValueError``, one sentence); the view's k = 5, n = 3 are the source's, on
    any map."""
    if check_fits:
        check_sppf_fits(request.k, request.repeats, *features.shape[1:])
    config = config or PyramidConfig()
    args = BuildArgs(features.shape[0], request.k, request.repeats, config.levels, config.pool, config.rule)
    return FamilyPlan(request, args, tuple(timing_key(head_id, args, features.trained_head) for head_id in request.heads))


@dataclass(frozen=True)
class PooledBranch:
    """A pooling branch of a head on the real map: ``pooled`` is ``(C, rows, cols)``."""

    head: str
    name: str
    pooled: Tensor = field(repr=False)


@dataclass(frozen=True)
class BranchMap:
    """A pooling branch on the real map, averaged over channels: ``values`` is ``(rows, cols)``."""

    head: str
    name: str
    values: np.ndarray = field(repr=False)


def concat_parts(parts: list[Tensor]) -> Tensor:
    """Pooling outputs as one tensor: ``(B, sum C_i, h, w)`` when sizes agree, else flattened."""
    if all(p.shape[-2:] == parts[0].shape[-2:] for p in parts):
        return torch.cat(parts, 1)
    return torch.cat([p.flatten(1) for p in parts], 1)


_shared = threading.local()


@contextlib.contextmanager
def shared_pools() -> Iterator[None]:
    """Inside, :func:`pool_output` computes each (map, head, arguments) once: the equality checks
    of several heads compare the same pools (SPPF's with YOLOv5's and the separable one's, each
    way round), which on a 12 MP photo's map is about half a second of pooling when repeated.
    The outputs are dropped when the block ends."""
    if getattr(_shared, "pools", None) is not None:
        yield
        return
    _shared.pools = {}
    try:
        yield
    finally:
        _shared.pools = None


def _once(x: Tensor, what: tuple[object, ...], compute: Callable[[], Tensor]) -> Tensor:
    """``compute()`` (under ``inference_mode``), once per map ``x`` and ``what`` inside :func:`shared_pools`."""
    pools: dict[tuple[object, ...], tuple[Tensor, Tensor]] | None = getattr(_shared, "pools", None)
    key = (x.data_ptr(), tuple(x.shape), x.stride(), str(x.device), x.dtype, *what)
    if pools is not None and key in pools:
        return pools[key][1]
    with torch.inference_mode():
        out = compute()
    if pools is not None:
        pools[key] = (x, out)  # x kept alive with it: its address cannot be reused by another map
    return out


def pools_input(x: Tensor, args: BuildArgs, trained: TrainedHead | None = None) -> Tensor:
    """What a head's pools read from the map ``x`` ``(B, C, h, w)``: the trained block's ``cv1(x)``
    when ``args`` names it (its convs are the file's), else ``x`` itself (a seeded head's random
    convs would only scramble the map)."""
    if not args.trained:
        return x
    if trained is None or trained.digest != args.trained:
        raise ValueError(f"The trained block {args.trained[:12]} named by these arguments was not given.")
    return _once(x, ("cv1", args.trained), lambda: trained.pools_input(x))


def run_pools(spec: HeadSpec, module: nn.Module, source: Tensor) -> list[Tensor]:
    """``spec.pool_part(module, source)`` for what the page shows (shapes, equalities, branch maps),
    each part in the standard (contiguous) layout.

    A head whose pools are max pools only (:attr:`HeadSpec.max_pools`) runs them on a
    channels-last copy of ``source``: the same bits (a max selects a value; ``tests/test_family.py``
    checks every such head), and on the CPU 4 to 7 times faster than the standard layout's kernel
    for 9 x 9 and 13 x 13 windows on a small map, which the channels-last kernel vectorises across
    channels. The timings (:func:`measure_heads`) keep the layout the heads' sources use."""
    if not spec.max_pools:
        return spec.pool_part(module, source)
    return [part.contiguous() for part in spec.pool_part(module, source.contiguous(memory_format=torch.channels_last))]


def pool_output(head_id: str, x: Tensor, args: BuildArgs, trained: TrainedHead | None = None) -> Tensor:
    """The head's parameter-free pooling part on what its pools read from ``x`` ``(B, C, h, w)``
    (:func:`pools_input`), concatenated (computed once per map, head and arguments inside
    :func:`shared_pools`)."""
    spec = get_spec(head_id)
    key = spec.key(args)
    source = pools_input(x, key, trained)
    return _once(source, (head_id, key),
                 lambda: concat_parts(run_pools(spec, build_head(head_id, key, x.device, trained), source)))


def check_equalities(head_id: str, x: Tensor, args: BuildArgs, trained: TrainedHead | None = None) -> tuple[EqualityCheck, ...]:
    """The head's claims (:attr:`HeadSpec.claims`), run on what its pools read from ``x``:
    ``torch.equal`` and NaN-aware max |diff| of its pooling part against each other head's pools
    on the same input (parameter-free: the other head's are seeded's), as flat vectors for a head
    whose pools have several sizes (:attr:`HeadSpec.flat_compare`)."""
    spec = get_spec(head_id)
    key = spec.key(args)
    mine = pool_output(head_id, x, key, trained)
    source = pools_input(x, key, trained)
    out = []
    for claim in spec.claims(key):
        theirs = pool_output(claim.other, source, replace(claim.args, trained=""))
        a, b = (mine.flatten(1), theirs.flatten(1)) if spec.flat_compare else (mine, theirs)
        equal, diff = exact_compare(a, b)
        out.append(EqualityCheck(head_id, claim.other, claim.text, equal, diff, get_spec(claim.other).key(claim.args),
                                 claim.template, claim.values))
    return tuple(out)


TRAINED_INPUT = "cv1(x)"  # a trained block's first branch: what its pools read


def _named(names: Sequence[str], trained: bool) -> tuple[str, ...]:
    """Branch names; a trained block's input branch is its cv1's output, not the map."""
    return (TRAINED_INPUT, *names[1:]) if trained and names else tuple(names)


def _branch_reports(shapes: tuple[BranchShape, ...], features: FeatureResult, trained: bool = False) -> tuple[BranchReport, ...]:
    """Cells -> pixels through the stage (:meth:`StageGeometry.window_pixels`), or the whole image
    (a trained block's 1 x 1 cv1 widens nothing: its input branch is only renamed)."""
    shapes = tuple(replace(shape, name=name) for shape, name in zip(shapes, _named([s.name for s in shapes], trained)))
    _, h, w = features.shape
    width, height = features.input_size
    geometry = features.geometry
    out = []
    for shape in shapes:
        rows, cols = shape.cells(h, w)
        whole_image = shape.whole_map or geometry.global_context  # squeeze-excite: every output sees every pixel
        # every branch's window in the same theoretical, unclipped pixels (a whole-map branch's too, so
        # a finer level never reads larger than the whole map); squeeze-excite has no finite window
        pixels = (height, width) if geometry.global_context else (geometry.window_pixels(rows), geometry.window_pixels(cols))
        out.append(BranchReport(shape.name, shape.kind, (rows, cols), pixels, shape.whole_map, whole_image))
    return tuple(out)


PROBE = (2, 3)  # the corner a size-keeping head's shape is read from: unequal sides, so a transposed output shows


def output_shape(head_id: str, args: BuildArgs, module: nn.Module, x: Tensor, trained: TrainedHead | None = None) -> tuple[int, ...]:
    """The module's output shape on ``x`` ``(1, C, h, w)``, batch dimension dropped, from running
    PyTorch's modules, never from a formula of ours:

    - a head without parameters (SPP) is its pooling: it runs on ``x`` (milliseconds);
    - a size-keeping head (:attr:`~spp_viz.heads.registry.HeadSpec.keeps_size`) runs on ``x``'s
      top-left 2 x 3 corner, and its channels are given ``x``'s h x w: milliseconds even for the
      44 M-parameter SPPCSPC on a large map. An output that did not keep the corner's size falls
      through to the next way;
    - any other head runs as a copy of its own on the ``meta`` device
      (:func:`~spp_viz.heads.registry.meta_head`: shapes without data). A process's first meta
      run imports 1 to 2 s of torch's Python shape machinery, which is why the two ways above
      come first. A head with an op that has no meta kernel runs ``module`` on ``x``.

    The shared ``module`` is only ever called, under ``inference_mode``, as the timings call it:
    its tensors are never swapped, so sessions' threads can run it at once."""
    _, _, h, w = x.shape
    with torch.inference_mode():
        if not trainable_params(module):
            return tuple(int(s) for s in module(x).shape[1:])
        if get_spec(head_id).keeps_size:
            corner = x[:, :, :PROBE[0], :PROBE[1]]
            out = module(corner).shape
            if len(out) == 4 and tuple(out[2:]) == tuple(corner.shape[2:]):
                return int(out[1]), int(h), int(w)
        try:
            out = meta_head(head_id, args, trained)(x.to("meta")).shape
        except (NotImplementedError, RuntimeError):
            out = module(x).shape
    return tuple(int(s) for s in out[1:])


def head_report(features: FeatureResult, key: TimingKey) -> HeadReport:
    """One head on the map, without its timing: shapes, parameters, FLOPs, branches and the
    checked equalities (its module built once: :func:`spp_viz.heads.registry.build_head`)."""
    head_id, args = key
    spec, trained = get_spec(head_id), features.trained_head
    x = features.feature.unsqueeze(0).contiguous()
    module = build_head(head_id, args, x.device, trained)
    _, h, w = features.shape
    params = trainable_params(module)
    weights = HeadWeights.TRAINED if args.trained else HeadWeights.SEEDED if params else HeadWeights.NONE
    return HeadReport(
        head_id, spec.name, spec.source, spec.purpose, args, output_shape(head_id, args, module, x, trained),
        tuple(int(s) for s in pool_output(head_id, x, args, trained).shape[1:]), spec.fixed_length and spp_fixed_length(x, args),
        params, flop_model(head_id, args, trained).at(h, w), _branch_reports(spec.branches(args), features, bool(args.trained)),
        check_equalities(head_id, x, args, trained), weights,
    )


HeadReporter = Callable[[FeatureResult, TimingKey], HeadReport]  # head_report, or a cache around it


def compare(features: FeatureResult, family_plan: FamilyPlan, timings: Mapping[TimingKey, HeadTiming] | None = None,
            *, measure: bool = False, report: HeadReporter = head_report) -> FamilyComparison:
    """THE entry point: every head of ``family_plan`` on the map, each built once by ``report``
    (:func:`head_report`, or a cache around it), with its timing from ``timings`` attached when
    there is one. ``measure``: the heads without one are timed first, all interleaved
    (:func:`measure_heads`: call it where nothing else competes). The heads' equality checks
    share their pools (:func:`shared_pools`)."""
    found = dict(timings or {})
    if measure:
        found.update(measure_heads(features, [key for key in family_plan.keys if key not in found]))
    with shared_pools():
        heads = tuple(replace(report(features, key), timing=found.get(key)) for key in family_plan.keys)
    request = family_plan.request
    return FamilyComparison(request.k, request.repeats, features.shape, heads)


def _timing_fns(keys: Sequence[TimingKey], x: Tensor, trained: TrainedHead | None = None) -> dict[str, Callable[[], object]]:
    """``{"<i>/pool": ..., "<i>/total": ...}`` for the i-th key; each runs under ``inference_mode``
    itself. The pool-only run takes the real map's first channels, as many as the module's own
    pools see (cv1 halves C in SPPF-like heads), so pool and total time the same pooling work. A
    head without parameters is timed once: its module is its pooling. ``trained``: the map's
    trained block, the module of the head whose key names it."""
    fns: dict[str, Callable[[], object]] = {}
    for i, (head_id, args) in enumerate(keys):
        spec, module = get_spec(head_id), build_head(head_id, args, x.device, trained)
        pool_x = x[:, :spec.pool_channels(x.shape[1])].contiguous()

        def pool(spec=spec, module=module, pool_x=pool_x) -> object:
            with torch.inference_mode():
                return concat_parts(spec.pool_part(module, pool_x))

        def total(module=module) -> object:
            with torch.inference_mode():
                return module(x)

        fns[f"{i}/pool"] = pool
        if trainable_params(module):
            fns[f"{i}/total"] = total
    return fns


def time_heads(x: Tensor, keys: Sequence[TimingKey], stop: Callable[[], bool] | None = None,
               trained: TrainedHead | None = None) -> dict[TimingKey, HeadTiming]:
    """Time these heads on ``x`` ``(1, C, h, w)`` HERE, on its device, all interleaved in one
    :func:`spp_viz.timing.measure_interleaved` call (rounds until each spread is at most 10 %
    or the cap); a self-contradictory result (a pooling slower than its module) is measured once
    more. ``trained``: the map's trained block, for the key that names it. The timing worker runs
    this (:class:`HeadsTask`); call :func:`measure_heads` instead."""
    fns = _timing_fns(keys, x, trained)
    timings = _timings(keys, measure_interleaved(fns, device=x.device, stop=stop))
    if any(t.pool.median_ms > t.total.median_ms for t in timings.values()):
        timings = _timings(keys, measure_interleaved(fns, device=x.device, stop=stop))
    return timings


@dataclass(frozen=True)
class HeadOrigin:
    """Where a head added with ``register()`` is defined, so the timing worker can add it too: a
    module-level :class:`HeadSpec` of ``module`` (importable with ``path``)."""

    id: str
    module: str
    path: tuple[str, ...]

    def register(self) -> None:
        """Import the module and register its spec of this id (again, if another spec had it)."""
        import importlib
        import sys

        sys.path.extend(p for p in self.path if p not in sys.path)
        found = [v for v in vars(importlib.import_module(self.module)).values() if isinstance(v, HeadSpec) and v.id == self.id]
        if not found:
            raise ValueError(f"Head {self.id!r} cannot be timed: its HeadSpec is not defined at the top level of {self.module}.")
        if self.id in REGISTRY and REGISTRY[self.id] is not found[0]:
            unregister(self.id)
        if self.id not in REGISTRY:
            register(found[0])


def head_origins(keys: Sequence[TimingKey]) -> tuple[HeadOrigin, ...]:
    """The origins of the heads among ``keys`` that were added at run time (built-in ones need none)."""
    import sys

    added = dict.fromkeys(head_id for head_id, _ in keys if head_id not in HEAD_IDS)
    return tuple(HeadOrigin(head_id, getattr(get_spec(head_id).build, "__module__", ""), tuple(sys.path)) for head_id in added)


@dataclass(frozen=True)
class HeadsTask:
    """The timing worker's task for :func:`measure_heads`: the map and each head's id and build
    arguments (the worker builds the same seeded modules), and where run-time heads come from."""

    map: TensorValue
    keys: tuple[TimingKey, ...]
    origins: tuple[HeadOrigin, ...] = ()
    trained: TrainedHead | None = None  # the map's trained block (a detector's), pickled by value

    def run(self, stop: Callable[[], bool]) -> dict[TimingKey, HeadTiming]:
        for origin in self.origins:
            origin.register()
        return time_heads(self.map.tensor().unsqueeze(0).contiguous(), self.keys, stop, self.trained)


def measure_heads(features: FeatureResult, keys: Sequence[TimingKey],
                  stop: Callable[[], bool] | None = None) -> dict[TimingKey, HeadTiming]:
    """Time these heads on the map's device, all interleaved, in the timing worker
    (:mod:`spp_viz.worker`: a process of its own, with a fixed thread count). ``stop``: asked
    while it runs; once true, ``timing.Interrupted`` is raised and nothing is kept."""
    if not keys:
        return {}
    keys = tuple(keys)
    return worker.run(HeadsTask(TensorValue.of(features.feature), keys, head_origins(keys), features.trained_head), stop)


def _timings(keys: Sequence[TimingKey], latencies: Mapping[str, Latency]) -> dict[TimingKey, HeadTiming]:
    return {key: HeadTiming(latencies[f"{i}/pool"], latencies.get(f"{i}/total", latencies[f"{i}/pool"]))
            for i, key in enumerate(keys)}


def compare_family(features: FeatureResult, ids: Sequence[str] | str, config: PyramidConfig | None = None,
                   k: int = SPPF_DEFAULT_K, repeats: int = SPPF_DEFAULT_N, measure: bool = True,
                   measured: Mapping[TimingKey, HeadTiming] | None = None, check_fits: bool = True) -> FamilyComparison:
    """:func:`compare` for heads given as ids (a sequence, or ``"all"`` / ``"sppf,ppm"``). Raises
    ``ValueError`` (one sentence) for an unknown id, a bad k or n, or (with ``check_fits``) SPPF
    windows wider than the map allows. ``measured`` holds timings already taken on this map
    (e.g. another comparison's :attr:`FamilyComparison.timings`): those heads are not timed again;
    ``measure=False`` leaves the others unmeasured."""
    request = FamilyRequest.parse(ids, k, repeats)
    return compare(features, plan(features, request, config, check_fits), measured, measure=measure)


def sppf_view(features: FeatureResult, config: PyramidConfig | None = None, measure: bool = True,
              measured: Mapping[TimingKey, HeadTiming] | None = None) -> FamilyComparison:
    """The SPP vs SPPF comparison as a view of the family (:data:`SPPF_VIEW`)."""
    return compare(features, plan(features, SPPF_VIEW, config, check_fits=False), measured, measure=measure)


def compare_with_view(features: FeatureResult, config: PyramidConfig, ids: Sequence[str] | str | None,
                      k: int = SPPF_DEFAULT_K, repeats: int = SPPF_DEFAULT_N) -> tuple[FamilyComparison, FamilyComparison | None]:
    """:func:`sppf_view` and (when ``ids``) the family, every head built once and timed once, all
    interleaved in one measurement: a head in both (``spp``; ``sppf`` and ``spp_yolo`` at k = 5,
    n = 3) is one timing shown twice."""
    view = plan(features, SPPF_VIEW, config, check_fits=False)
    family = plan(features, FamilyRequest.parse(ids, k, repeats), config) if ids else None
    timings = measure_heads(features, list(dict.fromkeys(view.keys + (family.keys if family else ()))))
    built: dict[TimingKey, HeadReport] = {}

    def once(features: FeatureResult, key: TimingKey) -> HeadReport:
        if key not in built:
            built[key] = head_report(features, key)
        return built[key]

    with shared_pools():
        return (compare(features, view, timings, report=once),
                compare(features, family, timings, report=once) if family else None)


def pooled_branches(features: FeatureResult, key: TimingKey) -> tuple[PooledBranch, ...]:
    """The head's pooling branches on what its pools read from the REAL map (:func:`pools_input`:
    the map, or the trained cv1's output), each ``(C, rows, cols)``."""
    head_id, args = key
    spec, trained = get_spec(head_id), features.trained_head
    x = features.feature.unsqueeze(0)
    with torch.inference_mode():
        source = pools_input(x, args, trained)
        parts = run_pools(spec, build_head(head_id, args, x.device, trained), source)
    names = _named(spec.part_names(args), bool(args.trained))
    return tuple(PooledBranch(head_id, name, part[0]) for name, part in zip(names, parts))


def view_lead(view: FamilyComparison) -> tuple[HeadReport, EqualityCheck]:
    """The SPP vs SPPF view's lead head, the one whose branches it draws (the checkpoint's trained
    block when this map has one, else ``sppf``), and its equality check with the other of SPPF's
    cascade and YOLOv5's parallel pools."""
    lead = next((r for r in view.heads if r.trained and r.id in ("sppf", "spp_yolo")), None) or view.head("sppf")
    return lead, lead.check("spp_yolo" if lead.id == "sppf" else "sppf")


def branch_maps(features: FeatureResult, key: TimingKey) -> tuple[BranchMap, ...]:
    """:func:`pooled_branches`, each averaged over channels (for the family panel's small maps)."""
    return tuple(BranchMap(b.head, b.name, b.pooled.float().mean(0).cpu().numpy()) for b in pooled_branches(features, key))
