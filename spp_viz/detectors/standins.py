"""Inert stand-ins for the classes a YOLO checkpoint's pickle names.

torch's restricted unpickler accepts ``(object, "module.Class")`` pairs
(``torch.serialization.safe_globals``): the pickle's ``GLOBAL ultralytics.nn.modules.block.SPPF``
then yields the object given, here a :class:`StandIn` subclass made for that one name. No class
of the file is imported or called: a stand-in's constructor only keeps its arguments, and
``BUILD`` hands it the pickled state (a module's ``_modules``, ``_parameters``, ``_buffers`` and
plain attributes), which it keeps in :attr:`StandIn.state`, apart from its own attributes.

:func:`stand_in_names` says which names of a file get one: the model classes of ultralytics and
YOLOv5 (``ultralytics.*``, ``models.*``), the ``torch.nn`` module classes their models are
made of, and numpy's array and scalar reconstructors (YOLOv5 files pickle a numpy fitness).
Every other global is left to torch, which refuses it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from torch import Tensor, nn

__all__ = ["NUMPY_NAMES", "StandIn", "stand_in_names", "stand_ins"]

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
MODEL_PREFIXES = ("ultralytics.", "models.")
NUMPY_NAMES = frozenset({
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
    "numpy.ndarray", "numpy.dtype",
})
_TORCH_NN = "torch.nn.modules."


class StandIn:
    """One object of the checkpoint, kept as data: ``name`` is the class path the file gave it,
    ``args`` its constructor's arguments, ``state`` what ``BUILD`` set (a module's ``__dict__``)."""

    __slots__ = ("args", "state")
    name: ClassVar[str] = ""
    args: tuple[object, ...]
    state: Any

    def __new__(cls, *args: object) -> StandIn:
        obj = super().__new__(cls)
        obj.args = args
        obj.state = {}
        return obj

    def __init__(self, *args: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"StandIn({self.name})"

    @property
    def kind(self) -> str:
        """The class's own name (``SPPF`` for ``ultralytics.nn.modules.block.SPPF``)."""
        return self.name.rsplit(".", 1)[-1]

    def attr(self, key: str, default: Any = None) -> Any:
        """A plain attribute of the pickled module (``i``, ``f``, ``kernel_size``...)."""
        return self.state.get(key, default) if isinstance(self.state, dict) else default

    def children(self) -> dict[str, StandIn | None]:
        """The module's sub-modules by name, in order (``_modules``)."""
        modules = self.attr("_modules", {})
        return {str(k): v for k, v in modules.items()} if isinstance(modules, dict) else {}

    def child(self, key: str) -> StandIn | None:
        child = self.children().get(key)
        return child if isinstance(child, StandIn) else None

    def tensors(self) -> dict[str, Tensor]:
        """The module's own parameters and buffers by name (not its children's)."""
        out: dict[str, Tensor] = {}
        for group in ("_parameters", "_buffers"):
            entries = self.attr(group, {})
            if isinstance(entries, dict):
                out.update({str(k): v for k, v in entries.items() if isinstance(v, Tensor)})
        return out


def _is_torch_module(name: str) -> bool:
    """``torch.nn.modules.<file>.<Class>`` naming a real ``torch.nn`` module class."""
    if not name.startswith(_TORCH_NN) or name.count(".") != 4:
        return False
    cls = getattr(nn, name.rsplit(".", 1)[-1], None)
    return isinstance(cls, type) and issubclass(cls, nn.Module)


def stand_in_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """The names among ``names`` (a pickle's globals) that get an inert stand-in."""
    return tuple(n for n in names if _DOTTED.fullmatch(n) and (
        n.startswith(MODEL_PREFIXES) or n in NUMPY_NAMES or _is_torch_module(n)))


def stand_ins(names: tuple[str, ...]) -> list[tuple[type[StandIn], str]]:
    """``(class, name)`` pairs for ``torch.serialization.safe_globals``: one fresh class per name,
    so that a record knows which class the file named."""
    return [(type(f"StandIn[{name}]", (StandIn,), {"__slots__": (), "name": name}), name) for name in stand_in_names(names)]
