"""Which replica this process is: ``SPP_VIZ_REPLICA`` when a deploy command set it, else host:port.

The host is the address the server listens on, or this machine's name when it listens on every
interface (in a Kubernetes pod that is the pod's name). The JSON report names it (``served_by``);
the page shows it at its foot only when the app runs as replicas (:func:`as_replica`: a deploy
command, ``python -m spp_viz.deploy`` or ``deploy/k8s.yaml``, set ``SPP_VIZ_REPLICA``), where it
tells tests and operators where a session lives. A single app has nothing to say there.
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


def as_replica(env: Mapping[str, str] | None = None) -> bool:
    """True when a deploy command started this process as one of several replicas (it set
    ``SPP_VIZ_REPLICA``)."""
    return bool((os.environ if env is None else env).get(ENV_REPLICA, "").strip())
