"""The first interactive ``streamlit run app.py`` must not stop at Streamlit's e-mail prompt.

A fresh HOME (no ~/.streamlit/credentials.toml), a terminal (a pseudo-terminal here) and a
DISPLAY (a desktop; without one Streamlit is headless and never asks): Streamlit would print
"Welcome to Streamlit! ... Email:" and wait. ``.streamlit/config.toml`` sets
``server.showEmailPrompt = false``; the server must come up and say where to view the app instead.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spp_viz.devtools.server import free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses a Linux pseudo-terminal")
def test_first_interactive_start_asks_for_no_email(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "HOME": str(tmp_path), "DISPLAY": ":99", "BROWSER": "true"}  # `true`: no browser opens
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdin=follower, stdout=follower, stderr=follower, start_new_session=True,
    )
    os.close(follower)
    output = b""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and b"You can now view" not in output and b"Email" not in output:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    output += os.read(leader, 65536)
                except OSError:  # the child closed the terminal
                    break
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        os.close(leader)
    text = output.decode("utf-8", "replace")
    assert "Email" not in text, text
    assert "You can now view your Streamlit app" in text, text
    assert not (tmp_path / ".streamlit" / "credentials.toml").exists()
