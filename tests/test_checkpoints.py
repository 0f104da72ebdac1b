"""Checkpoints as people save them: plain, DataParallel (``module.``), nested, float16, broken.

Each is an untrained resnet18 state_dict saved to bytes with ``torch.save`` (no network, no
file on disk), loaded through ``load_backbone(checkpoint=...)``, which reads it with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io

import pytest
import torch
import torchvision

from spp_viz.backbones import load_backbone
from spp_viz.errors import BackboneError


@pytest.fixture(scope="module")
def state_dict() -> dict[str, torch.Tensor]:
    generator_state = torch.random.get_rng_state()
    model = torchvision.models.resnet18(weights=None)
    torch.random.set_rng_state(generator_state)  # leave the process's random state as it was
    return {k: v.clone() for k, v in model.state_dict().items()}


def _saved(obj: object) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _loaded_conv1(checkpoint: bytes, name: str = "ckpt.pth"):
    backbone = load_backbone("resnet18", "layer2", checkpoint=checkpoint, checkpoint_name=name, download=False, device="cpu")
    conv1 = backbone.model.get_submodule("conv1")
    assert isinstance(conv1, torch.nn.Conv2d)
    return backbone, conv1.weight.detach()


@pytest.mark.parametrize("wrap", [
    pytest.param(lambda sd: sd, id="plain"),
    pytest.param(lambda sd: {f"module.{k}": v for k, v in sd.items()}, id="dataparallel-module-prefix"),
    pytest.param(lambda sd: {"state_dict": sd, "epoch": 12}, id="nested-state_dict"),
    pytest.param(lambda sd: {"model": sd, "optimizer": {"lr": 0.1}}, id="nested-model"),
    pytest.param(lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}}, id="nested-and-prefixed"),
])
def test_common_checkpoint_layouts_load_the_same_weights(state_dict, wrap) -> None:
    backbone, conv1 = _loaded_conv1(_saved(wrap(state_dict)))
    assert torch.equal(conv1, state_dict["conv1.weight"])
    assert backbone.weights == "checkpoint ckpt.pth" and backbone.weights_warning is None


def test_float16_checkpoint_loads_as_float32(state_dict) -> None:
    half = {k: v.half() if v.is_floating_point() else v for k, v in state_dict.items()}
    backbone, conv1 = _loaded_conv1(_saved(half))
    assert conv1.dtype == torch.float32
    assert torch.equal(conv1, half["conv1.weight"].float())
    assert backbone.weights_warning is None


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_checkpoint_loads_but_is_flagged_in_one_sentence(state_dict, bad: float) -> None:
    broken = dict(state_dict)
    broken["layer1.0.conv1.weight"] = state_dict["layer1.0.conv1.weight"].clone()
    broken["layer1.0.conv1.weight"][0, 0, 0, 0] = bad
    backbone, _ = _loaded_conv1(_saved(broken), "broken.pth")
    warning = backbone.weights_warning
    assert warning is not None and "\n" not in warning and warning.endswith(".")
    assert "broken.pth" in warning and "layer1.0.conv1.weight" in warning and "1 of" in warning


def test_pretrained_weights_carry_no_warning() -> None:
    assert load_backbone("efficientnet_lite0", download=False).weights_warning is None


def test_a_checkpoint_for_another_architecture_is_refused(state_dict) -> None:
    with pytest.raises(BackboneError, match="does not fit this architecture"):
        load_backbone("resnet50", checkpoint=_saved(state_dict), checkpoint_name="r18.pth", download=False, device="cpu")


def test_a_pickle_that_would_run_code_is_refused() -> None:
    with pytest.raises(BackboneError, match="weights_only=True"):
        load_backbone("resnet18", checkpoint=_saved({"conv1.weight": torch.zeros(1), "x": io.BytesIO}),
                      checkpoint_name="evil.pth", download=False, device="cpu")


def test_the_report_carries_the_non_finite_warning(state_dict) -> None:
    from conftest import ASSETS

    from spp_viz.report import run_inspection

    broken = dict(state_dict)
    broken["fc.bias"] = torch.full_like(state_dict["fc.bias"], float("inf"))
    result = run_inspection((ASSETS / "chelsea_cat.jpg").read_bytes(), backbone="resnet18", checkpoint=_saved(broken),
                            checkpoint_name="inf.pth", download=False, device="cpu", max_side=128)
    warnings = result.report()["warnings"]
    assert result.backbone.weights_warning in warnings
    assert any("inf.pth" in w and "fc.bias" in w for w in warnings)
