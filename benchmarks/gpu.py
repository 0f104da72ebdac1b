"""Area 13: the GPU check anyone with a CUDA device can run (``python -m benchmarks --only gpu``).

1. ``inspect`` on CUDA against the CPU: every number of the JSON (timings aside) within 1e-3.
2. The JSON's CUDA timings against an independent CUDA-event timing: for SPPF, YOLOv5's SPP
   and every family head, pool-only and total, each timed here alone (CUDA events around 50
   calls after 5 warm-ups, median of 15 blocks); the ratio must be within 1/1.3 .. 1.3, and the
   JSON must say ``cuda``.
3. The forward at 1024 px and at the photo's native 12 MP, timed the same way.

On a machine without CUDA it reports one row saying so (CI never has a GPU).
"""

from __future__ import annotations

import statistics
from typing import Callable

from .common import Row, Workspace, skipped

AREA = "13 gpu"
RATIO_LIMIT = 1.3
TOLERANCE = 1e-3


def run(ws: Workspace, quick: bool) -> list[Row]:
    import torch

    if not torch.cuda.is_available():
        return [skipped(AREA, "CUDA vs CPU, CUDA-event timings, forwards", "no CUDA device on this machine")]
    photo = ws.photo().read_bytes()
    rows = [_agreement(photo)]
    rows += _timings(photo, quick)
    rows += _forwards(photo)
    return rows


def cuda_event_ms(fn: Callable[[], object], calls: int = 50, blocks: int = 15, warmup: int = 5) -> float:
    """Median ms per call of ``fn``, each block of ``calls`` between two CUDA events (read after a synchronize)."""
    import torch

    for _ in range(warmup):
        fn()
    per_call = []
    for _ in range(blocks):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        torch.cuda.synchronize()
        per_call.append(start.elapsed_time(end) / calls)
    return statistics.median(per_call)


def _agreement(photo: bytes) -> Row:
    from spp_viz.devtools.numbers import report_numbers
    from spp_viz.report import run_inspection

    gpu = run_inspection(photo, device="cuda", heads="all").report()
    cpu = run_inspection(photo, device="cpu", heads="all").report()
    a, b = report_numbers(gpu), report_numbers(cpu)
    worst = max((abs(x - y) / max(1.0, abs(y)) for x, y in zip(a, b)), default=0.0)
    ok = len(a) == len(b) and worst <= TOLERANCE
    return Row(AREA, f"inspect --json on CUDA vs CPU ({len(a)} numbers, timings aside)", f"worst relative diff {worst:.1e}",
               f"<= {TOLERANCE:g}", ok, worst, {"numbers": len(a), "cpu_numbers": len(b), "device": gpu["backbone"]["device"]})


def _timings(photo: bytes, quick: bool) -> list[Row]:
    """Each head's JSON latency against the same head timed here with CUDA events alone."""
    import torch

    from spp_viz import family as pyramid_family
    from spp_viz.heads.registry import BuildArgs, build_head, get_spec
    from spp_viz.report import run_inspection

    result = run_inspection(photo, device="cuda", heads="all")
    report = result.report()
    x = result.features.feature.unsqueeze(0).contiguous()
    rows = []
    # the SPPF comparison's costs ARE the family's sppf, spp_yolo and spp rows (one timing per head)
    with torch.inference_mode():
        args = BuildArgs(x.shape[1], 5, 3, result.pyramid.config.levels, result.pyramid.config.pool, result.pyramid.config.rule)
        for head in report["heads"] if not quick else report["heads"][:4]:
            spec, module = get_spec(head["id"]), build_head(head["id"], args, x.device)
            pool_x = x[:, :spec.pool_channels(x.shape[1])].contiguous()
            fns = (lambda spec=spec, module=module, pool_x=pool_x: pyramid_family.concat_parts(spec.pool_part(module, pool_x)),
                   lambda module=module: module(x))
            rows += _ratio_rows(f"family: {head['id']}", head, fns)
    return rows


def _ratio_rows(name: str, entry: dict, fns: tuple[Callable[[], object], Callable[[], object]]) -> list[Row]:
    rows = []
    for part, fn in zip(("pool", "total"), fns):
        shown = entry.get(f"{part}_ms")
        if shown is None:
            continue
        alone = cuda_event_ms(fn)
        ratio = shown / alone if alone > 0 else float("inf")
        ok = entry.get("device", "").startswith("cuda") and 1 / RATIO_LIMIT <= ratio <= RATIO_LIMIT
        rows.append(Row(AREA, f"{name} {part} ms: JSON vs CUDA events alone",
                        f"{shown:.4f} vs {alone:.4f} ms (x{ratio:.2f}, {entry.get('device')})", f"x{RATIO_LIMIT} either way",
                        ok, ratio))
    return rows


def _forwards(photo: bytes) -> list[Row]:
    import torch

    from spp_viz.backbones import load_backbone
    from spp_viz.images import WorkingLimit, load_image

    backbone = load_backbone(device="cuda")
    rows = []
    for label, side in (("1024 px", 1024), ("native 12 MP", 0)):
        decoded = load_image(photo, max_side=side, limit=WorkingLimit(100_000_000, "the GPU check"))
        ms = _forward_ms(backbone, backbone.preprocess(decoded.image))
        w, h = decoded.working_size
        rows.append(Row(AREA, f"EfficientNet-Lite0 forward at {label} ({w} x {h}) on {torch.cuda.get_device_name()}",
                        f"{ms:.2f} ms", "-", None, ms))
    return rows


def _forward_ms(backbone, x) -> float:
    import torch

    with torch.inference_mode():
        return cuda_event_ms(lambda: backbone.features(x), calls=5, blocks=7, warmup=2)
