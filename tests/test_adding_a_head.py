"""A pooling head is one spec and its module: the toy head (``tests/toy_head.py``), registered at
run time, is accepted by ``--heads``, compared by the family, reported in the JSON and offered
and drawn on the page; docs/adding-a-head.md shows its code as it is."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import ASSETS, ROOT, run_cli_without_torch, second_phase
from test_json_contract import inspect_json
from toy_head import TOY, TOY_KERNEL

from spp_viz import head_ids as ids
from spp_viz.defaults import HEAD_IDS
from spp_viz.figures.tables import POOL_COLUMN, RF_CELLS_COLUMN, TOTAL_COLUMN
from spp_viz.heads.registry import REGISTRY, HeadSpec, register, unregister
from spp_viz.options import parse_heads

CAT = str(ASSETS / "chelsea_cat.jpg")


@pytest.fixture
def toy() -> Iterator[HeadSpec]:
    register(TOY)
    try:
        yield TOY
    finally:
        unregister(TOY.id)


def test_a_registered_head_is_a_head_id_until_unregistered(toy):
    assert ids.head_ids() == (*HEAD_IDS, "toy") == tuple(REGISTRY)
    assert parse_heads("sppf,toy") == ("sppf", "toy") and parse_heads("all")[-1] == "toy"
    unregister("toy")
    assert ids.head_ids() == HEAD_IDS == tuple(REGISTRY)
    with pytest.raises(ValueError, match="Head 'toy' is unknown"):
        parse_heads("toy")
    register(TOY)  # the fixture removes it again


@pytest.mark.parametrize("head_id,message", [("sppf", "already registered"), ("Toy", "not allowed"), ("all", "not allowed"),
                                             ("to,y", "not allowed")])
def test_register_refuses_a_taken_or_unparseable_id(head_id, message):
    with pytest.raises(ValueError, match=message):
        register(HeadSpec(head_id, "x", "x", "x", TOY.build, TOY.branches))
    assert tuple(REGISTRY) == HEAD_IDS


def test_a_built_in_head_cannot_be_unregistered():
    with pytest.raises(ValueError, match="built in"):
        unregister("sppf")


def test_the_cli_json_reports_a_registered_head(toy):
    report = inspect_json("inspect", CAT, "--offline", "--max-side", "224", "--heads", "toy", "--json")
    c, h, w = (report["feature_map"][k] for k in ("channels", "height", "width"))
    (head,) = report["heads"]
    assert (head["id"], head["name"], head["output_shape"], head["params"], head["flops"]) == ("toy", "Toy pool", [2 * c, h, w], 0, 0)
    assert [b["rf_cells"] for b in head["branches"]] == [[1, 1], [TOY_KERNEL, TOY_KERNEL]]
    (check,) = head["exact_equal_to"]
    assert (check["id"], check["equal"], check["max_abs_diff"]) == ("sppf", True, 0)
    assert head["pool_ms"] > 0 and head["total_ms"] == head["pool_ms"]  # no parameters: its module is its pooling


def test_an_unregistered_head_is_refused_before_torch_is_imported():
    result = run_cli_without_torch("inspect", CAT, "--heads", "toy")
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "'toy' is unknown" in result.stderr


def test_the_page_offers_and_compares_a_registered_head(toy):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["max_side"] = 384
    at.run()
    heads = at.multiselect(key="heads")
    assert "toy · Toy pool" in heads.options
    heads.select("toy").run()
    second_phase(at)
    assert not at.exception, [e.value for e in at.exception]
    (costs,) = [t.value for t in at.table if TOTAL_COLUMN in t.value.columns and "GFLOPs" in t.value.columns]
    (branches,) = [t.value for t in at.table if RF_CELLS_COLUMN in t.value.columns]
    assert list(costs["head"]) == list(branches["head"]) == ["spp", "spp_yolo", "sppf", "toy"]
    assert costs[costs["head"] == "toy"].iloc[0][POOL_COLUMN] not in ("measuring…", "not measured")
    # its claim is about SPPF at k=3, n=1, not the sppf compared here (k=5, n=3): named by its settings
    assert branches[branches["head"] == "toy"].iloc[0]["exactly equal to"] == "SPPF (YOLOv5): k=3, n=1 (yes)"
    metas = [spec["layout"]["meta"] for spec in (__import__("json").loads(el.proto.spec) for el in at.get("plotly_chart"))]
    assert {"figure": "family_branches_figure", "head": "toy", "heads": ["toy"], "branches": ["x", "pool 3"]} in metas


def test_the_guide_shows_the_toy_head_as_it_is():
    guide = (ROOT / "docs" / "adding-a-head.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", guide, flags=re.S)
    assert (ROOT / "tests" / "toy_head.py").read_text() in blocks
