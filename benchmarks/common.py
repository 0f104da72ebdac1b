"""Shared helpers: result rows, interleaved timing, machine description, synthetic photos.

Everything here uses public tools only: ``time.perf_counter``, ``statistics.median``,
``os.wait4`` / ``resource`` for peak RSS, Pillow and numpy for the test photos.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import platform
import statistics
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
ASSET = ROOT / "assets" / "chelsea_cat.jpg"
APP = ROOT / "app.py"


@dataclass
class Row:
    """One line of the table. ``met`` is True/False, or None for rows that only report."""

    area: str
    figure: str
    measured: str
    target: str = "-"
    met: bool | None = None
    value: float | None = None  # the headline number behind ``measured`` (for --json)
    details: dict = field(default_factory=dict)

    @property
    def met_text(self) -> str:
        return {True: "yes", False: "NO", None: "-"}[self.met]

    def as_dict(self) -> dict:
        d = asdict(self)
        d["met"] = self.met
        return d


def skipped(area: str, figure: str, why: str, target: str = "-") -> Row:
    return Row(area, figure, f"skipped: {why}", target, None)


# ----------------------------------------------------------------------------
# timing


def median_ms(samples_s: list[float]) -> float:
    return statistics.median(samples_s) * 1000


def interleave(fns: dict[str, Callable[[], object]], rounds: int, inner: int = 1, warmup: int = 1) -> dict[str, list[float]]:
    """Run each function ``inner`` times per round, A B C A B C ..., for ``rounds`` rounds.

    Returns seconds PER CALL for each round (the mean over the ``inner`` calls of that round),
    so a median over rounds is robust to a noisy neighbour hitting one round.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        # rotate the order each round so no candidate always runs right after another
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            fn = fns[name]
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            out[name].append((time.perf_counter() - start) / inner)
    return out


def calibrate_inner(fn: Callable[[], object], target_s: float = 0.02, cap: int = 10_000) -> int:
    """How many calls of ``fn`` take about ``target_s`` (for micro-benchmarks)."""
    fn()
    n = 1
    while n < cap:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - start >= target_s:
            break
        n *= 2
    return n


def fmt_ms(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 10:
        return f"{ms:.0f} ms"
    if ms >= 1:
        return f"{ms:.2f} ms"
    return f"{ms * 1000:.0f} us"


# ----------------------------------------------------------------------------
# machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or None where the system has none."""
    try:
        return [round(x, 1) for x in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict[str, Any]:
    """What a result was measured on: CPU model, cores, torch and its threads, device, Python, and when (UTC)."""
    import torch

    try:
        cores_available: int | None = len(os.sched_getaffinity(0))
    except AttributeError:
        cores_available = os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "cores_available": cores_available,
        "cores_logical": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": f"cuda ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cpu",
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": load_average(),
    }


def machine_line(m: dict[str, Any]) -> str:
    """One line for people: ``Machine: AMD EPYC, 2 cores available (2 logical), torch ...``."""
    load = " ".join(f"{x:.1f}" for x in m["load_average"]) if m.get("load_average") else "n/a"
    return (f"Machine: {m['cpu_model']}, {m['cores_available']} cores available ({m['cores_logical']} logical), "
            f"torch {m['torch']} ({m['torch_threads']} threads), device {m['device']}, Python {m['python']}; "
            f"{m['date']}, load average {load} at start")


# ----------------------------------------------------------------------------
# synthetic photos


def make_photo_jpeg(path: Path, size: tuple[int, int] = (4000, 3000), quality: int = 90, grain: float = 8.0, seed: int = 0) -> Path:
    """A photo-like JPEG: the cat asset upscaled (bicubic) to ``size`` with fine sensor-like grain.

    Plain upscaling gives an unrealistically smooth image (a 12 MP file of under 1 MB, which
    decodes faster than a real photo); grain of a few grey levels brings the file size and
    entropy close to a camera JPEG (about 3 MB for 12 MP at q=90).
    """
    import numpy as np
    from PIL import Image

    with Image.open(ASSET) as src:
        big = src.convert("RGB").resize(size, Image.Resampling.BICUBIC)
    rng = np.random.default_rng(seed)
    w, h = size
    arr = np.asarray(big)
    big.close()
    out = np.empty_like(arr)
    # row blocks keep the temporary float arrays small even at 40 MP
    step = max(1, (8 << 20) // (w * 3))
    for y in range(0, h, step):
        block = arr[y:y + step].astype(np.int16)
        block += rng.normal(0.0, grain, block.shape).astype(np.int16)
        np.clip(block, 0, 255, out=block)
        out[y:y + step] = block
    del arr
    Image.fromarray(out).save(path, "JPEG", quality=quality)
    return path


class Workspace:
    """A temp dir holding the synthetic photos (made on first use, deleted at exit; never committed)."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="spp-viz-bench-")
        self.dir = Path(self._tmp.name)
        self._photos: dict[tuple[int, int], Path] = {}

    def photo(self, size: tuple[int, int] = (4000, 3000)) -> Path:
        if size not in self._photos:
            path = self.dir / f"photo_{size[0]}x{size[1]}.jpg"
            self._photos[size] = make_photo_jpeg(path, size)
        return self._photos[size]

    def close(self) -> None:
        self._tmp.cleanup()


# ----------------------------------------------------------------------------
# shared engine pieces (made once per run)


class Engine:
    """The default backbone and the 12 MP photo's preprocessed input, loaded once."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self._backbone: Any = None
        self._x = None
        self._fmap = None

    @property
    def backbone(self):
        if self._backbone is None:
            from spp_viz.backbones import load_backbone

            self._backbone = load_backbone(download=False)
        return self._backbone

    def working_input(self):
        """``(1, 3, 768, 1024)`` preprocessed tensor of the 12 MP photo at the default working size."""
        if self._x is None:
            from spp_viz.images import load_image

            decoded = load_image(self.ws.photo().read_bytes())
            self._x = self.backbone.preprocess(decoded.image)
        return self._x

    def feature_map(self):
        """The real EfficientNet-Lite0 head map of the photo at 1024 x 768: ``(1, 1280, 24, 32)``."""
        if self._fmap is None:
            self._fmap = self.backbone.features(self.working_input()).contiguous()
        return self._fmap

    def bare_forward(self) -> None:
        self.backbone.features(self.working_input())

    def bare_forward_in_thread(self) -> tuple[float, float]:
        """(wall s, process CPU s) of one bare forward run in a fresh thread.

        Streamlit runs every script run (so the app's forward) in a fresh ScriptRunner thread,
        AppTest too. On this oversubscribed 2-core machine a 2-thread OpenMP forward started
        from the main thread was measured 2-3x slower than the same call from a fresh thread
        (6.6 s vs 2.6 s at load average 7), so app figures compare against this variant.
        """
        import threading

        self.working_input()
        out: list[tuple[float, float]] = []

        def work() -> None:
            cpu, start = time.process_time(), time.perf_counter()
            self.bare_forward()
            out.append((time.perf_counter() - start, time.process_time() - cpu))

        worker = threading.Thread(target=work, name="bare-forward")
        worker.start()
        worker.join()
        return out[0]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def jpeg_bytes(image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()
