"""The admission queue (``spp_viz.admission``) and the app's use of it (``spp_viz.ui.waiting``).

Unit tests drive the queue from threads with a fake clock; AppTest runs check that the page's
heavy work waits for a slot (and says so in the waiting line) and that a rerun served from the
caches never waits.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from spp_viz import admission, replica
from spp_viz.admission import AdmissionQueue, Position, Work, record_problems
from spp_viz.figures import text

APP = str(Path(__file__).resolve().parents[1] / "app.py")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def start_all(queue: AdmissionQueue, tickets: dict[str, int]) -> list[str]:
    """Which of these sessions get a slot now, in the order tried."""
    return [s for s, t in tickets.items() if queue.try_start(t)]


# ----------------------------------------------------------------------------
# The queue


def test_jobs_start_first_come_first_served():
    queue = AdmissionQueue(2)
    tickets = {s: queue.join(s, "forward") for s in ("a", "b", "c", "d", "e")}
    assert start_all(queue, dict(reversed(tickets.items()))) == ["b", "a"]  # asking first does not help: arrival does
    assert [queue.ahead(tickets[s]) for s in "cde"] == [2, 3, 4]
    queue.finish(tickets["b"])
    assert start_all(queue, {s: tickets[s] for s in "edc"}) == ["c"]
    queue.finish(tickets["a"])
    queue.finish(tickets["c"])
    assert start_all(queue, {s: tickets[s] for s in "ed"}) == ["e", "d"]
    assert sorted(queue.state().running) == ["d", "e"] and queue.state().waiting == ()


def test_a_waiting_session_that_asks_again_replaces_its_own_job_and_keeps_its_place():
    queue = AdmissionQueue(1)
    running = queue.join("a", "forward")
    assert queue.try_start(running)
    b = queue.join("b", "forward")
    c = queue.join("c", "forward")
    queue.leave(b)  # b's rerun interrupted its wait (the user changed a widget)
    again = queue.join("b", "measure")  # the same place, the new request
    assert queue.state().waiting == ("b", "c") and queue.state().kinds == {"b": "measure", "c": "forward"}
    assert queue.ahead(again) == 1 and queue.ahead(c) == 2 and queue.replaced(b)
    queue.finish(running)
    assert not queue.try_start(c) and queue.try_start(again)


def test_a_stopped_run_that_leaves_late_does_not_take_the_new_runs_place():
    """Streamlit can start a session's next run while the stopped one still waits: the old
    waiter's leave comes after the new request joined, and must not drop it from the line."""
    queue = AdmissionQueue(1, clock=Clock(), grace_s=5)
    running = queue.join("a", "forward")
    assert queue.try_start(running)
    old = queue.join("b", "forward")
    new = queue.join("b", "measure")  # the next run, on another thread, while the old one waits
    queue.leave(old)  # the stopped run notices its stop and leaves
    assert queue.replaced(old) and not queue.replaced(new)
    assert queue.state().waiting == ("b",) and queue.ahead(new) == 1
    queue.finish(running)
    assert queue.try_start(new)


def test_a_place_whose_waiter_left_never_blocks_the_line_and_expires():
    clock = Clock()
    queue = AdmissionQueue(1, clock=clock, grace_s=5)
    b, c = queue.join("b", "forward"), queue.join("c", "forward")
    queue.leave(b)
    assert queue.ahead(c) == 0 and queue.try_start(c)  # b is not there to run: c goes first
    clock.now = 6
    assert queue.state().waiting == ()  # b did not come back within the grace
    assert queue.join("b", "forward") != b


def test_a_closed_sessions_job_is_dropped():
    closed: set[str] = set()
    queue = AdmissionQueue(1, alive=lambda s: s not in closed)
    running = queue.join("a", "forward")
    assert queue.try_start(running)
    b, c = queue.join("b", "forward"), queue.join("c", "forward")
    assert queue.ahead(c) == 2
    closed.add("b")  # its tab was closed while it waited
    assert queue.ahead(c) == 1 and queue.state().waiting == ("c",)
    queue.finish(running)
    assert queue.try_start(c) and not queue.try_start(b)


def test_a_job_that_started_as_its_waiter_left_gives_its_slot_back():
    queue = AdmissionQueue(1)
    a = queue.join("a", "forward")
    assert queue.try_start(a)
    queue.leave(a)  # a rerun landed between the start and the work: the work never runs
    assert queue.state().running == ()
    b = queue.join("b", "forward")
    assert queue.try_start(b)


def test_a_requests_follow_up_keeps_its_place_in_the_arrival_order():
    """Eight tabs upload at once: a's first phase runs, then a's page is drawn and its
    measurements follow up. They go before everyone who arrived after a's upload, not to the back
    of the line behind seven first phases; the slot is free for b while a's browser draws."""
    clock = Clock()
    queue = AdmissionQueue(1, clock=clock)
    first = {s: queue.join(s, "forward") for s in "abcd"}
    assert queue.try_start(first["a"])
    queue.finish(first["a"])
    assert queue.try_start(first["b"])  # a's browser is drawing: b runs meanwhile
    measure_a = queue.join("a", "measure", follow_up=True)
    assert queue.state().waiting == ("a", "c", "d") and queue.ahead(measure_a) == 1
    queue.finish(first["b"])
    assert not queue.try_start(first["c"]) and queue.try_start(measure_a)
    queue.finish(measure_a)
    late = queue.join("e", "forward")  # arrived after b: behind b's follow-up
    queue.join("b", "measure", follow_up=True)
    assert queue.state().waiting == ("b", "c", "d", "e") and queue.ahead(late) == 3


def test_a_follow_up_keeps_a_place_once_and_only_soon_after_its_job():
    clock = Clock()
    queue = AdmissionQueue(1, clock=clock, follow_up_s=30)
    a, b = queue.join("a", "forward"), queue.join("b", "forward")
    assert queue.try_start(a)
    queue.finish(a)  # at t = 0
    assert queue.try_start(b)
    c = queue.join("c", "forward")
    clock.now = 31  # a's follow-up comes after the window: a new arrival, behind c
    late = queue.join("a", "measure", follow_up=True)
    assert queue.state().waiting == ("c", "a")
    queue.finish(b)  # at t = 31
    follow = queue.join("b", "measure", follow_up=True)  # within the window: b's place, before c
    assert queue.state().waiting == ("b", "c", "a") and queue.ahead(late) == 2
    assert queue.try_start(follow)
    queue.finish(follow)
    again = queue.join("b", "measure", follow_up=True)  # a follow-up is not followed up in turn
    assert queue.state().waiting == ("c", "a", "b")
    assert queue.try_start(c) and not queue.try_start(again)


def test_wait_blocks_until_a_slot_is_free_and_wakes_in_order():
    queue = AdmissionQueue(1)
    first = queue.join("a", "forward")
    assert queue.try_start(first)
    order: list[str] = []

    def waiter(session: str, ticket: int) -> None:
        while not queue.wait(ticket, 0.05):
            pass
        order.append(session)
        queue.finish(ticket)

    tickets = [(s, queue.join(s, "forward")) for s in "bcd"]
    threads = [threading.Thread(target=waiter, args=t) for t in reversed(tickets)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    assert order == []  # nobody runs while "a" holds the only slot
    queue.finish(first)
    for t in threads:
        t.join(timeout=10)
    assert order == ["b", "c", "d"]


def test_job_limit_comes_from_the_environment_then_configuration_then_cores():
    assert admission.default_max_jobs(cores=2, threads=2) == 2  # one job's Python overlaps the other's torch
    assert admission.default_max_jobs(cores=16, threads=16) == 2
    assert admission.default_max_jobs(cores=16, threads=4) == 4
    assert admission.default_max_jobs(cores=1, threads=8) == 1
    assert admission.configured_max_jobs({"SPP_VIZ_MAX_JOBS": "3"}, configured=5) == 3
    assert admission.configured_max_jobs({}, configured=5) == 5
    assert admission.configured_max_jobs({"SPP_VIZ_MAX_JOBS": "zero"}, configured="2") == 2  # a bad value is skipped
    assert admission.configured_max_jobs({}, None) == admission.default_max_jobs()
    for bad in ("0", "-1", "1.5", "many"):
        with pytest.raises(ValueError, match="positive whole number"):
            admission.parse_max_jobs(bad)


def test_replica_identity():
    assert replica.identity("127.0.0.1", 8603, env={}) == "127.0.0.1:8603"
    assert replica.identity("", 8501, env={}).endswith(":8501") and not replica.identity("", 8501, env={}).startswith(":")
    assert replica.identity("127.0.0.1", 8603, env={"SPP_VIZ_REPLICA": "pod-7"}) == "pod-7"


def test_waiting_line_says_which_of_the_two_a_user_waits_for():
    assert text.waiting_line(Position(Work.ANALYSIS, 2), 12).startswith("Your photo: 2 analyses ahead")
    assert "Your photo: 1 analysis ahead of you" in text.waiting_line(Position(Work.ANALYSIS, 1), 0)
    assert "sidebar still works" in text.waiting_line(Position(Work.ANALYSIS, 0), 0)
    assert text.waiting_line(Position(Work.MEASUREMENT, 3, 1), 5).startswith("Your timings: waiting for a quiet moment")


# ----------------------------------------------------------------------------
# Two classes: analyses share the slots, a measurement runs alone


def steps(queue: AdmissionQueue) -> list[tuple[str, str, str]]:
    """The record as (step, session, class)."""
    return [(e.step.value, e.session, e.work.value) for e in queue.events()]


def test_a_measurement_waits_for_every_analysis_and_then_runs_alone():
    queue = AdmissionQueue(2)
    a = queue.join("a", "forward")
    assert queue.try_start(a)
    m = queue.join("m", "measure", work=Work.MEASUREMENT)
    assert not queue.try_start(m)  # an analysis runs
    b = queue.join("b", "forward")
    assert queue.try_start(b)  # a waiting measurement holds no slot: the second analysis runs at once
    assert queue.position(m) == Position(Work.MEASUREMENT, 2, 0)
    queue.finish(a)
    assert not queue.try_start(m)  # b still runs
    queue.finish(b)
    assert queue.try_start(m)
    n = queue.join("n", "measure", work=Work.MEASUREMENT)
    assert not queue.try_start(n) and queue.position(n) == Position(Work.MEASUREMENT, 0, 1)  # one measurement at a time
    queue.finish(m)
    assert queue.try_start(n)
    queue.finish(n)
    assert record_problems(queue.events()) == []


def test_a_waiting_analysis_goes_before_a_waiting_measurement_that_came_first():
    """No user waits for their own photo behind someone else's stopwatch, whatever the arrival order."""
    queue = AdmissionQueue(1)
    a = queue.join("a", "forward")
    assert queue.try_start(a)
    m = queue.join("m", "measure", work=Work.MEASUREMENT)  # arrived first
    b = queue.join("b", "forward")
    assert queue.position(b) == Position(Work.ANALYSIS, 1) and queue.ahead(b) == 1  # the measurement is not ahead
    queue.finish(a)
    assert not queue.try_start(m) and queue.try_start(b)
    queue.finish(b)
    assert queue.try_start(m)


def test_an_arriving_analysis_interrupts_a_measurement_which_waits_again_and_is_taken_later():
    queue = AdmissionQueue(2)
    m = queue.join("m", "measure", work=Work.MEASUREMENT)
    assert queue.try_start(m) and not queue.interrupted(m)
    a = queue.join("a", "forward")  # an upload arrives while the stopwatch runs
    assert queue.interrupted(m)
    assert not queue.try_start(a)  # it waits until the measurement has stopped: never both at once
    queue.requeue(m)  # the measurement threw its samples away and gave its slot back
    assert queue.try_start(a) and not queue.try_start(m) and not queue.interrupted(m)
    assert queue.state().waiting == ("m",) and queue.position(m) == Position(Work.MEASUREMENT, 1, 0)
    queue.finish(a)
    assert queue.try_start(m)  # the same ticket, taken again once quiet
    queue.finish(m)
    assert steps(queue) == [
        ("join", "m", "measurement"), ("start", "m", "measurement"), ("join", "a", "analysis"),
        ("interrupt", "m", "measurement"), ("requeue", "m", "measurement"), ("start", "a", "analysis"),
        ("finish", "a", "analysis"), ("start", "m", "measurement"), ("finish", "m", "measurement")]
    assert record_problems(queue.events()) == []


def test_the_record_replay_finds_an_analysis_that_ran_during_a_measurement():
    """The check the browser test relies on can fail: a record with overlapping classes is caught."""
    from spp_viz.admission import Event, Step

    record = [Event(0.0, Step.START, "m", 1, Work.MEASUREMENT, "measure"), Event(0.1, Step.START, "a", 2, Work.ANALYSIS, "forward"),
              Event(0.2, Step.FINISH, "a", 2, Work.ANALYSIS, "forward"), Event(0.3, Step.FINISH, "m", 1, Work.MEASUREMENT, "measure")]
    assert len(record_problems(record)) == 1 and "analysis 2 of a started" in record_problems(record)[0]


def test_the_record_file_holds_every_event_in_order(tmp_path):
    from spp_viz.admission import FileRecord, read_record

    path = str(tmp_path / "queue.jsonl")
    queue = AdmissionQueue(1, record=FileRecord(path))
    ticket = queue.join("a", "forward")
    assert queue.try_start(ticket)
    queue.finish(ticket)
    assert read_record(path) == list(queue.events()) and [e.step.value for e in read_record(path)] == ["join", "start", "finish"]


def test_a_measurement_interrupted_by_an_analysis_is_thrown_away_and_taken_again(one_slot, monkeypatch):
    """The page side (``waiting.alone``): the measurement sees ``stop()`` turn true when an
    analysis arrives, its half-run is thrown away, the analysis runs, and the measurement runs
    again from the start once the process is quiet; only that second run's result is returned."""
    from spp_viz.ui import waiting

    monkeypatch.setattr(waiting, "session_id", lambda: f"session-{threading.current_thread().name}")
    runs: list[str] = []
    analysed = threading.Event()

    @waiting.alone("measure")
    def measure(*, stop) -> str:
        runs.append("started")
        while not stop():
            if len(runs) > 1:
                return "numbers"  # the second run is not interrupted
            time.sleep(0.01)
        runs.append("interrupted")
        raise waiting.Interrupted("an analysis arrived")

    def upload() -> None:
        while not one_slot.state().running:
            time.sleep(0.01)
        with waiting.admitted("forward"):
            analysed.set()
            time.sleep(0.2)

    other = threading.Thread(target=upload, name="upload")
    other.start()
    result = measure()
    other.join(timeout=10)
    assert result == "numbers" and runs == ["started", "interrupted", "started"] and analysed.is_set()
    assert record_problems(one_slot.events()) == []
    order = [(e.step.value, e.work.value) for e in one_slot.events() if e.step.value in ("start", "interrupt", "requeue", "finish")]
    assert order == [("start", "measurement"), ("interrupt", "measurement"), ("requeue", "measurement"),
                     ("start", "analysis"), ("finish", "analysis"), ("start", "measurement"), ("finish", "measurement")]


# ----------------------------------------------------------------------------
# The app under admission (AppTest: one session, the queue is this process's)


@pytest.fixture
def one_slot(monkeypatch) -> AdmissionQueue:
    """This process's queue replaced by one with a single slot."""
    queue = AdmissionQueue(1)
    monkeypatch.setattr(admission, "_PROCESS_QUEUE", queue)
    return queue


@pytest.fixture
def lines(monkeypatch) -> list[int]:
    """How many jobs were ahead each time the page drew its waiting line."""
    from spp_viz.ui import waiting

    seen: list[int] = []
    real = waiting.show_waiting

    def recording(scope, position, waited_s):
        seen.append(position.analyses + position.measurements)
        real(scope, position, waited_s)

    monkeypatch.setattr(waiting, "show_waiting", recording)
    return seen


def test_the_page_waits_for_a_slot_and_says_how_many_are_ahead(one_slot, lines):
    import streamlit as st

    st.cache_resource.clear()  # the page's analysis must be heavy work, whichever test ran it before
    st.cache_data.clear()
    other = one_slot.join("another-session", "forward")
    assert one_slot.try_start(other)
    waited: list[float] = []

    def release_later() -> None:  # once the page is in line, hold the slot 1.5 s more
        deadline = time.monotonic() + 100
        while not one_slot.state().waiting and time.monotonic() < deadline:
            time.sleep(0.05)
        waited.append(time.monotonic())
        time.sleep(1.5)
        one_slot.finish(other)

    release = threading.Thread(target=release_later)
    release.start()
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["max_side"] = 256
    at.run()
    release.join()
    assert not at.exception, [e.value for e in at.exception]
    assert waited and time.monotonic() - waited[0] >= 1.5  # the analysis waited for the other session's job
    assert lines and set(lines) == {1}  # "1 analysis ahead of you", updated while it waited
    assert at.get("plotly_chart")  # then the page was drawn
    assert one_slot.state() == admission.QueueState((), (), {})  # its slot was given back


def test_a_rerun_served_from_the_caches_never_waits(one_slot, lines):
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["max_side"] = 256
    at.run()
    other = one_slot.join("another-session", "forward")
    assert one_slot.try_start(other)  # someone else's analysis holds the only slot
    at.run(timeout=60)  # every heavy step is in the caches: no wait, although no slot is free
    assert not at.exception, [e.value for e in at.exception]
    assert lines == []
    one_slot.finish(other)


def test_the_second_phase_follows_up_the_first_phases_place(monkeypatch):
    """The page's measurements (the second phase, after the browser drew the page) join as
    measurements, the follow-up of the analysis that made the page; the analysis itself joins as
    a new arrival, an analysis."""
    import streamlit as st

    from spp_viz.ui import measure

    joins: list[tuple[str, bool, Work]] = []

    class Recording(AdmissionQueue):
        def join(self, session: str, kind: str, follow_up: bool = False, work: Work = Work.ANALYSIS) -> int:
            joins.append((kind, follow_up, work))
            return super().join(session, kind, follow_up, work)

    monkeypatch.setattr(admission, "_PROCESS_QUEUE", Recording(1))
    st.cache_resource.clear()  # cold, as after a fresh upload: the analysis and the measurements are heavy work
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["max_side"] = 256
    at.run()
    assert joins and all(not follow_up and work is Work.ANALYSIS for _, follow_up, work in joins)
    first = len(joins)
    at.session_state[measure.KEY_NOW] = True  # the browser's "drawn"
    at.run()
    st.cache_resource.clear()  # what it measured must not be found by later tests that expect to measure it
    assert not at.exception, [e.value for e in at.exception]
    assert joins[first:] and joins[first] == ("measure", True, Work.MEASUREMENT)  # a measurement: it runs alone


def _holder_and_asker(queue: AdmissionQueue, fn) -> dict[str, int]:
    """Session A holds the only slot and then asks for ``fn(7)``, after session B (no slot) has
    asked for the same value and is waiting for a slot; what each got (missing: still stuck)."""
    from spp_viz.ui import waiting

    got: dict[str, int] = {}

    def holder() -> None:
        with waiting.admitted("analysis"):
            deadline = time.monotonic() + 10
            while not queue.state().waiting and time.monotonic() < deadline:
                time.sleep(0.01)
            got["holder"] = fn(7)

    def asker() -> None:
        while not queue.state().running:
            time.sleep(0.01)
        got["asker"] = fn(7)

    threads = [threading.Thread(target=holder, daemon=True), threading.Thread(target=asker, daemon=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return got


def test_a_cached_miss_waits_for_its_slot_before_the_caches_lock(one_slot):
    """A session waiting for a slot must not hold the cache's lock for a value: the session that
    holds the slot may ask for that value next (the default page in eight tabs: the training-
    resolution forward, asked for while drawing), and would wait on it forever."""
    from spp_viz.ui import waiting

    computed: list[int] = []

    @waiting.cached_heavy("forward", max_entries=4)
    def square(x: int) -> int:
        computed.append(x)
        return x * x

    got = _holder_and_asker(one_slot, square)
    assert got == {"holder": 49, "asker": 49}  # nobody is stuck
    assert computed == [7]  # computed once, by the slot's holder; the other found it cached
    assert one_slot.state() == admission.QueueState((), (), {})


class Interrupt(BaseException):
    """What Streamlit raises at a page update when a rerun or a stop is due."""


class InterruptingLine:
    """A waiting line on the page whose next update is where a rerun lands."""

    def info(self, *args, **kwargs) -> None:
        pass

    def empty(self) -> None:
        raise Interrupt


def test_a_rerun_that_lands_as_the_slot_is_granted_gives_the_slot_back(one_slot, monkeypatch):
    """Hiding the line once the job has started is a page update, so a rerun can land there:
    the slot must not stay held by a job that will never run (every later job would wait forever)."""
    from spp_viz.ui import waiting

    other = one_slot.join("another-session", "forward")
    assert one_slot.try_start(other)
    monkeypatch.setattr(waiting, "show_waiting", lambda scope, position, waited_s: setattr(scope, "line", InterruptingLine()))
    release = threading.Timer(1.2, one_slot.finish, args=(other,))  # after the line is shown (every 0.5 s)
    release.start()
    ran = False
    with pytest.raises(Interrupt), waiting.admission_scope("analysis"), waiting.admitted("forward"):
        ran = True
    release.join()
    assert not ran
    assert one_slot.state() == admission.QueueState((), (), {})
    assert one_slot.try_start(one_slot.join("a-third-session", "forward"))


def test_a_waiting_run_whose_session_asked_again_elsewhere_stops(one_slot, monkeypatch):
    """The page side of a replaced ticket: the old run stops (Streamlit's StopException) instead
    of waiting for a place that is no longer its own."""
    from spp_viz.ui import waiting
    from spp_viz.ui.streamlit_private import StopException

    monkeypatch.setattr(waiting, "session_id", lambda: "one-session")
    other = one_slot.join("another-session", "forward")
    assert one_slot.try_start(other)
    outcome: list[str] = []

    def old_run() -> None:
        try:
            with waiting.admitted("forward"):
                outcome.append("ran")
        except StopException:
            outcome.append("stopped")

    thread = threading.Thread(target=old_run)
    thread.start()
    while not one_slot.state().waiting:
        time.sleep(0.01)
    new = one_slot.join("one-session", "measure")  # the session's next run asks on another thread
    thread.join(timeout=10)
    assert outcome == ["stopped"]
    one_slot.finish(other)
    assert one_slot.try_start(new)


@pytest.mark.parametrize("secrets, env, expected", [("[spp_viz]\nmax_jobs = 3\n", {}, "3"), (None, {}, "None"),
                                                    ("[spp_viz]\nmax_jobs = 3\n", {"SPP_VIZ_MAX_JOBS": "2"}, "2")])
def test_the_app_reads_its_job_limit_from_secrets_toml_unless_the_environment_sets_it(tmp_path, secrets, env, expected):
    """``.streamlit/secrets.toml`` in the folder the app starts from (Streamlit's own lookup)."""
    import os
    import subprocess
    import sys

    if secrets is not None:
        (tmp_path / ".streamlit").mkdir()
        (tmp_path / ".streamlit" / "secrets.toml").write_text(secrets)
    code = ("from spp_viz.ui import waiting; from spp_viz import admission; s = waiting.secrets_max_jobs(); "
            "print(admission.configured_max_jobs(configured=s) if s is not None or admission.ENV_MAX_JOBS in __import__('os').environ else None)")
    environment = {k: v for k, v in os.environ.items() if k != "SPP_VIZ_MAX_JOBS"} | env | {"HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == expected, done.stderr[-2000:]
