"""Area 14: the page in two phases, through ``AppTest`` (the app's own script, no browser).

* **First phase** = upload a fresh-digest copy of the 12 MP photo and run: decode, forward,
  pooling, figures, predictions; nothing is timed.
* **Second phase** = what the browser's ``drawn`` trigger starts: the run that times SPPF,
  YOLOv5's SPP, the SPP head, the family and the region's crop-and-rerun, then draws the page
  with the numbers.

Each is divided by a bare forward of EfficientNet-Lite0 on the same photo at the working size
(1024 x 768), run in a fresh thread between the app runs (as in area 1). Targets: the first
phase at most 2.5x a forward, the second at most 3x.
"""

from __future__ import annotations

import statistics

from .app_interaction import AppSession
from .common import Engine, Row, fmt_ms

AREA = "14 phases"
FIRST_TARGET = 2.5
SECOND_TARGET = 3.0


def run(engine: Engine, quick: bool) -> list[Row]:
    from spp_viz.ui import measure

    data = engine.ws.photo().read_bytes()
    engine.bare_forward()
    session = AppSession()
    session.at.session_state[measure.KEY_NOW] = True
    session.run()  # the sample's own second phase: the store is warm for nothing of the photo's
    firsts, seconds, forwards = [], [], [engine.bare_forward_in_thread()[0]]
    pending: list[tuple[str, ...]] = []
    for _ in range(1 if quick else 3):
        session.upload(data)
        firsts.append(session.run())
        pending.append(tuple(job.label for job in session.at.session_state[measure.KEY_JOBS].values()))
        forwards.append(engine.bare_forward_in_thread()[0])
        session.at.session_state[measure.KEY_NOW] = True
        seconds.append(session.run())
        forwards.append(engine.bare_forward_in_thread()[0])
    forward = statistics.median(forwards)
    first, second = statistics.median(firsts), statistics.median(seconds)
    details = {"first_ms": [round(t * 1000) for t in firsts], "second_ms": [round(t * 1000) for t in seconds],
               "forward_ms": [round(f * 1000) for f in forwards], "measured_in_second_phase": list(pending[0])}
    return [
        Row(AREA, "12 MP upload: first phase (photo, bins, map, levels, dimensions, predictions) / forward",
            f"{first / forward:.2f}x ({fmt_ms(first * 1000)}, forward {fmt_ms(forward * 1000)})", f"<= {FIRST_TARGET}x",
            first / forward <= FIRST_TARGET, first / forward, details),
        Row(AREA, "  second phase (every latency, the crop-and-rerun, the page redrawn) / forward",
            f"{second / forward:.2f}x ({fmt_ms(second * 1000)})", f"<= {SECOND_TARGET}x",
            second / forward <= SECOND_TARGET, second / forward),
    ]

