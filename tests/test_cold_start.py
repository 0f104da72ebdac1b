"""A cold process draws phase 0 without importing torch, ends the run there, and starts the
background import (then the forward) in the run the browser's echo brings, once it has drawn
phase 0; the torch-free answers the first run reads (the device, the weights' folder, the heads'
names, the backbones' titles and stages) are the ones torch and the engine give."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from spp_viz import catalogue, devices, head_ids
from spp_viz.backbones import REGISTRY
from spp_viz.defaults import BACKBONE_STAGES, DEFAULT_STAGES, HEAD_IDS
from spp_viz.heads.registry import get_spec
from spp_viz.ui import preload

ROOT = Path(__file__).resolve().parents[1]

# The page's first two runs in a fresh process: the background import is held back (it would put
# torch in sys.modules on its own), the forward is not run, and the modules of torch are read the
# moment phase 0 has been drawn.
FIRST_RUN = textwrap.dedent('''
    import sys
    import streamlit as st
    from spp_viz.ui import page, phase0, preload

    def drawn(view, gate=None):
        phase0.draw_geometry(view, gate)
        st.session_state["torch_at_phase0"] = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))
        st.session_state["gate"] = gate

    def no_forward(controls, status):
        st.session_state["forward_asked"] = True
        return None

    preload.start = lambda: st.session_state.__setitem__("preload_started", True)
    page.draw_geometry = drawn
    page._build = no_forward
    page.main()
''')

# Run 1 as a cold process's first run; run 2 as the one the explorer's echo of the gate brings.
CHILD = textwrap.dedent('''
    import json, sys, threading
    from streamlit.testing.v1 import AppTest
    from spp_viz.ui import links, preload, state

    start = preload.start
    before = sorted(m for m in sys.modules if m.split(".")[0] == "torch")
    keys = ("torch_at_phase0", "forward_asked", "preload_started", "gate")
    at = AppTest.from_string(sys.argv[1], default_timeout=120).run()
    runs = [{key: at.session_state[key] if key in at.session_state else None for key in keys} | {"tables": len(at.dataframe)}]
    runs[0]["link_held"] = links.KEY_LINK_HELD in at.session_state
    at.session_state[state.KEY_PHASE0_DRAWN] = runs[0]["gate"]  # what the explorer's on_phase0_drawn stores
    at.run()
    runs.append({key: at.session_state[key] if key in at.session_state else None for key in keys} | {"tables": len(at.dataframe)})
    start()
    names = [t.name for t in threading.enumerate()]
    preload.wait()
    print(json.dumps({
        "before": before, "exceptions": [e.value for e in at.exception], "runs": runs,
        "thread": preload.THREAD_NAME in names, "imported": [m for m in preload.MODULES if preload.imported(m)],
    }))
''')


@pytest.mark.skipif(not devices.no_gpu_here(), reason="where a GPU may be, the first run asks torch for the device")
def test_a_cold_first_run_draws_phase0_without_torch_and_the_echo_starts_the_import_and_forward():
    done = subprocess.run([sys.executable, "-c", CHILD, FIRST_RUN], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == [], "AppTest itself imported torch: the check would prove nothing"
    assert seen["exceptions"] == []
    first, echoed = seen["runs"]
    assert first["torch_at_phase0"] == [], f"imported before phase 0 was drawn: {first['torch_at_phase0'][:5]}"
    # run 1 ends after phase 0: no import, no forward, no table yet (st.dataframe imports pandas)
    assert isinstance(first["gate"], str) and first["gate"]
    assert first["forward_asked"] is None and first["preload_started"] is None and first["tables"] == 0
    # nor the page's foot: the opened link's view is held until the page that has its view (phase 1)
    assert first["link_held"] is True
    # the echo's run: the same phase 0 with its table, then the import and the forward
    assert echoed["gate"] is None and echoed["tables"] == 1
    assert echoed["forward_asked"] is True and echoed["preload_started"] is True
    assert echoed["torch_at_phase0"] == []
    assert seen["thread"] is True and seen["imported"] == list(preload.MODULES)


def test_the_background_import_starts_once_and_waiting_is_free_afterwards():
    preload.start()
    preload.start()
    preload.wait()
    assert preload.started() and all(preload.imported(m) for m in preload.MODULES)


def test_no_gpu_here_is_what_torch_answers():
    if devices.no_gpu_here():
        assert not torch.cuda.is_available()


@pytest.mark.parametrize("env", [{}, {"TORCH_HOME": "/tmp/th"}, {"XDG_CACHE_HOME": "/tmp/xdg"},
                                 {"TORCH_HOME": "~/th", "XDG_CACHE_HOME": "/tmp/xdg"}])
def test_the_weights_folder_without_torch_is_torch_hubs(monkeypatch, env):
    for name in ("TORCH_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with_torch = catalogue.checkpoint_dir()
    monkeypatch.delitem(sys.modules, "torch.hub")  # as before torch is imported
    assert catalogue.checkpoint_dir() == with_torch == str(Path(torch.hub.get_dir()) / "checkpoints")


def test_the_torch_free_catalogue_is_the_registry():
    assert {name: (spec.title, tuple(spec.stages), spec.default_stage, spec.weights_name) for name, spec in REGISTRY.items()} == {
        name: (catalogue.TITLES[name], BACKBONE_STAGES[name], DEFAULT_STAGES[name], catalogue.WEIGHTS_FILES.get(name, ""))
        for name in BACKBONE_STAGES}
    assert [head_ids.head_name(i) for i in HEAD_IDS] == [get_spec(i).name for i in HEAD_IDS]

