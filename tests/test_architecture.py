"""docs/architecture.md stays true: its layers and arrows against the real imports of ``spp_viz``.

The imports are read with ``ast`` (nothing is imported). A module of a package (``spp_viz/ui/...``)
counts as its package (``ui/``); imports inside one package or module are not arrows.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "spp_viz"
DOC = ROOT / "docs" / "architecture.md"
UNITS_WITH_PACKAGES = ("ui", "figures", "heads", "deploy", "devtools", "detectors")


def _unit(module: str) -> str:
    """``spp_viz.ui.panels.erf`` -> ``ui/``; ``spp_viz.analysis`` -> ``analysis``."""
    parts = module.split(".")[1:]
    if not parts:
        return "spp_viz"
    return f"{parts[0]}/" if parts[0] in UNITS_WITH_PACKAGES else parts[0]


def _dotted(path: Path) -> str:
    """``spp_viz/ui/__init__.py`` -> ``spp_viz.ui``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path) -> set[str]:
    """The ``spp_viz`` modules that ``path`` imports (``from . import x`` names module x)."""
    rel = path.relative_to(ROOT).with_suffix("")
    package = list(rel.parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("spp_viz")}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if not module.startswith("spp_viz"):
                continue
            found |= {m for m in [module] + [f"{module}.{a.name}" for a in node.names] if _is_module(m)}
    return found


def real_arrows() -> set[tuple[str, str]]:
    """Every (importer, imported) pair of units, the entry point ``app.py`` included."""
    arrows = {("app.py", _unit(m)) for m in _imports(ROOT / "app.py")}
    for path in PACKAGE.rglob("*.py"):
        arrows |= {(_unit(_dotted(path)), _unit(m)) for m in _imports(path)}
    return {(a, b) for a, b in arrows if a != b and b != "spp_viz"}


def _block(name: str) -> list[str]:
    found = re.search(rf"```text {name}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert found is not None, f"docs/architecture.md has no ```text {name} block"
    return [line for line in found.group(1).splitlines() if line.strip()]


def documented_layers() -> dict[str, int]:
    """unit -> its layer's depth (0 at the top)."""
    return {unit: depth for depth, line in enumerate(_block("layers")) for unit in line.split(":", 1)[1].split()}


def documented_arrows() -> set[tuple[str, str]]:
    arrows = set()
    for line in _block("arrows"):
        left, right = line.split("──►")
        arrows |= {(a, b) for a in left.split() for b in right.split()}
    return arrows


def test_every_module_has_a_layer() -> None:
    units = {_unit(_dotted(p)) for p in PACKAGE.rglob("*.py")} - {"spp_viz"}
    missing = sorted(units - set(documented_layers()))
    assert missing == [], f"give these a layer in docs/architecture.md: {missing}"
    gone = sorted(set(documented_layers()) - units)
    assert gone == [], f"docs/architecture.md names units that no longer exist: {gone}"


def test_every_import_points_down_the_layers() -> None:
    depth = documented_layers()
    upward = sorted((a, b) for a, b in real_arrows() if a in depth and b in depth and depth[b] < depth[a])
    assert upward == [], f"these imports point up the layers of docs/architecture.md: {upward}"


def test_every_drawn_arrow_is_a_real_import() -> None:
    false = sorted(documented_arrows() - real_arrows())
    assert false == [], f"docs/architecture.md draws arrows that are not imports: {false}"


@pytest.mark.parametrize(("importer", "imported"), [("backbones", "devices"), ("backbones", "layer_tables"), ("devtools/", "deploy/")])
def test_the_reader_sees_known_imports_the_right_way_round(importer: str, imported: str) -> None:
    arrows = real_arrows()
    assert (importer, imported) in arrows and (imported, importer) not in arrows


def test_only_the_ui_imports_streamlit() -> None:
    outside = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py") if "ui" not in p.relative_to(PACKAGE).parts[:1]
               and re.search(r"^\s*(import streamlit|from streamlit)", p.read_text(encoding="utf-8"), re.M)]
    assert outside == []
