"""Target 7: no plotly figure the app sends carries more than ~1 million numbers.

Runs the app (AppTest) on a 2048 x 1536 photo with ``max_side`` 2048 (so the backbone sees
2048 x 1536 and its head map is 1280 x 48 x 64), for the default pyramid and for a deep one
(1,2,4,8,16, the finest grid the app draws), and reads each ``st.plotly_chart``'s figure JSON
exactly as Streamlit ships it to the browser (``proto.spec``). Numbers are counted by walking
the whole JSON (data AND layout): every numeric leaf counts 1, a plotly typed array
(``{"dtype", "bdata"}``) counts its element count. Strings (hover text, the photo's base64
JPEG) count 0 numbers but show up in the JSON size, reported alongside.

The pyramid explorer's payload (photo, map, levels) is sized the same way: the whole payload a
fresh browser gets, at default settings on the sample and at max_side 2048 with levels 1,2,4,8,
next to the Plotly specs of the three views it replaced.
"""

from __future__ import annotations

import json
import time

from spp_viz.devtools.plotly_arrays import count_numbers

from .app_interaction import AppSession
from .common import APP, Engine, Row

LIMIT = 1_000_000
SIZE = (2048, 1536)
PYRAMIDS = ("1,2,4", "1,2,4,8,16")
EXPLORER_BUDGETS = {"sample": 300_000, "2048": 2_000_000}  # bytes of the explorer's whole payload
# The Plotly specs the explorer replaced (bins over the photo, feature map, pooled levels), measured
# with this benchmark's AppSession at commit ec3df3b, the last one that drew them: JSON bytes.
PLOTLY_BEFORE = {"sample": 89_447, "2048": 228_318}


def explorer_bytes(session: AppSession) -> tuple[int, int]:
    """(bytes of the explorer's whole payload, as a fresh browser gets it; bytes the last run sent)."""
    from spp_viz.explorer import to_json

    payload = session.at.session_state["_explorer_payload"][1]
    sent = [e.proto.json for e in session.at.get("bidi_component") if e.proto.component_name == "spp_viz_explorer"]
    return len(json.dumps(to_json(payload))), len(sent[0]) if sent else 0


def explorer_row(what: str, key: str, whole: int, sent: int) -> Row:
    budget = EXPLORER_BUDGETS[key]
    return Row("7 figures", f"explorer payload, {what}",
               f"{whole / 1e3:.0f} KB whole (this run sent {sent / 1e3:.1f} KB); Plotly specs before: "
               f"{PLOTLY_BEFORE[key] / 1e3:.0f} KB", f"<= {budget / 1e6:g} MB", whole <= budget, whole,
               dict(whole_bytes=whole, sent_bytes=sent, plotly_bytes_before=PLOTLY_BEFORE[key]))


def _chart_name(spec: dict, fallback: str) -> str:
    meta = spec.get("layout", {}).get("meta")
    if isinstance(meta, dict) and meta.get("figure"):
        return str(meta["figure"])
    return fallback


def measure_session(session: AppSession) -> list[dict]:
    out = []
    for i, chart in enumerate(session.charts()):
        spec_text = chart.proto.spec
        spec = json.loads(spec_text)
        key = getattr(chart, "key", None) or chart.proto.id[-24:]
        out.append({"chart": _chart_name(spec, f"chart {i}"), "key": key, "numbers": count_numbers(spec),
                    "data_numbers": count_numbers(spec.get("data", [])), "json_bytes": len(spec_text)})
    return out


def run(engine: Engine, quick: bool, session: AppSession | None = None) -> tuple[list[Row], AppSession | None]:
    if not APP.exists():
        return [Row("7 figures", "app.py", "skipped: app.py not found")], None
    fresh = session is None
    session = session or AppSession()
    explorer_rows = [explorer_row("sample at default settings", "sample", *explorer_bytes(session))] if fresh else []
    photo = engine.ws.photo(SIZE).read_bytes()
    session.widget("max_side", "select_slider").set_value(2048)
    session.upload(photo, "photo_2048.jpg")
    start = time.perf_counter()
    figures: list[dict] = []
    rerun_s = {}
    # quick: 1,2,4,8 (every default chart, plus a finer grid); full: the default pyramid, then
    # 1,2,4,8,16, whose 16 x 16 selection outlines take seconds to build
    pyramids = ("1,2,4,8",) if quick else ("1,2,4,8", *PYRAMIDS)
    for levels in pyramids:
        session.widget("levels", "text_input").set_value(levels)
        rerun_s[levels] = session.run()
        if levels == "1,2,4,8":
            explorer_rows.append(explorer_row("max_side 2048, levels 1,2,4,8", "2048", *explorer_bytes(session)))
        for row in measure_session(session):
            row["levels"] = levels
            figures.append(row)
    elapsed = time.perf_counter() - start
    # restore the default working size for anything that runs after
    session.widget("levels", "text_input").set_value("1,2,4")
    session.widget("max_side", "select_slider").set_value(1024)
    if not figures:
        return [Row("7 figures", "plotly figures in the app at max_side 2048", "no plotly charts found", f"<= {LIMIT:,}", False)], session
    worst = max(figures, key=lambda f: f["numbers"])
    biggest = max(figures, key=lambda f: f["json_bytes"])
    rows = [
        Row("7 figures", "max numbers in one plotly figure, 2048x1536 input, max_side 2048",
            f"{worst['numbers']:,} ({worst['chart']}, levels {worst['levels']})", f"<= ~{LIMIT:,}",
            worst["numbers"] <= LIMIT, worst["numbers"],
            dict(figures=figures, seconds=round(elapsed, 1), run_s={k: round(v, 2) for k, v in rerun_s.items()})),
        Row("7 figures", "  largest figure JSON shipped to the browser",
            f"{biggest['json_bytes'] / 1e6:.2f} MB ({biggest['chart']})", "report", None, biggest["json_bytes"]),
    ]
    rows += explorer_rows
    deep = pyramids[-1]
    rows.append(Row("1 interaction", f"  app run with levels {deep} at max_side 2048 (first one includes the 2048 forward)",
                    f"{rerun_s[deep]:.1f} s", "report", None, rerun_s[deep]))
    if len(rerun_s) > 1:
        # the first pyramid's run did the 2048 forward; the deep one is a pure re-pool + redraw
        rows[-1] = Row("1 interaction", f"  app rerun: levels 1,2,4 -> {deep} at max_side 2048 (cached map)",
                       f"{rerun_s[deep]:.1f} s", "report", None, rerun_s[deep])
    return rows, session
