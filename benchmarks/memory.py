"""Target 5: peak RSS of ``spp-viz inspect`` on 12 MP and 40 MP JPEGs.

Each measurement runs ``python -m spp_viz inspect FILE --json --offline``, one at a time,
under a tiny Python wrapper that waits for it and reads
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` (what ``/usr/bin/time -v`` reports as
"Maximum resident set size").

Why the wrapper: on Linux a child's ``ru_maxrss`` starts from the RSS of the process it was
forked (or vforked) from, because exec() carries the old address space's high-water mark into
the new program (``exec_mmap`` in fs/exec.c). Spawned straight from this benchmark process,
which holds torch, AppTest and a few large images, every reading came back as this process's
own size (the same 2.1 GB for 12 MP and 40 MP). The wrapper is ~10 MB, so that floor is
negligible. A reference row measures ``python -c "import torch, spp_viz.cli"`` the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, Row, Workspace

CASES = (
    ("12 MP (4000x3000)", (4000, 3000), 1.5),
    ("40 MP (7300x5500)", (7300, 5500), 2.5),
)

# argv: RESULT_FILE CMD...; runs CMD with inherited stdout/stderr, writes "exit maxrss_kib"
_WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[2:])\n"
    "open(sys.argv[1], 'w').write(f'{rc} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}')\n"
)


def peak_rss(args: list[str]) -> tuple[float, float, int, str, bytes]:
    """Run ``args`` under the wrapper; return (peak RSS in MiB, wall s, exit code, stderr tail, stdout)."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "rss"
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        with open(out, "wb") as fo, open(err, "wb") as fe:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", _WRAPPER, str(result), *args], stdout=fo, stderr=fe, cwd=ROOT, check=False)
            wall = time.perf_counter() - start
        rc_text, rss_text = result.read_text().split()
        tail = err.read_text(errors="replace")[-300:]
        body = out.read_bytes()
    # Linux reports ru_maxrss in KiB (macOS in bytes)
    kib = int(rss_text) / 1024 if sys.platform == "darwin" else int(rss_text)
    return kib / 1024, wall, int(rc_text), tail, body


def run(ws: Workspace, quick: bool) -> list[Row]:
    rows = []
    ref_mib, _, _, _, _ = peak_rss([sys.executable, "-c", "import torch, spp_viz.cli"])
    for label, size, limit_gb in CASES:
        path = ws.photo(size)
        cmd = [sys.executable, "-m", "spp_viz", "inspect", str(path), "--json", "--offline"]
        mib, wall, rc, tail, body = peak_rss(cmd)
        if rc == 0:
            try:
                json.loads(body)
            except ValueError:
                rc, tail = -1, "stdout was not one JSON object"
        gb = mib * 1024 * 1024 / 1e9
        if rc != 0:
            rows.append(Row("5 memory", f"peak RSS of spp-viz inspect, {label}", f"failed (exit {rc}): {tail.strip()}",
                            f"<= {limit_gb} GB", False, None))
            continue
        rows.append(Row(
            "5 memory", f"peak RSS of spp-viz inspect --json --offline, {label}",
            f"{mib:,.0f} MiB ({gb:.2f} GB), run {wall:.1f} s", f"<= {limit_gb} GB", gb <= limit_gb, gb,
            dict(peak_rss_mib=round(mib, 1), wall_s=round(wall, 2), file_mb=round(path.stat().st_size / 1e6, 2), command=" ".join(cmd[1:])),
        ))
    rows.append(Row("5 memory", "  reference: python -c 'import torch, spp_viz.cli' (imports only)",
                    f"{ref_mib:,.0f} MiB", "report", None, ref_mib))
    return rows
