"""Every backbone's layer tables, kept in the package as data: what each stage does to space,
known without torch.

``layer_tables.json`` holds, per backbone, its main path's convs and pools in execution order
(kernel, stride, dilation, padding, ceil mode; padding ``"same"`` for TF padding, which depends
on the input size) and, per stage, how many of those layers lead to it, its channels and whether
a squeeze-excite on the way makes every output see the whole image. The tables are the layer
trace (:mod:`spp_viz.trace`) of each architecture, written once by
``python -m spp_viz.devtools.geometry_tables``; ``tests/test_layer_tables.py`` checks them
against the trace of every backbone and stage at many input sizes. A detector checkpoint's
layers come from the file, so its geometry is traced when it loads instead.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, Mapping, Sequence

from .defaults import DETECTOR_BACKBONE
from .errors import BackboneError
from .geometry import LayerGeometry, StageGeometry
from .options import check_stage

__all__ = ["TABLES_FILE", "encode_tables", "path_modules", "stage_geometry", "tables_text"]

TABLES_FILE = "layer_tables.json"
ABOUT = ("Each backbone's main path of convs and pools, in execution order, and how many of them lead to each stage. "
         "Written by python -m spp_viz.devtools.geometry_tables from the layer trace; do not edit.")


@functools.lru_cache(maxsize=1)
def _tables() -> dict[str, Any]:
    text = resources.files("spp_viz").joinpath(TABLES_FILE).read_text(encoding="utf-8")
    return json.loads(text)["backbones"]


def stage_geometry(backbone: str, stage: str | None = None) -> StageGeometry:
    """What ``backbone`` does to space up to ``stage`` (None: its default stage), from the packaged
    tables (no torch). ``ValueError`` (one sentence) for an unknown backbone or stage, and for
    ``yolo``, whose geometry is traced from the checkpoint when it loads."""
    return _stage(backbone, _tabled_stage(backbone, stage))


def path_modules(backbone: str, stage: str | None = None) -> tuple[str, ...]:
    """The name in the model of each layer of :func:`stage_geometry`'s path, in the same order."""
    stage = _tabled_stage(backbone, stage)
    table = _tables()[backbone]
    return tuple(row["module"] for row in table["layers"][:table["stages"][stage]["layers"]])


def _tabled_stage(backbone: str, stage: str | None) -> str:
    """``stage`` checked (None: the default) for a backbone that has a table."""
    stage = check_stage(backbone, stage)
    if backbone == DETECTOR_BACKBONE:
        raise BackboneError(f"The {DETECTOR_BACKBONE} backbone's layers are read from your checkpoint: its geometry is "
                            "traced when the checkpoint loads (the loaded backbone's geometry), not read from a table.")
    return stage


@functools.cache
def _stage(backbone: str, stage: str) -> StageGeometry:
    table = _tables()[backbone]
    entry = table["stages"][stage]
    layers = [LayerGeometry.from_json(row) for row in table["layers"][:entry["layers"]]]
    return StageGeometry.of_layers(layers, int(entry["channels"]), bool(entry["global_context"]))


def encode_tables(backbones: Mapping[str, tuple[Sequence[tuple[str, LayerGeometry]], Mapping[str, StageGeometry]]],
                  versions: Mapping[str, str]) -> dict[str, Any]:
    """The file's object: ``backbones`` maps a name to its main path's ``(module, layer)`` pairs
    and each stage's geometry, whose layers must be the first of that path's."""
    out: dict[str, Any] = {}
    for name, (path, stages) in backbones.items():
        layers = [layer for _, layer in path]
        entries = {}
        for stage, geometry in stages.items():
            count = len(geometry.layers)
            if list(geometry.layers) != layers[:count]:
                raise ValueError(f"{name} {stage}: its layers are not the first {count} of the backbone's path.")
            entries[stage] = {"layers": count, "channels": geometry.channels, "global_context": geometry.global_context}
        out[name] = {"layers": [{"module": module, **layer.as_json()} for module, layer in path], "stages": entries}
    return {"about": ABOUT, "versions": dict(versions), "backbones": out}


def tables_text(tables: Mapping[str, Any]) -> str:
    """The file's text: indented JSON with one layer (any object or list of plain values) per line."""
    return _dump(tables, "") + "\n"


def _dump(value: Any, indent: str) -> str:
    if isinstance(value, Mapping) and any(isinstance(v, (Mapping, list)) for v in value.values()):
        inner = indent + "  "
        items = [f"{inner}{json.dumps(k)}: {_dump(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (Mapping, list)) for v in value):
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + _dump(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value)
