"""The decoder under fuzzing: the seed corpus, a short seeded atheris pass, and a quiet stderr.

``tests/fuzz/fuzz_images.py`` is the coverage-guided target (its docstring has the long-run
command). Here CI runs a short, seeded pass of a few thousand inputs, then replays every seed,
every regression file (``crash-*``) and every input the pass found in a fresh process whose
stderr must stay empty: decoding never prints (libtiff, Pillow's logging, warnings).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FUZZ = ROOT / "tests" / "fuzz"
CORPUS = FUZZ / "corpus"
TARGET = FUZZ / "fuzz_images.py"
FUZZ_RUNS = 4000  # about 5-20 s on one core
FUZZ_SEED = 1

# Replays files through the same check as the fuzz target (without atheris): prints nothing
# itself, so any byte on its stderr came from decoding.
_REPLAY = """
import sys, time
from pathlib import Path
sys.path.insert(0, {fuzz!r})
from spp_viz.images import ImageDecodeError, load_image
from check import check_one
for folder in sys.argv[1:]:
    for path in sorted(Path(folder).iterdir()):
        try:
            check_one(path.read_bytes())
        except Exception as exc:
            sys.stdout.write(f"FAIL {{path.name}}: {{type(exc).__name__}}: {{exc}}\\n")
sys.stdout.write("done\\n")
"""


def _replay(*folders: Path) -> subprocess.CompletedProcess[str]:
    code = _REPLAY.format(fuzz=str(FUZZ))
    return subprocess.run([sys.executable, "-c", code, *map(str, folders)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)


def test_corpus_has_every_accepted_format() -> None:
    from PIL import Image

    formats = set()
    for path in CORPUS.iterdir():
        if path.name.startswith("crash-"):
            continue  # regressions are hostile on purpose
        with Image.open(path) as im:
            formats.add(im.format)
    assert {"PNG", "JPEG", "GIF", "TIFF", "WEBP", "BMP"} <= formats
    names = {p.name for p in CORPUS.iterdir()}
    for needed in ("png_rgb16.png", "png_palette.png", "png_gray8.png", "png_rgba.png", "jpeg_cmyk.jpg",
                   "jpeg_progressive.jpg", "jpeg_exif_rotated.jpg", "gif_animated.gif", "tiff_multipage.tif",
                   "tiff_multipage_deflate.tif", "webp_lossy.webp", "bmp_rgb.bmp"):
        assert needed in names


def test_every_corpus_file_and_regression_decodes_or_is_refused_quietly() -> None:
    result = _replay(CORPUS)
    assert result.stdout.strip().splitlines() == ["done"], result.stdout
    assert result.stderr == ""


def test_corrupt_compressed_tiff_writes_nothing_to_stderr() -> None:
    # libtiff writes "ZIPDecode: Decoding error ..." to fd 2 from inside Pillow unless its handler is switched off
    code = (
        "import io\n"
        "from PIL import Image\n"
        "from spp_viz.images import ImageDecodeError, load_image\n"
        "im = Image.radial_gradient('L').convert('RGB')\n"
        "out = {}\n"
        "for comp in ('tiff_adobe_deflate', 'tiff_lzw', 'jpeg'):\n"
        "    buf = io.BytesIO(); im.save(buf, 'TIFF', compression=comp); data = bytearray(buf.getvalue())\n"
        "    for i in range(300, len(data) // 2):\n"
        "        data[i] ^= 0x5A\n"
        "    try:\n"
        "        load_image(bytes(data)); out[comp] = 'decoded'\n"
        "    except ImageDecodeError:\n"
        "        out[comp] = 'refused'\n"
        "print(out)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "'tiff_adobe_deflate': 'refused'" in result.stdout  # the case that printed ZIPDecode errors
    assert result.stderr == ""


def test_regression_gif_whose_frame_outgrows_its_screen() -> None:
    # Found by fuzzing (a libFuzzer timeout under load): a 48 x 32 GIF whose first frame claims
    # 12288 x 8368 px. Pillow allocates that canvas while opening (about 100 MB), before any
    # size check can run; the file must still be refused quickly, with the one-limit sentence.
    import time

    from spp_viz.images import ImageDecodeError, load_image

    data = (CORPUS / "crash-timeout-gif-frame-beyond-screen.gif").read_bytes()
    start = time.perf_counter()
    with pytest.raises(ImageDecodeError) as info:
        load_image(data, filename="frame.gif")
    assert time.perf_counter() - start < 2.0
    assert str(info.value) == '"frame.gif" is 12288 x 8368 = 102.8 MP, above the 89.5 MP limit.'


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("atheris") is None,
                    reason="atheris has wheels for Linux and CPython <= 3.11 only; the corpus replay still runs")
def test_short_seeded_fuzz_pass(tmp_path: Path) -> None:
    found = tmp_path / "new"
    found.mkdir()
    cmd = [sys.executable, str(TARGET), f"-seed={FUZZ_SEED}", f"-runs={FUZZ_RUNS}", "-timeout=2", "-rss_limit_mb=2048",
           f"-artifact_prefix={tmp_path}/", str(found), str(CORPUS)]
    # libFuzzer's -rss_limit_mb reads the peak RSS (ru_maxrss), which a child inherits from the
    # process it was forked from: this pytest process, with models loaded, can already hold more
    # than the limit. A tiny wrapper forks the fuzzer, so the peak it reads is its own.
    wrapper = [sys.executable, "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"]
    result = subprocess.run(wrapper + cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    artifacts = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert result.returncode == 0 and not artifacts, (
        f"fuzzing found {artifacts}: copy them into tests/fuzz/corpus as regressions\n{result.stderr[-3000:]}")
    assert f"Done {FUZZ_RUNS} runs" in result.stderr
    # what the pass found (inputs reaching new branches) must decode quietly too
    replay = _replay(found)
    assert replay.stdout.strip().splitlines() == ["done"], replay.stdout
    assert replay.stderr == ""
