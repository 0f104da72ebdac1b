"""The words the Streamlit page shows around the results: sidebar labels and help, sample titles,
the header's metrics, buttons, download labels, headings inside panels, prompts, and status and
error messages, and the panels' titles (:data:`PANEL_TITLES`, which :data:`spp_viz.ui.panels.PANELS` uses).

The sentences that explain results, and the words drawn inside figures, are in
:mod:`spp_viz.figures.text`. Nothing here imports Streamlit.
"""

from __future__ import annotations

from typing import Sequence

from ..choices import ChannelView, channel_view
from ..dimensions import SPPF_STAGE_ROLES, SPPFStage
from ..figures import text
from ..figures.style import MAX_DRAWN_LEVEL
from ..figures.text import literal

# ----------------------------------------------------------------------------
# The panels' titles, by panel key (phase 0 draws some of them before the panels' modules load)
PANEL_EXPLORER, PANEL_DIMENSIONS = "explorer", "dimensions"
PANEL_TITLES = {
    PANEL_EXPLORER: "Pyramid explorer: bins on the image, feature map, pooled activations",
    "erf": "Effective receptive field of the bin",
    PANEL_DIMENSIONS: "Output dimensions",
    "sppf": "SPP vs SPPF",
    "family": "Pyramid-pooling family",
    "predictions": "What the backbone sees",
    "scales": "Scales",
    "region": "Region pooling",
    "rules": "Paper rule vs adaptive rule",
}

# ----------------------------------------------------------------------------
# Sidebar
SAMPLE_TITLES = {
    "chelsea_cat.jpg": "Chelsea the cat",
    "coffee_espresso.jpg": "Espresso cup",
    "camera_tripod.jpg": "Camera on a tripod (grayscale)",
    "rocket_launch.jpg": "Rocket launch",
}
PRESET_NAMES = {"custom": "custom", "default": "default 1,2,4", "spp-net": "SPP-net 6,3,2,1", "psp": "PSP-style 1,2,3,6"}
SIDEBAR_IMAGE, SIDEBAR_PYRAMID, SIDEBAR_BACKBONE, SIDEBAR_DISPLAY = "Image", "Pyramid", "Backbone", "Display"
SIDEBAR_FAMILY = "Pooling heads"  # the family panel's heads, k and n
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
CHECKPOINT_LABEL = "Checkpoint (.pt / .pth: a state_dict, or a YOLO detector)"
CHECKPOINT_HELP = ("A state_dict for the chosen architecture replaces its weights; a YOLOv5, YOLOv8 or YOLO11 checkpoint "
                   "(ultralytics or YOLOv5) switches to the backbone yolo: its own layers up to its trained SPPF. Read with "
                   "torch.load(weights_only=True), a detector's classes answered by inert stand-ins: nothing in the file "
                   "is run, and nothing is written to disk.")
DETECTOR_OPTION = "YOLO detector (from your checkpoint)"
DETECTOR_NEEDS_FILE = "The yolo backbone is read from your detector checkpoint: upload one below."
CHANNEL_LABEL = "Channel"


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


def upload_help(max_upload_mb: int) -> str:
    """The image uploader's help; ``max_upload_mb`` is its own limit (``defaults.IMAGE_UPLOAD_MB``)."""
    from ..formats import ALLOWED_FORMATS
    from ..images import DEFAULT_MAX_PIXELS

    formats = f"{', '.join(ALLOWED_FORMATS[:-1])} or {ALLOWED_FORMATS[-1]}"
    return (f"{formats}, up to {max_upload_mb} MB per file and "
            f"{DEFAULT_MAX_PIXELS // 1_000_000} megapixels. Decoded in memory, never written to disk; "
            "other sessions never see it.")


def still_showing(levels: Sequence[int]) -> str:
    return f"Still showing the last valid pyramid: {', '.join(map(str, levels))}."


def levels_error(sentence: str, levels: Sequence[int]) -> str:
    return f"{literal(sentence)} Showing the last valid pyramid ({', '.join(map(str, levels))})."


def not_drawn(levels: Sequence[int]) -> str:
    many = len(levels) > 1
    return (f"Level{'s' if many else ''} {', '.join(map(str, levels))} {'are' if many else 'is'} pooled and counted, "
            f"but grids finer than {MAX_DRAWN_LEVEL} × {MAX_DRAWN_LEVEL} are not drawn on the photo or the feature map.")


def backbone_option(title: str, status: str) -> str:
    return f"{title.split(' (')[0]} · weights {status}"


def stage_help(default_stage: str, detector: bool = False) -> str:
    if detector:
        return (f"Where the map is taken: the last layer at stride 8, 16, 32 (p3, p4, p5) or the SPPF's output. "
                f"Default: {default_stage}, the map the SPPF reads.")
    return f"Where the map is taken. Default: {default_stage}, the stage its classifier reads."


def checkpoint_note(filename: str, detector: bool = False) -> str:
    if detector:
        return f"The detector in **{literal(filename)}** is the backbone: its own layers and weights."
    return (f"Weights come from **{literal(filename)}** (the pretrained/untrained choice is ignored while it "
            "is loaded).")


def image_too_large(filename: str, size: int, limit_mb: int) -> str:
    return f"{filename} is {size / 2**20:.0f} MB, above the {limit_mb} MB limit for images."


def channel_option(channel: str | int) -> str:
    """The channel picker's label for a widget value (``mean``, ``max`` or an index)."""
    view = channel_view(channel)
    return f"{view} over channels" if isinstance(view, ChannelView) else f"channel {view}"


def channel_help(channels: int) -> str:
    return (f"What the feature map, pooled heatmaps and SPPF branches show: one of {channels:,} channels, "
            "or their mean / max.")


# ----------------------------------------------------------------------------
# Page header, errors, downloads
APP_TITLE = "spp-viz"
INTRO = (
    "**Spatial pyramid pooling (SPP)** (He et al., 2014) splits a CNN's feature map into n × n bins at "
    "several levels and pools each bin, so a map of *any* size becomes a vector of *fixed* length "
    "C × Σ n²: the classifier behind it never sees the image size.\n\n"
    "**SPPF** (YOLOv5) is a different module with a similar name: three chained 5 × 5 stride-1 max pools, "
    "identical to parallel 5/9/13 pools, that keep the map's size. Its sizes have one name each on this page:\n\n"
    + "\n".join(f"- **{text.sppf_stage(stage)}**: {SPPF_STAGE_ROLES[stage]}" for stage in SPPFStage)
    + "\n\nBelow, a real pretrained network shows both on a photo: hover any bin, click a pooled cell to follow "
    "it back to the image."
)
WORKING = "Decoding and running the backbone (once per image and setting)…"
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
METRIC_SPPF = text.sppf_stage(SPPFStage.CV2)
SPPF_DELTA = "grows with the input"
METRIC_TOP1 = "Top-1 (global average level)"
METRIC_TOP1_SHORT = "Top-1"
DOWNLOADS_LABEL = "Download the results"
DL_NPY = "SPP vector (.npy)"
DL_CSV = "SPP vector (.csv)"
DL_TABLE = "Dimension table (.csv)"
DL_JSON = "Report (.json, as spp-viz inspect --json)"
PROVENANCE_TITLE = "Timings and provenance"
FIRST_PHASE_STEPS = ("How long each step of this page's first phase took: one run each, beside whatever else the "
                     "machine was doing, so a record of this visit, not a measurement. The measured latencies, "
                     "with their spread, are in the SPP vs SPPF and family tables.")
# the JSON report's keys (unchanged there), as the provenance list names them
FIRST_PHASE_STEP_NAMES = {"decode": "decode the image (one run)", "load_backbone": "load the backbone (one run)",
                          "backbone_forward": "the backbone's forward (one run)",
                          "spp_head": "pool the pyramid, first time (one run)"}


def unexpected_analysis(kind: str) -> str:
    return f"Unexpected {kind} while analysing this image; try another image or setting."


def unexpected_drawing(kind: str) -> str:
    return f"Unexpected {kind} while drawing the panels; try another setting."


def unexpected_panel(title: str, kind: str) -> str:
    return f"Unexpected {kind} while drawing “{title}”; the other panels are unaffected."


def summary_line(filename: str, original: tuple[int, int], working: tuple[int, int], title: str, stage: str,
                 weights: str, frames: int) -> str:
    (ow, oh), (width, height) = original, working
    line = (f"**{literal(filename)}** · Original {ow} x {oh}, analysed at {width} x {height} (width x height, px; "
            "the page's maps are h × w) · "
            f"{title.split(' (')[0]} cut at **{stage}**, weights: **{literal(weights)}**")
    return line + (f" · {frames} frames, the first is used" if frames > 1 else "")


def detector_line(checkpoint: str, title: str, task: str, saved_by: str, sppf: str, layer: int, bn_folded: bool) -> str:
    """The detector the page analyses: its file, YOLO version and scale, and what saved it."""
    folded = "BatchNorm folded" if bn_folded else "BatchNorm not folded"
    return (f"Detector **{literal(checkpoint)}**: {literal(title)} ({literal(task)}), saved by **{literal(saved_by)}**; "
            f"its trained {sppf} is layer {layer} ({folded}). Read without running its pickle.")


def notes_line(notes: Sequence[str]) -> str:
    return "Notes: " + "; ".join(notes) + "."


def untrained_warning(title: str) -> str:
    return (f"**Untrained** (random, seeded) weights for {title}: the maps show what pooling does, "
            "not what a trained network has learned, and there are no predictions.")


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


# ----------------------------------------------------------------------------
# The panels: titles, widget labels, buttons, prompts

# the selection and the predictions panel
def selection_line(selected: tuple[int, int, int] | None, by_user: bool) -> str:
    """The selection in words: ``Selected: level N, bin (r, c)``, and what ``(r, c)`` counts."""
    if selected is None:
        return "No bin to select: no level is drawn."
    n, row, col = selected
    how = "" if by_user else "; the strongest bin of the finest level, until you click a pooled cell"
    return f"**Selected: level {n}, bin ({row}, {col})** (row {row}, column {col} of the level's grid, counted from 0 at the top left{how})"


PHASE0_SELECTION = "The bins follow from the input size and the backbone's layers: they are drawn before the forward, greyed until its values arrive."
TOP1_PENDING = "after the forward"


def backbone_title(name: str) -> str:
    """A registry backbone's title (its spec's, read from :mod:`spp_viz.catalogue` without torch)."""
    from ..catalogue import TITLES

    return TITLES[name]


def level_name(n: int) -> str:
    return f"level {n} ({n} × {n} bins)"


TOP5_TITLE = "ImageNet top-5 for the whole image"
LABEL_LEVEL_LABEL = "Level to label"


def no_predictions(reason: str) -> str:
    return "No predictions: " + reason


def no_bin_labels(reason: str) -> str:
    return "No bin labels: " + reason


# the pyramid-pooling family panel
FAMILY_HEADS_LABEL = "Heads"
FAMILY_HEADS_HELP = "Every head runs on this feature map; the defaults are SPP, YOLOv5's SPP and SPPF."
FAMILY_K_LABEL = "SPPF k"
FAMILY_K_HELP = "SPPF's pool size (odd): n chained k × k pools give windows k, 2k − 1, …, n(k − 1) + 1. Also sets YOLO SPP's kernels."
FAMILY_N_LABEL = "SPPF n"
FAMILY_N_HELP = "How many k × k pools SPPF chains (ultralytics: 3)."
FAMILY_NO_HEADS = "Choose at least one head to compare."
FAMILY_QUESTIONS_TITLE = "Questions people ask about these heads"


def family_error(sentence: str) -> str:
    return f"{literal(sentence)} The other panels are unaffected."


# the effective-receptive-field panel
ERF_NO_BIN = "Choose a level with bins to see a bin's effective receptive field."
ERF_HOW = ("Press the button (one backward pass through the backbone); after that the ERF follows "
           "every bin you select in the pyramid explorer.")


def erf_button(level: int, row: int, col: int) -> str:
    return f"Compute the ERF of bin ({row}, {col}) of level {level}"


# the region-pooling panel
def region_no_classifier(reason: str) -> str:
    """Why the region's vectors are pooled but not classified (the backbone's own sentence)."""
    return "Pooled, not classified: " + reason


def region_box_label(key: str) -> str:
    """``region_x0`` -> ``X0``."""
    return key.removeprefix("region_").upper()


# the scales panel
SCALES_HOW = "One forward pass per size; the result is cached for this image, backbone and pyramid."
SCALES_QUEUED = "The scales run right after this page is drawn, so their forward times are taken on a quiet page."


def scales_no_classifier(reason: str) -> str:
    return "No top-1 at any size: " + reason


def scales_button(sizes: Sequence[int]) -> str:
    return f"Run the backbone at {', '.join(map(str, sizes))} px"


def resolution_title(training: tuple[int, int], working: tuple[int, int]) -> str:
    return f"At the training resolution ({training[0]}×{training[1]}) vs the working size ({working[0]}×{working[1]})"


def resolution_column(size: tuple[int, int], what: str) -> str:
    return f"**At {size[0]}×{size[1]}** ({what})"


# serving many users: the replica's name, an upload another replica received
def served_by(replica: str) -> str:
    return f"served by replica {replica}"


UPLOAD_LOST = ("Your upload is not on this server (another replica took over this page, and uploads are kept only in "
               "the memory of the one that received them): upload the image again.")

# ----------------------------------------------------------------------------
# The link to this view (spp_viz.ui.links)
LINK_LABEL = "Link to this view"
LINK_HELP = ("The page's settings, the selected bin, the region and the panels opened, in the URL (the copy button "
             "at its right copies it). An uploaded photo never goes into a link.")
LINK_MADE_ON_UPLOAD = ("This link was made on an uploaded photo, which a link never carries: its settings are shown "
                       "on the sample photo.")
LINK_PROBLEMS = "Some values of this link could not be used; each keeps its default:"
