"""One ``streamlit run`` process on loopback: its command line, its health, and stopping its group.

:mod:`spp_viz.deploy` starts replicas with these, and :mod:`spp_viz.devtools.server` starts the
app for the browser tests and benchmarks with the same command and waits on the same health
check, so what the tests run is what a deployment runs. The health check is Streamlit's own
``/_stcore/health`` (it answers ``ok``); every process runs in its own process group, so
stopping the group also stops anything it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

HEALTH_PATH = "/_stcore/health"  # Streamlit's health endpoint: answers "ok" once the server is up
STOP_GRACE_S = 10.0  # SIGTERM, then SIGKILL after this long


def streamlit_command(app: str, port: int, address: str = "127.0.0.1") -> list[str]:
    """``python -m streamlit run APP`` headless on ``address:port``, no usage statistics, no
    file watcher (files edited meanwhile do not restart the script)."""
    return [sys.executable, "-m", "streamlit", "run", app, "--server.headless", "true", "--server.port", str(port),
            "--server.address", address, "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]


def healthy(url: str) -> bool:
    """True when Streamlit's health endpoint at ``url`` answers ``ok``."""
    try:
        with urllib.request.urlopen(f"{url}{HEALTH_PATH}", timeout=2) as response:
            return bool(response.read().strip() == b"ok")
    except Exception:
        return False


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after :data:`STOP_GRACE_S`."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=STOP_GRACE_S)
