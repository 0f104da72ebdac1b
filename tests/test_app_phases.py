"""The page's phase 0 (bins, sizes and the dimension table from arithmetic, before the forward)
and phase 1 (the forward's values), driven headless with AppTest: phase 0 is drawn when the
forward has not run yet and stays when it fails; its boxes and table are phase 1's; an edit of the
pyramid runs no forward and draws phase 1 in one run."""

from __future__ import annotations

import pytest
from conftest import PANELS
from test_app import CountingExtract, assert_clean, explorer, explorer_data, new_app, panel_headers, shown, unique_photo

from spp_viz import analysis
from spp_viz.ui import state, words

PHASE0_PANELS = [words.PANEL_TITLES[words.PANEL_EXPLORER], words.PANEL_TITLES[words.PANEL_DIMENSIONS]]


class FailingForward:
    """``analysis.extract_features`` that fails in one sentence (as a map full of NaN would be refused)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        raise ValueError("The backbone's feature map holds non-finite values.")


@pytest.fixture
def counted(monkeypatch) -> CountingExtract:
    counter = CountingExtract(analysis.extract_features)
    monkeypatch.setattr(analysis, "extract_features", counter)
    return counter


def boxes(data: dict) -> dict[int, list[tuple]]:
    """Every drawn level's bins as (cells, box, receptive-field box), from the explorer's data."""
    out = {}
    for pid in data["levels"]:
        part = data["parts"][pid]
        out[part["n"]] = [(b["row"], b["col"], b["cells"], b["box"], b["rf"]) for b in part["bins"]]
    return out


def explorer_path(at) -> tuple[int, ...]:
    """Where the explorer component sits in the page: its indices from the root (the delta path).
    The same path in both phases is what keeps the browser from remounting it."""
    def walk(node, path: tuple[int, ...]):
        if getattr(node, "type", None) == "bidi_component" and node.proto.component_name == "spp_viz_explorer":
            yield path
        for index, child in getattr(node, "children", {}).items():
            yield from walk(child, (*path, index))

    found = list(walk(at._tree, ()))
    assert len(found) == 1
    return found[0]


def full_runs(at) -> int:
    return int(at.session_state[state.KEY_FULL_RUNS])


def upload(at, width: int, height: int) -> None:
    at.file_uploader(key="image").set_value((f"odd_{width}x{height}.png", unique_photo(width, height), "image/png"))


def test_a_failed_forward_keeps_phase0_and_says_why_in_one_sentence(monkeypatch):
    at = new_app(max_side=301).run()
    failing = FailingForward()
    monkeypatch.setattr(analysis, "extract_features", failing)
    upload(at, 301, 227)
    at.run()
    assert_clean(at)
    assert failing.calls >= 1
    assert [shown(e.value) for e in at.error] == ["The backbone's feature map holds non-finite values."]
    assert panel_headers(at) == PHASE0_PANELS
    data = explorer_data(at)
    assert data["phase"] == 0 and [data["parts"][i]["n"] for i in data["levels"]] == [1, 2, 4]
    assert all(b["value"] is None and b["winner"] is None for i in data["levels"] for b in data["parts"][i]["bins"])
    assert data["parts"][data["map"]]["values"] == ""  # the map's size is known, its values are not
    assert at.dataframe and any(m.label == words.METRIC_VECTOR for m in at.metric)


def test_phase0_boxes_and_table_are_phase1s(monkeypatch):
    at = new_app(max_side=301).run()
    upload(at, 301, 227)  # odd working size on EfficientNet-Lite0: "same" padding depends on it
    failing = FailingForward()
    monkeypatch.setattr(analysis, "extract_features", failing)
    at.run()
    first, path0 = explorer_data(at), explorer_path(at)
    table0 = at.dataframe[0].value
    metrics0 = {m.label: m.value for m in at.metric if m.label != words.METRIC_TOP1_SHORT}
    monkeypatch.undo()
    runs = full_runs(at)
    at.run()
    assert_clean(at)
    assert full_runs(at) == runs + 2  # phase 0, then the forward's rerun
    second = explorer_data(at)
    assert first["phase"] == 0 and second["phase"] == 1
    assert path0 == explorer_path(at)  # drawn in the same place: updated, not remounted
    assert boxes(first) == boxes(second) and len(boxes(first)[4]) == 16
    assert first["axes"] == second["axes"]
    # phase 1's table is phase 0's rows, then SPPF's parameters and FLOPs (they need the built module)
    rows0, rows1 = table0.to_dict("records"), at.dataframe[0].value.to_dict("records")
    assert rows1[:len(rows0)] == rows0 and [row["shape"] for row in rows1[len(rows0):]] == ["-", "-"]
    assert metrics0 == {m.label: m.value for m in at.metric if m.label in metrics0}
    assert panel_headers(at) == PANELS and not at.error


def test_a_pyramid_edit_runs_no_forward_and_draws_phase1_in_one_run(counted):
    at = new_app(max_side=257).run()
    counted.calls = 0
    upload(at, 257, 193)
    at.run()
    assert counted.calls == 1 and explorer_data(at)["phase"] == 1
    for widget, value, levels in [("levels", "1,2,3", [1, 2, 3]), ("pool", "avg", [1, 2, 3]), ("bins", "paper", [1, 2, 3])]:
        runs = full_runs(at)
        (at.text_input(key=widget) if widget == "levels" else at.radio(key=widget)).set_value(value).run()
        assert_clean(at)
        data = explorer_data(at)
        assert full_runs(at) == runs + 1, widget  # no phase-0 run: the map is cached
        assert data["phase"] == 1 and [lv.n for lv in explorer(at).levels] == levels
    assert counted.calls == 1


def test_a_new_stage_draws_its_phase0_then_runs_its_forward_once(counted):
    at = new_app(max_side=257).run()
    upload(at, 257, 193)
    at.run()
    counted.calls = 0
    runs = full_runs(at)
    at.selectbox(key="stage").set_value("stage5").run()
    assert_clean(at)
    assert counted.calls == 1 and full_runs(at) == runs + 2
    assert explorer_data(at)["phase"] == 1 and panel_headers(at) == PANELS


def test_the_timing_worker_starts_after_the_pages_forwards(monkeypatch):
    """A process's timing worker imports torch for seconds: started by the first request, mid-run,
    it took a core from the page's own forwards (the 224-px one of "What the backbone sees" came
    after it). It starts at the foot of the page, once every forward of the run is done."""
    from spp_viz import backbones, worker

    events: list[str] = []
    real = backbones.Backbone.features

    def features(self, x):
        events.append("forward")
        return real(self, x)

    monkeypatch.setattr(backbones.Backbone, "features", features)
    monkeypatch.setattr(worker, "prestart", lambda: events.append("worker"))
    at = new_app()
    at.run()
    events.clear()
    at.file_uploader(key=state.KEY_IMAGE).set_value(("odd.png", unique_photo(301, 203), "image/png"))
    at.run()
    assert_clean(at)
    assert events.count("forward") >= 2 and "worker" in events, events  # the photo's and the 224-px one
    assert "forward" not in events[events.index("worker"):], events
