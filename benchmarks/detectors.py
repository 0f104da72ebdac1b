"""Target 16, a detector checkpoint as a backbone: loading a YOLOv8n-sized checkpoint through to
the rebuilt backbone, against ``torch.load(weights_only=True)`` of a plain state_dict holding the
same tensors (target: at most 1.5x), the forward of a 640 x 480 photo with it (reported), and the
page's first phase of that photo with it against that forward (target: at most 2.5x).

The checkpoint is made in memory (:mod:`spp_viz.devtools.detector_files`: YOLOv8n's layers, neck
and Detect head, 3.2 M parameters in fp16, 356 storages, the size and tensor count of the real
``yolov8n.pt``). All candidates run interleaved in one process, round by round:

* ``plain``: ``torch.load(weights_only=True)`` of ``{name: tensor}`` with the file's own fp16 tensors;
* ``unpickle``: ``torch.load(weights_only=True)`` of the checkpoint with its stand-ins (torch's part);
* ``read + rebuild``: :func:`read_detector_file` and :func:`rebuild` (zip checks, pickle scan,
  the load above, the layers rebuilt and their float32 weights loaded by name);
* ``load_detector``: all of that plus the traced stage geometry: ``load_backbone("yolo")``.

The first phase (:func:`_first_phase_row`) is the app's own script under ``AppTest`` with the
checkpoint uploaded: a fresh-digest 640 x 480 JPEG is uploaded and the run that draws its page
(decode, the forward to p5, the pyramid, the SPP vs SPPF view with the trained SPPF, figures, the
explorer; nothing timed) is timed, each between two bare forwards of the same photo to p5 run in
a fresh thread as Streamlit runs scripts; the ratio is the median of the first phases over the
median of the forwards.

Run alone: ``python -m benchmarks.detectors [--quick] [--threads N]`` (``--threads``: torch's
intra-op threads; on a 2-core machine that others load, tiny ops at the default 2 threads wait
for a busy core, and the small traced forward of ``load_detector`` with them).
"""

from __future__ import annotations

import functools
import io
import statistics
import sys
from typing import Any, Callable

import torch
from PIL import Image

from spp_viz.backbones import load_backbone
from spp_viz.detectors import read_detector_file
from spp_viz.detectors.rebuild import rebuild
from spp_viz.detectors.scan import scan_pickle
from spp_viz.detectors.standins import StandIn, stand_ins
from spp_viz.devtools.detector_files import make_checkpoint

from .common import ASSET, Row, fmt_ms, interleave

AREA = "16 detectors"
TARGET_LOAD = 1.5
TARGET_FIRST_PHASE = 2.5


def _tensors(record: StandIn, prefix: str, out: dict[str, torch.Tensor]) -> None:
    """Every tensor of the model record by name, as stored (fp16): the plain state_dict's content."""
    for name, tensor in record.tensors().items():
        out[prefix + name] = tensor.detach().clone()
    for name, child in record.children().items():
        if child is not None:
            _tensors(child, f"{prefix}{name}.", out)


def _plain_state_dict(data: bytes) -> bytes:
    state: dict[str, torch.Tensor] = {}
    _tensors(read_detector_file(data, "yolov8n.pt").model, "", state)
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def _unpickle(data: bytes) -> Callable[[], object]:
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(data))
    globals_ = scan_pickle(names.read(next(n for n in names.namelist() if n.endswith("data.pkl")))).globals
    allowed: list[Any] = list(stand_ins(globals_))

    def load() -> object:
        with torch.serialization.safe_globals(allowed):
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    return load


def _ratio(samples: dict[str, list[float]], name: str, base: str = "plain") -> float:
    """The median of the per-round ratios (robust to a neighbour hitting one round)."""
    return statistics.median(a / b for a, b in zip(samples[name], samples[base]))


def run(quick: bool) -> list[Row]:
    data = make_checkpoint("yolov8n", full_head=True).data
    plain = _plain_state_dict(data)
    fns: dict[str, Callable[[], object]] = {
        "plain": lambda: torch.load(io.BytesIO(plain), map_location="cpu", weights_only=True),
        "unpickle": _unpickle(data),
        "read + rebuild": lambda: rebuild(read_detector_file(data, "yolov8n.pt").model, "yolov8n.pt"),
        "load_detector": lambda: load_backbone("yolo", checkpoint=data, checkpoint_name="yolov8n.pt", device="cpu"),
    }
    rounds = 7 if quick else 21
    samples = interleave(fns, rounds, warmup=2)
    ms = {name: statistics.median(s) * 1000 for name, s in samples.items()}
    ratio = _ratio(samples, "load_detector")
    rows = [Row(AREA, "load a YOLOv8n-sized checkpoint to the rebuilt backbone vs torch.load of its plain state_dict",
                f"{ratio:.2f}x ({fmt_ms(ms['load_detector'])} vs {fmt_ms(ms['plain'])}); read + rebuild "
                f"{_ratio(samples, 'read + rebuild'):.2f}x ({fmt_ms(ms['read + rebuild'])}); torch's unpickling alone "
                f"{_ratio(samples, 'unpickle'):.2f}x ({fmt_ms(ms['unpickle'])})",
                f"<= {TARGET_LOAD}x", ratio <= TARGET_LOAD, ratio,
                {"rounds": rounds, "file_bytes": len(data), "plain_bytes": len(plain), "median_ms": ms,
                 "ratios": {name: _ratio(samples, name) for name in fns}})]
    rows.append(_forward_row(data, quick))
    rows.append(_first_phase_row(data, quick))
    return rows


def _photo_640() -> Image.Image:
    with Image.open(ASSET) as src:
        return src.convert("RGB").resize((640, 480), Image.Resampling.BICUBIC)


def _forward_in_thread(fn: Callable[[], object]) -> float:
    """Seconds of one call of ``fn`` in a fresh thread (Streamlit runs each script run in its own)."""
    import threading
    import time

    out: list[float] = []

    def work() -> None:
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)

    worker = threading.Thread(target=work, name="bare-forward")
    worker.start()
    worker.join()
    return out[0]


def _first_phase_row(data: bytes, quick: bool) -> Row:
    """The page's first phase of a fresh 640 x 480 photo with the checkpoint loaded, over the bare
    forward of that photo to p5 (the map the page analyses by default)."""
    import time

    from spp_viz.ui import state

    from .app_interaction import AppSession, with_comment

    photo = _photo_640()
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=90)
    jpeg = buf.getvalue()
    backbone = load_backbone("yolo", "p5", checkpoint=data, checkpoint_name="yolov8n.pt", device="cpu")
    x = backbone.preprocess(photo)
    forward = functools.partial(backbone.features, x)
    session = AppSession()
    session.at.file_uploader(key=state.KEY_CHECKPOINT).set_value(("yolov8n.pt", data, "application/octet-stream"))
    session.run()  # the detector loaded, its page of the sample drawn
    firsts, forwards = [], [_forward_in_thread(forward)]
    for i in range(3 if quick else 9):
        session.at.file_uploader(key=state.KEY_IMAGE).set_value(
            ("photo_640x480.jpg", with_comment(jpeg, f"spp-viz detector bench {i} {time.time_ns()}"), "image/jpeg"))
        firsts.append(session.run())
        forwards.append(_forward_in_thread(forward))
    shown = session.at.selectbox(key=state.KEY_BACKBONE).value, session.at.selectbox(key=state.KEY_STAGE).value
    assert shown == ("yolo", "p5"), shown
    first, bare = statistics.median(firsts), statistics.median(forwards)
    ratio = first / bare
    return Row(AREA, "first phase of a 640 x 480 photo with the YOLOv8n-sized checkpoint (the page, AppTest) / its forward to p5",
               f"{ratio:.2f}x ({fmt_ms(first * 1000)} vs {fmt_ms(bare * 1000)})", f"<= {TARGET_FIRST_PHASE}x",
               ratio <= TARGET_FIRST_PHASE, ratio,
               {"first_ms": [round(t * 1000) for t in firsts], "forward_ms": [round(t * 1000) for t in forwards]})


def _forward_row(data: bytes, quick: bool) -> Row:
    """The 640 x 480 photo through the rebuilt backbone to p5 and to the SPPF (reported)."""
    photo = _photo_640()
    backbones = {stage: load_backbone("yolo", stage, checkpoint=data, checkpoint_name="yolov8n.pt", device="cpu") for stage in ("p5", "sppf")}
    x = backbones["p5"].preprocess(photo)
    fns: dict[str, Callable[[], object]] = {stage: functools.partial(b.features, x) for stage, b in backbones.items()}
    samples = interleave(fns, 7 if quick else 21, warmup=2)
    ms = {stage: statistics.median(s) * 1000 for stage, s in samples.items()}
    shape = tuple(backbones["sppf"].features(x).shape)
    return Row(AREA, "forward of a 640 x 480 photo through the rebuilt YOLOv8n (float32, CPU)",
               f"to p5 {fmt_ms(ms['p5'])}, to the SPPF {fmt_ms(ms['sppf'])} (map {' x '.join(map(str, shape[1:]))})",
               "report", None, ms["sppf"], {"median_ms": ms})


def main(argv: list[str]) -> None:
    import os

    if "--threads" in argv:
        torch.set_num_threads(int(argv[argv.index("--threads") + 1]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for row in run(quick="--quick" in argv):
        print(f"{row.figure}: {row.measured}  [target {row.target}, met: {row.met_text}]")


if __name__ == "__main__":
    main(sys.argv[1:])
