"""``streamlit run app.py`` for a real browser: start on a free port, poll health, stop the group.

The server is started as a deployment's replica is (:mod:`spp_viz.deploy.process`: the same
command, the same health check, its own process group) on a free port. Used by
``tests/browser/conftest.py`` and the browser benchmarks, with the Chromium settings below.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..deploy.process import healthy, kill_group, streamlit_command

ROOT = Path(__file__).resolve().parents[2]
HEALTH_TIMEOUT_S = 60.0
# Playwright's own browser download cannot work offline: use the system Chromium
CHROMIUM = os.environ.get("SPP_VIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run")
# a fake camera that needs no permission prompt (Chromium's own test switches)
FAKE_CAMERA_ARGS = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")
# the script is idle (not running): Streamlit's own e2e tests wait for this after every action
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
RUNNING = "[data-testid='stApp'][data-test-script-state='running']"
# every explorer root on the page, also inside its component's shadow root (which
# document.querySelector does not enter): a JS expression for the checks below and the tests'
EXPLORERS_JS = ('[...document.querySelectorAll(".spp-explorer"), ...[...document.querySelectorAll(".st-key-panel_explorer *")]'
                '.filter((e) => e.shadowRoot).flatMap((e) => [...e.shadowRoot.querySelectorAll(".spp-explorer")])]')
# the page's second phase is in: no explorer still in phase 0 (its forward's rerun is due), no
# "measuring" note left (spp_viz.ui.measure), no element of an earlier run still shown (stale), the script idle
MEASURED_JS = """() => !(EXPLORERS).some((e) => e.getAttribute("data-phase") === "0") &&
  !document.querySelector("[data-stale='true']") &&
  !document.querySelector("[class*='st-key-measuring']") &&
  document.querySelector("[data-testid='stApp']")?.getAttribute("data-test-script-state") === "notRunning"
""".replace("EXPLORERS", EXPLORERS_JS)


def chromium_available() -> bool:
    return os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class AppServer:
    """A running ``streamlit run`` process and its URL; ``log`` is where its output goes."""

    url: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes]

    def alive(self) -> bool:
        return self.proc.poll() is None and healthy(self.url)

    def output(self) -> str:
        """Everything the server printed so far."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", errors="replace")

    def stop(self) -> None:
        kill_group(self.proc)


def start_app(log: IO[bytes], app: str = "app.py", cwd: Path = ROOT, timeout_s: float = HEALTH_TIMEOUT_S) -> AppServer:
    """Start the app headless on a free port and wait until it is healthy.

    ``log`` is a binary file (e.g. ``tempfile.TemporaryFile()``) for stdout and stderr. Raises
    ``RuntimeError`` with the log's tail when the server exits or is not healthy in time.
    No hot reload (``fileWatcherType none``): files edited meanwhile do not restart the script.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        streamlit_command(app, port), cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    server = AppServer(url, proc, log)
    deadline = time.monotonic() + timeout_s
    while not healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            why = f"exited with code {proc.returncode}" if proc.poll() is not None else f"not healthy within {timeout_s:.0f} s"
            kill_group(proc)
            raise RuntimeError(f"streamlit {why}:\n{server.output()[-3000:]}")
        time.sleep(0.1)
    return server
