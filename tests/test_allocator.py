"""The app process's memory: glibc's settings, the end of every run, the frozen imports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spp_viz import allocator

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not allocator.glibc(), reason="glibc only")
def test_glibc_takes_every_setting():
    assert allocator.tune() is True


class _Control(BaseException):
    """What ``st.rerun()`` and ``st.stop()`` raise to end a run: a BaseException, like Streamlit's."""


@pytest.mark.parametrize("ending", [None, _Control, RuntimeError])
def test_every_run_hands_its_freed_memory_back_however_it_ends(monkeypatch, ending):
    """A run that finishes, one that Streamlit ends early (a rerun, a stop) and one that fails all
    end with ``allocator.trim``: a process at rest holds what is alive, not a run's peak."""
    from spp_viz import ui
    from spp_viz.ui import page

    calls: list[str] = []

    def run() -> None:
        calls.append("run")
        if ending is not None:
            raise ending()

    monkeypatch.setattr(page, "main", run)
    monkeypatch.setattr(allocator, "trim", lambda: calls.append("trim"))
    if ending is None:
        ui.main()
    else:
        with pytest.raises(ending):
            ui.main()
    assert calls == ["run", "trim"]


def test_the_imported_modules_are_frozen_so_each_new_images_collection_skips_them():
    """Each new image's ``allocator.release()`` runs a full collection, which walked the ~420,000
    objects of torch, Streamlit and plotly every time (0.2 s before the image's first phase).
    They are frozen once imported: by the page's caches module, then by the background import."""
    code = textwrap.dedent('''
        import gc, json
        from spp_viz.ui import caches, preload
        first = gc.get_freeze_count()
        preload.start()
        preload.wait()
        print(json.dumps({"first": first, "after": gc.get_freeze_count(), "young": len(gc.get_objects()),
                          "torch": "torch" in __import__("sys").modules}))
    ''')
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["torch"] is True
    assert seen["first"] > 20_000, seen  # Streamlit and plotly, frozen when the caches module is imported
    assert seen["after"] > seen["first"] + 100_000, seen  # torch and the engine, frozen by the background import
    assert seen["young"] < seen["after"] / 10, seen  # what a collection still walks
