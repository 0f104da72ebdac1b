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

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import Tensor

from .analysis import FeatureResult, HeadConfig, HeadKind, SPPFComparison
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
from .pooling import spp
from .timing import Latency, measure_interleaved, pool_and_total_consistent


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
class HeadReport:
    """One head on the current map. ``pool_ms``/``total_ms`` are medians (NaN when not measured);
    for ``spp`` the module is its pooling, so both are the same measurement."""

    id: str
    name: str
    source: str
    purpose: str
    output_shape: tuple[int, ...]
    fixed_length: bool
    params: int
    flops: int
    pool_ms: float
    total_ms: float
    branches: tuple[BranchReport, ...]
    exact_equal_to: tuple[EqualityCheck, ...]
    untrained: bool  # True when the module has (randomly initialised) conv weights
    pool_latency: Latency | None = field(default=None, repr=False)
    total_latency: Latency | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FamilyComparison:
    """Every chosen head on one ``(C, h, w)`` map, in the order asked for."""

    k: int
    n: int
    feature_shape: tuple[int, int, int]
    heads: tuple[HeadReport, ...]
    measured: bool

    def head(self, head_id: str) -> HeadReport:
        for report in self.heads:
            if report.id == head_id:
                return report
        raise KeyError(head_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(report.id for report in self.heads)

    @property
    def timings_consistent(self) -> bool:
        """No head's medians too noisy to stand, and no pooling slower than its whole module."""
        return all(pool_and_total_consistent(r.pool_ms, r.total_ms, r.pool_latency, r.total_latency) for r in self.heads)


@dataclass(frozen=True)
class BranchMap:
    """A pooling branch on the real map, averaged over channels: ``values`` is ``(rows, cols)``."""

    head: str
    name: str
    values: np.ndarray = field(repr=False)


def _args(features: FeatureResult, config: HeadConfig, k: int, n: int) -> BuildArgs:
    return BuildArgs(features.shape[0], k, n, config.levels, config.pool, config.rule)


def concat_parts(parts: list[Tensor]) -> Tensor:
    """Pooling outputs as one tensor: ``(B, sum C_i, h, w)`` when sizes agree, else flattened."""
    if all(p.shape[-2:] == parts[0].shape[-2:] for p in parts):
        return torch.cat(parts, 1)
    return torch.cat([p.flatten(1) for p in parts], 1)


def pool_output(head_id: str, x: Tensor, args: BuildArgs) -> Tensor:
    """The head's parameter-free pooling part on ``x`` ``(B, C, h, w)``, concatenated."""
    spec = get_spec(head_id)
    with torch.inference_mode():
        return concat_parts(spec.pool_part(build_head(head_id, args, x.device), x))


def _spp_reference(x: Tensor, levels: Sequence[int]) -> Tensor:
    """He et al.'s adaptive AVERAGE SPP (the engine's :func:`spp_viz.pooling.spp`) as a vector."""
    with torch.inference_mode():
        return spp(x, levels, "avg", "adaptive").vector


def _source_sppf(x: Tensor, args: BuildArgs) -> Tensor:
    return pool_output("sppf", x, BuildArgs(args.channels, SOURCE_K, SOURCE_N))


def _claims(args: BuildArgs) -> dict[str, list[tuple[str, str, Callable[[Tensor], Tensor]]]]:
    """Per head: ``(other id, claim, other's pooling output)``; the head's own side is :func:`pool_output`."""
    k, n = args.k, args.n
    widths = ", ".join(str(i * (k - 1) + 1) for i in range(1, n + 1))
    cascade = f"{n} chained {k}x{k} max pools = parallel pools {widths}"
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


def exact_compare(a: Tensor, b: Tensor) -> tuple[bool, float]:
    """``(equal, max |a - b|)``, NaN-aware: NaNs in the same places count as equal (a NaN in
    the map reaches the same windows either way), a NaN on one side only is a difference of inf.
    Elementwise only (no boolean indexing, which copies): this runs on every head's full output."""
    if a.shape != b.shape:
        return False, float("inf")
    nan_a, nan_b = torch.isnan(a), torch.isnan(b)
    if not torch.equal(nan_a, nan_b):
        return False, float("inf")
    same = (a == b) | nan_a  # equal values (inf == inf included), or NaN on both sides
    if bool(same.all()):
        return True, 0.0
    diff = torch.where(same, torch.zeros((), dtype=a.dtype, device=a.device), (a - b).abs())
    return False, float(diff.max())


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


def _pixels(cells: int, rf: int, stride: int) -> int:
    """Input pixels under ``cells`` adjacent cells (0 for a branch with no cells: a paper-rule level on a small map)."""
    return rf + (cells - 1) * stride if cells > 0 else 0


def _branch_reports(shapes: tuple[BranchShape, ...], features: FeatureResult) -> tuple[BranchReport, ...]:
    """Cells -> pixels: ``receptive_field + (cells - 1) * stride`` per axis, or the whole image."""
    _, h, w = features.shape
    width, height = features.input_size
    geometry = features.geometry
    global_context = geometry.global_context  # squeeze-excite: every output sees every pixel
    out = []
    for shape in shapes:
        rows, cols = shape.cells(h, w)
        whole_image = shape.whole_map or global_context
        rf, stride = geometry.receptive_field, geometry.stride
        pixels = (height, width) if whole_image else (_pixels(rows, rf, stride), _pixels(cols, rf, stride))
        out.append(BranchReport(shape.name, shape.kind, (rows, cols), pixels, shape.whole_map, whole_image))
    return tuple(out)


def _timing_fns(ids: Sequence[str], x: Tensor, args: BuildArgs,
                shapes: dict[str, tuple[int, ...]]) -> dict[str, Callable[[], object]]:
    """``{"<id>/pool": ..., "<id>/total": ...}``: each runs under ``inference_mode`` itself.

    The total run records the module's output shape in ``shapes`` (a 44 M-parameter SPPCSPC
    is not run once more just to read its shape).

    The pool-only run takes the real map's first channels, as many as the module's own pools
    see (cv1 halves C in SPPF-like heads), so pool and total time the same pooling work.
    """
    fns: dict[str, Callable[[], object]] = {}
    for head_id in ids:
        spec, module = get_spec(head_id), build_head(head_id, args, x.device)
        pool_x = x[:, :spec.pool_channels(x.shape[1])].contiguous()

        def pool(spec=spec, module=module, pool_x=pool_x) -> object:
            with torch.inference_mode():
                return concat_parts(spec.pool_part(module, pool_x))

        def total(module=module, head_id=head_id) -> object:
            with torch.inference_mode():
                out = module(x)
            shapes[head_id] = tuple(out.shape[1:])
            return out

        fns[f"{head_id}/pool"] = pool
        if trainable_params(module):
            fns[f"{head_id}/total"] = total
    return fns


def _head_report(head_id: str, features: FeatureResult, x: Tensor, args: BuildArgs,
                 latencies: dict[str, Latency], shapes: dict[str, tuple[int, ...]]) -> HeadReport:
    spec, module = get_spec(head_id), build_head(head_id, args, x.device)
    _, h, w = features.shape
    if head_id not in shapes:
        with torch.inference_mode():
            shapes[head_id] = tuple(module(x).shape[1:])
    out_shape = tuple(int(s) for s in shapes[head_id])
    pool = latencies.get(f"{head_id}/pool")
    total = latencies.get(f"{head_id}/total", pool)
    params = trainable_params(module)
    return HeadReport(
        head_id, spec.name, spec.source, spec.purpose, out_shape,
        spec.fixed_length and spp_fixed_length(x, args), params, flop_model(head_id, args).at(h, w),
        pool.median_ms if pool else float("nan"), total.median_ms if total else float("nan"),
        _branch_reports(spec.branches(args), features), check_equalities(head_id, x, args),
        params > 0, pool, total,
    )


def compare_family(features: FeatureResult, ids: Sequence[str] | str, config: HeadConfig | None = None,
                   k: int = SPPF_DEFAULT_K, n: int = SPPF_DEFAULT_N, measure: bool = True,
                   measured: Mapping[str, Latency] | None = None) -> FamilyComparison:
    """Every head in ``ids`` (a sequence, or ``"all"`` / ``"sppf,ppm"``) on ``features``' map.

    Raises ``ValueError`` (one sentence) for an unknown id, a bad k or n, or SPPF windows
    wider than the map allows. ``measure=False`` skips the latencies (NaN), e.g. for tests.
    ``measured`` holds latencies already taken on this map (``"<id>/pool"``, ``"<id>/total"``):
    those heads are not timed again (the app's ``spp`` row is the SPP cost row's measurement).
    """
    heads = parse_heads(ids if isinstance(ids, str) else ",".join(ids))
    c, h, w = features.shape
    check_sppf_fits(k, n, h, w)
    config = config or HeadConfig()
    args = _args(features, config, k, n)
    x = features.feature.unsqueeze(0).contiguous()
    shapes: dict[str, tuple[int, ...]] = {}
    latencies = dict(measured or {})
    to_time = [head_id for head_id in heads if f"{head_id}/pool" not in latencies]
    if measure and to_time:
        latencies.update(measure_interleaved(_timing_fns(to_time, x, args, shapes), device=x.device))
    reports = tuple(_head_report(head_id, features, x, args, latencies, shapes) for head_id in heads)
    return FamilyComparison(k, n, (c, h, w), reports, measure or bool(latencies))


def measure_family(features: FeatureResult, ids: Sequence[str], config: HeadConfig | None = None,
                   k: int = SPPF_DEFAULT_K, n: int = SPPF_DEFAULT_N) -> dict[str, Latency]:
    """``{"<id>/pool": ..., "<id>/total": ...}`` for ``ids``, all interleaved in one
    :func:`measure_interleaved` call on the map's device (call it where nothing else competes)."""
    if not ids:
        return {}
    x = features.feature.unsqueeze(0).contiguous()
    args = _args(features, config or HeadConfig(), k, n)
    return measure_interleaved(_timing_fns(ids, x, args, {}), device=x.device)


def with_latencies(comparison: FamilyComparison, latencies: Mapping[str, Latency]) -> FamilyComparison:
    """``comparison`` with the medians in ``latencies`` filled in (a head not in it keeps its own);
    a head without parameters is its pooling, so its total is its pool-only latency."""
    heads = []
    for r in comparison.heads:
        pool = latencies.get(f"{r.id}/pool", r.pool_latency)
        total = latencies.get(f"{r.id}/total", r.total_latency if r.params else pool)
        heads.append(replace(r, pool_ms=pool.median_ms if pool else math.nan, total_ms=total.median_ms if total else math.nan,
                             pool_latency=pool, total_latency=total))
    return replace(comparison, heads=tuple(heads), measured=all(h.pool_latency is not None for h in heads))


def uses_spp_config(head_id: str) -> bool:
    """Whether the head follows the page's pyramid (levels, pooling, bin rule): only ``spp``.
    The others are measured once per map; this one again when the pyramid changes."""
    return get_spec(head_id).uses_spp_config


def latencies_from_sppf(sppf: SPPFComparison, k: int, n: int) -> dict[str, Latency]:
    """The SPPF comparison's measurements as family latencies, so one thing is timed once:
    ``sppf`` and ``spp_yolo`` ARE its SPPF and YOLOv5 SPP modules (same convs, same pools, same
    map), at the comparison's own k and n = 3 only (another k or n is another module); ``spp`` IS
    its SPP row (the current pyramid), whatever k and n."""
    same_modules = k == sppf.k and n == len(sppf.kernels)
    ids = {HeadKind.SPPF: "sppf", HeadKind.PARALLEL_SPP: "spp_yolo", HeadKind.SPP: "spp"}
    out: dict[str, Latency] = {}
    for cost in sppf.costs:
        if cost.pool_latency is None or cost.total_latency is None or (cost.kind is not HeadKind.SPP and not same_modules):
            continue
        out[f"{ids[cost.kind]}/pool"] = cost.pool_latency
        out[f"{ids[cost.kind]}/total"] = cost.total_latency
    return out


def merge_comparisons(ids: Sequence[str], parts: Sequence[FamilyComparison]) -> FamilyComparison:
    """One comparison from parts measured separately on the same map, heads in the order ``ids``."""
    if not parts:
        raise ValueError("merge_comparisons needs at least one part")
    by_id = {report.id: report for part in parts for report in part.heads}
    first = parts[0]
    return FamilyComparison(first.k, first.n, first.feature_shape, tuple(by_id[i] for i in ids),
                            all(part.measured for part in parts))


def branch_maps(features: FeatureResult, head_id: str, config: HeadConfig | None = None,
                k: int = SPPF_DEFAULT_K, n: int = SPPF_DEFAULT_N) -> tuple[BranchMap, ...]:
    """The head's pooling branches on the REAL map (parameter-free), each averaged over channels."""
    spec = get_spec(head_id)
    args = _args(features, config or HeadConfig(), k, n)
    x = features.feature.unsqueeze(0)
    with torch.inference_mode():
        parts = spec.pool_part(build_head(head_id, args, x.device), x)
    names = spec.pool_names(args)
    return tuple(BranchMap(head_id, name, part[0].float().mean(0).cpu().numpy()) for name, part in zip(names, parts))


def _finite(value: float) -> float | None:
    """Strict JSON: a non-finite float (not measured, NaN in the map) becomes ``null``."""
    return round(value, 4) if np.isfinite(value) else None


def heads_json(comparison: FamilyComparison) -> list[dict]:
    """The report's ``heads`` list: one JSON-ready dict per head, in the order asked for."""
    return [
        {
            "id": r.id, "name": r.name, "source": r.source, "purpose": r.purpose,
            "output_shape": list(r.output_shape), "fixed_length": r.fixed_length,
            "params": r.params, "flops": r.flops, "pool_ms": _finite(r.pool_ms), "total_ms": _finite(r.total_ms),
            "untrained": r.untrained, "sppf_k": comparison.k, "sppf_n": comparison.n,
            "device": r.pool_latency.device if r.pool_latency else None,
            "branches": [{"name": b.name, "kind": b.kind.value, "rf_cells": list(b.rf_cells),
                          "rf_pixels": list(b.rf_pixels), "whole_map": b.whole_map, "whole_image": b.whole_image}
                         for b in r.branches],
            "exact_equal_to": [{"id": e.other, "max_abs_diff": _finite(e.max_abs_diff), "equal": e.equal,
                                "claim": e.claim} for e in r.exact_equal_to],
        }
        for r in comparison.heads
    ]
