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
from ..i18n import N_, _, ngettext

# ----------------------------------------------------------------------------
# The panels' titles, by panel key (phase 0 draws some of them before the panels' modules load)
PANEL_EXPLORER, PANEL_DIMENSIONS = "explorer", "dimensions"
PANEL_TITLES = {  # translated where they are drawn (N_: extracted, not translated at import)
    PANEL_EXPLORER: N_("Pyramid explorer: bins on the image, feature map, pooled activations"),
    "erf": N_("Effective receptive field of the bin"),
    PANEL_DIMENSIONS: N_("Output dimensions"),
    "sppf": N_("SPP vs SPPF"),
    "family": N_("Pyramid-pooling family"),
    "predictions": N_("What the backbone sees"),
    "scales": N_("Scales"),
    "region": N_("Region pooling"),
    "rules": N_("Paper rule vs adaptive rule"),
}

# ----------------------------------------------------------------------------
# Sidebar (one line a word, however long: the block keeps no repeating shape for `duplicates`)
# Words marked N_ here are translated where they are shown (``_(words.UPLOAD_LABEL)``); a function
# returns its sentence in the run's language (spp_viz.i18n).
SAMPLE_TITLES = {
    "chelsea_cat.jpg": N_("Chelsea the cat"),
    "coffee_espresso.jpg": N_("Espresso cup"),
    "camera_tripod.jpg": N_("Camera on a tripod (grayscale)"),
    "rocket_launch.jpg": N_("Rocket launch"),
}
PRESET_NAMES = {"custom": N_("custom"), "default": N_("default 1,2,4"), "spp-net": N_("SPP-net 6,3,2,1"),
                "psp": N_("PSP-style 1,2,3,6")}
SIDEBAR_IMAGE, SIDEBAR_PYRAMID, SIDEBAR_BACKBONE, SIDEBAR_DISPLAY = N_("Image"), N_("Pyramid"), N_("Backbone"), N_("Display")
SIDEBAR_FAMILY = N_("Pooling heads")  # the family panel's heads, k and n
UPLOAD_LABEL = N_("Upload an image")
CAMERA_TOGGLE = N_("Take a photo with the camera")
CAMERA_LABEL = N_("Camera")
CAMERA_HELP = N_("Shows a camera preview in the sidebar (the browser asks for permission first). The photo is decoded like an upload, in memory, never written to disk.")
SAMPLE_LABEL = N_("…or a sample photo")
SAMPLE_HELP = N_("Used when nothing is uploaded or taken with the camera. Credits: assets/CREDITS.md.")
MAX_SIDE_LABEL = N_("Working resolution (long side, px)")
MAX_SIDE_HELP = N_("The image is resized so its long side is at most this before the backbone runs (never cropped). 'native' keeps its own size; bigger is slower.")
PRESET_LABEL = N_("Preset")
PRESET_HELP = N_("SPP-net's classification pyramid {6,3,2,1} (He et al.) or PSPNet's bins {1,2,3,6}.")
LEVELS_LABEL = N_("Levels (n × n bins each)")
LEVELS_HELP = N_("Comma-separated positive integers, e.g. 1,2,4. Length = C × Σ n².")
POOL_LABEL = N_("Pooling")
POOL_HELP = N_("max: the paper's choice. avg: 'SPP with global average pooling'; its 1 × 1 level is the backbone's GAP.")
BINS_LABEL = N_("Bin rule")
BINS_HELP = N_("adaptive: [floor(i·a/n), ceil((i+1)·a/n)), always n bins (released SPP code, PyTorch). paper: window ceil(a/n), stride floor(a/n), which can give the wrong number of bins.")
BACKBONE_LABEL = N_("Backbone")
BACKBONE_HELP = N_("Weights: packaged (always offline), cached (in torch hub's folder) or not cached (needs a download).")
STAGE_LABEL = N_("Stage")
WEIGHTS_LABEL = N_("Weights")
WEIGHTS_HELP = N_("untrained = random init (seeded): shows what the pooling does without learned features.")
CHECKPOINT_LABEL = N_("Checkpoint (.pt / .pth: a state_dict, or a YOLO detector)")
CHECKPOINT_HELP = N_("A state_dict for the chosen architecture replaces its weights; a YOLOv5, YOLOv8 or YOLO11 checkpoint (ultralytics or YOLOv5) switches to the backbone yolo: its own layers up to its trained SPPF. Read with torch.load(weights_only=True), a detector's classes answered by inert stand-ins: nothing in the file is run, and nothing is written to disk.")
DETECTOR_OPTION = N_("YOLO detector (from your checkpoint)")
DETECTOR_NEEDS_FILE = N_("The yolo backbone is read from your detector checkpoint: upload one below.")
CHANNEL_LABEL = N_("Channel")


def sample_order(name: str) -> tuple[bool, int, str]:
    """Samples in :data:`SAMPLE_TITLES` order, unknown names after them by name."""
    titles = list(SAMPLE_TITLES)
    return name not in SAMPLE_TITLES, titles.index(name) if name in SAMPLE_TITLES else 0, name


def sample_title(name: str) -> str:
    return _(SAMPLE_TITLES[name]) if name in SAMPLE_TITLES else name


def preset_name(key: str) -> str:
    return _(PRESET_NAMES[key]) if key in PRESET_NAMES else key


def max_side_name(value: int) -> str:
    return _("native") if value == 0 else str(value)


def upload_help(max_upload_mb: int) -> str:
    """The image uploader's help; ``max_upload_mb`` is its own limit (``defaults.IMAGE_UPLOAD_MB``)."""
    from ..formats import ALLOWED_FORMATS
    from ..images import DEFAULT_MAX_PIXELS

    return _("{formats} or {last}, up to {mb} MB per file and {megapixels} megapixels. Decoded in memory, never "
             "written to disk; other sessions never see it.").format(
        formats=", ".join(ALLOWED_FORMATS[:-1]), last=ALLOWED_FORMATS[-1], mb=max_upload_mb,
        megapixels=DEFAULT_MAX_PIXELS // 1_000_000)


def still_showing(levels: Sequence[int]) -> str:
    return _("Still showing the last valid pyramid: {levels}.").format(levels=", ".join(map(str, levels)))


def levels_error(sentence: str, levels: Sequence[int]) -> str:
    return _("{error} Showing the last valid pyramid ({levels}).").format(error=literal(sentence), levels=", ".join(map(str, levels)))


def not_drawn(levels: Sequence[int]) -> str:
    return ngettext("Level {levels} is pooled and counted, but grids finer than {n} × {n} are not drawn on the photo or "
                    "the feature map.",
                    "Levels {levels} are pooled and counted, but grids finer than {n} × {n} are not drawn on the photo or "
                    "the feature map.", len(levels)).format(levels=", ".join(map(str, levels)), n=MAX_DRAWN_LEVEL)


# the weights' labels (spp_viz.choices.Weights, spp_viz.backbones.WeightsSource), as the page shows them
WEIGHTS_LABELS = {"pretrained": N_("pretrained"), "untrained": N_("untrained"), "pretrained (package)": N_("pretrained (package)"),
                  "pretrained (cache)": N_("pretrained (cache)"), "pretrained (downloaded)": N_("pretrained (downloaded)")}
CHECKPOINT_PREFIX = "checkpoint "  # WeightsSource.CHECKPOINT's label: "checkpoint <file name>"


def weights_label(weights: str) -> str:
    """A weights label in the run's language (a checkpoint's file name as it is)."""
    if weights in WEIGHTS_LABELS:
        return _(WEIGHTS_LABELS[weights])
    if weights.startswith(CHECKPOINT_PREFIX):
        return _("checkpoint {file}").format(file=weights.removeprefix(CHECKPOINT_PREFIX))
    return weights


# spp_viz.catalogue.WeightsStatus's values, as the backbone picker shows them
WEIGHTS_STATUS = {"packaged": N_("packaged"), "cached": N_("cached"), "not cached": N_("not cached")}


def backbone_option(title: str, status: str) -> str:
    return _("{backbone} · weights {status}").format(backbone=title.split(" (")[0], status=_(WEIGHTS_STATUS.get(status, status)))


def stage_help(default_stage: str, detector: bool = False) -> str:
    if detector:
        return _("Where the map is taken: the last layer at stride 8, 16, 32 (p3, p4, p5) or the SPPF's output. "
                 "Default: {stage}, the map the SPPF reads.").format(stage=default_stage)
    return _("Where the map is taken. Default: {stage}, the stage its classifier reads.").format(stage=default_stage)


def checkpoint_note(filename: str, detector: bool = False) -> str:
    if detector:
        return _("The detector in **{file}** is the backbone: its own layers and weights.").format(file=literal(filename))
    return _("Weights come from **{file}** (the pretrained/untrained choice is ignored while it is loaded).").format(
        file=literal(filename))


def image_too_large(filename: str, size: int, limit_mb: int) -> str:
    return _("{file} is {size} MB, above the {limit} MB limit for images.").format(file=filename, size=f"{size / 2**20:.0f}",
                                                                                  limit=limit_mb)


def channel_option(channel: str | int) -> str:
    """The channel picker's label for a widget value (``mean``, ``max`` or an index)."""
    view = channel_view(channel)
    if view is ChannelView.MEAN:
        return _("mean over channels")
    if view is ChannelView.MAX:
        return _("max over channels")
    return _("channel {index}").format(index=view)


def channel_help(channels: int) -> str:
    return _("What the feature map, pooled heatmaps and SPPF branches show: one of {channels} channels, "
             "or their mean / max.").format(channels=f"{channels:,}")


# ----------------------------------------------------------------------------
# Page header, errors, downloads
APP_TITLE = "spp-viz"
INTRO = N_(
    "**Spatial pyramid pooling (SPP)** (He et al., 2014) splits a CNN's feature map into n × n bins at "
    "several levels and pools each bin, so a map of *any* size becomes a vector of *fixed* length "
    "C × Σ n²: the classifier behind it never sees the image size.\n\n"
    "**SPPF** (YOLOv5) is a different module with a similar name: three chained 5 × 5 stride-1 max pools, "
    "identical to parallel 5/9/13 pools, that keep the map's size. Its sizes have one name each on this page:\n\n"
    "{stages}\n\nBelow, a real pretrained network shows both on a photo: hover any bin, click a pooled cell to follow "
    "it back to the image."
)


def intro() -> str:
    """:data:`INTRO` with SPPF's sizes by their one name (:func:`spp_viz.figures.text.sppf_stage`) and what each is."""
    return _(INTRO).format(stages="\n".join(_("- **{stage}**: {role}").format(stage=text.sppf_stage(stage), role=_(SPPF_STAGE_ROLES[stage]))
                                             for stage in SPPFStage))
WORKING = N_("Decoding and running the backbone (once per image and setting)…")
DEVICE_LABEL = N_("Device")
DEVICE_HELP = N_("Where the backbone and every head run and are timed. The feature map stays on this device; "
               "latencies are CUDA-event timings on a GPU, perf_counter timings on the CPU.")


def measuring_note(labels: Sequence[str]) -> str:
    """Said where a figure will follow the page: what is being measured, and why not before."""
    return _("Measuring {what} now that the page is drawn: a timing taken while the page is still being sent "
             "would not be a measurement.").format(what=", ".join(dict.fromkeys(labels)))


def measurement_failed(what: str, reason: str) -> str:
    return _("Measuring {what} failed ({reason}); the rest of the page is unaffected.").format(what=what, reason=reason)


USE_UNTRAINED = N_("Use untrained weights instead")
NOTHING_KEPT = N_("Nothing was kept from this file; pick another image or setting.")
OUT_OF_MEMORY = N_("Out of memory while analysing this image: choose a smaller working resolution.")
OUT_OF_MEMORY_DRAWING = N_("Out of memory while drawing this analysis: choose a smaller working resolution.")
METRIC_MAP = N_("Feature map C × h × w")
METRIC_VECTOR = N_("SPP vector")


def metric_sppf() -> str:
    """The SPPF metric's label: the module's output by its one name."""
    return text.sppf_stage(SPPFStage.CV2)


SPPF_DELTA = N_("grows with the input")
METRIC_TOP1 = N_("Top-1 (global average level)")
METRIC_TOP1_SHORT = N_("Top-1")
DOWNLOADS_LABEL = N_("Download the results")
DL_NPY = N_("SPP vector (.npy)")
DL_CSV = N_("SPP vector (.csv)")
DL_TABLE = N_("Dimension table (.csv)")
DL_JSON = N_("Report (.json, as spp-viz inspect --json)")
PROVENANCE_TITLE = N_("Timings and provenance")
FIRST_PHASE_STEPS = N_("How long each step of this page's first phase took: one run each, beside whatever else the "
                     "machine was doing, so a record of this visit, not a measurement. The measured latencies, "
                     "with their spread, are in the SPP vs SPPF and family tables.")
# the JSON report's keys (unchanged there), as the provenance list names them
FIRST_PHASE_STEP_NAMES = {"decode": N_("decode the image (one run)"), "load_backbone": N_("load the backbone (one run)"),
                          "backbone_forward": N_("the backbone's forward (one run)"),
                          "spp_head": N_("pool the pyramid, first time (one run)")}


def unexpected_analysis(kind: str) -> str:
    return _("Unexpected {kind} while analysing this image; try another image or setting.").format(kind=kind)


def unexpected_drawing(kind: str) -> str:
    return _("Unexpected {kind} while drawing the panels; try another setting.").format(kind=kind)


def unexpected_panel(title: str, kind: str) -> str:
    return _("Unexpected {kind} while drawing “{title}”; the other panels are unaffected.").format(kind=kind, title=title)


def summary_line(filename: str, original: tuple[int, int], working: tuple[int, int], title: str, stage: str,
                 weights: str, frames: int) -> str:
    (ow, oh), (width, height) = original, working
    line = _("**{file}** · Original {ow} x {oh}, analysed at {width} x {height} (width x height, px; the page's maps are "
             "h × w) · {backbone} cut at **{stage}**, weights: **{weights}**").format(
        file=literal(filename), ow=ow, oh=oh, width=width, height=height, backbone=title.split(" (")[0], stage=stage,
        weights=literal(weights_label(weights)))
    return line + (_(" · {frames} frames, the first is used").format(frames=frames) if frames > 1 else "")


def detector_line(checkpoint: str, title: str, task: str, saved_by: str, sppf: str, layer: int, bn_folded: bool) -> str:
    """The detector the page analyses: its file, YOLO version and scale, and what saved it."""
    folded = _("BatchNorm folded") if bn_folded else _("BatchNorm not folded")
    return _("Detector **{file}**: {title} ({task}), saved by **{saved_by}**; its trained {sppf} is layer {layer} "
             "({folded}). Read without running its pickle.").format(
        file=literal(checkpoint), title=literal(title), task=literal(task), saved_by=literal(saved_by), sppf=sppf,
        layer=layer, folded=folded)


def notes_line(notes: Sequence[str]) -> str:
    from ..images import note_in_language

    return _("Notes: {notes}.").format(notes=_("; ").join(note_in_language(note) for note in notes))


def untrained_warning(title: str) -> str:
    return _("**Untrained** (random, seeded) weights for {backbone}: the maps show what pooling does, "
             "not what a trained network has learned, and there are no predictions.").format(backbone=title)


def map_delta(stride: int, receptive_field: int) -> str:
    return _("stride {stride}, receptive field {rf} px").format(stride=stride, rf=receptive_field)


def vector_delta(valid: bool) -> str:
    return _("fixed for any input size") if valid else _("NOT the fixed length")


def top1_help(label: str, index: int) -> str:
    return _("{label}: ImageNet class {index}, read by the backbone's own classifier from a global average pool of the "
             "whole map (taken beside the pyramid, whatever its pooling).").format(label=label, index=index)


def no_top1(untrained: bool) -> str:
    return _("untrained weights") if untrained else _("no ImageNet classifier here")


def provenance_line(weights: str, digest: str) -> str:
    return _("Weights: {weights}. Image sha256 {digest}…. Sample photos: see assets/CREDITS.md.").format(
        weights=literal(weights_label(weights)), digest=digest[:16])


# ----------------------------------------------------------------------------
# The panels: titles, widget labels, buttons, prompts

# the selection and the predictions panel
def selection_line(selected: tuple[int, int, int] | None, by_user: bool) -> str:
    """The selection in words: ``Selected: level N, bin (r, c)``, and what ``(r, c)`` counts."""
    if selected is None:
        return _("No bin to select: no level is drawn.")
    n, row, col = selected
    if by_user:
        return _("**Selected: level {n}, bin ({row}, {col})** (row {row}, column {col} of the level's grid, counted from 0 "
                 "at the top left)").format(n=n, row=row, col=col)
    return _("**Selected: level {n}, bin ({row}, {col})** (row {row}, column {col} of the level's grid, counted from 0 at "
             "the top left; the strongest bin of the finest level drawn, until you click a pooled cell)").format(n=n, row=row, col=col)


PHASE0_SELECTION = N_("The bins follow from the input size and the backbone's layers: they are drawn before the forward, greyed until its values arrive.")
TOP1_PENDING = N_("after the forward")


def backbone_title(name: str) -> str:
    """A registry backbone's title (its spec's, read from :mod:`spp_viz.catalogue` without torch)."""
    from ..catalogue import TITLES

    return TITLES[name]


def level_name(n: int) -> str:
    return _("level {n} ({n} × {n} bins)").format(n=n)


TOP5_TITLE = N_("ImageNet top-5 for the whole image")
LABEL_LEVEL_LABEL = N_("Level to label")


def no_predictions(reason: str) -> str:
    return _("No predictions: {reason}").format(reason=reason)


def no_bin_labels(reason: str) -> str:
    return _("No bin labels: {reason}").format(reason=reason)


# the pyramid-pooling family panel
FAMILY_HEADS_LABEL = N_("Heads")
FAMILY_HEADS_HELP = N_("Every head runs on this feature map; the defaults are SPP, YOLOv5's SPP and SPPF.")
FAMILY_K_LABEL = N_("SPPF k")
FAMILY_K_HELP = N_("SPPF's pool size (odd): n chained k × k pools give windows k, 2k − 1, …, n(k − 1) + 1. Also sets YOLO SPP's kernels.")
FAMILY_N_LABEL = N_("SPPF n")
FAMILY_N_HELP = N_("How many k × k pools SPPF chains (ultralytics: 3).")
FAMILY_NO_HEADS = N_("Choose at least one head to compare.")
FAMILY_QUESTIONS_TITLE = N_("Questions people ask about these heads")


def family_error(sentence: str) -> str:
    return _("{error} The other panels are unaffected.").format(error=literal(sentence))


# the effective-receptive-field panel
ERF_NO_BIN = N_("Choose a level with bins to see a bin's effective receptive field.")
ERF_HOW = N_("Press the button (one backward pass through the backbone); after that the ERF follows "
           "every bin you select in the pyramid explorer.")


def erf_button(level: int, row: int, col: int) -> str:
    return _("Compute the ERF of bin ({row}, {col}) of level {level}").format(row=row, col=col, level=level)


# the region-pooling panel
def region_no_classifier(reason: str) -> str:
    """Why the region's vectors are pooled but not classified (the backbone's own sentence)."""
    return _("Pooled, not classified: {reason}").format(reason=reason)


def region_box_label(key: str) -> str:
    """``region_x0`` -> ``X0``."""
    return key.removeprefix("region_").upper()


# the scales panel
SCALES_HOW = N_("One forward pass per size; the result is cached for this image, backbone and pyramid.")
SCALES_QUEUED = N_("The scales run right after this page is drawn, so their forward times are taken on a quiet page.")


def scales_no_classifier(reason: str) -> str:
    return _("No top-1 at any size: {reason}").format(reason=reason)


def scales_button(sizes: Sequence[int]) -> str:
    return _("Run the backbone at {sizes} px").format(sizes=", ".join(map(str, sizes)))


def resolution_title(training: tuple[int, int], working: tuple[int, int]) -> str:
    return _("At the training resolution ({tw}×{th}) vs the working size ({ww}×{wh})").format(
        tw=training[0], th=training[1], ww=working[0], wh=working[1])


def resolution_column(size: tuple[int, int], what: str) -> str:
    return _("**At {w}×{h}** ({what})").format(w=size[0], h=size[1], what=what)


# serving many users: the replica's name, an upload another replica received
def served_by(replica: str) -> str:
    return _("served by replica {replica}").format(replica=replica)


UPLOAD_LOST = N_("Your upload is not on this server (another replica took over this page, and uploads are kept only in "
               "the memory of the one that received them): upload the image again.")

# ----------------------------------------------------------------------------
# The link to this view (spp_viz.ui.links)
LINK_LABEL = N_("Link to this view")
LINK_HELP = N_("The page's settings, the selected bin, the region and the panels opened, in the URL (point at it: "
             "the copy button that appears at its right copies it). An uploaded photo never goes into a link.")
LINK_MADE_ON_UPLOAD = N_("This link was made on an uploaded photo, which a link never carries: its settings are shown "
                       "on the sample photo.")
LINK_PROBLEMS = N_("Some values of this link could not be used; each keeps its default:")
