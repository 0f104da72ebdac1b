"""HAProxy in front of the replicas: the configuration (its one home), its check, its runtime API.

:func:`render` writes the whole configuration: cookie affinity (``cookie SERVERID insert indirect
nocache``: the first response names its replica, every later request of that browser, the
``/_stcore/stream`` websocket included, goes to it while it is up), health checks on Streamlit's
``/_stcore/health``, ``timeout tunnel`` for the long-lived websocket, and ``on-marked-down
shutdown-sessions`` with ``option redispatch``: a replica that fails its checks loses its
websockets at once, and the browsers reconnect through the proxy to a replica that is up.
:func:`drain` takes a replica out of rotation through the runtime API before it stops.
``deploy/haproxy.cfg`` is :func:`render` of :data:`EXAMPLE` (a test keeps them equal).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass

from .process import HEALTH_PATH

BACKEND = "replicas"
HAPROXY = "haproxy"  # Debian's package: apt-get install -y haproxy
# Health checks: a replica whose cores are busy with analyses may answer late, and one marked
# down by mistake has its websockets cut and its uploads sent to the other replica, where its
# sessions do not exist (seen under CI load with 1 s checks and no check timeout). A stopped
# replica refuses at once, so it is still down within FALL * CHECK_INTERVAL_S.
CHECK_INTERVAL_S = 2  # health check period; a replica is down after FALL failed checks
CHECK_TIMEOUT_S = 5  # how long one check may take
FALL = 3
TUNNEL_TIMEOUT = "1h"  # an idle websocket (an open tab) lives this long


@dataclass(frozen=True)
class ProxyConfig:
    """Where the proxy listens, the replicas' addresses, and the runtime API socket (None: none)."""

    port: int
    replicas: tuple[tuple[str, int], ...]
    bind: str = "127.0.0.1"
    runtime_socket: str | None = None


EXAMPLE = ProxyConfig(8600, (("127.0.0.1", 8601), ("127.0.0.1", 8602)), bind="0.0.0.0",
                      runtime_socket="/run/haproxy/spp-viz.sock")


def server_name(index: int) -> str:
    """The proxy's name (and cookie value) of replica ``index`` (1-based)."""
    return f"r{index}"


def render(config: ProxyConfig) -> str:
    """The complete ``haproxy.cfg``."""
    stats = f"    stats socket {config.runtime_socket} mode 600 level admin\n" if config.runtime_socket else ""
    servers = "".join(f"    server {server_name(i)} {host}:{port} check cookie {server_name(i)}\n"
                      for i, (host, port) in enumerate(config.replicas, start=1))
    return f"""# spp-viz: Streamlit replicas behind HAProxy (written by spp_viz.deploy.haproxy.render).
# A Streamlit session lives in the process that holds its websocket, so a browser must stay on one replica.
global
    maxconn 4096
{stats}
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    # the session's websocket (/_stcore/stream) is upgraded in place and then is a tunnel
    timeout tunnel {TUNNEL_TIMEOUT}
    timeout client-fin 5s
    timeout check {CHECK_TIMEOUT_S}s
    # a request for a replica that is down (or refuses) goes to another one
    option redispatch
    retries 3

frontend spp_viz
    bind {config.bind}:{config.port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    # affinity: the first response sets SERVERID; later requests of that browser go to that replica
    cookie SERVERID insert indirect nocache
    option httpchk GET {HEALTH_PATH}
    http-check expect string ok
    # down after {FALL} failed checks {CHECK_INTERVAL_S} s apart: its websockets are cut, the browsers reconnect here
    default-server inter {CHECK_INTERVAL_S}s fall {FALL} rise 2 on-marked-down shutdown-sessions
{servers}"""


def haproxy_path() -> str | None:
    return shutil.which(HAPROXY) or next((p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
                                          if shutil.which(p)), None)


def check(path: str, executable: str | None = None) -> tuple[bool, str]:
    """``haproxy -c -f path``: (valid, what haproxy said)."""
    exe = executable or haproxy_path()
    if exe is None:
        return False, "haproxy is not installed (apt-get install -y haproxy)"
    done = subprocess.run([exe, "-c", "-f", path], capture_output=True, text=True, timeout=30)
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def runtime_command(socket_path: str, command: str, timeout_s: float = 5.0) -> str:
    """One command on HAProxy's runtime API (the ``stats socket``); its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout_s)
        s.connect(socket_path)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace").strip()


def drain(socket_path: str, index: int) -> str:
    """Replica ``index`` takes no new sessions; its open ones stay until it stops."""
    return runtime_command(socket_path, f"set server {BACKEND}/{server_name(index)} state drain")
