"""Profile a slow path with pyinstrument (the project's ``bench`` extra) and write the tree.

    python -m benchmarks.profile app      # the app's first run on a 12 MP upload (AppTest)
    python -m benchmarks.profile rerun    # then one interaction: levels 1,2,4 -> 6,3,2,1
    python -m benchmarks.profile engine   # spp_viz.report.run_inspection on the same photo

The profile goes to ``benchmarks/results/profile-TARGET.txt`` (or ``--out PATH``), headed by the
command and the machine it ran on, and is printed too. It is not kept in git: a profile describes
the code it was taken on, so it is regenerated when it is wanted, never edited.

``app``: AppTest runs app.py in its own script thread and pyinstrument samples only the
thread that starts it, so the profiled script is a two-line wrapper that starts the profiler
inside the script thread and ``exec``s app.py (same ``__file__``, same code, same caches).
The model is loaded first (a warm-up run on the default sample), and the upload carries a
fresh JPEG comment so every data cache misses: exactly the "first analysis" of target 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

from .common import APP, ROOT, Workspace, machine, machine_line

RESULTS = ROOT / "benchmarks" / "results"

_WRAPPER = '''\
import pathlib
from pyinstrument import Profiler
_app = {app!r}
_out = pathlib.Path({out!r})
_profile = _out.exists()  # the benchmark creates the file when the NEXT run should be profiled
_p = Profiler(interval={interval})
if _profile:
    _p.start()
try:
    exec(compile(open(_app, encoding="utf-8").read(), _app, "exec"), {{"__name__": "__main__", "__file__": _app}})
finally:
    if _profile:
        _p.stop()
        _out.write_text(_p.output_text(unicode=False, color=False, show_all=False))
'''


def profile_app(ws: Workspace, interval: float, rerun: bool = False) -> str:
    from streamlit.testing.v1 import AppTest

    from .app_interaction import with_comment

    out = ws.dir / "app_profile.txt"
    script = ws.dir / "profiled_app.py"
    script.write_text(_WRAPPER.format(app=str(APP), out=str(out), interval=interval))
    at = AppTest.from_file(str(script), default_timeout=600)
    at.run()  # imports + model load on the default sample: not profiled
    at.file_uploader(key="image").upload("photo_12mp.jpg", with_comment(ws.photo().read_bytes(), f"profile {time.time_ns()}"), "image/jpeg")
    if rerun:
        at.run()  # the first analysis, not profiled
        at.text_input(key="levels").set_value("6,3,2,1")
    out.write_text("")  # arm the profiler for this run
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    what = "interaction rerun (levels 1,2,4 -> 6,3,2,1)" if rerun else "first run of a 12 MP upload"
    return f"# {what}: AppTest.run() wall time {elapsed:.2f} s\n" + out.read_text()


def profile_engine(ws: Workspace, interval: float) -> str:
    from pyinstrument import Profiler

    from spp_viz.report import run_inspection

    data = ws.photo().read_bytes()
    run_inspection(data, download=False)  # warm-up
    p = Profiler(interval=interval)
    p.start()
    run_inspection(data, download=False)
    p.stop()
    return p.output_text(unicode=False, color=False, show_all=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description="pyinstrument profile of a slow path")
    parser.add_argument("target", choices=["app", "rerun", "engine"])
    parser.add_argument("--interval", type=float, default=0.001, help="sampling interval in seconds")
    parser.add_argument("--out", metavar="PATH", help="where to write it (default: benchmarks/results/profile-TARGET.txt)")
    args = parser.parse_args(argv)
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        print("pyinstrument is missing: pip install -e '.[bench]'", file=sys.stderr)
        return 0
    warnings.filterwarnings("ignore")
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    ws = Workspace()
    header = f"# python -m benchmarks.profile {args.target} --interval {args.interval}\n# {machine_line(machine())}\n"
    try:
        if args.target == "engine":
            text = profile_engine(ws, args.interval)
        else:
            text = profile_app(ws, args.interval, rerun=args.target == "rerun")
    finally:
        ws.close()
    out = Path(args.out) if args.out else RESULTS / f"profile-{args.target}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + text, encoding="utf-8")
    print(header + text)
    print(f"profile: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
