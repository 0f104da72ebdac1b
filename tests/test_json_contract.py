"""The JSON contract: ``spp-viz inspect --json`` keeps every key, in its order, as recorded in
``tests/inspect_json_keys.txt`` (one dotted path per line, ``[]`` for a list's items, in order of
first appearance). A key renamed, moved or dropped fails here; a new key must be added there."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from conftest import ASSETS

from spp_viz.cli import main

KEYS = Path(__file__).with_name("inspect_json_keys.txt")
# every section present: the family (with equalities) and a region
INSPECT = ("inspect", str(ASSETS / "chelsea_cat.jpg"), "--offline", "--max-side", "224", "--heads", "spp,sppf,ppm",
           "--region", "0,0,100,100", "--json")


def key_paths(value: Any, prefix: str = "", out: list[str] | None = None) -> list[str]:
    """Every key of a JSON value as a dotted path, in order of first appearance."""
    out = [] if out is None else out
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            if path not in out:
                out.append(path)
            key_paths(item, path, out)
    elif isinstance(value, list):
        for item in value:
            key_paths(item, prefix + "[]", out)
    return out


def inspect_json(*args: str) -> dict[str, Any]:
    """``spp-viz ARGS`` run in this process (``cli.main``): its one JSON object."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(args)) == 0
    return json.loads(out.getvalue())


def test_inspect_json_keeps_every_key_in_its_order():
    assert key_paths(inspect_json(*INSPECT)) == KEYS.read_text().split()
