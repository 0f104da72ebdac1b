"""``deploy/``: the HAProxy configuration (checked by ``haproxy -c``), the Kubernetes example (parsed),
the Dockerfile (its instructions read), and ``python -m spp_viz.deploy`` started and stopped for real.

No container is built and no cluster is reached here: those files are checked offline only. A
missing haproxy skips the tests that need it, unless ``SPP_VIZ_REQUIRE_HAPROXY=1`` (CI) where it
fails them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from spp_viz.deploy import haproxy
from spp_viz.devtools.server import free_port

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
REQUIRE_HAPROXY = os.environ.get("SPP_VIZ_REQUIRE_HAPROXY") == "1"
DOCKER_INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                       "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


def need_haproxy() -> str:
    path = haproxy.haproxy_path()
    if path is None:
        if REQUIRE_HAPROXY:
            pytest.fail("haproxy is required (SPP_VIZ_REQUIRE_HAPROXY=1) but not installed", pytrace=False)
        pytest.skip("haproxy is not installed: apt-get install -y haproxy")
    return path


def free_run(count: int) -> int:
    """A port P such that P .. P + count - 1 were all free a moment ago."""
    for _ in range(50):
        base = free_port()
        try:
            for port in range(base, base + count):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no run of free ports")


# ----------------------------------------------------------------------------
# Offline checks


def test_example_config_is_the_rendered_one_and_haproxy_accepts_it(tmp_path):
    assert (DEPLOY / "haproxy.cfg").read_text() == haproxy.render(haproxy.EXAMPLE)
    exe = need_haproxy()
    config = haproxy.ProxyConfig(18600, (("127.0.0.1", 18601), ("127.0.0.1", 18602), ("127.0.0.1", 18603)),
                                 runtime_socket=str(tmp_path / "s.sock"))
    path = tmp_path / "haproxy.cfg"
    path.write_text(haproxy.render(config))
    ok, said = haproxy.check(str(path), exe)
    assert ok, said
    text = path.read_text()
    for line in ("cookie SERVERID insert indirect nocache", "option httpchk GET /_stcore/health", "timeout tunnel 1h",
                 "server r3 127.0.0.1:18603 check cookie r3", "on-marked-down shutdown-sessions", "option redispatch"):
        assert line in text
    path.write_text(text.replace("mode http", "mode htttp"))
    assert not haproxy.check(str(path), exe)[0]  # the check does reject a broken file


def test_kubernetes_example_parses_with_probe_affinity_and_a_shared_secret():
    docs = {d["kind"]: d for d in yaml.safe_load_all((DEPLOY / "k8s.yaml").read_text())}
    assert set(docs) == {"Deployment", "Service", "Ingress"}
    pod = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert pod["readinessProbe"]["httpGet"]["path"] == "/_stcore/health"
    assert pod["ports"][0]["containerPort"] == 8501
    env = {e["name"]: e for e in pod["env"]}
    assert env["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "cookie-secret"
    assert "SPP_VIZ_MAX_JOBS" in env and "SPP_VIZ_REPLICA" in env
    labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert docs["Service"]["spec"]["selector"] == labels
    annotations = docs["Ingress"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    backend = docs["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == docs["Service"]["metadata"]["name"]


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction: comments dropped, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0], line.split(None, 1)[1] if " " in line.strip() else "")
            for line in (raw.strip() for raw in joined.splitlines()) if line]


def test_dockerfile_instructions_are_valid_and_name_files_that_exist():
    steps = dockerfile_instructions((DEPLOY / "Dockerfile").read_text())
    assert steps[0][0] == "FROM"
    assert {name for name, _ in steps} <= DOCKER_INSTRUCTIONS, [n for n, _ in steps if n not in DOCKER_INSTRUCTIONS]
    for name, args in steps:
        if name == "COPY":
            *sources, _ = shlex.split(args)
            assert all((ROOT / s).exists() for s in sources), args
    cmd = [args for name, args in steps if name == "CMD"][-1]
    import json

    argv = json.loads(cmd)
    assert argv[:5] == ["python", "-m", "streamlit", "run", "app.py"] and "0.0.0.0" in argv
    exposed = [args for name, args in steps if name == "EXPOSE"]
    assert exposed == [argv[argv.index("--server.port") + 1]]
    assert any(name == "HEALTHCHECK" and "/_stcore/health" in args for name, args in steps)


# ----------------------------------------------------------------------------
# The command, for real (two replicas and the proxy on loopback; no browser)


def get(url: str, cookie: str | None = None) -> tuple[str, str]:
    """(body, the SERVERID the proxy set or '')."""
    request = urllib.request.Request(url, headers={"Cookie": f"SERVERID={cookie}"} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        set_cookie = " ".join(response.headers.get_all("Set-Cookie") or [])
        match = re.search(r"SERVERID=(\w+)", set_cookie)
        return response.read().decode(), match.group(1) if match else ""


def test_deploy_command_serves_through_the_proxy_and_stops_everything_on_sigterm():
    need_haproxy()
    port = free_run(3)
    proc = subprocess.Popen([sys.executable, "-m", "spp_viz.deploy", "--replicas", "2", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not any(line.startswith("proxy:") for line in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
        assert any(line.startswith("proxy:") for line in lines), lines
        replicas = [re.fullmatch(r"replica (\d): port (\d+), pid (\d+)", line) for line in lines if line.startswith("replica")]
        assert [(m.group(1), int(m.group(2))) for m in replicas if m] == [("1", port + 1), ("2", port + 2)], lines
        pids = [int(m.group(3)) for m in replicas if m]
        url = f"http://127.0.0.1:{port}/_stcore/health"
        seen = {get(url)[1] for _ in range(4)}
        assert seen == {"r1", "r2"}  # round robin for browsers without a cookie, and each gets one
        assert get(url, cookie="r2") == ("ok", "")  # a browser with its cookie stays: no new cookie
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
        time.sleep(0.5)
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=2)
    finally:
        if proc.poll() is None:  # the test failed: stop the command, and what it started (own process groups)
            pids = [int(m.group(1)) for line in lines for m in [re.search(r"pid (\d+)", line)] if m]
            for pid in [proc.pid, *pids]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            proc.wait(timeout=10)
