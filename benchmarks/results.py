"""The results file that ``python -m benchmarks`` writes, and the table in ``benchmarks/README.md`` made from it.

``benchmarks/results/results.json`` holds, for each area last measured, the rows it printed and
the run that measured them: the command, whether it was quick, and the machine (CPU model, cores,
torch and its threads, device, Python, the date in UTC and the load average at its start). A run
replaces the areas it measured and keeps the others, so ``--only gpu`` on a GPU machine adds its
rows beside the CPU machine's. ``benchmarks/README.md`` is prose written by people around one
block between :data:`BEGIN` and :data:`END` that only :func:`write_readme` writes (a test checks
the block is what the results file gives), so nobody edits a figure by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .common import ROOT, Row, machine_line

RESULTS = ROOT / "benchmarks" / "results" / "results.json"
README = ROOT / "benchmarks" / "README.md"
BEGIN = "<!-- BEGIN RESULTS: written by `python -m benchmarks` from results/results.json; do not edit by hand -->"
END = "<!-- END RESULTS -->"
FORMAT = 1


def load(path: Path = RESULTS) -> dict[str, Any]:
    """The results file, or an empty one when there is none yet."""
    if not path.exists():
        return {"format": FORMAT, "areas": {}}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} has format {data.get('format')!r}; this code reads format {FORMAT}")
    return data


def record(results: dict[str, Any], run: dict[str, Any], measured: dict[str, tuple[float, list[Row]]]) -> dict[str, Any]:
    """``results`` with each area in ``measured`` (area -> (seconds, rows)) replaced by this run's."""
    areas = dict(results.get("areas", {}))
    for area, (seconds, rows) in measured.items():
        areas[area] = {"run": run, "seconds": seconds, "rows": [r.as_dict() for r in rows]}
    return {"format": FORMAT, "areas": dict(sorted(areas.items()))}


def save(results: dict[str, Any], path: Path = RESULTS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str, ensure_ascii=False) + "\n", encoding="utf-8")


def _number(row: dict[str, Any]) -> int:
    """The area number a row's label starts with (``"4 SPPF"`` -> 4)."""
    head = str(row["area"]).split()[0]
    return int(head) if head.isdigit() else 99


def _cell(text: Any) -> str:
    return str(text).strip().replace("|", "\\|").replace("\n", " ")


def _met(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[met]


def render_markdown(results: dict[str, Any]) -> str:
    """One section per run: when, the command, the machine, then its rows ordered by area number."""
    runs: list[tuple[dict[str, Any], list[str], list[dict[str, Any]]]] = []
    for area, entry in results.get("areas", {}).items():
        for run, names, rows in runs:
            if run == entry["run"]:
                names.append(area)
                rows.extend(entry["rows"])
                break
        else:
            runs.append((entry["run"], [area], list(entry["rows"])))
    sections = []
    for run, names, rows in sorted(runs, key=lambda r: min((_number(x) for x in r[2]), default=99)):
        rows = sorted(rows, key=_number)
        kind = "quick" if run.get("quick") else "full"
        end = run.get("load_average_end")
        after = f"; load average {' '.join(f'{x:.1f}' for x in end)} at the end, {run['seconds']:.0f} s in all" if end else ""
        lines = [f"### {run['machine']['date']}: `{run['command']}` ({kind} run; areas {', '.join(sorted(names))})", "",
                 f"_{machine_line(run['machine'])}{after}_", "",
                 "| # | figure | measured | target | met? |", "|---|---|---|---|---|"]
        lines += [f"| {_number(r)} | {_cell(r['figure'])} | {_cell(r['measured'])} | {_cell(r['target'])} | {_met(r['met'])} |"
                  for r in rows]
        sections.append("\n".join(lines))
    return "\n\n".join(sections) if sections else "_No results yet: run `python -m benchmarks --quick`._"


def readme_with(results: dict[str, Any], text: str) -> str:
    """``text`` (the README) with its generated block rewritten from ``results``."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"{README.name} has lost its generated block: put back the lines {BEGIN!r} and {END!r}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{render_markdown(results)}\n\n{END}{tail}"


def write_readme(results: dict[str, Any], path: Path = README) -> None:
    path.write_text(readme_with(results, path.read_text(encoding="utf-8")), encoding="utf-8")
