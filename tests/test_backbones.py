"""Backbones: the offline default, the torchvision zoo through the hub cache, user checkpoints."""

import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision

from spp_viz import efficientnet_lite
from spp_viz.backbones import REGISTRY, describe_backbones, load_backbone, weights_status
from spp_viz.checkpoints import read_checkpoint
from spp_viz.errors import BackboneError, WeightsUnavailableError


@pytest.mark.parametrize("height,width", [(224, 224), (301, 197), (97, 513)])
def test_lite0_logits_equal_reference_package(height, width):
    reference_pkg = pytest.importorskip("efficientnet_lite_pytorch")
    state_dict = efficientnet_lite.load_packaged_state_dict()
    ours = efficientnet_lite.EfficientNetLite0().eval()
    ours.load_state_dict(state_dict)
    # image_size=None: the reference's dynamic TF "same" padding, right for any size
    reference = reference_pkg.EfficientNet.from_name("efficientnet-lite0", image_size=None).eval()
    reference.load_state_dict(state_dict)
    x = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(height))
    with torch.inference_mode():
        assert torch.allclose(ours(x), reference(x), atol=1e-4)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "CMYK"])
def test_preprocess_equals_torchvisions_to_tensor_and_normalize(lite0, mode):
    """Bit for bit: the planar, in-place preprocessing is the same arithmetic as the reference."""
    from PIL import Image
    from torchvision.transforms import functional as TF

    pixels = torch.randint(0, 256, (37, 53, 3), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
    image = Image.fromarray(pixels.numpy()).convert(mode)
    reference = TF.normalize(TF.to_tensor(image.convert("RGB")), list(lite0.spec.mean), list(lite0.spec.std)).unsqueeze(0)
    assert torch.equal(lite0.preprocess(image), reference)


def test_loading_the_default_prints_nothing(capfd):
    load_backbone(download=False)
    out, _err = capfd.readouterr()
    assert out == ""


def test_default_backbone_is_offline_and_pretrained(lite0):
    assert lite0.weights == "pretrained (package)" and lite0.can_classify
    assert (lite0.geometry.stride, lite0.geometry.channels) == (32, 1280)
    assert weights_status("efficientnet_lite0") == "packaged"


def test_classifier_on_one_by_one_avg_level_equals_the_model_forward(lite0):
    x = torch.randn(1, 3, 160, 224, device=lite0.device)  # inputs live where the model does (CUDA by default on a GPU)
    with torch.inference_mode():
        direct = lite0.model(x)
        via_gap = lite0.classify(torch.nn.functional.adaptive_avg_pool2d(lite0.features(x), 1).flatten(1))
    assert torch.allclose(direct, via_gap, atol=1e-5)


ZOO_SMALL = ["resnet18", "mobilenet_v3_large", "efficientnet_b0"]


@pytest.mark.parametrize("name", ZOO_SMALL)
def test_zoo_weights_load_from_a_seeded_hub_cache(name, torch_home):
    spec = REGISTRY[name]
    torch.manual_seed(1)
    saved = torchvision.models.get_model(name, weights=None).state_dict()
    torch.save(saved, torch_home / spec.weights_file())
    assert weights_status(name) == "cached"
    backbone = load_backbone(name, download=False)
    assert backbone.weights == "pretrained (cache)" and backbone.can_classify
    for key, value in backbone.model.state_dict().items():
        assert torch.equal(value.cpu(), saved[key]), key
    assert next(d for d in describe_backbones() if d["name"] == name)["offline"] is True


def test_missing_zoo_weights_say_which_file_and_where(torch_home):
    assert weights_status("resnet50") == "not cached"
    with pytest.raises(WeightsUnavailableError) as info:
        load_backbone("resnet50", download=False)
    message = str(info.value)
    assert "resnet50-11ad3fa6.pth" in message and str(torch_home) in message and "untrained" in message
    assert "\n" not in message


def test_untrained_is_labelled_and_never_classifies(torch_home):
    backbone = load_backbone("resnet18", weights="untrained")
    assert backbone.weights == "untrained" and not backbone.pretrained and not backbone.can_classify


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_stage_reports_stride_channels_and_exact_feature_size(name):
    spec = REGISTRY[name]
    stages = [spec.default_stage] if name in ("vgg16", "resnet50", "convnext_tiny") else list(spec.stages)
    for stage in stages:
        backbone = load_backbone(name, stage, weights="pretrained" if not spec.zoo else "untrained")
        for height, width in [(32, 32), (75, 203), (224, 224)]:
            fmap = backbone.features(torch.zeros(1, 3, height, width, device=backbone.device))
            assert fmap.shape[1] == backbone.geometry.channels
            assert tuple(fmap.shape[-2:]) == backbone.geometry.feature_size(height, width)
        assert backbone.geometry.stride in (4, 8, 16, 32)


def test_known_receptive_fields():
    assert load_backbone("vgg16", "conv5_3", weights="untrained").geometry.receptive_field == 196
    assert load_backbone("resnet50", "layer4", weights="untrained").geometry.receptive_field == 427


def test_bad_names_are_one_sentence():
    with pytest.raises(BackboneError, match="choose one of"):
        load_backbone("alexnet")
    with pytest.raises(BackboneError, match="layer1, layer2"):
        load_backbone("resnet18", "layer9", weights="untrained")


def _bytes_of(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_user_checkpoint_loads_with_weights_only():
    torch.manual_seed(2)
    state = torchvision.models.resnet18(weights=None).state_dict()
    backbone = load_backbone("resnet18", checkpoint=_bytes_of({"state_dict": state}), checkpoint_name="mine.pt")
    assert backbone.weights == "checkpoint mine.pt" and backbone.can_classify
    assert torch.equal(backbone.model.get_parameter("conv1.weight").cpu(), state["conv1.weight"])


def test_checkpoint_for_the_wrong_architecture_names_keys():
    state = torchvision.models.mobilenet_v3_large(weights=None).state_dict()
    with pytest.raises(BackboneError) as info:
        load_backbone("resnet18", checkpoint=_bytes_of(state), checkpoint_name="wrong.pth")
    message = str(info.value)
    assert "wrong.pth does not fit" in message and "missing" in message and "unexpected" in message and "conv1.weight" in message


class _Exploit:
    """Unpickling this would create a file: a safe loader must refuse it."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_malicious_checkpoint_is_refused_and_never_runs(tmp_path):
    target = tmp_path / "pwned.txt"
    payload = pickle.dumps({"conv1.weight": _Exploit(str(target))})
    buffer = io.BytesIO()
    torch.save({"x": torch.zeros(1)}, buffer)  # a real zip container, then swap in the evil pickle
    import zipfile

    evil = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, zipfile.ZipFile(evil, "w") as dst:
        for item in src.infolist():
            data = payload if item.filename.endswith("data.pkl") else src.read(item.filename)
            dst.writestr(item, data)
    for blob in (evil.getvalue(), payload):
        with pytest.raises(BackboneError, match="refused|not a readable"):
            read_checkpoint(blob, "evil.pt")
        with pytest.raises(BackboneError):
            load_backbone("resnet18", checkpoint=blob, checkpoint_name="evil.pt")
    assert not target.exists() and not os.path.exists("pwned.txt")


@pytest.mark.parametrize("blob,match", [(b"", "empty"), (b"hello world", "not a readable"), (_bytes_of([1, 2, 3]), "not a state_dict")])
def test_junk_checkpoints(blob, match):
    with pytest.raises(BackboneError, match=match):
        read_checkpoint(blob, "junk.pt")


def test_loading_never_resets_the_process_random_state():
    from spp_viz.backbones import load_backbone

    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    load_backbone("resnet18", weights="untrained", download=False)
    assert torch.equal(torch.rand(3), expected)  # the same stream as if nothing had been loaded


def test_untrained_weights_are_the_same_every_time():
    from spp_viz.backbones import load_backbone

    first = load_backbone("resnet18", weights="untrained", download=False).model.get_parameter("conv1.weight")
    torch.rand(5)  # whatever the caller's random state is
    second = load_backbone("resnet18", weights="untrained", download=False).model.get_parameter("conv1.weight")
    assert torch.equal(first, second)


def test_weights_file_names_are_torchvisions_own():
    """The registry names each zoo backbone's weights file so that checking the cache imports
    nothing; the names must be those of torchvision's DEFAULT weights."""
    from torchvision.models import get_model_weights

    for spec in REGISTRY.values():
        if spec.zoo:
            assert spec.weights_file() == Path(get_model_weights(spec.name).DEFAULT.url).name, spec.name


def test_listing_backbones_imports_no_torchvision():
    """``spp-viz backbones`` and the sidebar's weight status read file names, not models."""
    code = ("import sys; from spp_viz.backbones import describe_backbones; describe_backbones(); "
            "print('torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
