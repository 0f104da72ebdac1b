"""Plotly's packed typed arrays (``{"dtype": "f4", "bdata": "<base64>", "shape": "2, 3"}``).

Plotly 6+ serialises numpy arrays in figure JSON as base64 blocks instead of number lists;
tests read them back as numpy and count how many numbers a figure ships to the browser.
"""

from __future__ import annotations

import base64
from typing import Any, Mapping

import numpy as np


def is_packed(value: object) -> bool:
    """True for a plotly typed-array object: a mapping with ``dtype`` and ``bdata``."""
    return isinstance(value, Mapping) and "bdata" in value and "dtype" in value


def decode_array(value: Any) -> np.ndarray:
    """A figure array as numpy: plotly's packed typed array (reshaped by its ``shape``) or a plain list."""
    if is_packed(value):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(s) for s in str(shape).split(",")]) if shape else flat
    return np.asarray(value)


def count_numbers(node: Any) -> int:
    """How many numbers a figure's JSON (or any part of it) carries.

    Every numeric leaf counts 1 (``bool`` does not), a packed array counts its elements,
    strings (hover text, a base64 JPEG) count 0: the figure-size budget is about numbers.
    Accepts a ``plotly.graph_objects.Figure`` too (its ``to_plotly_json()``).
    """
    if hasattr(node, "to_plotly_json"):
        node = node.to_plotly_json()
    if isinstance(node, bool) or node is None or isinstance(node, str):
        return 0
    if isinstance(node, (int, float, np.number)):
        return 1
    if isinstance(node, np.ndarray):
        return int(node.size) if node.dtype.kind in "iuf" else 0
    if is_packed(node):
        return len(base64.b64decode(node["bdata"])) // np.dtype(node["dtype"]).itemsize
    if isinstance(node, Mapping):
        return sum(count_numbers(v) for v in node.values())
    if isinstance(node, (list, tuple)):
        return sum(count_numbers(v) for v in node)
    return 0
