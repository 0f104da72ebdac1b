"""N ``streamlit run app.py`` replicas on loopback behind one HAProxy: for local use and tests.

:func:`start` starts the replicas (ports ``port + 1`` .. ``port + N`` unless given), waits until
each answers Streamlit's health check (:mod:`.process`), writes :func:`spp_viz.deploy.haproxy.render`'s configuration
into a private folder, checks it with ``haproxy -c`` and starts HAProxy on ``port``. Every
replica shares one random ``server.cookieSecret``, so a browser that fails over keeps a valid
cookie. Every process runs in its own process group; :meth:`Deployment.stop` ends them all
(SIGTERM, then SIGKILL after 10 s); on Linux each also gets SIGTERM if the process that
started it dies without stopping it. ``python -m spp_viz.deploy`` is the command line.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..replica import ENV_REPLICA
from . import haproxy
from .process import healthy, kill_group, streamlit_command

ROOT = Path(__file__).resolve().parents[2]
COOKIE_SECRET_ENV = "STREAMLIT_SERVER_COOKIE_SECRET"  # Streamlit refuses this secret on its command line
START_TIMEOUT_S = 120.0  # every replica imports torch and loads Streamlit: slow on busy cores
PR_SET_PDEATHSIG = 1  # prctl option: a signal for the child when its parent dies


class DeployError(RuntimeError):
    """One sentence: what could not start, and why."""


@dataclass
class Process:
    """One started process: its name, port, and where its output goes."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class Deployment:
    """The replicas (1-based in names and :meth:`stop_replica`), the proxy, and their folder."""

    port: int
    replicas: list[Process]
    proxy: Process | None
    folder: Path
    socket: str
    stopped: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lines(self) -> list[str]:
        """``replica 2: port 8603, pid 41234`` per replica, then the proxy's line."""
        out = [f"replica {i}: port {r.port}, pid {r.pid}" for i, r in enumerate(self.replicas, start=1)]
        if self.proxy is not None:
            out.append(f"proxy: {self.url} (haproxy, pid {self.proxy.pid}), config {self.folder / 'haproxy.cfg'}")
        return out

    def stop_replica(self, index: int, drain: bool = True) -> None:
        """Take replica ``index`` out of rotation (drain), then stop it."""
        if drain and self.proxy is not None and self.proxy.running():
            try:
                haproxy.drain(self.socket, index)
            except OSError:
                pass  # the proxy's health checks take it out anyway
        kill_group(self.replicas[index - 1].proc)
        self.stopped.add(index)

    def stop(self) -> None:
        """Stop the proxy first (no new connections), then every replica."""
        if self.proxy is not None:
            kill_group(self.proxy.proc)
        for replica in self.replicas:
            kill_group(replica.proc)


def _die_with_parent() -> None:
    """In the child (Linux): SIGTERM when the process that started it dies, even by SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)


def start_replica(port: int, folder: Path, index: int, cookie_secret: str, app: str = "app.py",
                  env: dict[str, str] | None = None) -> Process:
    """``streamlit run`` on 127.0.0.1:``port`` (headless, no file watcher); not yet waited for.
    ``SPP_VIZ_REPLICA`` names it ``127.0.0.1:port``: the page then says which replica serves it."""
    log = folder / f"replica{index}.log"
    named = {ENV_REPLICA: f"127.0.0.1:{port}", COOKIE_SECRET_ENV: cookie_secret, **(env or {})}
    return Process(f"replica {index}", port, _spawn(streamlit_command(app, port), log, named), log)


def _wait_healthy(process: Process, url: str, deadline: float) -> None:
    while not healthy(url):
        if not process.running() or time.monotonic() > deadline:
            why = f"exited with code {process.proc.returncode}" if not process.running() else "was not healthy in time"
            raise DeployError(f"{process.name} on port {process.port} {why}:\n{process.tail()}")
        time.sleep(0.2)


def start_proxy(config: haproxy.ProxyConfig, folder: Path) -> Process:
    """Write, check and start HAProxy in the foreground (``-db``)."""
    exe = haproxy.haproxy_path()
    if exe is None:
        raise DeployError("haproxy is not installed: apt-get install -y haproxy")
    path = folder / "haproxy.cfg"
    path.write_text(haproxy.render(config))
    ok, said = haproxy.check(str(path), exe)
    if not ok:
        raise DeployError(f"haproxy refused its configuration: {said}")
    return Process("proxy", config.port, _spawn([exe, "-db", "-f", str(path)], folder / "haproxy.log"), folder / "haproxy.log")


def start(replicas: int, port: int, replica_ports: list[int] | None = None, app: str = "app.py",
          env: dict[str, str] | None = None, timeout_s: float = START_TIMEOUT_S) -> Deployment:
    """Replicas first (all at once, then each waited for), then the proxy; everything is
    stopped again if anything fails to start."""
    if replicas < 1:
        raise DeployError(f"--replicas must be at least 1, got {replicas}.")
    ports = replica_ports or [port + i for i in range(1, replicas + 1)]
    folder = Path(tempfile.mkdtemp(prefix="spp-viz-deploy-"))
    secret = secrets.token_hex(32)
    deployment = Deployment(port, [], None, folder, str(folder / "haproxy.sock"))
    try:
        deployment.replicas = [start_replica(p, folder, i, secret, app, env) for i, p in enumerate(ports, start=1)]
        deadline = time.monotonic() + timeout_s
        for r in deployment.replicas:
            _wait_healthy(r, f"http://127.0.0.1:{r.port}", deadline)
        config = haproxy.ProxyConfig(port, tuple(("127.0.0.1", p) for p in ports), runtime_socket=deployment.socket)
        deployment.proxy = start_proxy(config, folder)
        _wait_healthy(deployment.proxy, deployment.url, deadline)
    except BaseException:
        deployment.stop()
        raise
    return deployment
