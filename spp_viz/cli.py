"""``spp-viz``: the engine from a terminal. Defaults are the app's defaults.

Any bad file or option exits with code 2 and exactly one ``error: ...`` line on stderr.
torch is imported only once the image has decoded: a bad file is refused at once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from .defaults import BIN_RULES, DEFAULT_BACKBONE, DEFAULT_LEVELS, DEFAULT_TOP_K, POOL_TYPES, WEIGHT_CHOICES
from .images import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, load_image

if TYPE_CHECKING:
    from .report import Inspection

MAX_FILE_BYTES = 200 * 1024 * 1024


class CliError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage plus a message
        raise CliError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spp-viz", description="See what spatial pyramid pooling does inside a pretrained CNN.")
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="analyse one image", description="Analyse one image: feature map, SPP levels, SPPF, predictions.")
    inspect.add_argument("image", type=Path)
    inspect.add_argument("--backbone", default=DEFAULT_BACKBONE, help="see `spp-viz backbones` (default: %(default)s)")
    inspect.add_argument("--stage", default=None, help="stage to pool (default: the one the classifier reads)")
    inspect.add_argument("--weights", default="pretrained", choices=list(WEIGHT_CHOICES))
    inspect.add_argument("--levels", default=",".join(map(str, DEFAULT_LEVELS)), help="comma-separated pyramid levels, or a preset: spp-net, psp")
    inspect.add_argument("--pool", default="max", choices=list(POOL_TYPES))
    inspect.add_argument("--bins", default="adaptive", choices=list(BIN_RULES))
    inspect.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE, help="working resolution's longer side (0 = native)")
    inspect.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse images with more pixels than this")
    inspect.add_argument("--top-k", type=int, default=DEFAULT_TOP_K)
    inspect.add_argument("--checkpoint", type=Path, default=None, help="a .pt/.pth state_dict for the chosen architecture")
    inspect.add_argument("--offline", action="store_true", help="never download weights")
    inspect.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    inspect.add_argument("--json", action="store_true", help="print exactly one JSON object")
    sub.add_parser("backbones", help="list backbones, stages and offline weights")
    return parser


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


def _text_report(result: "Inspection") -> str:
    r = result.report()
    lines = [
        f"image        {r['image']['width']} x {r['image']['height']} {r['image']['format']}"
        + (f"  ({'; '.join(r['image']['notes'])})" if r["image"]["notes"] else ""),
        f"input        {r['input']['width']} x {r['input']['height']}",
        f"backbone     {r['backbone']['name']} / {r['backbone']['stage']}  weights: {r['backbone']['weights']}"
        f"  stride {r['backbone']['stride']}  receptive field {r['backbone']['receptive_field']} px  on {r['backbone']['device']}",
        f"feature map  {r['feature_map']['channels']} x {r['feature_map']['height']} x {r['feature_map']['width']}",
        f"SPP          {r['spp']['pool']} pooling, {r['spp']['bins']} bins",
    ]
    for level in r["spp"]["levels"]:
        flag = "" if level["valid"] else f"   <- {level['problem']}"
        lines.append(f"  level {level['n']:>2}  {level['arithmetic']}{flag}")
    lines.append(f"  total     {r['spp']['length']:,}" + (f"  = {r['spp']['arithmetic']}" if r["spp"]["fixed_length"] else f"  (a correct pyramid gives {r['spp']['arithmetic']})"))
    s = r["sppf"]
    lines.append(f"SPPF         k={s['k']} x3 -> {' x '.join(map(str, s['shape']))}; equals parallel SPP(5,9,13): {s['matches_parallel_spp']} (max |diff| {s['max_abs_diff']:g})")
    for cost in s["costs"]:
        lines.append(f"  {cost['name']:<26} {cost['latency_ms']:8.2f} ms  output {' x '.join(map(str, cost['output_shape']))}")
    if r["predictions"]:
        lines.append("predictions  " + ", ".join(f"{p['label']} {p['probability']:.1%}" for p in r["predictions"]))
    else:
        lines.append(f"predictions  none: {r['predictions_note']}")
    lines.append("timings      " + ", ".join(f"{k} {v:.0f} ms" for k, v in r["timings_ms"].items()))
    return "\n".join(lines)


def _backbones_text() -> str:
    from .backbones import checkpoint_dir, describe_backbones

    rows = [f"weights folder for torchvision backbones: {checkpoint_dir()}"]
    for b in describe_backbones():
        rows.append(f"{b['name']:<20} weights: {b['weights']:<11} ({b['weights_file']})  stages: {', '.join(b['stages'])}  default: {b['default_stage']}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")  # stdout/stderr carry the report or one error line, nothing else
    try:
        args = _parser().parse_args(argv)
        if args.command == "backbones":
            print(_backbones_text())
            return 0
        data = _read(args.image, "Image")
        checkpoint = _read(args.checkpoint, "Checkpoint") if args.checkpoint else None
        start = time.perf_counter()
        decoded = load_image(data, max_side=args.max_side, max_pixels=args.max_pixels, filename=args.image.name)
        decode_ms = (time.perf_counter() - start) * 1000
        from .report import run_inspection  # torch: only for an image worth analysing

        result = run_inspection(
            decoded, filename=args.image.name, backbone=args.backbone, stage=args.stage, weights=args.weights,
            checkpoint=checkpoint, checkpoint_name=args.checkpoint.name if args.checkpoint else "checkpoint",
            levels=args.levels, pool=args.pool, rule=args.bins, max_side=args.max_side, max_pixels=args.max_pixels,
            top_k=args.top_k, download=not args.offline, device=args.device,
        )
        result.timings_ms = {"decode": decode_ms, **result.timings_ms}
        result.timings_ms["total"] += decode_ms
        print(json.dumps(result.report()) if args.json else _text_report(result))
        return 0
    except (CliError, ValueError) as exc:  # ImageDecodeError and BackboneError are ValueErrors
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory while analysing this image; try a smaller --max-side.", file=sys.stderr)
        return 2
    except Exception as exc:  # never a traceback in front of a user
        print(f"error: unexpected {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
