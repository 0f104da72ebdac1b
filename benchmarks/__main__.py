"""``python -m benchmarks [--quick] [--only AREAS] [--results PATH]`` and ``python -m benchmarks --markdown``

Runs the benchmarks (every area, or those in ``--only``) and prints ONE table (figure | measured |
target | met?) plus the machine line; then writes the rows into the results file
(``benchmarks/results/results.json``: the areas measured replace their earlier rows, the others
stay) and regenerates the table in ``benchmarks/README.md`` from it. ``--markdown`` only
regenerates that table from the results file. Benchmarks report, they do not test: a missed
target is a "NO" in the table, and the exit code is 0 anyway (also when one area fails: its row says so).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
import warnings
from pathlib import Path

AREAS = ("heads", "app", "figures", "engine", "memory", "cold", "family", "soak", "sessions", "views", "sizing", "phases", "gpu",
         "install", "detectors", "honest")
AREA_HELP = {
    "phases": "14 the page in two phases: 12 MP first phase and second phase vs a forward (AppTest)",
    "honest": "17 page SPP vs SPPF readings vs the pools alone (quiet, under load, 8 sessions), 12 MP second phase (Chromium)",
    "gpu": "13 CUDA vs CPU numbers, CUDA-event timings vs the JSON's, forwards at 1024 px and 12 MP (needs a GPU)",
    "heads": "3 SPP head vs bare pooling, 4 SPPF vs parallel SPP",
    "app": "1 interaction and 2 first analysis through AppTest",
    "figures": "7 numbers per plotly figure at max_side 2048 (AppTest)",
    "engine": "2 first analysis through run_inspection",
    "memory": "5 peak RSS of spp-viz inspect on 12 MP and 40 MP JPEGs",
    "cold": "6 cold start in Chromium (Playwright)",
    "family": "8 pyramid-pooling family: pool/total latency per head, separable vs square SPPF",
    "soak": "9 peak RSS and trend over 100 distinct uploads in one app process (AppTest)",
    "sessions": "10 eight browser sessions uploading at once (Playwright)",
    "views": "11 ERF per bin vs a forward, region pooling vs crop-and-rerun, the scales run",
    "sizing": "12 CPU seconds per first analysis at 1 MP and 12 MP (the sizing table of docs/serving.md)",
    "install": "15 what pip install -e . brings: distributions and their size on disk in this environment",
    "detectors": "16 a YOLOv8n-sized checkpoint: load to the rebuilt backbone vs torch.load of its state_dict; a 640 x 480 forward",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="areas:\n" + "\n".join(f"  {k:<8} {v}" for k, v in AREA_HELP.items()))
    p.add_argument("--quick", action="store_true", help="fewer repeats and smaller samples")
    p.add_argument("--results", metavar="PATH", help="the results file to update (default: benchmarks/results/results.json; "
                   "the README's table is regenerated only from the default one)")
    p.add_argument("--markdown", action="store_true", help="run nothing: regenerate benchmarks/README.md's table from the results file")
    p.add_argument("--only", metavar="AREAS", help=f"comma-separated subset of: {', '.join(AREAS)}")
    return p


def render_text(rows, machine: str) -> str:
    header = ("figure", "measured", "target", "met?")
    cells = [header] + [(f"[{r.area.split()[0]}] {r.figure}", r.measured, r.target, r.met_text) for r in rows]
    widths = [min(90, max(len(c[i]) for c in cells)) for i in range(4)]
    line = "-+-".join("-" * w for w in widths)
    out = []
    for i, c in enumerate(cells):
        out.append(" | ".join(str(v).ljust(w) for v, w in zip(c, widths)).rstrip())
        if i == 0:
            out.append(line)
    return machine + "\n\n" + "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from . import results as results_file

    path = Path(args.results) if args.results else results_file.RESULTS
    if args.markdown:
        results_file.write_readme(results_file.load(path))
        print(f"wrote {results_file.README.relative_to(results_file.ROOT)} from {path}")
        return 0
    areas = AREAS if not args.only else tuple(a.strip() for a in args.only.split(",") if a.strip())
    unknown = [a for a in areas if a not in AREAS]
    if unknown:
        print(f"unknown area(s) {unknown}; choose from {', '.join(AREAS)}", file=sys.stderr)
        return 2

    warnings.filterwarnings("ignore")
    # AppTest runs the script without a server: Streamlit logs "missing ScriptRunContext" noise
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)

    from .common import load_average, machine, machine_line

    run = {"command": " ".join(["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]),
           "quick": args.quick, "machine": machine()}
    t0 = time.perf_counter()
    measured = _measure(areas, args.quick)
    run["load_average_end"] = load_average()
    run["seconds"] = round(time.perf_counter() - t0, 1)
    rows = [row for _, area_rows in measured.values() for row in area_rows]
    print(render_text(sorted(rows, key=lambda r: _number(r.area)),
                      f"{machine_line(run['machine'])}; {'quick' if args.quick else 'full'} run {time.perf_counter() - t0:.0f} s"))
    updated = results_file.record(results_file.load(path), run, measured)
    results_file.save(updated, path)
    if path == results_file.RESULTS:
        results_file.write_readme(updated)
    print(f"results: {path}", file=sys.stderr)
    return 0


def _number(area: str) -> int:
    head = area.split()[0]
    return int(head) if head.isdigit() else 99


def _measure(areas: tuple[str, ...], quick: bool) -> dict[str, tuple[float, list]]:
    """Run each area in ``areas`` (in :data:`AREAS`' order): area -> (seconds, its rows)."""
    from . import (
        app_interaction,
        cold_start,
        detectors,
        figures_size,
        first_analysis,
        gpu,
        heads,
        honest,
        install_size,
        memory,
        phases,
        sessions,
        sizing,
        soak,
    )
    from . import family as family_bench
    from . import views as views_bench
    from .common import Engine, Row, Workspace

    ws = Workspace()
    engine = Engine(ws)
    session = None
    measured: dict[str, tuple[float, list]] = {}

    def app_rows():
        nonlocal session
        out, session = app_interaction.run(engine, quick)
        return out

    def figure_rows():
        nonlocal session
        out, session = figures_size.run(engine, quick, session)
        return out

    plan = {
        "heads": lambda: heads.run(engine, quick),
        "app": app_rows,
        "figures": figure_rows,
        "engine": lambda: first_analysis.run(engine, quick),
        "memory": lambda: memory.run(ws, quick),
        "cold": lambda: cold_start.run(ws, quick),
        "family": lambda: family_bench.run(engine, quick),
        "soak": lambda: soak.run(quick),
        "sessions": lambda: sessions.run(quick),
        "views": lambda: views_bench.run(engine, quick),
        "sizing": lambda: sizing.run(quick),
        "gpu": lambda: gpu.run(ws, quick),
        "phases": lambda: phases.run(engine, quick),
        "install": install_size.rows,
        "detectors": lambda: detectors.run(quick),
        "honest": lambda: honest.run(engine, quick),
    }
    try:
        for area in (a for a in AREAS if a in areas):
            start = time.perf_counter()
            print(f"... {area}: {AREA_HELP[area]}", file=sys.stderr, flush=True)
            try:
                rows = list(plan[area]())
            except Exception as exc:  # a benchmark that breaks becomes a row, never a crash
                said = str(exc).splitlines()[0][:150] if str(exc) else ""
                rows = [Row(f"{AREA_HELP[area].split()[0]} {area}", AREA_HELP[area], f"error: {type(exc).__name__}: {said}",
                            "-", None, None, {"traceback": traceback.format_exc()})]
            measured[area] = (round(time.perf_counter() - start, 1), rows)
    finally:
        ws.close()
    return measured


if __name__ == "__main__":
    sys.exit(main())
