"""The sentences that explain results (functions of the numbers they put in words), the words drawn
inside figures (chart titles and labels) and the formatting helpers both use (:func:`literal`,
:func:`times`; latencies are written by :func:`spp_viz.timing.format_latency`). A shape or grid is written with "×": ``n × n``, never "x".

The page's labels, help strings, buttons and messages are in :mod:`spp_viz.ui.words`; the engine
words its own errors and warnings (e.g. :data:`spp_viz.timing.UNRELIABLE_TIMINGS`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Sequence

from ..admission import Position, Work
from ..bins import LevelBins
from ..boxes import CellWindow
from ..choices import Channel, ChannelView, Pool
from ..defaults import SPPF_DEFAULT_N
from ..dimensions import SPPF_STAGE_NAMES, SPPFSize, SPPFStage, SPPFWidths, sppf_formula, sppf_sizes
from ..timing import MAX_IQR_SHARE, MAX_TIME_S, UNRELIABLE_TIMINGS, Latency, SingleRun, format_latency, format_ms, method

if TYPE_CHECKING:  # the results these sentences describe; the words themselves import no torch
    from ..erf import ErfResult
    from ..family import FamilyComparison, Speedup
    from ..pooling import CascadeCost


def channel_label(channel: Channel, channels: int | None = None) -> str:
    """Words for what a map shows: ``channel 12``, ``mean over 1,280 channels``."""
    if channel is ChannelView.MEAN:
        return f"mean over {channels:,} channels" if channels else "channel mean"
    if channel is ChannelView.MAX:
        return f"max over {channels:,} channels" if channels else "channel max"
    return f"channel {int(channel)}"


def size_label(width: int, height: int) -> str:
    """An input size for a person: ``480 × 320`` (width × height)."""
    return f"{width} × {height}"


def overlap_summary(bins: LevelBins) -> str:
    """One phrase on how a level's neighbouring bins share cells (from ``row_overlaps``/``col_overlaps``)."""
    ro, co = bins.row_overlaps, bins.col_overlaps
    rows_shared, cols_shared = sum(1 for o in ro if o), sum(1 for o in co if o)
    if not rows_shared and not cols_shared:
        return f"level {bins.n}: no overlap"
    parts = []
    if rows_shared:
        parts.append(f"{rows_shared} of {len(ro)} row boundaries share {max(ro)} cell{'s' if max(ro) > 1 else ''}")
    if cols_shared:
        parts.append(f"{cols_shared} of {len(co)} column boundaries share {max(co)} cell{'s' if max(co) > 1 else ''}")
    return f"level {bins.n}: " + ", ".join(parts)


# ----------------------------------------------------------------------------
# User text shown as typed

# Markdown, LaTeX ($) and Streamlit's :colour[...] / :emoji: syntax: all backslash-escaped in user text
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|$<>~:])")
# GitHub-flavoured Markdown links bare URLs, www. names and e-mail addresses even when escaped
_AUTOLINKS = re.compile(r"(://|www\.|@)")


def literal(text: str) -> str:
    """User-supplied text (file names, engine sentences quoting them) shown as typed, not as Markdown.

    Autolinks are broken with a zero-width space, which the reader does not see.
    """
    text = _AUTOLINKS.sub(lambda m: m.group(0)[:-1] + "\u200b" + m.group(0)[-1], text)
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def times(*parts: object) -> str:
    """``a × b × c``: the one way a shape is written for a person."""
    return " × ".join(f"{p:,}" if isinstance(p, int) else str(p) for p in parts)


# ----------------------------------------------------------------------------
# Chart titles and the selection panels

def untrained_note(untrained: bool) -> str:
    """Appended to every chart title while the weights are random."""
    return " · <b>untrained weights</b>" if untrained else ""


def bins_caption(stride: int, overlaps: Sequence[str]) -> str:
    """How bins reach the photo: through the stride (cell i covers pixels [i·s, (i+1)·s))."""
    return (f"Each feature cell covers {stride} × {stride} input pixels (the stage stride), so bin boxes are "
            f"cells × {stride}. Adaptive bins may share a cell with their neighbour: there the two boxes overlap, "
            f"by {stride} px per shared cell. "
            + "; ".join(overlaps) + ".")


def feature_map_caption(shape: tuple[int, int, int], stage: str, pool: Pool, channel: Channel) -> str:
    c, h, w = shape
    if pool is not Pool.MAX:
        winners = "Average pooling has no winning cell: every cell of a bin counts equally."
    elif isinstance(channel, ChannelView):
        winners = ("Markers: the cell each bin's maximum came from in each bin's strongest channel "
                   "(pick a channel to see its own).")
    else:
        winners = f"Markers: the cell each bin's maximum came from in channel {channel}."
    return f"{c:,} × {h} × {w} = {c * h * w:,} numbers at stage {stage}. {winners} White box: the selected bin's cells."


def pooled_value(pool: Pool, channel: Channel, channels: int | None = None) -> str:
    """What one pooled cell shows under a channel view, in one short phrase: with max pooling and
    the channel mean it is the mean of each channel's max, not a max of the mean map (so it can be
    far above the mean map's brightest cell)."""
    each = "max" if pool is Pool.MAX else "average"
    over = f"{channels:,} channels" if channels else "the channels"
    if channel is ChannelView.MEAN:
        return f"the mean over {over} of each channel's {each} in the bin"
    if channel is ChannelView.MAX:
        return f"the largest over {over} of each channel's {each} in the bin"
    return f"channel {int(channel)}'s {each} in the bin"


def pooled_caption(pool: Pool, channel: Channel, channels: int) -> str:
    return (f"Each level pools the map into n × n numbers per channel. A pooled cell shows "
            f"{pooled_value(pool, channel, channels)}, one colour scale for all levels. Click a cell to select that bin.")


def level_numbers(shape: Sequence[int], valid: bool) -> str:
    """``1,280 × 2 × 2 = 5,120 numbers`` for a level's pooled ``(C, rows, cols)``."""
    c, rows, cols = shape
    return f"{times(c, rows, cols)} = {c * rows * cols:,} numbers" + ("" if valid else " (not n × n)")


def vector_arithmetic(channels: int, levels: Sequence[int]) -> str:
    """``1,280 × (1 + 4 + 16) = 26,880``: the fixed length C × Σ n²."""
    return f"{channels:,} × ({' + '.join(str(n * n) for n in levels)}) = {channels * sum(n * n for n in levels):,}"


def vector_fixed(channels: int, levels: Sequence[int]) -> str:
    return f"Length {vector_arithmetic(channels, levels)}, whatever the input size."


def vector_ceiling(count: int) -> str:
    """Why the vector's top is flat: ``count`` numbers sit exactly at ReLU6's 6.0 (empty when none do)."""
    if not count:
        return ""
    return (f" {count:,} of its numbers are exactly 6.0: the backbone's ReLU6 activations, min(max(x, 0), 6), "
            "stop there; the chart does not clip them.")


def vector_broken(length: int, channels: int, levels: Sequence[int]) -> str:
    return (f"The paper rule gave {length:,} numbers instead of {vector_arithmetic(channels, levels)}: "
            "a fully connected layer sized for the formula would reject this vector.")


# ----------------------------------------------------------------------------
# Output dimensions, SPPF, predictions, rules

def sweep_caption(expected_length: int) -> str:
    return ("Inputs of growing size at this image's aspect ratio (pure arithmetic, no forward pass): the feature map "
            f"grows, the SPP vector stays at {expected_length:,}, {sppf_stage(SPPFStage.POOLS)} grows with the map. "
            "Star: this image.")


def sppf_stage(stage: SPPFStage, repeats: int = SPPF_DEFAULT_N) -> str:
    """A stage's one name with its channels in terms of C: ``SPPF pools alone (4C)``."""
    return f"{SPPF_STAGE_NAMES[stage]} ({sppf_formula(stage, repeats)})"


def sppf_size(size: SPPFSize) -> str:
    """``SPPF pools alone (4C): 5,120 × 10 × 15 = 768,000 numbers``: the one way a size is worded."""
    return f"{sppf_stage(size.stage, size.repeats)}: {times(*size.shape)} = {size.numbers:,} numbers"


def sppf_stages_note(c: int, h: int, w: int) -> str:
    """Every SPPF size on this map, one line each, under its one name and what it is."""
    return "\n".join(f"- **{sppf_stage(size.stage)}**: {times(*size.shape)} = {size.numbers:,}: {size.role}."
                      for size in sppf_sizes(c, h, w).values())


SPPF_INTRO = ("SPPF (YOLOv5) applies **one 5 × 5 stride-1 max pool three times**; chained stride-1 max pools compose, "
              "so the branches are exactly 5, 9 and 13 wide, equal to YOLO's parallel SPP(5, 9, 13). Both keep the "
              "map's h × w: unlike He et al.'s SPP, they are not fixed-length poolers.")
SPPF_RF_CAPTION = "Theoretical receptive field of one output cell of each branch, in feature cells and input pixels."


def sppf_equal(kernels: Sequence[int], equal: bool, max_abs_diff: float, shape: tuple[int, int, int],
               on_cv1: bool = False) -> str:
    """``on_cv1``: compared on the trained cv1's output (a detector's own SPPF), not on the map itself."""
    c, h, w = shape
    where = f"the trained cv1's {c:,} × {h} × {w} output" if on_cv1 else f"this {c:,} × {h} × {w} map"
    return (f"SPPF == parallel SPP({','.join(map(str, kernels))}): {equal}, max |diff| {max_abs_diff:g} "
            f"(torch.equal on {where}).")


def branch_title(cells: int, source: str = "x") -> str:
    """A cascade branch's title by its window, on two lines (four fit side by side at 1024 px):
    the pools' input ``source`` itself (0), or a pool of ``cells`` x ``cells``."""
    return f"pool {cells}<br>{cells} × {cells} cells" if cells else f"{source}<br>the input, 1 cell"


def trained_pools_note(trained: bool) -> str:
    """Appended to a branches figure's title when the pools read a checkpoint's trained cv1."""
    return " · on the <b>trained cv1's output</b>" if trained else ""


def sppf_output(c: int, h: int, w: int, spp_length: int, widths: SPPFWidths | None = None) -> str:
    """What both YOLO modules give on this map, by SPPF stage, against SPP's fixed length;
    ``widths``: a checkpoint's trained block, whose pools read its cv1's output (the same tensor
    from both is then the concatenation)."""
    sizes = sppf_sizes(c, h, w, widths=widths)
    same = SPPFStage.CONCAT if widths else SPPFStage.POOLS
    return (f"The same tensor from both, the **{sppf_stage(same)}**: {times(*sizes[same].shape)} "
            f"= {sizes[same].numbers:,} numbers here. With their 1 × 1 convs the modules output the "
            f"**{sppf_stage(SPPFStage.CV2)}**: {times(*sizes[SPPFStage.CV2].shape)}. Both grow with the input; "
            f"classic SPP gives **{spp_length:,}** for any input.")


def sppf_lesson(cost: CascadeCost, speed: Speedup | None, measuring: bool, family: CascadeCost | None = None) -> list[str]:
    """The SPP vs SPPF lesson in three sentences, with this map's figures: why the cascade equals the
    parallel pools, why it is cheaper on any machine (``cost``; ``family``: the sidebar's k and n
    when they differ), and how much faster it ran here (``speed``), or why that is not known."""
    k, n, windows = cost.k, cost.repeats, cost.windows
    widen = ", then ".join(map(str, windows))
    why = (f"**Why the cascade equals {'/'.join(map(str, windows))}:** a stride-1 {k} × {k} max pool widens the window "
           f"by k − 1 = {k - 1} cells ({widen}), and a max of maxes is the max of the union, so each step of the chain "
           "is exactly one wider pool.")
    count = (f"{n} × {k * k} = {cost.cascade}", " + ".join(str(q * q) for q in windows) + f" = {cost.parallel}")
    cheaper = (f"**Why it is cheaper on any machine:** per output cell and channel the cascade compares {count[0]} "
               f"cells, the parallel pools {count[1]} ({cost.ratio:.1f}× as many).")
    if family is not None and (family.k, family.repeats) != (k, n):
        cheaper += (f" At the sidebar's k = {family.k}, n = {family.repeats}: {family.cascade} against "
                    f"{family.parallel}.")
    return [why, cheaper, speed_here(speed, measuring)]


def speed_here(speed: Speedup | None, measuring: bool) -> str:
    """How much faster SPPF's pools ran than the parallel pools on this map, with the spread."""
    head = "**How much faster it was here:** "
    if speed is None:
        return head + ("measuring, now that the page is drawn." if measuring else "not measured.")
    if not speed.reliable:
        return head + ("it could not be measured reliably: the runs spread too widely (other work competed for "
                       "the processor), so no ratio is given.")
    spread = f"{speed.ratio:.1f}×, {speed.low:.1f}× to {speed.high:.1f}× within the runs' spread"
    if speed.low <= 1 <= speed.high:
        return head + (f"about as fast as the parallel pools on this map ({spread}): here the comparisons it saves "
                       "did not show in the time.")
    return head + f"SPPF's pools ran {speed.ratio:.1f}× as fast as the parallel pools ({speed.low:.1f}× to {speed.high:.1f}× within the runs' spread)."


TIMINGS_UNRELIABLE = UNRELIABLE_TIMINGS  # the engine's sentence (the JSON report's warning too)


def costs_caption(device: str, costs: FamilyComparison) -> str:
    """What the costs table measured, and what it says: SPPF's pools vs the convs around them
    (no lesson from timings that contradict themselves)."""
    sppf, parallel = costs.head("sppf"), costs.head("spp_yolo")
    lesson = ""
    if not costs.timings_consistent:
        lesson = " " + TIMINGS_UNRELIABLE
    elif sppf.pool_ms > 0 and sppf.total_ms > 0 and parallel.pool_ms > 0:
        lesson = (f" Here SPPF's pools take {sppf.pool_ms / parallel.pool_ms:.2f}× the parallel pools' time, and its "
                  f"1 × 1 convs take {1 - sppf.pool_ms / sppf.total_ms:.0%} of the whole module's.")
    weights = ("the checkpoint's trained weights for the trained row, random for the others: the time is real either way"
               if any(r.trained for r in costs.heads) else "random weights: the time is real, the values are not")
    return (f"module output: the {sppf_stage(SPPFStage.CV2)} for SPPF and the parallel pools, the vector for SPP. "
            f"pool: the parameter-free pooling alone, on as many channels of the real map as the module's pools see "
            f"(the {sppf_stage(SPPFStage.CV1)}); total: the whole module with its 1 × 1 convs cv1 and cv2 ("
            f"{weights}). The SPP row is the pyramid on this page. Medians of "
            f"interleaved runs on {device} ({method(device)}), measured after the page was drawn, alone (no analysis "
            "ran meanwhile) in the timing worker, a process of its own with the thread count in 'timed on'; rounds "
            f"until each spread (± the interquartile range as a share of the median) is at most {MAX_IQR_SHARE:.0%} or "
            f"{MAX_TIME_S:g} s have passed, and a figure still wider is marked noisy (each head once per map, SPP once "
            f"per pyramid); FLOPs count convs only.{lesson}")


TOP5_CAPTION = ("Read from the 1 × 1 average level = the backbone's global average pool (GAP), exactly what its "
                "classifier was trained on, here at this image's own size.")
SWITCH_TO_AVG = ("Switch pooling to **avg** to label every bin with the classifier's top-1: an avg-pooled bin is a "
                 "global average pool over its cells, what the classifier was trained on; a max-pooled bin is not.")


def bin_labels_caption(n: int) -> str:
    return (f"Each avg-pooled bin is a global average pool over its own cells, so the classifier can read it alone. "
            f"Level {n}.")


def moved_bins(n: int, moved: int, shape: tuple[int, int], drawn: bool) -> str:
    where = " (dashed red on the photo in the pyramid explorer)" if drawn else ""
    return f"- level {n}: {moved} of {shape[0] * shape[1]} bins differ from the adaptive rule{where}."


def paper_same(h: int, w: int) -> str:
    return f"On this {h} × {w} map the paper rule gives the same n × n bins as the adaptive rule at every level."


def paper_still_n(h: int, w: int) -> str:
    return f"Every level still has n × n bins on this {h} × {w} map, but some windows cover different cells."


def adaptive_intro(h: int, w: int) -> str:
    return ("Adaptive bins (the authors' released code, PyTorch's adaptive pooling) always give n × n bins. "
            f"What the paper's rule (window ceil(a/n), stride floor(a/n)) would do on this {h} × {w} map:")


def would_move(n: int, moved: int) -> str:
    return f"- level {n}: {n} × {n} bins as well, but {moved} of {n * n} cover different cells."


def would_match(n: int) -> str:
    return f"- level {n}: the very same {n} × {n} bins."


def rule_figure_caption(n: int, h: int, w: int) -> str:
    return (f"Level {n} on the {h} × {w} map, cell by cell: the brighter a cell, the more bins (or windows) pool it; "
            "dark cells are pooled by none, so the paper rule can simply ignore part of the map.")


# --- family -----------------------------------------------------------------
# The "Pyramid-pooling family" panel. Numbers come from spp_viz.family; these only word them.

FAMILY_UNTRAINED = ("The 1 × 1 / 3 × 3 convs of these heads have no pretrained weights for this backbone: they are seeded "
                    "random (untrained). Shapes, parameters, FLOPs and latencies are real; conv outputs are not learned "
                    "features, so only the parameter-free pooling branches are drawn, on the real map.")


def family_table_caption(devices: Sequence[str | None]) -> str:
    """What the family's tables hold; ``devices``: where each head was timed (None: not yet)."""
    where = ", ".join(sorted({d for d in devices if d})) or "this map's device"
    return ("Output: each module's own (C × h × w for the YOLO heads: SPPF's is its cv2 output). Params: trainable, "
            "sum(p.numel()). FLOPs: torch.utils.flop_counter (convs; pooling counts 0). Pool: the head's own pooling "
            "layers on the real map, at the width its pools see; total: the whole module (its convs untrained). "
            f"Medians ± their spread, all heads interleaved, timed alone on {where} in the timing worker, once per map, "
            "heads, k and n, after the page was drawn. "
            "Below, RF: the theoretical receptive field of one output cell through each branch.")


def family_equality(head: str, other: str, claim: str, equal: bool, diff: float) -> str:
    verdict = "torch.equal: **True**" if equal else "torch.equal: **False**"
    return f"- `{head}` ≡ `{other}`: {literal(claim)}. {verdict}, max |diff| {diff:g}."


def family_purpose(head: str, name: str, purpose: str, source: str) -> str:
    return f"- **`{head}`** ({literal(name)}): {literal(purpose)} Source: {literal(source)}."


def family_other_settings(head: str, other: str, claim: str, other_name: str) -> str:
    """A head whose claim is about ``other`` at other settings than the ``other`` compared here."""
    return f"- `{head}` is not checked against `{other}` here: {literal(claim)}, while the `{other}` above is {literal(other_name)}."


def family_costs_title(c: int, h: int, w: int) -> str:
    return f"Cost on this {times(c, h, w)} map: parameters, FLOPs and latency of each head"


def family_untrained(trained: Sequence[str] = ()) -> str:
    """The family panel's note on weights: :data:`FAMILY_UNTRAINED`, or, beside a checkpoint's
    trained head(s) ``trained``, the same said of the other heads."""
    if not trained:
        return FAMILY_UNTRAINED
    heads = ", ".join(f"`{h}`" for h in trained)
    return (f"{heads} runs the checkpoint's trained block: its convs are the file's, and its branches are drawn on its "
            "cv1's output. " + FAMILY_UNTRAINED.replace("of these heads", "of the other heads"))


def family_branches_title(heads: Sequence[str], untrained_convs: bool, trained: bool = False) -> str:
    """One drawing's title: the heads whose pools it shows (several: their pools are equal, torch.equal);
    ``trained``: the pools read a checkpoint's trained cv1's output."""
    if trained:
        return f"{', '.join(heads)}: pooling branches on the trained cv1's output<br><span style='font-size:12px'>mean over channels</span>"
    tail = " · convs untrained, not drawn" if untrained_convs else ""
    same = "the same tensors (torch.equal above), " if len(heads) > 1 else ""
    names = "<br>".join(", ".join(heads[i:i + 4]) for i in range(0, len(heads), 4))  # a title does not wrap itself
    return f"{names}: pooling branches on the real map<br><span style='font-size:12px'>{same}mean over channels{tail}</span>"


def family_questions(family: FamilyComparison) -> list[str]:
    """Short answers to the questions users ask (yolov5 #6723, #8785, #8400; yolov7 #658; yolov9 #489; darknet #1529)."""
    k, n, widths = family.k, family.repeats, ", ".join(map(str, family.kernels))
    latency, sppf_vs_elan = family_latency_answer(family), family_elan_answer(family)
    return [
        "**Why does SPPF(k=5) equal SPP(5, 9, 13) and not (5, 6, 7)?** (yolov5 #6723) Each stride-1 k × k max pool "
        "widens the window by k − 1 cells: 5, then 5 + 4 = 9, then 13. A max of maxes is the max of the union, so "
        f"chaining is exact; here k = {k}, n = {n} gives windows {widths}, checked above with torch.equal.",
        "**Why does YOLO call a size-keeping module 'SPP'?** (yolov5 #8785, AlexeyAB/darknet #4475) It pools with "
        "stride 1 and padding k // 2, so every cell gets its own window and h × w is kept; the name comes from He "
        "et al.'s multi-scale pooling, but only `spp` here turns any map into a fixed-length vector.",
        f"**Where is the SPP vs SPPF latency comparison?** (yolov5 #8400) In the table and chart above, on this map. {latency}",
        "**SPPCSPC vs SPPFCSPC?** (yolov7 #658) SPPFCSPC swaps SPPCSPC's parallel 5/9/13 pools for SPPF's cascade: "
        "the same pooled tensor (see the equalities) with fewer comparisons. YOLOv6's CSPSPPF is that design at half "
        "width. Parallel pools can run concurrently on some hardware, so the cascade is not faster everywhere.",
        f"**SPPF vs SPPELAN?** (yolov9 #489) SPPELAN is SPPF's structure with a free hidden width c3 (and SiLU after "
        f"cv1): {sppf_vs_elan}",
        "**Why 5/9/13 windows and not 1 × 1, 2 × 2, 4 × 4 bins?** (darknet #1529) A detector predicts per cell and "
        "needs the map; fixed bins would pool it into one vector and throw the layout away. `spp` and `ppm` show what "
        "bins do (PPM upsamples its bins back onto the map for segmentation).",
    ]


def family_latency_answer(family: FamilyComparison) -> str:
    if not family.timings_consistent:
        return "No comparison here: " + TIMINGS_UNRELIABLE[0].lower() + TIMINGS_UNRELIABLE[1:]
    if "sppf" in family.ids and "spp_yolo" in family.ids:
        a, b = family.head("spp_yolo"), family.head("sppf")
        if a.timing is None or b.timing is None:
            return "Not measured yet."
        return (f"Parallel pools (spp_yolo) {format_latency(a.timing.pool)} vs SPPF's cascade {format_latency(b.timing.pool)} "
                f"for the pooling alone; {format_latency(a.timing.total)} vs {format_latency(b.timing.total)} for the whole modules.")
    return "Choose both spp_yolo and sppf in the sidebar's heads to see them timed side by side."


def family_elan_answer(family: FamilyComparison) -> str:
    if "sppf" in family.ids and "sppelan" in family.ids:
        a, b = family.head("sppf"), family.head("sppelan")
        return (f"with c3 = C / 2 it has {b.params:,} parameters and {b.flops / 1e9:.3f} GFLOPs here, SPPF "
                f"{a.params:,} and {a.flops / 1e9:.3f}; a smaller c3 makes it cheaper.")
    return "choose sppf and sppelan in the sidebar's heads to compare their parameters and FLOPs on this map."


# the effective-receptive-field panel

def erf_title(level: int, bin_: tuple[int, int], untrained: bool) -> str:
    return f"ERF of level {level}, bin {bin_}" + (" (untrained weights)" if untrained else "")


def erf_summary(result: ErfResult, untrained: bool) -> str:
    """The numbers under the heatmap, one line each."""
    rf = ("the whole image (squeeze-excite: every output sees every pixel)" if result.global_context
          else "the theoretical RF box (dashed)")
    lines = [
        f"- mass in the bin's box (solid): **{result.mass_in_box:.1%}**; in {rf}: **{result.mass_in_rf_box:.1%}**",
        f"- centroid ({result.centroid[0]:.1f}, {result.centroid[1]:.1f}) px; radius holding 50 %: "
        f"{result.radius50:.1f} px, 90 %: {result.radius90:.1f} px",
        f"- one forward + backward pass: {result.ms:.0f} ms",
    ]
    if untrained:
        lines.append("- the weights are untrained: the ERF's shape is real, the features are not")
    return "\n".join(lines)


# the region-pooling panel
REGION_TIMING = ("Pooling time: median of many calls (interleaved timeit blocks) ± its spread; crop-and-rerun: one "
                 "synchronised run of crop, forward and classifier, with the load average at that moment. Both are "
                 "measured after the page is drawn, alone, in the timing worker.")


def region_pooled(window: CellWindow, pooled: Latency | None) -> str:
    (r0, r1), (c0, c1) = window.rows, window.cols
    time = f"{format_latency(pooled)} (median, {pooled.where})" if pooled is not None else "measuring…"
    return f"**Pooled from the shared map** (cells rows {r0}–{r1 - 1}, columns {c0}–{c1 - 1}): {time}"


def region_recomputed(run: SingleRun | None) -> str:
    if run is None:
        return "**Cropped and rerun** (a full forward pass): measuring…"
    return f"**Cropped and rerun** (a full forward pass): {run.text()}"


def region_lesson(pooled: Latency | None, run: SingleRun | None) -> str:
    """SPP-net's speed-up on this box, as a ratio of the rerun's single run to the pooling's
    median (or what is still being measured)."""
    lesson = ("**SPP-net's speed-up:** pool the box's window from the map the network already computed, instead of "
              "cropping the photo and running the whole network again")
    if run is None or pooled is None or pooled.median_ms <= 0:
        return lesson + ": both are measured now that the page is drawn."
    if pooled.noisy:  # as in the SPP vs SPPF panel: no ratio from a figure whose spread stayed wide
        return lesson + f": {format_latency(pooled)} against {format_ms(run.ms)}; the pooling's spread stayed too wide for a ratio here."
    return lesson + f": {format_latency(pooled)} against {format_ms(run.ms)}, {run.ms / pooled.median_ms:,.0f}× faster here."


def region_length(length: int) -> str:
    return f"SPP vector of the window: {length:,} numbers. {REGION_TIMING}"


# the scales panel
def scales_lesson(first: tuple[int, str, float] | None, last: tuple[int, str, float] | None) -> str:
    """What "cosine to first" measures, and why the classifier's answer changes with the size:
    ``first`` and ``last`` are (long side, top-1 label, its probability) at the smallest and the
    largest size (None: no classifier)."""
    cosine = ("**cosine to first:** how close each size's SPP vector points to the smallest size's (1: the same "
              "direction), so how much the pooled features change with scale.")
    if first is None or last is None:
        return cosine
    return cosine + (f" **The answer changes with size** because the classifier was trained on 224-px crops: objects look "
                     f"larger at a larger size (FixRes): {first[1]} {first[2]:.1%} at {first[0]} px, "
                     f"{last[1]} {last[2]:.1%} at {last[0]} px.")


# serving many users: the waiting line
def waiting_line(position: Position, waited_s: int) -> str:
    """One line while a session waits for its heavy work, saying which of the two it waits for:
    its photo (the analyses ahead of it) or its timings (a quiet moment: they run alone, after
    every analysis). It updates as the line moves."""
    if position.work is Work.MEASUREMENT:
        busy = position.analyses + position.measurements
        return (f"Your timings: waiting for a quiet moment ({busy} job{'' if busy == 1 else 's'} before them, "
                f"{waited_s} s so far). They are taken alone, after everyone's photos, so no figure is timed while "
                "another analysis runs; the page above is complete meanwhile.")
    ahead = position.analyses
    who = "your analysis starts next" if ahead < 1 else f"{ahead} analys{'is' if ahead == 1 else 'es'} ahead of you"
    return (f"Your photo: {who} ({waited_s} s so far). The sidebar still works, and the previous "
            "image's page stays visible below until yours is ready.")


