"""A YOLO detector checkpoint as a backbone: read without running its pickle, rebuilt with
spp-viz's own modules up to its SPPF, and refused in one sentence when it should be.

Every checkpoint here is made by the tests (:mod:`yolo_files`): spp-viz modules with random
weights pickled under ultralytics' and YOLOv5's class names, in fp16 like releases.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from torch import nn
from yolo_files import detector_pickle, gadgets, raw_checkpoint

from spp_viz.backbones import DetectorBackbone, load_backbone
from spp_viz.defaults import DETECTOR_STAGES
from spp_viz.detectors import checkpoint_layout, read_detector_file
from spp_viz.detectors import reading as reading_module
from spp_viz.detectors.detector import NO_CLASSIFIER
from spp_viz.detectors.rebuild import rebuild
from spp_viz.detectors.recognise import Layout
from spp_viz.detectors.scan import scan_pickle
from spp_viz.detectors.standins import stand_in_names
from spp_viz.devtools.detector_files import BLOCK, Flavour, conv, make_checkpoint
from spp_viz.errors import BackboneError, CheckpointProblem, DetectorCheckpointError

V84 = Flavour("ultralytics", "8.4.53", "yolov8")


@pytest.fixture(scope="module")
def v8n():
    return make_checkpoint("yolov8n")


def _loaded(data: bytes, stage: str = "p5", name: str = "model.pt") -> DetectorBackbone:
    backbone = load_backbone("yolo", stage, checkpoint=data, checkpoint_name=name, device="cpu")
    assert isinstance(backbone, DetectorBackbone)
    return backbone


def _refusal(data: bytes, name: str = "bad.pt") -> DetectorCheckpointError:
    with pytest.raises(DetectorCheckpointError) as info:
        _loaded(data, name=name)
    assert "\n" not in str(info.value) and str(info.value).endswith(".")
    return info.value


# --- round trip: the rebuilt layers compute what the saved ones computed


@pytest.mark.parametrize(("layout", "kwargs"), [
    ("yolov8n", {}),
    ("yolo11n", {}),
    ("yolov5n", {}),
    ("yolov8n", {"flavour": V84, "cv1_act": "identity"}),
    ("yolov8n", {"pyramid": "spp"}),
    ("yolov5n", {"pyramid": "spp"}),
])
def test_every_stage_of_the_rebuilt_backbone_equals_the_saved_modules(layout, kwargs):
    made = make_checkpoint(layout, **kwargs)
    backbone = _loaded(made.data)
    x = torch.rand(1, 3, 75, 101)
    assert tuple(backbone.detector.stage_layers) == DETECTOR_STAGES
    for stage, index in backbone.detector.stage_layers.items():
        assert torch.equal(backbone.net(x, index), made.net(x, index)), stage
    assert all(p.dtype == torch.float32 for p in backbone.net.parameters())


def test_the_backbone_is_cut_at_the_chosen_stage_and_preprocesses_as_ultralytics(v8n):
    from PIL import Image

    image = Image.new("RGB", (97, 65), (255, 128, 0))
    for stage, (index, stride) in {"p3": (4, 8), "p4": (6, 16), "p5": (8, 32), "sppf": (9, 32)}.items():
        backbone = _loaded(v8n.data, stage)
        x = backbone.preprocess(image)
        assert torch.equal(x[0, :, 0, 0], torch.tensor([1.0, 128 / 255, 0.0]))  # RGB / 255, no mean or std
        assert backbone.detector.stage_layers[stage] == index and backbone.geometry.stride == stride
        assert torch.equal(backbone.features(x), v8n.net(x, index))
        assert backbone.detector.stage_label(stage) == f"{stage} (layer {index})"


def test_ema_is_read_first_when_the_file_has_one():
    made = make_checkpoint("yolov8n", ema_seed=7)
    backbone = _loaded(made.data)
    x = torch.rand(1, 3, 64, 64)
    assert backbone.detector.from_ema
    assert torch.equal(backbone.net(x, 9), made.net(x, 9))  # made.net is the ema's


def test_the_sppf_is_found_by_its_type_not_its_index():
    made = make_checkpoint("yolov8n", insert=conv(256, 256, 3))
    backbone = _loaded(made.data, "sppf")
    assert backbone.detector.sppf.layer == 10
    assert backbone.detector.stage_layers == {"p3": 4, "p4": 6, "p5": 9, "sppf": 10}
    x = torch.rand(1, 3, 64, 96)
    assert torch.equal(backbone.features(x), made.net(x, 10))


# --- what the file says about itself, and its trained SPPF


@pytest.mark.parametrize(("layout", "flavour", "expected"), [
    ("yolov8n", None, {"family": "yolov8", "scale": "n", "task": "detect", "saved_by": "ultralytics 8.3.91", "sppf_cv1_activation": "SiLU"}),
    ("yolov8n", V84, {"family": "yolov8", "scale": "n", "task": "detect", "saved_by": "ultralytics 8.4.53",
                      "sppf_cv1_activation": "Identity"}),
    ("yolo11n", None, {"family": "yolo11", "scale": "n", "task": "detect", "saved_by": "ultralytics 8.3.91", "sppf_cv1_activation": "SiLU"}),
    ("yolov5n", None, {"family": "yolov5", "scale": "n", "task": "detect", "saved_by": "yolov5", "sppf_cv1_activation": "SiLU"}),
])
def test_the_report_keys_say_what_the_file_says(layout, flavour, expected):
    made = make_checkpoint(layout, flavour=flavour, cv1_act="identity" if flavour is V84 else "silu")
    info = _loaded(made.data, name=f"{layout}.pt").detector
    assert info.as_json() == {"checkpoint": f"{layout}.pt", **expected}


def test_family_from_the_blocks_and_no_scale_when_the_file_names_no_model():
    info = _loaded(make_checkpoint("yolo11n", train_model="").data).detector
    assert (info.family, info.scale) == ("yolo11", None)
    assert "scale" not in info.as_json()
    assert _loaded(make_checkpoint("yolov8n", train_model="").data).detector.family == "yolov8"


def test_the_trained_sppf_is_the_files_own(v8n):
    sppf = _loaded(v8n.data).detector.sppf
    saved = v8n.net.layer(9)
    assert sppf.kind == "SPPF" and (sppf.k, sppf.n, sppf.windows) == (5, 3, (5, 9, 13))
    assert (sppf.in_channels, sppf.hidden_channels, sppf.out_channels) == (256, 128, 256)
    assert sppf.params == 164_608  # YOLOv8n's SPPF np, BatchNorm weights and biases counted
    assert not sppf.bn_folded and not sppf.shortcut
    assert torch.equal(sppf.module.cv1.conv.weight, saved.cv1.conv.weight)
    assert torch.equal(sppf.module.cv2.bn.state_dict()["running_var"], saved.cv2.bn.state_dict()["running_var"])


def test_a_parallel_spp_file_gives_its_pool_windows():
    sppf = _loaded(make_checkpoint("yolov5n", pyramid="spp").data).detector.sppf
    assert sppf.kind == "SPP" and sppf.windows == (5, 9, 13) and sppf.n == 3


def test_every_rebuilt_layer_has_the_parameter_count_its_record_declares(v8n):
    file = read_detector_file(v8n.data, "v8n.pt")
    rebuilt = rebuild(file.model, "v8n.pt")
    counted = tuple(sum(p.numel() for p in rebuilt.net.layer(i).parameters()) for i in range(len(rebuilt.net.model)))
    assert counted == rebuilt.declared_params


def test_weights_are_stored_fp16_and_loaded_float32(v8n):
    record = read_detector_file(v8n.data, "v8n.pt").model
    for key in ("model", "9", "cv1", "conv"):
        child = record.child(key)
        assert child is not None
        record = child
    assert record.tensors()["weight"].dtype == torch.float16
    assert all(t.dtype == torch.float32 for t in _loaded(v8n.data).net.state_dict().values() if t.is_floating_point())


def test_the_stand_ins_answer_for_exactly_what_torch_would_refuse(v8n):
    for made in (v8n, make_checkpoint("yolov5n")):
        archive = zipfile.ZipFile(io.BytesIO(made.data))
        names = scan_pickle(archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))).globals
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(made.data))
        assert set(stand_in_names(names)) == set(unsafe)
        assert any(n.startswith("numpy.") for n in unsafe) == (made is not v8n)  # YOLOv5 pickles a numpy fitness


def test_loads_from_several_threads_at_once_all_succeed(v8n):
    with ThreadPoolExecutor(4) as pool:
        backbones = list(pool.map(lambda _: _loaded(v8n.data), range(4)))
    assert all(b.detector.family == "yolov8" for b in backbones)


# --- integration with the other backbones


def test_load_backbone_yolo_is_a_backbone_without_a_classifier(v8n):
    from spp_viz.report import no_predictions_reason

    backbone = load_backbone("yolo", "sppf", checkpoint=v8n.data, checkpoint_name="yolov8n.pt", device="cpu")
    assert isinstance(backbone, DetectorBackbone) and backbone.name == "yolo" and backbone.stage == "sppf"
    assert not backbone.can_classify and no_predictions_reason(backbone) == NO_CLASSIFIER
    assert backbone.weights == "checkpoint yolov8n.pt"
    x = torch.rand(1, 3, 64, 64)
    assert torch.equal(backbone.spec.builder()(x, 9), backbone.net(x, 9))  # the spec builds the same layers again


def test_the_yolo_backbone_needs_a_checkpoint_and_other_backbones_point_to_it(v8n):
    with pytest.raises(BackboneError):
        load_backbone("yolo", device="cpu")
    with pytest.raises(BackboneError, match="'yolo'"):
        load_backbone("resnet18", weights="untrained", checkpoint=v8n.data, checkpoint_name="yolov8n.pt", download=False)


def test_files_are_recognised_by_their_content(v8n, tmp_path):
    assert checkpoint_layout(v8n.data) == Layout.ULTRALYTICS
    assert checkpoint_layout(make_checkpoint("yolov5n").data) == Layout.YOLOV5
    buf = io.BytesIO()
    torch.save({"conv.weight": torch.zeros(1)}, buf)
    assert checkpoint_layout(buf.getvalue()) is None and checkpoint_layout(b"not a zip") is None
    path = tmp_path / "yolov8n.pt"
    path.write_bytes(v8n.data)
    assert checkpoint_layout(path) == Layout.ULTRALYTICS


def test_the_report_gains_the_detector_keys_only_for_yolo(v8n):
    from conftest import ASSETS

    from spp_viz.report import run_inspection

    data = (ASSETS / "chelsea_cat.jpg").read_bytes()
    yolo = run_inspection(data, backbone="yolo", checkpoint=v8n.data, checkpoint_name="yolov8n.pt", max_side=128, device="cpu").report()
    assert yolo["backbone"]["family"] == "yolov8" and yolo["backbone"]["checkpoint"] == "yolov8n.pt"
    assert yolo["predictions"] == [] and yolo["predictions_note"] == NO_CLASSIFIER
    lite = run_inspection(data, max_side=128, device="cpu").report()
    assert set(lite["backbone"]) == {"name", "stage", "weights", "stride", "channels", "receptive_field", "device"}


# --- hostile pickles: nothing runs


@pytest.mark.parametrize("gadget", list(gadgets("MARKER")))
def test_a_classic_gadget_is_refused_by_name_and_never_runs(gadget, tmp_path):
    marker = tmp_path / "pwned"
    instructions, refused = gadgets(str(marker))[gadget]
    error = _refusal(raw_checkpoint(detector_pickle(instructions)))
    assert error.problem == CheckpointProblem.REFUSED_GLOBAL and error.subject == refused
    assert not marker.exists()


@pytest.mark.parametrize("gadget", ["os.system", "builtins.eval", "getattr chain"])
def test_the_gadgets_are_live_under_an_unrestricted_unpickler(gadget, tmp_path):
    """The refusal above is not luck: ``pickle.loads`` runs these and the marker appears."""
    marker = tmp_path / "pwned"
    instructions, _ = gadgets(str(marker))[gadget]
    pickle.loads(b"\x80\x02" + instructions + b".")
    assert marker.exists()


def test_a_gadget_inside_a_real_looking_checkpoint_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Gadget:
        def __reduce__(self):
            import os

            return os.system, (f"touch {marker}",)

    error = _refusal(make_checkpoint("yolov8n", extra={"train_results": Gadget()}).data)
    assert error.problem == CheckpointProblem.REFUSED_GLOBAL and error.subject.endswith(".system")
    assert not marker.exists()


def test_a_stand_in_keeps_arguments_and_state_and_runs_nothing(tmp_path):
    """An ultralytics name maps to an inert stand-in even when the pickle calls it with arguments."""
    marker = tmp_path / "pwned"
    call = b"c" + b"ultralytics.utils\nrun\n" + b"(" + b"X" + len(f"touch {marker}").to_bytes(4, "little") + f"touch {marker}".encode() + b"tR"
    file = read_detector_file(raw_checkpoint(detector_pickle(call)), "odd.pt")
    assert file.entries["train_args"].args == (f"touch {marker}",)
    assert not marker.exists()


# --- bad files: one sentence each


def _rezip(data: bytes, edit) -> bytes:
    """``data``'s zip rewritten entry by entry, ``edit(name, bytes, info) -> (bytes, compression)``."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            payload, compression = edit(info.filename, src.read(info), info)
            dst.writestr(info.filename, payload, compress_type=compression)
    return out.getvalue()


def _legacy(v8n_net) -> bytes:
    buf = io.BytesIO()
    torch.save({"model": v8n_net.state_dict()}, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def test_files_that_are_not_whole_zip_checkpoints_get_one_sentence_each(v8n):
    from conftest import ASSETS

    cases = {
        CheckpointProblem.EMPTY: b"",
        CheckpointProblem.NOT_ZIP: (ASSETS / "chelsea_cat.jpg").read_bytes(),
        CheckpointProblem.TRUNCATED: v8n.data[: len(v8n.data) // 2],
        CheckpointProblem.LEGACY: _legacy(v8n.net),
        CheckpointProblem.COMPRESSED: _rezip(v8n.data, lambda n, b, i: (b, zipfile.ZIP_DEFLATED if n.endswith("data.pkl") else 0)),
    }
    for problem, data in cases.items():
        assert _refusal(data).problem == problem, problem


def test_a_pickle_that_asks_for_more_tensor_bytes_than_its_record_holds_is_refused_before_loading(v8n, monkeypatch):
    def grow(name, payload, info):
        if not name.endswith("data.pkl"):
            return payload, 0
        # the first storage's element count (after its location "cpu" and that string's memo
        # instruction), made 2**40 with a LONG1 instruction
        pos = payload.index(b"X\x03\x00\x00\x00cpu") + 8
        pos += {ord("q"): 2, ord("r"): 5}.get(payload[pos], 0)
        width = {ord("K"): 2, ord("M"): 3, ord("J"): 5}[payload[pos]]
        return payload[:pos] + b"\x8a\x06" + (2**40).to_bytes(6, "little") + payload[pos + width:], 0

    loads = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a))
    error = _refusal(_rezip(v8n.data, grow))
    assert error.problem == CheckpointProblem.STORAGE and loads == []


def test_limits_are_stated_and_checked_before_loading(v8n, monkeypatch):
    from spp_viz.detectors import archive

    monkeypatch.setattr(reading_module, "MAX_TENSOR_BYTES", 1_000_000)
    assert _refusal(v8n.data).problem == CheckpointProblem.TOO_LARGE
    monkeypatch.setattr(archive, "MAX_CHECKPOINT_BYTES", 1_000_000)
    assert _refusal(v8n.data).problem == CheckpointProblem.TOO_LARGE


def _rename(index: int, path: str):
    def mutate(model, namer):
        layer = model._modules["model"]._modules[str(index)]
        layer.__class__ = namer.cls(path)
    return mutate


def test_an_unknown_layer_type_before_the_sppf_is_named():
    error = _refusal(make_checkpoint("yolov8n", mutate=_rename(6, f"{BLOCK}.RepNCSPELAN4")).data)
    assert error.problem == CheckpointProblem.UNKNOWN_LAYER and error.subject == f"{BLOCK}.RepNCSPELAN4"


def test_a_file_without_an_sppf_is_refused():
    error = _refusal(make_checkpoint("yolov8n", mutate=_rename(9, f"{BLOCK}.C2f")).data)
    assert error.problem == CheckpointProblem.NO_SPPF


def test_a_tensor_whose_shape_does_not_fit_its_layer_is_named():
    def shrink(model, namer):
        conv2d = model._modules["model"]._modules["4"]._modules["cv1"]._modules["conv"]
        conv2d._parameters["weight"] = nn.Parameter(conv2d._parameters["weight"][:, :32].clone(), requires_grad=False)

    error = _refusal(make_checkpoint("yolov8n", mutate=shrink).data)
    assert error.problem == CheckpointProblem.SHAPE and error.subject == "model.4.cv1.conv.weight"


def test_a_layer_that_does_not_read_what_the_layer_before_gives_is_named():
    def widen(model, namer):
        conv2d = model._modules["model"]._modules["5"]._modules["conv"]
        conv2d.in_channels = 32
        conv2d._parameters["weight"] = nn.Parameter(conv2d._parameters["weight"][:, :32].clone(), requires_grad=False)

    error = _refusal(make_checkpoint("yolov8n", mutate=widen).data)
    assert error.problem == CheckpointProblem.SHAPE and "layer 5" in str(error)


def test_a_file_with_no_yolo_model_is_not_a_detector():
    buf = io.BytesIO()
    torch.save({"conv.weight": torch.zeros(2, 2)}, buf)
    assert _refusal(buf.getvalue()).problem == CheckpointProblem.NOT_A_DETECTOR


# --- geometry: the traced spans are the gradient support of the rebuilt layers


def _linearised(net: nn.Module) -> nn.Module:
    """A copy with identity activations and BatchNorms, average pools for max pools, positive
    weights, in float64: input pixel p reaches cell i exactly when some path joins them, so a
    cell's nonzero gradient is its receptive field clipped to the image (as in test_geometry)."""
    import copy

    model = copy.deepcopy(net)

    def walk(module: nn.Module) -> None:
        for name, child in module.named_children():
            if isinstance(child, (nn.SiLU, nn.BatchNorm2d)):
                setattr(module, name, nn.Identity())
            elif isinstance(child, nn.MaxPool2d):
                setattr(module, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding))
            else:
                walk(child)

    walk(model)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand_like(p).add_(0.5).div_(p[0].numel()) if p.dim() > 1 else torch.ones_like(p))
    return model.double().eval()


@pytest.mark.parametrize(("layout", "kwargs", "stage", "height", "width"), [
    ("yolov8n", {}, "p3", 35, 301),
    ("yolov8n", {}, "sppf", 67, 93),
    ("yolo11n", {}, "p5", 33, 160),
    ("yolov5n", {}, "p4", 70, 67),  # the 6 x 6 stride-2 stem with padding 2
    ("yolov5n", {"pyramid": "spp"}, "sppf", 67, 101),  # parallel pools: the widest one counts
])
def test_spans_equal_the_gradient_support_of_the_rebuilt_layers(layout, kwargs, stage, height, width):
    backbone = _loaded(make_checkpoint(layout, **kwargs).data, stage)
    geometry, last = backbone.geometry, backbone.detector.stage_layers[stage]
    assert not geometry.global_context
    ys, xs = geometry.spans(height, width)
    model = _linearised(backbone.net)
    x = torch.ones(1, 3, height, width, dtype=torch.float64, requires_grad=True)
    out = model(x, last)
    assert (ys.count, xs.count) == tuple(out.shape[-2:]) == geometry.feature_size(height, width)
    for r, c in sorted({(0, 0), (ys.count - 1, xs.count - 1), (ys.count // 2, xs.count // 3), (0, xs.count - 1)}):
        (grad,) = torch.autograd.grad(out[0, :, r, c].sum(), x, retain_graph=True)
        mask = grad.abs().sum(dim=(0, 1)) > 0
        rows = torch.nonzero(mask.any(dim=1)).flatten().tolist()
        cols = torch.nonzero(mask.any(dim=0)).flatten().tolist()
        assert rows == list(range(*map(int, ys.rf_clipped(r)))), f"rows of cell ({r}, {c})"
        assert cols == list(range(*map(int, xs.rf_clipped(c)))), f"cols of cell ({r}, {c})"
        assert int(mask.sum()) == len(rows) * len(cols)


def test_a_record_that_holds_itself_is_refused_not_followed_forever():
    def loop(model, namer):
        c2f = model._modules["model"]._modules["2"]
        c2f._modules["m"]._modules["0"] = c2f  # C2f.m[0] is the C2f itself

    assert _refusal(make_checkpoint("yolov8n", mutate=loop).data).problem == CheckpointProblem.BAD_RECORD

    def extra(model, namer):
        conv = model._modules["model"]._modules["0"]
        conv._modules["again"] = conv  # a child the rebuild does not read, pointing back: no new tensor

    assert _loaded(make_checkpoint("yolov8n", mutate=extra).data).detector.family == "yolov8"
