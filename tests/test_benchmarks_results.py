"""The benchmark tables in benchmarks/README.md are what the results file gives, never figures typed by hand."""

from __future__ import annotations

import pytest

from benchmarks import results
from benchmarks.common import Row


def test_the_readme_tables_are_generated_from_the_results_file() -> None:
    text = results.README.read_text(encoding="utf-8")
    assert results.readme_with(results.load(), text) == text, (
        "benchmarks/README.md's tables differ from benchmarks/results/results.json: run `python -m benchmarks --markdown`")


def test_every_result_says_which_machine_measured_it() -> None:
    areas = results.load()["areas"]
    assert areas, "the results file is empty"
    for area, entry in areas.items():
        machine = entry["run"]["machine"]
        assert {"cpu_model", "cores_available", "torch", "date"} <= set(machine), area
        assert entry["run"]["command"].startswith("python -m benchmarks"), area
        assert entry["rows"], area


def _run(date: str) -> dict:
    return {"command": "python -m benchmarks --only x", "quick": True,
            "machine": {"cpu_model": "cpu", "cores_available": 2, "cores_logical": 2, "torch": "2", "torch_threads": 2,
                        "device": "cpu", "python": "3.11", "date": date, "load_average": [1.0, 1.0, 1.0]}}


def test_a_run_replaces_only_the_areas_it_measured() -> None:
    first = results.record({"format": results.FORMAT, "areas": {}}, _run("day 1"),
                           {"heads": (1.0, [Row("3 heads", "spp vs bare", "1.0x")]), "views": (1.0, [Row("11 views", "erf", "2x")])})
    second = results.record(first, _run("day 2"), {"heads": (1.0, [Row("3 heads", "spp vs bare", "0.9x")])})
    assert second["areas"]["heads"]["rows"][0]["measured"] == "0.9x"
    assert second["areas"]["views"] == first["areas"]["views"]
    table = results.render_markdown(second)
    assert table.index("### day 1") > table.index("### day 2")  # sections follow the area numbers: 3 before 11
    assert "| 3 | spp vs bare | 0.9x | - | - |" in table and "1.0x" not in table


def test_a_readme_without_its_generated_block_is_refused_in_one_sentence() -> None:
    with pytest.raises(ValueError, match="lost its generated block"):
        results.readme_with({"format": results.FORMAT, "areas": {}}, "# Benchmarks\n")
