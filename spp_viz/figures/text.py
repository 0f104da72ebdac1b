"""Every sentence and label a person reads (one "×" convention: a thin "n × n", never "x")."""

from __future__ import annotations

import math
import re
from typing import Sequence

from ..analysis import HeadCost, HeadKind, Prediction
from ..bins import LevelBins, PixelBox
from ..erf import ErfResult
from ..family import FamilyComparison
from ..timing import UNRELIABLE_TIMINGS, SingleRun, method
from .style import Channel


def channel_label(channel: Channel, channels: int | None = None) -> str:
    """Words for what a map shows: ``channel 12``, ``mean over 1,280 channels``."""
    if channel == "mean":
        return f"mean over {channels:,} channels" if channels else "channel mean"
    if channel == "max":
        return f"max over {channels:,} channels" if channels else "channel max"
    return f"channel {int(channel)}"


def fmt_value(value: float) -> str:
    return f"{value:.4g}"


def bin_hover(level: int, row: int, col: int, index: int, cells: tuple[int, int, int, int], box: PixelBox | None = None,
              value: float | None = None, what: str = "", label: Prediction | None = None) -> str:
    """Hover text of one bin: level, (row, col), its row-major index, cells ``[r0, r1) × [c0, c1)``, pixels."""
    r0, r1, c0, c1 = cells
    lines = [
        f"<b>level {level}</b> · bin (row {row}, col {col}) · index {index}",
        f"feature cells rows [{r0}, {r1}) × cols [{c0}, {c1}) = {(r1 - r0) * (c1 - c0)} cells",
    ]
    if box is not None:
        lines.append(f"pixels x [{box.x0:.0f}, {box.x1:.0f}) × y [{box.y0:.0f}, {box.y1:.0f})")
    if value is not None:
        lines.append(f"pooled value ({what}): {fmt_value(value)}" if what else f"pooled value: {fmt_value(value)}")
    if label is not None:
        lines.append(f"classifier top-1 for this bin: {label.label} ({label.probability:.1%})")
    return "<br>".join(lines)


def size_label(width: int, height: int) -> str:
    """An input size for a person: ``480 × 320`` (width × height)."""
    return f"{width} × {height}"


def rf_legend(global_context: bool) -> str:
    return "receptive field: the whole image (squeeze-excite)" if global_context else "receptive field (padding included)"


def rf_hover(row: int, col: int, rf: PixelBox, global_context: bool) -> str:
    if global_context:
        return (f"theoretical receptive field of bin ({row}, {col}): the whole image, since squeeze-excite "
                "on the path mixes every pixel into every output")
    return (f"theoretical receptive field of bin ({row}, {col}): x [{rf.x0:.0f}, {rf.x1:.0f}) × "
            f"y [{rf.y0:.0f}, {rf.y1:.0f}), padding included, clipped to the image")


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
# Sidebar

SAMPLE_TITLES = {
    "chelsea_cat.jpg": "Chelsea the cat",
    "coffee_espresso.jpg": "Espresso cup",
    "camera_tripod.jpg": "Camera on a tripod (grayscale)",
    "rocket_launch.jpg": "Rocket launch",
}
PRESET_NAMES = {"custom": "custom", "default": "default 1,2,4", "spp-net": "SPP-net 6,3,2,1", "psp": "PSP-style 1,2,3,6"}
MAX_UPLOAD_MB = 50  # .streamlit/config.toml server.maxUploadSize
SIDEBAR_IMAGE, SIDEBAR_PYRAMID, SIDEBAR_BACKBONE, SIDEBAR_DISPLAY = "Image", "Pyramid", "Backbone", "Display"
UPLOAD_LABEL = "Upload an image"
CAMERA_TOGGLE = "Take a photo with the camera"
CAMERA_LABEL = "Camera"
CAMERA_HELP = ("Shows a camera preview in the sidebar (the browser asks for permission first). The photo is decoded "
               "like an upload, in memory, never written to disk.")
SAMPLE_LABEL = "…or a sample photo"
SAMPLE_HELP = "Used when nothing is uploaded or taken with the camera. Credits: assets/CREDITS.md."
MAX_SIDE_LABEL = "Working resolution (long side, px)"
MAX_SIDE_HELP = ("The image is resized so its long side is at most this before the backbone runs (never cropped). "
                 "'native' keeps its own size; bigger is slower.")
PRESET_LABEL = "Preset"
PRESET_HELP = "SPP-net's classification pyramid {6,3,2,1} (He et al.) or PSPNet's bins {1,2,3,6}."
LEVELS_LABEL = "Levels (n × n bins each)"
LEVELS_HELP = "Comma-separated positive integers, e.g. 1,2,4. Length = C × Σ n²."
POOL_LABEL = "Pooling"
POOL_HELP = "max: the paper's choice. avg: 'SPP with global average pooling'; its 1 × 1 level is the backbone's GAP."
BINS_LABEL = "Bin rule"
BINS_HELP = ("adaptive: [floor(i·a/n), ceil((i+1)·a/n)), always n bins (released SPP code, PyTorch). "
             "paper: window ceil(a/n), stride floor(a/n), which can give the wrong number of bins.")
BACKBONE_LABEL = "Backbone"
BACKBONE_HELP = "Weights: packaged (always offline), cached (in torch hub's folder) or not cached (needs a download)."
STAGE_LABEL = "Stage"
WEIGHTS_LABEL = "Weights"
WEIGHTS_HELP = "untrained = random init (seeded): shows what the pooling does without learned features."
CHECKPOINT_LABEL = "Checkpoint (.pt / .pth state_dict)"
CHECKPOINT_HELP = ("Replaces the weights with your state_dict for this architecture. Loaded with "
                   "torch.load(weights_only=True): code in a pickle is refused.")
CHANNEL_LABEL = "Channel"
SHOW_LEVELS_LABEL = "Levels to draw"
SHOW_LEVELS_HELP = "Which grids appear on the photo and the feature map."
SHOW_RF_LABEL = "Show the receptive field of the selected bin"
SHOW_RF_HELP = ("The theoretical receptive field: every input pixel that can influence the bin's cells. "
                "Much wider than the bin.")


def sample_order(name: str) -> tuple[bool, int, str]:
    """Samples in :data:`SAMPLE_TITLES` order, unknown names after them by name."""
    titles = list(SAMPLE_TITLES)
    return name not in SAMPLE_TITLES, titles.index(name) if name in SAMPLE_TITLES else 0, name


def sample_title(name: str) -> str:
    return SAMPLE_TITLES.get(name, name)


def preset_name(key: str) -> str:
    return PRESET_NAMES.get(key, key)


def max_side_name(value: int) -> str:
    return "native" if value == 0 else str(value)


def upload_help() -> str:
    from ..images import DEFAULT_MAX_PIXELS

    return (f"PNG, JPEG, WEBP, GIF, BMP or TIFF, up to {MAX_UPLOAD_MB} MB per file and "
            f"{DEFAULT_MAX_PIXELS // 1_000_000} megapixels. Decoded in memory, never written to disk; "
            "other sessions never see it.")


def still_showing(levels: Sequence[int]) -> str:
    return f"Still showing the last valid pyramid: {', '.join(map(str, levels))}."


def levels_error(sentence: str, levels: Sequence[int]) -> str:
    return f"{literal(sentence)} Showing the last valid pyramid ({', '.join(map(str, levels))})."


def not_drawn(levels: Sequence[int]) -> str:
    from .style import MAX_DRAWN_LEVEL

    many = len(levels) > 1
    return (f"Level{'s' if many else ''} {', '.join(map(str, levels))} {'are' if many else 'is'} pooled and counted, "
            f"but grids finer than {MAX_DRAWN_LEVEL} × {MAX_DRAWN_LEVEL} are not drawn on the photo or the feature map.")


def backbone_option(title: str, status: str) -> str:
    return f"{title.split(' (')[0]} · weights {status}"


def stage_help(default_stage: str) -> str:
    return f"Where the map is taken. Default: {default_stage}, the stage its classifier reads."


def checkpoint_note(filename: str) -> str:
    return (f"Weights come from **{literal(filename)}** (the pretrained/untrained choice is ignored while it "
            "is loaded).")


def channel_option(channel: Channel) -> str:
    return {"mean": "mean over channels", "max": "max over channels"}.get(str(channel), f"channel {channel}")


def channel_help(channels: int) -> str:
    return (f"What the feature map, pooled heatmaps and SPPF branches show: one of {channels:,} channels, "
            "or their mean / max.")


# ----------------------------------------------------------------------------
# Page header, errors, downloads

APP_TITLE = "spp-viz"
INTRO = (
    "**Spatial pyramid pooling (SPP)** (He et al., 2014) splits a CNN's feature map into n × n bins at "
    "several levels and pools each bin, so a map of *any* size becomes a vector of *fixed* length "
    "C × Σ n²: the classifier behind it never sees the image size. **SPPF** (YOLOv5) is a different "
    "module with a similar name: three chained 5 × 5 stride-1 max pools, identical to parallel 5/9/13 pools, "
    "that keep the map's size and multiply its channels by four. Below, a real pretrained network "
    "shows both on a photo: hover any bin, click a pooled cell to follow it back to the image."
)
WORKING = "Decoding and running the backbone (once per image and setting)…"
MEASURING = "Timing the heads now that the page is drawn…"
DEVICE_LABEL = "Device"
DEVICE_HELP = ("Where the backbone and every head run and are timed. The feature map stays on this device; "
               "latencies are CUDA-event timings on a GPU, perf_counter timings on the CPU.")


def measuring_note(labels: Sequence[str]) -> str:
    """Said where a figure will follow the page: what is being measured, and why not before."""
    what = ", ".join(dict.fromkeys(labels))
    return (f"Measuring {what} now that the page is drawn: a timing taken while the page is still being sent "
            "would not be a measurement.")


def measurement_failed(what: str, reason: str) -> str:
    return f"Measuring {what} failed ({reason}); the rest of the page is unaffected."
USE_UNTRAINED = "Use untrained weights instead"
NOTHING_KEPT = "Nothing was kept from this file; pick another image or setting."
OUT_OF_MEMORY = "Out of memory while analysing this image: choose a smaller working resolution."
OUT_OF_MEMORY_DRAWING = "Out of memory while drawing this analysis: choose a smaller working resolution."
METRIC_MAP = "Feature map C × h × w"
METRIC_VECTOR = "SPP vector"
METRIC_SPPF = "SPPF output (after cv2)"
SPPF_DELTA = "grows with the input"
METRIC_TOP1 = "Top-1 (global average level)"
METRIC_TOP1_SHORT = "Top-1"
DL_NPY = "SPP vector (.npy)"
DL_CSV = "SPP vector (.csv)"
DL_TABLE = "Dimension table (.csv)"
DL_JSON = "Report (.json, as spp-viz inspect --json)"
PROVENANCE_TITLE = "Timings and provenance"


def unexpected_analysis(kind: str) -> str:
    return f"Unexpected {kind} while analysing this image; try another image or setting."


def unexpected_drawing(kind: str) -> str:
    return f"Unexpected {kind} while drawing the panels; try another setting."


def unexpected_panel(title: str, kind: str) -> str:
    return f"Unexpected {kind} while drawing “{title}”; the other panels are unaffected."


def summary_line(filename: str, original: tuple[int, int], working: tuple[int, int], title: str, stage: str,
                 weights: str, frames: int) -> str:
    (ow, oh), (width, height) = original, working
    line = (f"**{literal(filename)}** · Original {ow} x {oh}, analysed at {width} x {height} · "
            f"{title.split(' (')[0]} cut at **{stage}**, weights: **{literal(weights)}**")
    return line + (f" · {frames} frames, the first is used" if frames > 1 else "")


def notes_line(notes: Sequence[str]) -> str:
    return "Notes: " + "; ".join(notes) + "."


def untrained_warning(title: str) -> str:
    return (f"**Untrained** (random, seeded) weights for {title}: the maps show what pooling does, "
            "not what a trained network has learned, and there are no predictions.")


def untrained_note(untrained: bool) -> str:
    """Appended to every chart title while the weights are random."""
    return " · <b>untrained weights</b>" if untrained else ""


def map_delta(stride: int, receptive_field: int) -> str:
    return f"stride {stride}, receptive field {receptive_field} px"


def vector_delta(valid: bool) -> str:
    return "fixed for any input size" if valid else "NOT the fixed length"


def top1_help(label: str, index: int) -> str:
    return f"{label}: ImageNet class {index}."


def no_top1(untrained: bool) -> str:
    return "untrained weights" if untrained else "no ImageNet classifier here"


def provenance_line(weights: str, digest: str) -> str:
    return f"Weights: {literal(weights)}. Image sha256 {digest[:16]}…. Sample photos: see assets/CREDITS.md."


def full_runs(count: int) -> str:
    return f"Whole page drawn {count} time{'s' if count != 1 else ''} in this session."


def fragment_runs(count: int) -> str:
    return f"Selection panels drawn {count} time{'s' if count != 1 else ''} (a bin click redraws only these)."


# ----------------------------------------------------------------------------
# The selection panels

def selection_line(selected: tuple[int, int, int] | None, by_user: bool) -> str:
    """The selection in words: ``Selected: level N, bin (r, c)``."""
    if selected is None:
        return "No bin to select: no level is drawn."
    n, row, col = selected
    how = "" if by_user else " (the strongest bin of the finest level, until you click a pooled cell)"
    return f"**Selected: level {n}, bin ({row}, {col})**{how}"


def bins_caption(stride: int, overlaps: Sequence[str]) -> str:
    """How bins reach the photo: through the stride (cell i covers pixels [i·s, (i+1)·s))."""
    return (f"Each feature cell covers {stride} × {stride} input pixels (the stage stride), so bin boxes are "
            f"cells × {stride}. Adaptive bins may share a cell with their neighbour: the darker bands. "
            + "; ".join(overlaps) + ".")


def highlighted(selected: tuple[int, int, int], by_user: bool, show_rf: bool, global_context: bool) -> str:
    n, row, col = selected
    how = "selected" if by_user else "strongest bin of the finest level, until you click a pooled cell"
    if not show_rf:
        rf = ""
    elif global_context:
        rf = (" Its theoretical receptive field is the whole image: squeeze-excite on this backbone's path mixes "
              "every pixel into every output (dotted cyan).")
    else:
        rf = (" Dotted cyan: its theoretical receptive field, from the layers' kernels, strides and padding for this "
              "input size.")
    return f"Highlighted: level {n}, bin ({row}, {col}) ({how}).{rf}"


def feature_map_caption(shape: tuple[int, int, int], stage: str, pool: str, channel: Channel) -> str:
    c, h, w = shape
    if pool != "max":
        winners = "Average pooling has no winning cell: every cell of a bin counts equally."
    elif channel in ("mean", "max"):
        winners = ("Markers: the cell each bin's maximum came from in each bin's strongest channel "
                   "(pick a channel to see its own).")
    else:
        winners = f"Markers: the cell each bin's maximum came from in channel {channel}."
    return f"{c:,} × {h} × {w} = {c * h * w:,} numbers at stage {stage}. {winners} White box: the selected bin's cells."


def pooled_caption(what: str) -> str:
    return (f"Each level pools the map into n × n numbers per channel; shown: {what}, one colour scale for all "
            "levels. Click a cell to select that bin.")


def level_numbers(shape: Sequence[int], valid: bool) -> str:
    """``1,280 × 2 × 2 = 5,120 numbers`` for a level's pooled ``(C, rows, cols)``."""
    c, rows, cols = shape
    return f"{times(c, rows, cols)} = {c * rows * cols:,} numbers" + ("" if valid else " (not n × n)")


def vector_arithmetic(channels: int, levels: Sequence[int]) -> str:
    """``1,280 × (1 + 4 + 16) = 26,880``: the fixed length C × Σ n²."""
    return f"{channels:,} × ({' + '.join(str(n * n) for n in levels)}) = {channels * sum(n * n for n in levels):,}"


def vector_fixed(channels: int, levels: Sequence[int]) -> str:
    return f"Length {vector_arithmetic(channels, levels)}, whatever the input size."


def vector_broken(length: int, channels: int, levels: Sequence[int]) -> str:
    return (f"The paper rule gave {length:,} numbers instead of {vector_arithmetic(channels, levels)}: "
            "a fully connected layer sized for the formula would reject this vector.")


def level_name(n: int) -> str:
    return f"level {n} ({n} × {n} bins)"


# ----------------------------------------------------------------------------
# Output dimensions, SPPF, predictions, rules

def sweep_caption(expected_length: int) -> str:
    return ("Inputs of growing size at this image's aspect ratio (pure arithmetic, no forward pass): the feature map "
            f"grows, the SPP vector stays at {expected_length:,}, SPPF's output grows with the map. Star: this image.")


SPPF_INTRO = ("SPPF (YOLOv5) applies **one 5 × 5 stride-1 max pool three times**; chained stride-1 max pools compose, "
              "so the branches are exactly 5, 9 and 13 wide, equal to YOLO's parallel SPP(5, 9, 13). Both keep the "
              "map's h × w: unlike He et al.'s SPP, they are not fixed-length poolers.")
SPPF_RF_CAPTION = "Theoretical receptive field of one output cell of each branch, in feature cells and input pixels."


def sppf_equal(equal: bool, max_abs_diff: float, shape: tuple[int, int, int]) -> str:
    c, h, w = shape
    return f"SPPF == parallel SPP(5,9,13): {equal}, max |diff| {max_abs_diff:g} (torch.equal on this {c:,} × {h} × {w} map)."


def sppf_output(shape: Sequence[int], numbers: int, spp_length: int) -> str:
    return (f"Both output **{' × '.join(map(str, shape))}** = {numbers:,} numbers here, growing with the input; "
            f"classic SPP gives **{spp_length:,}** for any input.")


TIMINGS_UNRELIABLE = UNRELIABLE_TIMINGS  # the engine's sentence (the JSON report's warning too)


def costs_caption(device: str, costs: Sequence[HeadCost], consistent: bool = True) -> str:
    """What the costs table measured, and what it says: SPPF's pools vs the convs around them
    (no lesson from timings that contradict themselves)."""
    by_kind = {cost.kind: cost for cost in costs}
    sppf, parallel = by_kind.get(HeadKind.SPPF), by_kind.get(HeadKind.PARALLEL_SPP)
    lesson = ""
    if not consistent:
        lesson = " " + TIMINGS_UNRELIABLE
    elif sppf and parallel and sppf.pool_ms > 0 and sppf.total_ms > 0:
        lesson = (f" Here SPPF's pools take {sppf.pool_ms / parallel.pool_ms:.2f}× the parallel pools' time, and its "
                  f"1 × 1 convs take {1 - sppf.pool_ms / sppf.total_ms:.0%} of the whole module's.")
    return ("pool ms: the parameter-free pooling alone (on cv1's C/2 channels, as inside the module); total ms: the "
            "whole module with its 1 × 1 convs (cv1 halves C, cv2 back to C; random weights: the time is real, the values "
            "are not). The SPP row is the pyramid on this page. Medians of interleaved runs on "
            f"{device} ({method(device)}), measured after the page was drawn, with nothing else running (SPPF once per map, "
            f"SPP once per pyramid); FLOPs count convs only.{lesson}")


TOP5_TITLE = "ImageNet top-5 for the whole image"
TOP5_CAPTION = ("Read from the 1 × 1 average level = the backbone's global average pool (GAP), exactly what its "
                "classifier was trained on, here at this image's own size.")
SWITCH_TO_AVG = ("Switch pooling to **avg** to label every bin with the classifier's top-1: an avg-pooled bin is a "
                 "global average pool over its cells, what the classifier was trained on; a max-pooled bin is not.")
LABEL_LEVEL_LABEL = "Level to label"


def no_predictions(reason: str) -> str:
    return "No predictions: " + reason


def bin_labels_caption(n: int) -> str:
    return (f"Each avg-pooled bin is a global average pool over its own cells, so the classifier can read it alone. "
            f"Level {n}.")


def moved_bins(n: int, moved: int, shape: tuple[int, int]) -> str:
    return f"- level {n}: {moved} of {shape[0] * shape[1]} bins differ from the adaptive rule (dashed red on the photo)."


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

FAMILY_HEADS_LABEL = "Heads"
FAMILY_HEADS_HELP = "Every head runs on this feature map; the defaults are SPP, YOLOv5's SPP and SPPF."
FAMILY_K_LABEL = "SPPF k"
FAMILY_K_HELP = "SPPF's pool size (odd): n chained k × k pools give windows k, 2k − 1, …, n(k − 1) + 1. Also sets YOLO SPP's kernels."
FAMILY_N_LABEL = "SPPF n"
FAMILY_N_HELP = "How many k × k pools SPPF chains (ultralytics: 3)."
FAMILY_NO_HEADS = "Choose at least one head to compare."
FAMILY_UNTRAINED = ("The 1 × 1 / 3 × 3 convs of these heads have no pretrained weights for this backbone: they are seeded "
                    "random (untrained). Shapes, parameters, FLOPs and latencies are real; conv outputs are not learned "
                    "features, so only the parameter-free pooling branches are drawn, on the real map.")
FAMILY_TABLE_CAPTION = ("Params: trainable, sum(p.numel()). FLOPs: torch.utils.flop_counter (convs; pooling counts 0). "
                        "Pool ms: the head's own pooling layers on the real map, at the width its pools see; total ms: "
                        "the whole module. Medians, all heads interleaved, on the device in 'timed on', measured once per map, heads, "
                        "k and n after the page was drawn. RF: theoretical receptive field of one output cell through each branch.")
FAMILY_QUESTIONS_TITLE = "Questions people ask about these heads"


def family_error(sentence: str) -> str:
    return f"{literal(sentence)} The other panels are unaffected."


def family_equality(head: str, other: str, claim: str, equal: bool, diff: float) -> str:
    verdict = "torch.equal: **True**" if equal else "torch.equal: **False**"
    return f"- `{head}` ≡ `{other}`: {literal(claim)}. {verdict}, max |diff| {diff:g}."


def family_purpose(head: str, name: str, purpose: str, source: str) -> str:
    return f"- **`{head}`** ({literal(name)}): {literal(purpose)} Source: {literal(source)}."


def family_costs_title(c: int, h: int, w: int) -> str:
    return f"Cost on this {times(c, h, w)} map: parameters, FLOPs and latency of each head"


def family_branches_title(head: str, untrained_convs: bool) -> str:
    tail = " · convs untrained, not drawn" if untrained_convs else ""
    return f"{head}: pooling branches on the real map (mean over channels){tail}"


def family_questions(k: int, n: int, latency: str, sppf_vs_elan: str) -> list[str]:
    """Short answers to the questions users ask (yolov5 #6723, #8785, #8400; yolov7 #658; yolov9 #489; darknet #1529)."""
    widths = ", ".join(str(i * (k - 1) + 1) for i in range(1, n + 1))
    return [
        "**Why does SPPF(k=5) equal SPP(5, 9, 13) and not (5, 6, 7)?** (yolov5 #6723) Each stride-1 k × k max pool "
        "widens the window by k − 1 cells: 5, then 5 + 4 = 9, then 13. A max of maxes is the max of the union, so "
        f"chaining is exact; here k = {k}, n = {n} gives windows {widths}, checked above with torch.equal.",
        "**Why does YOLO call a size-keeping module 'SPP'?** (yolov5 #8785, AlexeyAB/darknet #4475) It pools with "
        "stride 1 and padding k // 2, so every cell gets its own window and h × w is kept; the name comes from He "
        "et al.'s multi-scale pooling, but only `spp` here turns any map into a fixed-length vector.",
        f"**Where is the SPP vs SPPF latency comparison?** (yolov5 #8400) In the table and chart above, on this map: {latency}",
        "**SPPCSPC vs SPPFCSPC?** (yolov7 #658) SPPFCSPC swaps SPPCSPC's parallel 5/9/13 pools for SPPF's cascade: "
        "the same pooled tensor (see the equalities) with fewer comparisons. YOLOv6's CSPSPPF is that design at half "
        "width. Parallel pools can run concurrently on some hardware, so the cascade is not faster everywhere.",
        f"**SPPF vs SPPELAN?** (yolov9 #489) SPPELAN is SPPF's structure with a free hidden width c3 (and SiLU after "
        f"cv1): {sppf_vs_elan}",
        "**Why 5/9/13 windows and not 1 × 1, 2 × 2, 4 × 4 bins?** (darknet #1529) A detector predicts per cell and "
        "needs the map; fixed bins would pool it into one vector and throw the layout away. `spp` and `ppm` show what "
        "bins do (PPM upsamples its bins back onto the map for segmentation).",
    ]


def milliseconds(value: float, measuring: bool = False) -> str:
    """A median in ms, or why there is none (still being measured, or not measured at all)."""
    if math.isfinite(value):
        return f"{value:.2f}"
    return "measuring…" if measuring else "not measured"


def family_latency_answer(family: FamilyComparison) -> str:
    if not family.timings_consistent:
        return TIMINGS_UNRELIABLE
    if "sppf" in family.ids and "spp_yolo" in family.ids:
        a, b = family.head("spp_yolo"), family.head("sppf")
        return (f"parallel pools (spp_yolo) {milliseconds(a.pool_ms)} ms vs SPPF's cascade {milliseconds(b.pool_ms)} ms "
                f"for the pooling alone; {milliseconds(a.total_ms)} vs {milliseconds(b.total_ms)} ms for the whole modules.")
    return "choose both spp_yolo and sppf in the heads above to see them timed side by side."


def family_elan_answer(family: FamilyComparison) -> str:
    if "sppf" in family.ids and "sppelan" in family.ids:
        a, b = family.head("sppf"), family.head("sppelan")
        return (f"with c3 = C / 2 it has {b.params:,} parameters and {b.flops / 1e9:.3f} GFLOPs here, SPPF "
                f"{a.params:,} and {a.flops / 1e9:.3f}; a smaller c3 makes it cheaper.")
    return "choose sppf and sppelan above to compare their parameters and FLOPs on this map."


# the effective-receptive-field panel
ERF_NO_BIN = "Choose a level with bins to see a bin's effective receptive field."
ERF_HOW = ("Press the button (one backward pass through the backbone); after that the ERF follows "
           "every bin you select in the pyramid explorer.")


def erf_button(level: int, row: int, col: int) -> str:
    return f"Compute the ERF of bin ({row}, {col}) of level {level}"


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
REGION_NO_CLASSIFIER = ("This backbone/stage has no ImageNet classifier to read: the vectors are pooled, "
                        "nothing is classified.")
REGION_TIMING = ("Pooling time: median of many calls (interleaved timeit blocks); crop-and-rerun: one "
                 "synchronised run of crop, forward and classifier, with the load average at that moment. Both are "
                 "measured after the page is drawn.")


def region_box_label(key: str) -> str:
    """``region_x0`` -> ``X0``."""
    return key.removeprefix("region_").upper()


def region_pooled(window: tuple[int, int, int, int], pooled_ms: float, device: str | None = None) -> str:
    r0, r1, c0, c1 = window
    time = f"{pooled_ms * 1000:.1f} µs (median, {device})" if math.isfinite(pooled_ms) else "measuring…"
    return f"**Pooled from the shared map** (cells rows {r0}–{r1 - 1}, columns {c0}–{c1 - 1}): {time}"


def region_recomputed(run: SingleRun | None) -> str:
    if run is None:
        return "**Cropped and rerun** (a full forward pass): measuring…"
    return f"**Cropped and rerun** (a full forward pass): {single_run(run)}"


def single_run(run: SingleRun) -> str:
    """A one-shot time as what it is: one run, where, and how busy the machine was."""
    return f"{run.ms:.1f} ms (one run on {run.device}, load average {run.load_average:.2f})"


def region_length(length: int) -> str:
    return f"SPP vector of the window: {length:,} numbers. {REGION_TIMING}"


# the scales panel
SCALES_HOW = "One forward pass per size; the result is cached for this image, backbone and pyramid."
SCALES_QUEUED = "The scales run right after this page is drawn, so their forward times are taken on a quiet page."


def scales_button(sizes: Sequence[int]) -> str:
    return f"Run the backbone at {', '.join(map(str, sizes))} px"


def resolution_title(training: tuple[int, int], working: tuple[int, int]) -> str:
    return f"At the training resolution ({training[0]}×{training[1]}) vs the working size ({working[0]}×{working[1]})"


def resolution_column(size: tuple[int, int], what: str) -> str:
    return f"**At {size[0]}×{size[1]}** ({what})"


# serving many users: the waiting line, the replica's name, an upload another replica received
def waiting_line(ahead: int, waited_s: int) -> str:
    """One line while a session waits for a slot for its heavy work (it updates as the line moves)."""
    who = "your analysis starts next" if ahead < 1 else f"{ahead} analys{'is' if ahead == 1 else 'es'} ahead of you"
    return (f"Waiting for the model: {who} ({waited_s} s so far). The sidebar still works, and the previous "
            "image's page stays visible below until yours is ready.")


def served_by(replica: str) -> str:
    return f"served by replica {replica}"


UPLOAD_LOST = ("Your upload is not on this server (another replica took over this page, and uploads are kept only in "
               "the memory of the one that received them): upload the image again.")
