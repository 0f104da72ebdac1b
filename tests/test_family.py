"""The pyramid-pooling family: params and FLOPs against hand arithmetic, shapes on odd
maps, every exact equality over k, n and map sizes, the CLI contract and the app panel."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import ASSETS, run_cli, second_phase
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spp_viz.analysis import FeatureResult, PyramidConfig
from spp_viz.choices import BinRule, Pool
from spp_viz.defaults import HEAD_IDS
from spp_viz.family import branch_maps, check_equalities, compare_family, pool_output, timing_key
from spp_viz.figures.tables import RF_CELLS_COLUMN, TOTAL_COLUMN
from spp_viz.geometry import StageGeometry
from spp_viz.heads.costs import count_flops, flop_model
from spp_viz.heads.registry import BuildArgs, build_head, trainable_params
from spp_viz.options import parse_heads
from spp_viz.pooling import check_sppf_fits, exact_compare, max_pool_same, separable_max_pool, sppf_effective_kernels

CHANNELS = (64, 96)
GEOMETRY = StageGeometry(stride=32, channels=0, receptive_field=200)


# ----------------------------------------------------------------------------
# independent arithmetic: a YOLO Conv is conv weights + BatchNorm's weight and bias


def conv(c1: int, c2: int, k: int = 1) -> int:
    return c1 * c2 * k * k + 2 * c2


def macs(c1: int, c2: int, k: int = 1) -> int:
    """Multiply-adds of one conv per output cell."""
    return c1 * c2 * k * k


def expected(head: str, c: int, h: int, w: int, k: int = 5, n: int = 3) -> tuple[int, int]:
    """(params, FLOPs) written out by hand from each source's definition; FLOPs = 2 x MACs."""
    cells = h * w
    half = c // 2
    if head == "spp":
        return 0, 0
    if head in ("spp_yolo", "sppf", "sppf_separable"):  # cv1 C -> C/2, cv2 (n+1)C/2 -> C
        return conv(c, half) + conv(half * (n + 1), c), 2 * cells * (macs(c, half) + macs(half * (n + 1), c))
    if head in ("simsppf", "sppelan"):  # three pools: cv2 / cv5 take 4 x C/2
        return conv(c, half) + conv(4 * half, c), 2 * cells * (macs(c, half) + macs(4 * half, c))
    if head in ("sppcspc", "cspsppf"):
        m = c if head == "sppcspc" else half
        parts = [(c, m, 1), (c, m, 1), (m, m, 3), (m, m, 1), (4 * m, m, 1), (m, m, 3), (2 * m, c, 1)]
        return sum(conv(*p) for p in parts), 2 * cells * sum(macs(*p) for p in parts)
    if head == "ppm":  # 1x1 conv C -> C/4 (no bias) + BN on each b x b map: not per cell
        q = c // 4
        return 4 * (c * q + 2 * q), 2 * c * q * (1 + 4 + 9 + 36)
    if head == "aspp":  # 1x1, three 3x3 atrous, pooling 1x1 (on 1 x 1), project 5 x 256 -> 256; 6 BNs
        o = 256
        params = c * o + 3 * c * o * 9 + c * o + 5 * o * o + 6 * 2 * o
        return params, 2 * cells * (c * o + 3 * c * o * 9 + 5 * o * o) + 2 * c * o
    raise AssertionError(head)


def fake_features(c: int, h: int, w: int, seed: int = 0, ties: bool = False) -> FeatureResult:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-3, 4, (c, h, w), generator=g).float() if ties else torch.randn(c, h, w, generator=g)
    return FeatureResult(x, (w * 32, h * 32), "test", "head", "untrained", GEOMETRY, 0.0)


@pytest.mark.parametrize("c", CHANNELS)
@pytest.mark.parametrize("head", HEAD_IDS)
def test_params_and_flops_match_hand_arithmetic(head, c):
    features = fake_features(c, 7, 11)
    report = compare_family(features, [head], PyramidConfig((1, 2, 4)), measure=False).head(head)
    assert (report.params, report.flops) == expected(head, c, 7, 11)
    assert report.untrained == (head != "spp")


@pytest.mark.parametrize("k,n", [(3, 2), (7, 1), (5, 4)])
def test_sppf_params_follow_k_and_n(k, n):
    report = compare_family(fake_features(64, 9, 9), ["sppf", "spp_yolo"], k=k, repeats=n, measure=False)
    for head in ("sppf", "spp_yolo"):
        assert (report.head(head).params, report.head(head).flops) == expected(head, 64, 9, 9, k, n)


@pytest.mark.parametrize("head", HEAD_IDS)
def test_scaled_flop_count_equals_a_full_size_count(head):
    args = BuildArgs(16, 5, 3, (1, 2, 4), Pool.MAX, BinRule.ADAPTIVE)
    for h, w in ((7, 11), (13, 5), (1, 1)):
        full = count_flops(build_head(head, args), torch.zeros(1, 16, h, w))
        assert flop_model(head, args).at(h, w) == full


@pytest.mark.parametrize("h,w", [(7, 11), (13, 5)])
def test_output_shapes_on_odd_maps(h, w):
    c = 64
    result = compare_family(fake_features(c, h, w), "all", PyramidConfig((1, 2, 4)), measure=False)
    shapes = {r.id: r.output_shape for r in result.heads}
    assert shapes.pop("spp") == (c * (1 + 4 + 16),)
    assert shapes.pop("ppm") == (2 * c, h, w)
    assert shapes.pop("aspp") == (256, h, w)
    assert set(shapes.values()) == {(c, h, w)}
    assert [r.id for r in result.heads if r.fixed_length] == ["spp"]


@settings(max_examples=25, deadline=None)
@given(head=st.sampled_from(HEAD_IDS), h=st.integers(1, 19), w=st.integers(1, 19), k=st.sampled_from((3, 5)),
       n=st.integers(1, 3))
def test_every_heads_output_shape_is_the_shape_of_its_output_on_the_whole_map(head, h, w, k, n):
    """A size-keeping head's shape is read from a 2 x 3 corner (no meta run): it must be what the
    module gives on the whole map, and SPP's what its pooling gives."""
    from spp_viz.family import output_shape
    from spp_viz.heads.registry import get_spec

    args = get_spec(head).key(BuildArgs(16, k, n, (1, 2, 3), Pool.MAX, BinRule.ADAPTIVE))
    module = build_head(head, args)
    x = torch.randn(1, 16, h, w)
    with torch.inference_mode():
        whole = tuple(module(x).shape[1:])
    assert output_shape(head, args, module, x) == whole


@settings(max_examples=40, deadline=None)
@given(head=st.sampled_from(HEAD_IDS), h=st.integers(1, 17), w=st.integers(1, 17), k=st.sampled_from((3, 5, 7)),
       n=st.integers(1, 3), seed=st.integers(0, 2**16), specials=st.booleans())
def test_the_page_pools_give_the_bits_of_the_heads_own_pools(head, h, w, k, n, seed, specials):
    """What the page shows runs a max-pool-only head's pools in channels-last layout (faster on the
    CPU): each part must be bit for bit its own pool_part's, NaN, infinities and ties included,
    and back in the standard layout; any other head's pools run as they are."""
    from spp_viz.family import run_pools
    from spp_viz.heads.registry import get_spec

    spec = get_spec(head)
    args = spec.key(BuildArgs(16, k, n, (1, 2, 3), Pool.MAX, BinRule.ADAPTIVE))
    module = build_head(head, args)
    x = torch.randn(1, 16, h, w, generator=torch.Generator().manual_seed(seed))
    if specials:
        x = x.round()  # ties
        x.view(-1)[:: 7] = float("nan")
        x.view(-1)[3:: 11] = float("-inf")
    with torch.inference_mode():
        theirs, ours = spec.pool_part(module, x), run_pools(spec, module, x)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.is_contiguous() and a.shape == b.shape
        assert torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(0.5), b.nan_to_num(0.5))
    assert spec.max_pools == (head in ("spp_yolo", "sppf", "sppf_separable", "simsppf", "sppcspc", "cspsppf", "sppelan"))


def test_a_process_reports_the_built_in_heads_without_importing_torch_dynamo():
    """The meta device's Python kernels and FlopCounterMode import torch._dynamo (1.3 to 2 s): the
    first page of a cold process waited for it. Every built-in head's report (shapes, FLOPs,
    equalities) must leave it unimported; ASPP aside, which is torchvision's module (importing
    torchvision.ops imports torch._dynamo)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import sys, torch
        from spp_viz.analysis import FeatureResult, PyramidConfig
        from spp_viz.defaults import HEAD_IDS
        from spp_viz.family import compare_family
        from spp_viz.geometry import StageGeometry
        geometry = StageGeometry(stride=32, channels=0, receptive_field=200)
        f = FeatureResult(torch.randn(64, 7, 11), (352, 224), "test", "head", "untrained", geometry, 0.0)
        heads = [h for h in HEAD_IDS if h != "aspp"]
        report = compare_family(f, heads, PyramidConfig((1, 2, 4)), measure=False)
        assert [r.id for r in report.heads] == heads and all(r.flops > 0 for r in report.heads if r.params)
        print("torch._dynamo" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_branch_receptive_fields_in_cells_and_pixels():
    features = fake_features(64, 10, 15)
    result = compare_family(features, ["sppf", "aspp", "ppm", "sppcspc"], measure=False)
    sppf = result.head("sppf").branches
    assert [b.rf_cells for b in sppf] == [(1, 1), (5, 5), (9, 9), (13, 13)]
    assert [b.rf_pixels for b in sppf] == [(200 + (q - 1) * 32,) * 2 for q in (1, 5, 9, 13)]
    aspp = result.head("aspp").branches
    assert [b.rf_cells for b in aspp] == [(1, 1), (25, 25), (49, 49), (73, 73), (10, 15)]
    # the whole map's branch sees the whole image; its window in the same unclipped pixels as the others
    assert aspp[-1].whole_image and aspp[-1].rf_pixels == (200 + 9 * 32, 200 + 14 * 32)
    ppm = result.head("ppm").branches  # x, then bins 1, 2, 3, 6 (adaptive: largest bin)
    assert [b.rf_cells for b in ppm] == [(1, 1), (10, 15), (5, 8), (4, 5), (3, 3)]
    assert [b.rf_cells[0] for b in result.head("sppcspc").branches] == [5, 9, 13, 17, 1]


# ----------------------------------------------------------------------------
# the exact equalities, over k, n and map sizes


def windows_by_hand(x: torch.Tensor, k: int, n: int) -> torch.Tensor:
    """Independent of every module: one plain max pool per effective width."""
    return torch.cat([x] + [F.max_pool2d(x, q, 1, q // 2) for q in sppf_effective_kernels(k, n)], 1)


@settings(max_examples=40, deadline=None)
@given(k=st.sampled_from([1, 3, 5, 7, 9]), n=st.integers(1, 4), h=st.integers(1, 12), w=st.integers(1, 12),
       seed=st.integers(0, 2**16), ties=st.booleans())
def test_sppf_cascade_equals_parallel_pools_and_separable(k, n, h, w, seed, ties):
    assume((n - 1) * (k - 1) + 1 < 2 * max(h, w) - 1)
    x = fake_features(3, h, w, seed, ties).feature.unsqueeze(0)
    args = BuildArgs(3, k, n)
    reference = windows_by_hand(x, k, n)
    for head in ("sppf", "spp_yolo", "sppf_separable"):
        assert torch.equal(pool_output(head, x, args), reference)
        checks = check_equalities(head, x, args)
        assert len(checks) == 2 and all(c.equal and c.max_abs_diff == 0 for c in checks)
    assert torch.equal(separable_max_pool(x, k), max_pool_same(x, k))


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 14), w=st.integers(1, 14), seed=st.integers(0, 2**16), ties=st.booleans())
def test_source_heads_pool_like_sppf_and_ppm_aspp_like_average_spp(h, w, seed, ties):
    x = fake_features(8, h, w, seed, ties).feature.unsqueeze(0)
    args = BuildArgs(8, 3, 2)  # the user's SPPF k, n do not change the source-fixed heads
    for head in ("simsppf", "sppcspc", "cspsppf", "sppelan"):
        assert torch.equal(pool_output(head, x, args), windows_by_hand(x, 5, 3))
        (check,) = check_equalities(head, x, args)
        assert check.other == "sppf" and check.equal and check.max_abs_diff == 0
    for head, levels in (("ppm", (1, 2, 3, 6)), ("aspp", (1,))):
        by_hand = torch.cat([F.adaptive_avg_pool2d(x, b).flatten(1) for b in levels], 1)
        assert torch.equal(pool_output(head, x, args).flatten(1), by_hand)
        (check,) = check_equalities(head, x, args)
        assert check.other == "spp" and check.equal


def test_a_nan_in_the_map_is_reported_not_hidden():
    features = fake_features(4, 6, 6)
    features.feature[0, 2, 2] = float("nan")
    checks = compare_family(features, ["sppf"], measure=False).head("sppf").exact_equal_to
    assert len(checks) == 2 and all(c.equal and c.max_abs_diff == 0 for c in checks)  # same NaN windows
    assert exact_compare(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0])) == (False, math.inf)
    assert exact_compare(torch.tensor([1.0, float("nan")]), torch.tensor([1.5, float("nan")])) == (False, 0.5)
    inf = float("inf")
    assert exact_compare(torch.tensor([inf, -inf, 3.0]), torch.tensor([inf, -inf, 3.0])) == (True, 0.0)
    assert exact_compare(torch.tensor([inf, 1.0]), torch.tensor([2.0, 1.0])) == (False, math.inf)
    assert exact_compare(torch.zeros(2, 3), torch.zeros(3, 2)) == (False, math.inf)


# ----------------------------------------------------------------------------
# validation, caching, timing


@pytest.mark.parametrize("text,message", [
    ("sppx", "Head 'sppx' is unknown"), ("", "Heads are empty"), ("sppf,,ppm", "Head '' is unknown"),
])
def test_bad_head_ids_raise_one_sentence(text, message):
    with pytest.raises(ValueError, match=message):
        parse_heads(text)


def test_heads_all_and_order():
    assert parse_heads("all") == HEAD_IDS
    assert parse_heads(" ppm, sppf ,ppm") == ("ppm", "sppf")


@pytest.mark.parametrize("k,n,h,w,message", [
    (4, 3, 10, 10, "k must be an odd integer"), (0, 3, 10, 10, "k must be an odd integer"),
    (5, 0, 10, 10, "n must be an integer from 1"), (9, 4, 5, 7, "reaches beyond this 5 x 7 map"), (5, 3, 2, 2, "reaches beyond this 2 x 2 map"),
])
def test_bad_k_n_or_windows_beyond_the_map(k, n, h, w, message):
    with pytest.raises(ValueError, match=message):
        check_sppf_fits(k, n, h, w)
    with pytest.raises(ValueError, match=message):
        compare_family(fake_features(4, h, w), ["sppf"], k=k, repeats=n, measure=False)


def test_modules_are_seeded_cached_and_leave_the_process_rng_alone():
    state = torch.get_rng_state()
    args = BuildArgs(40, 7, 2)
    first = build_head("sppf", args)
    assert torch.equal(torch.get_rng_state(), state)
    assert build_head("sppf", BuildArgs(40, 7, 2)) is first
    assert build_head("ppm", BuildArgs(40, 7, 2)) is build_head("ppm", BuildArgs(40, 3, 1))  # ppm ignores k, n
    assert not first.training and trainable_params(first) == expected("sppf", 40, 1, 1, 7, 2)[0]


def test_measured_latencies_are_finite_and_spp_total_is_its_pooling():
    result = compare_family(fake_features(32, 8, 8), ["spp", "sppf", "ppm"], PyramidConfig((1, 2)), measure=True)
    for report in result.heads:
        assert math.isfinite(report.pool_ms) and report.pool_ms > 0
        assert math.isfinite(report.total_ms) and report.total_ms > 0
    assert result.head("spp").total_ms == result.head("spp").pool_ms


def test_branch_maps_are_the_real_pooled_map():
    features = fake_features(6, 7, 9)
    maps = branch_maps(features, timing_key("sppf", BuildArgs(6)))
    assert [m.name for m in maps] == ["x", "pool 5", "pool 9", "pool 13"]
    x = features.feature.unsqueeze(0)
    assert torch.equal(torch.from_numpy(maps[2].values), F.max_pool2d(x, 9, 1, 4)[0].mean(0))
    assert [m.values.shape for m in branch_maps(features, timing_key("ppm", BuildArgs(6)))] == [(1, 1), (2, 2), (3, 3), (6, 6)]


# ----------------------------------------------------------------------------
# CLI: one JSON object with `heads`, or one error line and exit code 2

INSPECT_CAT = ("inspect", ASSETS / "chelsea_cat.jpg", "--offline", "--max-side", "224")


@pytest.mark.slow  # the CLI process loads torch and a model
def test_cli_heads_all_json():
    result = run_cli(*INSPECT_CAT, "--heads", "all", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    heads = report["heads"]
    assert [h["id"] for h in heads] == list(HEAD_IDS)
    c, rows, cols = (report["feature_map"][k] for k in ("channels", "height", "width"))
    for h in heads:
        assert set(h) >= {"id", "name", "source", "output_shape", "fixed_length", "params", "flops", "pool_ms",
                          "total_ms", "branches", "exact_equal_to"}
        assert h["pool_ms"] > 0 and h["total_ms"] > 0
        assert all(e["max_abs_diff"] == 0 for e in h["exact_equal_to"])
    by_id = {h["id"]: h for h in heads}
    assert (by_id["sppcspc"]["params"], by_id["sppcspc"]["flops"]) == expected("sppcspc", c, rows, cols)
    assert [b["rf_cells"] for b in by_id["sppf"]["branches"]] == [[1, 1], [5, 5], [9, 9], [13, 13]]
    assert {e["id"] for e in by_id["sppf"]["exact_equal_to"]} == {"spp_yolo", "sppf_separable"}
    # one measurement, two tables: the costs rows ARE the family's sppf, spp_yolo and spp rows
    costs = {c["kind"]: c for c in report["sppf"]["costs"]}
    for kind, head_id in (("sppf", "sppf"), ("parallel_spp", "spp_yolo"), ("spp", "spp")):
        assert (costs[kind]["pool_ms"], costs[kind]["total_ms"]) == (by_id[head_id]["pool_ms"], by_id[head_id]["total_ms"])


@pytest.mark.slow
def test_cli_text_table_and_k_n():
    result = run_cli(*INSPECT_CAT, "--heads", "sppf,spp_yolo", "--sppf-k", "3", "--sppf-n", "2")
    assert result.returncode == 0, result.stderr
    heads = result.stdout[result.stdout.index("\nheads "):]  # the family's table (the SPPF section above is k=5, n=3)
    rows = [line.split()[0] for line in heads.splitlines()[2:] if line.startswith(" " * 13) and not line.startswith(" " * 15)]
    assert rows[:2] == ["sppf", "spp_yolo"]
    assert "pool 5 5x5 cells" in heads and "pool 9" not in heads and "pool 13" not in heads  # k=3, n=2: windows 3, 5


@pytest.mark.parametrize("args", [
    ("--heads", "sppf,nope"), ("--heads", "sppf", "--sppf-k", "4"), ("--heads", "sppf", "--sppf-n", "0"),
    pytest.param(("--heads", "sppf", "--sppf-k", "9", "--sppf-n", "4"), marks=pytest.mark.slow),  # needs the map: loads torch
])
def test_cli_bad_heads_k_n_or_widths(args):
    result = run_cli(*INSPECT_CAT, *args)
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")


# ----------------------------------------------------------------------------
# The app panel (AppTest, 384-px working size): found by widget keys and figure metadata


def family_charts(at) -> dict[str, dict]:
    out = {}
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        meta = spec["layout"].get("meta", {})
        if str(meta.get("figure", "")).startswith("family_"):
            out[meta["figure"] + ":" + str(meta.get("head", ""))] = meta
    return out


def family_table(at):
    """The panel's costs table (AppTest does not expose a table's container key): the frame with
    the total column and GFLOPs, and its branches table (RF columns) joined on ``head``."""
    (costs,) = [t.value for t in at.table if TOTAL_COLUMN in t.value.columns and "GFLOPs" in t.value.columns]
    (branches,) = [t.value for t in at.table if RF_CELLS_COLUMN in t.value.columns]
    assert list(costs["head"]) == list(branches["head"])
    return costs.merge(branches, on="head", sort=False)


def test_app_family_panel_follows_heads_k_and_n():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ASSETS.parent / "app.py"), default_timeout=180)
    at.session_state["max_side"] = 384
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    second_phase(at)  # the family is measured once the page is drawn (the browser's trigger)
    assert at.multiselect(key="heads").value == ["spp", "spp_yolo", "sppf"]
    metas = family_charts(at)
    assert metas["family_costs_figure:"]["heads"] == ["spp", "spp_yolo", "sppf"]
    # spp_yolo's and sppf's pools are the same tensors (torch.equal): one drawing for both
    assert metas["family_branches_figure:spp_yolo"]["heads"] == ["spp_yolo", "sppf"]
    assert metas["family_branches_figure:spp_yolo"]["branches"] == ["x", "pool 5", "pool 9", "pool 13"]
    assert "family_branches_figure:sppf" not in metas
    assert len(family_table(at)) == 3

    at.multiselect(key="heads").select("ppm").run()
    at.selectbox(key="sppf_k").set_value(3).run()
    assert "family_costs_figure:" not in family_charts(at)  # new heads: measuring, no figure of unmeasured numbers
    second_phase(at)
    assert not at.exception, [e.value for e in at.exception]
    metas = family_charts(at)
    assert metas["family_costs_figure:"]["heads"] == ["spp", "spp_yolo", "sppf", "ppm"]
    assert (metas["family_costs_figure:"]["k"], metas["family_costs_figure:"]["n"]) == (3, 3)
    assert metas["family_branches_figure:spp_yolo"]["heads"] == ["spp_yolo", "sppf"]
    assert metas["family_branches_figure:spp_yolo"]["branches"] == ["x", "pool 3", "pool 5", "pool 7"]
    assert metas["family_branches_figure:ppm"]["branches"] == ["bin 1", "bin 2", "bin 3", "bin 6"]
    table = family_table(at)
    assert list(table["head"]) == ["spp", "spp_yolo", "sppf", "ppm"] and not table.isna().any().any()

    at.selectbox(key="sppf_k").set_value(31).run()  # 31 x 3 pools on a 12 x 8 map: beyond the map
    assert not at.exception
    assert any("reaches beyond this" in e.value for e in at.error)
    assert "family_costs_figure:" not in family_charts(at)
    assert any(c["layout"]["meta"]["figure"] == "sppf_branches_figure"
               for c in (json.loads(el.proto.spec) for el in at.get("plotly_chart")))  # the other panels still draw


def _latency(median: float, spread: float = 0.0):
    from spp_viz.timing import Latency

    return Latency(median, median - spread / 2, median + spread / 2, 7, 1, 2)


def _timing(pool: float, total: float, pool_spread: float = 0.0):
    from spp_viz.family import HeadTiming

    return HeadTiming(_latency(pool, pool_spread), _latency(total))


def test_a_given_timing_is_used_not_measured_again():
    """The app times the pyramid-free heads once per map and ``spp`` once per pyramid; a timing
    given for a head is used, not measured again."""
    from spp_viz.heads.registry import get_spec

    features = fake_features(16, 8, 8)
    config = PyramidConfig((1, 2))
    assert [h for h in ("spp", "sppf", "ppm", "aspp") if get_spec(h).uses_spp_config] == ["spp"]
    structure = compare_family(features, ["spp"], config, measure=False)
    timing = _timing(2.0, 2.0)
    spp_part = compare_family(features, ["spp"], config, measured={structure.head("spp").key: timing})
    assert spp_part.measured and spp_part.head("spp").timing is timing and spp_part.head("spp").pool_ms == 2.0
    assert structure.head("spp").key == timing_key("spp", BuildArgs(16, 3, 2, (1, 2)))  # k and n do not matter to spp
    both = compare_family(features, ["sppf", "spp", "ppm"], config, measure=False, measured=spp_part.timings)
    assert both.ids == ("sppf", "spp", "ppm") and not both.measured and both.head("spp").timing is timing


def test_the_sppf_view_and_the_family_share_one_timing_per_head():
    """``spp-viz inspect --heads``: a head in both tables is measured once, and only when it is
    the same module (sppf at another k or n is another module, timed on its own)."""
    from spp_viz.family import compare_with_view

    features = fake_features(16, 8, 8)
    view, family = compare_with_view(features, PyramidConfig((1, 2)), "sppf,spp_yolo,spp,ppm", 5, 3)
    assert family is not None and view.ids == ("sppf", "spp_yolo", "spp")
    for head_id in view.ids:
        assert family.head(head_id).timing is view.head(head_id).timing is not None
    view, other = compare_with_view(features, PyramidConfig((1, 2)), "sppf,spp", 3, 2)
    assert other is not None and other.head("spp").timing is view.head("spp").timing
    assert other.head("sppf").timing is not view.head("sppf").timing and other.head("sppf").key != view.head("sppf").key


# ----------------------------------------------------------------------------
# timings that contradict themselves are measured again, then flagged, never taught


def test_a_self_contradictory_timing_is_measured_again(monkeypatch):
    from spp_viz import family, worker

    calls = []
    good = {"0/pool": _latency(1.0), "0/total": _latency(4.0), "1/pool": _latency(3.0), "1/total": _latency(6.0)}
    bad = {**good, "0/pool": _latency(5.0)}  # the pooling "slower" than the module containing it

    def fake(fns, **kwargs):
        calls.append(sorted(fns))
        return bad if len(calls) == 1 else good

    monkeypatch.setattr(family, "measure_interleaved", fake)
    with worker.inline():  # the worker's task, run here where the fake is
        result = compare_family(fake_features(8, 6, 6), ["sppf", "spp_yolo"])
    assert len(calls) == 2 and result.timings_consistent
    assert [r.pool_ms for r in result.heads] == [1.0, 3.0]


def test_unreliable_timings_are_flagged_not_taught():
    from spp_viz.family import sppf_view
    from spp_viz.figures import text

    features, config = fake_features(8, 6, 6), PyramidConfig((1, 2))
    view = sppf_view(features, config, measure=False)
    sppf, parallel = view.head("sppf").key, view.head("spp_yolo").key
    for broken_sppf in (_timing(5.0, 4.0), _timing(1.0, 4.0, pool_spread=0.8)):  # pool slower than module; spread
        broken = sppf_view(features, config, measure=False, measured={sppf: broken_sppf, parallel: _timing(3.0, 6.0)})
        assert not broken.timings_consistent
        caption = text.costs_caption("cpu", broken)
        # no lesson from them; the panel's warning above the caption says why, once (not again in the caption)
        assert "the parallel pools' time" not in caption and text.TIMINGS_UNRELIABLE not in caption
    fine = sppf_view(features, config, measure=False, measured={sppf: _timing(1.0, 4.0, pool_spread=0.08), parallel: _timing(3.0, 6.0)})
    assert fine.timings_consistent
    assert "75%" in text.costs_caption("cpu", fine)  # convs: 1 - 1/4 of SPPF


def test_family_figures_and_table_say_not_measured_instead_of_drawing_a_number():
    """measure=False leaves NaN latencies: no bar, and the table says so; the branch maps share one
    colour range over their finite values (SPPF's padded pools have none of -inf)."""
    from spp_viz.figures.family import family_branches_figure, family_costs_figure
    from spp_viz.figures.tables import POOL_COLUMN, family_rows

    features = fake_features(8, 9, 9)
    family = compare_family(features, ["spp", "sppf"], PyramidConfig((1, 2)), measure=False)
    fig = family_costs_figure(family)
    assert fig.layout.meta["figure"] == "family_costs_figure" and fig.layout.meta["heads"] == ["spp", "sppf"]
    latency_bars = [t for t in fig.data if t.name in ("pooling only", "whole module")]
    assert len(latency_bars) == 2 and all(list(t.y) == [None, None] for t in latency_bars)
    assert [t.y[1] for t in fig.data if t.name == "parameters"] == [family.head("sppf").params / 1e6]
    rows = family_rows(family)
    assert [r[POOL_COLUMN] for r in rows] == ["not measured"] * 2 and all(all(v for v in r.values()) for r in rows)
    maps = branch_maps(features, family.head("sppf").key)
    branches = family_branches_figure(family.head("sppf"), maps)
    finite = torch.cat([torch.as_tensor(m.values).flatten() for m in maps])
    finite = finite[torch.isfinite(finite)]
    assert branches.layout.coloraxis.cmin == float(finite.min()) and branches.layout.coloraxis.cmax == float(finite.max())
    assert branches.layout.meta["branches"] == [m.name for m in maps]


def test_a_paper_level_with_no_bins_has_no_receptive_field():
    """On a 13 x 19 map the paper rule gives level 16 no windows along the rows (0 x 18): its
    branch pools nothing, so the table says "no bins" instead of a 0 x 2 receptive field."""
    from spp_viz.figures.tables import family_branch_rows

    features = fake_features(8, 13, 19)
    family = compare_family(features, ["spp"], PyramidConfig((16, 4, 1), rule=BinRule.PAPER), measure=False)
    branches = {b.name: b for b in family.head("spp").branches}
    level16 = next(b for name, b in branches.items() if name.startswith("level 16"))
    assert level16.rf_cells == (0, 0) and level16.rf_pixels == (0, 0)
    (row,) = family_branch_rows(family)
    assert "level 16 (16 x 16 bins): no bins" in row[RF_CELLS_COLUMN]
    level4 = next(b for name, b in branches.items() if name.startswith("level 4"))
    assert level4.rf_cells == (4, 5)  # rows: window ceil(13/4) = 4; columns: ceil(19/4) = 5


def test_asking_a_heads_output_shape_never_changes_the_module_sessions_share():
    """Shape inference only calls the shared module, as the timings do: its tensors are never
    swapped (torch.func.functional_call swapped them in place, and two sessions at once met meta
    weights: 'Tensor on device meta is not on the expected device cpu')."""
    import threading

    from spp_viz.family import output_shape
    from spp_viz.heads.registry import get_spec

    args = get_spec("sppf").key(BuildArgs(channels=16))
    shared = build_head("sppf", args)
    x = torch.randn(1, 16, 9, 13)
    assert output_shape("sppf", args, shared, x) == (16, 9, 13)
    failures: list[BaseException] = []

    def run(fn) -> None:
        try:
            for _ in range(40):
                fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    with torch.inference_mode():
        reference = shared(x)

    def forward() -> None:
        if not torch.equal(shared(x), reference):
            failures.append(AssertionError("the shared module's output changed"))

    threads = [threading.Thread(target=run, args=(lambda: output_shape("sppf", args, shared, x),)),
               threading.Thread(target=run, args=(forward,))]
    with torch.inference_mode():
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == [] and all(p.device.type == "cpu" for p in shared.parameters())
