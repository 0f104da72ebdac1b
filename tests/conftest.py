"""Shared fixtures: the offline default backbone, the sample photos, an isolated torch hub, and
the one way tests run the command line (:func:`run_cli`, :func:`run_cli_without_torch`)."""

import subprocess
import sys
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


CLI_TIMEOUT_S = 300  # one analysis, torch import included, on a busy 2-core machine


def cli_command(*args) -> list[str]:
    """``python -m spp_viz ARGS`` with this interpreter: the command line a user types."""
    return [sys.executable, "-m", "spp_viz", *map(str, args)]


def run_cli(*args, cwd=None, env=None, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """``python -m spp_viz ARGS`` in a fresh process: what a user at a terminal gets.

    ``env`` replaces the whole environment (start from ``os.environ``). A non-zero exit code
    never raises: checking it is the test's job."""
    return subprocess.run(cli_command(*args), capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env,
                          check=False)


# For options refused before the model loads: the child fails (exit 1, an AssertionError on
# stderr) if torch got imported or its peak RSS passed 200 MB (VmHWM of its own address space;
# ru_maxrss would carry the forking pytest process's peak over exec).
_NO_TORCH_CHILD = (
    "import sys\n"
    "from spp_viz.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "assert 'torch' not in sys.modules, 'torch was imported'\n"
    "hwm = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
    "assert not hwm or hwm[0] < 200_000, f'peak RSS {hwm} kB, over 200 MB'\n"
    "sys.exit(rc)\n"
)


def run_cli_without_torch(*args, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``spp-viz ARGS`` (``spp_viz.cli.main``) in a fresh process that must not import torch."""
    return subprocess.run([sys.executable, "-c", _NO_TORCH_CHILD, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, check=False)


def second_phase(at):
    """What the browser does once it has drawn a page (AppTest has no browser): send the page's
    ``drawn`` trigger (its callback sets this key), so the next run measures before it draws."""
    from spp_viz.ui import measure

    at.session_state[measure.KEY_NOW] = True
    return at.run()


@pytest.fixture
def built_reports(monkeypatch) -> list:
    """Every report ``spp_viz.report.build_report`` builds during the test, in order (the page's
    JSON download, to compare with the CLI's)."""
    from spp_viz import report

    built: list = []
    real = report.build_report

    def recording(*a, **k):
        built.append(real(*a, **k))
        return built[-1]

    monkeypatch.setattr(report, "build_report", recording)
    return built
