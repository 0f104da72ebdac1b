"""The page in two phases: the photo first, the stopwatch after.

A full run draws everything that shows the image, the pyramid and the predictions without
timing anything. Whatever it could not show yet (a latency, the crop-and-rerun, the scales'
forwards) it asks for with :func:`request`: a :class:`Job` under a key. At the foot of the page
:func:`ready_signal` mounts a tiny browser component that waits until the script has finished
and the browser has painted twice, then sends one ``drawn`` trigger. That trigger's rerun
runs the jobs first (:func:`run_requested`), before anything is drawn, while the browser is
idle, and only then draws the page with the numbers. Each job runs alone, in the timing worker
(:mod:`spp_viz.worker`), once no analysis of any session runs or waits
(:func:`spp_viz.ui.waiting.alone`). So no figure is ever timed while the page
is busy sending charts, and the user sees the photo without waiting on a stopwatch.

Results live in one process-wide store (:func:`store`), keyed by what they depend on (image,
model, pyramid, heads, box, sizes), so going back to a setting already measured measures
nothing and another session sees the same figures.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Hashable, Mapping

import streamlit as st

from .. import worker

LOG = logging.getLogger("spp_viz.app")

STORE_ENTRIES = 256  # measurements kept per process (a few KB each)
KEY_JOBS = "_measure_jobs"  # the jobs the last full run asked for
KEY_NOW = "_measure_now"  # set by the browser's ``drawn`` trigger: run the jobs before drawing
KEY_SIGNAL = "page_drawn"  # the ready component's key
KEY_RUNS = "_measure_runs"  # how many second phases ran in this session (tests and benchmarks read it)
KEY_ROUND = "_measure_round"  # how many full runs started asking (each names its ``drawn`` token)
MEASURING_KEY = "measuring"  # prefix of the "measuring ..." notes' container keys: on the page until the numbers are

_SIGNAL_JS = """
const IDLE_TIMEOUT_MS = 3000, QUIET_FRAMES = 10, FRAME_MS = 25, MAX_WAIT_MS = 5000;
// While the measuring run runs, the page it will redraw is not faded as stale: the fade repaints
// the whole page, which on two cores took most of a core away from the timings.
const STILL_CSS = 'body[data-spp-viz-measuring="1"] [data-stale="true"] { opacity: 1 !important; transition: none !important; }'
  + ' body[data-spp-viz-measuring="1"] [data-testid="stStatusWidget"] * { animation: none !important; }';
export default function (component) {
  const { data, setTriggerValue } = component;
  const token = data && data.token;
  const sent = (window.__sppVizDrawn = window.__sppVizDrawn || new Set());
  window.__sppVizDrawnAt = window.__sppVizDrawnAt || [];
  if (!document.getElementById("spp-viz-still")) {
    const style = document.createElement("style");
    style.id = "spp-viz-still";
    style.textContent = STILL_CSS;
    document.head.appendChild(style);
  }
  delete document.body.dataset.sppVizMeasuring;  // a new run's page is here: stale again means stale
  if (!token || sent.has(token)) return;
  const app = () => document.querySelector("[data-testid='stApp']");
  const idle = () => !app() || app().getAttribute("data-test-script-state") !== "running";
  // the browser keeps drawing after the script's last message (charts, canvases, raster threads):
  // wait for QUIET_FRAMES frames in a row that each came within FRAME_MS, then an idle main thread
  const quiet = (then) => {
    const start = performance.now();
    let last = start, count = 0;
    const step = (now) => {
      count = now - last < FRAME_MS ? count + 1 : 0;
      last = now;
      if (count >= QUIET_FRAMES || now - start > MAX_WAIT_MS) then();
      else requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  };
  const settled = (then) => quiet(() =>
    (window.requestIdleCallback ? requestIdleCallback(then, { timeout: IDLE_TIMEOUT_MS }) : setTimeout(then, 0)));
  const fire = () => settled(() => {
    if (sent.has(token)) return;
    if (!idle()) return wait();  // a run started meanwhile: its own page comes first
    sent.add(token);
    window.__sppVizDrawnAt.push(performance.now());
    // what was still waiting for numbers when the page said it was drawn (read by browser tests)
    window.__sppVizMeasuringAtDrawn = document.querySelectorAll("[class*='st-key-measuring']").length;
    document.body.dataset.sppVizMeasuring = "1";
    setTriggerValue("drawn", token);
  });
  const wait = () => (idle() ? fire() : setTimeout(wait, 50));
  wait();
}
"""
_signal = st.components.v2.component("spp_viz_page_drawn", js=_SIGNAL_JS)


@dataclass(frozen=True)
class Job:
    """One measurement the page asked for: ``run()`` returns one result per key of ``keys``
    (what :func:`lookup` will give for each), e.g. every head timed in one interleaved run."""

    keys: tuple[Hashable, ...]
    label: str
    run: Callable[[], Mapping[Hashable, object]]

    @classmethod
    def single(cls, key: Hashable, label: str, run: Callable[[], object]) -> Job:
        """A job with one result."""
        return cls((key,), label, lambda: {key: run()})

    def done(self, store: Store) -> bool:
        return all(key in store for key in self.keys)


@dataclass(frozen=True)
class Failed:
    """A job that raised: stored so the page says so once instead of asking again forever."""

    message: str


class Store:
    """A bounded, thread-safe map of measurements (least recently used dropped first)."""

    def __init__(self, entries: int = STORE_ENTRIES) -> None:
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()
        self._entries = entries

    def get(self, key: Hashable) -> object | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._entries:
                self._items.popitem(last=False)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items


@st.cache_resource(show_spinner=False)
def store() -> Store:
    """The process's one measurement store, shared by every session."""
    return Store()


def lookup(key: Hashable) -> object | None:
    """The stored result for ``key`` (a :class:`Failed` when its job raised), or None."""
    return store().get(key)


def request(job: Job) -> None:
    """Ask for ``job`` after this run's page is drawn (nothing happens when it is stored already)."""
    if job.done(store()):
        return
    jobs: dict[Hashable, Job] = st.session_state.setdefault(KEY_JOBS, {})
    jobs.setdefault(job.keys, job)


def pending() -> list[Job]:
    """The jobs this run asked for so far."""
    return list(st.session_state.get(KEY_JOBS, {}).values())


def drawn() -> bool:
    """Whether the browser has said that the last run's page is drawn (the second phase is due)."""
    return bool(st.session_state.pop(KEY_NOW, False))


def clear() -> None:
    """Forget the last run's requests (a full run asks again for what it still needs) and start
    a new round: this run's ``drawn`` token is new even when it asks for the same jobs as a run
    whose second phase a rerun interrupted (the browser sends each token once)."""
    st.session_state[KEY_JOBS] = {}
    st.session_state[KEY_ROUND] = int(st.session_state.get(KEY_ROUND, 0)) + 1


def run_requested() -> int:
    """Run the jobs the last full run asked for (skipping those stored meanwhile), one after the
    other; returns how many ran."""
    jobs = [job for job in st.session_state.get(KEY_JOBS, {}).values() if not job.done(store())]
    for job in jobs:
        for key, result in _run(job).items():
            store().put(key, result)
    st.session_state[KEY_RUNS] = int(st.session_state.get(KEY_RUNS, 0)) + 1
    return len(jobs)


def _run(job: Job) -> Mapping[Hashable, object]:
    try:
        return job.run()
    except MemoryError:
        failed = Failed("out of memory")
    except Exception as exc:  # a failed measurement is one sentence on the page, not a loop of retries
        LOG.exception("measurement %s failed", job.label)
        failed = Failed(f"{type(exc).__name__}: {exc}")
    return {key: failed for key in job.keys}


def _on_drawn() -> None:
    st.session_state[KEY_NOW] = True


def ready_signal() -> None:
    """At the foot of the page: a component that sends ``drawn`` once the browser has painted this
    run's page, when this run asked for measurements (a token that names them; None: nothing)."""
    jobs = pending()
    if jobs:
        # The timing worker (if this process has none yet) imports torch while the browser draws,
        # not while this run's forwards and charts want both cores (docs/timing.md).
        worker.prestart()
    token = hashlib.sha256(repr(sorted(repr(job.keys) for job in jobs)).encode()).hexdigest()[:16] if jobs else None
    round_ = int(st.session_state.get(KEY_ROUND, 0))
    _signal(key=KEY_SIGNAL, data={"token": f"{token}-{round_}" if token else None}, on_drawn_change=_on_drawn, height=0)
