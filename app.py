"""spp-viz: the Streamlit app. Layout, widgets and caching only.

The engine (``spp_viz.analysis`` and friends) computes; ``spp_viz.figures`` draws. The
backbone runs once per (image, backbone, stage, weights, working size): changing the pyramid,
pooling, bin rule, channel or selection only re-pools the cached feature map.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from pathlib import Path

import streamlit as st

from spp_viz import analysis, figures, report
from spp_viz.backbones import (
    DEFAULT_BACKBONE,
    REGISTRY,
    WEIGHT_CHOICES,
    Backbone,
    BackboneError,
    WeightsUnavailableError,
    load_backbone,
    weights_status,
)
from spp_viz.bins import differing_bins, pyramid_bins
from spp_viz.images import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, DecodedImage, ImageDecodeError, load_image
from spp_viz.pooling import DEFAULT_LEVELS

ASSETS = Path(__file__).resolve().parent / "assets"
SAMPLE_TITLES = {
    "chelsea_cat.jpg": "Chelsea the cat",
    "coffee_espresso.jpg": "Espresso cup",
    "camera_tripod.jpg": "Camera on a tripod (grayscale)",
    "rocket_launch.jpg": "Rocket launch",
}
SAMPLES = sorted((p.name for p in ASSETS.glob("*.jpg")),
                 key=lambda n: (n not in SAMPLE_TITLES, list(SAMPLE_TITLES).index(n) if n in SAMPLE_TITLES else 0, n))
DEFAULT_SAMPLE = "chelsea_cat.jpg" if "chelsea_cat.jpg" in SAMPLES else (SAMPLES[0] if SAMPLES else None)
IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"]
MAX_UPLOAD_MB = 50  # .streamlit/config.toml server.maxUploadSize
MAX_SIDES = [256, 384, 512, 768, 1024, 1536, 2048, 0]
PRESETS = {"custom": None, "SPP-net 6,3,2,1": "6,3,2,1", "PSP-style 1,2,3,6": "1,2,3,6"}
DEFAULT_LEVELS_TEXT = ",".join(map(str, DEFAULT_LEVELS))
# compare_sppf's timing loops run each head at least 6 times: ~2 s for a 1280 x 10 x 15 map on two
# cores, ~10 s at 1280 x 24 x 32. Above this many numbers the costs are timed on request only.
AUTO_MEASURE_NUMBERS = 400_000

LOG = logging.getLogger("spp_viz.app")  # unexpected errors go to the server log, never to the page
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

st.set_page_config(page_title="spp-viz", page_icon="🔲", layout="wide")


# ----------------------------------------------------------------------------
# Cached steps. Keys are digests and settings; big objects go in as underscore arguments,
# which Streamlit does not hash (a PIL image would be hashed by its bytes only).


@st.cache_data(max_entries=8, show_spinner=False)
def read_sample(name: str) -> bytes:
    """A bundled sample photo's bytes (only names from the assets folder are ever passed)."""
    return (ASSETS / name).read_bytes()


@st.cache_data(max_entries=16, show_spinner=False)
def decode_image(digest: str, max_side: int, _raw: bytes, _filename: str) -> tuple[DecodedImage, float]:
    """Decode once per (bytes digest, max side); errors are raised, never cached."""
    start = time.perf_counter()
    decoded = load_image(_raw, max_side=max_side, max_pixels=DEFAULT_MAX_PIXELS, filename=_filename)
    return decoded, (time.perf_counter() - start) * 1000


@st.cache_resource(max_entries=4, show_spinner=False)
def get_backbone(name: str, stage: str, weights: str, checkpoint_digest: str, checkpoint_name: str,
                 _checkpoint: bytes | None) -> tuple[Backbone, float]:
    """One loaded model per (name, stage, weights, checkpoint sha256), shared read-only."""
    start = time.perf_counter()
    model = load_backbone(name, stage, weights, checkpoint=_checkpoint, checkpoint_name=checkpoint_name, download=True)
    return model, (time.perf_counter() - start) * 1000


@st.cache_resource(max_entries=8, show_spinner=False)
def get_features(image_digest: str, backbone_key: tuple, working_size: tuple[int, int],
                 _backbone: Backbone, _image) -> analysis.FeatureResult:
    """The one expensive step, keyed on (image digest, backbone, stage, weights, working size).

    Called through ``analysis.extract_features`` so tests can count backbone runs.
    """
    return analysis.extract_features(_backbone, _image)


@st.cache_resource(max_entries=4, show_spinner=False)
def get_sppf(image_digest: str, backbone_key: tuple, working_size: tuple[int, int], measure: bool,
             _features: analysis.FeatureResult) -> analysis.SPPFComparison:
    """SPPF vs parallel SPP, with timing loops when ``measure``: once per feature map (never per
    pyramid), timed with the default head so the key does not depend on levels or pooling."""
    return analysis.compare_sppf(_features, analysis.HeadConfig(), measure=measure)


@st.cache_resource(max_entries=8, show_spinner=False)
def get_photo(image_digest: str, working_size: tuple[int, int], _image) -> figures.Photo:
    """The photo as the page shows it (a base64 JPEG at most ``DISPLAY_MAX_SIDE`` px long, and its
    size): resized and encoded once per (image digest, working size), not on every rerun."""
    return figures.photo_source(_image)


@st.cache_resource(max_entries=8, show_spinner=False)
def get_sppf_figure(image_digest: str, backbone_key: tuple, working_size: tuple[int, int], measure: bool, channel,
                    note: str, _sppf: analysis.SPPFComparison):
    """The SPPF branches figure, keyed like ``get_sppf`` plus the channel: it never depends on the
    pyramid, pooling or bin rule. Shared read-only: ``st.plotly_chart`` only reads a figure
    (it serialises a deep copy, ``Figure.to_dict()``), and nothing else touches it."""
    return figures.sppf_branches_figure(_sppf, channel, note=note)


# ----------------------------------------------------------------------------
# Widget state and callbacks


def init_state() -> None:
    """Defaults live in session state (not in ``value=``) so callbacks and tests can set them."""
    defaults = {
        "levels": DEFAULT_LEVELS_TEXT, "preset": "custom", "pool": "max", "bins": "adaptive",
        "max_side": DEFAULT_MAX_SIDE, "backbone": DEFAULT_BACKBONE, "weights": "pretrained",
        "channel": "mean", "show_rf": False, "sample": DEFAULT_SAMPLE,
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
    if st.session_state["backbone"] not in REGISTRY:
        st.session_state["backbone"] = DEFAULT_BACKBONE
    spec = REGISTRY[st.session_state["backbone"]]
    if st.session_state.get("stage") not in spec.stages:
        st.session_state["stage"] = spec.default_stage


def on_preset() -> None:
    text = PRESETS.get(st.session_state.get("preset"))
    if text:
        st.session_state["levels"] = text


def on_levels() -> None:
    typed = st.session_state.get("levels", "").replace(" ", "")
    if PRESETS.get(st.session_state.get("preset")) != typed:
        st.session_state["preset"] = "custom"


def on_backbone() -> None:
    st.session_state["stage"] = REGISTRY[st.session_state["backbone"]].default_stage
    st.session_state.pop("selected_bin", None)


def use_untrained() -> None:
    st.session_state["weights"] = "untrained"


def measure_costs(feature_key: str) -> None:
    st.session_state["measure_sppf_for"] = feature_key


def update_selection_from_clicks(levels: tuple[int, ...]) -> None:
    """A new click in a pooled heatmap (``pooled_{n}``) becomes ``selected_bin``; an unchanged
    old selection does not override a later click in another level's heatmap."""
    for n in levels:
        state = st.session_state.get(f"pooled_{n}")
        try:
            points = list(state["selection"]["points"]) if state else []
        except (KeyError, TypeError):
            points = []
        signature = tuple((p.get("x"), p.get("y")) for p in points)
        if signature != st.session_state.get(f"_seen_pooled_{n}", ()):
            st.session_state[f"_seen_pooled_{n}"] = signature
            chosen = figures.selection_to_bin(n, points)
            if chosen is not None:
                st.session_state["selected_bin"] = chosen


def current_selection(head: analysis.HeadResult, channel) -> tuple[tuple[int, int, int] | None, bool]:
    """The selected bin if it exists in the current pyramid, else a default (the strongest bin
    of the finest drawable level). Returns ``(bin, chosen_by_user)``."""
    chosen = st.session_state.get("selected_bin")
    if chosen is not None:
        n, row, col = chosen
        level = next((lv for lv in head.levels if lv.n == n), None)
        if level is not None and row < level.bins.shape[0] and col < level.bins.shape[1]:
            return (n, row, col), True
    drawable = [lv for lv in head.levels if lv.n <= figures.MAX_DRAWN_LEVEL and lv.pooled.numel()]
    if not drawable:
        return None, False
    level = max(drawable, key=lambda lv: lv.n)
    z = figures.reduce_channels(level.pooled, channel)
    row, col = divmod(int(z.argmax()), z.shape[1])
    return (level.n, row, col), False


# ----------------------------------------------------------------------------
# Sidebar


def sidebar() -> dict:
    """Every control, with the exact keys the tests and the spec use. Returns the raw choices."""
    sb = st.sidebar
    sb.header("Image")
    uploaded = sb.file_uploader(
        "Upload an image", type=IMAGE_TYPES, key="image",
        help=f"PNG, JPEG, WEBP, GIF, BMP or TIFF, up to {MAX_UPLOAD_MB} MB per file and "
             f"{DEFAULT_MAX_PIXELS // 1_000_000} megapixels. Decoded in memory, never written to disk; "
             "other sessions never see it.",
    )
    sb.selectbox("…or a sample photo", SAMPLES, key="sample", format_func=lambda n: SAMPLE_TITLES.get(n, n),
                 disabled=uploaded is not None, help="Used when nothing is uploaded. Credits: assets/CREDITS.md.")
    sb.select_slider("Working resolution (long side, px)", MAX_SIDES, key="max_side",
                     format_func=lambda v: "native" if v == 0 else str(v),
                     help="The image is resized so its long side is at most this before the backbone runs "
                          "(never cropped). 'native' keeps its own size; bigger is slower.")

    sb.header("Pyramid")
    sb.selectbox("Preset", list(PRESETS), key="preset", on_change=on_preset,
                 help="SPP-net's classification pyramid {6,3,2,1} (He et al.) or PSPNet's bins {1,2,3,6}.")
    sb.text_input("Levels (n × n bins each)", key="levels", on_change=on_levels,
                  help="Comma-separated positive integers, e.g. 1,2,4. Length = C × Σ n².")
    levels_slot = sb.container()
    sb.radio("Pooling", ["max", "avg"], key="pool", horizontal=True,
             help="max: the paper's choice. avg: 'SPP with global average pooling'; its 1 × 1 level is the backbone's GAP.")
    sb.radio("Bin rule", ["adaptive", "paper"], key="bins", horizontal=True,
             help="adaptive: [floor(i·a/n), ceil((i+1)·a/n)), always n bins (released SPP code, PyTorch). "
                  "paper: window ceil(a/n), stride floor(a/n), which can give the wrong number of bins.")

    sb.header("Backbone")
    sb.selectbox("Backbone", list(REGISTRY), key="backbone", on_change=on_backbone,
                 format_func=lambda n: f"{REGISTRY[n].title.split(' (')[0]} · weights {weights_status(n)}",
                 help="Weights: packaged (always offline), cached (in torch hub's folder) or not cached (needs a download).")
    spec = REGISTRY[st.session_state["backbone"]]
    sb.selectbox("Stage", list(spec.stages), key="stage",
                 help=f"Where the map is taken. Default: {spec.default_stage}, the stage its classifier reads.")
    sb.radio("Weights", list(WEIGHT_CHOICES), key="weights", horizontal=True,
             help="untrained = random init (seeded): shows what the pooling does without learned features.")
    checkpoint = sb.file_uploader("Checkpoint (.pt / .pth state_dict)", type=["pt", "pth"], key="checkpoint",
                                  help="Replaces the weights with your state_dict for this architecture. "
                                       "Loaded with torch.load(weights_only=True): code in a pickle is refused.")
    if checkpoint is not None:
        sb.caption(f"Weights come from **{literal(checkpoint.name)}** (the pretrained/untrained choice is ignored while it is loaded).")
    sb.header("Display")
    display_slot = sb.container()
    return {"uploaded": uploaded, "checkpoint": checkpoint, "levels_slot": levels_slot, "display_slot": display_slot}


def parse_config(slot) -> tuple[analysis.HeadConfig, str | None]:
    """The head config; invalid levels keep the last valid pyramid and say why, inline."""
    pool, rule = st.session_state["pool"], st.session_state["bins"]
    text = st.session_state.get("levels", "")
    try:
        config = analysis.HeadConfig(text, pool, rule)
        st.session_state["last_valid_levels"] = config.levels
        error = None
    except ValueError as exc:
        error = str(exc)
        config = analysis.HeadConfig(st.session_state.get("last_valid_levels", DEFAULT_LEVELS), pool, rule)
        slot.error(literal(error))
        slot.caption(f"Still showing the last valid pyramid: {', '.join(map(str, config.levels))}.")
    too_fine = [n for n in config.levels if n > figures.MAX_DRAWN_LEVEL]
    if too_fine:
        slot.warning(f"Level{'s' if len(too_fine) > 1 else ''} {', '.join(map(str, too_fine))} "
                     f"{'are' if len(too_fine) > 1 else 'is'} pooled and counted, but grids finer than "
                     f"{figures.MAX_DRAWN_LEVEL} × {figures.MAX_DRAWN_LEVEL} are not drawn on the photo or the feature map.")
    return config, error


def display_controls(slot, config: analysis.HeadConfig, channels: int) -> None:
    """Channel, levels to draw and receptive-field toggle (they need the map's channel count)."""
    options = ["mean", "max", *range(channels)]
    if st.session_state.get("channel") not in options:
        st.session_state["channel"] = "mean"
    slot.selectbox("Channel", options, key="channel",
                   format_func=lambda c: {"mean": "mean over channels", "max": "max over channels"}.get(c, f"channel {c}"),
                   help=f"What the feature map, pooled heatmaps and SPPF branches show: one of {channels:,} channels, or their mean / max.")
    drawable = [n for n in config.levels if n <= figures.MAX_DRAWN_LEVEL]
    if st.session_state.get("_show_levels_for") != drawable or "show_levels" not in st.session_state:
        st.session_state["show_levels"] = list(drawable)
        st.session_state["_show_levels_for"] = list(drawable)
    else:
        st.session_state["show_levels"] = [n for n in st.session_state["show_levels"] if n in drawable]
    slot.multiselect("Levels to draw", drawable, key="show_levels", help="Which grids appear on the photo and the feature map.")
    slot.checkbox("Show the receptive field of the selected bin", key="show_rf",
                  help="The theoretical receptive field: every input pixel that can influence the bin's cells. Much wider than the bin.")


# ----------------------------------------------------------------------------
# Page


def intro() -> None:
    st.title("spp-viz")
    st.markdown(
        "**Spatial pyramid pooling (SPP)** (He et al., 2014) splits a CNN's feature map into n × n bins at "
        "several levels and pools each bin, so a map of *any* size becomes a vector of *fixed* length "
        "C × Σ n²: the classifier behind it never sees the image size. **SPPF** (YOLOv5) is a different "
        "module with a similar name: three chained 5 × 5 stride-1 max pools, identical to parallel 5/9/13 pools, "
        "that keep the map's size and multiply its channels by four. Below, a real pretrained network "
        "shows both on a photo: hover any bin, click a pooled cell to follow it back to the image."
    )


def fail(message: str, hint: str | None = None) -> None:
    """Show one sentence and stop: no traceback ever reaches the page."""
    st.error(literal(message))
    if hint:
        st.info(hint)
    st.stop()


def main() -> None:
    init_state()
    intro()
    controls = sidebar()
    config, levels_error = parse_config(controls["levels_slot"])
    if levels_error:
        st.error(f"{literal(levels_error)} Showing the last valid pyramid ({', '.join(map(str, config.levels))}).")

    uploaded, checkpoint = controls["uploaded"], controls["checkpoint"]
    if uploaded is not None:
        raw, filename, source = uploaded.getvalue(), uploaded.name, "upload"
    elif st.session_state.get("sample") in SAMPLES:  # only bundled files are ever read from disk
        filename = st.session_state["sample"]
        raw, source = read_sample(filename), "sample"
    else:
        fail("No image: upload one in the sidebar.")
        return
    ckpt_bytes = checkpoint.getvalue() if checkpoint is not None else None
    ckpt_digest = hashlib.sha256(ckpt_bytes).hexdigest() if ckpt_bytes is not None else ""
    ckpt_name = checkpoint.name if checkpoint is not None else "checkpoint"
    name, stage, weights = st.session_state["backbone"], st.session_state["stage"], st.session_state["weights"]
    max_side = int(st.session_state["max_side"])

    try:
        with st.spinner("Decoding the image…"):
            decoded, decode_ms = decode_image(hashlib.sha256(raw).hexdigest(), max_side, raw, filename)
        with st.spinner(f"Loading {REGISTRY[name].title}…"):
            backbone, load_ms = get_backbone(name, stage, weights, ckpt_digest, ckpt_name, ckpt_bytes)
        backbone_key = (name, stage, backbone.weights, ckpt_digest)
        with st.spinner(f"Running {REGISTRY[name].title} up to {stage}…"):
            features = get_features(decoded.digest, backbone_key, decoded.working_size, backbone, decoded.image)
        start = time.perf_counter()
        head = analysis.analyse_head(features, config)
        head_ms = (time.perf_counter() - start) * 1000
        predictions = analysis.predict(backbone, features)
    except WeightsUnavailableError as exc:
        st.error(literal(str(exc)))
        st.button("Use untrained weights instead", on_click=use_untrained, key="use_untrained")
        st.stop()
        return
    except (ImageDecodeError, BackboneError, ValueError) as exc:
        fail(str(exc), "Nothing was kept from this file; pick another image or setting." if source == "upload" else None)
        return
    except MemoryError:
        fail("Out of memory while analysing this image: choose a smaller working resolution.")
        return
    except Exception as exc:  # never a traceback in front of a user
        LOG.exception("analysis failed")
        fail(f"Unexpected {type(exc).__name__} while analysing this image; try another image or setting.")
        return

    timings = {"decode": decode_ms, "load_backbone": load_ms, "backbone_forward": features.forward_ms, "spp_head": head_ms}
    display_controls(controls["display_slot"], config, features.shape[0])
    try:
        render(decoded, filename, backbone, backbone_key, features, head, predictions, timings)
    except MemoryError:
        st.error("Out of memory while drawing this analysis: choose a smaller working resolution.")
    except Exception as exc:  # a display bug must not show a traceback either
        LOG.exception("drawing failed")
        st.error(f"Unexpected {type(exc).__name__} while drawing the panels; try another setting.")


def render(decoded: DecodedImage, filename: str, backbone: Backbone, backbone_key: tuple, features: analysis.FeatureResult,
           head: analysis.HeadResult, predictions: list, timings: dict) -> None:
    """The seven panels, top to bottom. SPPF is computed when its panel is reached, so the
    panels above it are already on screen while it runs."""
    channel = st.session_state["channel"]
    shown_levels = st.session_state.get("show_levels")
    show_rf = bool(st.session_state.get("show_rf"))
    c, h, w = features.shape
    width, height = features.input_size
    stride, rf = features.geometry.stride, features.geometry.receptive_field
    untrained = not backbone.pretrained
    note = " · <b>untrained weights</b>" if untrained else ""
    levels = head.config.levels
    update_selection_from_clicks(levels)
    selected, by_user = current_selection(head, channel)
    bin_labels = ({lv.n: analysis.bin_predictions(backbone, lv) for lv in head.levels if lv.n <= figures.MAX_DRAWN_LEVEL}
                  if head.config.pool == "avg" and backbone.can_classify else {})
    photo = get_photo(decoded.digest, decoded.working_size, decoded.image)

    # summary
    ow, oh = decoded.original_size
    summary = (f"**{literal(filename)}** · Original {ow} x {oh}, analysed at {width} x {height} · "
               f"{backbone.spec.title.split(' (')[0]} cut at **{backbone.stage}**, weights: **{literal(backbone.weights)}**")
    if decoded.n_frames > 1:
        summary += f" · {decoded.n_frames} frames, the first is used"
    st.markdown(summary)
    if decoded.notes:
        st.caption("Notes: " + "; ".join(decoded.notes) + ".")
    if untrained:
        st.warning(f"**Untrained** (random, seeded) weights for {backbone.spec.title}: the maps show what pooling does, "
                   "not what a trained network has learned, and there are no predictions.")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Feature map C × h × w", f"{c:,} × {h} × {w}", f"stride {stride}, receptive field {rf} px", delta_color="off",
              delta_arrow="off")
    m2.metric("SPP vector", f"{head.length:,}", "fixed for any input size" if head.valid else "NOT the fixed length",
              delta_color="off" if head.valid else "inverse", delta_arrow="off")
    table = analysis.dimension_table(features, head)
    m3.metric("SPPF output (after cv2)", f"{c:,} × {h} × {w}", "grows with the input",
              delta_color="off", delta_arrow="off")
    if predictions:
        m4.metric("Top-1 (global average level)", predictions[0].label, f"{predictions[0].probability:.1%}",
                  delta_color="off", delta_arrow="off", help=f"{predictions[0].label}: ImageNet class {predictions[0].index}.")
    else:
        m4.metric("Top-1", "none", "untrained weights" if untrained else "no ImageNet classifier here",
                  delta_color="off", delta_arrow="off")
    downloads = st.container()  # filled at the end, once SPPF is known (the JSON report needs it)

    # 1 + 2 side by side: the same bins on the photo and on the map
    left, right = st.columns(2, gap="medium")
    with left:
        st.header("Pyramid bins on the image")
        st.plotly_chart(figures.bins_over_image(
            decoded.image, head.levels, stride, channel=channel, shown_levels=shown_levels, selected=selected,
            receptive_field=rf if show_rf else None, bin_labels=bin_labels, note=note, photo=photo,
        ), key="bins_over_image", config={"displaylogo": False})
        st.caption(
            f"Each feature cell covers {stride} × {stride} input pixels (the stage stride), so bin boxes are "
            f"cells × {stride}. Adaptive bins may share a cell with their neighbour: the darker bands. "
            + "; ".join(figures.overlap_summary(lv.bins) for lv in head.levels if lv.n <= figures.MAX_DRAWN_LEVEL) + "."
        )
        if selected:
            n, row, col = selected
            how = "selected" if by_user else "strongest bin of the finest level, until you click a pooled cell"
            st.caption(f"Highlighted: level {n}, bin ({row}, {col}) ({how})."
                       + (f" Dotted cyan: its theoretical receptive field ({rf} px per cell)." if show_rf else ""))
    with right:
        st.header("Feature map")
        st.plotly_chart(figures.feature_map_figure(
            features.feature, channel, levels=head.levels, shown_levels=shown_levels, selected=selected, note=note,
        ), key="feature_map", config={"displaylogo": False})
        winners = ("Markers: the cell each bin's maximum came from"
                   + (" in each bin's strongest channel (pick a channel to see its own)." if channel in ("mean", "max")
                      else f" in channel {channel}.")
                   if head.config.pool == "max" else "Average pooling has no winning cell: every cell of a bin counts equally.")
        st.caption(f"{c:,} × {h} × {w} = {c * h * w:,} numbers at stage {backbone.stage}. {winners} "
                   "White box: the selected bin's cells.")

    # 3
    st.header("Pooled activations")
    st.caption(f"Each level pools the map into n × n numbers per channel; shown: {figures.channel_label(channel, c)}, "
               "one colour scale for all levels. Click a cell to select that bin.")
    zrange = figures.pooled_range(head.levels, channel)
    per_row = min(4, len(head.levels))
    for start in range(0, len(head.levels), per_row):
        cols = st.columns(per_row)
        for col, level in zip(cols, head.levels[start:start + per_row]):
            with col:
                sel = (selected[1], selected[2]) if selected and selected[0] == level.n else None
                st.plotly_chart(
                    figures.pooled_level_heatmap(level, channel, levels=levels, selected=sel, zrange=zrange,
                                                 labels=bin_labels.get(level.n), note=note),
                    key=f"pooled_{level.n}", on_select="rerun", selection_mode="points", config={"displaylogo": False},
                )
                st.caption(f"{level.arithmetic()} numbers" + ("" if level.valid else " (not n × n)"))
    st.plotly_chart(figures.spp_vector_figure(head, note=note), key="spp_vector", config={"displaylogo": False})
    if head.valid:
        st.caption(f"Length {head.arithmetic()}, whatever the input size.")
    else:
        st.warning(f"The paper rule gave {head.length:,} numbers instead of {head.arithmetic()}: "
                   "a fully connected layer sized for the formula would reject this vector.")

    # 4
    st.header("Output dimensions")
    st.dataframe(table, hide_index=True, key="dimension_table", column_config={
        "numbers": st.column_config.NumberColumn("numbers", format="localized"),
    })
    sweep = analysis.size_sweep(features.geometry, levels, aspect=width / height)
    current = analysis.size_sweep(features.geometry, levels, aspect=width / height, short_sides=(min(width, height),))[0]
    st.plotly_chart(figures.size_sweep_figure(sweep, c, current=current),
                    key="size_sweep", config={"displaylogo": False})
    st.caption("Inputs of growing size at this image's aspect ratio (pure arithmetic, no forward pass): the feature map "
               f"grows, the SPP vector stays at {head.expected_length:,}, SPPF's output grows with the map. Star: this image.")

    # 5
    st.header("SPP vs SPPF")
    st.markdown("SPPF (YOLOv5) applies **one 5 × 5 stride-1 max pool three times**; chained stride-1 max pools compose, "
                "so the branches are exactly 5, 9 and 13 wide, equal to YOLO's parallel SPP(5, 9, 13). Both keep the "
                "map's h × w: unlike He et al.'s SPP, they are not fixed-length poolers.")
    numbers = c * h * w
    feature_key = f"{decoded.digest}|{'|'.join(map(str, backbone_key))}|{width}x{height}"
    measure = numbers <= AUTO_MEASURE_NUMBERS or st.session_state.get("measure_sppf_for") == feature_key
    with st.spinner("Running SPPF and parallel SPP on this map" + (" and timing them (once per feature map)…" if measure else "…")):
        sppf = get_sppf(decoded.digest, backbone_key, decoded.working_size, measure, features)
    timings.update(sppf.latencies_ms())
    st.plotly_chart(get_sppf_figure(decoded.digest, backbone_key, decoded.working_size, measure, channel, note, sppf),
                    key="sppf_branches", config={"displaylogo": False})
    a, b = st.columns([2, 3], gap="medium")
    with a:
        (st.success if sppf.equal else st.error)(
            f"SPPF == parallel SPP(5,9,13): {sppf.equal}, max |diff| {sppf.max_abs_diff:g} "
            f"(torch.equal on this {c:,} × {h} × {w} map).")
        st.markdown(f"Both output **{' × '.join(map(str, sppf.shape))}** = {math.prod(sppf.shape):,} numbers here, growing with "
                    f"the input; classic SPP gives **{head.length:,}** for any input.")
    with b:
        st.dataframe(sppf.receptive_fields(features.geometry), hide_index=True, key="sppf_rf")
        st.caption("Theoretical receptive field of one output cell of each branch, in feature cells and input pixels.")
    if sppf.costs:
        number = st.column_config.NumberColumn(format="localized")
        st.dataframe(figures.costs_rows(sppf, head), hide_index=True, key="sppf_costs", column_config={
            "head": st.column_config.TextColumn(width="medium"),
            "output numbers": number, "params (with 1x1 convs)": number, "FLOPs (convs)": number,
            "pool comparisons": number, "latency ms (median)": st.column_config.NumberColumn(format="%.2f"),
        })
        st.caption("Params and FLOPs: the YOLO modules with their 1 × 1 convs (cv1 halves C, cv2 back to C); FLOPs count "
                   "convs only. Pool comparisons: analytic window reads, what SPPF saves. Latency: median wall time on "
                   f"{backbone.device}, measured once per feature map (SPP timed with levels "
                   f"{','.join(map(str, analysis.HeadConfig().levels))}).")
    else:
        st.info(f"Costs (params, FLOPs, pool comparisons, latency) are timed automatically only for maps up to "
                f"{AUTO_MEASURE_NUMBERS:,} numbers; this one has {numbers:,}, and the timing loops run every head several "
                "times, which can take from seconds to minutes on a small CPU.")
        st.button("Measure the costs on this map", key="measure_sppf", on_click=measure_costs, args=(feature_key,))

    # 6
    st.header("What the backbone sees")
    left, right = st.columns(2, gap="medium")
    with left:
        if predictions:
            st.plotly_chart(figures.predictions_figure(predictions, title="ImageNet top-5 for the whole image", note=note),
                            key="predictions", config={"displaylogo": False})
            st.caption("Read from the 1 × 1 average level = the backbone's global average pool (GAP), exactly what its "
                       "classifier was trained on, here at this image's own size.")
        else:
            st.info("No predictions: " + report.no_predictions_reason(backbone))
    with right:
        if head.config.pool == "avg" and backbone.can_classify and selected is not None:
            level = next(lv for lv in head.levels if lv.n == selected[0])
            labels = bin_labels.get(level.n) or analysis.bin_predictions(backbone, level)
            if labels:
                st.plotly_chart(figures.bin_labels_figure(decoded.image, level, labels, stride, levels=levels, note=note,
                                                          photo=photo),
                                key="bin_labels", config={"displaylogo": False})
                st.caption(f"Each avg-pooled bin is a global average pool over its own cells, so the classifier can read "
                           f"it alone. Level {level.n}: the selected bin's level (click a pooled cell of another level to switch).")
        elif head.config.pool == "max" and backbone.can_classify:
            st.info("Switch pooling to **avg** to label every bin with the classifier's top-1: an avg-pooled bin is a "
                    "global average pool over its cells, what the classifier was trained on; a max-pooled bin is not.")

    # 7
    st.header("Paper rule vs adaptive rule")
    if head.config.rule == "paper":
        broken = [lv for lv in head.levels if lv.problem]
        for lv in broken:
            st.warning(lv.problem)
        for lv in head.levels:
            if lv.differing:
                st.markdown(f"- level {lv.n}: {len(lv.differing)} of {lv.bins.shape[0] * lv.bins.shape[1]} bins differ "
                            "from the adaptive rule (dashed red on the photo).")
        if not broken and not any(lv.differing for lv in head.levels):
            st.success(f"On this {h} × {w} map the paper rule gives the same n × n bins as the adaptive rule at every level.")
        elif not broken:
            st.info(f"Every level still has n × n bins on this {h} × {w} map, but some windows cover different cells.")
        drawable = [lv for lv in head.levels if lv.n <= figures.MAX_DRAWN_LEVEL]
        shown = next((lv for lv in head.levels if lv.problem or lv.differing), None) or (
            max(drawable, key=lambda lv: lv.n) if drawable else None)
    else:
        st.markdown(f"Adaptive bins (the authors' released code, PyTorch's adaptive pooling) always give n × n bins. "
                    f"What the paper's rule (window ceil(a/n), stride floor(a/n)) would do on this {h} × {w} map:")
        lines = []
        broken, moved = None, None
        for lv in head.levels:
            paper = pyramid_bins(h, w, lv.n, "paper")
            problem = paper.problem()
            moved_count = len(differing_bins(h, w, lv.n))
            if problem:
                lines.append(f"- {problem}")
                broken = broken or lv
            elif moved_count:
                lines.append(f"- level {lv.n}: {lv.n} × {lv.n} bins as well, but {moved_count} of {lv.n * lv.n} "
                             "cover different cells.")
                moved = moved or lv
            else:
                lines.append(f"- level {lv.n}: the very same {lv.n} × {lv.n} bins.")
        st.markdown("\n".join(lines))
        drawable = [lv for lv in head.levels if lv.n <= figures.MAX_DRAWN_LEVEL]
        shown = broken or moved or (max(drawable, key=lambda lv: lv.n) if drawable else None)
    if shown is not None and shown.n <= figures.MAX_DRAWN_LEVEL:
        st.plotly_chart(figures.rule_comparison_figure(pyramid_bins(h, w, shown.n, "adaptive"), pyramid_bins(h, w, shown.n, "paper")),
                        key="rule_comparison", config={"displaylogo": False})
        st.caption(f"Level {shown.n} on the {h} × {w} map, cell by cell: the brighter a cell, the more bins (or windows) "
                   "pool it; dark cells are pooled by none, so the paper rule can simply ignore part of the map.")

    stem = Path(filename).stem
    report_json = json.dumps(report.build_report(decoded, backbone, features, head, sppf, predictions, timings))
    with downloads:
        d1, d2, d3, d4 = st.columns(4)
        d1.download_button("SPP vector (.npy)", lambda: figures.vector_npy_bytes(head.vector), f"{stem}_spp.npy",
                           "application/octet-stream", key="dl_npy", on_click="ignore")
        d2.download_button("SPP vector (.csv)", lambda: figures.vector_csv(head), f"{stem}_spp.csv", "text/csv",
                           key="dl_csv", on_click="ignore")
        d3.download_button("Dimension table (.csv)", figures.table_csv(table), f"{stem}_dimensions.csv", "text/csv",
                           key="dl_table", on_click="ignore")
        d4.download_button("Report (.json, as spp-viz inspect --json)", report_json, f"{stem}_spp_report.json",
                           "application/json", key="dl_json", on_click="ignore")

    with st.expander("Timings and provenance"):
        st.write({k: f"{v:.1f} ms" for k, v in timings.items()})
        st.caption(f"Weights: {literal(backbone.weights)}. Image sha256 {decoded.digest[:16]}…. Sample photos: see assets/CREDITS.md.")


main()
