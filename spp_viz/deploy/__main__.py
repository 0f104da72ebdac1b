"""``python -m spp_viz.deploy --replicas N --port P``: N app replicas and HAProxy on loopback.

Prints one line per replica (``replica 2: port 8603, pid 41234``) and the proxy's, serves on
``http://127.0.0.1:P`` until Ctrl-C or SIGTERM, then stops everything it started. A replica
that exits meanwhile is reported in one line; the proxy sends its sessions to the others.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from . import DeployError, start

POLL_S = 1.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m spp_viz.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2, help="how many `streamlit run app.py` processes (default 2)")
    parser.add_argument("--port", type=int, default=8600, help="the proxy's port; replicas use the next N ports (default 8600)")
    return parser


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        deployment = start(args.replicas, args.port)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    for line in deployment.lines():
        print(line, flush=True)
    reported: set[int] = set()
    try:
        while True:
            time.sleep(POLL_S)
            for i, replica in enumerate(deployment.replicas, start=1):
                if i not in reported and not replica.running():
                    reported.add(i)
                    print(f"replica {i}: exited with code {replica.proc.returncode}; the proxy sends its sessions elsewhere",
                          flush=True)
    except KeyboardInterrupt:
        print("stopping: proxy, then replicas", flush=True)
    finally:
        deployment.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
