"""Hostile and odd uploads through the engine, the CLI and the app.

Every file in :data:`hostile_files.CASES` is either analysed correctly (its original size
reported, upright) or refused with ONE clear sentence, and whatever handled it keeps working.
``tests/test_images.py`` covers the decoder's details; here the same kinds of files go
through every entry point a user has, and the three must agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import hostile_files as hf
import numpy as np
import pytest
from conftest import PANELS, cli_command
from hostile_files import BAD, CASES, GOOD

from spp_viz.images import ImageDecodeError, load_image

REPO = Path(__file__).resolve().parents[1]
CLI_TIMEOUT_S = 240
CLI_WORKERS = 2
PEAK_RSS_LIMIT_KB = int(1.5 * 1024 * 1024)  # 1.5 GB (torch alone is ~0.6-0.8 GB of it)


def _is_one_sentence(msg: str) -> bool:
    return bool(msg) and "\n" not in msg and "Traceback" not in msg and msg.rstrip().endswith(".") and len(msg) < 400


# ----------------------------------------------------------------------------
# Engine


@pytest.mark.parametrize("name", list(CASES))
def test_engine(name: str) -> None:
    case = CASES[name]
    if case.ok:
        result = load_image(case.data, filename=case.filename)
        assert result.original_size == case.size
        assert result.image.mode == "RGB" and result.image.size == result.working_size
        assert min(result.working_size) >= 32
        assert any(case.note.lower() in note.lower() for note in result.notes), result.notes
    else:
        with pytest.raises(ImageDecodeError) as info:
            load_image(case.data, filename=case.filename)
        msg = str(info.value)
        assert _is_one_sentence(msg), msg
        assert case.keyword.lower() in msg.lower(), msg
        assert f'"{case.filename}"' in msg, msg


def test_engine_16bit_is_rescaled_not_clipped() -> None:
    arr = np.asarray(load_image(CASES["gray16_png"].data).image)[..., 0].astype(int)
    assert arr.min() <= 2 and arr.max() >= 253  # the full 0..255 range, not all white
    assert 100 < arr.mean() < 155  # a ramp averages to mid grey
    assert np.all(np.diff(arr[100]) >= 0)  # still a ramp


def test_engine_keeps_working_after_every_bad_file() -> None:
    for name in BAD:
        with pytest.raises(ImageDecodeError):
            load_image(CASES[name].data, filename=CASES[name].filename)
    assert load_image(CASES["exif_rotated_jpeg"].data).original_size == (300, 400)


# ----------------------------------------------------------------------------
# CLI: `python -m spp_viz inspect FILE --json --offline`, every case in a fresh process


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_kb: int
    seconds: float


# A child's ru_maxrss starts from the RSS of the process that forked it (a multi-GB pytest
# here), so the CLI is forked from a tiny wrapper that reaps it with wait4 and reports ITS peak.
_RSS_WRAPPER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[2:])\n"
    "_pid, status, usage = os.wait4(child.pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def _run_cli(path: Path) -> CliRun:
    """Run the CLI (conftest's ``cli_command``) under the wrapper; peak RSS in KB (ru_maxrss on Linux)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": "1",  # two CLIs run at once on small CI machines: no thread oversubscription
        # CPU only: a CUDA context adds hundreds of MB of host RSS that say nothing about decoding.
        "CUDA_VISIBLE_DEVICES": "",
    }
    rss_file = path.with_suffix(path.suffix + ".rss")
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_WRAPPER, str(rss_file), *cli_command("inspect", path, "--json", "--offline")],
        capture_output=True, cwd=REPO, env=env, timeout=CLI_TIMEOUT_S,
    )
    peak_kb = int(rss_file.read_text()) if rss_file.exists() else 0
    return CliRun(proc.returncode, proc.stdout.decode(), proc.stderr.decode(), peak_kb, time.monotonic() - start)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> dict[str, CliRun]:
    """All cases at once, two processes at a time (each pays the ~3-5 s torch import)."""
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name, case in CASES.items():
        paths[name] = folder / case.filename
        paths[name].write_bytes(case.data)
    assert len(set(paths.values())) == len(paths)
    with ThreadPoolExecutor(CLI_WORKERS) as pool:
        futures = {name: pool.submit(_run_cli, path) for name, path in paths.items()}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.slow  # cli_runs: every case in a fresh CLI process that loads torch
@pytest.mark.parametrize("name", GOOD)
def test_cli_analyses_odd_images(name: str, cli_runs: dict[str, CliRun]) -> None:
    case, run = CASES[name], cli_runs[name]
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1, run.stdout[:500]  # exactly one JSON object
    report = json.loads(lines[0])
    assert isinstance(report, dict)
    assert (report["image"]["width"], report["image"]["height"]) == case.size
    assert any(case.note.lower() in n.lower() for n in report["image"]["notes"]), report["image"]["notes"]
    assert min(report["input"]["width"], report["input"]["height"]) >= 32
    assert report["spp"]["length"] == 1280 * (1 + 4 + 16) and report["spp"]["fixed_length"]
    assert report["predictions"], "the default backbone classifies every image"
    assert run.stderr == "", run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", BAD)
def test_cli_refuses_bad_files_with_one_line(name: str, cli_runs: dict[str, CliRun]) -> None:
    case, run = CASES[name], cli_runs[name]
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr[-2000:]
    assert lines[0].startswith("error: ")
    message = lines[0].removeprefix("error: ")
    assert _is_one_sentence(message), message
    assert case.keyword.lower() in message.lower(), message
    # the CLI says exactly what the engine says
    with pytest.raises(ImageDecodeError) as info:
        load_image(case.data, filename=case.filename)
    assert message == str(info.value)


@pytest.mark.slow
@pytest.mark.parametrize("name", BAD + [n for n in GOOD if CASES[n].big])
def test_cli_peak_memory_is_bounded(name: str, cli_runs: dict[str, CliRun]) -> None:
    """Bombs are refused from the header and the 40 MP JPEG is decoded reduced: the whole
    process (torch, model, forward pass included) stays under 1.5 GB."""
    run = cli_runs[name]
    assert 0 < run.peak_rss_kb < PEAK_RSS_LIMIT_KB, f"{name}: peak RSS {run.peak_rss_kb / 1024:.0f} MB"


# ----------------------------------------------------------------------------
# App (streamlit.testing AppTest): one session survives a string of bad files


def _app():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _headers(at) -> list[str]:
    return [h.value for h in at.header]


def _text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def _upload(at, filename: str, data: bytes, mime: str = "application/octet-stream", key: str = "image") -> None:
    at.file_uploader(key=key).set_value((filename, data, mime))
    at.run()


def _assert_panels(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == []
    headers = _headers(at)
    assert all(p in headers for p in PANELS), headers


def _app_name(case: hf.Case) -> str:
    # An .svg never reaches the server from a browser (the uploader's type filter refuses it,
    # see tests/browser); a renamed one does, and must get the decoder's sentence.
    return "drawing.png" if case.filename.endswith(".svg") else case.filename


@pytest.fixture(scope="module")
def app_session():
    return _app()


APP_BAD = ["empty", "text_as_png", "html_as_jpg", "random_bytes", "truncated_jpeg", "svg", "bomb_400mp", "png_144mp"]


def test_app_refuses_bad_files_and_the_session_keeps_working(app_session) -> None:
    at = app_session
    for name in APP_BAD:
        case = CASES[name]
        filename = _app_name(case)
        _upload(at, filename, case.data, case.mime)
        assert not at.exception, (name, [e.value for e in at.exception])
        errors = [e.value.replace("\\", "") for e in at.error]  # user text is shown escaped
        assert len(errors) == 1, (name, errors)
        assert _is_one_sentence(errors[0]), errors[0]
        assert case.keyword.lower() in errors[0].lower(), (name, errors[0])
        assert f'"{filename}"' in errors[0], errors[0]
        assert "Pyramid explorer: bins on the image, feature map, pooled activations" not in _headers(at), name
    good = CASES["exif_rotated_jpeg"]
    _upload(at, good.filename, good.data, good.mime)
    _assert_panels(at)
    assert "Original 300 x 400" in _text(at)


def test_app_uploader_filters_image_types(app_session) -> None:
    allowed = app_session.file_uploader(key="image").allowed_type
    assert ".svg" not in allowed and ".png" in allowed and ".jpg" in allowed


def test_app_accepts_upper_case_extensions(app_session) -> None:
    """Cameras write IMG_0001.JPG: the uploader's type filter must not trip on the case."""
    _upload(app_session, "IMG_0001.JPG", hf.cat_jpeg((389, 257)), "image/jpeg")
    _assert_panels(app_session)
    assert "Original 389 x 257, analysed at" in _text(app_session)


@pytest.mark.parametrize("name", GOOD)
def test_app_analyses_odd_images(name: str, app_session) -> None:
    case = CASES[name]
    _upload(app_session, case.filename, case.data, case.mime)
    _assert_panels(app_session)
    assert case.size is not None
    w, h = case.size
    assert f"Original {w} x {h}, analysed at" in _text(app_session)


# ----------------------------------------------------------------------------
# Checkpoints through the app


def test_app_refuses_a_malicious_checkpoint_without_running_it(tmp_path) -> None:
    target = tmp_path / "pwned.txt"
    relative = REPO / "pwned.txt"
    at = _app()
    _upload(at, "evil.pt", hf.malicious_checkpoint(str(target)), key="checkpoint")
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value.replace("\\", "") for e in at.error]  # user text is shown escaped
    assert len(errors) == 1 and "evil.pt" in errors[0] and "refused" in errors[0], errors
    assert "\n" not in errors[0]
    assert not target.exists() and not relative.exists()
    # drop the checkpoint: the session is fine
    at.file_uploader(key="checkpoint").clear()
    at.run()
    _assert_panels(at)
    assert not target.exists()


def test_app_explains_a_checkpoint_for_the_wrong_architecture() -> None:
    at = _app()
    _upload(at, "resnet_bits.pt", hf.wrong_architecture_checkpoint(), key="checkpoint")
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value.replace("\\", "") for e in at.error]  # user text is shown escaped
    assert len(errors) == 1, errors
    assert "resnet_bits.pt" in errors[0] and "does not fit" in errors[0], errors
    assert "missing" in errors[0] and "unexpected" in errors[0], errors
    at.file_uploader(key="checkpoint").clear()
    at.run()
    _assert_panels(at)
