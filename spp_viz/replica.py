"""Which replica this process is: ``SPP_VIZ_REPLICA`` when a deploy command set it, else host:port.

The host is the address the server listens on, or this machine's name when it listens on every
interface (in a Kubernetes pod that is the pod's name). The app shows it at the foot of the page
and writes it into the JSON report (``served_by``), so tests and operators see where a session lives.
"""

from __future__ import annotations

import os
import socket
from typing import Mapping

ENV_REPLICA = "SPP_VIZ_REPLICA"


def identity(address: str | None, port: int | str | None, env: Mapping[str, str] | None = None) -> str:
    """``127.0.0.1:8603``; the environment's ``SPP_VIZ_REPLICA`` wins when it is set."""
    named = (os.environ if env is None else env).get(ENV_REPLICA, "").strip()
    if named:
        return named
    host = (address or "").strip() or socket.gethostname()
    return f"{host}:{port}" if port else host
