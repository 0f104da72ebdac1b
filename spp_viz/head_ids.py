"""The pyramid-pooling heads' ids, torch-free: the CLI checks ``--heads`` against them before it
imports torch.

The built-in ids are :data:`spp_viz.defaults.HEAD_IDS` (part of the CLI and JSON contract);
:func:`spp_viz.heads.registry.register` adds a head's id here, so a head registered at run time
is accepted by ``--heads``, the family, the JSON and the page like a built-in one.
"""

from __future__ import annotations

from .defaults import HEAD_IDS

_added: list[str] = []


def head_ids() -> tuple[str, ...]:
    """Every head id, in order: the built-in ones, then those registered at run time."""
    return HEAD_IDS + tuple(_added)


def add(head_id: str) -> None:
    """Accept ``head_id`` from now on (:func:`spp_viz.heads.registry.register` calls this)."""
    if head_id not in head_ids():
        _added.append(head_id)


def remove(head_id: str) -> None:
    """Stop accepting a head registered at run time (built-in ids stay)."""
    if head_id in _added:
        _added.remove(head_id)
