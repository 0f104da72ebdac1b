"""The heads run, and are timed, where the model runs; nothing assumes the CPU.

CI has no GPU, so the CUDA paths are checked three ways: the timing code's CUDA branch against a
fake ``torch.cuda`` that records what happens in each block; an audit of every tensor the engine
creates (a tensor made without ``device=`` would be a CPU tensor meeting a CUDA map); and the
device labels, which must come from the tensors themselves. On a machine with CUDA the last
tests compare a real CUDA run with the CPU's.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from pathlib import Path

import pytest
import torch
from conftest import ASSETS
from torch.overrides import TorchFunctionMode

from spp_viz import analysis, devices, images, timing
from spp_viz.analysis import PyramidConfig, extract_features
from spp_viz.boxes import PixelBox
from spp_viz.devtools.numbers import report_numbers
from spp_viz.regions import pool_region
from spp_viz.report import run_inspection

SPP_VIZ = Path(analysis.__file__).resolve().parent
CAT = (ASSETS / "chelsea_cat.jpg").read_bytes()
FACTORIES = {torch.zeros, torch.ones, torch.empty, torch.full, torch.arange, torch.tensor, torch.as_tensor, torch.rand,
             torch.randn, torch.randint, torch.linspace, torch.eye}


# ----------------------------------------------------------------------------
# Device-correct timing


class FakeEvent:
    log: list[str] = []

    def __init__(self, enable_timing: bool = False) -> None:
        assert enable_timing
        self.at = 0.0

    def record(self) -> None:
        FakeEvent.log.append("record")
        self.at = len(FakeEvent.log)

    def elapsed_time(self, end: FakeEvent) -> float:
        FakeEvent.log.append("elapsed")
        return (end.at - self.at) * 1.0  # ms: one per event logged in between


@pytest.fixture
def fake_cuda(monkeypatch):
    FakeEvent.log = []
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: FakeEvent.log.append("sync"))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    return FakeEvent.log


def test_a_cuda_block_is_timed_by_events_with_a_synchronize_before_reading(fake_cuda):
    block = timing.block_timer(lambda: fake_cuda.append("call"), "cuda:0")
    seconds = block(3)
    assert fake_cuda == ["sync", "record", "call", "call", "call", "record", "sync", "elapsed"]
    assert seconds == pytest.approx(0.004)  # 4 log entries between the events at 1 ms each, in seconds


def test_a_cpu_block_never_touches_cuda(fake_cuda):
    calls = []
    timing.block_timer(lambda: calls.append(1), "cpu")(5)
    assert calls == [1] * 5 and fake_cuda == []


def test_latencies_carry_the_device_they_were_measured_on(fake_cuda):
    cuda = timing.measure_interleaved({"x": lambda: None}, device=torch.device("cuda"), min_rounds=3, min_time_s=0.0)["x"]
    assert cuda.device == "cuda:0" and cuda.method == timing.CUDA_METHOD
    cpu = timing.measure_interleaved({"x": lambda: None}, min_rounds=3, min_time_s=0.0)["x"]
    assert cpu.device == "cpu" and cpu.method == timing.CPU_METHOD


def test_a_single_run_says_where_and_how_busy(fake_cuda):
    out, run = timing.time_once(lambda: 7, "cuda:0")
    assert out == 7 and run.device == "cuda:0" and fake_cuda == ["sync", "sync"]
    assert run.as_json()["single_run"] is True and run.load_average >= 0


# ----------------------------------------------------------------------------
# Nothing in the engine creates a tensor on the CPU by default


class FactoryAudit(TorchFunctionMode):
    """Records every tensor factory called from engine code without a ``device=``."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in FACTORIES and "device" not in kwargs:
            where = _engine_caller()
            if where:
                self.found.append(f"{func.__name__} at {where}")
        return func(*args, **kwargs)


def _engine_caller() -> str | None:
    """``module.py:line`` of the nearest spp_viz engine frame, or None (tests, torch, figures)."""
    for frame in inspect.stack()[2:12]:
        path = Path(frame.filename).resolve()
        if SPP_VIZ in path.parents:
            rel = path.relative_to(SPP_VIZ).as_posix()
            if rel.startswith(("figures/", "devtools/", "ui/")):
                return None
            return f"{rel}:{frame.lineno}"
    return None


def test_the_engine_creates_no_tensor_without_a_device(lite0):
    from spp_viz import worker
    from spp_viz.erf import bin_erf
    from spp_viz.scales import scale_sweep

    decoded = images.load_image(CAT, max_side=256)
    audit = FactoryAudit()
    with audit, worker.inline():  # the timing worker's tasks run here, where the audit watches
        result = run_inspection(decoded, heads="all", levels="1,2,4")
        pool_region(result.backbone, decoded.image, result.features, PixelBox(10, 10, 120, 90), result.pyramid.config)
        bin_erf(result.backbone, decoded.image, 2, 1, 0, PyramidConfig())
        scale_sweep(result.backbone, decoded.image, (96, 128), PyramidConfig())
        extract_features(result.backbone, decoded.image)
    assert audit.found == []


def test_the_audit_catches_a_cpu_default():
    """The guard itself: a factory without ``device=`` in a file of the engine is reported, one
    with it is not (code compiled under a path inside spp_viz/, as a module there would be)."""
    audit = FactoryAudit()
    with audit:
        exec(compile("torch.zeros(1, 3, 8, 8)\ntorch.zeros(1, 3, 8, 8, device='cpu')", str(SPP_VIZ / "made_up.py"), "exec"),
             {"torch": torch})
    assert audit.found == ["zeros at made_up.py:1"]


# ----------------------------------------------------------------------------
# Labels come from the tensors


def test_the_json_says_cpu_on_this_machine_for_every_latency(lite0):
    result = run_inspection(CAT, heads="sppf,spp_yolo,spp,ppm", max_side=256)
    report = result.report()
    assert report["backbone"]["device"] == "cpu"
    assert {c["device"] for c in report["sppf"]["costs"]} == {"cpu"}
    assert {h["device"] for h in report["heads"]} == {"cpu"}
    assert set(report["timings_device"].values()) == {"cpu"}


def test_a_cuda_setting_with_cpu_tensors_is_never_labelled_cuda(lite0):
    """A model that claims a GPU but whose map is on the CPU: the JSON says where the tensors were."""
    claims_cuda = dataclasses.replace(lite0, device=torch.device("cuda", 0))
    decoded = images.load_image(CAT, max_side=256)
    features = extract_features(lite0, decoded.image)
    head = analysis.pool_pyramid(features, PyramidConfig())
    from spp_viz.family import sppf_view
    from spp_viz.report import build_report

    report = build_report(decoded, claims_cuda, features, head, sppf_view(features, PyramidConfig()), [], {})
    assert report["backbone"]["device"] == "cpu"
    assert "cuda" not in str(report["sppf"]["costs"]) and "cuda" not in str(report["timings_device"])


def test_one_default_device_and_one_name_for_it(monkeypatch):
    """The library, the CLI and the app default to ``devices.default_device``; a resolved device
    always has its index, so the page, the JSON and every timing read ``cpu`` or ``cuda:N``."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    assert devices.default_device() == "cuda:0" and devices.device_choices() == ["cpu", "cuda:0", "cuda:1"]
    assert devices.resolve_device(None) == torch.device("cuda", 0)
    assert devices.resolve_device("cuda") == torch.device("cuda", 1)  # a bare cuda is the current device, as in PyTorch
    assert devices.resolve_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert devices.device_name(torch.device("cuda")) == "cuda:1" and devices.device_name("cuda:0") == "cuda:0"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert devices.default_device() == "cpu" and devices.resolve_device(None) == torch.device("cpu")
    assert devices.device_name(torch.device("cpu")) == "cpu"


def test_the_model_loads_on_the_default_device_and_nothing_else_picks_one(lite0):
    """``load_backbone`` (and so the CLI without ``--device``) runs where the app's sidebar starts:
    ``default_device``; only ``devices`` asks torch whether a GPU is there."""
    assert lite0.device == devices.resolve_device(None) and str(lite0.device) == devices.default_device()
    asking = sorted(p.relative_to(SPP_VIZ).as_posix() for p in SPP_VIZ.rglob("*.py") if "cuda.is_available" in p.read_text("utf-8"))
    assert asking == ["devices.py"]


def test_the_working_limit_on_the_cpu_is_the_cpu_one(lite0):
    assert devices.working_limit(lite0) == images.CPU_WORKING_LIMIT
    assert devices.device_choices()[0] == "cpu"


def test_a_cuda_working_limit_comes_from_free_memory(lite0, monkeypatch):
    """On a GPU the budget is half the free memory over the probe's bytes per pixel, capped at 89.5 MP."""
    on_gpu = dataclasses.replace(lite0, device=torch.device("cuda", 0))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (40 * 2**30, 80 * 2**30))
    monkeypatch.setattr(devices, "bytes_per_pixel", lambda backbone: 2000.0)
    limit = devices.working_limit(on_gpu)
    assert limit.pixels == min(images.DEFAULT_MAX_PIXELS, int(0.5 * 40 * 2**30 / 2000.0))
    assert "40.0 GiB free on cuda:0" in limit.reason
    monkeypatch.setattr(devices, "bytes_per_pixel", lambda backbone: 10.0)  # a tiny model: the input limit wins
    assert devices.working_limit(on_gpu).pixels == images.DEFAULT_MAX_PIXELS
    big = images.load_image(CAT, max_side=0, limit=images.WorkingLimit(100 * 100, "a test budget"))
    assert math.prod(big.working_size) <= 100 * 100 * 1.02 and any("a test budget" in n for n in big.notes)


# ----------------------------------------------------------------------------
# On a machine with CUDA: the same numbers, and the heads really on the GPU

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@needs_cuda
def test_cuda_and_cpu_reports_agree_within_1e_3():
    gpu = run_inspection(CAT, device="cuda", heads="all").report()
    cpu = run_inspection(CAT, device="cpu", heads="all").report()
    assert gpu["backbone"]["device"].startswith("cuda") and all(c["device"].startswith("cuda") for c in gpu["sppf"]["costs"])
    for a, b in zip(report_numbers(gpu), report_numbers(cpu)):
        assert a == pytest.approx(b, abs=1e-3, rel=1e-3)
