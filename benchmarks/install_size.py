"""What ``pip install -e .`` brings: the distributions spp-viz needs (its requirements, followed
transitively, without extras) as they are installed in this environment, and their size on disk.

``python -m benchmarks.install_size`` prints the count, the total and the largest groups; the
README's install figures come from it. Sizes are the files each distribution's RECORD lists.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

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


def main() -> int:
    dists = closure()
    if canonical(ROOT_DIST) not in dists:
        print(f"{ROOT_DIST} is not installed here: pip install -e . first", file=sys.stderr)
        return 1
    sizes = {name: size_bytes(d) for name, d in dists.items()}
    total = sum(sizes.values())
    print(f"{len(dists)} distributions (spp-viz and everything it requires), {total / 1e9:.2f} GB on disk")
    grouped = 0
    for label, pattern in GROUPS:
        part = sum(size for name, size in sizes.items() if pattern.search(name))
        grouped += part
        print(f"  {label}: {part / 1e9:.2f} GB")
    print(f"  everything else: {(total - grouped) / 1e9:.2f} GB")
    if "torch" in dists:
        print(f"  (torch {metadata.version('torch')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
