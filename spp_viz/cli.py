"""``spp-viz``: the engine from a terminal. Defaults are the app's defaults.

Any bad file or option exits with code 2 and exactly one ``error: ...`` line on stderr, and
nothing else is written to stdout or stderr (a library's warning, torch.hub's "Downloading"
line and C libraries' messages are silenced at the file-descriptor level while the command
runs; the output or the error line is printed afterwards).
Every option is checked by :mod:`spp_viz.options`, and the image's header by
:func:`spp_viz.images.check_header`, before torch is imported: a typo or a file that is not an
image we read is refused at once. Then the model loads on its device and the image is decoded
once, within that device's working limit (:func:`spp_viz.devices.working_limit`).

Adding an option or a subcommand:

* an option of the analysis: add it in :func:`add_analysis_options` (every analysing
  subcommand gets it) or, for one subcommand, in :func:`_parser` next to that subparser;
  give it ``type=argparse_type(options.parse_x)`` so a bad value is refused before torch;
* a check that involves two options: add it to :func:`validate`;
* a subcommand: ``add_analysis_options(sub.add_parser("erf", ...))`` in :func:`_parser`, and a
  handler ``(args) -> str`` (what to print) in ``COMMANDS``; handlers call :func:`prepare`
  for the checked file and device, then :func:`load_inputs` for the model and the decoded image.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .choices import BinRule, Pool, Weights
from .defaults import DEFAULT_BACKBONE, DEFAULT_LEVELS, DEFAULT_TOP_K, DETECTOR_BACKBONE
from .images import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, DecodedImage, check_header, load_image
from .options import (
    argparse_type,
    check_backbone,
    check_bin,
    check_stage,
    parse_device,
    parse_levels,
    parse_max_pixels,
    parse_max_side,
    parse_top_k,
)

if TYPE_CHECKING:
    from .backbones import Backbone
    from .report import Inspection

MAX_FILE_BYTES = 200 * 1024 * 1024


class CliError(Exception):
    """A problem the user can fix; ``str(e)`` is one sentence."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # argparse would print usage plus a message
        raise CliError(message)


def add_analysis_options(parser: argparse.ArgumentParser) -> None:
    """The image and every option of one analysis (``inspect`` and the subcommands built on it)."""
    parser.add_argument("image", type=Path)
    parser.add_argument("--backbone", default=None, type=argparse_type(check_backbone),
                        help=f"see `spp-viz backbones` (default: {DEFAULT_BACKBONE}, or {DETECTOR_BACKBONE} for a YOLO "
                             "detector's --checkpoint)")
    parser.add_argument("--stage", default=None,
                        help="stage to pool (default: the one the classifier reads; yolo: p3, p4, p5 (default) or sppf)")
    parser.add_argument("--weights", default=Weights.PRETRAINED.value, choices=Weights.values())
    parser.add_argument("--levels", default=",".join(map(str, DEFAULT_LEVELS)), type=argparse_type(parse_levels),
                        help="comma-separated pyramid levels, or a preset: spp-net, psp")
    parser.add_argument("--pool", default=Pool.MAX.value, choices=Pool.values())
    parser.add_argument("--bins", default=BinRule.ADAPTIVE.value, choices=BinRule.values())
    parser.add_argument("--max-side", type=argparse_type(parse_max_side), default=DEFAULT_MAX_SIDE,
                        help="working resolution's longer side (0 = native)")
    parser.add_argument("--max-pixels", type=argparse_type(parse_max_pixels), default=DEFAULT_MAX_PIXELS,
                        help="refuse images with more pixels than this (at most the default, %(default)s)")
    parser.add_argument("--top-k", type=argparse_type(parse_top_k), default=DEFAULT_TOP_K)
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="a .pt/.pth state_dict for the chosen architecture, or a YOLOv5/YOLOv8/YOLO11 detector "
                             "checkpoint (recognised by its content: backbone yolo)")
    parser.add_argument("--offline", action="store_true", help="never download weights")
    parser.add_argument("--device", default=None, type=argparse_type(parse_device),
                        help="cpu, cuda or cuda:N (default: cuda:0 when PyTorch can use a GPU, else cpu)")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spp-viz", description="See what spatial pyramid pooling does inside a pretrained CNN.")
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="analyse one image",
                             description="Analyse one image: feature map, SPP levels, SPPF, predictions.")
    add_analysis_options(inspect)
    add_family_options(inspect)
    add_view_options(inspect, sub)
    sub.add_parser("backbones", help="list backbones, stages and offline weights")
    return parser


def add_family_options(parser: argparse.ArgumentParser) -> None:
    """``--heads``, ``--sppf-k``, ``--sppf-n``: the pyramid-pooling family on the map."""
    from .defaults import SPPF_DEFAULT_K, SPPF_DEFAULT_N
    from .head_ids import head_ids
    from .options import parse_heads, parse_sppf_k, parse_sppf_n

    parser.add_argument("--heads", type=argparse_type(parse_heads), default=None,
                        help=f"compare pyramid-pooling heads on the map: all, or ids from {', '.join(head_ids())}")
    parser.add_argument("--sppf-k", type=argparse_type(parse_sppf_k), default=SPPF_DEFAULT_K,
                        help="SPPF pool size, odd (default: %(default)s)")
    parser.add_argument("--sppf-n", type=argparse_type(parse_sppf_n), default=SPPF_DEFAULT_N,
                        help="SPPF chained pools (default: %(default)s)")


def _heads_table(heads: list[dict[str, Any]]) -> list[str]:
    """The report's ``heads`` as a table: one row per head, then its branches and exact equalities."""
    lines = [f"heads        {'id':<15} {'output':<16} {'fixed':<5} {'params':>12} {'GFLOPs':>8} {'pool ms':>9}{'':11} {'total ms':>9}"]
    for h in heads:
        ms = [f"{h[f'{part}_ms']:9.2f}{_spread(h, part):<11}" if h[f"{part}_ms"] is not None else f"{'-':>9}{'':11}"
              for part in ("pool", "total")]
        lines.append(f"             {h['id']:<15} {' x '.join(map(str, h['output_shape'])):<16} {str(h['fixed_length']).lower():<5} "
                     f"{h['params']:>12,} {h['flops'] / 1e9:>8.3f} {ms[0]} {ms[1]}  {h['weights']}")
        rfs = ", ".join(f"{b['name']} {b['rf_cells'][0]}x{b['rf_cells'][1]} cells / {b['rf_pixels'][0]}x{b['rf_pixels'][1]} px"
                        for b in h["branches"])
        lines.append(f"               branches: {rfs}")
        for e in h["exact_equal_to"]:
            lines.append(f"               {'==' if e['equal'] else '!='} {e['id']}: {e['claim']} (max |diff| {e['max_abs_diff']})")
    return lines


def validate(args: argparse.Namespace) -> None:
    """Checks that involve more than one option, torch-free; fills in defaults that depend on others."""
    if hasattr(args, "backbone"):
        args.backbone = args.backbone or _default_backbone(args.checkpoint)
        if args.backbone == DETECTOR_BACKBONE and args.checkpoint is None:
            raise CliError(f"--backbone {DETECTOR_BACKBONE} reads your detector checkpoint: add --checkpoint FILE "
                           "(a YOLOv5, YOLOv8 or YOLO11 .pt file).")
        args.stage = check_stage(args.backbone, args.stage)
    if getattr(args, "bin", None) is not None:
        check_bin(args.level, *args.bin)


def _default_backbone(checkpoint: Path | None) -> str:
    """``yolo`` for a YOLO detector's checkpoint (recognised by the names its pickle uses, read
    without torch), else the default backbone."""
    from .detectors import checkpoint_layout

    return DETECTOR_BACKBONE if checkpoint is not None and checkpoint_layout(checkpoint) else DEFAULT_BACKBONE


@dataclass(frozen=True)
class Prepared:
    """What every analysing subcommand starts from: the image file's bytes (its header checked)
    and the checkpoint's. The image is decoded once, by :func:`load_inputs` or ``run_inspection``,
    once the model is on its device: the working-size limit is that device's."""

    data: bytes
    checkpoint: bytes | None
    checkpoint_name: str


def prepare(args: argparse.Namespace) -> Prepared:
    """Read the image and the checkpoint, check the image's header, then (torch from here on) the device."""
    data = _read(args.image, "Image")
    checkpoint = _read(args.checkpoint, "Checkpoint") if args.checkpoint else None
    check_header(data, max_pixels=args.max_pixels, filename=args.image.name)
    check_device_available(args.device)
    return Prepared(data, checkpoint, args.checkpoint.name if args.checkpoint else "checkpoint")


def load_inputs(args: argparse.Namespace, prepared: Prepared) -> tuple[Backbone, DecodedImage]:
    """The model on its device (``--device``, else :func:`spp_viz.devices.default_device`), then
    the image decoded once within that device's working limit."""
    from .backbones import load_backbone
    from .devices import working_limit

    backbone = load_backbone(args.backbone, args.stage, args.weights, prepared.checkpoint, prepared.checkpoint_name,
                             download=not args.offline, device=args.device)
    decoded = load_image(prepared.data, max_side=args.max_side, max_pixels=args.max_pixels, filename=args.image.name,
                         limit=working_limit(backbone))
    return backbone, decoded


def check_device_available(device: str | None) -> None:
    """A CUDA device that this machine does not have is one plain sentence, not a driver error."""
    if device is None or device == "cpu":
        return
    import torch

    from .devices import cuda_available

    if not cuda_available():
        raise CliError(f"--device {device} needs an NVIDIA GPU that PyTorch can use, and this machine has none "
                       "(or no working CUDA driver); use --device cpu, or leave --device out to use the CPU.")
    index = int(device.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise CliError(f"--device {device} asks for GPU {index}, but PyTorch sees {count} CUDA device(s): "
                       f"use cuda:0 to cuda:{count - 1}, or cpu.")


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CliError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MB.")
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{what} {path} does not exist.") from None
    except IsADirectoryError:
        raise CliError(f"{what} {path} is a folder, not a file.") from None
    except PermissionError:
        raise CliError(f"{what} {path} cannot be read (permission denied).") from None


def _write(path: Path, data: bytes) -> None:
    """An output file (``--npy``), or one sentence saying why it cannot be written."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise CliError(f"Cannot write {path}: {exc.strerror or exc}.") from None


def _text_report(result: Inspection) -> str:
    return report_text(result.report())


def report_text(r: dict[str, Any]) -> str:
    """The ``inspect`` report for a reader: the dict of ``spp-viz inspect --json``, one fact a line."""
    lines = _header_lines(r) + _spp_lines(r["spp"]) + _sppf_lines(r["sppf"]) + _result_lines(r)
    if r["heads"]:
        lines += _heads_table(r["heads"])
    if r.get("region"):
        lines += _region_lines(r["region"], r)
    lines += [f"warning      {w}" for w in r["warnings"]]
    return "\n".join(lines)


def _ms(value: float | None, digits: int = 0) -> str:
    """A JSON timing in ms; ``null`` (not measured, or not finite) as ``-``."""
    return "-" if value is None else f"{value:.{digits}f} ms"


def _spread(row: dict[str, Any], part: str) -> str:
    """``± 4%`` of a JSON median (its interquartile range as a share of it), ``noisy`` when it stayed wide."""
    median, iqr = row.get(f"{part}_ms"), row.get(f"{part}_iqr_ms")
    if not median or iqr is None:
        return ""
    return f" ± {100 * iqr / median:.0f}%" + (" noisy" if row.get(f"{part}_noisy") else "")


def _predictions_text(predictions: list[dict[str, Any]]) -> str:
    return ", ".join(f"{p['label']} {p['probability']:.1%}" for p in predictions) or "none"


def _header_lines(r: dict[str, Any]) -> list[str]:
    b = r["backbone"]
    lines = [
        f"image        {r['image']['width']} x {r['image']['height']} {r['image']['format']}"
        + (f"  ({'; '.join(r['image']['notes'])})" if r["image"]["notes"] else ""),
        f"input        {r['input']['width']} x {r['input']['height']}",
        f"backbone     {b['name']} / {b['stage']}  weights: {b['weights']}"
        f"  stride {b['stride']}  receptive field {b['receptive_field']} px  on {b['device']}",
    ]
    if "family" in b:  # a YOLO detector checkpoint
        lines.append(f"  detector   {b['checkpoint']}: {b['family']}{b.get('scale', '')} {b['task']}, saved by {b['saved_by']}; "
                     f"SPPF cv1 activation {b['sppf_cv1_activation']}")
        lines.append(f"  trained    {b['trained_sppf']['note']}")
    if r["spp"]["global_context"]:
        lines.append("  context    squeeze-excite on the path: every feature cell depends on the whole image")
    lines.append(f"feature map  {r['feature_map']['channels']} x {r['feature_map']['height']} x {r['feature_map']['width']}")
    return lines


def _spp_lines(spp: dict[str, Any]) -> list[str]:
    lines = [f"SPP          {spp['pool']} pooling, {spp['bins']} bins"]
    for level in spp["levels"]:
        flag = "" if level["valid"] else f"   <- {level['problem']}"
        lines.append(f"  level {level['n']:>2}  {level['arithmetic']}{flag}")
    lines.append(f"  total     {spp['length']:,}" + (f"  = {spp['arithmetic']}" if spp["fixed_length"] else f"  (a correct pyramid gives {spp['arithmetic']})"))
    return lines


def _sppf_lines(s: dict[str, Any]) -> list[str]:
    from .dimensions import SPPFStage
    from .figures.text import sppf_stage

    lines = [f"SPPF         k={s['k']} x{len(s['kernels'])}, {sppf_stage(SPPFStage.POOLS, len(s['kernels']))}: "
             f"{' x '.join(map(str, s['shape']))}; equals parallel SPP({','.join(map(str, s['kernels']))}): "
             f"{s['matches_parallel_spp']} (max |diff| {s['max_abs_diff']:g})"]
    lines.append("  receptive  " + "; ".join(f"{f['branch']}: {f['cells']} x {f['cells']} cells, {f['pixels']} px" for f in s["receptive_fields"]))
    for cost in s["costs"]:
        lines.append(f"  {cost['name']:<26} pool {_ms(cost['pool_ms'], 3):>11}{_spread(cost, 'pool'):<11}  "
                     f"total {_ms(cost['total_ms'], 3):>11}{_spread(cost, 'total'):<11}  output {' x '.join(map(str, cost['output_shape']))}  "
                     f"{cost['params']:,} params ({cost['weights']})")
    if s["costs"] and s["costs"][0].get("threads"):
        lines.append(f"  timed      on {s['costs'][0]['device']} with {s['costs'][0]['threads']} threads, in the timing worker "
                     "(± is the interquartile range as a share of the median)")
    return lines


def _result_lines(r: dict[str, Any]) -> list[str]:
    """Predictions (or why there are none), the timings and where each was measured."""
    lines = [f"predictions  {_predictions_text(r['predictions'])}" if r["predictions"] else f"predictions  none: {r['predictions_note']}"]
    lines.append("timings      " + ", ".join(f"{k} {_ms(v)}" for k, v in r["timings_ms"].items()))
    by_device: dict[str, list[str]] = {}
    for key in r["timings_ms"]:
        by_device.setdefault(r["timings_device"].get(key) or "unknown device", []).append(key)
    if len(by_device) == 1:
        lines.append(f"  on         {next(iter(by_device))} (every timing)")
    else:
        lines.append("  on         " + "; ".join(f"{device}: {', '.join(keys)}" for device, keys in by_device.items()))
    return lines


def _region_lines(g: dict[str, Any], r: dict[str, Any]) -> list[str]:
    """``inspect --region``: the box, its feature cells, its pooled length and the crop-and-rerun beside it."""
    r0, r1, c0, c1 = g["window"]
    whole = r["spp"]["length"]
    same_length = f"same as the whole image's {whole:,} (SPP's fixed length)" if g["length"] == whole else f"NOT the whole image's {whole:,}"
    top = [p[0]["label"] if p else None for p in (g["predictions"], g["recompute_predictions"])]
    return [
        f"region       box {','.join(f'{v:g}' for v in g['box'])} px (x0,y0,x1,y1 in the {r['input']['width']} x {r['input']['height']} input)",
        f"  cells      rows [{r0}, {r1}) x cols [{c0}, {c1}) of the {r['feature_map']['height']} x {r['feature_map']['width']} map: "
        f"{r1 - r0} x {c1 - c0} cells",
        f"  length     {g['length']:,}, {same_length}" + ("" if g["valid"] else " (a level has fewer than n x n bins on this window)"),
        f"  from map   {_predictions_text(g['predictions'])}",
        f"  crop+rerun {_predictions_text(g['recompute_predictions'])}",
        "  top-1      " + ("none to compare" if None in top else f"same: {top[0]}" if top[0] == top[1] else f"differ: {top[0]} vs {top[1]}"),
        f"  pooling    {_ms(g['pooled_ms'], 3)}{_spread(g, 'pooled')} on {g['pooled_device'] or '-'} (median of repeated runs)",
        f"  rerun      {_single_run_text(g['recompute'])}",
    ]


def _single_run_text(run: dict[str, Any] | None) -> str:
    """A ``timing.SingleRun`` of the JSON: its time, device and, for one run, the load average then."""
    if not run:
        return "not run"
    return f"{_ms(run['ms'], 1)} on {run['device']}" + (f" (single run, load average {run['load_average']:.2f})" if run["single_run"] else "")


def _backbones_text() -> str:
    from .backbones import checkpoint_dir, describe_backbones

    rows = [f"weights folder for torchvision backbones: {checkpoint_dir()}"]
    for b in describe_backbones():
        weights = f"weights: {b['weights']:<11} ({b['weights_file']})" if b["weights_file"] else f"({b['weights']})"
        rows.append(f"{b['name']:<20} {weights}  stages: {', '.join(b['stages'])}  default: {b['default_stage']}")
    return "\n".join(rows)


def _inspect(args: argparse.Namespace) -> str:
    prepared = prepare(args)
    from .report import run_inspection  # torch: only for an image worth analysing

    result = run_inspection(
        prepared.data, filename=args.image.name, backbone=args.backbone, stage=args.stage, weights=args.weights,
        checkpoint=prepared.checkpoint, checkpoint_name=prepared.checkpoint_name,
        levels=args.levels, pool=args.pool, rule=args.bins, max_side=args.max_side, max_pixels=args.max_pixels,
        top_k=args.top_k, download=not args.offline, device=args.device,
        heads=",".join(args.heads) if args.heads else None, sppf_k=args.sppf_k, sppf_n=args.sppf_n,
    )
    if args.region is not None:  # pool a box from the shared map, and crop-and-rerun it
        from .regions import pool_region

        result.region = pool_region(result.backbone, result.decoded.image, result.features, args.region,
                                    result.pyramid.config, args.top_k)
    if args.npy is not None:
        from .figures.exports import vector_npy_bytes

        _write(args.npy, vector_npy_bytes(result.pyramid.vector))
    return json.dumps(result.report()) if args.json else _text_report(result)


# --- views: `erf`, `scales` and `inspect --region`


def add_view_options(inspect: argparse.ArgumentParser, sub: argparse._SubParsersAction[Any]) -> None:
    """``inspect --region``, and the ``erf`` and ``scales`` subcommands (each with inspect's options)."""
    from .options import parse_bin, parse_level, parse_region, parse_sizes

    inspect.add_argument("--region", type=argparse_type(parse_region), default=None, metavar="X0,Y0,X1,Y1",
                         help="pool this box (working-image pixels) from the shared map and compare with crop-and-rerun")
    inspect.add_argument("--npy", type=Path, default=None, metavar="OUT",
                         help="save the SPP vector here as float32 (NumPy .npy; the page's \"SPP vector (.npy)\" download)")
    erf = sub.add_parser("erf", help="effective receptive field of one bin",
                         description="Gradient of one bin's pooled value w.r.t. the input pixels (one backward pass).")
    add_analysis_options(erf)
    erf.add_argument("--level", type=argparse_type(parse_level), required=True, help="pyramid level n (n x n bins)")
    erf.add_argument("--bin", type=argparse_type(parse_bin), required=True, metavar="R,C", help="row,column of the bin")
    erf.add_argument("--npy", type=Path, default=None, help="save the H x W map here (NumPy .npy)")
    scales = sub.add_parser("scales", help="the same image at several working sizes",
                            description="SPP length, SPPF's pools alone (4C), cosine to the first size and top-1 per working size.")
    add_analysis_options(scales)
    scales.add_argument("--sizes", type=argparse_type(parse_sizes), default=None, metavar="224,448,896",
                        help="long sides to run (default: 224,320,448,640,896; the current --max-side is added)")


def _erf(args: argparse.Namespace) -> str:
    prepared = prepare(args)
    from .analysis import PyramidConfig
    from .erf import bin_erf

    backbone, decoded = load_inputs(args, prepared)
    row, col = args.bin
    result = bin_erf(backbone, decoded.image, args.level, row, col, PyramidConfig(args.levels, args.pool, args.bins))
    if args.npy is not None:
        import numpy as np

        try:
            with open(args.npy, "wb") as fh:
                np.save(fh, result.map)
        except OSError as exc:
            raise CliError(f"Cannot write {args.npy}: {exc.strerror or exc}.") from None
    erf = result.as_json()
    if args.json:
        return json.dumps({"erf": erf}, allow_nan=False)
    return "\n".join(f"{key:<15} {value}" for key, value in erf.items())


def _scales(args: argparse.Namespace) -> str:
    from .images import working_size
    from .scales import DEFAULT_SCALE_SIZES, decode_side, scale_sizes

    requested, current_side = tuple(args.sizes or DEFAULT_SCALE_SIZES), args.max_side
    args.max_side = decode_side(requested, current_side)  # decode once, at the largest size; each size is a resize
    backbone, decoded = load_inputs(args, prepare(args))
    # the current size is the image's own working size (a photo smaller than --max-side keeps its size)
    sizes = scale_sizes(requested, max(working_size(*decoded.original_size, max_side=current_side)))
    from .analysis import PyramidConfig
    from .dimensions import SPPFStage
    from .figures.text import sppf_stage
    from .report import strict_json
    from .scales import measure_scales

    rows = measure_scales(backbone, decoded.image, sizes, PyramidConfig(args.levels, args.pool, args.bins))
    pools = sppf_stage(SPPFStage.POOLS)
    if args.json:
        return json.dumps(strict_json({"scales": [row.as_json() for row in rows]}), allow_nan=False)
    return "\n".join(
        f"{row.size[0]:>5} x {row.size[1]:<5} map {' x '.join(map(str, row.feature_map)):<14} SPP {row.spp_length:>7,}  "
        f"{pools} {row.sppf_numbers:>10,}  cos {row.cosine_to_first:.4f}  "
        + (f"{row.predictions[0].label} {row.predictions[0].probability:.1%}  " if row.predictions else "")
        + f"{row.forward_ms:.0f} ms (one run)" + ("  upscaled" if row.upscaled else "") for row in rows)


# subcommand -> handler: returns what to print on stdout
COMMANDS: dict[str, Callable[[argparse.Namespace], str]] = {
    "inspect": _inspect,
    "backbones": lambda args: _backbones_text(),
    "erf": _erf,
    "scales": _scales,
}


def run(argv: list[str] | None = None) -> str:
    """Parse, validate (torch-free), run one subcommand; returns its output or raises."""
    args = _parser().parse_args(argv)
    validate(args)
    return COMMANDS[args.command](args)


def main(argv: list[str] | None = None) -> int:
    """The ``spp-viz`` entry point: the output on stdout, or one ``error:`` line on stderr (exit 2)."""
    try:  # parsed before the streams go quiet, so --help reaches the terminal
        args = _parser().parse_args(argv)
        validate(args)
    except (CliError, ValueError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr, flush=True)
        return 2
    with _quiet_std_streams():
        try:
            output = COMMANDS[args.command](args)
        except (CliError, ValueError) as exc:  # ImageDecodeError and BackboneError are ValueErrors
            message = _one_line(exc)
        except MemoryError:
            message = "out of memory while analysing this image; try a smaller --max-side."
        except KeyboardInterrupt:
            message = "interrupted."
        except Exception as exc:  # never a traceback in front of a user
            message = f"unexpected {type(exc).__name__}: {_one_line(exc)}"
        else:
            message = ""
    if not message:
        try:
            print(output, flush=True)
        except BrokenPipeError:  # `spp-viz ... | head`: the reader left; not an error of ours
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 130 if message == "interrupted." else 2


@contextlib.contextmanager
def _quiet_std_streams() -> Iterator[None]:
    """While a command runs, fds 1 and 2 go to /dev/null: Python warnings, torch's logging,
    torchvision's ``Downloading: ...`` line (torch.hub writes it to STDOUT, which would break
    ``--json``) and C libraries cannot add lines to what the user reads.

    The real streams are back after the block, for the output or the one error line. Python's
    buffers are flushed into /dev/null first, so nothing written during the block leaks out
    later. The CLI owns its process and runs one thread, so a process-wide redirect is safe
    here (the app never does this; see ``images`` for how decoding stays quiet there).
    """
    warnings.filterwarnings("ignore")
    streams = ((1, sys.stdout), (2, sys.stderr))
    saved: list[int] = []
    for fd, stream in streams:
        stream.flush()
        saved.append(os.dup(fd))
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    try:
        yield
    finally:
        for (fd, stream), original in zip(streams, saved):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
            os.dup2(original, fd)
            os.close(original)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
