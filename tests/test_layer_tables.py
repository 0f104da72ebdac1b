"""The packaged layer tables (``spp_viz/layer_tables.json``) against the layer trace.

For every backbone, at 50 seeded random input sizes (odd and even, square and not), one forward
through its deepest stage records every conv and pool of the main path as it really ran: the
size it received, the padding it applied (TF "same" padding, EfficientNet-Lite0's, is the
module's own for that size) and the size it gave. The tables must predict each of them, and
each stage's map (channels, height, width), from the input size alone. The architectures are
built untrained: geometry needs no weights and no network.
"""

from __future__ import annotations

import json
import random
from typing import Callable, cast

import pytest
import torch
from torch import Tensor, nn
from torchvision.models.feature_extraction import create_feature_extractor

from spp_viz.backbones import REGISTRY
from spp_viz.defaults import BACKBONE_NAMES, BACKBONE_STAGES
from spp_viz.efficientnet_lite import STAGE_ENDS, EfficientNetLite0
from spp_viz.geometry import LayerGeometry, StageGeometry
from spp_viz.layer_tables import TABLES_FILE, path_modules, stage_geometry
from spp_viz.trace import Trace, trace_calls

# Odd and even sides, squares and not; the smallest working side (32) and thin shapes. The
# Lite0 test below checks that "same" padding differs among them.
# Random sides up to 192 cover every remainder modulo the largest stride (32) several times, which
# is what the padding of each layer depends on, and keep 50 forwards cheap.
FIXED_SIZES = [(32, 32), (33, 33), (32, 97), (77, 61), (97, 131), (131, 97), (161, 193), (225, 301)]


def _sizes(count: int = 50, seed: int = 25) -> list[tuple[int, int]]:
    """``count`` (height, width) pairs: the fixed ones, then seeded random sides from 32 to 192."""
    rng = random.Random(seed)
    return FIXED_SIZES + [(rng.randint(32, 192), rng.randint(32, 192)) for _ in range(count - len(FIXED_SIZES))]


SIZES = _sizes()


@pytest.fixture
def one_thread():
    """Many small forwards of new shapes: one thread spends far less than two on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _untrained(name: str) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return REGISTRY[name].builder().eval()


def _stages(name: str, model: nn.Module) -> tuple[Callable[[Tensor], Tensor], dict[str, Tensor]]:
    """A forward through the deepest stage (returning its map) that leaves every stage's map in the dict."""
    spec, maps = REGISTRY[name], {}
    if spec.zoo:
        graph = create_feature_extractor(model, return_nodes={node: stage for stage, node in spec.stages.items()}).eval()

        def run(x: Tensor) -> Tensor:
            maps.update(graph(x))
            return maps[spec.final_stage]

        return run, maps
    lite = cast(EfficientNetLite0, model)
    for stage in spec.stages:
        if stage != "head":
            lite._blocks[STAGE_ENDS[stage] - 1].register_forward_hook(lambda _m, _i, out, stage=stage: maps.__setitem__(stage, out))

    def run_lite(x: Tensor) -> Tensor:
        maps["head"] = lite.features(x, "head")
        return maps["head"]

    return run_lite, maps


def _check_size(name: str, trace: Trace, maps: dict[str, Tensor], height: int, width: int) -> None:
    """Every layer's input, padding and output, and every stage's map, as the tables predict them.

    The table's layers are found in the trace by module name: on a small input the main path's
    map can itself be 1 x 1, which the trace's squeeze-excite rule (made for its 64 x 64 image)
    would not tell apart."""
    final = REGISTRY[name].final_stage
    calls = {call.module: call for call in trace.every_call}
    assert len(calls) == len(trace.every_call), f"{name}: a module ran twice"
    size = (height, width)
    for module, layer in zip(path_modules(name, final), stage_geometry(name, final).layers, strict=True):
        call, where = calls[module], f"{name} {module} at {height} x {width}"
        assert call.layer == layer, where
        assert call.input_size == size, where
        assert call.padding == (layer.left_padding(size[0]), layer.left_padding(size[1])), where
        size = (layer.out_size(size[0]), layer.out_size(size[1]))
        assert call.output_size == size, where
    for stage in BACKBONE_STAGES[name]:
        geometry = stage_geometry(name, stage)
        assert tuple(maps[stage].shape[-3:]) == (geometry.channels, *geometry.feature_size(height, width)), \
            f"{name} {stage} at {height} x {width}"


def test_the_sizes_are_50_seeded_with_odd_and_even_sides():
    assert len(SIZES) == 50 and _sizes() == SIZES
    assert {h % 2 for h, _ in SIZES} == {w % 2 for _, w in SIZES} == {0, 1}
    assert any(h != w for h, w in SIZES)
    assert {side % 32 for size in SIZES for side in size} == set(range(32))


def test_lite0_same_padding_differs_among_the_sizes():
    path = stage_geometry("efficientnet_lite0", "head").layers
    assert all(layer.same for layer in path)

    def paddings(length: int) -> tuple[int, ...]:
        out = []
        for layer in path:
            out.append(layer.left_padding(length))
            length = layer.out_size(length)
        return tuple(out)

    assert len({paddings(side) for size in SIZES for side in size}) >= 8


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n == "efficientnet_lite0" else pytest.mark.slow) for n in BACKBONE_NAMES])
def test_the_tables_predict_every_layer_and_stage_of_the_trace_at_50_sizes(name, one_thread):
    # Lite0 (the default backbone, whose "same" padding depends on the size) runs in the fast
    # loop; the others take seconds to a minute each on a busy 2-core machine
    model = _untrained(name)
    run, maps = _stages(name, model)
    for height, width in SIZES:
        maps.clear()
        _check_size(name, trace_calls(model, run, torch.zeros(1, 3, height, width)), maps, height, width)


@pytest.mark.slow  # builds and traces all seven architectures
def test_the_packaged_tables_are_what_the_trace_gives_now(one_thread):
    from importlib import resources

    from spp_viz.devtools.geometry_tables import traced_tables

    packaged = json.loads(resources.files("spp_viz").joinpath(TABLES_FILE).read_text(encoding="utf-8"))
    assert packaged["backbones"] == traced_tables()["backbones"]


def test_a_stage_reads_the_first_layers_of_its_backbones_path():
    for name, stages in BACKBONE_STAGES.items():
        deepest = stage_geometry(name, stages[-1])
        for stage in stages:
            geometry = stage_geometry(name, stage)
            assert geometry.layers == deepest.layers[:len(geometry.layers)]
            assert geometry == StageGeometry.of_layers(geometry.layers, geometry.channels, geometry.global_context)
        assert stage_geometry(name, None) == stage_geometry(name, REGISTRY[name].default_stage)


def test_the_tables_load_without_a_trace_into_the_backbone(lite0):
    assert lite0.geometry == stage_geometry("efficientnet_lite0", "head")
    assert lite0.geometry.stride == 32 and lite0.geometry.channels == 1280 and lite0.geometry.receptive_field == 851


@pytest.mark.parametrize("layer", [LayerGeometry(3, 2, same=True), LayerGeometry(3, 2, 2, 2, True), LayerGeometry(7, 2, 1, 3)])
def test_a_layer_survives_its_json(layer):
    assert LayerGeometry.from_json(json.loads(json.dumps(layer.as_json()))) == layer


@pytest.mark.parametrize(("backbone", "stage", "words"), [
    ("yolo", "p5", "traced when the checkpoint loads"),
    ("resnet18", "features.3", "not a stage of resnet18"),
    ("alexnet", None, "not known"),
])
def test_a_backbone_without_a_table_is_refused_in_one_sentence(backbone, stage, words):
    with pytest.raises(ValueError, match=words) as info:
        stage_geometry(backbone, stage)
    assert "\n" not in str(info.value) and str(info.value).endswith(".")
