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
from ..choices import BinRule, Channel, ChannelView, Pool
from ..defaults import SPPF_DEFAULT_N
from ..dimensions import SPPF_STAGE_NAMES, SPPF_STAGE_ROLES, SPPFSize, SPPFStage, SPPFWidths, sppf_formula, sppf_sizes
from ..i18n import N_, _, ngettext, number
from ..timing import (
    MAX_IQR_SHARE,
    MAX_TIME_S,
    UNRELIABLE_TIMINGS,
    UNRELIABLE_TIMINGS_TEMPLATE,
    Latency,
    SingleRun,
    format_latency,
    format_ms,
    method,
)

if TYPE_CHECKING:  # the results these sentences describe; the words themselves import no torch
    from ..erf import ErfResult
    from ..family import EqualityCheck, FamilyComparison, Speedup
    from ..pooling import CascadeCost


def channel_label(channel: Channel, channels: int | None = None) -> str:
    """Words for what a map shows: ``channel 12``, ``mean over 1,280 channels``."""
    if channel is ChannelView.MEAN:
        return _("mean over {channels} channels").format(channels=f"{channels:,}") if channels else _("channel mean")
    if channel is ChannelView.MAX:
        return _("max over {channels} channels").format(channels=f"{channels:,}") if channels else _("channel max")
    return _("channel {index}").format(index=int(channel))


def size_label(width: int, height: int) -> str:
    """An input size for a person: ``480 × 320`` (width × height)."""
    return f"{width} × {height}"


def overlap_summary(bins: LevelBins) -> str:
    """One phrase on how a level's neighbouring bins share cells (from ``row_overlaps``/``col_overlaps``)."""
    rows, cols = bins.shape
    if not rows or not cols:
        return _("level {n}: no bins (the paper rule gives {rows} × {cols} windows here)").format(n=bins.n, rows=rows, cols=cols)
    ro, co = bins.row_overlaps, bins.col_overlaps
    rows_shared, cols_shared = sum(1 for o in ro if o), sum(1 for o in co if o)
    if bins.n > min(bins.height, bins.width) and bins.rule is BinRule.ADAPTIVE:
        return _("level {n}: {n} bins per side on only {cells} cells along the map's shorter side, so neighbouring bins "
                 "share or repeat cells").format(n=bins.n, cells=min(bins.height, bins.width))
    if not rows_shared and not cols_shared:
        return _("level {n}: no overlap").format(n=bins.n)
    parts = []
    if rows_shared:
        parts.append(ngettext("{shared} of {all} row boundaries share {cells} cell", "{shared} of {all} row boundaries share {cells} cells",
                              max(ro)).format(shared=rows_shared, all=len(ro), cells=max(ro)))
    if cols_shared:
        parts.append(ngettext("{shared} of {all} column boundaries share {cells} cell",
                              "{shared} of {all} column boundaries share {cells} cells", max(co)).format(
            shared=cols_shared, all=len(co), cells=max(co)))
    return _("level {n}: {overlaps}").format(n=bins.n, overlaps=_(", ").join(parts))


# ----------------------------------------------------------------------------
# The engine's names of branches and head settings, in the page's language

# (the engine's English name, its template): the names stay English in the engine and the JSON
_ENGINE_NAMES = (
    (re.compile(r"level (?P<n>\d+) \((?P=n) x (?P=n) bins\)"), N_("level {n} ({n} x {n} bins)")),
    (re.compile(r"level (?P<n>\d+)"), N_("level {n}")),
    (re.compile(r"pool (?P<q>\d+)"), N_("pool {q}")),
    (re.compile(r"bin (?P<b>\d+) \((?P=b) x (?P=b)\)"), N_("bin {b} ({b} x {b})")),
    (re.compile(r"bin (?P<b>\d+)"), N_("bin {b}")),
    (re.compile(r"3x3 rate (?P<d>\d+)"), N_("3x3 rate {d}")),
    (re.compile(r"1x1 conv"), N_("1x1 conv")),
    (re.compile(r"image pooling"), N_("image pooling")),
    (re.compile(r"shortcut cv2"), N_("shortcut cv2")),
    (re.compile(r"x1 \(cv1, 3x3 cv3, cv4\)"), N_("x1 (cv1, 3x3 cv3, cv4)")),
    (re.compile(r"(?P<name>.+): parallel (?P<kernels>[\d, ]+)"), N_("{name}: parallel {kernels}")),
    (re.compile(r"(?P<name>.+): levels (?P<levels>[\d,]+), (?P<pool>max|avg), paper rule"), N_("{name}: levels {levels}, {pool}, paper rule")),
    (re.compile(r"(?P<name>.+): levels (?P<levels>[\d,]+), (?P<pool>max|avg)"), N_("{name}: levels {levels}, {pool}")),
    (re.compile(r"(?P<name>.+), trained"), N_("{name}, trained")),
)


def engine_name(name: str) -> str:
    """A branch's or a head's name as the engine writes it (``pool 5``, ``level 2 (2 x 2 bins)``,
    ``SPP (YOLOv5): parallel 5, 9, 13``), in the page's language (in English: the same name); any
    other name as it is."""
    for pattern, template in _ENGINE_NAMES:
        found = pattern.fullmatch(name)
        if found:
            values = found.groupdict()
            if "name" in values:
                values["name"] = engine_name(values["name"])
            return _(template).format(**values)
    return name


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
    return " × ".join(number(p) if isinstance(p, int) else str(p) for p in parts)


# ----------------------------------------------------------------------------
# Chart titles and the selection panels

def untrained_note(untrained: bool) -> str:
    """Appended to every chart title while the weights are random."""
    return _(" · <b>untrained weights</b>") if untrained else ""


def bins_caption(stride: int, overlaps: Sequence[str], rule: BinRule = BinRule.ADAPTIVE) -> str:
    """How bins reach the photo: through the stride (cell i covers pixels [i·s, (i+1)·s))."""
    if rule is BinRule.PAPER:
        return _("Each feature cell covers {stride} × {stride} input pixels (the stage stride), so bin boxes are "
                 "cells × {stride}. The paper rule's windows (ceil(a/n) cells wide, one every floor(a/n) cells) may share "
                 "cells with their neighbour: there the two boxes overlap, by {stride} px per shared cell. {overlaps}.").format(
            stride=stride, overlaps=_("; ").join(overlaps))
    return _("Each feature cell covers {stride} × {stride} input pixels (the stage stride), so bin boxes are "
             "cells × {stride}. Adaptive bins may share a cell with their neighbour: there the two boxes overlap, "
             "by {stride} px per shared cell. {overlaps}.").format(stride=stride, overlaps=_("; ").join(overlaps))


def feature_map_caption(shape: tuple[int, int, int], stage: str, pool: Pool, channel: Channel) -> str:
    c, h, w = shape
    if pool is not Pool.MAX:
        winners = _("Average pooling has no winning cell: every cell of a bin counts equally.")
    elif isinstance(channel, ChannelView):
        winners = _("Markers: the cell each bin's maximum came from in each bin's strongest channel "
                    "(pick a channel to see its own).")
    else:
        winners = _("Markers: the cell each bin's maximum came from in channel {channel}.").format(channel=channel)
    return _("{shape} = {numbers} numbers at stage {stage}. {winners} White box: the selected bin's cells.").format(
        shape=f"{c:,} × {h} × {w}", numbers=f"{c * h * w:,}", stage=stage, winners=winners)


def pooled_value(pool: Pool, channel: Channel, channels: int | None = None) -> str:
    """What one pooled cell shows under a channel view, in one short phrase: with max pooling and
    the channel mean it is the mean of each channel's max, not a max of the mean map (so it can be
    far above the mean map's brightest cell)."""
    over = _("{channels} channels").format(channels=f"{channels:,}") if channels else _("the channels")
    maximum = pool is Pool.MAX
    if channel is ChannelView.MEAN:
        return (_("the mean over {over} of each channel's max in the bin") if maximum
                else _("the mean over {over} of each channel's average in the bin")).format(over=over)
    if channel is ChannelView.MAX:
        return (_("the largest over {over} of each channel's max in the bin") if maximum
                else _("the largest over {over} of each channel's average in the bin")).format(over=over)
    return (_("channel {index}'s max in the bin") if maximum else _("channel {index}'s average in the bin")).format(index=int(channel))


def pooled_caption(pool: Pool, channel: Channel, channels: int) -> str:
    return _("Each level pools the map into n × n numbers per channel. A pooled cell shows {value}, one colour scale "
             "for all levels. Click a cell to select that bin.").format(value=pooled_value(pool, channel, channels))


def level_numbers(shape: Sequence[int], valid: bool) -> str:
    """``1,280 × 2 × 2 = 5,120 numbers`` for a level's pooled ``(C, rows, cols)``."""
    c, rows, cols = shape
    return _("{shape} = {numbers} numbers").format(shape=times(c, rows, cols), numbers=f"{c * rows * cols:,}") + (
        "" if valid else _(" (not n × n)"))


def vector_arithmetic(channels: int, levels: Sequence[int]) -> str:
    """``1,280 × (1 + 4 + 16) = 26,880``: the fixed length C × Σ n²."""
    return f"{channels:,} × ({' + '.join(str(n * n) for n in levels)}) = {channels * sum(n * n for n in levels):,}"


def vector_fixed(channels: int, levels: Sequence[int]) -> str:
    return _("Length {arithmetic}, whatever the input size.").format(arithmetic=vector_arithmetic(channels, levels))


def vector_ceiling(count: int) -> str:
    """Why the vector's top is flat: ``count`` numbers sit exactly at ReLU6's 6.0 (empty when none do)."""
    if not count:
        return ""
    return _(" {count} of its numbers are exactly 6.0: the backbone's ReLU6 activations, min(max(x, 0), 6), "
             "stop there; the chart does not clip them.").format(count=f"{count:,}")


def vector_broken(length: int, channels: int, levels: Sequence[int]) -> str:
    return _("The paper rule gave {length} numbers instead of {arithmetic}: a fully connected layer sized for the "
             "formula would reject this vector.").format(length=f"{length:,}", arithmetic=vector_arithmetic(channels, levels))


# ----------------------------------------------------------------------------
# Output dimensions, SPPF, predictions, rules

def sweep_caption(expected_length: int, lengths: Sequence[int] = ()) -> str:
    """What the size sweep shows; ``lengths``: the sweep's SPP lengths under the paper rule (empty:
    the adaptive rule, whose length never moves)."""
    low, high = min(lengths, default=expected_length), max(lengths, default=expected_length)
    if low == high == expected_length:
        return _("Inputs of growing size at this image's aspect ratio (pure arithmetic, no forward pass): the feature map "
                 "grows, the SPP vector stays at {length}, {stage} grows with the map. Star: this image.").format(
            length=f"{expected_length:,}", stage=sppf_stage(SPPFStage.POOLS))
    return _("Inputs of growing size at this image's aspect ratio (pure arithmetic, no forward pass): the feature map "
             "grows, and under the paper rule the SPP vector's length follows it ({low} to {high} here, where C × Σ n² "
             "asks for {length}); {stage} grows with the map. Star: this image.").format(
        low=f"{low:,}", high=f"{high:,}", length=f"{expected_length:,}", stage=sppf_stage(SPPFStage.POOLS))


def sppf_stage(stage: SPPFStage, repeats: int = SPPF_DEFAULT_N) -> str:
    """A stage's one name with its channels in terms of C: ``SPPF pools alone (4C)`` (the name in
    the run's language: English for the CLI)."""
    return f"{_(SPPF_STAGE_NAMES[stage])} ({sppf_formula(stage, repeats)})"


def sppf_size(size: SPPFSize) -> str:
    """``SPPF pools alone (4C): 5,120 × 10 × 15 = 768,000 numbers``: the one way a size is worded."""
    return _("{stage}: {shape} = {numbers} numbers").format(stage=sppf_stage(size.stage, size.repeats), shape=times(*size.shape),
                                                          numbers=f"{size.numbers:,}")


def sppf_stages_note(c: int, h: int, w: int) -> str:
    """Every SPPF size on this map, one line each, under its one name and what it is."""
    return "\n".join(f"- **{sppf_stage(size.stage)}**: {times(*size.shape)} = {size.numbers:,}: {_(SPPF_STAGE_ROLES[size.stage])}."
                      for size in sppf_sizes(c, h, w).values())


SPPF_INTRO = N_("SPPF (YOLOv5) applies **one 5 × 5 stride-1 max pool three times**; chained stride-1 max pools compose, "
              "so the branches are exactly 5, 9 and 13 wide, equal to YOLO's parallel SPP(5, 9, 13). Both keep the "
              "map's h × w: unlike He et al.'s SPP, they are not fixed-length poolers.")
SPPF_RF_CAPTION = N_("Theoretical receptive field of one output cell of each branch, in feature cells and input pixels.")


def sppf_equal(kernels: Sequence[int], equal: bool, max_abs_diff: float, shape: tuple[int, int, int],
               on_cv1: bool = False) -> str:
    """``on_cv1``: compared on the trained cv1's output (a detector's own SPPF), not on the map itself."""
    c, h, w = shape
    shape_text = f"{c:,} × {h} × {w}"
    where = (_("the trained cv1's {shape} output") if on_cv1 else _("this {shape} map")).format(shape=shape_text)
    return _("SPPF == parallel SPP({kernels}): {equal}, max |diff| {diff} (torch.equal on {where}).").format(
        kernels=",".join(map(str, kernels)), equal=equal, diff=f"{max_abs_diff:g}", where=where)


def branch_title(cells: int, source: str = "x") -> str:
    """A cascade branch's title by its window, on two lines (four fit side by side at 1024 px):
    the pools' input ``source`` itself (0), or a pool of ``cells`` x ``cells``."""
    return _("pool {cells}<br>{cells} × {cells} cells").format(cells=cells) if cells else _("{source}<br>the input, 1 cell").format(
        source=source)


def trained_pools_note(trained: bool) -> str:
    """Appended to a branches figure's title when the pools read a checkpoint's trained cv1."""
    return _(" · on the <b>trained cv1's output</b>") if trained else ""


def sppf_output(c: int, h: int, w: int, spp_length: int, widths: SPPFWidths | None = None, paper_length: int | None = None) -> str:
    """What both YOLO modules give on this map, by SPPF stage, against SPP's fixed length
    ``spp_length`` (C × Σ n²); ``widths``: a checkpoint's trained block, whose pools read its cv1's
    output (the same tensor from both is then the concatenation); ``paper_length``: what the paper
    rule gave on this map when that is not the fixed length."""
    sizes = sppf_sizes(c, h, w, widths=widths)
    same = SPPFStage.CONCAT if widths else SPPFStage.POOLS
    said = _("The same tensor from both, the **{same}**: {shape} = {numbers} numbers here. With their 1 × 1 convs the "
             "modules output the **{output}**: {output_shape}. Both grow with the input; classic SPP gives **{length}** for "
             "any input.").format(same=sppf_stage(same), shape=times(*sizes[same].shape), numbers=f"{sizes[same].numbers:,}",
                                  output=sppf_stage(SPPFStage.CV2), output_shape=times(*sizes[SPPFStage.CV2].shape),
                                  length=f"{spp_length:,}")
    if paper_length is None or paper_length == spp_length:
        return said
    return said + " " + _("(With adaptive bins. The paper rule chosen here gave {paper} on this map instead: see the warning "
                          "under the SPP vector.)").format(paper=f"{paper_length:,}")


def sppf_lesson(cost: CascadeCost, speed: Speedup | None, measuring: bool, family: CascadeCost | None = None) -> list[str]:
    """The SPP vs SPPF lesson in three sentences, with this map's figures: why the cascade equals the
    parallel pools, why it is cheaper on any machine (``cost``; ``family``: the sidebar's k and n
    when they differ), and how much faster it ran here (``speed``), or why that is not known."""
    k, n, windows = cost.k, cost.repeats, cost.windows
    why = _("**Why the cascade equals {windows}:** a stride-1 {k} × {k} max pool widens the window by k − 1 = {widen} "
            "cells ({steps}), and a max of maxes is the max of the union, so each step of the chain is exactly one wider "
            "pool.").format(windows="/".join(map(str, windows)), k=k, widen=k - 1, steps=_(", then ").join(map(str, windows)))
    count = (f"{n} × {k * k} = {cost.cascade}", " + ".join(str(q * q) for q in windows) + f" = {cost.parallel}")
    cheaper = _("**Why it is cheaper on any machine:** per output cell and channel the cascade compares {cascade} cells, "
                "the parallel pools {parallel} ({ratio}× as many).").format(cascade=count[0], parallel=count[1],
                                                                          ratio=f"{cost.ratio:.1f}")
    if family is not None and (family.k, family.repeats) != (k, n):
        cheaper += _(" At the sidebar's k = {k}, n = {n}: {cascade} against {parallel}.").format(
            k=family.k, n=family.repeats, cascade=family.cascade, parallel=family.parallel)
    return [why, cheaper, speed_here(speed, measuring)]


def speed_here(speed: Speedup | None, measuring: bool) -> str:
    """How much faster SPPF's pools ran than the parallel pools on this map, with the spread."""
    if speed is None:
        return (_("**How much faster it was here:** measuring, now that the page is drawn.") if measuring
                else _("**How much faster it was here:** not measured."))
    if not speed.reliable:
        return _("**How much faster it was here:** it could not be measured reliably: the runs spread too widely (other "
                 "work competed for the processor), so no ratio is given.")
    figures = dict(ratio=f"{speed.ratio:.1f}", low=f"{speed.low:.1f}", high=f"{speed.high:.1f}")
    if speed.low <= 1 <= speed.high:
        return _("**How much faster it was here:** about as fast as the parallel pools on this map ({ratio}×, {low}× to "
                 "{high}× within the runs' spread): here the comparisons it saves did not show in the time.").format(**figures)
    return _("**How much faster it was here:** SPPF's pools ran {ratio}× as fast as the parallel pools ({low}× to {high}× "
             "within the runs' spread).").format(**figures)


TIMINGS_UNRELIABLE = UNRELIABLE_TIMINGS  # the engine's sentence (the JSON report's warning too), in English


def timings_unreliable() -> str:
    """:data:`TIMINGS_UNRELIABLE` in the run's language."""
    return _(UNRELIABLE_TIMINGS_TEMPLATE).format(share=f"{MAX_IQR_SHARE:.0%}")


def costs_caption(device: str, costs: FamilyComparison) -> str:
    """What the costs table measured, and what it says: SPPF's pools vs the convs around them
    (no lesson from noisy timings: the warning above the caption says why)."""
    sppf, parallel = costs.head("sppf"), costs.head("spp_yolo")
    lesson = ""
    if costs.timings_consistent and sppf.pool_ms > 0 and sppf.total_ms > 0 and parallel.pool_ms > 0:
        lesson = _(" Here SPPF's pools take {ratio}× the parallel pools' time, and its 1 × 1 convs take {share} of the "
                   "whole module's.").format(ratio=f"{sppf.pool_ms / parallel.pool_ms:.2f}", share=f"{1 - sppf.pool_ms / sppf.total_ms:.0%}")
    weights = (_("the checkpoint's trained weights for the trained row, random for the others: the time is real either way")
               if any(r.trained for r in costs.heads) else _("random weights: the time is real, the values are not"))
    return _("module output: the {output} for SPPF and the parallel pools, the vector for SPP. pool: the parameter-free "
             "pooling alone, on as many channels of the real map as the module's pools see (the {cv1}); total: the whole "
             "module with its 1 × 1 convs cv1 and cv2 ({weights}). The SPP row is the pyramid on this page. Medians of "
             "interleaved runs on {device} ({method}), measured after the page was drawn, alone (no analysis ran meanwhile) "
             "in the timing worker, a process of its own with the thread count in 'timed on'; rounds until each spread (± "
             "the interquartile range as a share of the median) is at most {share} or {cap} s have passed, and a figure "
             "still wider is marked noisy (each head once per map, SPP once per pyramid); FLOPs count convs only.").format(
        output=sppf_stage(SPPFStage.CV2), cv1=sppf_stage(SPPFStage.CV1), weights=weights, device=device,
        method=_(method(device)), share=f"{MAX_IQR_SHARE:.0%}", cap=f"{MAX_TIME_S:g}") + lesson


TOP5_CAPTION = N_("Read from a 1 × 1 average pool of the whole map = the backbone's global average pool (GAP), exactly "
                "what its classifier was trained on, here at this image's own size. It is taken beside the pyramid "
                "whatever the pyramid's pooling (max or avg).")
SWITCH_TO_AVG = N_("Switch pooling to **avg** to label every bin with the classifier's top-1: an avg-pooled bin is a "
                 "global average pool over its cells, what the classifier was trained on; a max-pooled bin is not.")


def bin_labels_caption(n: int) -> str:
    return _("Each avg-pooled bin is a global average pool over its own cells, so the classifier can read it alone. "
             "Level {n}.").format(n=n)


def moved_bins(n: int, moved: int, shape: tuple[int, int], drawn: bool) -> str:
    if drawn:
        return _("- level {n}: {moved} of {bins} bins differ from the adaptive rule (dashed red on the photo in the pyramid "
                 "explorer).").format(n=n, moved=moved, bins=shape[0] * shape[1])
    return _("- level {n}: {moved} of {bins} bins differ from the adaptive rule.").format(n=n, moved=moved, bins=shape[0] * shape[1])


def paper_same(h: int, w: int) -> str:
    return _("On this {h} × {w} map the paper rule gives the same n × n bins as the adaptive rule at every level.").format(h=h, w=w)


def paper_still_n(h: int, w: int) -> str:
    return _("Every level still has n × n bins on this {h} × {w} map, but some windows cover different cells.").format(h=h, w=w)


def adaptive_intro(h: int, w: int) -> str:
    return _("Adaptive bins (the authors' released code, PyTorch's adaptive pooling) always give n × n bins. "
             "What the paper's rule (window ceil(a/n), stride floor(a/n)) would do on this {h} × {w} map:").format(h=h, w=w)


def would_move(n: int, moved: int) -> str:
    return _("- level {n}: {n} × {n} bins as well, but {moved} of {bins} cover different cells.").format(n=n, moved=moved, bins=n * n)


def would_match(n: int) -> str:
    return _("- level {n}: the very same {n} × {n} bins.").format(n=n)


def rule_figure_caption(n: int, h: int, w: int) -> str:
    return _("Level {n} on the {h} × {w} map, cell by cell: the brighter a cell, the more bins (or windows) pool it; "
             "dark cells are pooled by none, so the paper rule can simply ignore part of the map.").format(n=n, h=h, w=w)


# --- family -----------------------------------------------------------------
# The "Pyramid-pooling family" panel. Numbers come from spp_viz.family; these only word them.

FAMILY_UNTRAINED = N_("The 1 × 1 / 3 × 3 convs of these heads have no pretrained weights for this backbone: they are seeded "
                      "random (untrained). Shapes, parameters, FLOPs and latencies are real; conv outputs are not learned "
                      "features, so only the parameter-free pooling branches are drawn, on the real map.")
# the same, beside a checkpoint's trained head
FAMILY_UNTRAINED_OTHERS = N_("The 1 × 1 / 3 × 3 convs of the other heads have no pretrained weights for this backbone: they are "
                             "seeded random (untrained). Shapes, parameters, FLOPs and latencies are real; conv outputs are not "
                             "learned features, so only the parameter-free pooling branches are drawn, on the real map.")


def family_table_caption(devices: Sequence[str | None]) -> str:
    """What the family's tables hold; ``devices``: where each head was timed (None: not yet)."""
    where = ", ".join(sorted({d for d in devices if d})) or _("this map's device")
    return _("Output: each module's own (C × h × w for the YOLO heads: SPPF's is its cv2 output). Params: trainable, "
             "sum(p.numel()). FLOPs: torch.utils.flop_counter (convs; pooling counts 0). Pool: the head's own pooling "
             "layers on the real map, at the width its pools see; total: the whole module (its convs untrained). "
             "Medians ± their spread, all heads interleaved, timed alone on {where} in the timing worker, once per map, "
             "heads, k and n, after the page was drawn. "
             "Below, RF: the theoretical receptive field of one output cell through each branch.").format(where=where)


def claim_words(check: EqualityCheck) -> str:
    """An equality's claim in the run's language (its template translated, then filled in), or as
    the engine wrote it where it has no template (a head added from outside)."""
    if not check.claim_template:
        return check.claim
    return _(check.claim_template).format(**dict(check.claim_values))


def family_equality(head: str, other: str, claim: str, equal: bool, diff: float) -> str:
    verdict = _("torch.equal: **True**") if equal else _("torch.equal: **False**")
    return _("- `{head}` ≡ `{other}`: {claim}. {verdict}, max |diff| {diff}.").format(head=head, other=other, claim=literal(claim),
                                                                                     verdict=verdict, diff=f"{diff:g}")


def family_purpose(head: str, name: str, purpose: str, source: str) -> str:
    return _("- **`{head}`** ({name}): {purpose} Source: {source}.").format(head=head, name=literal(name), purpose=literal(_(purpose)),
                                                                          source=literal(source))


def family_other_settings(head: str, other: str, claim: str, other_name: str) -> str:
    """A head whose claim is about ``other`` at other settings than the ``other`` compared here."""
    return _("- `{head}` is not checked against `{other}` here: {claim}, while the `{other}` above is {name}.").format(
        head=head, other=other, claim=literal(claim), name=literal(other_name))


def family_costs_title(c: int, h: int, w: int) -> str:
    return _("Cost on this {shape} map: parameters, FLOPs and latency of each head").format(shape=times(c, h, w))


def family_untrained(trained: Sequence[str] = ()) -> str:
    """The family panel's note on weights: :data:`FAMILY_UNTRAINED`, or, beside a checkpoint's
    trained head(s) ``trained``, the same said of the other heads."""
    if not trained:
        return _(FAMILY_UNTRAINED)
    heads = ", ".join(f"`{h}`" for h in trained)
    return _("{heads} runs the checkpoint's trained block: its convs are the file's, and its branches are drawn on its "
             "cv1's output. {others}").format(heads=heads, others=_(FAMILY_UNTRAINED_OTHERS))


def family_branches_title(heads: Sequence[str], untrained_convs: bool, trained: bool = False) -> str:
    """One drawing's title: the heads whose pools it shows (several: their pools are equal, torch.equal);
    ``trained``: the pools read a checkpoint's trained cv1's output."""
    small = "<br><span style='font-size:12px'>{}</span>"
    if trained:
        return _("{heads}: pooling branches on the trained cv1's output").format(heads=", ".join(heads)) + small.format(
            _("mean over channels"))
    tail = _(" · convs untrained, not drawn") if untrained_convs else ""
    below = _("the same tensors (torch.equal above), mean over channels") if len(heads) > 1 else _("mean over channels")
    names = "<br>".join(", ".join(heads[i:i + 4]) for i in range(0, len(heads), 4))  # a title does not wrap itself
    return _("{heads}: pooling branches on the real map").format(heads=names) + small.format(below + tail)


def family_questions(family: FamilyComparison) -> list[str]:
    """Short answers to the questions users ask (yolov5 #6723, #8785, #8400; yolov7 #658; yolov9 #489; darknet #1529)."""
    k, n, widths = family.k, family.repeats, ", ".join(map(str, family.kernels))
    latency, sppf_vs_elan = family_latency_answer(family), family_elan_answer(family)
    return [
        _("**Why does SPPF(k=5) equal SPP(5, 9, 13) and not (5, 6, 7)?** (yolov5 #6723) Each stride-1 k × k max pool "
          "widens the window by k − 1 cells: 5, then 5 + 4 = 9, then 13. A max of maxes is the max of the union, so "
          "chaining is exact; here k = {k}, n = {n} gives windows {windows}, checked above with torch.equal.").format(
            k=k, n=n, windows=widths),
        _("**Why does YOLO call a size-keeping module 'SPP'?** (yolov5 #8785, AlexeyAB/darknet #4475) It pools with "
          "stride 1 and padding k // 2, so every cell gets its own window and h × w is kept; the name comes from He "
          "et al.'s multi-scale pooling, but only `spp` here turns any map into a fixed-length vector."),
        _("**Where is the SPP vs SPPF latency comparison?** (yolov5 #8400) In the table and chart above, on this map. "
          "{answer}").format(answer=latency),
        _("**SPPCSPC vs SPPFCSPC?** (yolov7 #658) SPPFCSPC swaps SPPCSPC's parallel 5/9/13 pools for SPPF's cascade: "
          "the same pooled tensor (see the equalities) with fewer comparisons. YOLOv6's CSPSPPF is that design at half "
          "width. Parallel pools can run concurrently on some hardware, so the cascade is not faster everywhere."),
        _("**SPPF vs SPPELAN?** (yolov9 #489) SPPELAN is SPPF's structure with a free hidden width c3 (and SiLU after "
          "cv1): {answer}").format(answer=sppf_vs_elan),
        _("**Why 5/9/13 windows and not 1 × 1, 2 × 2, 4 × 4 bins?** (darknet #1529) A detector predicts per cell and "
          "needs the map; fixed bins would pool it into one vector and throw the layout away. `spp` and `ppm` show what "
          "bins do (PPM upsamples its bins back onto the map for segmentation)."),
    ]


def family_latency_answer(family: FamilyComparison) -> str:
    if not family.timings_consistent:
        reason = timings_unreliable()
        return _("No comparison here: {reason}").format(reason=reason[0].lower() + reason[1:])
    if "sppf" in family.ids and "spp_yolo" in family.ids:
        a, b = family.head("spp_yolo"), family.head("sppf")
        if a.timing is None or b.timing is None:
            return _("Not measured yet.")
        return _("Parallel pools (spp_yolo) {parallel} vs SPPF's cascade {cascade} for the pooling alone; {parallel_total} vs "
                 "{cascade_total} for the whole modules.").format(
            parallel=format_latency(a.timing.pool), cascade=format_latency(b.timing.pool),
            parallel_total=format_latency(a.timing.total), cascade_total=format_latency(b.timing.total))
    return _("Choose both spp_yolo and sppf in the sidebar's heads to see them timed side by side.")


def family_elan_answer(family: FamilyComparison) -> str:
    if "sppf" in family.ids and "sppelan" in family.ids:
        a, b = family.head("sppf"), family.head("sppelan")
        return _("with c3 = C / 2 it has {elan_params} parameters and {elan_gflops} GFLOPs here, SPPF {sppf_params} and "
                 "{sppf_gflops}; a smaller c3 makes it cheaper.").format(
            elan_params=f"{b.params:,}", elan_gflops=f"{b.flops / 1e9:.3f}", sppf_params=f"{a.params:,}",
            sppf_gflops=f"{a.flops / 1e9:.3f}")
    return _("choose sppf and sppelan in the sidebar's heads to compare their parameters and FLOPs on this map.")


# the effective-receptive-field panel

def erf_title(level: int, bin_: tuple[int, int], untrained: bool) -> str:
    return _("ERF of level {level}, bin {bin}").format(level=level, bin=bin_) + (_(" (untrained weights)") if untrained else "")


def erf_summary(result: ErfResult, untrained: bool) -> str:
    """The numbers under the heatmap, one line each."""
    rf = (_("the whole image (squeeze-excite: every output sees every pixel)") if result.global_context
          else _("the theoretical RF box (dashed)"))
    lines = [
        _("- mass in the bin's box (solid): **{in_box}**; in {rf}: **{in_rf}**").format(
            in_box=f"{result.mass_in_box:.1%}", rf=rf, in_rf=f"{result.mass_in_rf_box:.1%}"),
        _("- centroid ({x}, {y}) px; radius holding 50 %: {r50} px, 90 %: {r90} px").format(
            x=f"{result.centroid[0]:.1f}", y=f"{result.centroid[1]:.1f}", r50=f"{result.radius50:.1f}", r90=f"{result.radius90:.1f}"),
        _("- one forward + backward pass: {ms} ms").format(ms=f"{result.ms:.0f}"),
    ]
    if untrained:
        lines.append(_("- the weights are untrained: the ERF's shape is real, the features are not"))
    return "\n".join(lines)


# the region-pooling panel
REGION_TIMING = N_("Pooling time: median of many calls (interleaved timeit blocks) ± its spread; crop-and-rerun: one "
                   "synchronised run of crop, forward and classifier, with the load average at that moment. Both are "
                   "measured after the page is drawn, alone, in the timing worker.")


def region_pooled(window: CellWindow, pooled: Latency | None) -> str:
    (r0, r1), (c0, c1) = window.rows, window.cols
    time = (_("{latency} (median, {where})").format(latency=format_latency(pooled), where=pooled.where) if pooled is not None
            else _("measuring…"))
    return _("**Pooled from the shared map** (cells rows {r0}–{r1}, columns {c0}–{c1}): {time}").format(
        r0=r0, r1=r1 - 1, c0=c0, c1=c1 - 1, time=time)


def region_recomputed(run: SingleRun | None) -> str:
    return _("**Cropped and rerun** (a full forward pass): {time}").format(time=_("measuring…") if run is None else run.text())


def region_lesson(pooled: Latency | None, run: SingleRun | None) -> str:
    """SPP-net's speed-up on this box, as a ratio of the rerun's single run to the pooling's
    median (or what is still being measured)."""
    if run is None or pooled is None or pooled.median_ms <= 0:
        return _("**SPP-net's speed-up:** pool the box's window from the map the network already computed, instead of "
                 "cropping the photo and running the whole network again: both are measured now that the page is drawn.")
    figures = dict(pooled=format_latency(pooled), rerun=format_ms(run.ms))
    if pooled.noisy:  # as in the SPP vs SPPF panel: no ratio from a figure whose spread stayed wide
        return _("**SPP-net's speed-up:** pool the box's window from the map the network already computed, instead of "
                 "cropping the photo and running the whole network again: {pooled} against {rerun}; the pooling's spread "
                 "stayed too wide for a ratio here.").format(**figures)
    return _("**SPP-net's speed-up:** pool the box's window from the map the network already computed, instead of "
             "cropping the photo and running the whole network again: {pooled} against {rerun}, {ratio}× faster "
             "here.").format(ratio=f"{run.ms / pooled.median_ms:,.0f}", **figures)


def region_length(length: int) -> str:
    return _("SPP vector of the window: {length} numbers. {timing}").format(length=f"{length:,}", timing=_(REGION_TIMING))


# the scales panel
def scales_lesson(first: tuple[int, str, float] | None, last: tuple[int, str, float] | None) -> str:
    """What "cosine to first" measures, and why the classifier's answer changes with the size:
    ``first`` and ``last`` are (long side, top-1 label, its probability) at the smallest and the
    largest size (None: no classifier)."""
    cosine = _("**cosine to first:** how close each size's SPP vector points to the smallest size's (1: the same "
               "direction), so how much the pooled features change with scale.")
    if first is None or last is None:
        return cosine
    return cosine + _(" **The answer changes with size** because the classifier was trained on 224-px crops: objects look "
                      "larger at a larger size (FixRes): {first_label} {first_p} at {first_side} px, {last_label} {last_p} at "
                      "{last_side} px.").format(first_label=first[1], first_p=f"{first[2]:.1%}", first_side=first[0],
                                                last_label=last[1], last_p=f"{last[2]:.1%}", last_side=last[0])


# serving many users: the waiting line
def waiting_line(position: Position, waited_s: int) -> str:
    """One line while a session waits for its heavy work, saying which of the two it waits for:
    its photo (the analyses ahead of it) or its timings (a quiet moment: they run alone, after
    every analysis). It updates as the line moves."""
    if position.work is Work.MEASUREMENT:
        busy = position.analyses + position.measurements
        return ngettext("Your timings: waiting for a quiet moment ({n} job before them, {waited} s so far). They are taken "
                        "alone, after everyone's photos, so no figure is timed while another analysis runs; the page above "
                        "is complete meanwhile.",
                        "Your timings: waiting for a quiet moment ({n} jobs before them, {waited} s so far). They are taken "
                        "alone, after everyone's photos, so no figure is timed while another analysis runs; the page above "
                        "is complete meanwhile.", busy).format(n=busy, waited=waited_s)
    ahead = position.analyses
    if ahead < 1:
        return _("Your photo: your analysis starts next ({waited} s so far). The sidebar still works, and the previous "
                 "image's page stays visible below until yours is ready.").format(waited=waited_s)
    return ngettext("Your photo: {n} analysis ahead of you ({waited} s so far). The sidebar still works, and the previous "
                    "image's page stays visible below until yours is ready.",
                    "Your photo: {n} analyses ahead of you ({waited} s so far). The sidebar still works, and the previous "
                    "image's page stays visible below until yours is ready.", ahead).format(n=ahead, waited=waited_s)
