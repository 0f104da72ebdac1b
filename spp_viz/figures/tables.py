"""Rows for the app's tables. Counts stay numbers (the app formats them); every latency is a
string from :func:`spp_viz.timing.format_latency` ("3.4 ms ± 4%", "· noisy" when its spread stayed
above 10 %), and a cell may read "measuring…" or "not measured"."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Mapping, Sequence

from ..choices import HeadWeights
from ..dimensions import SPPFStage
from ..i18n import N_, _
from ..timing import Latency, format_latency, format_ms
from .photo import label_keys
from .text import engine_name, sppf_stage, times

if TYPE_CHECKING:  # the results these rows show; the rows themselves import no torch
    import pandas
    from pandas.io.formats.style import Styler

    from ..analysis import Prediction
    from ..family import EqualityCheck, FamilyComparison, HeadReport
    from ..scales import ScaleRow

# Column names stay English in the rows (tests and exports read them); the page shows them through
# :func:`shown` / :func:`styled`, which translate each (hence N_: extracted, translated when shown).
POOL_COLUMN = N_("pool (median ± spread)")
TOTAL_COLUMN = N_("total (median ± spread)")
COST_COLUMNS = (N_("head"), N_("module output"), N_("output numbers"), N_("params (with 1x1 convs)"), N_("FLOPs (convs)"),
                POOL_COLUMN, TOTAL_COLUMN, N_("timed on"))
# how the costs table shows its counts (they stay numbers in the rows; latencies are strings)
COST_FORMATS = {"output numbers": "{:,}", "params (with 1x1 convs)": "{:,}", "FLOPs (convs)": "{:,}"}


def shown(rows: Sequence[Mapping[str, object]]) -> pandas.DataFrame:
    """Rows as the page shows them: a frame whose column names are in the page's language.
    pandas is imported here, not with the module: phase 0 imports it after the explorer is sent."""
    import pandas

    frame = pandas.DataFrame(list(rows))
    return frame.rename(columns={column: _(column) for column in frame.columns})


def styled(rows: Sequence[Mapping[str, object]], formats: Mapping[str, str] | None = None) -> Styler:
    """Rows as a table to show (:func:`shown`), numbers formatted by ``formats`` (by the rows' column
    names; a missing value reads "not measured")."""
    frame = shown(rows)
    return frame.style.format({_(column): f for column, f in (formats or {}).items()}, na_rep=_("not measured"))


def latency_cell(latency: Latency | None, measuring: bool = False) -> str:
    """A latency as the page writes it, or why there is none (still being measured, or not measured)."""
    if latency is not None:
        return format_latency(latency)
    return _("measuring…") if measuring else _("not measured")


def timed_on(report: HeadReport, measuring: bool = False) -> str:
    """Where a head was timed and with how many threads (``cpu, 2 threads``)."""
    if report.timing is not None:
        return report.timing.pool.where
    return _("measuring…") if measuring else _("not measured")


def costs_rows(costs: FamilyComparison, measuring: bool = False) -> list[dict[str, object]]:
    """One row per head of the SPP vs SPPF view: SPPF, YOLOv5's parallel SPP and the current SPP
    head. ``module output`` is each module's own output (SPPF's cv2 output); the pool column times
    the parameter-free pooling alone, the total column the whole module with its 1 × 1 convs (for
    classic SPP both are the same call); ``timed on`` the device and thread count the medians were
    measured with."""
    return [dict(zip(COST_COLUMNS, (
        engine_name(r.view_name), times(*r.output_shape), math.prod(r.output_shape), r.params, r.flops,
        latency_cell(r.timing.pool if r.timing else None, measuring),
        latency_cell(r.timing.total if r.timing else None, measuring), timed_on(r, measuring),
    ))) for r in costs.heads]


# the engine's own tables' columns (the dimension table, SPPF's receptive fields), shown through :func:`shown`
ENGINE_COLUMNS = (N_("step"), N_("shape"), N_("arithmetic"), N_("numbers"), N_("branch"), N_("cells"), N_("pixels"))
CONVS = {HeadWeights.TRAINED: N_(" (trained convs)"), HeadWeights.SEEDED: N_(" (untrained convs)"), HeadWeights.NONE: N_(" (no convs)")}


def family_rows(family: FamilyComparison, measuring: bool = False) -> list[dict[str, str]]:
    """One row per head of what it costs, every cell a string (no empty cells); a latency not
    there yet reads "measuring…" while the page measures, else "not measured". Six columns, so
    the table fits beside the sidebar at 1024 px (the device is the caption's: one map, one device)."""
    return [{
        N_("head"): r.id, N_("output"): times(*r.output_shape) + (_(" (fixed length)") if r.fixed_length else ""),
        N_("params"): f"{r.params:,}", N_("GFLOPs"): f"{r.flops / 1e9:.3f}", POOL_COLUMN: latency_cell(r.timing.pool if r.timing else None, measuring),
        TOTAL_COLUMN: latency_cell(r.timing.total if r.timing else None, measuring) + _(CONVS[r.weights]),
    } for r in family.heads]


RF_CELLS_COLUMN = N_("branch RF, cells (h × w)")  # rows × columns, as every map size on the page


def family_branch_rows(family: FamilyComparison) -> list[dict[str, str]]:
    """One row per head: its name, its branches' receptive fields and its exact equalities with the
    other heads compared here: ``sppf (yes)`` with the head as compared, or the other head's
    settings when the claim is about it at other settings (``SPPF (YOLOv5): k=3, n=1 (yes)``)."""
    return [{
        N_("head"): r.id, N_("name"): r.name,
        RF_CELLS_COLUMN: ", ".join(f"{engine_name(b.name)}: " + _rf(b.rf_cells) for b in r.branches),
        N_("branch RF, px (h × w)"): ", ".join(_rf(b.rf_pixels) + (_(" (whole image)") if b.whole_image else "")
                                   for b in r.branches),
        N_("exactly equal to"): ", ".join(_partner(family, e) for e in r.exact_equal_to if e.other in family.ids) or _("none here"),
    } for r in family.heads]


def _rf(size: tuple[int, int]) -> str:
    """``rows×cols``, or that a branch pools nothing (a paper-rule level with no bins on this map)."""
    return f"{size[0]}×{size[1]}" if any(size) else _("no bins")


def _partner(family: FamilyComparison, check: EqualityCheck) -> str:
    verdict = _("yes") if check.equal else _("NO")
    other = family.head(check.other)
    if check.other_args is None or other.args == check.other_args:
        return f"{check.other} ({verdict})"
    from ..heads.registry import get_spec  # a head's name with its settings: the module knows them

    return f"{engine_name(get_spec(check.other).view_name(check.other_args))} ({verdict})"


def bin_label_rows(labels: list[list[Prediction]]) -> list[dict[str, str]]:
    """One row per top-1 label of a level's bins, numbered as on the photo (:func:`label_keys`):
    how many bins read it, and their probabilities."""
    rows = []
    for key, label in enumerate(label_keys(labels), start=1):
        found = [p.probability for row in labels for p in row if p.label == label]
        low, high = f"{min(found):.0%}", f"{max(found):.0%}"
        rows.append({"#": str(key), N_("top-1 label"): label, N_("bins"): str(len(found)),
                     N_("probability"): low if low == high else f"{low}–{high}"})
    return rows


def dimension_rows(table: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """The engine's dimension table (:func:`spp_viz.dimensions.dimension_table`, ASCII for the CLI
    and the JSON) written as the page writes every shape: ``1,280 × 10 × 15``, not ``1280 x 10 x 15``;
    the rows' ``key`` (for code, not for readers) left out."""
    return [{key: _as_shown(value) if isinstance(value, str) else value for key, value in row.items() if key != "key"}
            for row in table]


def _as_shown(text: str) -> str:
    grouped = re.sub(r"(?<![\d,.])(\d{4,})(?![\d,.])", lambda m: f"{int(m.group(1)):,}", text)
    return grouped.replace(" x ", " × ")


def prediction_rows(predictions: tuple[Prediction, ...]) -> list[dict[str, str]]:
    return [{N_("label"): p.label, N_("probability"): f"{p.probability:.1%}"} for p in predictions]


def scale_rows(rows: list[ScaleRow]) -> list[dict[str, str]]:
    """One row per working size: what stays (SPP's length) and what changes."""
    return [{
        N_("input"): f"{r.size[0]}×{r.size[1]}" + (_(" (scaled up)") if r.upscaled else ""), N_("feature map"): "×".join(map(str, r.feature_map)),
        N_("SPP length"): f"{r.spp_length:,}", sppf_stage(SPPFStage.POOLS): f"{r.sppf_numbers:,}",
        N_("cosine to first"): f"{r.cosine_to_first:.3f}",
        N_("top-1"): f"{r.predictions[0].label} {r.predictions[0].probability:.1%}" if r.predictions else _("no classifier"),
        N_("forward"): r.forward.text() if r.forward else _("{time} (one run)").format(time=format_ms(r.forward_ms)),
    } for r in rows]
