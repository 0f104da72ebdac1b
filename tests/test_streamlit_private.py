"""Streamlit's private modules: every name the app takes from them is where the adapter imports it,
and nothing but the adapter (``spp_viz/ui/streamlit_private.py``) imports them.

A Streamlit release that moves one of these names fails the first test with one sentence per
name, saying which module lacks which name, before anything of the page runs.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest
import streamlit

ROOT = Path(__file__).resolve().parents[1]
ADAPTER = ROOT / "spp_viz" / "ui" / "streamlit_private.py"
SCANNED = ("spp_viz", "benchmarks", "tests", "app.py")
# Streamlit's public modules (its documented API): anything else under ``streamlit.`` is private.
PUBLIC_MODULES = {"streamlit", "streamlit.testing.v1", "streamlit.components.v1", "streamlit.components.v2", "streamlit.column_config"}
PUBLIC_SUBMODULES = {"testing", "components", "column_config"}


def _imported_names(path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` for every ``from streamlit.X import name`` in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.module, alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("streamlit.")
            for alias in node.names]


def _missing(module: str, name: str) -> str | None:
    """One sentence when the installed Streamlit has no ``module.name``, else None."""
    where = f"{module}.{name}, which {ADAPTER.relative_to(ROOT)} imports"
    try:
        found = hasattr(importlib.import_module(module), name)
    except ImportError:
        found = False
    if found:
        return None
    return f"Streamlit {streamlit.__version__} has no {where}: find where this release moved it and update that module."


def test_every_private_name_the_adapter_imports_is_where_it_looks() -> None:
    names = _imported_names(ADAPTER)
    assert len(names) >= 4, names  # the adapter still imports what waiting.py and serving.py need
    problems = [p for p in (_missing(module, name) for module, name in names) if p is not None]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_a_moved_name_is_named_in_one_sentence() -> None:
    said = _missing("streamlit.runtime.uploaded_file_manager", "NoSuchName")
    assert said is not None and said.count(". ") == 0 and said.endswith(".")
    assert "streamlit.runtime.uploaded_file_manager.NoSuchName" in said
    assert _missing("streamlit.runtime.no_such_module", "Runtime") is not None
    assert _missing("streamlit.runtime", "Runtime") is None


def _private_imports(path: Path) -> list[str]:
    """``file:line module`` for each import of a private Streamlit module in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module == "streamlit":
            modules = [f"streamlit.{alias.name}" for alias in node.names
                       if alias.name not in PUBLIC_SUBMODULES and importlib.util.find_spec(f"streamlit.{alias.name}") is not None]
        elif node.module:
            modules = [node.module]
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {m}" for m in modules
                  if m.startswith("streamlit.") and m not in PUBLIC_MODULES]
    return found


def test_only_the_adapter_imports_private_streamlit_modules() -> None:
    files = [ROOT / p for p in SCANNED if p.endswith(".py")]
    files += [f for p in SCANNED if not p.endswith(".py") for f in sorted((ROOT / p).rglob("*.py")) if "corpus" not in f.parts]
    offenders = [hit for f in files if f != ADAPTER for hit in _private_imports(f)]
    assert offenders == [], f"import these from spp_viz.ui.streamlit_private instead: {offenders}"


def test_the_adapter_answers_outside_a_script_run() -> None:
    from spp_viz.ui import streamlit_private

    DeletedFile = streamlit_private.DeletedFile  # what an uploader holds for a file this process lacks
    assert streamlit_private.session_active("no-such-session")  # no runtime here: every session counts as alive
    assert streamlit_private.run_session_id() is None
    assert streamlit_private.history_navigation() is False
    assert streamlit_private.is_deleted_upload(DeletedFile("f1")) and streamlit_private.is_deleted_upload([None, DeletedFile("f2")])
    assert not streamlit_private.is_deleted_upload(None) and not streamlit_private.is_deleted_upload([])


def test_the_code_the_explorer_preloads_is_code_streamlits_front_end_imports() -> None:
    """The explorer preloads these files at phase 0's echo: one for each stem, each a file of the
    installed front end that another of its files imports (else the preload fetches code nobody runs)."""
    from spp_viz.ui.streamlit_private import PAGE_CHUNKS, page_chunks

    folder = Path(streamlit.__file__).parent / "static" / "static" / "js"
    files = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.js")}
    assert sorted(name.split(".")[0] for name in page_chunks()) == sorted(PAGE_CHUNKS)
    assert all(any(name in text for other, text in files.items() if other != name) for name in page_chunks())
