"""Shared fixtures: the offline default backbone, the sample photos, an isolated torch hub."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"

def _panel_titles() -> list[str]:
    """The app's panel headers, in page order: the titles of ``spp_viz.ui.panels.PANELS``."""
    from spp_viz.ui.panels import PANELS as APP_PANELS

    return [panel.title for panel in APP_PANELS]


PANELS = _panel_titles()


@pytest.fixture(scope="session")
def lite0():
    from spp_viz.backbones import load_backbone

    return load_backbone("efficientnet_lite0", download=False)


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty ``$TORCH_HOME``: weights are only there if the test puts them there."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="session")
def asset_bytes():
    return {p.name: p.read_bytes() for p in sorted(ASSETS.glob("*.jpg"))}


def run_cli(*args, cwd=None):
    """``python -m spp_viz ARGS`` in a fresh process: what a user at a terminal gets."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "spp_viz", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def second_phase(at):
    """What the browser does once it has drawn a page (AppTest has no browser): send the page's
    ``drawn`` trigger (its callback sets this key), so the next run measures before it draws."""
    from spp_viz.ui import measure

    at.session_state[measure.KEY_NOW] = True
    return at.run()
