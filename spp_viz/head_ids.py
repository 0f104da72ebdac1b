"""The pyramid-pooling heads' ids and names, torch-free: the CLI checks ``--heads`` against
them before it imports torch, and the page's head picker names them on its first run.

The built-in ids are :data:`spp_viz.defaults.HEAD_IDS` (part of the CLI and JSON contract), their
names :data:`spp_viz.defaults.HEAD_NAMES`; :func:`spp_viz.heads.registry.register` adds a head's
id and name here, so a head registered at run time is accepted by ``--heads``, the family, the
JSON and the page like a built-in one.
"""

from __future__ import annotations

from .defaults import HEAD_IDS, HEAD_NAMES

_added: dict[str, str] = {}  # id -> name, in the order registered


def head_ids() -> tuple[str, ...]:
    """Every head id, in order: the built-in ones, then those registered at run time."""
    return HEAD_IDS + tuple(_added)


def head_name(head_id: str) -> str:
    """A head's name (``KeyError`` for an id not registered)."""
    return HEAD_NAMES[head_id] if head_id in HEAD_NAMES else _added[head_id]


def add(head_id: str, name: str) -> None:
    """Accept ``head_id`` from now on, named ``name`` (:func:`spp_viz.heads.registry.register` calls this)."""
    if head_id not in head_ids():
        _added[head_id] = name


def remove(head_id: str) -> None:
    """Stop accepting a head registered at run time (built-in ids stay)."""
    _added.pop(head_id, None)
