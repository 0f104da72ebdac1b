"""A YOLO detector's checkpoint in a real browser (``streamlit run`` + Chromium): a file over the
images' 50 MB uploads through the checkpoint uploader and the server, the page switches to the
detector and shows its trained SPPF; an image over 50 MB is refused by its own uploader.

The checkpoints are made by :func:`spp_viz.devtools.detector_files.make_checkpoint`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from conftest import PANELS  # tests/conftest.py, shared with the AppTest tests

from spp_viz.defaults import IMAGE_UPLOAD_MB
from spp_viz.detectors.detector import NO_CLASSIFIER
from spp_viz.devtools.detector_files import make_checkpoint
from spp_viz.devtools.server import MEASURED_JS

pytestmark = pytest.mark.browser
DETECTOR_TIMEOUT_MS = 180_000  # a 70 MB upload, the file read and rebuilt, then the page, on 2 busy cores


@pytest.fixture(scope="module")
def large_checkpoint(tmp_path_factory) -> Path:
    """YOLOv8n with a 64 MB optimizer state beside the model, as training checkpoints carry: above
    the images' limit, within the checkpoints'."""
    path = tmp_path_factory.mktemp("detector") / "yolov8n.pt"
    path.write_bytes(make_checkpoint("yolov8n", extra={"optimizer": {"state": torch.zeros(16 * 2**20)}}).data)
    assert path.stat().st_size > IMAGE_UPLOAD_MB * 2**20
    return path


def _upload_checkpoint(app, path: Path) -> None:
    app.page.locator(".st-key-checkpoint").get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))


def test_a_large_yolo_checkpoint_uploads_and_the_page_shows_its_trained_sppf(app, large_checkpoint) -> None:
    _upload_checkpoint(app, large_checkpoint)
    app.settle(re.compile(r"Detector yolov8n\.pt"), DETECTOR_TIMEOUT_MS)
    app.wait_for_text("Paper rule vs adaptive rule", DETECTOR_TIMEOUT_MS)
    app.wait_idle(DETECTOR_TIMEOUT_MS)
    assert app.exceptions() == [] and app.errors() == [], (app.exceptions(), app.errors())
    headers = app.headers()
    assert all(panel in headers for panel in PANELS), headers
    detector = app.main.locator(".st-key-detector_line").inner_text()
    assert "YOLOv8n" in detector and "ultralytics 8.3.91" in detector
    assert app.page.locator(".st-key-stage input").input_value() == "p5 (layer 8)"
    assert app.page.locator(".st-key-backbone input").input_value() == "YOLO detector (from your checkpoint)"
    note = app.main.locator(".st-key-trained_sppf").inner_text()
    assert "trained SPPF (layer 9)" in note and "BatchNorm not folded" in note
    app.wait_for_text(re.compile(r"SPPF == parallel SPP\(5,9,13\): True, .* trained cv1's 128"))
    app.wait_for_text(f"No predictions: {NO_CLASSIFIER}")
    # the second phase times the heads, the trained SPPF among them; then the family says which is trained
    app.wait_for_text(re.compile(r"`?sppf`? runs the checkpoint's trained block"), DETECTOR_TIMEOUT_MS)
    assert app.exceptions() == [] and app.errors() == []
    app.screenshot("detector_page.png")

    app.page.wait_for_function(MEASURED_JS, timeout=DETECTOR_TIMEOUT_MS, polling=200)  # no rerun to close the list
    app.choose(app.page.locator(".st-key-stage input"), "p3 (layer 4)")
    app.settle(re.compile(r"choose p5 to run the trained one"), DETECTOR_TIMEOUT_MS)
    assert app.exceptions() == [] and app.errors() == []


def test_an_image_over_its_50_mb_is_refused_by_its_uploader(app, tmp_path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(IMAGE_UPLOAD_MB * 2**20 + 1024))
    app.upload_image(big)
    app.wait_for_text(re.compile(r"File must be .* or smaller"), within=".st-key-image")
    app.wait_idle()
    assert app.exceptions() == [] and app.errors() == []
    app.wait_for_text("Original 451 x 300")  # still the sample
