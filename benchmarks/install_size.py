"""What ``pip install -e .`` brings: the distributions spp-viz needs (its requirements, followed
transitively, without extras) as they are installed in this environment, and their size on disk.

``python -m benchmarks --only install`` records the count, the total and the largest groups
(area 15 of ``benchmarks/README.md``); ``python -m benchmarks.install_size`` prints them. Sizes are
the files each distribution's RECORD lists.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from .common import Row, skipped

ROOT_DIST = "spp-viz"
GROUPS = (("NVIDIA CUDA libraries", re.compile(r"^nvidia-")), ("torch", re.compile(r"^torch$")),
          ("Triton", re.compile(r"^triton$")))


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(dist: metadata.Distribution, extras: frozenset[str]) -> list[tuple[str, frozenset[str]]]:
    """``dist``'s requirements that apply here with ``extras`` asked for: ``(name, their extras)``
    (torch asks for ``cuda-toolkit[cublas,cufft,...]``: the extras pull in the CUDA libraries)."""
    from packaging.requirements import Requirement

    out = []
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": extra}) for extra in extras | {""}):
            out.append((canonical(req.name), frozenset(req.extras)))
    return out


def closure(root: str = ROOT_DIST) -> dict[str, metadata.Distribution]:
    """Every installed distribution ``root`` needs, ``root`` included."""
    installed = {canonical(d.metadata["Name"]): d for d in metadata.distributions()}
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[str, frozenset[str]]] = [(canonical(root), frozenset())]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen or name not in installed:
            continue
        seen.add((name, extras))
        found[name] = installed[name]
        todo.extend(requirements(installed[name], extras))
    return found


def size_bytes(dist: metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        path = Path(str(file.locate()))
        if path.is_file():
            total += path.stat().st_size
    return total


AREA = "15 install"


def rows() -> list[Row]:
    """The benchmark rows: how many distributions, their size, and the largest groups."""
    dists = closure()
    if canonical(ROOT_DIST) not in dists:
        return [skipped(AREA, "what pip install -e . brings", f"{ROOT_DIST} is not installed here: pip install -e . first")]
    sizes = {name: size_bytes(d) for name, d in dists.items()}
    total = sum(sizes.values())
    torch = f", torch {metadata.version('torch')}" if "torch" in dists else ""
    out = [Row(AREA, "pip install -e .: distributions (spp-viz and everything it requires), size on disk",
               f"{len(dists)} distributions, {total / 1e9:.2f} GB{torch}", "report", None, total / 1e9,
               {"distributions": len(dists), "bytes": total})]
    grouped = 0
    for label, pattern in GROUPS:
        part = sum(size for name, size in sizes.items() if pattern.search(name))
        grouped += part
        out.append(Row(AREA, f"  of which {label}", f"{part / 1e9:.2f} GB", "report", None, part / 1e9))
    out.append(Row(AREA, "  of which everything else (Streamlit, pyarrow, pandas, plotly, numpy, Pillow, torchvision, weights)",
                   f"{(total - grouped) / 1e9:.2f} GB", "report", None, (total - grouped) / 1e9))
    return out


def main() -> int:
    for row in rows():
        print(f"{row.figure}: {row.measured}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
