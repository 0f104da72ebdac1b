"""The output dimensions, and why they are what they are: from the input to the SPP vector and
SPPF's output (:func:`dimension_rows`, from sizes alone; :func:`dimension_table` for a map the
backbone gave), and the same arithmetic over input sizes (:func:`size_sweep`): SPP's length
never changes, SPPF's output grows. Torch-free: the page shows the table before the forward
(:mod:`spp_viz.phase0`), and the report's table comes from the same rows after it. The rows'
words are the run's language (:mod:`spp_viz.i18n`: English for the CLI and the report).

SPPF has four sizes worth naming, and each is named once, here (:class:`SPPFStage`,
:func:`sppf_sizes`): every text, card, table, chart and JSON label reads its name and size from
:class:`SPPFSize`. As ultralytics defines ``SPPF(c1, c2, k, n)`` (``c_ = c1 // 2``;
``cv1 = Conv(c1, c_, 1, 1)``; ``cv2 = Conv(c_ * (n + 1), c2, 1, 1)``), with ``c2 = c1 = C``:

* cv1's output: C/2 channels;
* the concatenation ``[x, y1, ..., yn]`` of cv1's output and its n pools: (n + 1) · C/2;
* cv2's output, the module's: C;
* the parameter-free pools alone on the C-channel map (no cv1, no cv2), what the page draws and
  checks with ``torch.equal``: (n + 1) · C.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from .bins import LevelBins, level_arithmetic, rule_length, spp_arithmetic
from .choices import BinRule, Choice
from .defaults import SPPF_DEFAULT_N
from .geometry import StageGeometry
from .i18n import N_, _
from .options import parse_levels

if TYPE_CHECKING:
    from .analysis import FeatureResult, PyramidResult
    from .family import HeadReport


class SPPFStage(Choice):
    """The four sizes of SPPF, in the order the data flows (the pools alone last: no conv at all)."""

    CV1 = "cv1"
    CONCAT = "concat"
    CV2 = "cv2"
    POOLS = "pools"


# The one name of each stage: every place that shows an SPPF size uses it (N_: the page translates
# names and roles where it shows them, spp_viz.figures.text).
SPPF_STAGE_NAMES: dict[SPPFStage, str] = {
    SPPFStage.CV1: N_("SPPF cv1 output"),
    SPPFStage.CONCAT: N_("SPPF concatenation"),
    SPPFStage.CV2: N_("SPPF cv2 output"),
    SPPFStage.POOLS: N_("SPPF pools alone"),
}
# What each stage is, in a few words (tables' and tooltips' second line).
SPPF_STAGE_ROLES: dict[SPPFStage, str] = {
    SPPFStage.CV1: N_("the 1 × 1 conv cv1 halves the channels"),
    SPPFStage.CONCAT: N_("cv1's output and its n pools, side by side"),
    SPPFStage.CV2: N_("the 1 × 1 conv cv2 back to C: the module's output"),
    SPPFStage.POOLS: N_("the n chained pools on the C-channel map itself, no convs (what this page draws and checks)"),
}


@dataclass(frozen=True)
class SPPFSize:
    """One SPPF stage on a ``C x h x w`` map with ``repeats`` chained pools: its channels and
    ``h x w`` (every stage keeps the map's size); ``formula`` says how the channels follow from C."""

    stage: SPPFStage
    channels: int
    height: int
    width: int
    repeats: int

    @property
    def name(self) -> str:
        return SPPF_STAGE_NAMES[self.stage]

    @property
    def role(self) -> str:
        return SPPF_STAGE_ROLES[self.stage]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.channels, self.height, self.width

    @property
    def numbers(self) -> int:
        return self.channels * self.height * self.width

    @property
    def formula(self) -> str:
        return sppf_formula(self.stage, self.repeats)


def sppf_formula(stage: SPPFStage, repeats: int = SPPF_DEFAULT_N) -> str:
    """``C/2``, ``4 · C/2``, ``C`` or ``4C`` (for n = 3): a stage's channels in terms of C."""
    branches = repeats + 1
    return {SPPFStage.CV1: "C/2", SPPFStage.CONCAT: f"{branches} · C/2", SPPFStage.CV2: "C",
            SPPFStage.POOLS: f"{branches}C"}[stage]


@dataclass(frozen=True)
class SPPFWidths:
    """A checkpoint's trained block's own widths (cv1's ``hidden`` and cv2's ``out`` channels),
    which need not be C/2 and C; ``note`` says whose they are (``trained, yolov8n.pt``)."""

    hidden: int
    out: int
    note: str


def sppf_sizes(channels: int, height: int, width: int, repeats: int = SPPF_DEFAULT_N,
               widths: SPPFWidths | None = None) -> dict[SPPFStage, SPPFSize]:
    """Every SPPF stage's size on a ``channels x height x width`` map (ultralytics' arithmetic:
    ``c_ = C // 2``, or a trained block's own ``widths``), in :class:`SPPFStage` order."""
    half, out = (widths.hidden, widths.out) if widths else (channels // 2, channels)
    count = {SPPFStage.CV1: half, SPPFStage.CONCAT: (repeats + 1) * half, SPPFStage.CV2: out,
             SPPFStage.POOLS: (repeats + 1) * channels}
    return {stage: SPPFSize(stage, count[stage], height, width, repeats) for stage in SPPFStage}


def dimension_rows(input_size: tuple[int, int], stage: str, stride: int, shape: tuple[int, int, int],
                   levels: Sequence[LevelBins], widths: SPPFWidths | None = None) -> list[dict[str, Any]]:
    """Rows ``{key, step, shape, arithmetic, numbers}`` from the input to the SPP vector and SPPF output
    (``key`` names the row for code: ``input``, ``feature_map``, ``level_<n>``, ``spp_vector``, ``sppf_<stage>``).

    ``input_size`` is ``(width, height)``, ``shape`` the stage's map ``(C, h, w)``, ``levels`` the
    pyramid's bins on it (a level's part of the vector is ``C x rows x cols``: its real grid);
    ``widths``: a trained SPPF block's own channels, named in its rows."""
    c, h, w = shape
    width, height = input_size
    rows = [
        {"key": "input", "step": _("input"), "shape": f"3 x {height} x {width}", "arithmetic": f"3 x {height} x {width} = {3 * height * width:,}", "numbers": 3 * height * width},
        {"key": "feature_map", "step": _("feature map ({stage}, stride {stride})").format(stage=stage, stride=stride), "shape": f"{c} x {h} x {w}",
         "arithmetic": f"{c:,} x {h} x {w} = {c * h * w:,}", "numbers": c * h * w},
    ]
    for level in levels:
        r, k = level.shape
        note = "" if level.valid else _(" (paper rule: not n x n)")
        rows.append({"key": f"level_{level.n}", "step": _("level {n}: {rows} x {cols} bins").format(n=level.n, rows=r, cols=k) + note,
                     "shape": f"{c} x {r} x {k}",
                     "arithmetic": level_arithmetic(c, r, k), "numbers": c * r * k})
    ns, length = [level.n for level in levels], sum(c * level.shape[0] * level.shape[1] for level in levels)
    valid = all(level.valid for level in levels)
    rows.append({"key": "spp_vector", "step": _("SPP vector (fixed length)") if valid else _("SPP vector (NOT the fixed length)"), "shape": f"{length}",
                 "arithmetic": spp_arithmetic(c, ns) if valid else f"{length:,} != {spp_arithmetic(c, ns)}", "numbers": length})
    rows += [{"key": f"sppf_{size.stage.value}", "step": f"{_(size.name)} ({_sppf_formula(size, widths)})", "shape": f"{size.channels} x {h} x {w}",
              "arithmetic": f"{size.channels:,} x {h} x {w} = {size.numbers:,}", "numbers": size.numbers}
             for size in sppf_sizes(c, h, w, widths=widths).values()]
    return rows


def trained_widths(features: FeatureResult, sppf: HeadReport | None) -> SPPFWidths | None:
    """The trained block's widths when ``sppf`` (the view's lead head) runs it on this map, else None."""
    trained = features.trained_head if sppf is not None and sppf.trained else None
    return SPPFWidths(trained.hidden, trained.out_channels, f"trained, {trained.label}") if trained else None


def dimension_table(features: FeatureResult, head: PyramidResult, sppf: HeadReport | None = None) -> list[dict[str, Any]]:
    """:func:`dimension_rows` of the map the backbone gave and the pyramid pooled on it; with
    ``sppf`` (the SPP vs SPPF view's lead head, :func:`spp_viz.family.view_lead`), a checkpoint's
    trained block's own widths, then its module's parameters and FLOPs on this map (keys
    ``sppf_params``, ``sppf_flops``)."""
    widths = trained_widths(features, sppf)
    rows = dimension_rows(features.input_size, features.stage, features.geometry.stride, features.shape,
                          [level.bins for level in head.levels], widths)
    if sppf is None:
        return rows
    _channels, h, w = features.shape
    weights = widths.note if widths else _("seeded")
    return rows + [
        {"key": "sppf_params", "step": _("SPPF parameters ({weights})").format(weights=weights), "shape": "-",
         "arithmetic": "sum(p.numel()), cv1 + cv2", "numbers": sppf.params},
        {"key": "sppf_flops", "step": _("SPPF FLOPs (convs)"), "shape": "-",
         "arithmetic": _("{flops} per cell x {h} x {w}").format(flops=f"{sppf.flops / (h * w):,.0f}", h=h, w=w), "numbers": sppf.flops},
    ]


def _sppf_formula(size: SPPFSize, widths: SPPFWidths | None) -> str:
    """``C/2`` and the like, or for a trained block's cv1, concat and cv2 its own width and whose it is."""
    if widths is None or size.stage is SPPFStage.POOLS:
        return size.formula
    return _("{channels} channels, {note}").format(channels=f"{size.channels:,}", note=widths.note)


@dataclass(frozen=True)
class SizeSweepRow:
    """One input size of :func:`size_sweep`: the map it gives, SPP's length and SPPF's numbers."""

    input_width: int
    input_height: int
    short_side: int
    feature: tuple[int, int, int]  # (C, h, w) of the stage's map for this input
    spp_length: int  # the bin rule's length: C * sum(n^2) for every size under the adaptive rule (0: no map)
    sppf_numbers: int  # SPPF's pools alone, (n + 1)C * h * w (SPPFStage.POOLS): grows with the input

    @property
    def feature_height(self) -> int:
        return self.feature[1]

    @property
    def feature_width(self) -> int:
        return self.feature[2]


def size_sweep(geometry: StageGeometry, levels: Sequence[int], aspect: float = 1.0,
               short_sides: Sequence[int] = (64, 128, 224, 320, 448, 640, 800, 1024),
               rule: BinRule | str = BinRule.ADAPTIVE) -> list[SizeSweepRow]:
    """For inputs of each short side (at ``aspect`` = width / height): feature map size, SPP length
    under ``rule`` (constant under the adaptive rule; the paper rule's follows the map) and SPPF
    output size (growing). Pure arithmetic, no forward pass."""
    levels = parse_levels(levels)
    c = geometry.channels
    rows = []
    for s in short_sides:
        height, width = (s, round(s * aspect)) if aspect >= 1 else (round(s / aspect), s)
        h, w = geometry.feature_size(height, width)
        rows.append(SizeSweepRow(width, height, s, (c, h, w), rule_length(c, h, w, levels, rule) if h and w else 0,
                                 sppf_sizes(c, h, w)[SPPFStage.POOLS].numbers))
    return rows
