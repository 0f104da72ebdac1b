"""Every number of a JSON report, in order: how a CUDA run is compared with a CPU run (tests and
the GPU benchmark), leaving out what is measured rather than computed."""

from __future__ import annotations


def report_numbers(value: object, skip: str = "ms") -> list[float]:
    """The numbers in ``value`` depth-first, leaving out every key that contains ``skip`` (timings)."""
    if isinstance(value, dict):
        return [x for k, v in value.items() if skip not in k for x in report_numbers(v, skip)]
    if isinstance(value, list):
        return [x for v in value for x in report_numbers(v, skip)]
    return [float(value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []
