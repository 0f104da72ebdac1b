"""Write the packaged layer tables (``spp_viz/layer_tables.json``) from the layer trace.

``python -m spp_viz.devtools.geometry_tables`` builds every backbone of the registry untrained
(no weights, no network), traces each stage (:func:`spp_viz.trace.trace_calls`) and writes what
:mod:`spp_viz.layer_tables` reads; ``--check`` writes nothing and exits 1 when the file differs
from what the trace gives now (a torchvision release that changed an architecture).
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torchvision

from ..backbones import REGISTRY, stage_extractor
from ..geometry import LayerGeometry, StageGeometry
from ..layer_tables import TABLES_FILE, encode_tables, tables_text
from ..trace import trace_calls

TRACE_SIDE = 64  # the zero image's side: no layer of any path sees a 1 x 1 map (taken for squeeze-excite)


def backbone_tables(name: str) -> tuple[list[tuple[str, LayerGeometry]], dict[str, StageGeometry]]:
    """``name``'s main path ``(module, layer)`` up to its last stage, and each stage's geometry,
    traced on an untrained build of the architecture."""
    spec = REGISTRY[name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = spec.builder().eval()
    x = torch.zeros(1, 3, TRACE_SIDE, TRACE_SIDE)
    stages: dict[str, StageGeometry] = {}
    path: list[tuple[str, LayerGeometry]] = []
    for stage in spec.stages:
        trace = trace_calls(model, stage_extractor(model, spec, stage), x)
        stages[stage] = trace.geometry()
        if len(trace.calls) > len(path):
            path = [(call.module, call.layer) for call in trace.calls]
    return path, stages


def traced_tables() -> dict[str, Any]:
    """The tables' object for every backbone of the registry, as the trace gives it now."""
    backbones = {name: backbone_tables(name) for name in REGISTRY}
    return encode_tables(backbones, {"torch": torch.__version__, "torchvision": torchvision.__version__})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spp_viz.devtools.geometry_tables", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the packaged file; write nothing")
    args = parser.parse_args(argv)
    tables = traced_tables()
    path = Path(str(resources.files("spp_viz").joinpath(TABLES_FILE)))
    if args.check:  # the versions that wrote the file may differ: the tables may not
        same = json.loads(path.read_text(encoding="utf-8"))["backbones"] == tables["backbones"]
        print(f"{path}: {'up to date' if same else 'differs from the trace: regenerate it'}")
        return 0 if same else 1
    path.write_text(tables_text(tables), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
