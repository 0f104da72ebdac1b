"""Admission: heavy work in one process, in two classes, first come, first served within each.

Heavy work asks :class:`AdmissionQueue` for a slot before it starts, as one of two classes
(:class:`Work`):

- **analyses** (a backbone forward, an ERF, a training-resolution forward: what draws a user's
  photo) share ``max_jobs`` slots;
- **measurements** (the second phase's timings, run by the timing worker) run alone: one starts
  only when nothing else runs and no analysis waits, and while it runs no analysis starts. A
  waiting analysis goes before every waiting measurement, so nobody waits for their own photo
  behind someone else's stopwatch. An analysis that arrives while a measurement runs interrupts
  it (:meth:`AdmissionQueue.interrupted` turns true; the measurement's holder stops it, throws
  its samples away and :meth:`AdmissionQueue.requeue` s: it is taken again once the process is
  quiet, never reported half-done).

Each session holds at most one place in line, kept in arrival order:

- a session that asks again while it waits (it changed its request) takes over its own place:
  the new request replaces the old one and keeps its position (the old ticket is replaced);
- a place whose waiter left (a rerun interrupted the wait) stays reserved for that session for
  ``grace_s``; it never blocks the sessions behind it;
- a place whose session is gone (``alive(session)`` is False: the tab was closed) is dropped;
- a request's follow-up (``join(..., follow_up=True)``: the measurements the browser asks for once
  it has drawn the page the session's last job made) keeps that job's place in the arrival
  order, once, within ``follow_up_s`` of its end, among the measurements.

The queue keeps a record (:meth:`AdmissionQueue.events`: joins, starts, finishes, interruptions,
requeues, with the queue's clock), which tests read to show that no analysis ran during a
measurement; with ``SPP_VIZ_QUEUE_RECORD`` set to a file, the process queue also appends each
event to it as a JSON line (for a test that drives a server from a browser).
:meth:`AdmissionQueue.position` is what a waiting page shows. The process-wide queue
(:func:`process_queue`) takes its limit from ``SPP_VIZ_MAX_JOBS`` or, when unset, from
:func:`default_max_jobs` (usable cores divided by torch's threads, at least 2 where there are
2 cores).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

ENV_MAX_JOBS = "SPP_VIZ_MAX_JOBS"
ENV_RECORD = "SPP_VIZ_QUEUE_RECORD"  # a file the process queue appends its events to (JSON lines)
RECORD_EVENTS = 10_000  # events kept in memory
REJOIN_GRACE_S = 10.0  # how long a session's place waits for it after a rerun interrupted its wait
FOLLOW_UP_S = 60.0  # how long after a job ends its follow-up keeps the job's place in the arrival order
LOG = logging.getLogger("spp_viz.admission")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def default_max_jobs(cores: int | None = None, threads: int | None = None) -> int:
    """Usable cores // torch's intra-op threads, but at least 2 where there are 2 cores (1 on one).

    Each job would have its threads' cores, but much of a job is one Python thread (drawing the
    page, building figures, small pooling ops): one slot on 2 cores leaves the second core idle
    through those parts. ``python -m benchmarks --only sessions`` measures both choices side by
    side (row 10 of benchmarks/README.md)."""
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    cores = cores if cores is not None else usable_cores()
    return min(cores, max(2, cores // max(1, threads)))


def parse_max_jobs(value: str | int | None) -> int | None:
    """A positive job limit from configuration, or None when it is unset; one sentence otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        jobs = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"The job limit must be a positive whole number, got {value!r}.") from None
    if jobs < 1:
        raise ValueError(f"The job limit must be a positive whole number, got {jobs}.")
    return jobs


def configured_max_jobs(env: dict[str, str] | None = None, configured: str | int | None = None) -> int:
    """``SPP_VIZ_MAX_JOBS``, else ``configured`` (e.g. the app's secrets), else the default.
    A bad value is logged in one line and the next source is used."""
    for source, value in ((ENV_MAX_JOBS, (os.environ if env is None else env).get(ENV_MAX_JOBS)), ("configuration", configured)):
        try:
            jobs = parse_max_jobs(value)
        except ValueError as exc:
            LOG.warning("%s ignored: %s", source, exc)
            continue
        if jobs is not None:
            return jobs
    return default_max_jobs()


class Work(Enum):
    """The two classes of heavy work (see the module's docstring)."""

    ANALYSIS = "analysis"  # shares the slots
    MEASUREMENT = "measurement"  # runs alone, after every waiting analysis; an arriving analysis interrupts it


class Step(Enum):
    """What happened to a ticket, in the queue's record."""

    JOIN = "join"
    START = "start"
    FINISH = "finish"
    INTERRUPT = "interrupt"  # an analysis arrived while this measurement ran: it must stop
    REQUEUE = "requeue"  # the interrupted measurement gave its slot back and waits again
    LEAVE = "leave"


@dataclass(frozen=True)
class Event:
    """One line of the queue's record."""

    at: float  # the queue's clock
    step: Step
    session: str
    ticket: int
    work: Work
    kind: str

    def as_json(self) -> dict[str, object]:
        return {"at": self.at, "step": self.step.value, "session": self.session, "ticket": self.ticket,
                "work": self.work.value, "kind": self.kind}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Event:
        return cls(float(str(data["at"])), Step(data["step"]), str(data["session"]), int(str(data["ticket"])),
                   Work(data["work"]), str(data["kind"]))


@dataclass(frozen=True)
class Position:
    """What a waiting request has before it: analyses (running, and waiting ahead of it) and, for
    a measurement, measurements (running, and waiting ahead of it)."""

    work: Work
    analyses: int
    measurements: int = 0


class FileRecord:
    """Appends each event to a file as one JSON line (``SPP_VIZ_QUEUE_RECORD``)."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(event.as_json()) + "\n")


def read_record(path: str) -> list[Event]:
    """The events a :class:`FileRecord` wrote, in order."""
    with open(path, encoding="utf-8") as lines:
        return [Event.from_json(json.loads(line)) for line in lines if line.strip()]


def record_problems(events: list[Event] | tuple[Event, ...]) -> list[str]:
    """Replays a record: one sentence per start that broke the two classes' rule (an analysis
    that started while a measurement held the process, a measurement that started while anything
    else ran). Empty: no analysis ran during any measurement."""
    running: dict[int, Work] = {}
    problems = []
    for event in events:
        if event.step is Step.START:
            others = set(running.values())
            if (event.work is Work.ANALYSIS and Work.MEASUREMENT in others) or (event.work is Work.MEASUREMENT and others):
                problems.append(f"{event.work.value} {event.ticket} of {event.session} started at {event.at:.3f} "
                                f"while {sorted(w.value for w in others)} ran")
            running[event.ticket] = event.work
        elif event.step in (Step.FINISH, Step.REQUEUE, Step.LEAVE):
            running.pop(event.ticket, None)
    return problems


@dataclass
class _Place:
    """One session's place in line."""

    session: str
    ticket: int
    kind: str
    order: int  # place in the arrival order: its first ticket, or the ticket of the job it follows up
    work: Work = Work.ANALYSIS
    follows: bool = False  # it follows up an earlier job (and cannot be followed up in turn)
    present: bool = True  # a thread is waiting on it
    left_at: float = 0.0  # when its waiter left (present False)


@dataclass(frozen=True)
class QueueState:
    """A snapshot: running jobs' sessions, and the waiting sessions in order (present or not)."""

    running: tuple[str, ...]
    waiting: tuple[str, ...]
    kinds: dict[str, str] = field(default_factory=dict)  # waiting session -> its current request


class AdmissionQueue:
    """A bounded, fair line for heavy jobs in two classes (:class:`Work`). Thread-safe; every
    method is short and never blocks except :meth:`wait`."""

    def __init__(self, max_jobs: int, alive: Callable[[str], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic, grace_s: float = REJOIN_GRACE_S,
                 follow_up_s: float = FOLLOW_UP_S, record: Callable[[Event], None] | None = None):
        self.max_jobs = max(1, int(max_jobs))
        self._alive = alive or (lambda session: True)
        self._clock = clock
        self._grace_s = grace_s
        self._follow_up_s = follow_up_s
        self._record = record
        self._lock = threading.Condition()
        self._line: list[_Place] = []  # in arrival order (``order``)
        self._running: dict[int, _Place] = {}  # ticket -> the place it started from
        self._interrupted: set[int] = set()  # running measurements an analysis has interrupted
        self._ended: dict[str, tuple[int, float]] = {}  # session -> (order, end time) of its last finished job
        self._events: deque[Event] = deque(maxlen=RECORD_EVENTS)
        self._next = 0

    def join(self, session: str, kind: str, follow_up: bool = False, work: Work = Work.ANALYSIS) -> int:
        """A new ticket for this request. A session already in line keeps its place: the new
        ticket takes it over, and an older ticket of the session still waiting is
        :meth:`replaced` (Streamlit can start a session's next run before the stopped one has
        left its wait: that one's ``leave`` must not touch the new request's place).
        ``follow_up``: this request continues the session's last finished job, and takes that
        job's place in the arrival order (once, within ``follow_up_s`` of its end; a follow-up
        is never followed up in turn, so no chain keeps an old place). ``work``: its class; an
        analysis interrupts the measurement running, if any (:meth:`interrupted`)."""
        with self._lock:
            self._next += 1
            place = next((p for p in self._line if p.session == session), None)
            if place is not None:
                place.ticket, place.kind, place.work, place.present = self._next, kind, work, True
            else:
                order = self._follow_up_order(session) if follow_up else self._next
                place = _Place(session, self._next, kind, order, work, follows=order != self._next)
                self._insert(place)
            self._note(Step.JOIN, place)
            if work is Work.ANALYSIS:
                self._interrupt_measurements()
            self._lock.notify_all()
            return self._next

    def _follow_up_order(self, session: str) -> int:
        ended = self._ended.pop(session, None)
        if ended is None or self._clock() - ended[1] > self._follow_up_s:
            return self._next
        return ended[0]

    def replaced(self, ticket: int) -> bool:
        """True when this ticket neither waits nor runs any more: a newer request of its session
        took its place, or its session is gone. Its waiter should stop waiting."""
        with self._lock:
            self._purge()
            return ticket not in self._running and all(place.ticket != ticket for place in self._line)

    def try_start(self, ticket: int) -> bool:
        """Start the job now if a slot is free for it in arrival order (True), else keep it waiting."""
        with self._lock:
            return self._try_start(ticket)

    def wait(self, ticket: int, timeout_s: float) -> bool:
        """Block up to ``timeout_s`` for a slot; True once the job has started."""
        with self._lock:
            if self._try_start(ticket):
                return True
            self._lock.wait(timeout_s)
            return self._try_start(ticket)

    def ahead(self, ticket: int) -> int:
        """Jobs before this one: :meth:`position`'s analyses and measurements together."""
        position = self.position(ticket)
        return position.analyses + position.measurements if position is not None else 0

    def position(self, ticket: int) -> Position | None:
        """What this waiting request has before it (None: it is not waiting). An analysis counts
        the running analyses and the present analyses ahead of it in line (a running measurement
        is about to give way); a measurement counts every running job, every present analysis, and
        the present measurements ahead of it."""
        with self._lock:
            self._purge()
            mine = next((p for p in self._line if p.ticket == ticket), None)
            if mine is None:
                return None
            running = [p.work for p in self._running.values()]
            present = [p for p in self._line if p.present]
            before = present[:present.index(mine)] if mine in present else [p for p in present if p.order < mine.order]
            if mine.work is Work.ANALYSIS:
                return Position(Work.ANALYSIS, running.count(Work.ANALYSIS) + sum(p.work is Work.ANALYSIS for p in before))
            return Position(Work.MEASUREMENT, running.count(Work.ANALYSIS) + sum(p.work is Work.ANALYSIS for p in present),
                            running.count(Work.MEASUREMENT) + sum(p.work is Work.MEASUREMENT for p in before))

    def running(self, ticket: int) -> bool:
        """True while this ticket's job holds its slot."""
        with self._lock:
            return ticket in self._running

    def interrupted(self, ticket: int) -> bool:
        """True when an analysis arrived while this measurement ran: its holder must stop it,
        throw its samples away and :meth:`requeue`."""
        with self._lock:
            return ticket in self._interrupted

    def requeue(self, ticket: int) -> None:
        """A running measurement gives its slot back unfinished and waits again, in its place in
        the arrival order, to be taken again once the process is quiet."""
        with self._lock:
            self._interrupted.discard(ticket)
            place = self._running.pop(ticket, None)
            if place is not None:
                place.present = True
                self._insert(place)
                self._note(Step.REQUEUE, place)
            self._lock.notify_all()

    def leave(self, ticket: int) -> None:
        """The waiter stopped waiting (a rerun or stop): keep the place for the session's next
        request. A job that had started meanwhile gives its slot back (it will never run)."""
        with self._lock:
            self._interrupted.discard(ticket)
            place = self._running.pop(ticket, None)
            for waiting in self._line:
                if waiting.ticket == ticket:
                    waiting.present, waiting.left_at = False, self._clock()
                    place = waiting
            if place is not None:
                self._note(Step.LEAVE, place)
            self._lock.notify_all()

    def finish(self, ticket: int) -> None:
        """A running job ended (normally or not): its slot goes to the next in line, and its place
        in the arrival order is kept for the session's follow-up."""
        with self._lock:
            self._interrupted.discard(ticket)
            place = self._running.pop(ticket, None)
            if place is not None:
                self._note(Step.FINISH, place)
                if not place.follows:
                    self._ended[place.session] = (place.order, self._clock())
            self._lock.notify_all()

    def state(self) -> QueueState:
        with self._lock:
            self._purge()
            return QueueState(tuple(p.session for p in self._running.values()), tuple(p.session for p in self._line),
                              {p.session: p.kind for p in self._line})

    def events(self) -> tuple[Event, ...]:
        """The record so far (the last :data:`RECORD_EVENTS`), oldest first."""
        with self._lock:
            return tuple(self._events)

    # -- under the lock

    def _insert(self, place: _Place) -> None:
        at = next((i for i, other in enumerate(self._line) if other.order > place.order), len(self._line))
        self._line.insert(at, place)

    def _note(self, step: Step, place: _Place) -> None:
        event = Event(self._clock(), step, place.session, place.ticket, place.work, place.kind)
        self._events.append(event)
        if self._record is not None:
            try:
                self._record(event)
            except OSError as exc:  # a record that cannot be written must not stop the queue
                LOG.warning("queue record not written: %s", exc)

    def _interrupt_measurements(self) -> None:
        for ticket, place in self._running.items():
            if place.work is Work.MEASUREMENT and ticket not in self._interrupted:
                self._interrupted.add(ticket)
                self._note(Step.INTERRUPT, place)

    def _purge(self) -> None:
        """Drop the places of closed sessions and of waiters that did not come back in time."""
        now = self._clock()
        kept = [p for p in self._line if self._alive(p.session) and (p.present or now - p.left_at < self._grace_s)]
        self._ended = {session: ended for session, ended in self._ended.items() if now - ended[1] <= self._follow_up_s}
        if len(kept) != len(self._line):
            self._line = kept
            self._lock.notify_all()

    def _try_start(self, ticket: int) -> bool:
        if ticket in self._running:
            return True
        self._purge()
        present = [p for p in self._line if p.present]
        place = next((p for p in present if p.ticket == ticket), None)
        if place is None or not self._may_start(place, present):
            return False
        self._line.remove(place)
        self._running[ticket] = place
        self._note(Step.START, place)
        return True

    def _may_start(self, place: _Place, present: list[_Place]) -> bool:
        """An analysis: no measurement runs, and it is among the first free-slots analyses in
        line. A measurement: nothing runs, no analysis waits, and it is the first measurement."""
        running = [p.work for p in self._running.values()]
        if place.work is Work.ANALYSIS:
            if Work.MEASUREMENT in running:
                return False
            analyses = [p for p in present if p.work is Work.ANALYSIS]
            return analyses.index(place) < self.max_jobs - len(running)
        if running or any(p.work is Work.ANALYSIS for p in present):
            return False
        return next(p for p in present if p.work is Work.MEASUREMENT) is place


_PROCESS_QUEUE: AdmissionQueue | None = None
_PROCESS_LOCK = threading.Lock()


def process_queue(max_jobs: Callable[[], int], alive: Callable[[str], bool] | None = None) -> AdmissionQueue:
    """The one queue of this process, made on first use with ``max_jobs()`` slots (and a record
    file when ``SPP_VIZ_QUEUE_RECORD`` names one)."""
    global _PROCESS_QUEUE
    with _PROCESS_LOCK:
        if _PROCESS_QUEUE is None:
            path = os.environ.get(ENV_RECORD)
            _PROCESS_QUEUE = AdmissionQueue(max_jobs(), alive, record=FileRecord(path) if path else None)
        return _PROCESS_QUEUE
