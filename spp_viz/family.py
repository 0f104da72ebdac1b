"""The pyramid-pooling family side by side on one real feature map.

:func:`compare_family` runs each chosen head (ids in :data:`spp_viz.defaults.HEAD_IDS`) on a
:class:`~spp_viz.analysis.FeatureResult`:

* output shape, fixed length (only He et al.'s SPP), trainable parameters and FLOPs
  (``FlopCounterMode``, see :mod:`spp_viz.heads.costs`) of the module as its source defines it;
* pool-only latency (the parameter-free pooling part on the REAL features) and total latency
  (the whole module with seeded random convs), all heads interleaved in one
  :func:`spp_viz.timing.measure_interleaved` call, the method the SPPF panel uses;
* each branch's receptive field in feature cells and input pixels;
* the exact equalities the family rests on, checked live with ``torch.equal`` and max |diff|.

The convs have no pretrained weights for our backbones: anything computed through them is
marked ``untrained``; the pooling parts are parameter-free and run on the real map.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import Tensor

from .analysis import FeatureResult, PyramidConfig
from .choices import BinRule, Pool
from .defaults import SPPF_DEFAULT_K, SPPF_DEFAULT_N
from .heads.costs import flop_model
from .heads.registry import (
    PPM_BINS,
    SOURCE_K,
    SOURCE_N,
    BranchKind,
    BranchShape,
    BuildArgs,
    build_head,
    get_spec,
    spp_fixed_length,
    trainable_params,
)
from .options import check_sppf_fits, parse_heads
from .pooling import exact_compare, spp, sppf_effective_kernels
from .timing import Latency, measure_interleaved, pool_and_total_consistent

# The SPP vs SPPF panel's heads (see :func:`sppf_view`).
SPPF_VIEW: tuple[str, ...] = ("sppf", "spp_yolo", "spp")


@dataclass(frozen=True)
class BranchReport:
    """One branch's receptive field: ``rf_cells`` ``(rows, cols)`` of feature cells and
    ``rf_pixels`` ``(height, width)`` in input pixels (theoretical, unclipped; the whole
    image for global branches, or for every branch of a stage with global context)."""

    name: str
    kind: BranchKind
    rf_cells: tuple[int, int]
    rf_pixels: tuple[int, int]
    whole_map: bool
    whole_image: bool


@dataclass(frozen=True)
class EqualityCheck:
    """``head``'s pooling part against ``other``'s, on the real map: ``claim`` says what is equal."""

    head: str
    other: str
    claim: str
    equal: bool
    max_abs_diff: float


@dataclass(frozen=True)
class HeadTiming:
    """One head's medians on one map: its parameter-free pooling alone (``pool``) and its whole
    module (``total``); for a head without parameters the module is its pooling, so both are
    the same measurement. Each :class:`Latency` carries the device it was measured on."""

    pool: Latency
    total: Latency
    output_shape: tuple[int, ...] = ()  # the module's output seen while timing it, batch dim dropped (() unknown)

    @property
    def device(self) -> str:
        return self.pool.device

    @property
    def consistent(self) -> bool:
        """Neither median too noisy to stand, and the pooling no slower than its module."""
        return pool_and_total_consistent(self.pool.median_ms, self.total.median_ms, self.pool, self.total)


TimingKey = tuple[str, BuildArgs]  # (head id, the build arguments it depends on: HeadSpec.key)


def timing_key(head_id: str, args: BuildArgs) -> TimingKey:
    """What a head's timing depends on besides the map: its id and its normalised arguments."""
    return head_id, get_spec(head_id).key(args)


@dataclass(frozen=True)
class HeadReport:
    """One head on the current map; ``timing`` is None until measured (then ``pool_ms`` and
    ``total_ms`` are NaN). ``args`` are the build arguments it depends on (``HeadSpec.key``)."""

    id: str
    name: str
    source: str
    purpose: str
    args: BuildArgs
    output_shape: tuple[int, ...]
    fixed_length: bool
    params: int
    flops: int
    branches: tuple[BranchReport, ...]
    exact_equal_to: tuple[EqualityCheck, ...]
    untrained: bool  # True when the module has (randomly initialised) conv weights
    timing: HeadTiming | None = field(default=None, repr=False)

    @property
    def key(self) -> TimingKey:
        return self.id, self.args

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


@dataclass(frozen=True)
class BranchMap:
    """A pooling branch on the real map, averaged over channels: ``values`` is ``(rows, cols)``."""

    head: str
    name: str
    values: np.ndarray = field(repr=False)


def _args(features: FeatureResult, config: PyramidConfig, k: int, repeats: int) -> BuildArgs:
    return BuildArgs(features.shape[0], k, repeats, config.levels, config.pool, config.rule)


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


def pool_output(head_id: str, x: Tensor, args: BuildArgs) -> Tensor:
    """The head's parameter-free pooling part on ``x`` ``(B, C, h, w)``, concatenated (computed
    once per map, head and arguments inside :func:`shared_pools`)."""
    spec = get_spec(head_id)
    pools: dict[tuple[object, ...], tuple[Tensor, Tensor]] | None = getattr(_shared, "pools", None)
    key = (x.data_ptr(), tuple(x.shape), x.stride(), str(x.device), x.dtype, head_id, spec.key(args))
    if pools is not None and key in pools:
        return pools[key][1]
    with torch.inference_mode():
        out = concat_parts(spec.pool_part(build_head(head_id, args, x.device), x))
    if pools is not None:
        pools[key] = (x, out)  # x kept alive with it: its address cannot be reused by another map
    return out


def _spp_reference(x: Tensor, levels: Sequence[int]) -> Tensor:
    """He et al.'s adaptive AVERAGE SPP (the engine's :func:`spp_viz.pooling.spp`) as a vector."""
    with torch.inference_mode():
        return spp(x, levels, Pool.AVG, BinRule.ADAPTIVE).vector


def _source_sppf(x: Tensor, args: BuildArgs) -> Tensor:
    return pool_output("sppf", x, BuildArgs(args.channels, SOURCE_K, SOURCE_N))


def _claims(args: BuildArgs) -> dict[str, list[tuple[str, str, Callable[[Tensor], Tensor]]]]:
    """Per head: ``(other id, claim, other's pooling output)``; the head's own side is :func:`pool_output`."""
    k, repeats = args.k, args.repeats
    widths = ", ".join(str(i * (k - 1) + 1) for i in range(1, repeats + 1))
    cascade = f"{repeats} chained {k}x{k} max pools = parallel pools {widths}"
    source = "its pools are SPPF's cascade with k=5, n=3 (windows 5, 9, 13)"
    return {
        "spp_yolo": [("sppf", cascade, lambda x: pool_output("sppf", x, args)),
                     ("sppf_separable", f"separable {cascade}", lambda x: pool_output("sppf_separable", x, args))],
        "sppf": [("spp_yolo", cascade, lambda x: pool_output("spp_yolo", x, args)),
                 ("sppf_separable", f"{k}x{k} max = 1x{k} then {k}x1 max", lambda x: pool_output("sppf_separable", x, args))],
        "sppf_separable": [("sppf", f"1x{k} then {k}x1 max = {k}x{k} max", lambda x: pool_output("sppf", x, args)),
                           ("spp_yolo", f"separable {cascade}", lambda x: pool_output("spp_yolo", x, args))],
        "simsppf": [("sppf", source, lambda x: _source_sppf(x, args))],
        "sppcspc": [("sppf", "its parallel 5, 9, 13 pools are SPPF's cascade with k=5, n=3", lambda x: _source_sppf(x, args))],
        "cspsppf": [("sppf", source, lambda x: _source_sppf(x, args))],
        "sppelan": [("sppf", source, lambda x: _source_sppf(x, args))],
        "ppm": [("spp", "its bins are He et al.'s adaptive average SPP levels 1, 2, 3, 6",
                 lambda x: _spp_reference(x, PPM_BINS))],
        "aspp": [("spp", "its image pooling is average SPP's 1 x 1 level (global average pooling)",
                  lambda x: _spp_reference(x, (1,)))],
    }


def check_equalities(head_id: str, x: Tensor, args: BuildArgs) -> tuple[EqualityCheck, ...]:
    """The head's listed exact equalities, run on ``x``: ``torch.equal`` and NaN-aware max |diff|."""
    mine = pool_output(head_id, x, args)
    flat = head_id in ("ppm", "aspp")  # compared with a flattened SPP vector
    out = []
    for other, claim, theirs in _claims(args).get(head_id, []):
        a = mine.flatten(1) if flat else mine
        equal, diff = exact_compare(a, theirs(x))
        out.append(EqualityCheck(head_id, other, claim, equal, diff))
    return tuple(out)


def _branch_reports(shapes: tuple[BranchShape, ...], features: FeatureResult) -> tuple[BranchReport, ...]:
    """Cells -> pixels through the stage (:meth:`StageGeometry.window_pixels`), or the whole image."""
    _, h, w = features.shape
    width, height = features.input_size
    geometry = features.geometry
    out = []
    for shape in shapes:
        rows, cols = shape.cells(h, w)
        whole_image = shape.whole_map or geometry.global_context  # squeeze-excite: every output sees every pixel
        pixels = (height, width) if whole_image else (geometry.window_pixels(rows), geometry.window_pixels(cols))
        out.append(BranchReport(shape.name, shape.kind, (rows, cols), pixels, shape.whole_map, whole_image))
    return tuple(out)


def _timing_fns(keys: Sequence[TimingKey], x: Tensor, shapes: dict[TimingKey, tuple[int, ...]]) -> dict[str, Callable[[], object]]:
    """``{"<i>/pool": ..., "<i>/total": ...}`` for the i-th key; each runs under ``inference_mode``
    itself. The total run records the module's output shape in ``shapes`` (a 44 M-parameter
    SPPCSPC is not run once more just to read its shape). The pool-only run takes the real map's
    first channels, as many as the module's own pools see (cv1 halves C in SPPF-like heads), so
    pool and total time the same pooling work. A head without parameters is timed once: its
    module is its pooling."""
    fns: dict[str, Callable[[], object]] = {}
    for i, key in enumerate(keys):
        head_id, args = key
        spec, module = get_spec(head_id), build_head(head_id, args, x.device)
        pool_x = x[:, :spec.pool_channels(x.shape[1])].contiguous()

        def pool(spec=spec, module=module, pool_x=pool_x) -> object:
            with torch.inference_mode():
                return concat_parts(spec.pool_part(module, pool_x))

        def total(module=module, key=key) -> object:
            with torch.inference_mode():
                out = module(x)
            shapes[key] = tuple(out.shape[1:])
            return out

        fns[f"{i}/pool"] = pool
        if trainable_params(module):
            fns[f"{i}/total"] = total
    return fns


def measure_heads(features: FeatureResult, keys: Sequence[TimingKey],
                  shapes: dict[TimingKey, tuple[int, ...]] | None = None) -> dict[TimingKey, HeadTiming]:
    """Time these heads on the map's device, all interleaved in one
    :func:`spp_viz.timing.measure_interleaved` call (call it where nothing else competes). A
    self-contradictory result (other work competed after all) is measured once more."""
    if not keys:
        return {}
    x = features.feature.unsqueeze(0).contiguous()
    shapes = {} if shapes is None else shapes
    fns = _timing_fns(keys, x, shapes)
    timings = _timings(keys, measure_interleaved(fns, device=x.device), shapes)
    if not all(t.consistent for t in timings.values()):
        timings = _timings(keys, measure_interleaved(fns, device=x.device), shapes)
    return timings


def _timings(keys: Sequence[TimingKey], latencies: Mapping[str, Latency],
             shapes: Mapping[TimingKey, tuple[int, ...]]) -> dict[TimingKey, HeadTiming]:
    return {key: HeadTiming(latencies[f"{i}/pool"], latencies.get(f"{i}/total", latencies[f"{i}/pool"]), shapes.get(key, ()))
            for i, key in enumerate(keys)}


def _head_report(head_id: str, features: FeatureResult, x: Tensor, args: BuildArgs,
                 timings: Mapping[TimingKey, HeadTiming], shapes: dict[TimingKey, tuple[int, ...]]) -> HeadReport:
    spec, module = get_spec(head_id), build_head(head_id, args, x.device)
    key = timing_key(head_id, args)
    _, h, w = features.shape
    timing = timings.get(key)
    if key not in shapes and timing is not None and timing.output_shape:
        shapes[key] = timing.output_shape  # seen while it was timed: no run just to read it
    if key not in shapes:
        with torch.inference_mode():
            shapes[key] = tuple(module(x).shape[1:])
    params = trainable_params(module)
    return HeadReport(
        head_id, spec.name, spec.source, spec.purpose, key[1], tuple(int(s) for s in shapes[key]),
        spec.fixed_length and spp_fixed_length(x, args), params, flop_model(head_id, args).at(h, w),
        _branch_reports(spec.branches(args), features), check_equalities(head_id, x, args), params > 0, timings.get(key),
    )


def compare_family(features: FeatureResult, ids: Sequence[str] | str, config: PyramidConfig | None = None,
                   k: int = SPPF_DEFAULT_K, repeats: int = SPPF_DEFAULT_N, measure: bool = True,
                   measured: Mapping[TimingKey, HeadTiming] | None = None, check_fits: bool = True) -> FamilyComparison:
    """Every head in ``ids`` (a sequence, or ``"all"`` / ``"sppf,ppm"``) on ``features``' map.
    Raises ``ValueError`` (one sentence) for an unknown id, a bad k or n, or (with
    ``check_fits``) SPPF windows wider than the map allows. ``measure=False`` leaves the heads
    not in ``measured`` unmeasured. ``measured`` holds timings already taken on this map (e.g.
    another comparison's :attr:`FamilyComparison.timings`): those heads are not timed again.
    """
    return _measured(features, *_request(features, ids, config, k, repeats, check_fits), measure, measured)


def sppf_view(features: FeatureResult, config: PyramidConfig | None = None, measure: bool = True,
              measured: Mapping[TimingKey, HeadTiming] | None = None) -> FamilyComparison:
    """The SPP vs SPPF comparison as a view of the family: SPPF and YOLOv5's SPP as their source
    defines them (k = 5, three pools: windows 5, 9, 13) and He et al.'s SPP with the page's pyramid."""
    return compare_family(features, SPPF_VIEW, config, SOURCE_K, SOURCE_N, measure, measured, check_fits=False)


def compare_with_view(features: FeatureResult, config: PyramidConfig, ids: Sequence[str] | str | None,
                      k: int = SPPF_DEFAULT_K, repeats: int = SPPF_DEFAULT_N) -> tuple[FamilyComparison, FamilyComparison | None]:
    """:func:`sppf_view` and (when ``ids``) the family, every head timed once, all interleaved in
    one measurement: a head in both (``spp``; ``sppf`` and ``spp_yolo`` at k = 5, n = 3) is one
    timing shown twice."""
    view_heads, view_args = _request(features, SPPF_VIEW, config, SOURCE_K, SOURCE_N, check=False)
    family_heads, family_args = _request(features, ids, config, k, repeats) if ids else ((), view_args)
    keys = list(dict.fromkeys(_keys(view_heads, view_args) + _keys(family_heads, family_args)))
    shapes: dict[TimingKey, tuple[int, ...]] = {}
    timings = measure_heads(features, keys, shapes)
    view = _comparison(features, view_heads, view_args, timings, shapes)
    return view, (_comparison(features, family_heads, family_args, timings, shapes) if ids else None)


def _request(features: FeatureResult, ids: Sequence[str] | str, config: PyramidConfig | None, k: int, repeats: int,
             check: bool = True) -> tuple[tuple[str, ...], BuildArgs]:
    """The heads and their build arguments; ``check``: refuse SPPF windows wider than the map
    allows (the user's k and n; the view's k = 5, n = 3 are the source's, on any map)."""
    heads = parse_heads(ids if isinstance(ids, str) else ",".join(ids))
    if check:
        check_sppf_fits(k, repeats, *features.shape[1:])
    return heads, _args(features, config or PyramidConfig(), k, repeats)


def _measured(features: FeatureResult, heads: Sequence[str], args: BuildArgs, measure: bool,
              measured: Mapping[TimingKey, HeadTiming] | None) -> FamilyComparison:
    shapes: dict[TimingKey, tuple[int, ...]] = {}
    timings = dict(measured or {})
    if measure:
        timings.update(measure_heads(features, [key for key in _keys(heads, args) if key not in timings], shapes))
    return _comparison(features, heads, args, timings, shapes)


def timing_keys(features: FeatureResult, ids: Sequence[str] | str, config: PyramidConfig | None = None,
                k: int = SPPF_DEFAULT_K, repeats: int = SPPF_DEFAULT_N, check_fits: bool = True) -> list[TimingKey]:
    """What these heads' timings depend on, without building a module (cheap: the app looks the
    timings up before anything else). Raises ``ValueError`` as :func:`compare_family` does."""
    return _keys(*_request(features, ids, config, k, repeats, check_fits))


def _keys(heads: Sequence[str], args: BuildArgs) -> list[TimingKey]:
    return [timing_key(head_id, args) for head_id in heads]


def _comparison(features: FeatureResult, heads: Sequence[str], args: BuildArgs, timings: Mapping[TimingKey, HeadTiming],
                shapes: dict[TimingKey, tuple[int, ...]]) -> FamilyComparison:
    x = features.feature.unsqueeze(0).contiguous()
    reports = tuple(_head_report(head_id, features, x, args, timings, shapes) for head_id in heads)
    return FamilyComparison(args.k, args.repeats, features.shape, reports)


def view_name(report: HeadReport) -> str:
    """A head's name in the SPP vs SPPF table: the settings it runs with, in a few words."""
    a = report.args
    if report.id == "sppf":
        return f"SPPF (k={a.k}, x{a.repeats})"
    if report.id == "spp_yolo":
        return f"Parallel SPP ({', '.join(map(str, sppf_effective_kernels(a.k, a.repeats)))})"
    if report.id == "spp":
        rule = "" if a.rule is BinRule.ADAPTIVE else ", paper rule"
        return f"SPP {','.join(map(str, a.levels))} ({a.pool}{rule})"
    return report.name


def with_timings(comparison: FamilyComparison, timings: Mapping[TimingKey, HeadTiming]) -> FamilyComparison:
    """``comparison`` with the timings in ``timings`` filled in (a head not in it keeps its own)."""
    heads = tuple(replace(r, timing=timings.get(r.key, r.timing)) for r in comparison.heads)
    return replace(comparison, heads=heads)


def uses_spp_config(head_id: str) -> bool:
    """Whether the head follows the page's pyramid (levels, pooling, bin rule): only ``spp``.
    The others are measured once per map; this one again when the pyramid changes."""
    return get_spec(head_id).uses_spp_config


def branch_maps(features: FeatureResult, head_id: str, config: PyramidConfig | None = None,
                k: int = SPPF_DEFAULT_K, repeats: int = SPPF_DEFAULT_N) -> tuple[BranchMap, ...]:
    """The head's pooling branches on the REAL map (parameter-free), each averaged over channels."""
    spec = get_spec(head_id)
    args = _args(features, config or PyramidConfig(), k, repeats)
    x = features.feature.unsqueeze(0)
    with torch.inference_mode():
        parts = spec.pool_part(build_head(head_id, args, x.device), x)
    names = spec.pool_names(args)
    return tuple(BranchMap(head_id, name, part[0].float().mean(0).cpu().numpy()) for name, part in zip(names, parts))
