"""``python -m benchmarks [--quick] [--json PATH] [--markdown] [--only AREAS]``

Runs every benchmark and prints ONE table (figure | measured | target | met?) plus the machine
line. Benchmarks report, they do not test: a missed target is a "NO" in the table, and the
exit code is 0 anyway (also when one area fails: its row says so).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
import warnings

AREAS = ("heads", "app", "figures", "engine", "memory", "cold", "family", "soak", "sessions", "views", "sizing", "phases", "honest",
         "gpu")
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
    "sizing": "12 CPU seconds per first analysis at 1 MP and 12 MP (the README's sizing table)",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="areas:\n" + "\n".join(f"  {k:<8} {v}" for k, v in AREA_HELP.items()))
    p.add_argument("--quick", action="store_true", help="fewer repeats (about 2 minutes on 2 quiet cores)")
    p.add_argument("--json", metavar="PATH", help="also save every row (with details) as JSON")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown (for the README)")
    p.add_argument("--only", metavar="AREAS", help=f"comma-separated subset of: {', '.join(AREAS)}")
    return p


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


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


def render_markdown(rows, machine: str) -> str:
    def esc(s: str) -> str:
        return str(s).replace("|", "\\|")

    out = ["| # | figure | measured | target | met? |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r.area.split()[0]} | {esc(r.figure.strip())} | {esc(r.measured)} | {esc(r.target)} | {r.met_text} |")
    return f"_{machine}_\n\n" + "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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

    from . import app_interaction, cold_start, figures_size, first_analysis, gpu, heads, honest, memory, phases, sessions, sizing, soak
    from . import family as family_bench
    from . import views as views_bench
    from .common import Engine, Row, Workspace, machine_line

    load_before = _loadavg()
    ws = Workspace()
    engine = Engine(ws)
    rows: list[Row] = []
    area_seconds: dict[str, float] = {}
    session = None
    t0 = time.perf_counter()

    def step(area: str, fn) -> None:
        start = time.perf_counter()
        print(f"... {area}: {AREA_HELP[area]}", file=sys.stderr, flush=True)
        try:
            rows.extend(fn())
        except Exception as exc:  # a benchmark that breaks becomes a row, never a crash
            rows.append(Row(area, f"{AREA_HELP[area]}", f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:150] if str(exc) else ''}",
                            "-", None, None, {"traceback": traceback.format_exc()}))
        area_seconds[area] = round(time.perf_counter() - start, 1)

    def app_rows():
        nonlocal session
        out, session = app_interaction.run(engine, args.quick)
        return out

    def figure_rows():
        nonlocal session
        out, session = figures_size.run(engine, args.quick, session)
        return out

    try:
        plan = {
            "heads": lambda: heads.run(engine, args.quick),
            "app": app_rows,
            "figures": figure_rows,
            "engine": lambda: first_analysis.run(engine, args.quick),
            "memory": lambda: memory.run(ws, args.quick),
            "cold": lambda: cold_start.run(ws, args.quick),
            "family": lambda: family_bench.run(engine, args.quick),
            "soak": lambda: soak.run(args.quick),
            "sessions": lambda: sessions.run(args.quick),
            "views": lambda: views_bench.run(engine, args.quick),
            "sizing": lambda: sizing.run(args.quick),
            "gpu": lambda: gpu.run(ws, args.quick),
            "phases": lambda: phases.run(engine, args.quick),
            "honest": lambda: honest.run(engine, args.quick),
        }
        for area in AREAS:
            if area in areas:
                step(area, plan[area])
    finally:
        ws.close()
    total = time.perf_counter() - t0

    order = {a: i for i, a in enumerate(["1", "2", "3", "4", "5", "6", "7"])}
    rows.sort(key=lambda r: order.get(r.area.split()[0], 99))  # stable: keeps each area's own order
    machine = (f"{machine_line()}; load average {load_before} at start, {_loadavg()} at end; "
               f"{'quick' if args.quick else 'full'} run {total:.0f} s")
    print(render_markdown(rows, machine) if args.markdown else render_text(rows, machine))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": machine, "quick": args.quick, "seconds": round(total, 1), "area_seconds": area_seconds,
                       "rows": [r.as_dict() for r in rows]}, f, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
